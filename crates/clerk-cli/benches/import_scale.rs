//! `clerk-users import` at scale: peak RSS and time of the validation (`--dry-run`)
//! at 100,000, 1,000,000 and 5,000,000 records, and of whole runs against the
//! emulator (in this process, without a rate limit), with the growth ratios. Each
//! figure is one `clerk-users` child process: a helper child (this binary, re-run)
//! starts it, waits for it and reads its own `getrusage(RUSAGE_CHILDREN)`, so the
//! peak RSS and the CPU time are that one process's, the emulator's left out.
//!
//! Inputs (JSON Lines: an external id, an email, a username, names, metadata; ~190 B
//! a record, 1 GB at 5,000,000) go to `CLERK_BENCH_DIR` (default: the temporary
//! directory) and are deleted at the end. A run creates every user on the emulator
//! (no rate limit, concurrency 128) and checks the outcome: the summary's created
//! count and the server's user count each grow by exactly the records, none failed.
//! Runs that create default to 100,000 records (a 1,000,000 one takes about 4 minutes on
//! the loaded 2-core VM); the resumed run (a journal that says every record is done:
//! check, replay, second read, nothing to send) goes to every size:
//!
//! ```text
//! cargo bench -p clerk-cli --bench import_scale
//! CLERK_BENCH_IMPORT_RUN=100000,1000000 CLERK_BENCH_IMPORT_RECORDS=100000 cargo bench -p clerk-cli --bench import_scale
//! CLERK_BENCH_IMPORT_RECORDS=100000,1000000 CLERK_BENCH_ROUNDS=3 cargo bench -p clerk-cli --bench import_scale
//! CLERK_BENCH_BASELINE=/tmp/old/clerk-users CLERK_BENCH_ROUNDS=3 cargo bench -p clerk-cli --bench import_scale
//! ```
//!
//! `CLERK_BENCH_BASELINE` names another `clerk-users` binary (say, one built from
//! `main` before a change): each validation round then runs it and this one in
//! turn on the same file, and the figures are printed side by side with their
//! ratio (this one / the baseline), the best of the rounds of each.

#![allow(clippy::disallowed_macros)] // prints its own figures, no server text

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clerk_emulator::{Config, Emulator, RateLimit};

mod child;

use child::{Figures, helper, mib, sizes};

const CHILD_ENV: &str = "CLERK_BENCH_IMPORT_CHILD";
const KEY: &str = "sk_live_bench_import_scale";

fn measure(args: &[String]) -> Figures {
    measure_with(None, args)
}

/// Figures of one run of `binary` (this build's `clerk-users` when `None`).
fn measure_with(binary: Option<&Path>, args: &[String]) -> Figures {
    child::measure(CHILD_ENV, binary, args).0
}

/// Writes `n` records with ids prefixed by `tag` (distinct users for each run).
fn write_input(dir: &Path, tag: &str, n: u64) -> PathBuf {
    let path = dir.join(format!("{tag}-{n}.jsonl"));
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&path).expect("input"));
    for i in 0..n {
        writeln!(
            out,
            r#"{{"external_id":"{tag}-{i}","email_address":["{tag}.{i}@example.com"],"username":"user_{tag}_{i}","first_name":"User","last_name":"Number {i}","public_metadata":{{"plan":"pro","seats":{}}}}}"#,
            i % 50
        )
        .expect("write input");
    }
    out.flush().expect("write input");
    path
}

/// A journal in which every record of `write_input(_, tag, n)` was sent and created.
fn write_done_journal(path: &Path, tag: &str, n: u64) {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).expect("journal"));
    writeln!(out, r#"{{"journal":"clerk-migrate","version":2}}"#).expect("journal");
    for i in 0..n {
        writeln!(
            out,
            r#"{{"key":"x:{tag}-{i}","outcome":"sent","at":1764581000000}}"#
        )
        .expect("journal");
        writeln!(
            out,
            r#"{{"key":"x:{tag}-{i}","outcome":"created","user_id":"user_{i}"}}"#
        )
        .expect("journal");
    }
    out.flush().expect("journal");
}

