//! Exporting a big instance: the emulator is seeded with 1,000,000 users (from a
//! seed file, so seeding is quick: one email, names, an external id and two public
//! metadata keys each; the file is parsed as it is read, one user at a time) and the heap
//! it then holds (counted by a `cap` global allocator) is reported against its memory
//! budget ([`BUDGET_BYTES_PER_USER`]; the run fails above it), with the resident set after
//! seeding and at its peak, and how long `GET /users/count` takes among them; a child process (this binary,
//! re-run) streams them with `list_all` in pages of 500 and writes one JSON line per
//! user, as `clerk-users export` does, then reports its peak RSS (VmHWM) and users per
//! second. Exporting a tenth and then all of them shows whether the exporter's memory
//! grows with the number of users.
//!
//! The seed file goes to the temporary directory (`TMPDIR`; ~140 MB at 1,000,000).
//!
//! ```text
//! cargo bench --bench export_memory
//! CLERK_BENCH_EXPORT_USERS=100000 cargo bench --bench export_memory
//! ```

mod cpu;

use std::io::{BufWriter, Write};
use std::process::Command;
use std::time::{Duration, Instant};

use clerk_emulator::{Config, Emulator, RateLimit};
use clerk_tower::Clerk;
use clerk_tower::users::{CountUsers, ListUsers, UserFilter};
use cpu::own_cpu;
use futures_util::TryStreamExt;

const KEY: &str = "sk_live_bench_export_memory";

/// Counts the heap in use, to tell what the emulator holds from what the allocator kept.
#[global_allocator]
static HEAP: cap::Cap<std::alloc::System> = cap::Cap::new(std::alloc::System, usize::MAX);
const CHILD_ENV: &str = "CLERK_BENCH_EXPORT_CHILD";

/// The emulator's memory budget: heap held per user (the users of this bench), on top
/// of [`BUDGET_BASE_BYTES`]. 1,000,000 users: 1.5 GiB.
const BUDGET_BYTES_PER_USER: u64 = 1536;
/// The budget's fixed part (the runtime, the server, empty tables).
const BUDGET_BASE_BYTES: u64 = 64 * 1024 * 1024;

/// Peak resident set size of this process, in KiB (Linux `VmHWM`).
fn peak_rss_kib() -> Option<u64> {
    status_kib("VmHWM:")
}

