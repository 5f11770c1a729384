//! A throwaway `redis-server` on a free loopback port, for `bench --redis` and the
//! tests (which include this file by path: it needs nothing but `std`).
//!
//! No persistence (`--save '' --appendonly no`), bound to 127.0.0.1, stopped (SIGKILL)
//! when dropped.
//!
//! redis-server cannot be handed a listening socket, so the free port is found by binding
//! port 0 and closing it again; another process may take it in between. Such a lost race
//! is told apart from a real failure (the child exits at start, or another server answers
//! on the port: its `INFO` names another process id) and retried on a fresh port.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How to get the binary, for the error when it is missing.
pub(crate) const INSTALL_HELP: &str = "redis-server not found: install it (Debian/Ubuntu: \
`apt-get install -y redis-server`; macOS: `brew install redis`) or set REDIS_SERVER to its path";

/// Fresh ports tried by [`RedisServer::start`] when another process took the port.
const PORT_ATTEMPTS: u32 = 5;
/// How the errors of a port taken by another process begin.
const PORT_TAKEN: &str = "port taken:";

/// A running `redis-server` child process.
#[derive(Debug)]
pub(crate) struct RedisServer {
    child: Option<Child>,
    port: u16,
}

impl RedisServer {
    /// Starts one on a free port and waits until it answers `PING`.
    pub(crate) fn start() -> Result<Self, String> {
        let mut attempt = 1;
        loop {
            let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .and_then(|l| l.local_addr())
                .map_err(|e| format!("cannot find a free port: {e}"))?
                .port();
            match Self::start_on(port) {
                Err(e) if attempt < PORT_ATTEMPTS && e.starts_with(PORT_TAKEN) => attempt += 1,
                started => return started,
            }
        }
    }

    /// Starts one on `port` (e.g. again after [`RedisServer::kill`]).
    pub(crate) fn start_on(port: u16) -> Result<Self, String> {
        let binary = std::env::var_os("REDIS_SERVER").unwrap_or_else(|| "redis-server".into());
        let child = Command::new(&binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => INSTALL_HELP.to_owned(),
                _ => format!("cannot start redis-server: {e}"),
            })?;
        let mut server = Self {
            child: Some(child),
            port,
        };
        server.wait_ready(Duration::from_secs(10))?;
        Ok(server)
    }

    fn wait_ready(&mut self, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        loop {
            let Some(child) = self.child.as_mut() else {
                return Err("redis-server was killed".to_owned());
            };
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "{PORT_TAKEN} redis-server exited at start ({status}); is port {} free?",
                    self.port
                ));
            }
            if ping(addr).is_ok() {
                // Another test's server on a port this one lost the race for answers too.
                return match process_id(addr) {
                    Ok(pid) if pid == child.id() => Ok(()),
                    Ok(pid) => Err(format!(
                        "{PORT_TAKEN} port {} is served by another redis-server (pid {pid})",
                        self.port
                    )),
                    Err(e) => Err(format!(
                        "redis-server on port {} did not say its process id: {e}",
                        self.port
                    )),
                };
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "redis-server did not answer on port {} within {within:?}",
                    self.port
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `redis://127.0.0.1:PORT/`.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The port it listens on.
    #[allow(dead_code)] // for the tests that include this file
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id (for reading its CPU time).
    #[allow(dead_code)] // for the benchmark that includes this file
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills it (SIGKILL), as a crash would.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn ping(addr: SocketAddr) -> std::io::Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200))?;
    stream.set_read_timeout(Some(Duration::from_millis(500)))?;
    stream.write_all(b"PING\r\n")?;
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply)?;
    if &reply == b"+PONG\r\n" {
        Ok(())
    } else {
        Err(std::io::Error::other("unexpected reply to PING"))
    }
}

/// The `process_id` in the `INFO server` answer of the server at `addr`.
fn process_id(addr: SocketAddr) -> std::io::Result<u32> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200))?;
    stream.set_read_timeout(Some(Duration::from_millis(500)))?;
    stream.write_all(b"INFO server\r\n")?;
    // A bulk string: `$LEN\r\n` then LEN bytes and `\r\n`.
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    let complete = |reply: &[u8]| {
        let text = String::from_utf8_lossy(reply);
        let (head, body) = text.split_once("\r\n")?;
        let len: usize = head.strip_prefix('$')?.parse().ok()?;
        (body.len() >= len).then_some(())
    };
    while complete(&reply).is_none() {
        let n = stream.read(&mut buf)?;
        if n == 0 || reply.len() > 1 << 20 {
            return Err(std::io::Error::other("incomplete INFO reply"));
        }
        reply.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&reply)
        .lines()
        .find_map(|l| l.strip_prefix("process_id:")?.trim().parse().ok())
        .ok_or_else(|| std::io::Error::other("no process_id in INFO"))
}