/// The better of two runs (less CPU), with the lower peak RSS of the two.
fn keep_best(best: Option<Figures>, f: Figures) -> Figures {
    match best {
        Some(b) if b.cpu_s <= f.cpu_s => Figures {
            peak_rss_kib: b.peak_rss_kib.min(f.peak_rss_kib),
            ..b
        },
        Some(b) => Figures {
            peak_rss_kib: b.peak_rss_kib.min(f.peak_rss_kib),
            ..f
        },
        None => f,
    }
}

fn report(what: &str, rows: &[(u64, Figures)]) {
    println!("{what}");
    println!(
        "  {:>10}  {:>13}  {:>9}  {:>9}  {:>15}",
        "records", "peak RSS", "CPU", "wall", "CPU per record"
    );
    for (n, f) in rows {
        println!(
            "  {:>10}  {:>9.1} MiB  {:>7.2} s  {:>7.2} s  {:>12.2} µs",
            n,
            mib(f.peak_rss_kib),
            f.cpu_s,
            f.wall_s,
            f.cpu_s * 1e6 / *n as f64
        );
    }
    if let [.., (n0, a), (n1, b)] = rows {
        println!(
            "  growth {n0} → {n1} records ({:.0}x): peak RSS x{:.2}, CPU per record x{:.2}",
            *n1 as f64 / *n0 as f64,
            b.peak_rss_kib as f64 / a.peak_rss_kib as f64,
            (b.cpu_s / *n1 as f64) / (a.cpu_s / *n0 as f64)
        );
    }
}

