//! Bulk migration throughput: imports N users into the in-process emulator at a
//! configured quota through the full default stack (a bounded pool of creates,
//! reconciliation of ambiguous failures) and prints utilization of the quota, the
//! worst rate-limit window the server saw, and 429s.
//!
//! ```text
//! cargo bench --bench bulk_migration
//! CLERK_BENCH_USERS=3000 CLERK_BENCH_QUOTA=500/1s cargo bench --bench bulk_migration
//! CLERK_BENCH_FAULTS='5xx=0.05,reset=0.02,lost_response=0.02' cargo bench --bench bulk_migration
//! ```
//!
//! The layer-overhead ratio (default stack vs raw transport) is the `layer_overhead` bench.

use std::time::{Duration, Instant};

use clerk_emulator::{Config, Emulator, FaultSpec, RateLimit};
use clerk_tower::layers::rate_limit::Quota;
use clerk_tower::users::{CreateUser, ListUsers, UserFilter};
use clerk_tower::{Clerk, Error};
use futures_util::{StreamExt, stream};

const KEY: &str = "sk_live_bench_bulk_migration";

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

async fn create_once(clerk: &Clerk, i: u64) -> Result<(), Error> {
    let external_id = format!("bench-{i}");
    for _ in 0..8 {
        let body = CreateUser::new()
            .external_id(external_id.clone())
            .email_address(format!("bench{i}@example.com"))
            .first_name("Bench")
            .skip_password_requirement(true);
        match clerk.users().create(body).await {
            Ok(_) => return Ok(()),
            Err(err) if err.is_outcome_unknown() || err.has_code("form_identifier_exists") => {
                let filter = UserFilter::new().external_id(external_id.clone());
                if !clerk
                    .users()
                    .list(ListUsers::new().filter(filter).limit(1))
                    .await?
                    .is_empty()
                {
                    return Ok(());
                }
            }
            Err(err) => return Err(err),
        }
    }
    Err(Error::invalid_request("gave up after 8 creates"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let users: u64 = env_or("CLERK_BENCH_USERS", "1500").parse()?;
    let limit: RateLimit = env_or("CLERK_BENCH_QUOTA", "1000/10s").parse()?;
    let faults: FaultSpec = env_or("CLERK_BENCH_FAULTS", "none").parse()?;
    let concurrency: usize = env_or("CLERK_BENCH_CONCURRENCY", "64").parse()?;
    let RateLimit::Fixed { requests, window } = limit else {
        return Err("CLERK_BENCH_QUOTA must be N/Ws".into());
    };
    let emu = Emulator::start(
        Config::new()
            .secret_key(KEY)
            .rate_limit(limit)
            .faults(faults)
            .latency(Duration::from_millis(5), Duration::from_millis(20)),
    )
    .await?;
    let clerk = Clerk::builder()
        .secret_key(KEY)
        .base_url(emu.base_url())
        .quota(Quota::new(requests, window)?)
        .max_in_flight(concurrency)
        .build()?;

    let started = Instant::now();
    let mut failed = 0u64;
    let mut results = stream::iter(0..users)
        .map(|i| create_once(&clerk, i))
        .buffer_unordered(concurrency);
    while let Some(result) = results.next().await {
        if let Err(err) = result {
            failed += 1;
            eprintln!("failed: {err}");
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let stats = emu.stats();
    let m = clerk.metrics();
    let quota_rps = f64::from(requests) / window.as_secs_f64();
    let achieved = m.attempts as f64 / wall;
    let worst = stats
        .instances
        .values()
        .map(|i| i.max_window_requests)
        .max()
        .unwrap_or(0);
    let stored: u64 = stats.instances.values().map(|i| i.users).sum();
    println!(
        "bulk_migration: {users} users, quota {requests}/{}s, concurrency {concurrency}, faults {faults}",
        window.as_secs_f64()
    );
    println!(
        "  wall {wall:.2} s · {} requests · {achieved:.1} req/s of {quota_rps:.0} · utilization {:.1} %",
        m.attempts,
        100.0 * achieved / quota_rps
    );
    println!(
        "  worst window {worst} of {requests} · 429s {} · retries {} · failed {failed} · users stored {stored}",
        m.rate_limited, m.retries
    );
    emu.shutdown().await?;
    if failed > 0 || stored != users || worst > u64::from(requests) {
        return Err("bench invariants broken".into());
    }
    Ok(())
}
