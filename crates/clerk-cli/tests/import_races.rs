//! `clerk-users import` racing someone else on the same records, each on a real
//! emulator on 127.0.0.1:0: a second import of the same file with another
//! checkpoint (refused: the input file is locked), a duplicate someone else creates
//! while the run goes (found by the final verification, which covers every record
//! the run created), and `--repair`, which deletes only users the import may have
//! created and leaves anyone else's for a human.
//!
//! Ordering comes from held requests (`slow_apply`), never from sleeps: a run with
//! one create in flight is parked on a held create while the test acts, and the
//! test checks from the run's journal that it was still parked when it was done.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use clerk_emulator::Emulator;
use clerk_tower::users::CreateUser;
use serde_json::json;

mod support;

use support::{KEY, client, count_by_external_id, emulator, report, run, script, temp_dir, users};

/// Someone else (another tool) creates the user of `external_id`.
async fn stranger_creates(emu: &Emulator, external_id: &str) -> String {
    client(emu)
        .users()
        .create(
            CreateUser::new()
                .external_id(external_id)
                .first_name("A")
                .skip_password_requirement(true),
        )
        .await
        .expect("stranger's create")
        .id
}

/// The shared import command, with a 60 s attempt timeout.
fn import(emu: &Emulator, input: &Path, extra: &[&str]) -> Command {
    let extra: Vec<&str> = ["--attempt-timeout", "60s"]
        .iter()
        .chain(extra)
        .copied()
        .collect();
    support::import(emu, input, &extra)
}

async fn finish(child: Child) -> Output {
    tokio::task::spawn_blocking(move || child.wait_with_output().expect("wait"))
        .await
        .expect("join")
}

fn write_records(dir: &Path, prefix: &str, n: usize) -> PathBuf {
    let path = dir.join("users.jsonl");
    let text: String = (0..n)
        .map(|i| {
            format!(
                "{}\n",
                json!({"external_id": format!("{prefix}-{i}"), "first_name": "A", "skip_password_requirement": true})
            )
        })
        .collect();
    std::fs::write(&path, text).expect("write input");
    path
}

fn journal(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("users.jsonl.checkpoint.jsonl")).unwrap_or_default()
}

/// Waits (polling the file, bounded) until the run's journal holds `what`.
async fn until_journal_has(dir: &Path, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !journal(dir).contains(what) {
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!("the run ended ({status}) before its journal held {what}");
        }
        assert!(Instant::now() < deadline, "the run never journaled {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_second_import_of_one_file_with_another_checkpoint_refuses_at_once() {
    let emu = emulator().await;
    let dir = temp_dir("file-lock");
    let input = write_records(&dir, "lock", 3);
    // The first run's first create is held 60 s (its attempt timeout is 60 s too): it
    // is parked with the file locked until the test has run the second one, then
    // killed (the test does not wait for the hold).
    script(
        &emu,
        json!([{"kind": "slow_apply", "delay_ms": 60_000, "operation": "CreateUser"}]),
    )
    .await;
    let mut first = import(&emu, &input, &["--json", "--concurrency", "1"])
        .spawn()
        .expect("spawn");
    until_journal_has(&dir, &mut first, "\"outcome\":\"sent\"").await;
    let other = dir.join("other.checkpoint.jsonl");
    let second = run(import(
        &emu,
        &input,
        &["--json", "--checkpoint", other.to_str().unwrap()],
    ))
    .await;
    let still_running = first.try_wait().expect("try_wait").is_none();
    first.kill().expect("kill the parked run");
    let _ = finish(first).await;
    assert!(
        still_running,
        "the first run was not parked on its held create"
    );
    assert_eq!(
        second.status.code(),
        Some(2),
        "the second run did not refuse"
    );
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("users.jsonl is in use by another run"),
        "{stderr}"
    );
    if cfg!(target_os = "linux") {
        assert!(stderr.contains("its default checkpoint"), "{stderr}");
    }
    assert!(
        !stderr.contains(KEY),
        "the holder's secret key leaked: {stderr}"
    );
    // The second run sent nothing: no checkpoint, no user besides the held one.
    assert!(!other.exists());
    let created = emu.stats().faults_injected.get("slow_apply").copied();
    assert_eq!(created, Some(1));
}