fn main() {
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    if std::env::var_os(CHILD_ENV).is_some() {
        helper(argv);
    }
    // `cargo bench` passes `--bench`.
    argv.retain(|a| a != "--bench");
    let validate = sizes("CLERK_BENCH_IMPORT_RECORDS", "100000,1000000,5000000");
    let runs = sizes("CLERK_BENCH_IMPORT_RUN", "100000");
    let rounds: usize = std::env::var("CLERK_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1)
        .max(1);
    let dir = std::env::var_os("CLERK_BENCH_DIR")
        .map_or_else(std::env::temp_dir, PathBuf::from)
        .join(format!("clerk-import-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench dir");

    println!(
        "import_scale: clerk-users import, one child process per figure ({rounds} round(s), the best of each)"
    );
    let inputs: Vec<(u64, PathBuf)> = validate
        .iter()
        .map(|&n| (n, write_input(&dir, "v", n)))
        .collect();
    let baseline = std::env::var_os("CLERK_BENCH_BASELINE").map(PathBuf::from);
    let mut best: Vec<Option<Figures>> = vec![None; inputs.len()];
    let mut best_baseline: Vec<Option<Figures>> = vec![None; inputs.len()];
    for _ in 0..rounds {
        // Interleaved: every size once per round, the baseline just before this build.
        for (i, (_, path)) in inputs.iter().enumerate() {
            let args = [
                "import".into(),
                "--dry-run".into(),
                "--json".into(),
                path.display().to_string(),
            ];
            if let Some(baseline) = &baseline {
                let f = measure_with(Some(baseline), &args);
                best_baseline[i] = Some(keep_best(best_baseline[i], f));
            }
            best[i] = Some(keep_best(best[i], measure(&args)));
        }
    }
    let rows: Vec<(u64, Figures)> = inputs
        .iter()
        .zip(&best)
        .filter_map(|((n, _), f)| f.map(|f| (*n, f)))
        .collect();
    report(
        "validation (--dry-run: read, check, file-wide duplicates):",
        &rows,
    );
    if baseline.is_some() {
        let before: Vec<(u64, Figures)> = inputs
            .iter()
            .zip(&best_baseline)
            .filter_map(|((n, _), f)| f.map(|f| (*n, f)))
            .collect();
        report(
            "validation, the baseline binary (CLERK_BENCH_BASELINE):",
            &before,
        );
        println!("  this build / the baseline, same file, interleaved:");
        for ((n, after), (_, before)) in rows.iter().zip(&before) {
            println!(
                "  {n:>10}  CPU x{:.2}  wall x{:.2}  peak RSS x{:.2}",
                after.cpu_s / before.cpu_s,
                after.wall_s / before.wall_s,
                after.peak_rss_kib as f64 / before.peak_rss_kib as f64
            );
        }
    }

    // A whole run where a journal says every record is done (as after a run that
    // created them all): the check, the journal replayed (2 entries a record: past
    // 262,144 keys into a table on disk), and the file read again and every record
    // skipped. No request is sent, so it scales to millions without a server.
    let (mut resumed, mut resumed_baseline) = (Vec::new(), Vec::new());
    for (n, path) in &inputs {
        let checkpoint = dir.join(format!("v-{n}.checkpoint.jsonl"));
        let args = [
            "import".into(),
            path.display().to_string(),
            "--json".into(),
            "--api-url".into(),
            "http://127.0.0.1:9/v1".into(),
            "--secret-key".into(),
            KEY.into(),
            "--rate-limit".into(),
            "off".into(),
            "--checkpoint".into(),
            checkpoint.display().to_string(),
        ];
        if let Some(baseline) = &baseline {
            write_done_journal(&checkpoint, "v", *n);
            resumed_baseline.push((*n, measure_with(Some(baseline), &args)));
        }
        write_done_journal(&checkpoint, "v", *n);
        resumed.push((*n, measure(&args)));
        let _ = std::fs::remove_file(&checkpoint);
        let _ = std::fs::remove_file(path);
    }
    report(
        "resumed run (every record done per the journal: check, replay, second read, skip):",
        &resumed,
    );
    if baseline.is_some() {
        report("resumed run, the baseline binary:", &resumed_baseline);
        for ((n, after), (_, before)) in resumed.iter().zip(&resumed_baseline) {
            println!(
                "  {n:>10}  CPU x{:.2}  peak RSS x{:.2} (this build / the baseline)",
                after.cpu_s / before.cpu_s,
                after.peak_rss_kib as f64 / before.peak_rss_kib as f64
            );
        }
    }

    if !runs.is_empty() {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let emulator = runtime
            .block_on(Emulator::start(
                Config::new().rate_limit(RateLimit::Off).secret_key(KEY),
            ))
            .expect("emulator starts");
        let url = emulator.base_url().to_string();
        let users_held = || -> u64 { emulator.stats().instances.values().map(|i| i.users).sum() };
        let mut rows = Vec::new();
        for (round, &n) in runs.iter().enumerate() {
            let input = write_input(&dir, &format!("r{round}"), n);
            let checkpoint = dir.join(format!("r{round}.checkpoint.jsonl"));
            let before = users_held();
            let (f, summary) = child::measure(
                CHILD_ENV,
                None,
                &[
                    "import".into(),
                    input.display().to_string(),
                    "--json".into(),
                    "--api-url".into(),
                    url.clone(),
                    "--secret-key".into(),
                    KEY.into(),
                    "--rate-limit".into(),
                    "off".into(),
                    "--concurrency".into(),
                    "128".into(),
                    "--checkpoint".into(),
                    checkpoint.display().to_string(),
                ],
            );
            let _ = std::fs::remove_file(&input);
            let _ = std::fs::remove_file(&checkpoint);
            rows.push((n, f));
            let count = |k: &str| summary.get(k).and_then(serde_json::Value::as_u64);
            let shown = |k: &str| count(k).map_or_else(|| "?".to_owned(), |n| n.to_string());
            let held = users_held() - before;
            println!(
                "  run of {n}: {:.0} creates/s; created {}, already present {}, failed {}, duplicates {}; the server holds {held} more users",
                n as f64 / f.wall_s,
                shown("created"),
                shown("already_present"),
                shown("failed"),
                shown("duplicates"),
            );
            // Every record created once: none lost, none twice.
            assert_eq!(count("created"), Some(n), "created: {summary}");
            assert_eq!(held, n, "users on the server");
        }
        report(
            "run (creates every record on the emulator, no rate limit, concurrency 128):",
            &rows,
        );
        let _ = runtime.block_on(emulator.shutdown());
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
