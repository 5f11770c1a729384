//! Kill `clerk-users import` with SIGKILL mid-run against a persistent emulator,
//! twice, rerun it with the same checkpoint, and check that the emulator holds
//! exactly one user per record.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clerk_emulator::{Config, Emulator, FaultSpec, RateLimit};
use clerk_tower::Clerk;
use clerk_tower::users::ListUsers;
use futures_util::TryStreamExt;

const KEY: &str = "sk_test_kill_resume";
const RECORDS: usize = 1000;

fn checkpoint_lines(path: &Path) -> usize {
    std::fs::read(path).map_or(0, |b| b.iter().filter(|c| **c == b'\n').count())
}

fn import_command(emu: &Emulator, input: &Path, checkpoint: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clerk-users"));
    cmd.env_remove("CLERK_SECRET_KEY")
        .env_remove("CLERK_API_URL")
        .args([
            "import",
            "--json",
            "--concurrency",
            "16",
            "--rate-limit",
            "400/1s",
        ])
        .arg(input)
        .arg("--checkpoint")
        .arg(checkpoint)
        .args(["--api-url", &emu.base_url(), "--secret-key", KEY])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Starts an import and SIGKILLs it once the checkpoint has at least `lines` lines.
async fn import_and_kill(emu: &Emulator, input: &Path, checkpoint: &Path, lines: usize) -> usize {
    let mut child = import_command(emu, input, checkpoint)
        .spawn()
        .expect("spawn clerk-users");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if checkpoint_lines(checkpoint) >= lines {
            break;
        }
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!("the import ended ({status}) before it could be killed");
        }
        assert!(Instant::now() < deadline, "the import made no progress");
        // Polling the file the child writes; the child does not wait for us.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().expect("SIGKILL"); // SIGKILL on Unix
    let status = child.wait().expect("wait");
    assert!(!status.success(), "killed, not finished: {status}");
    checkpoint_lines(checkpoint)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_and_rerun_leave_exactly_one_user_per_record() {
    let dir = std::env::temp_dir().join(format!("clerk-cli-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("users.jsonl");
    let checkpoint = dir.join("users.checkpoint.jsonl");
    let mut text = String::new();
    for i in 0..RECORDS {
        // Odd records have no unique identifier: only the external id (which Clerk
        // does not keep unique) tells whether they already exist.
        let email = if i % 2 == 0 {
            format!(",\"email_address\":[\"user{i}@example.com\"]")
        } else {
            String::new()
        };
        text.push_str(&format!(
            "{{\"external_id\":\"kill-{i}\"{email},\"first_name\":\"U{i}\",\"skip_password_requirement\":true}}\n"
        ));
    }
    std::fs::write(&input, text).unwrap();

    // Lost responses too: the records in flight at a kill and the ambiguous creates
    // both have to be reconciled.
    let faults: FaultSpec = "lost_response=0.02,5xx=0.02".parse().unwrap();
    let emu = Emulator::start(
        Config::new()
            .secret_key(KEY)
            .rate_limit(RateLimit::Off)
            .faults(faults)
            .latency(Duration::from_millis(2), Duration::from_millis(8)),
    )
    .await
    .unwrap();

    let first = import_and_kill(&emu, &input, &checkpoint, 150).await;
    let second = import_and_kill(&emu, &input, &checkpoint, first + 300).await;
    assert!(
        second < RECORDS,
        "the second kill came too late: {second} lines"
    );

    let output = tokio::task::spawn_blocking({
        let mut cmd = import_command(&emu, &input, &checkpoint);
        move || cmd.output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "rerun failed: {stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let done = ["skipped_done_before", "created", "already_present"]
        .iter()
        .map(|k| report[k].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(done, RECORDS as u64, "{report}");
    assert_eq!(report["failed"], 0, "{report}");
    assert!(
        report["skipped_done_before"].as_u64().unwrap() >= 450,
        "{report}"
    );

    // The server's view, by raw listing: exactly one user per record, nothing else.
    let clerk = Clerk::builder()
        .secret_key(KEY)
        .base_url(emu.base_url())
        .no_rate_limit()
        .build()
        .unwrap();
    emu.set_faults(FaultSpec::none());
    let users: Vec<_> = clerk
        .users()
        .list_all(ListUsers::new().limit(500))
        .try_collect()
        .await
        .unwrap();
    let mut per_record: HashMap<String, usize> = HashMap::new();
    for user in &users {
        *per_record
            .entry(user.external_id.clone().unwrap_or_default())
            .or_default() += 1;
    }
    let missing: Vec<usize> = (0..RECORDS)
        .filter(|i| !per_record.contains_key(&format!("kill-{i}")))
        .collect();
    let duplicated: Vec<(&String, &usize)> = per_record.iter().filter(|(_, n)| **n > 1).collect();
    assert!(missing.is_empty(), "records without a user: {missing:?}");
    assert!(
        duplicated.is_empty(),
        "records with several users: {duplicated:?}"
    );
    assert_eq!(users.len(), RECORDS);
    let stats = emu.stats();
    assert_eq!(
        stats.instances.values().map(|i| i.users).sum::<u64>(),
        RECORDS as u64
    );

    // A third run has nothing left to do and sends no create.
    let creates_before = stats
        .requests_per_operation
        .get("CreateUser")
        .copied()
        .unwrap_or(0);
    let output = tokio::task::spawn_blocking({
        let mut cmd = import_command(&emu, &input, &checkpoint);
        move || cmd.output().unwrap()
    })
    .await
    .unwrap();
    assert!(output.status.success());
    let creates_after = emu
        .stats()
        .requests_per_operation
        .get("CreateUser")
        .copied()
        .unwrap_or(0);
    assert_eq!(creates_after, creates_before);

    emu.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
