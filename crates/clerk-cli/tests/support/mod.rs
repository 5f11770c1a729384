//! Helpers shared by the `import` tests that run `clerk-users` against an emulator on
//! 127.0.0.1:0 (`exactly_once`, `import_races`): the emulator and a client of it, the
//! scripted fault queue, running the binary and reading its `--json` report; and the
//! scratch directory ([`scratch`], which `cli`, `hostile`, `sync` and `kill_resume`
//! take alone).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use clerk_emulator::{Config, Emulator, RateLimit};
use clerk_tower::Clerk;
use clerk_tower::users::ListUsers;
use futures_util::TryStreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The emulator's secret key (each test has an emulator of its own).
pub(crate) const KEY: &str = "sk_test_import_it";

mod scratch;

pub(crate) use scratch::temp_dir;

/// `clerk-users import INPUT` against `emu` with `extra`, and, unless `extra` sets
/// them, no rate limit, a 10 s attempt timeout and a 600 ms settle delay.
pub(crate) fn import(emu: &Emulator, input: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clerk-users"));
    cmd.env_remove("CLERK_SECRET_KEY")
        .env_remove("CLERK_API_URL")
        .env_remove("RUST_LOG")
        .arg("import")
        .arg(input)
        .args(["--api-url", &emu.base_url(), "--secret-key", KEY])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if !extra.contains(&"--rate-limit") {
        cmd.args(["--rate-limit", "off"]);
    }
    // Long enough that no answer of the emulator misses it on a loaded machine: the
    // counts these tests assert (created, already present, verified) would change if
    // an ordinary create timed out and were reconciled by a lookup.
    if !extra.contains(&"--attempt-timeout") {
        cmd.args(["--attempt-timeout", "10s"]);
    }
    if !extra.contains(&"--settle-delay") {
        cmd.args(["--settle-delay", "600ms"]);
    }
    cmd
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
