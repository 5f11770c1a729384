//! The `clerk-users` binary against an emulator started in the test process:
//! validation, input formats, export round trip, bulk actions, the missing-key
//! message, and the secret key never printed.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use clerk_emulator::{Config, Emulator, RateLimit};
use clerk_tower::Clerk;
use clerk_tower::users::ListUsers;
use futures_util::TryStreamExt;
use serde_json::Value;

const KEY: &str = "sk_test_cli_VERYSECRET_0123";

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

/// `rest` plus `--api-url URL --secret-key KEY`.
fn at(emu: &Emulator, key: &str, rest: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = rest.iter().map(|s| (*s).to_owned()).collect();
    args.extend([
        "--api-url".into(),
        emu.base_url(),
        "--secret-key".into(),
        key.into(),
    ]);
    // The emulator runs without a limit; so can the client.
    args.extend(["--rate-limit".into(), "off".into()]);
    args
}

async fn emulator(keys: &[&str]) -> Emulator {
    let mut config = Config::new()
        .rate_limit(RateLimit::Off)
        .latency(Duration::ZERO, Duration::from_millis(1));
    for key in keys {
        config = config.secret_key(*key);
    }
    Emulator::start(config).await.expect("emulator starts")
}

fn client(emu: &Emulator, key: &str) -> Clerk {
    Clerk::builder()
        .secret_key(key)
        .base_url(emu.base_url())
        .no_rate_limit()
        .build()
        .expect("client")
}