#[tokio::test]
async fn a_duplicate_someone_else_creates_meanwhile_is_found_by_the_verification() {
    let emu = emulator().await;
    // The hold is the time the test has to act while the run is parked; a loaded
    // machine that took longer is seen in the journal and the case is tried again
    // with a longer hold (never a false pass or fail).
    for hold_ms in [3_000u64, 12_000, 40_000] {
        let dir = temp_dir(&format!("race-{hold_ms}"));
        let prefix = format!("race{hold_ms}");
        let input = write_records(&dir, &prefix, 2);
        script(
            &emu,
            json!([{"kind": "slow_apply", "delay_ms": hold_ms, "operation": "CreateUser"}]),
        )
        .await;
        let mut child = import(&emu, &input, &["--json", "--concurrency", "1"])
            .spawn()
            .expect("spawn");
        // The run has looked both records up (absent) and its first create is held.
        until_journal_has(&dir, &mut child, "\"outcome\":\"sent\"").await;
        let s0 = stranger_creates(&emu, &format!("{prefix}-0")).await;
        let s1 = stranger_creates(&emu, &format!("{prefix}-1")).await;
        let parked = !journal(&dir).contains("\"outcome\":\"created\"");
        let output = finish(child).await;
        if !parked {
            continue;
        }
        let report = report(&output);
        // Both records were created cleanly by this run, and someone else made a
        // second user of each: the old verification (ambiguous records only) said 0.
        assert_eq!(report["duplicates"], 2, "{report}");
        assert_eq!(report["verified"], 0, "{report}");
        assert_eq!(report["verified_created"], 2, "{report}");
        assert_eq!(report["duplicates_deleted"], 0, "{report}");
        assert_eq!(output.status.code(), Some(1), "{report}");
        let users = users(&emu).await;
        for (i, stranger) in [s0, s1].iter().enumerate() {
            assert_eq!(count_by_external_id(&users, &format!("{prefix}-{i}")), 2);
            assert!(users.iter().any(|u| &u.id == stranger));
        }
        return;
    }
    panic!("the machine never let the test act within a 40 s hold");
}

#[tokio::test]
async fn repair_never_deletes_a_user_someone_else_created() {
    let emu = emulator().await;
    for hold_ms in [3_000u64, 12_000, 40_000] {
        let dir = temp_dir(&format!("stranger-{hold_ms}"));
        let prefix = format!("str{hold_ms}");
        let input = write_records(&dir, &prefix, 2);
        // One record's create is applied and its answer lost: ambiguous, settled, and
        // found by the lookup (ours). The other's create is held (two in flight: the
        // client's window must leave room for that lookup) while someone else creates
        // a second user of the first record, after the lookup: newer than ours.
        script(
            &emu,
            json!([
                {"kind": "lost_response", "operation": "CreateUser"},
                {"kind": "slow_apply", "delay_ms": hold_ms, "operation": "CreateUser"}
            ]),
        )
        .await;
        let mut child = import(&emu, &input, &["--json", "--concurrency", "2", "--repair"])
            .spawn()
            .expect("spawn");
        until_journal_has(&dir, &mut child, "\"outcome\":\"already_present\"").await;
        let text = journal(&dir);
        let (lost, held) = if text
            .lines()
            .any(|l| l.contains(&format!("x:{prefix}-0\"")) && l.contains("already_present"))
        {
            (0, 1)
        } else {
            (1, 0)
        };
        let stranger = stranger_creates(&emu, &format!("{prefix}-{lost}")).await;
        let parked = !journal(&dir).contains("\"outcome\":\"created\"");
        let output = finish(child).await;
        if !parked {
            continue;
        }
        let report = report(&output);
        // The old repair deleted the newer of the agreeing users: the stranger's.
        let users = users(&emu).await;
        assert!(
            users.iter().any(|u| u.id == stranger),
            "--repair deleted a user this import did not create: {report}"
        );
        assert_eq!(count_by_external_id(&users, &format!("{prefix}-{lost}")), 2);
        assert_eq!(count_by_external_id(&users, &format!("{prefix}-{held}")), 1);
        assert_eq!(report["verified"], 1, "{report}");
        assert_eq!(report["duplicates"], 1, "{report}");
        assert_eq!(report["duplicates_not_ours"], 1, "{report}");
        assert_eq!(report["duplicates_deleted"], 0, "{report}");
        assert_eq!(output.status.code(), Some(1), "{report}");
        assert!(!journal(&dir).contains("deleted_duplicate"));
        return;
    }
    panic!("the machine never let the test act within a 40 s hold");
}