/// A `/proc/self/status` figure in KiB (`VmHWM:`, `VmRSS:`).
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The child: export `limit` users from `url` to a sink, print `users kib secs`.
async fn child(url: String, limit: usize) -> Result<(), Box<dyn std::error::Error>> {
    let clerk = Clerk::builder()
        .secret_key(KEY)
        .base_url(url)
        .no_rate_limit()
        .build()?;
    let started = Instant::now();
    let mut out = BufWriter::with_capacity(256 * 1024, std::io::sink());
    let mut users = std::pin::pin!(clerk.users().list_all(ListUsers::new().limit(500)));
    let mut n = 0;
    while n < limit {
        let Some(user) = users.try_next().await? else {
            break;
        };
        serde_json::to_writer(&mut out, &user)?;
        out.write_all(b"\n")?;
        n += 1;
    }
    out.flush()?;
    println!(
        "{n} {} {:.3}",
        peak_rss_kib().unwrap_or(0),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn run_child(url: &str, limit: usize) -> Result<(u64, u64, f64), Box<dyn std::error::Error>> {
    let output = Command::new(std::env::current_exe()?)
        .env(CHILD_ENV, format!("{url} {limit}"))
        .output()?;
    if !output.status.success() {
        return Err(format!("child failed: {}", String::from_utf8_lossy(&output.stderr)).into());
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut parts = text.split_whitespace();
    let users = parts.next().ok_or("no output")?.parse()?;
    let kib = parts.next().ok_or("no rss")?.parse()?;
    let secs = parts.next().ok_or("no time")?.parse()?;
    Ok((users, kib, secs))
}

/// Times `GET /users/count` among all the users: without a filter (the table's length)
/// and with `banned=false`, which also counts every user but looks at each one (what a
/// count without a filter did before). Median of 5 calls.
async fn count_times(url: &str, total: usize) -> Result<(), Box<dyn std::error::Error>> {
    let clerk = Clerk::builder()
        .secret_key(KEY)
        .base_url(url)
        .no_rate_limit()
        .build()?;
    let mut line = format!("  GET /users/count among {total} users:");
    for (what, request, expected) in [
        ("no filter", CountUsers::new(), Some(total as i64)),
        (
            "banned=false (looks at every user)",
            CountUsers::new().filter(UserFilter::new().banned(false)),
            Some(total as i64),
        ),
    ] {
        let mut times = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            let n = clerk.users().count(request.clone()).await?;
            times.push(started.elapsed());
            if expected.is_some_and(|e| e != n) {
                return Err(format!("counted {n} of {total} users").into());
            }
        }
        times.sort();
        line.push_str(&format!(" {what} {:.2} ms;", times[2].as_secs_f64() * 1e3));
    }
    println!("{}", line.trim_end_matches(';'));
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        let (url, limit) = spec.split_once(' ').ok_or("bad child spec")?;
        return child(url.to_owned(), limit.parse()?).await;
    }
    let total: usize = std::env::var("CLERK_BENCH_EXPORT_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let rss_before = status_kib("VmRSS:").unwrap_or(0);
    let heap_before = HEAP.allocated() as u64;
    let seed = std::env::temp_dir().join(format!("export_memory-{}.json", std::process::id()));
    {
        let mut file = BufWriter::new(std::fs::File::create(&seed)?);
        file.write_all(b"{\"users\":[")?;
        for i in 0..total {
            if i > 0 {
                file.write_all(b",")?;
            }
            write!(
                file,
                "{{\"external_id\":\"exp-{i}\",\"email_address\":[\"exp{i}@example.com\"],\"first_name\":\"Export\",\
                 \"last_name\":\"User {i}\",\"public_metadata\":{{\"plan\":\"pro\",\"n\":{i}}}}}"
            )?;
        }
        file.write_all(b"]}")?;
        file.flush()?;
    }
    let started = Instant::now();
    let cpu_before = own_cpu();
    let emu = Emulator::start(
        Config::new()
            .secret_key(KEY)
            .rate_limit(RateLimit::Off)
            .seed_file(&seed),
    )
    .await?;
    let (seeding_wall, seeding_cpu) = (started.elapsed(), own_cpu().saturating_sub(cpu_before));
    let _ = std::fs::remove_file(&seed);
    let held = (HEAP.allocated() as u64).saturating_sub(heap_before);
    let rss = status_kib("VmRSS:").unwrap_or(0).saturating_sub(rss_before) * 1024;
    let seeding_peak = peak_rss_kib().unwrap_or(0) * 1024;
    let budget = BUDGET_BASE_BYTES + BUDGET_BYTES_PER_USER * total as u64;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "export_memory: emulator seeded with {total} users in {:.1} s ({:.1} s CPU); it holds them in {:.0} MiB of heap \
         ({:.0} bytes per user; budget {:.0} MiB); RSS {:.0} MiB, {:.0} MiB at the peak of seeding",
        seeding_wall.as_secs_f64(),
        seeding_cpu.as_secs_f64(),
        mib(held),
        held as f64 / total.max(1) as f64,
        mib(budget),
        mib(rss),
        mib(seeding_peak)
    );
    if held > budget {
        return Err(format!(
            "the emulator holds {total} users in {:.0} MiB, over its budget of {:.0} MiB",
            mib(held),
            mib(budget)
        )
        .into());
    }
    let url = emu.base_url();
    count_times(&url, total).await?;
    let small = total / 10;
    let runs = [small, total];
    let mut results = Vec::new();
    for limit in runs {
        let url = url.clone();
        let r =
            tokio::task::spawn_blocking(move || run_child(&url, limit).map_err(|e| e.to_string()))
                .await??;
        println!(
            "  exported {:>7} users in {:>6.2} s ({:>6.0} users/s): exporter peak RSS {:.1} MiB",
            r.0,
            r.2,
            r.0 as f64 / r.2.max(1e-9),
            r.1 as f64 / 1024.0
        );
        results.push(r);
    }
    tokio::time::timeout(Duration::from_secs(30), emu.shutdown()).await??;
    let growth = results[1].1 as f64 / results[0].1.max(1) as f64;
    println!(
        "  peak RSS ratio {}x users → {growth:.2}x memory",
        total / small.max(1)
    );
    if results[1].0 as usize != total {
        return Err(format!("exported {} of {total} users", results[1].0).into());
    }
    Ok(())
}
