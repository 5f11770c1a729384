//! `clerk-users` against hostile servers and inputs: heavy and deeply nested users
//! export, control characters never reach the terminal, secrets stay out of
//! messages and other users' reach.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use clerk_emulator::{Config, Emulator, RateLimit};
use clerk_tower::Clerk;
use clerk_tower::users::CreateUser;
use serde_json::{Value, json};

const KEY: &str = "sk_test_cli_hostile_SECRET";

#[path = "support/scratch.rs"]
mod scratch;

use scratch::temp_dir;

fn command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clerk-users"));
    cmd.env_remove("CLERK_SECRET_KEY")
        .env_remove("CLERK_API_URL")
        .env_remove("RUST_LOG");
    cmd
}

async fn run(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || command().args(args).output().expect("run clerk-users"))
        .await
        .expect("join")
}

/// `--api-url URL --secret-key KEY --rate-limit off` before `rest`.
fn at(base_url: &str, rest: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "--api-url".into(),
        base_url.into(),
        "--secret-key".into(),
        KEY.into(),
        "--rate-limit".into(),
        "off".into(),
    ];
    args.extend(rest.iter().map(|s| (*s).to_owned()));
    args
}

async fn emulator() -> Emulator {
    let config = Config::new()
        .rate_limit(RateLimit::Off)
        .latency(Duration::ZERO, Duration::ZERO)
        .secret_key(KEY);
    Emulator::start(config).await.expect("emulator starts")
}

