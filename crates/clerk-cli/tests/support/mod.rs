//! Helpers shared by the `import` tests that run `clerk-users` against an emulator on
//! 127.0.0.1:0 (`exactly_once`, `import_races`): the emulator and a client of it, the
//! scripted fault queue, running the binary and reading its `--json` report; and the
//! scratch directory that `cli`, `hostile`, `sync` and `kill_resume` take too, removed
//! when a test passes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use clerk_emulator::{Config, Emulator, RateLimit};
use clerk_tower::Clerk;
use clerk_tower::users::ListUsers;
use futures_util::TryStreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The emulator's secret key (each test has an emulator of its own).
pub(crate) const KEY: &str = "sk_test_import_it";

/// A fresh directory for one test, named after the test binary, this process and `name`.
pub(crate) fn temp_dir(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!(
        "clerk-{}-{}-{name}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    Scratch(dir)
}

/// A test's scratch directory: removed when the test ends, kept when it fails (a
/// panic), to look at.
pub(crate) struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// An emulator without a rate limit, answering within a millisecond.
pub(crate) async fn emulator() -> Emulator {
    Emulator::start(
        Config::new()
            .secret_key(KEY)
            .rate_limit(RateLimit::Off)
            .latency(Duration::ZERO, Duration::from_millis(1)),
    )
    .await
    .expect("emulator starts")
}

/// A client of `emu` without a rate limit.
pub(crate) fn client(emu: &Emulator) -> Clerk {
    Clerk::builder()
        .secret_key(KEY)
        .base_url(emu.base_url())
        .no_rate_limit()
        .build()
        .expect("client")
}

/// Every user of `emu`.
pub(crate) async fn users(emu: &Emulator) -> Vec<clerk_core::User> {
    client(emu)
        .users()
        .list_all(ListUsers::new().limit(500))
        .try_collect()
        .await
        .expect("list")
}

/// Appends entries to the emulator's scripted fault queue (control API, raw HTTP).
pub(crate) async fn script(emu: &Emulator, next: Value) {
    let body = json!({ "next": next }).to_string();
    let mut stream = tokio::net::TcpStream::connect(emu.addr())
        .await
        .expect("connect");
    let request = format!(
        "POST /_emulator/faults HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// Runs `cmd` to its end off the async threads.
pub(crate) async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("run clerk-users"))
        .await
        .expect("join")
}

/// The `--json` report on stdout (panics with stdout and stderr when there is none).
pub(crate) fn report(output: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "not a JSON report: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// How many of `users` have `external_id` `id`.
pub(crate) fn count_by_external_id(users: &[clerk_core::User], id: &str) -> usize {
    users
        .iter()
        .filter(|u| u.external_id.as_deref() == Some(id))
        .count()
}