async fn all_users(clerk: &Clerk) -> Vec<clerk_core::User> {
    clerk
        .users()
        .list_all(ListUsers::new().limit(500))
        .try_collect()
        .await
        .expect("list users")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn report(output: &Output) -> Value {
    let stdout = text(&output.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\nstderr: {}", text(&output.stderr)))
}

fn requests(emu: &Emulator, op: &str) -> u64 {
    emu.stats()
        .requests_per_operation
        .get(op)
        .copied()
        .unwrap_or(0)
}

fn path_arg(p: &Path) -> String {
    p.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_records_are_reported_by_line_and_field_and_never_sent() {
    let emu = emulator(&[KEY]).await;
    let dir = temp_dir("validation");
    let input = dir.join("users.jsonl");
    std::fs::write(
        &input,
        concat!(
            "{\"external_id\":\"v1\",\"email_address\":[\"ok1@example.com\"]}\n",
            "{\"external_id\":\"v2\",\"email_address\":[\"not-an-email\"]}\n",
            "{\"external_id\":\"v3\",\"phone_number\":[\"5550100\"],\"colour\":\"red\"}\n",
            "this is not json\n",
            "{\"external_id\":\"v5\",\"password_hasher\":\"bcrypt\",\"password_digest\":\"$2b$10$short\"}\n",
            "{\"external_id\":\"v6\",\"email_address\":[\"OK1@example.com\"]}\n",
            "{\"external_id\":\"v7\",\"email_address\":[\"ok7@example.com\"],\"first_name\":\"Seven\"}\n",
            "[\"an\",\"array\"]\n",
            "{\"external_id\":\"v9\",\"first_name\":42}\n",
        ),
    )
    .unwrap();

    let dry = run(vec!["import".into(), path_arg(&input), "--dry-run".into()]).await;
    assert_eq!(dry.status.code(), Some(1));
    let stderr = text(&dry.stderr);
    for expected in [
        "line 2: field `email_address[0]`",
        "line 3: field `phone_number[0]`",
        "line 3: field `colour`",
        "line 4: invalid JSON",
        "line 5: field `password_digest`",
        "line 6: field `email_address[0]`",
        "line 8: expected a JSON object",
        "line 9: field `first_name`",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    assert!(
        !stderr.contains("line 1:") && !stderr.contains("line 7:"),
        "{stderr}"
    );

    // Without --skip-invalid nothing is sent at all.
    let refused = run(at(&emu, KEY, &["import", &path_arg(&input), "--json"])).await;
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    assert_eq!(emu.stats().total_requests, 0);

    // With it, exactly the two valid records are created; the others go to the failed file.
    let out = run(at(
        &emu,
        KEY,
        &["import", &path_arg(&input), "--json", "--skip-invalid"],
    ))
    .await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "invalid records count as failures"
    );
    let r = report(&out);
    assert_eq!(
        (r["created"].as_u64(), r["invalid"].as_u64()),
        (Some(2), Some(7)),
        "{r}"
    );
    assert_eq!(requests(&emu, "CreateUser"), 2);
    let failed = std::fs::read_to_string(dir.join("users.jsonl.failed.jsonl")).unwrap();
    assert_eq!(
        failed.lines().count(),
        5,
        "every parseable invalid record: {failed}"
    );
    assert!(
        failed
            .lines()
            .all(|l| serde_json::from_str::<Value>(l).is_ok())
    );

    // The Debug/Display of nothing above leaked the key.
    for o in [&dry, &refused, &out] {
        assert!(!text(&o.stdout).contains("VERYSECRET") && !text(&o.stderr).contains("VERYSECRET"));
    }
    emu.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_input_format_imports() {
    let emu = emulator(&[KEY]).await;
    let dir = temp_dir("formats");
    let files = [
        (
            "a.jsonl",
            "{\"external_id\":\"jl-1\",\"email_address\":[\"jl1@example.com\"],\"first_name\":\"Jay\"}\n\
             {\"external_id\":\"jl-2\",\"email_address\":[\"jl2@example.com\"],\"public_metadata\":{\"plan\":\"pro\"}}\n",
        ),
        (
            "b.json",
            "[\n {\"external_id\":\"ja-1\",\"email_address\":[\"ja1@example.com\"],\"last_name\":\"Array\"},\n \
             {\"external_id\":\"ja-2\",\"username\":\"array_two\",\"password\":\"correct horse battery\"}\n]\n",
        ),
        (
            "c.csv",
            "external_id,email_address,first_name,banned,public_metadata\n\
             csv-1,csv1@example.com,Cee,false,\"{\"\"plan\"\":\"\"team\"\"}\"\n\
             csv-2,\"csv2@example.com;csv2b@example.com\",,true,\n",
        ),
        (
            "d.json",
            "[{\"userId\":\"mt-1\",\"email\":\"mt1@example.com\",\"firstName\":\"Migra\",\"lastName\":\"Tool\",\
             \"password\":\"$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW\",\"passwordHasher\":\"bcrypt\"},\
             {\"userId\":\"mt-2\",\"email\":[\"mt2@example.com\"],\"unverifiedEmailAddresses\":[\"mt2-old@example.com\"],\
             \"phone\":\"+14155550123\",\"publicMetadata\":{\"legacy\":true}}]",
        ),
    ];
    for (name, contents) in files {
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        let out = run(at(&emu, KEY, &["import", &path_arg(&path), "--json"])).await;
        assert!(
            out.status.success(),
            "{name}: {}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        assert_eq!(report(&out)["created"], 2, "{name}");
    }
    let users = all_users(&client(&emu, KEY)).await;
    let by_ext: HashMap<String, &clerk_core::User> = users
        .iter()
        .map(|u| (u.external_id.clone().unwrap_or_default(), u))
        .collect();
    assert_eq!(by_ext.len(), 8);
    assert_eq!(by_ext["jl-1"].first_name.as_deref(), Some("Jay"));
    assert_eq!(by_ext["jl-2"].public_metadata["plan"], "pro");
    assert_eq!(by_ext["ja-2"].username.as_deref(), Some("array_two"));
    assert!(by_ext["ja-2"].password_enabled);
    assert_eq!(by_ext["csv-1"].public_metadata["plan"], "team");
    assert_eq!(by_ext["csv-2"].email_addresses.len(), 2);
    assert!(by_ext["csv-2"].banned);
    assert_eq!(by_ext["mt-1"].last_name.as_deref(), Some("Tool"));
    assert!(by_ext["mt-1"].password_enabled);
    let mt2 = by_ext["mt-2"];
    let emails: BTreeSet<&str> = mt2
        .email_addresses
        .iter()
        .map(|e| e.email_address.as_str())
        .collect();
    assert_eq!(
        emails,
        BTreeSet::from(["mt2@example.com", "mt2-old@example.com"])
    );
    assert_eq!(mt2.phone_numbers[0].phone_number, "+14155550123");
    emu.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_round_trips_as_json_lines_and_copies_to_another_instance() {
    const OTHER: &str = "sk_test_cli_other_instance";
    let emu = emulator(&[KEY, OTHER]).await;
    let dir = temp_dir("export");
    let input = dir.join("seed.jsonl");
    let mut seed = String::new();
    for i in 0..1203 {
        seed.push_str(&format!(
            "{{\"external_id\":\"ex-{i}\",\"email_address\":[\"ex{i}@example.com\"],\"first_name\":\"E{i}\",\"private_metadata\":{{\"n\":{i}}}}}\n"
        ));
    }
    std::fs::write(&input, seed).unwrap();
    let out = run(at(
        &emu,
        KEY,
        &["import", &path_arg(&input), "--json", "--concurrency", "16"],
    ))
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));

    // Export as users: every line is a user, every user is there once.
    let exported = dir.join("users.jsonl");
    let lists_before = requests(&emu, "GetUserList");
    let out = run(at(
        &emu,
        KEY,
        &["export", "--out", &path_arg(&exported), "--json"],
    ))
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(report(&out)["exported"], 1203);
    assert_eq!(
        requests(&emu, "GetUserList") - lists_before,
        3,
        "pages of 500"
    );
    let contents = std::fs::read_to_string(&exported).unwrap();
    let ids: BTreeSet<String> = contents
        .lines()
        .map(|l| {
            serde_json::from_str::<clerk_core::User>(l)
                .unwrap()
                .external_id
                .unwrap()
        })
        .collect();
    assert_eq!(ids.len(), 1203);
    assert!(ids.contains("ex-0") && ids.contains("ex-1202"));

    // Filters apply; stdout works as the destination.
    let out = run(at(
        &emu,
        KEY,
        &["export", "--email-address", "ex7@example.com"],
    ))
    .await;
    assert!(out.status.success());
    let lines: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 1);
    assert!(lines[0].contains("\"ex-7\""));

    // Export as create bodies, import into the other instance: the same users.
    let bodies = dir.join("bodies.jsonl");
    let out = run(at(
        &emu,
        KEY,
        &["export", "--as", "create", "--out", &path_arg(&bodies)],
    ))
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(at(
        &emu,
        OTHER,
        &[
            "import",
            &path_arg(&bodies),
            "--json",
            "--concurrency",
            "16",
        ],
    ))
    .await;
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(report(&out)["created"], 1203);
    let copied = all_users(&client(&emu, OTHER)).await;
    let original = all_users(&client(&emu, KEY)).await;
    let key = |u: &clerk_core::User| {
        (
            u.external_id.clone(),
            u.first_name.clone(),
            u.email_addresses[0].email_address.clone(),
            u.private_metadata.clone(),
            u.created_at,
        )
    };
    let mut a: Vec<_> = original.iter().map(key).collect();
    let mut b: Vec<_> = copied.iter().map(key).collect();
    a.sort_by(|x, y| x.0.cmp(&y.0));
    b.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(a, b);
    emu.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_actions_use_chunks_of_fifty_and_report_failures() {
    let emu = emulator(&[KEY]).await;
    let dir = temp_dir("actions");
    let input = dir.join("users.jsonl");
    let mut seed = String::new();
    for i in 0..120 {
        seed.push_str(&format!(
            "{{\"external_id\":\"b-{i}\",\"email_address\":[\"b{i}@example.com\"]}}\n"
        ));
    }
    std::fs::write(&input, seed).unwrap();
    assert!(
        run(at(&emu, KEY, &["import", &path_arg(&input)]))
            .await
            .status
            .success()
    );
    let clerk = client(&emu, KEY);
    let users = all_users(&clerk).await;
    let ids_file = dir.join("ids.txt");
    let ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
    std::fs::write(&ids_file, format!("# all of them\n{}\n", ids.join("\n"))).unwrap();

    let out = run(at(
        &emu,
        KEY,
        &["ban", "--ids", &path_arg(&ids_file), "--json"],
    ))
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(report(&out)["done"], 120);
    assert_eq!(requests(&emu, "UsersBan"), 3, "120 ids in chunks of 50");
    let out = run(at(&emu, KEY, &["count", "--banned", "true", "--json"])).await;
    assert_eq!(report(&out)["total_count"], 120);

    let out = run(at(
        &emu,
        KEY,
        &["unban", "--ids", &path_arg(&ids_file), "--json"],
    ))
    .await;
    assert!(out.status.success());
    assert_eq!(requests(&emu, "UsersUnban"), 3);
    let out = run(at(&emu, KEY, &["count", "--banned", "true"])).await;
    assert_eq!(text(&out.stdout).trim(), "0");

    // Lock, unlock and delete go one by one; an unknown id is reported, not fatal.
    let some = dir.join("some.txt");
    std::fs::write(
        &some,
        format!("{}\n{}\nuser_does_not_exist\n", ids[0], ids[1]),
    )
    .unwrap();
    let out = run(at(
        &emu,
        KEY,
        &["lock", "--ids", &path_arg(&some), "--json"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1));
    let r = report(&out);
    assert_eq!(
        (r["done"].as_u64(), r["failed"].as_u64()),
        (Some(2), Some(1)),
        "{r}"
    );
    assert_eq!(r["failed_by_code"]["resource_not_found"], 1, "{r}");
    assert!(clerk.users().get(ids[0].clone()).await.unwrap().locked);
    let out = run(at(
        &emu,
        KEY,
        &["unlock", "--ids", &path_arg(&some), "--json"],
    ))
    .await;
    assert_eq!(report(&out)["done"], 2);
    assert!(!clerk.users().get(ids[0].clone()).await.unwrap().locked);

    // Ids from stdin, in export's JSON Lines form.
    let lines = format!("{{\"id\":\"{}\"}}\n{{\"id\":\"{}\"}}\n", ids[2], ids[3]);
    let mut child = command()
        .args(at(&emu, KEY, &["delete", "--json"]))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(lines.as_bytes())
            .unwrap();
    }
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success());
    assert_eq!(report(&out)["done"], 2);
    let out = run(at(&emu, KEY, &["count"])).await;
    assert_eq!(text(&out.stdout).trim(), "118");
    emu.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_key_says_how_to_set_one_and_keys_are_never_printed() {
    let out = run(vec!["count".into()]).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--secret-key") && stderr.contains("CLERK_SECRET_KEY"),
        "{stderr}"
    );
    assert!(
        stderr.contains("clerk-users emulator") && stderr.contains("sk_test_emulator"),
        "{stderr}"
    );

    // A wrong key: the error explains, and neither key shows, even at trace level.
    let emu = emulator(&[KEY]).await;
    let wrong = "sk_test_WRONGSECRET_987";
    let out = run(at(&emu, wrong, &["count", "-vvv"])).await;
    assert_eq!(out.status.code(), Some(1));
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        all.contains("401") || all.contains("authentication_invalid"),
        "{all}"
    );
    assert!(!all.contains("WRONGSECRET"), "{all}");
    let out = run(at(&emu, KEY, &["count", "-vvv", "--json"])).await;
    assert!(out.status.success());
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!all.contains("VERYSECRET"), "{all}");
    let help = run(vec!["import".into(), "--help".into()]).await;
    assert!(!text(&help.stdout).contains("VERYSECRET"));
    emu.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_the_server_rejects_go_to_the_failed_file_ready_to_import_again() {
    let emu = emulator(&[KEY]).await;
    let dir = temp_dir("server-failures");
    let input = dir.join("users.jsonl");
    // Valid for the client; Clerk (and the emulator) refuse a breached password.
    std::fs::write(
        &input,
        concat!(
            r#"{"external_id":"ok-1","email_address":["ok1@example.com"],"password":"correct-horse-battery"}"#,
            "\n",
            r#"{"external_id":"pwned-1","email_address":["pwned1@example.com"],"first_name":"Pat","password":"password123"}"#,
            "\n",
        ),
    )
    .unwrap();
    let out = run(at(&emu, KEY, &["import", &path_arg(&input), "--json"])).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let r = report(&out);
    assert_eq!(
        (r["created"].as_u64(), r["failed"].as_u64()),
        (Some(1), Some(1)),
        "{r}"
    );

    let failed_path = dir.join("users.jsonl.failed.jsonl");
    let failed = std::fs::read_to_string(&failed_path).unwrap();
    let bodies: Vec<Value> = failed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(bodies.len(), 1, "{failed}");
    assert_eq!(bodies[0]["external_id"], "pwned-1");
    assert_eq!(bodies[0]["first_name"], "Pat");
    assert_eq!(
        bodies[0]["password"], "password123",
        "the body as it was sent"
    );

    // Fixed, the failed file imports as it is.
    std::fs::write(
        &failed_path,
        failed.replace("password123", "a-much-better-passphrase"),
    )
    .unwrap();
    let again = run(at(
        &emu,
        KEY,
        &["import", &path_arg(&failed_path), "--json"],
    ))
    .await;
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert_eq!(report(&again)["created"].as_u64(), Some(1));
    let users = all_users(&client(&emu, KEY)).await;
    assert_eq!(users.len(), 2);
}

/// A number as the report prints it (`1,234.5`, `—` for none).
fn report_number(text: &str) -> Option<f64> {
    text.replace(',', "").parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_writes_a_self_contained_html_report() {
    let dir = temp_dir("bench-report");
    let page_path = dir.join("run.html");
    let out = run(vec![
        "bench".into(),
        "--json".into(),
        "--users".into(),
        "300".into(),
        "--rate-limit".into(),
        "300/1s".into(),
        "--latency".into(),
        "1..5".into(),
        // Random faults: at 5 % a request fails all four attempts about once in 160,000
        // (at 20 % a lookup sometimes did, failing the run); 300 users still draw 5xx marks.
        // A slow apply outlasts its attempt's deadline, which drops the attempt: the
        // page must still count it (as a timeout).
        "--faults".into(),
        "5xx=0.05,slow_apply=0.02".into(),
        "--attempt-timeout".into(),
        "1s".into(),
        "--settle-delay".into(),
        "2s".into(),
        "--report".into(),
        path_arg(&page_path),
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = report(&out);
    let page = std::fs::read_to_string(&page_path).expect("the report is written");
    assert!(page.starts_with("<!DOCTYPE html>"));
    // Well-formed: the page parses as XML (it is written as polyglot XHTML).
    let doc = roxmltree::Document::parse_with_options(
        &page,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("the report is not well-formed: {e}"));
    let elements: Vec<roxmltree::Node<'_, '_>> =
        doc.descendants().filter(|n| n.is_element()).collect();
    let named = |tag: &'static str| elements.iter().filter(move |n| n.tag_name().name() == tag);
    // Nothing to fetch or run.
    assert_eq!(named("script").count(), 0);
    for n in &elements {
        for a in n.attributes() {
            assert!(
                !["src", "href"].contains(&a.name()),
                "<{}> fetches {}",
                n.tag_name().name(),
                a.value()
            );
            assert!(!a.value().contains("url("), "{}", a.value());
        }
    }
    assert!(!page.contains("@import"));
    // One chart per heading, each with something drawn.
    let headings: Vec<String> = named("h2")
        .map(|h| h.text().unwrap_or_default().to_owned())
        .collect();
    for chart in [
        "Requests per second",
        "Server sliding-window occupancy",
        "Attempt latency",
        "Retries, 429s and faults",
        "Summary",
    ] {
        assert!(
            headings.iter().any(|h| h.starts_with(chart)),
            "no {chart} in {headings:?}"
        );
    }
    let svgs: Vec<_> = named("svg").collect();
    assert_eq!(svgs.len(), 4, "requests/s, window, latency, marks");
    for (i, svg) in svgs.iter().enumerate() {
        let drawn = svg
            .descendants()
            .filter(|n| ["polyline", "circle"].contains(&n.tag_name().name()))
            .count();
        assert!(drawn > 0, "chart {i} draws nothing");
    }
    let all_text: String = doc
        .descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        all_text.contains("N = 300 per 1 s"),
        "the server's window is drawn against N"
    );
    assert!(all_text.contains("quota 300"), "requests/s against N / W");
    assert!(!all_text.contains("Not available"));

    // The summary table is the --json object, row for row.
    let table: HashMap<String, String> = named("tr")
        .flat_map(|tr| {
            let cells: Vec<String> = tr
                .children()
                .filter(|c| c.tag_name().name() == "td")
                .map(|c| c.text().unwrap_or_default().to_owned())
                .collect();
            assert_eq!(cells.len() % 2, 0, "name, value pairs: {cells:?}");
            cells
                .chunks(2)
                .map(|pair| (pair[0].clone(), pair[1].clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let Value::Object(fields) = &summary else {
        panic!("{summary}")
    };
    assert_eq!(table.len(), fields.len());
    for (key, value) in fields {
        let shown = &table[key];
        match value {
            Value::Number(n) => {
                let n = n.as_f64().expect("a number");
                let got = report_number(shown).unwrap_or_else(|| panic!("{key}: {shown}"));
                assert!(
                    (got - n).abs() <= n.abs() * 0.005 + 0.001,
                    "{key}: page {shown}, --json {n}"
                );
            }
            Value::String(s) => assert_eq!(shown, s, "{key}"),
            Value::Null => assert_eq!(shown, "—", "{key}"),
            other => assert_eq!(shown, &other.to_string(), "{key}"),
        }
    }

    // The charts count what the summary counts.
    let attempts = all_text
        .split(['(', ')'])
        .find_map(|t| t.strip_suffix(" attempts"))
        .and_then(report_number)
        .expect("the requests/s legend gives the attempts");
    assert_eq!(attempts, summary["requests"].as_f64().unwrap());
    let marks_row = |name: &str| {
        all_text
            .lines()
            .find_map(|l| l.strip_suffix(name))
            .and_then(|n| report_number(n.trim()))
            .unwrap_or_else(|| panic!("no row {name}"))
    };
    assert_eq!(
        marks_row(" 429s"),
        summary["http_429"].as_f64().unwrap(),
        "429 marks"
    );
    assert!(
        marks_row(" retries (re-sent)") >= summary["retries"].as_f64().unwrap(),
        "every retry the summary counts re-sends a request the page saw"
    );
    assert!(
        marks_row(" 5xx") > 0.0,
        "5 % of 300+ requests fail with a 5xx: none at all has odds below 1e-6"
    );
    assert!(
        marks_row(" lookup attempts (GETs)") >= summary["lookups"].as_f64().unwrap(),
        "every reconciliation lookup is at least one GET"
    );
    let peak = all_text
        .split(['(', ')'])
        .find_map(|t| t.strip_prefix("peak sampled "))
        .and_then(report_number)
        .expect("the window legend gives its peak");
    let worst = summary["max_window_requests"].as_f64().unwrap();
    assert!(
        peak > 0.0 && peak <= worst && worst <= 300.0,
        "sampled peak {peak}, worst window {worst}, N 300"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_against_a_server_paces_at_its_keys_quota() {
    // `--instance` (default production) describes the embedded emulator: against
    // `--api-url`, a development key's instance allows 100 per 10 s, not 1,000.
    let emu = emulator(&[KEY]).await;
    let out = run(vec![
        "bench".into(),
        "--json".into(),
        "--users".into(),
        "2".into(),
        "--api-url".into(),
        emu.base_url(),
        "--secret-key".into(),
        KEY.into(),
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = report(&out);
    assert_eq!(summary["quota"], "100/10s", "{summary}");
    assert_eq!(summary["quota_rps"], 10.0);
    assert_eq!(summary["instance"], "external");
    assert!(summary["latency_ms"].is_null(), "no latency is added to it");
    // Two users go out faster than 10 req/s (the limiter's burst): a short burst that
    // used all it could of the quota, not a utilization above 1.
    let achieved = summary["achieved_rps"].as_f64().unwrap();
    let utilization = summary["utilization"].as_f64().unwrap();
    assert!(utilization <= 1.0, "{summary}");
    assert_eq!(summary["short_burst"], achieved > 10.0, "{summary}");
    if achieved > 10.0 {
        assert_eq!(utilization, 1.0, "{summary}");
    } else {
        assert!((utilization - achieved / 10.0).abs() < 1e-9, "{summary}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bench_run_that_fails_still_writes_its_report() {
    // Every request fails with a 5xx: the lookups that would settle the ambiguous
    // creates fail too, and that ends the run with an error.
    let dir = temp_dir("bench-failed-report");
    let page_path = dir.join("failed.html");
    let out = run(vec![
        "bench".into(),
        "--json".into(),
        "--users".into(),
        "5".into(),
        "--latency".into(),
        "1..2".into(),
        "--faults".into(),
        "5xx=1".into(),
        "--settle-delay".into(),
        "100ms".into(),
        "--report".into(),
        path_arg(&page_path),
    ])
    .await;
    assert_eq!(out.status.code(), Some(1), "the run still fails");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("stopped:"), "{stderr}");
    let page = std::fs::read_to_string(&page_path).expect("a failed run writes its report");
    let doc = roxmltree::Document::parse_with_options(
        &page,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("the report is not well-formed: {e}"));
    assert_eq!(
        doc.descendants()
            .filter(|n| n.tag_name().name() == "script")
            .count(),
        0
    );
    let all_text: String = doc
        .descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(all_text.contains("The run failed:"), "{all_text}");
    let table: HashMap<String, String> = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "tr")
        .flat_map(|tr| {
            let cells: Vec<String> = tr
                .children()
                .filter(|c| c.tag_name().name() == "td")
                .map(|c| c.text().unwrap_or_default().to_owned())
                .collect();
            cells
                .chunks(2)
                .map(|pair| (pair[0].clone(), pair[1].clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(table["run"], "failed");
    // The error the command printed, word for word (the page escapes its quote marks).
    let error = &table["error"];
    assert!(
        error.starts_with("stopped: ") && error.contains("Clerk API error 5"),
        "{error}"
    );
    assert!(stderr.contains(error.as_str()), "{stderr}\n{error}");
    assert!(
        page.contains("We&#39;ve"),
        "the server's text is HTML-escaped"
    );
    // What was recorded up to the failure is on the page.
    let requests = report_number(&table["requests"]).expect("requests");
    assert!(
        requests >= 5.0,
        "every user was sent at least once: {requests}"
    );
    let attempts = all_text
        .split(['(', ')'])
        .find_map(|t| t.strip_suffix(" attempts"))
        .and_then(report_number)
        .expect("the requests/s legend gives the attempts");
    assert_eq!(
        attempts, requests,
        "the charts count what the summary counts"
    );
    let fivexx = all_text
        .lines()
        .find_map(|l| l.strip_suffix(" 5xx"))
        .and_then(|n| report_number(n.trim()))
        .expect("a 5xx row");
    assert_eq!(fivexx, requests, "every attempt was a 5xx");
}