fn client(emu: &Emulator) -> Clerk {
    Clerk::builder()
        .secret_key(KEY)
        .base_url(emu.base_url())
        .no_rate_limit()
        .build()
        .expect("client")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn path_arg(p: &Path) -> String {
    p.display().to_string()
}

fn requests(emu: &Emulator, op: &str) -> u64 {
    emu.stats()
        .requests_per_operation
        .get(op)
        .copied()
        .unwrap_or(0)
}

/// `{"k":{"k":…{}…}}`: `levels` nested objects.
fn nested(levels: usize) -> String {
    let mut s = String::new();
    for _ in 1..levels {
        s.push_str(r#"{"k":"#);
    }
    s.push_str("{}");
    s.push_str(&"}".repeat(levels - 1));
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heavy_and_deeply_nested_users_export_whole_in_adapted_pages() {
    let emu = emulator().await;
    let clerk = client(&emu);
    // 40 users with 3 × 2 KB of metadata: a page of 40 is ~250 KB.
    let blob = "x".repeat(2000);
    for i in 0..40 {
        let mut meta = serde_json::Map::new();
        meta.insert("blob".into(), json!(blob));
        clerk
            .users()
            .create(
                CreateUser::new()
                    .external_id(format!("heavy-{i}"))
                    .first_name(format!("F{i:02}"))
                    .public_metadata(meta.clone())
                    .private_metadata(meta.clone())
                    .unsafe_metadata(meta),
            )
            .await
            .expect("create");
    }
    // One user nested as deep as the API accepts a body (127 levels).
    let deep = format!(
        r#"{{"external_id":"deep","first_name":"Deep","public_metadata":{}}}"#,
        nested(126)
    );
    clerk
        .users()
        .create(CreateUser::from_json_strict(&deep).unwrap())
        .await
        .expect("the deep user is accepted");

    let dir = temp_dir("export");
    for order in ["-created_at", "+first_name"] {
        let out_file = dir.join(format!("users{order}.jsonl"));
        let before = requests(&emu, "GetUserList");
        let out = run(at(
            &emu.base_url(),
            &[
                "export",
                "--order-by",
                order,
                "--page-size",
                "40",
                "--max-response-body",
                "64K",
                "--out",
                &path_arg(&out_file),
                "--json",
            ],
        ))
        .await;
        assert!(out.status.success(), "{order}: {}", text(&out.stderr));
        let lines = std::fs::read_to_string(&out_file).unwrap();
        let ids: Vec<String> = lines
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                v["external_id"].as_str().unwrap().to_owned()
            })
            .collect();
        let unique: BTreeSet<&String> = ids.iter().collect();
        assert_eq!(ids.len(), 41, "{order}: every user once: {ids:?}");
        assert_eq!(unique.len(), 41, "{order}: no user twice");
        assert!(unique.contains(&"deep".to_owned()));
        assert!(
            requests(&emu, "GetUserList") - before > 5,
            "{order}: pages shrank to fit the cap"
        );
    }
    emu.shutdown().await.unwrap();
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_holding_passwords_and_users_are_owner_only() {
    let emu = emulator().await;
    let dir = temp_dir("modes");
    let input = dir.join("users.jsonl");
    // Valid for the client; the emulator refuses a breached password, so the record
    // and its password go to the failed-records file.
    std::fs::write(
        &input,
        concat!(
            r#"{"external_id":"ok-1","email_address":["ok1@example.com"],"password":"correct-horse-battery"}"#,
            "\n",
            r#"{"external_id":"pwned-1","email_address":["pwned1@example.com"],"password":"password123"}"#,
            "\n",
        ),
    )
    .unwrap();
    // A failed file left by an older version, world-readable: narrowed too.
    let failed = dir.join("users.jsonl.failed.jsonl");
    std::fs::write(&failed, "").unwrap();
    std::fs::set_permissions(&failed, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let out = run(at(
        &emu.base_url(),
        &["import", &path_arg(&input), "--json"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        std::fs::read_to_string(&failed)
            .unwrap()
            .contains("password123")
    );
    assert_eq!(mode(&failed), 0o600, "failed records hold passwords");
    assert_eq!(
        mode(&dir.join("users.jsonl.checkpoint.jsonl")),
        0o600,
        "checkpoint"
    );
    let exported = dir.join("export.jsonl");
    let out = run(at(
        &emu.base_url(),
        &["export", "--out", &path_arg(&exported)],
    ))
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(mode(&exported), 0o600, "exports hold private metadata");
    emu.shutdown().await.unwrap();
}

/// A server on 127.0.0.1 that answers every request with `status` and `body`
/// for at most `requests` requests.
async fn hostile_server(status: u16, body: &'static str, requests: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for _ in 0..requests {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                // Read the head (and any small body) before answering.
                let mut buf = vec![0u8; 64 * 1024];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    format!("http://{addr}/v1")
}

/// No byte that would act on a terminal: ESC, BEL, CR, the C1 controls, bidi overrides.
fn assert_inert(what: &str, bytes: &[u8]) {
    let shown = text(bytes);
    let active: Vec<char> = shown
        .chars()
        .filter(|c| {
            (c.is_control() && *c != '\n' && *c != '\t')
                || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        })
        .collect();
    assert!(active.is_empty(), "{what} prints {active:?}: {shown:?}");
}

const HOSTILE_ERROR: &str = r#"{"errors":[{"code":"form_\u001b[2Jbad","message":"\u001b]0;pwned\u0007 nope\r","long_message":"\u009b31m\u202etxt.exe","meta":{}}],"clerk_trace_id":"tr\u001b[5mace"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_escapes_from_a_server_or_a_file_are_printed_inert() {
    let url = hostile_server(422, HOSTILE_ERROR, 64).await;
    // An error from the server, in text and as JSON.
    for json in [false, true] {
        let mut rest = vec!["count", "-vvv"];
        if json {
            rest.push("--json");
        }
        let out = run(at(&url, &rest)).await;
        assert_eq!(out.status.code(), Some(1));
        assert_inert("count", &out.stdout);
        assert_inert("count", &out.stderr);
        assert!(
            text(&out.stderr).contains("\\u001b"),
            "{}",
            text(&out.stderr)
        );
    }
    // A create the server refuses: its code and message in the import report.
    let dir = temp_dir("escapes");
    let input = dir.join("users.jsonl");
    std::fs::write(
        &input,
        "{\"external_id\":\"e-1\",\"first_name\":\"A\\u009b2J\",\"email_address\":[\"e1@example.com\"]}\n",
    )
    .unwrap();
    let out = run(at(
        &url,
        &["import", &path_arg(&input), "--max-attempts", "1"],
    ))
    .await;
    assert_inert("import report", &out.stdout);
    assert_inert("import report", &out.stderr);
    // The importer looks records up before creating them, so the hostile code may come
    // back on the lookup (reported on stderr) or on the create (in the report).
    let shown = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(shown.contains("form_\\u001b[2Jbad"), "{shown}");

    // Values quoted from an input file in validation messages.
    std::fs::write(
        &input,
        "{\"external_id\":\"e-1\",\"email_address\":[\"\\u001b]0;x\\u0007@example\"],\"\\u001b[2Jfield\":1}\nnot json \u{1b}[2J\u{9b}\n",
    )
    .unwrap();
    let out = run(vec!["import".into(), path_arg(&input), "--dry-run".into()]).await;
    assert_ne!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("unknown field"),
        "{}",
        text(&out.stderr)
    );
    assert_inert("validation", &out.stdout);
    assert_inert("validation", &out.stderr);

    // Exported users with control characters in their fields: the same JSON, inert.
    let emu = emulator().await;
    client(&emu)
        .users()
        .create(
            CreateUser::new()
                .first_name("Eve\u{9b}2J\u{7f}\u{202e}")
                .external_id("eve"),
        )
        .await
        .unwrap();
    let out = run(at(&emu.base_url(), &["export"])).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_inert("export", &out.stdout);
    let user: Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(user["first_name"], "Eve\u{9b}2J\u{7f}\u{202e}");
    emu.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_url_that_does_not_parse_is_never_echoed_with_its_credentials() {
    for url in [
        "https://admin:sk_live_PASSWORD@ho st/v1",
        "http s://admin:sk_live_PASSWORD@x/v1",
        "https://x/v1?token=sk_live_PASSWORD",
    ] {
        let out = run(vec![
            "--api-url".into(),
            url.into(),
            "--secret-key".into(),
            KEY.into(),
            "count".into(),
        ])
        .await;
        assert_ne!(out.status.code(), Some(0), "{url}");
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!all.contains("PASSWORD"), "{url}: {all}");
        assert!(all.contains("base URL"), "{url}: says what is wrong: {all}");
    }
}

/// clap quotes a value its parser refuses (`invalid value '…' for '--redis-url'`): a Redis
/// URL holds the Redis password, on the command line and in `CLERK_REDIS_URL` alike.
#[tokio::test]
async fn a_redis_url_that_does_not_parse_is_never_echoed_with_its_password() {
    let url = "redis://:PASSWORD77@[no-such-host";
    let flag = |before: bool| {
        let mut args: Vec<String> = vec!["--secret-key".into(), KEY.into()];
        let redis = ["--redis-url".to_owned(), url.to_owned()];
        if before {
            args.splice(0..0, redis);
            args.push("count".into());
        } else {
            args.insert(0, "count".into());
            args.extend(redis);
        }
        let mut cmd = command();
        cmd.args(args);
        cmd
    };
    let mut from_env = command();
    from_env
        .env("CLERK_REDIS_URL", url)
        .args(["count", "--secret-key", KEY]);
    for mut cmd in [flag(true), flag(false), from_env] {
        let out = tokio::task::spawn_blocking(move || cmd.output().expect("run clerk-users"))
            .await
            .expect("join");
        assert_eq!(out.status.code(), Some(2));
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!all.contains("PASSWORD77"), "{all}");
        assert!(
            all.contains("invalid Redis URL"),
            "says what is wrong: {all}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_in_an_external_id_and_a_50_mb_name_are_refused_before_any_request() {
    let emu = emulator().await;
    let dir = temp_dir("limits");
    let input = dir.join("users.jsonl");
    let huge = "n".repeat(50 << 20);
    let lines = [
        json!({"external_id": "ok-1", "first_name": "Ada"}).to_string(),
        json!({"external_id": "crm\u{0}42", "first_name": "Nul"}).to_string(),
        json!({"external_id": "big-3", "first_name": huge}).to_string(),
        json!({"external_id": "ok-4", "last_name": "é".repeat(256)}).to_string(),
        json!({"external_id": "long-5", "first_name": "é".repeat(257)}).to_string(),
    ];
    drop(huge);
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    drop(lines);

    let out = run(at(&emu.base_url(), &["import", &path_arg(&input)])).await;
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        &stderr[..stderr.len().min(2000)]
    );
    assert_eq!(emu.stats().total_requests, 0, "a request was sent");
    let line = |n: usize| {
        stderr
            .lines()
            .find(|l| l.contains(&format!("line {n}:")))
            .unwrap_or_else(|| panic!("no problem on line {n} in:\n{stderr}"))
    };
    let nul = line(2);
    assert!(
        nul.contains("field `external_id`") && nul.contains("NUL"),
        "{nul}"
    );
    // Over 1 MiB, the record is refused whole; under it, the name by Clerk's bound.
    let big = line(3);
    assert!(big.contains("longer than 1 MiB"), "{big}");
    let long = line(5);
    assert!(
        long.contains("field `first_name`") && long.contains("256 characters"),
        "{long}"
    );
    assert!(
        !stderr.contains("line 1:") && !stderr.contains("line 4:"),
        "{stderr}"
    );
    // Never the 50 MB value, and no raw NUL, on the terminal.
    assert!(stderr.len() < 4096, "stderr has {} bytes", stderr.len());
    assert_inert("the problems", &out.stderr);
    assert!(!out.stderr.contains(&0), "a raw NUL reached stderr");
    emu.shutdown().await.unwrap();
}
