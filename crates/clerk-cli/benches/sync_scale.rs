//! `clerk-users sync` at scale: peak RSS and CPU time of a whole sync (read the
//! file, export the instance, plan, apply) of N source records into an instance of
//! the same N users where 10 % changed (a rename or new metadata: 1.1 writes per
//! changed record), by default at 100,000 and 1,000,000 records, with the growth
//! ratio of each size to the one before (5,000,000 too with
//! `CLERK_BENCH_SYNC_RECORDS`: about 12 minutes, and the emulator then holds some
//! 13 GiB). The emulator runs in this process, seeded from a file, without a rate
//! limit; each figure is one `clerk-users` child process: a helper child (this
//! binary, re-run) starts it, waits for it and reads its own
//! `getrusage(RUSAGE_CHILDREN)`, so the peak RSS and the CPU time are that one
//! process's, the emulator's left out.
//!
//! The seed and source files (~200 B a record each, 400 MB at 1,000,000) go to
//! `CLERK_BENCH_DIR` (default: the temporary directory) and are deleted at the end.
//! The emulator holds 1,000,000 users in about 1.3 GiB.
//!
//! ```text
//! cargo bench -p clerk-cli --bench sync_scale
//! CLERK_BENCH_SYNC_RECORDS=100000 cargo bench -p clerk-cli --bench sync_scale
//! CLERK_BENCH_SYNC_RECORDS=100000,1000000,5000000 cargo bench -p clerk-cli --bench sync_scale
//! ```

#![allow(clippy::disallowed_macros)] // prints its own figures, no server text

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clerk_emulator::{Config, Emulator, RateLimit};

mod child;

use child::{Figures, helper, mib, sizes};

const CHILD_ENV: &str = "CLERK_BENCH_SYNC_CHILD";
const KEY: &str = "sk_live_bench_sync_scale";

fn measure(args: &[String]) -> Figures {
    child::measure(CHILD_ENV, None, args).0
}

/// Record `i` of the instance (`changed: false`) or of the source: every 10th
/// changed; of those, every 20th renamed, the others new metadata, every 100th both.
fn record(out: &mut impl Write, i: u64, changed: bool) -> std::io::Result<()> {
    let renamed = changed && i.is_multiple_of(20);
    let new_meta = changed && (!i.is_multiple_of(20) || i.is_multiple_of(100));
    let first = if renamed { "Renamed" } else { "First" };
    let meta = if new_meta {
        format!(r#"{{"plan":{{"tier":"pro","seats":5}},"n":{i}}}"#)
    } else {
        format!(r#"{{"plan":{{"tier":"free","seats":1}},"legacy":true,"n":{i}}}"#)
    };
    write!(
        out,
        r#"{{"external_id":"sync-{i}","email_address":["sync{i}@example.com"],"first_name":"{first}{i}","last_name":"User","public_metadata":{meta}}}"#
    )
}

/// The emulator's seed (`n` users) and the source (`n` records, 10 % changed).
fn write_files(dir: &Path, n: u64) -> (PathBuf, PathBuf) {
    let seed = dir.join(format!("seed-{n}.json"));
    let source = dir.join(format!("source-{n}.jsonl"));
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&seed).expect("seed"));
    out.write_all(b"{\"users\":[").expect("seed");
    for i in 0..n {
        if i > 0 {
            out.write_all(b",").expect("seed");
        }
        record(&mut out, i, false).expect("seed");
    }
    out.write_all(b"]}").expect("seed");
    out.flush().expect("seed");
    let mut out =
        BufWriter::with_capacity(1 << 20, std::fs::File::create(&source).expect("source"));
    for i in 0..n {
        record(&mut out, i, i.is_multiple_of(10)).expect("source");
        out.write_all(b"\n").expect("source");
    }
    out.flush().expect("source");
    (seed, source)
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if std::env::var_os(CHILD_ENV).is_some() {
        helper(argv);
    }
    let sizes = sizes("CLERK_BENCH_SYNC_RECORDS", "100000,1000000");
    let dir = std::env::var_os("CLERK_BENCH_DIR")
        .map_or_else(std::env::temp_dir, PathBuf::from)
        .join(format!("clerk-sync-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");

    println!(
        "sync_scale: clerk-users sync FILE (--missing ignore: a full export, 10 % changed), one child process per figure"
    );
    println!(
        "  {:>10}  {:>13}  {:>9}  {:>9}  {:>15}",
        "records", "peak RSS", "CPU", "wall", "RSS per record"
    );
    let mut rows = Vec::new();
    for &n in &sizes {
        let (seed, source) = write_files(&dir, n);
        let emu = runtime
            .block_on(Emulator::start(
                Config::new()
                    .secret_key(KEY)
                    .rate_limit(RateLimit::Off)
                    .seed_file(&seed),
            ))
            .expect("emulator");
        let _ = std::fs::remove_file(&seed);
        let f = measure(&[
            "sync".into(),
            source.display().to_string(),
            "--json".into(),
            "--api-url".into(),
            emu.base_url(),
            "--secret-key".into(),
            KEY.into(),
            "--rate-limit".into(),
            "off".into(),
        ]);
        runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(60), emu.shutdown()).await })
            .expect("emulator shutdown in time")
            .expect("emulator shutdown");
        let _ = std::fs::remove_file(&source);
        println!(
            "  {:>10}  {:>9.1} MiB  {:>7.2} s  {:>7.2} s  {:>13.1} B",
            n,
            mib(f.peak_rss_kib),
            f.cpu_s,
            f.wall_s,
            f.peak_rss_kib as f64 * 1024.0 / n as f64
        );
        rows.push((n, f));
    }
    // Each size against the one before: flat memory is a ratio near 1 however far apart.
    for pair in rows.windows(2) {
        let [(n0, a), (n1, b)] = pair else { continue };
        println!(
            "  growth {n0} → {n1} records ({:.0}x): peak RSS x{:.2} ({:+.1} B per added record), CPU per record x{:.2}",
            *n1 as f64 / *n0 as f64,
            b.peak_rss_kib as f64 / a.peak_rss_kib as f64,
            (b.peak_rss_kib as f64 - a.peak_rss_kib as f64) * 1024.0 / (*n1 as f64 - *n0 as f64),
            (b.cpu_s / *n1 as f64) / (a.cpu_s / *n0 as f64)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
