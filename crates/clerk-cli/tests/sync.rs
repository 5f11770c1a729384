//! `clerk-users sync` against the emulator on 127.0.0.1: a mixed instance ends equal
//! to the source; a second run and a dry run write nothing; a plan above
//! `--max-deletes` changes nothing; faults and `kill -9` change nothing in the outcome.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use clerk_emulator::{Config, Emulator, FaultSpec, RateLimit};
use clerk_tower::Clerk;
use clerk_tower::users::{CreateUser, ListUsers};
use futures_util::TryStreamExt;
use serde_json::{Value, json};

const KEY: &str = "sk_test_sync";

#[path = "support/scratch.rs"]
mod scratch;

use scratch::temp_dir as dir;

fn client(emu: &Emulator) -> Clerk {
    Clerk::builder()
        .secret_key(KEY)
        .base_url(emu.base_url())
        .no_rate_limit()
        .build()
        .unwrap()
}

async fn start(faults: FaultSpec) -> Emulator {
    Emulator::start(
        Config::new()
            .secret_key(KEY)
            .rate_limit(RateLimit::Off)
            .faults(faults)
            .latency(Duration::from_millis(1), Duration::from_millis(4)),
    )
    .await
    .unwrap()
}

fn sync_command(emu: &Emulator, file: &Path, extra: &[&str]) -> Command {
    sync_command_at(emu, file, "off", extra)
}

