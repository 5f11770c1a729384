//! Requests a sync spends: 10,000 source records into an instance of 10,000 users
//! where 10 % changed, driven through the library (`clerk_migrate::sync`) with a
//! `Stream` of records, as a database-backed job would. The emulator counts what it
//! receives; the figure must stay within (writes for the changed records) + (reads
//! for the plan), and is printed next to what a naive loop that updates every user
//! would spend. A second sync must write nothing.
//!
//! ```text
//! cargo bench --bench sync_requests
//! CLERK_BENCH_SYNC_USERS=50000 cargo bench --bench sync_requests
//! ```

use std::io::{BufWriter, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clerk_emulator::{Config, Emulator, RateLimit, Stats};
use clerk_migrate::sync::{self, NoObserver, SourceRecord, SyncOptions};
use clerk_tower::Clerk;
use serde_json::{Map, Value, json};

const KEY: &str = "sk_live_bench_sync";

fn record(i: usize, changed: bool) -> Map<String, Value> {
    // Changed records: every 20th renamed, the others of each 10th get new metadata,
    // every 100th both.
    let renamed = changed && i.is_multiple_of(20);
    let new_meta = changed && (!i.is_multiple_of(20) || i.is_multiple_of(100));
    let v = json!({
        "external_id": format!("sync-{i}"),
        "email_address": [format!("sync{i}@example.com")],
        "first_name": if renamed { format!("Renamed{i}") } else { format!("First{i}") },
        "last_name": "User",
        "public_metadata": if new_meta {
            json!({"plan": {"tier": "pro", "seats": 5}, "n": i})
        } else {
            json!({"plan": {"tier": "free", "seats": 1}, "legacy": true, "n": i})
        },
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn count(stats: &Stats, reads: bool) -> u64 {
    stats
        .requests_per_operation
        .iter()
        .filter(|(op, _)| {
            matches!(op.as_str(), "GetUserList" | "GetUsersCount" | "GetUser") == reads
        })
        .map(|(_, n)| n)
        .sum()
}

fn minutes(requests: u64, rps: f64) -> String {
    let secs = requests as f64 / rps;
    if secs < 90.0 {
        format!("{secs:.0} s")
    } else {
        format!("{:.1} min", secs / 60.0)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total: usize = std::env::var("CLERK_BENCH_SYNC_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let changed = |i: usize| i.is_multiple_of(10);
    let seed = std::env::temp_dir().join(format!("sync_requests-{}.json", std::process::id()));
    {
        let mut file = BufWriter::new(std::fs::File::create(&seed)?);
        file.write_all(b"{\"users\":[")?;
        for i in 0..total {
            if i > 0 {
                file.write_all(b",")?;
            }
            serde_json::to_writer(&mut file, &record(i, false))?;
        }
        file.write_all(b"]}")?;
        file.flush()?;
    }
    let emu = Emulator::start(
        Config::new()
            .secret_key(KEY)
            .rate_limit(RateLimit::Off)
            .seed_file(&seed),
    )
    .await?;
    let _ = std::fs::remove_file(&seed);
    let clerk = Clerk::builder()
        .secret_key(KEY)
        .base_url(emu.base_url())
        .no_rate_limit()
        .max_in_flight(32)
        .build()?;

    let expected_writes: u64 = (0..total)
        .filter(|i| changed(*i))
        .map(|i| {
            let r = record(i, true);
            let o = record(i, false);
            u64::from(r["first_name"] != o["first_name"])
                + u64::from(r["public_metadata"] != o["public_metadata"])
        })
        .sum();
    // The count, then every page of the export (the last one short or empty).
    let export_pages = total as u64 / sync::EXPORT_PAGE + 1;
    let plan_reads = 1 + export_pages;

    let source = || {
        futures_util::stream::iter((0..total).map(move |i| {
            Ok::<_, std::convert::Infallible>(SourceRecord::new(record(i, changed(i))))
        }))
    };
    let options = SyncOptions::new().concurrency(32);
    let checkpoint =
        std::env::temp_dir().join(format!("sync_requests-{}.ckpt", std::process::id()));
    let before = emu.stats();
    let started = Instant::now();
    let plan = sync::plan(&clerk, source(), &options, &NoObserver).await?;
    let plan_wall = started.elapsed();
    let (creates, updates, unchanged) = (plan.creates.len(), plan.updates.len(), plan.unchanged);
    let strategy = plan.state.strategy;
    let report = sync::apply(&clerk, plan, &options, &checkpoint, Arc::new(NoObserver)).await?;
    let wall = started.elapsed();
    let after = emu.stats();
    let reads = count(&after, true) - count(&before, true);
    let writes = count(&after, false) - count(&before, false);

    // Second run: nothing to write.
    let plan = sync::plan(&clerk, source(), &options, &NoObserver).await?;
    let second = sync::apply(&clerk, plan, &options, &checkpoint, Arc::new(NoObserver)).await?;
    let again = emu.stats();
    let second_writes = count(&again, false) - count(&after, false);
    let second_reads = count(&again, true) - count(&after, true);
    tokio::time::timeout(Duration::from_secs(30), emu.shutdown()).await??;

    // A naive loop: find every user (the same export), then PATCH the user and merge
    // its metadata, whether anything changed or not.
    let naive_writes = 2 * total as u64;
    let naive = export_pages + naive_writes;
    let spent = reads + writes;
    let bound = expected_writes + plan_reads;
    println!(
        "sync_requests: {total} source records into {total} users, {} % changed ({} changed fields' writes)",
        100 * (0..total).filter(|i| changed(*i)).count() / total.max(1),
        expected_writes
    );
    println!(
        "  plan ({strategy}, {:.2} s): create {creates} · update {updates} · unchanged {unchanged}",
        plan_wall.as_secs_f64()
    );
    println!(
        "  sync spent   {spent:>6} requests = {reads} reads + {writes} writes   (bound {bound} = {expected_writes} writes + {plan_reads} reads){}",
        if spent <= bound {
            ""
        } else {
            "  OVER THE BOUND"
        }
    );
    println!(
        "  naive loop   {naive:>6} requests = {} reads + {naive_writes} writes (a PATCH and a metadata merge per user; computed)",
        naive - naive_writes
    );
    println!(
        "  ratio {:.1}x fewer requests; at 1000 req/10 s: {} vs {}",
        naive as f64 / spent.max(1) as f64,
        minutes(spent, 100.0),
        minutes(naive, 100.0)
    );
    println!(
        "  second run   {} requests = {second_reads} reads + {second_writes} writes ({} planned)",
        second_reads + second_writes,
        second.writes
    );
    println!(
        "  wall {:.2} s (rate limit off) · per-user limited writes {}, at most {} per user",
        wall.as_secs_f64(),
        report.per_user_writes,
        report.max_writes_per_user
    );
    if spent > bound
        || second_writes > 0
        || !report.failures.is_empty()
        || writes != expected_writes
    {
        return Err(format!(
            "sync spent {spent} requests ({writes} writes, expected {expected_writes}; bound {bound}); second run wrote {second_writes}; {} failures",
            report.failures.len()
        )
        .into());
    }
    Ok(())
}
