//! Reading a JSON array costs what reading JSON Lines costs, and both grow
//! linearly: `clerk-users import FILE --dry-run` on N and 2N records in each
//! format, in interleaved rounds, timed by the children's CPU time
//! (`/proc/self/stat`), printed as ratios.
//!
//! ```text
//! cargo bench -p clerk-cli --bench input_formats
//! CLERK_BENCH_INPUT_RECORDS=500000 cargo bench -p clerk-cli --bench input_formats
//! ```

#![allow(clippy::disallowed_macros)] // prints its own figures, no server text

use std::path::{Path, PathBuf};
use std::process::Command;

/// CPU seconds (user + system) used so far by waited-for children: `cutime` and
/// `cstime` of `/proc/self/stat`, in USER_HZ ticks (100 per second on Linux).
fn children_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat (Linux)");
    // Fields after the parenthesised command name; cutime and cstime are fields 16 and 17.
    let after = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields[i - 3].parse::<f64>().expect("ticks");
    (ticks(16) + ticks(17)) / 100.0
}

fn record(i: usize) -> String {
    format!(
        r#"{{"external_id":"bench-{i}","email_address":["u{i}@example.com"],"first_name":"User","last_name":"Number {i}","public_metadata":{{"plan":"pro","seats":{i}}}}}"#
    )
}

/// Writes `n` records as JSON Lines and as a pretty JSON array (one field per line).
fn write_inputs(dir: &Path, n: usize) -> (PathBuf, PathBuf) {
    let jsonl = dir.join(format!("{n}.jsonl"));
    let json = dir.join(format!("{n}.json"));
    let lines: Vec<String> = (0..n).map(record).collect();
    std::fs::write(&jsonl, lines.join("\n") + "\n").expect("write jsonl");
    let values: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    std::fs::write(&json, serde_json::to_vec_pretty(&values).expect("encode")).expect("write json");
    (jsonl, json)
}

/// CPU seconds of one dry run.
fn dry_run(file: &Path) -> f64 {
    let before = children_cpu();
    let out = Command::new(env!("CARGO_BIN_EXE_clerk-users"))
        .args(["import", "--dry-run", "--json"])
        .arg(file)
        .env_remove("CLERK_SECRET_KEY")
        .output()
        .expect("run clerk-users");
    assert!(
        out.status.success(),
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    children_cpu() - before
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: usize = std::env::var("CLERK_BENCH_INPUT_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = std::env::temp_dir().join(format!("clerk-bench-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let small = write_inputs(&dir, n);
    let large = write_inputs(&dir, 2 * n);
    let rounds = 3;
    let mut times: [Vec<f64>; 4] = Default::default();
    for _ in 0..rounds {
        // Interleaved, so machine load hits every variant alike.
        for (slot, file) in [&small.0, &small.1, &large.0, &large.1]
            .into_iter()
            .enumerate()
        {
            times[slot].push(dry_run(file));
        }
    }
    let [jsonl_n, json_n, jsonl_2n, json_2n] = times.map(median);
    println!("import --dry-run, CPU seconds (median of {rounds} interleaved rounds)");
    println!(
        "  {n:>8} records   jsonl {jsonl_n:.3} s   json array {json_n:.3} s   array/lines {:.2}",
        json_n / jsonl_n
    );
    println!(
        "  {:>8} records   jsonl {jsonl_2n:.3} s   json array {json_2n:.3} s   array/lines {:.2}",
        2 * n,
        json_2n / jsonl_2n
    );
    println!(
        "  doubling the records: jsonl × {:.2}, json array × {:.2} (linear: 2)",
        jsonl_2n / jsonl_n,
        json_2n / json_n
    );
    let _ = std::fs::remove_dir_all(&dir);
}
