//! `clerk-users` against hostile servers and inputs: heavy and deeply nested users
//! export, control characters never reach the terminal, secrets stay out of
//! messages and other users' reach.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use clerk_emulator::{Config, Emulator, RateLimit};
use clerk_tower::Clerk;
use clerk_tower::users::CreateUser;
use serde_json::{Value, json};

const KEY: &str = "sk_test_cli_hostile_SECRET";

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("clerk-cli-hostile-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

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
