//! Property tests of the import input parsers, through the binary as a user runs it
//! (`import FILE --format F --dry-run --json`): files of JSON Lines or a JSON array mixing good records
//! with bad lines of every kind (not JSON, not an object, wrong types, unknown fields, a NUL
//! in an id, a 257-character name). Whatever the file: no panic (exit 0 or 1, never 101),
//! every bad record is a problem on its own line, every good record is counted valid.
//!
//! Each case starts the binary, so the case count is small (24, a few seconds);
//! `PROPTEST_CASES` runs more. The cases come from a fixed seed, so every run checks the
//! same ones (a CI run passes or fails by the code, not by the draw); `PROPTEST_RNG_SEED=N`
//! draws others.

use std::collections::BTreeSet;
use std::process::Command;

use proptest::prelude::*;
use serde_json::{Value, json};

/// One record of a generated file.
#[derive(Clone, Debug)]
enum Line {
    Good { first_name: String },
    NotJson(String),
    NotAnObject,
    WrongType,
    UnknownField,
    NulId,
    LongName,
}

fn line() -> impl Strategy<Value = Line> {
    prop_oneof![
        4 => "[A-Za-zé' -]{0,40}".prop_map(|first_name| Line::Good { first_name }),
        1 => "[a-z{}:,\" ]{1,20}".prop_filter("not JSON", |s| serde_json::from_str::<Value>(s).is_err() && !s.trim().is_empty()).prop_map(Line::NotJson),
        1 => Just(Line::NotAnObject),
        1 => Just(Line::WrongType),
        1 => Just(Line::UnknownField),
        1 => Just(Line::NulId),
        1 => Just(Line::LongName),
    ]
}

/// The JSON text of record `i`.
fn text(i: usize, line: &Line) -> String {
    let id = format!("p-{i}");
    match line {
        Line::Good { first_name } => json!({"external_id": id, "first_name": first_name, "email_address": [format!("p{i}@example.com")]}).to_string(),
        Line::NotJson(s) => s.clone(),
        Line::NotAnObject => json!(["an", "array", i]).to_string(),
        Line::WrongType => json!({"external_id": id, "first_name": i}).to_string(),
        Line::UnknownField => json!({"external_id": id, "colour": "red"}).to_string(),
        Line::NulId => json!({"external_id": format!("p\u{0}{i}")}).to_string(),
        Line::LongName => json!({"external_id": id, "first_name": "é".repeat(257)}).to_string(),
    }
}

fn config() -> ProptestConfig {
    // `default()` reads PROPTEST_RNG_SEED; without it the seed is fixed, not random.
    let default = ProptestConfig::default();
    let rng_seed = match default.rng_seed {
        proptest::test_runner::RngSeed::Random => {
            proptest::test_runner::RngSeed::Fixed(0x1397_0e75)
        }
        chosen => chosen,
    };
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(24);
    ProptestConfig {
        cases,
        rng_seed,
        max_shrink_iters: 200,
        ..default
    }
}

fn dry_run(path: &std::path::Path, format: &str) -> (Option<i32>, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_clerk-users"))
        .env_remove("CLERK_SECRET_KEY")
        .env_remove("CLERK_API_URL")
        .args([
            "import",
            &path.display().to_string(),
            "--format",
            format,
            "--dry-run",
            "--json",
        ])
        .output()
        .expect("run clerk-users");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or(Value::Null);
    (out.status.code(), report, stderr)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_bad_line_is_a_problem_on_its_line_and_every_good_one_is_valid(
        lines in prop::collection::vec(line(), 1..30),
        as_array in any::<bool>(),
    ) {
        let dir = std::env::temp_dir().join(format!("clerk-cli-props-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // A JSON array holds JSON only: the not-JSON lines are left out of it.
        let lines: Vec<Line> = if as_array {
            lines.into_iter().filter(|l| !matches!(l, Line::NotJson(_))).collect()
        } else {
            lines
        };
        prop_assume!(!lines.is_empty());
        let (path, body, first_line) = if as_array {
            // One element per line after the opening `[`: element i is on line i + 2.
            let items: Vec<String> = lines.iter().enumerate().map(|(i, l)| text(i, l)).collect();
            (dir.join("users.json"), format!("[\n{}\n]\n", items.join(",\n")), 2)
        } else {
            let items: Vec<String> = lines.iter().enumerate().map(|(i, l)| text(i, l)).collect();
            (dir.join("users.jsonl"), items.join("\n") + "\n", 1)
        };
        std::fs::write(&path, &body).unwrap();
        // The format is given: detection (from extension and content) reads a file of one
        // line of garbage as a CSV header with no rows, which is not what is tested here.
        let (code, report, stderr) = dry_run(&path, if as_array { "json" } else { "jsonl" });
        let bad: BTreeSet<u64> = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| !matches!(l, Line::Good { .. }))
            .map(|(i, _)| (i + first_line) as u64)
            .collect();
        let good = lines.len() - bad.len();
        prop_assert_eq!(code, Some(if bad.is_empty() { 0 } else { 1 }), "{}\n{}", report, stderr);
        prop_assert_eq!(report["records"].as_u64(), Some(lines.len() as u64), "{}", report);
        prop_assert_eq!(report["valid"].as_u64(), Some(good as u64), "{}", report);
        let problem_lines: BTreeSet<u64> = report["problems"]
            .as_array()
            .map(|ps| ps.iter().filter_map(|p| p["line"].as_u64()).collect())
            .unwrap_or_default();
        prop_assert_eq!(problem_lines, bad, "{}\n{}", report, body);
        let _ = std::fs::remove_file(&path);
    }
}
