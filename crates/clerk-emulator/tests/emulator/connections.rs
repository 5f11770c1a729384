//! What a slow or greedy client can hold: request read timeouts and the connection cap, over
//! raw sockets (the attacks are at the byte level).

use std::time::{Duration, Instant};

use clerk_emulator::{Config, Emulator, RateLimit};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const KEY: &str = "sk_test_emulator";

async fn start(config: Config) -> Emulator {
    Emulator::start(config.rate_limit(RateLimit::Off))
        .await
        .expect("emulator starts")
}

/// A `POST /v1/users` head announcing `len` body bytes.
fn post_head(len: usize) -> String {
    format!(
        "POST /v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: {len}\r\n\r\n"
    )
}

/// Writes `bytes` one at a time, `every` apart, until done or the server closes.
async fn trickle(mut w: tokio::net::tcp::OwnedWriteHalf, bytes: Vec<u8>, every: Duration) {
    for b in bytes {
        if w.write_all(&[b]).await.is_err() {
            return;
        }
        tokio::time::sleep(every).await;
    }
}

/// Everything the server sends until it closes (or resets) the connection.
async fn read_to_close(mut r: tokio::net::tcp::OwnedReadHalf) -> String {
    let mut out = Vec::new();
    let _ = r.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// One `GET /v1/users/count` on an open keep-alive connection; the status line.
async fn get_count(s: &mut TcpStream) -> String {
    let req = format!(
        "GET /v1/users/count HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    // The answer is small: read until its JSON body closes.
    while !got.ends_with(b"}") {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got).into_owned();
    text.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_trickled_body_is_cut_after_the_body_timeout() {
    let emu = start(Config::new().body_timeout(Duration::from_millis(300))).await;
    let body = br#"{"external_id": "slow-body", "first_name": "Trickle"}"#.repeat(20);
    let s = TcpStream::connect(emu.addr()).await.unwrap();
    let (r, mut w) = s.into_split();
    w.write_all(post_head(body.len()).as_bytes()).await.unwrap();
    // 1,080 bytes at one per 20 ms would take over 20 s: the server must not wait for them.
    let sender = tokio::spawn(trickle(w, body.to_vec(), Duration::from_millis(20)));
    let started = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(15), read_to_close(r))
        .await
        .expect("the connection is cut long before the body could arrive");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(started.elapsed() < Duration::from_secs(15));
    sender.abort();
    // Nothing was applied.
    let mut s = TcpStream::connect(emu.addr()).await.unwrap();
    let count = get_count(&mut s).await;
    assert!(count.starts_with("HTTP/1.1 200"), "{count}");
}

#[tokio::test]
async fn a_trickled_head_is_cut_after_the_header_timeout() {
    let emu = start(Config::new().header_timeout(Duration::from_millis(300))).await;
    let s = TcpStream::connect(emu.addr()).await.unwrap();
    let (r, w) = s.into_split();
    let head = format!("{}X-Padding: {}\r\n", post_head(2), "p".repeat(1000));
    let sender = tokio::spawn(trickle(w, head.into_bytes(), Duration::from_millis(20)));
    tokio::time::timeout(Duration::from_secs(15), read_to_close(r))
        .await
        .expect("the connection is closed long before the head could arrive");
    sender.abort();
}

#[tokio::test]
async fn slow_clients_beyond_the_cap_do_not_lock_out_healthy_ones() {
    let cap = 8;
    // The 40 attackers must all connect before the first cut frees a slot (a later one
    // would take it and be cut too): 2 s is far more than a loaded machine needs.
    let emu = start(
        Config::new()
            .max_connections(cap)
            .body_timeout(Duration::from_secs(2))
            .header_timeout(Duration::from_secs(10)),
    )
    .await;
    // A healthy client with a keep-alive connection opened before the attack.
    let mut healthy = TcpStream::connect(emu.addr()).await.unwrap();
    assert!(get_count(&mut healthy).await.starts_with("HTTP/1.1 200"));

    // 40 slow-loris clients: a complete head, then a body a byte at a time.
    let mut attackers = Vec::new();
    for _ in 0..40 {
        let s = TcpStream::connect(emu.addr()).await.unwrap();
        let (r, mut w) = s.into_split();
        let _ = w.write_all(post_head(10_000).as_bytes()).await;
        let sender = tokio::spawn(trickle(w, vec![b' '; 10_000], Duration::from_millis(25)));
        attackers.push((tokio::spawn(read_to_close(r)), sender));
    }
    // The connection already open is served throughout.
    assert!(get_count(&mut healthy).await.starts_with("HTTP/1.1 200"));

    // Each attacker is either refused at once (503, or a close) or cut by the body timeout
    // (408); none keeps its connection.
    let (mut refused, mut cut) = (0, 0);
    for (reader, sender) in attackers {
        let answer = tokio::time::timeout(Duration::from_secs(20), reader)
            .await
            .expect("no slow client keeps its connection")
            .unwrap();
        sender.abort();
        if answer.starts_with("HTTP/1.1 408") {
            cut += 1;
        } else {
            assert!(
                answer.is_empty() || answer.starts_with("HTTP/1.1 503"),
                "{answer}"
            );
            refused += 1;
        }
    }
    assert!(cut < cap, "at most the free slots are held: {cut} cut");
    assert!(refused >= 40 - (cap - 1), "{refused} refused");

    // Once the slow ones are gone, a new healthy connection is served.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut s = TcpStream::connect(emu.addr()).await.unwrap();
        let mut buf = Vec::new();
        let req = format!(
            "GET /v1/users/count HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n\
             Connection: close\r\n\r\n"
        );
        let _ = s.write_all(req.as_bytes()).await;
        let _ = s.read_to_end(&mut buf).await;
        if buf.starts_with(b"HTTP/1.1 200") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a healthy client is still refused: {}",
            String::from_utf8_lossy(&buf)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(get_count(&mut healthy).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn a_burst_of_cut_and_refused_connections_is_logged_once() {
    use std::io::{BufRead as _, BufReader};
    let mut child = crate::common::Reaped(
        std::process::Command::new(env!("CARGO_BIN_EXE_clerk-emulator"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--rate-limit",
                "off",
                "--max-connections",
                "3",
                // Each cut frees a slot and may start another burst: 2 s leaves the 30
                // connects (milliseconds) in the first one or two.
                "--body-timeout",
                "2s",
            ])
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run clerk-emulator"),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .trim_start_matches("listening on http://")
        .to_owned();
    let mut attackers = Vec::new();
    for _ in 0..30 {
        let s = TcpStream::connect(&addr).await.unwrap();
        let (r, mut w) = s.into_split();
        let _ = w.write_all(post_head(1000).as_bytes()).await;
        let sender = tokio::spawn(trickle(w, vec![b' '; 1000], Duration::from_millis(25)));
        attackers.push((r, sender));
    }
    for (r, sender) in attackers {
        tokio::time::timeout(Duration::from_secs(20), read_to_close(r))
            .await
            .expect("cut or refused");
        sender.abort();
    }
    // Below the limit again: the next connection is served and says so in the log.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        let mut buf = Vec::new();
        let req = format!(
            "GET /v1/users/count HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n\
             Connection: close\r\n\r\n"
        );
        let _ = s.write_all(req.as_bytes()).await;
        let _ = s.read_to_end(&mut buf).await;
        if buf.starts_with(b"HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "still refused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = child.terminate();
    let lines = |needle: &str| log.lines().filter(|l| l.contains(needle)).count();
    // 27 refusals and 3 cuts: a line when the limit is reached and one when it is left (a
    // loaded machine may split the attack in two bursts), one for the cut bodies.
    let bursts = lines("connection limit reached");
    assert!((1..=2).contains(&bursts), "{log}");
    assert_eq!(lines("below the connection limit again"), bursts, "{log}");
    assert_eq!(lines("request body not received"), 1, "{log}");
}