/// [`sync_command`] with `--rate-limit RATE`.
fn sync_command_at(emu: &Emulator, file: &Path, rate: &str, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clerk-users"));
    cmd.env_remove("CLERK_SECRET_KEY")
        .env_remove("CLERK_API_URL")
        .arg("sync")
        .arg(file)
        .args([
            "--json",
            "--concurrency",
            "8",
            "--rate-limit",
            rate,
            "--settle-delay",
            "500ms",
        ])
        .args(["--api-url", &emu.base_url(), "--secret-key", KEY])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

async fn sync(emu: &Emulator, file: &Path, extra: &[&str]) -> (Output, Value) {
    let mut cmd = sync_command(emu, file, extra);
    let output = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
    (output, report)
}

fn explain(output: &Output) -> String {
    format!(
        "status {}\nstdout {}\nstderr {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Write requests the emulator received (everything but reads).
fn writes(emu: &Emulator) -> u64 {
    emu.stats()
        .requests_per_operation
        .iter()
        .filter(|(op, _)| !matches!(op.as_str(), "GetUserList" | "GetUsersCount" | "GetUser"))
        .map(|(_, n)| n)
        .sum()
}

async fn seed(clerk: &Clerk, bodies: &[Value]) {
    for body in bodies {
        let create: CreateUser = serde_json::from_value(body.clone()).unwrap();
        clerk.users().create(create).await.unwrap();
    }
}

async fn all_users(clerk: &Clerk) -> Vec<clerk_core::User> {
    clerk
        .users()
        .list_all(ListUsers::new().limit(500))
        .try_collect()
        .await
        .unwrap()
}

fn write_source(path: &Path, records: &[Value]) {
    let text: String = records.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(path, text).unwrap();
}

/// Every user of the source exists once and equals its record on every synced field.
fn assert_equal_to_source(users: &[clerk_core::User], source: &[Value]) {
    let mut by_ext: HashMap<&str, Vec<&clerk_core::User>> = HashMap::new();
    for u in users {
        if let Some(ext) = u.external_id.as_deref() {
            by_ext.entry(ext).or_default().push(u);
        }
    }
    for record in source {
        let ext = record["external_id"].as_str().unwrap();
        let found = by_ext.get(ext).map_or(0, Vec::len);
        assert_eq!(found, 1, "{ext}: {found} users");
        let u = by_ext[ext][0];
        let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
        if let Some(v) = record.get("first_name") {
            assert_eq!(u.first_name, text(v), "{ext} first_name");
        }
        if let Some(v) = record.get("last_name") {
            assert_eq!(u.last_name, text(v), "{ext} last_name");
        }
        if let Some(v) = record.get("username") {
            assert_eq!(
                u.username,
                text(v).map(|s| s.to_lowercase()),
                "{ext} username"
            );
        }
        for (field, have) in [
            ("public_metadata", &u.public_metadata),
            ("private_metadata", &u.private_metadata),
            ("unsafe_metadata", &u.unsafe_metadata),
        ] {
            if let Some(v) = record.get(field) {
                assert_eq!(&Value::Object(have.clone()), v, "{ext} {field}");
            }
        }
    }
}

/// The instance: 10 unchanged, 10 to update, 5 missing from the source; the source
/// adds 10 to create.
fn mixed() -> (Vec<Value>, Vec<Value>) {
    let mut instance = Vec::new();
    let mut source = Vec::new();
    for i in 0..25 {
        instance.push(json!({
            "external_id": format!("crm-{i}"),
            "email_address": [format!("user{i}@example.com")],
            "first_name": format!("First{i}"),
            "last_name": "Old",
            "username": format!("user_{i}"),
            "skip_password_requirement": true,
            "public_metadata": {"plan": {"tier": "free", "seats": 1}, "legacy": true},
            "private_metadata": {"crm": i},
        }));
    }
    for (i, user) in instance.iter().enumerate().take(10) {
        // Unchanged, though the file spells the username in capitals and carries a
        // password (used at creation only, never compared).
        let mut r = user.clone();
        r["username"] = json!(format!("USER_{i}"));
        r["password"] = json!("correct horse battery staple 42");
        source.push(r);
    }
    for (i, user) in instance.iter().enumerate().take(20).skip(10) {
        let mut r = user.clone();
        r["first_name"] = json!(format!("Renamed{i}"));
        r["last_name"] = Value::Null;
        // A nested change, a removed key, a new key.
        r["public_metadata"] = json!({"plan": {"tier": "pro", "seats": 1}, "since": 2026});
        if i % 2 == 0 {
            r["private_metadata"] = json!({"crm": i, "ssn": "000-00-0000"});
        }
        source.push(r);
    }
    for i in 100..110 {
        source.push(json!({
            "external_id": format!("crm-{i}"),
            "email_address": [format!("new{i}@example.com")],
            "first_name": format!("New{i}"),
            "skip_password_requirement": true,
            "public_metadata": {"plan": {"tier": "free"}},
        }));
    }
    (instance, source)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_instance_ends_equal_to_the_source_and_a_second_run_writes_nothing() {
    let dir = dir("mixed");
    let file = dir.join("users.jsonl");
    let emu = start(FaultSpec::none()).await;
    let clerk = client(&emu);
    let (instance, source) = mixed();
    seed(&clerk, &instance).await;
    write_source(&file, &source);

    // The dry run shows the plan and writes nothing.
    let before = writes(&emu);
    let (output, plan) = sync(&emu, &file, &["--dry-run"]).await;
    assert!(output.status.success(), "{}", explain(&output));
    assert_eq!(writes(&emu), before, "a dry run wrote");
    let p = &plan["plan"];
    assert_eq!(
        (
            p["create"].as_u64(),
            p["update"].as_u64(),
            p["unchanged"].as_u64()
        ),
        (Some(10), Some(10), Some(10)),
        "{plan}"
    );
    assert_eq!(p["missing"], 5, "{plan}");
    // Updates: PATCH /users/{id} for the names, a metadata merge for the metadata.
    assert_eq!(p["writes"], 10 + 10 * 2, "{plan}");
    let shown = plan["first_diffs"].to_string();
    assert!(
        shown.contains("public_metadata.legacy") && shown.contains("public_metadata.plan.tier"),
        "{shown}"
    );
    assert!(
        !shown.contains("000-00-0000"),
        "a private metadata value was shown: {shown}"
    );

    let (output, report) = sync(&emu, &file, &[]).await;
    assert!(output.status.success(), "{}", explain(&output));
    let a = &report["applied"];
    assert_eq!(
        (
            a["created"].as_u64(),
            a["updated"].as_u64(),
            a["failed"].as_u64()
        ),
        (Some(10), Some(10), Some(0)),
        "{report}"
    );
    assert_eq!(a["writes"], 30, "{report}");
    assert_eq!(writes(&emu) - before, 30, "writes the server saw");
    assert!(a["max_writes_per_user"].as_u64() <= Some(2), "{report}");

    let users = all_users(&clerk).await;
    assert_equal_to_source(&users, &source);
    assert_eq!(
        users.len(),
        35,
        "the 5 missing users are ignored by default"
    );

    // Exactly the changed keys went through the merge endpoint: the untouched
    // private metadata of odd records is still there.
    let odd = users
        .iter()
        .find(|u| u.external_id.as_deref() == Some("crm-11"))
        .unwrap();
    assert_eq!(
        Value::Object(odd.private_metadata.clone()),
        json!({"crm": 11})
    );

    let before = writes(&emu);
    let (output, report) = sync(&emu, &file, &[]).await;
    assert!(output.status.success(), "{}", explain(&output));
    assert_eq!(writes(&emu), before, "the second run wrote: {report}");
    assert_eq!(report["plan"]["unchanged"], 30, "{report}");
    assert!(
        !file
            .with_file_name("users.jsonl.sync-checkpoint.jsonl")
            .exists()
    );

    emu.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_users_are_deleted_or_banned_within_the_limits_only() {
    let dir = dir("missing");
    let file = dir.join("users.jsonl");
    let emu = start(FaultSpec::none()).await;
    let clerk = client(&emu);
    let (instance, source) = mixed();
    seed(&clerk, &instance).await;
    write_source(&file, &source);

    // 5 deletes planned, 4 allowed: refused, nothing changes, non-zero exit.
    let before = writes(&emu);
    let (output, report) = sync(&emu, &file, &["--missing", "delete", "--max-deletes", "4"]).await;
    assert!(!output.status.success(), "{}", explain(&output));
    assert!(
        report["refused"]
            .as_str()
            .is_some_and(|r| r.contains("delete 5")),
        "{report}"
    );
    assert_eq!(writes(&emu), before, "a refused plan wrote");
    assert_eq!(all_users(&clerk).await.len(), 25);

    // An empty source cannot wipe the instance under the default limit.
    let empty = dir.join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let (output, _) = sync(&emu, &empty, &["--missing", "delete"]).await;
    assert!(!output.status.success(), "{}", explain(&output));
    assert_eq!(writes(&emu), before);

    // Banned, then back in the source: unbanned.
    let (output, report) = sync(&emu, &file, &["--missing", "ban", "--max-bans", "5"]).await;
    assert!(output.status.success(), "{}", explain(&output));
    assert_eq!(report["applied"]["banned"], 5, "{report}");
    let banned: Vec<String> = all_users(&clerk)
        .await
        .into_iter()
        .filter(|u| u.banned)
        .filter_map(|u| u.external_id)
        .collect();
    assert_eq!(banned.len(), 5);
    assert!(
        banned
            .iter()
            .all(|e| ["crm-20", "crm-21", "crm-22", "crm-23", "crm-24"].contains(&e.as_str()))
    );
    let before = writes(&emu);
    let (output, report) = sync(&emu, &file, &["--missing", "ban"]).await;
    assert!(output.status.success(), "{}", explain(&output));
    assert_eq!(
        writes(&emu),
        before,
        "banned users are not banned again: {report}"
    );

    let mut back = source.clone();
    back.push(instance[20].clone());
    write_source(&file, &back);
    let (output, report) = sync(&emu, &file, &["--missing", "ban"]).await;
    assert!(output.status.success(), "{}", explain(&output));
    assert_eq!(report["applied"]["unbanned"], 1, "{report}");

    let (output, report) = sync(&emu, &file, &["--missing", "delete", "--max-deletes", "4"]).await;
    assert!(output.status.success(), "{}", explain(&output));
    assert_eq!(report["applied"]["deleted"], 4, "{report}");
    let users = all_users(&clerk).await;
    assert_eq!(users.len(), back.len());
    assert_equal_to_source(&users, &back);

    emu.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_change_nothing_in_the_outcome() {
    let dir = dir("faults");
    let file = dir.join("users.jsonl");
    let emu = start(FaultSpec::none()).await;
    let clerk = client(&emu);
    let mut instance = Vec::new();
    let mut source = Vec::new();
    for i in 0..150 {
        let base = json!({
            "external_id": format!("f-{i}"),
            "first_name": format!("F{i}"),
            "skip_password_requirement": true,
            "public_metadata": {"n": i, "drop": true},
        });
        if i < 100 {
            instance.push(base.clone());
        }
        if i >= 20 {
            let mut r = base;
            if i % 2 == 0 {
                r["first_name"] = json!(format!("G{i}"));
                r["public_metadata"] = json!({"n": i, "nested": {"a": [1, 2]}});
            }
            source.push(r);
        }
    }
    seed(&clerk, &instance).await;
    write_source(&file, &source);
    // Below the retry budget (20 % of the call rate): a request that still fails after
    // its 4 attempts is reported and left to the next run, which plans afresh.
    emu.set_faults("5xx=0.03,reset=0.03,lost_response=0.03".parse().unwrap());
    let mut retries = 0;
    let mut runs = 0;
    loop {
        runs += 1;
        let (output, report) =
            sync(&emu, &file, &["--missing", "delete", "--max-deletes", "20"]).await;
        retries += report["applied"]["retries"].as_u64().unwrap_or(0);
        if output.status.success() {
            assert_eq!(report["applied"]["failed"], 0, "{report}");
            break;
        }
        assert!(runs < 3, "no convergence in 3 runs: {}", explain(&output));
    }
    assert!(retries > 0, "no fault hit");
    emu.set_faults(FaultSpec::none());
    let users = all_users(&clerk).await;
    assert_equal_to_source(&users, &source);
    assert_eq!(
        users.len(),
        source.len(),
        "missing users deleted, no duplicate"
    );

    let before = writes(&emu);
    let (output, _) = sync(&emu, &file, &["--missing", "delete"]).await;
    assert!(output.status.success(), "{}", explain(&output));
    assert_eq!(writes(&emu), before);
    emu.shutdown().await.unwrap();
}

fn lines(path: &Path) -> usize {
    std::fs::read(path).map_or(0, |b| b.iter().filter(|c| **c == b'\n').count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_apply_and_a_rerun_converge_without_duplicates() {
    const NEW: usize = 400;
    let dir = dir("kill");
    let file = dir.join("users.jsonl");
    let checkpoint = dir.join("users.jsonl.sync-checkpoint.jsonl");
    let emu = start(FaultSpec::none()).await;
    let clerk = client(&emu);
    let (instance, mut source) = mixed();
    seed(&clerk, &instance).await;
    for i in 0..NEW {
        // Half have no email: only the external id tells whether they exist.
        let email = if i % 2 == 0 {
            json!([format!("k{i}@example.com")])
        } else {
            json!([])
        };
        source.push(json!({
            "external_id": format!("kill-{i}"), "email_address": email,
            "first_name": format!("K{i}"), "skip_password_requirement": true,
            "public_metadata": {"i": i},
        }));
    }
    write_source(&file, &source);
    emu.set_faults("lost_response=0.03".parse().unwrap());

    // Paced, so that the kill lands long before the last write even when this poller
    // runs late on a loaded machine: the 300 journal lines of headroom (a `sent` and an
    // outcome line per create) are 1.5 s at 100 requests per second (unpaced, the child
    // wrote them in a fraction of one).
    let mut child = sync_command_at(&emu, &file, "100/1s", &[]).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while lines(&checkpoint) < 100 {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the sync ended ({status}) before it could be killed");
        }
        assert!(Instant::now() < deadline, "the sync made no progress");
        // Polling the file the child writes; the child does not wait for us.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap(); // SIGKILL
    assert!(!child.wait().unwrap().success());
    assert!(lines(&checkpoint) < NEW, "killed too late");

    let (output, report) = sync(&emu, &file, &[]).await;
    assert!(output.status.success(), "{}", explain(&output));
    assert_eq!(report["applied"]["failed"], 0, "{report}");
    emu.set_faults(FaultSpec::none());
    let users = all_users(&clerk).await;
    assert_equal_to_source(&users, &source);
    assert_eq!(users.len(), source.len() + 5, "duplicates: {}", users.len());
    let mut per_ext: BTreeMap<String, usize> = BTreeMap::new();
    for u in &users {
        *per_ext
            .entry(u.external_id.clone().unwrap_or_default())
            .or_default() += 1;
    }
    assert!(per_ext.values().all(|n| *n == 1), "duplicated external ids");

    let before = writes(&emu);
    let (output, _) = sync(&emu, &file, &[]).await;
    assert!(output.status.success(), "{}", explain(&output));
    assert_eq!(writes(&emu), before);
    emu.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_records_and_duplicate_keys_send_nothing() {
    let dir = dir("invalid");
    let file = dir.join("users.jsonl");
    let emu = start(FaultSpec::none()).await;
    write_source(
        &file,
        &[json!({"external_id": "a", "email_address": ["not-an-email"]})],
    );
    let (output, _) = sync(&emu, &file, &[]).await;
    assert_eq!(output.status.code(), Some(2), "{}", explain(&output));
    assert_eq!(writes(&emu), 0);
    write_source(
        &file,
        &[
            json!({"first_name": "no key", "email_address": ["x@example.com"]}),
            json!({"external_id": "b", "first_name": "B"}),
        ],
    );
    let (output, report) = sync(&emu, &file, &[]).await;
    assert!(!output.status.success(), "{}", explain(&output));
    assert_eq!(report["plan"]["conflicts"], 1, "{report}");
    assert_eq!(report["applied"]["created"], 1, "{report}");
    emu.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_replace_and_nulls_a_merge_cannot_express_end_equal_too() {
    let dir = dir("replace");
    let file = dir.join("users.jsonl");
    let emu = start(FaultSpec::none()).await;
    let clerk = client(&emu);
    let (instance, mut source) = mixed();
    seed(&clerk, &instance).await;
    // A null to keep: a merge would read it as "delete", so this one is replaced.
    source[0]["unsafe_metadata"] = json!({"consent": {"marketing": null, "terms": true}});
    write_source(&file, &source);

    let (output, report) = sync(&emu, &file, &["--metadata", "merge"]).await;
    assert!(output.status.success(), "{}", explain(&output));
    // 10 creates, 10 names + 10 merges, 1 replace.
    assert_eq!(report["applied"]["writes"], 31, "{report}");
    assert_equal_to_source(&all_users(&clerk).await, &source);

    for r in source.iter_mut().skip(10).take(10) {
        r["public_metadata"] = json!({"plan": {"tier": "enterprise"}});
    }
    write_source(&file, &source);
    let before = writes(&emu);
    let (output, report) = sync(&emu, &file, &["--metadata", "replace"]).await;
    assert!(output.status.success(), "{}", explain(&output));
    assert_eq!(report["applied"]["updated"], 10, "{report}");
    assert_eq!(writes(&emu) - before, 10, "one replace per user: {report}");
    let puts = emu
        .stats()
        .requests_per_operation
        .get("ReplaceUserMetadata")
        .copied();
    assert_eq!(puts, Some(11), "PUT /users/{{id}}/metadata: 1 + 10");
    assert_equal_to_source(&all_users(&clerk).await, &source);

    let before = writes(&emu);
    let (output, _) = sync(&emu, &file, &["--metadata", "replace"]).await;
    assert!(output.status.success(), "{}", explain(&output));
    assert_eq!(writes(&emu), before);
    emu.shutdown().await.unwrap();
}

/// The instance of the shard tests: 10 unchanged, 10 to update, 10 leavers with an
/// `external_id` and 4 without (created by hand, never by an import); the source adds
/// 15 to create.
fn sharded() -> (Vec<Value>, Vec<Value>) {
    let (mut instance, mut source) = mixed();
    for i in 25..30 {
        let mut leaver = instance[0].clone();
        leaver["external_id"] = json!(format!("crm-{i}"));
        leaver["email_address"] = json!([format!("user{i}@example.com")]);
        leaver["username"] = json!(format!("user_{i}"));
        instance.push(leaver);
    }
    for i in 0..4 {
        instance.push(json!({
            "email_address": [format!("keyless{i}@example.com")],
            "first_name": "Keyless",
            "skip_password_requirement": true,
        }));
    }
    for i in 110..115 {
        let mut r = source.last().unwrap().clone();
        r["external_id"] = json!(format!("crm-{i}"));
        r["email_address"] = json!([format!("new{i}@example.com")]);
        source.push(r);
    }
    (instance, source)
}

/// Runs `clerk-users sync --shard K/N` for every K at once, each its own process.
async fn sync_shards(emu: &Emulator, file: &Path, n: u32, extra: &[&str]) -> Vec<Value> {
    let children: Vec<_> = (1..=n)
        .map(|k| {
            let shard = format!("{k}/{n}");
            let mut cmd = sync_command(emu, file, extra);
            cmd.args(["--shard", &shard]);
            cmd.spawn().unwrap()
        })
        .collect();
    let outputs = tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    outputs
        .iter()
        .map(|output| {
            assert!(output.status.success(), "{}", explain(output));
            serde_json::from_str(String::from_utf8_lossy(&output.stdout).trim()).unwrap()
        })
        .collect()
}

fn total(reports: &[Value], path: &[&str]) -> u64 {
    reports
        .iter()
        .map(|r| path.iter().fold(r, |v, p| &v[*p]).as_u64().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_shards_at_once_delete_each_leaver_once_and_nothing_else() {
    let dir = dir("shards");
    let file = dir.join("users.jsonl");
    let emu = start(FaultSpec::none()).await;
    let clerk = client(&emu);
    let (instance, source) = sharded();
    seed(&clerk, &instance).await;
    write_source(&file, &source);
    let ids_before: HashMap<String, String> = all_users(&clerk)
        .await
        .into_iter()
        .filter_map(|u| Some((u.external_id?, u.id)))
        .collect();
    let leavers = 10 + 4;

    // The three dry runs split the work: each record planned by one shard, each leaver
    // by one shard, and each counts the leavers of all shards (the limit's figure).
    let args = ["--missing", "delete", "--max-deletes", "20"];
    let plans = sync_shards(&emu, &file, 3, &[&args[..], &["--dry-run"]].concat()).await;
    assert_eq!(total(&plans, &["records"]), source.len() as u64);
    for p in &plans {
        assert_eq!(
            p["records"].as_u64().unwrap() + p["records_in_other_shards"].as_u64().unwrap(),
            source.len() as u64,
            "{p}"
        );
        assert_eq!(p["plan"]["missing_to_act_on_all_shards"], leavers, "{p}");
        assert!(
            p["plan"]["missing_to_act_on"].as_u64() < Some(leavers),
            "{p}"
        );
    }
    assert_eq!(total(&plans, &["plan", "create"]), 15);
    assert_eq!(total(&plans, &["plan", "update"]), 10);
    assert_eq!(total(&plans, &["plan", "unchanged"]), 10);
    assert_eq!(total(&plans, &["plan", "missing_to_act_on"]), leavers);

    // The limit holds for all shards together: 14 leavers above 13 refuse everywhere,
    // though no shard alone has 13.
    let before = writes(&emu);
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let (output, report) = sync(
            &emu,
            &file,
            &[
                "--missing",
                "delete",
                "--max-deletes",
                "13",
                "--shard",
                &shard,
            ],
        )
        .await;
        assert!(!output.status.success(), "{}", explain(&output));
        assert!(
            report["refused"]
                .as_str()
                .is_some_and(|r| r.contains("delete 14 users (all 3 shards")),
            "{report}"
        );
    }
    assert_eq!(writes(&emu), before, "a refused shard wrote");

    let reports = sync_shards(&emu, &file, 3, &args).await;
    assert_eq!(total(&reports, &["applied", "created"]), 15);
    assert_eq!(total(&reports, &["applied", "updated"]), 10);
    assert_eq!(total(&reports, &["applied", "deleted"]), leavers);
    assert_eq!(total(&reports, &["applied", "failed"]), 0);
    assert_eq!(
        emu.stats()
            .requests_per_operation
            .get("DeleteUser")
            .copied(),
        Some(leavers),
        "a user was deleted twice, or one another shard's record matches"
    );

    // The instance is the source: none missing, none duplicated, no stranger left, and
    // the users that stayed are the same users (not deleted and created again).
    let users = all_users(&clerk).await;
    assert_eq!(users.len(), source.len());
    assert_equal_to_source(&users, &source);
    for u in &users {
        let ext = u.external_id.as_deref().unwrap();
        if let Some(id) = ids_before.get(ext) {
            assert_eq!(&u.id, id, "{ext} was replaced");
        }
    }
    for k in 1..=3 {
        let checkpoint =
            file.with_file_name(format!("users.jsonl.shard-{k}-of-3.sync-checkpoint.jsonl"));
        assert!(!checkpoint.exists(), "{}", checkpoint.display());
    }

    // Again, all at once: nothing to write in any shard.
    let before = writes(&emu);
    let reports = sync_shards(&emu, &file, 3, &args).await;
    assert_eq!(writes(&emu), before, "a second round wrote: {reports:?}");
    assert_eq!(total(&reports, &["plan", "unchanged"]), source.len() as u64);

    emu.shutdown().await.unwrap();
}
