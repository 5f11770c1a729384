//! The rate limiter's own cost per grant: the local (governor) backend beside the
//! Redis one, on a quota too large to make anyone wait, in interleaved rounds.
//!
//! - local: CPU per grant, one caller, round-robin over 16 limiters so that none
//!   paces (one grant per microsecond is the finest quota, about what a grant
//!   costs): no grant waits, and the figure is the bookkeeping alone. (Tokio's
//!   paused clock would need its `test-util` feature, which would slow every other
//!   bench of this package.)
//! - Redis, one caller: the round trip per grant (p50, p99), this process's CPU per
//!   grant and `redis-server`'s;
//! - Redis, 16 callers on one connection: grants per second (pipelined).
//!
//! Starts its own `redis-server` on a free loopback port (`apt-get install -y
//! redis-server`). `cargo bench --bench redis_limiter`.

#[allow(dead_code)] // the CLI's redis-server helper, shared by path; this file uses part of it
#[path = "../crates/clerk-cli/src/redis_server.rs"]
mod redis_server;

mod cpu;

use std::time::{Duration, Instant};

use clerk_core::SecretKey;
use clerk_layers::rate_limit::{Coordination, Quota, RateLimiter, RedisOptions};
use cpu::own_cpu;

const ROUNDS: usize = 3;
const LOCAL_GRANTS: u32 = 1_000_000;
const LOCAL_LIMITERS: usize = 16;
const REDIS_GRANTS: u32 = 4_000;
const CONCURRENT: u32 = 16;
const CONCURRENT_GRANTS: u32 = 16_000;

/// CPU time (user + system) of a process, from /proc (10 ms ticks).
fn cpu(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // After the command name: state is field 3, utime 14 and stime 15 (1-based).
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// A quota that never makes a caller wait at these rates (one grant per microsecond).
fn huge() -> Quota {
    Quota::new(u32::MAX, Duration::from_secs(4_295)).expect("quota")
}

/// CPU per grant (ns), and how many grants took over 20 µs (a wait for a cell, or
/// this thread preempted on a loaded machine).
fn local_round() -> (f64, u32) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let limiters: Vec<RateLimiter> = (0..LOCAL_LIMITERS)
        .map(|_| RateLimiter::new(huge()))
        .collect();
    let before = own_cpu();
    let waited = rt.block_on(async {
        let mut waited = 0;
        for i in 0..LOCAL_GRANTS {
            let wait = limiters[i as usize % limiters.len()].acquire(None).await;
            waited += u32::from(wait > Duration::from_micros(20));
        }
        waited
    });
    let ns = (own_cpu() - before).as_secs_f64() * 1e9 / f64::from(LOCAL_GRANTS);
    (ns, waited)
}

struct RedisRound {
    p50_us: f64,
    p99_us: f64,
    client_cpu_us: f64,
    server_cpu_us: f64,
    concurrent_per_s: f64,
}

fn redis_round(url: &str, server_pid: &str) -> RedisRound {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let options = RedisOptions::new(url, &SecretKey::new("sk_live_bench"))
        .expect("options")
        .prefix(format!("bench-{}", std::process::id()));
    let limiter = RateLimiter::redis(huge(), options);
    rt.block_on(async {
        limiter.acquire(None).await; // connect and load the script
        let mut rtts = Vec::with_capacity(REDIS_GRANTS as usize);
        let (client, server) = (own_cpu(), cpu(server_pid));
        for _ in 0..REDIS_GRANTS {
            let started = Instant::now();
            limiter.acquire(None).await;
            rtts.push(started.elapsed());
        }
        let client_cpu = (own_cpu() - client).as_secs_f64() * 1e6 / f64::from(REDIS_GRANTS);
        let server_cpu = (cpu(server_pid) - server).as_secs_f64() * 1e6 / f64::from(REDIS_GRANTS);
        rtts.sort_unstable();
        let at = |q: f64| rtts[((rtts.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;

        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..CONCURRENT {
            let limiter = limiter.clone();
            tasks.spawn(async move {
                for _ in 0..CONCURRENT_GRANTS / CONCURRENT {
                    limiter.acquire(None).await;
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        let concurrent_per_s = f64::from(CONCURRENT_GRANTS) / started.elapsed().as_secs_f64();
        assert_eq!(limiter.snapshot().coordination, Coordination::Shared);
        RedisRound {
            p50_us: at(0.5),
            p99_us: at(0.99),
            client_cpu_us: client_cpu,
            server_cpu_us: server_cpu,
            concurrent_per_s,
        }
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent: keep that quick.
    if !std::env::args().any(|a| a == "--bench") {
        println!("redis_limiter: run with `cargo bench --bench redis_limiter`");
        return;
    }
    let redis = redis_server::RedisServer::start().unwrap_or_else(|e| panic!("{e}"));
    let pid = redis.pid().expect("pid").to_string();
    let mut local = Vec::new();
    let mut rounds = Vec::new();
    for round in 1..=ROUNDS {
        let (l, waited) = local_round();
        let r = redis_round(&redis.url(), &pid);
        println!(
            "round {round}: local {l:.0} ns CPU/grant ({waited} grants over 20 µs wall) · Redis round trip p50 {:.0} µs p99 {:.0} µs, \
             client CPU {:.1} µs/grant, redis-server CPU {:.1} µs/grant, {} callers {:.0} grants/s",
            r.p50_us, r.p99_us, r.client_cpu_us, r.server_cpu_us, CONCURRENT, r.concurrent_per_s
        );
        local.push(l);
        rounds.push(r);
    }
    let m = |f: fn(&RedisRound) -> f64| median(rounds.iter().map(f).collect());
    let client = m(|r| r.client_cpu_us);
    let l = median(local);
    println!("median of {ROUNDS} rounds:");
    println!("  local backend       {l:>8.0} ns CPU per grant");
    println!(
        "  Redis backend       {:>8.1} µs round trip p50 · {:.1} µs p99 (loopback)",
        m(|r| r.p50_us),
        m(|r| r.p99_us)
    );
    println!(
        "                      {client:>8.1} µs client CPU per grant ({:.0}× local) · {:.1} µs redis-server CPU per grant",
        client * 1000.0 / l,
        m(|r| r.server_cpu_us)
    );
    println!(
        "                      {:>8.0} grants/s with {CONCURRENT} callers on one connection",
        m(|r| r.concurrent_per_s)
    );
}
