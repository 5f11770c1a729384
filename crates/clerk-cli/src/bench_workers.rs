//! `clerk-users bench --workers N --redis`: N worker *processes* (this binary again,
//! with the hidden `bench-worker` subcommand) share one quota through Redis against
//! one server, and the report is their aggregate.
//!
//! With `--redis` the bench starts a throwaway `redis-server` itself; with
//! `--redis-url` it uses that one (the tests kill and restart theirs mid-run). The
//! secret key and the Redis URL reach the workers through their environment, never
//! their command line (which `ps` shows).
//!
//! Workloads: `import` (each worker creates its `--shard K/N` of the synthetic users,
//! then the bench checks on the server that each exists exactly once) and
//! `patch-one-user` (every worker updates one user's metadata, which Clerk limits to
//! 10 per 10 s per user; the bench checks every update landed).

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Args;
use clerk_layers::rate_limit::{Coordination, Quota};
use clerk_migrate::import::{self, Options};
use clerk_migrate::journal;
use clerk_migrate::shard::Shard;
use clerk_tower::Clerk;
use clerk_tower::users::{CreateUser, UpdateUserMetadata};
use serde_json::{Value, json};

use crate::args::{ConnectArgs, OutputArgs};
use crate::cmd_bench::{
    BenchArgs, TARGET_SECONDS, Workload, new_run_id, quota_of, start_target, synthetic_items,
    temp_dir, verify,
};
use crate::redis_server::RedisServer;
use crate::report::{Latencies, human, thousands};
use crate::terminal::say;
use crate::{CliError, CliResult};

/// The hidden `bench-worker` subcommand: one worker of `bench --workers`.
#[derive(Args, Debug)]
pub(crate) struct WorkerArgs {
    #[command(flatten)]
    pub(crate) connect: ConnectArgs,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
    /// The bench run (names the synthetic users).
    #[arg(long)]
    run_id: u32,
    /// Synthetic users in the whole run.
    #[arg(long, default_value_t = 0)]
    users: u64,
    /// This worker's shard of them.
    #[arg(long, default_value = "1/1")]
    shard: Shard,
    #[arg(long, value_enum)]
    workload: Workload,
    /// `patch-one-user`: the user to update.
    #[arg(long)]
    patch_user: Option<String>,
    /// `patch-one-user`: updates to send.
    #[arg(long, default_value_t = 4)]
    patches: u32,
}

fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

fn coordination_name(c: Coordination) -> &'static str {
    match c {
        Coordination::Local => "local",
        Coordination::Shared => "shared",
        Coordination::Fallback => "fallback",
        _ => "other",
    }
}

/// Runs one worker and prints its report as one JSON line.
pub(crate) async fn run_worker(args: WorkerArgs) -> CliResult<()> {
    let latencies = Arc::new(Latencies::default());
    let clerk = args
        .connect
        .client_timed(&latencies)
        .map_err(CliError::usage)?;
    let mut report = match args.workload {
        Workload::Import => worker_import(&args, &clerk).await?,
        Workload::PatchOneUser => worker_patch(&args, &clerk).await?,
    };
    let (p50, p99) = latencies.p50_p99_ms();
    let snapshot = clerk
        .rate_limiter()
        .map(|l| l.snapshot())
        .unwrap_or_default();
    if let Value::Object(map) = &mut report {
        map.insert("shard".into(), json!(args.shard.to_string()));
        map.insert("p50_ms".into(), json!(p50));
        map.insert("p99_ms".into(), json!(p99));
        map.insert(
            "coordination".into(),
            json!(coordination_name(snapshot.coordination)),
        );
        map.insert("failovers".into(), json!(snapshot.failovers));
        map.insert("fallback_grants".into(), json!(snapshot.fallback_grants));
        map.insert("workers_seen".into(), json!(snapshot.workers_seen));
    }
    say!("{report}");
    Ok(())
}

async fn worker_import(args: &WorkerArgs, clerk: &Clerk) -> CliResult<Value> {
    let mut items = synthetic_items(args.run_id, args.users)?;
    items.retain(|item| args.shard.contains(&item.key));
    // One checkpoint per worker: a checkpoint is locked by the run that uses it.
    let scratch = temp_dir(args.run_id);
    let dir = scratch.join(format!("shard-{}", args.shard.index()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError::failure(format!("cannot create {}: {e}", dir.display())))?;
    let (replay, writer) = journal::open(&dir.join("checkpoint.jsonl"))
        .map_err(|e| CliError::failure(format!("cannot open the checkpoint: {e}")))?;
    let options = Options {
        concurrency: args.connect.concurrency as usize,
        ..Options::default()
    };
    let started = unix_micros();
    let result = import::run(
        clerk,
        futures_util::stream::iter(items.into_iter().map(Ok)),
        &replay,
        Arc::new(writer),
        options,
        Arc::new(import::NoProgress),
    )
    .await;
    let finished = unix_micros();
    // The whole of this process's scratch directory, not only the shard's.
    let _ = std::fs::remove_dir_all(&scratch);
    let s = result.map_err(CliError::failure)?;
    Ok(json!({
        "records": s.total, "created": s.created, "already_present": s.already_present,
        "failed": s.failed, "failed_by_code": s.failed_by_code(), "requests": s.requests,
        "retries": s.retries, "http_429": s.http_429, "lookups": s.lookups,
        "started_us": started, "finished_us": finished,
    }))
}

async fn worker_patch(args: &WorkerArgs, clerk: &Clerk) -> CliResult<Value> {
    let user = args
        .patch_user
        .clone()
        .ok_or_else(|| CliError::usage("patch-one-user needs --patch-user ID"))?;
    let started = unix_micros();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..args.patches {
        let clerk = clerk.clone();
        let user = user.clone();
        let field = format!("w{}-{i}", args.shard.index());
        tasks.spawn(async move {
            let mut patch = serde_json::Map::new();
            patch.insert(field, json!(true));
            let result = clerk
                .users()
                .update_metadata(UpdateUserMetadata::new(user).public_metadata(patch))
                .await;
            (result.map(|_| ()), unix_micros())
        });
    }
    let mut times = Vec::new();
    let mut failed = 0u64;
    let mut errors = BTreeMap::<String, u64>::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((Ok(()), at)) => times.push(at),
            Ok((Err(err), _)) => {
                failed += 1;
                *errors.entry(err.error_type().into_owned()).or_insert(0) += 1;
            }
            Err(_) => failed += 1,
        }
    }
    times.sort_unstable();
    let m = clerk.metrics();
    Ok(json!({
        "records": args.patches, "created": 0, "already_present": 0, "patched": times.len(),
        "failed": failed, "failed_by_code": errors, "requests": m.attempts,
        "retries": m.attempts.saturating_sub(u64::from(args.patches)), "http_429": m.rate_limited,
        "lookups": 0, "started_us": started, "finished_us": unix_micros(), "patch_times_us": times,
    }))
}

/// Runs the multi-process bench.
pub(crate) async fn run(args: BenchArgs) -> CliResult<()> {
    let (quota, emu_key) = quota_of(&args)?;
    let quota = quota.ok_or_else(|| {
        CliError::usage("--workers shares a quota through Redis: --rate-limit off does not apply")
    })?;
    let mut own_redis = None;
    let redis_url = match (&args.redis_args.redis_url, args.redis) {
        (Some(url), _) => url.as_str().to_owned(),
        (None, true) => {
            let server = RedisServer::start().map_err(CliError::failure)?;
            let url = server.url();
            own_redis = Some(server);
            url
        }
        (None, false) => {
            return Err(CliError::usage(
                "--workers N runs N processes sharing one quota through Redis: add --redis \
                 (starts a redis-server) or --redis-url URL",
            ));
        }
    };
    let quota_rps = f64::from(quota.requests()) / quota.window().as_secs_f64();
    let users = args
        .users
        .unwrap_or_else(|| (quota_rps * TARGET_SECONDS).round() as u64);
    let run_id = new_run_id();
    let (emulator, base_url, key) = start_target(&args, emu_key).await?;
    // The bench's own client (setup and verification, while no worker runs).
    let clerk = Clerk::builder()
        .secret_key(key.clone())
        .base_url(base_url.clone())
        .quota(quota)
        .build()
        .map_err(|e| CliError::usage(format!("cannot build the client: {e}")))?;
    let hot_user = match args.workload {
        Workload::Import => None,
        Workload::PatchOneUser => Some(
            clerk
                .users()
                .create(CreateUser::new().external_id(format!("bench-{run_id}-hot")))
                .await
                .map_err(|e| CliError::failure(format!("cannot create the user to update: {e}")))?
                .id,
        ),
    };

    let exe = std::env::current_exe()
        .map_err(|e| CliError::failure(format!("cannot find this program to re-run it: {e}")))?;
    let started = Instant::now();
    let mut children = Vec::new();
    for k in 1..=args.workers {
        let mut cmd = Command::new(&exe);
        cmd.arg("bench-worker")
            .args(["--api-url", &base_url])
            .args(["--run-id", &run_id.to_string()])
            .args(["--users", &users.to_string()])
            .args(["--shard", &format!("{k}/{}", args.workers)])
            .args(["--concurrency", &args.concurrency.to_string()])
            .args([
                "--rate-limit",
                &format!("{}/{}ms", quota.requests(), quota.window().as_millis()),
            ])
            .args([
                "--expected-workers",
                &args
                    .redis_args
                    .expected_workers
                    .max(args.workers)
                    .to_string(),
            ])
            .args(["--patches", &args.patches.to_string()])
            .args([
                "--workload",
                match args.workload {
                    Workload::Import => "import",
                    Workload::PatchOneUser => "patch-one-user",
                },
            ])
            .env("CLERK_SECRET_KEY", key.expose())
            .env("CLERK_REDIS_URL", &redis_url)
            .env_remove("CLERK_API_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(user) = &hot_user {
            cmd.args(["--patch-user", user]);
        }
        if let Some(margin) = args.redis_args.window_margin {
            cmd.args(["--window-margin", &format!("{}s", margin.as_secs_f64())]);
        }
        for _ in 0..args.verbose {
            cmd.arg("-v");
        }
        let child = cmd
            .spawn()
            .map_err(|e| CliError::failure(format!("cannot start worker {k}: {e}")))?;
        children.push(child);
    }
    let mut reports = Vec::new();
    let mut broken = Vec::new();
    for (k, child) in children.into_iter().enumerate() {
        let output = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .map_err(|e| CliError::failure(format!("worker {}: {e}", k + 1)))?
            .map_err(|e| CliError::failure(format!("worker {}: {e}", k + 1)))?;
        let text = String::from_utf8_lossy(&output.stdout);
        match text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(serde_json::from_str::<Value>)
        {
            Some(Ok(report)) if output.status.success() => reports.push(report),
            _ => broken.push(format!("worker {} ({})", k + 1, output.status)),
        }
    }
    let elapsed = started.elapsed();
    let stats = emulator.as_ref().map(clerk_emulator::Emulator::stats);
    let max_window = stats
        .as_ref()
        .and_then(|s| s.instances.values().map(|i| i.max_window_requests).max());
    let server_429 = stats.as_ref().map(|s| s.rate_limited);

    let (lost, duplicated, verify_text) = match (&hot_user, args.workload) {
        (Some(user), _) => {
            let expected = u64::from(args.patches) * u64::from(args.workers);
            let got = clerk
                .users()
                .get(user.clone())
                .await
                .map_err(|e| CliError::failure(format!("verification failed: {e}")))?;
            let present = got.public_metadata.len() as u64;
            (
                expected.saturating_sub(present),
                0,
                format!("{present} of {expected} updates on the user"),
            )
        }
        (None, _) => {
            let v = verify(&clerk, &format!("bench-{run_id}-"), users)
                .await
                .map_err(CliError::failure)?;
            (
                v.lost,
                v.duplicated,
                format!("{} users listed in {}", thousands(v.listed), human(v.took)),
            )
        }
    };
    if let Some(emu) = emulator {
        let _ = emu.shutdown().await;
    }
    drop(own_redis);

    let sum = |field: &str| -> u64 {
        reports
            .iter()
            .map(|r| r.get(field).and_then(Value::as_u64).unwrap_or(0))
            .sum()
    };
    let first = reports
        .iter()
        .filter_map(|r| r.get("started_us").and_then(Value::as_u64))
        .min()
        .unwrap_or(0);
    let last = reports
        .iter()
        .filter_map(|r| r.get("finished_us").and_then(Value::as_u64))
        .max()
        .unwrap_or(0);
    let wall = Duration::from_micros(last.saturating_sub(first)).max(Duration::from_micros(1));
    let requests = sum("requests");
    let achieved = requests as f64 / wall.as_secs_f64();
    let per_user = args
        .workload
        .eq(&Workload::PatchOneUser)
        .then(|| per_user_figures(&reports));
    let failed = sum("failed");
    let out = json!({
        "workers": args.workers, "workload": match args.workload { Workload::Import => "import", Workload::PatchOneUser => "patch-one-user" },
        "users": users, "created": sum("created"), "already_present": sum("already_present"),
        "failed": failed, "lost": lost, "duplicated": duplicated, "requests": requests,
        "retries": sum("retries"), "http_429": sum("http_429"), "server_429": server_429,
        "lookups": sum("lookups"), "wall_s": wall.as_secs_f64(), "elapsed_s": elapsed.as_secs_f64(),
        "achieved_rps": achieved, "quota_rps": quota_rps, "utilization": crate::report::QuotaUse::of(achieved, quota_rps).utilization(),
        "max_window_requests": max_window, "quota_requests": quota.requests(),
        "quota_window_s": quota.window().as_secs_f64(),
        "failovers": sum("failovers"), "fallback_grants": sum("fallback_grants"),
        "per_user": per_user, "per_worker": reports, "broken_workers": broken,
    });
    if args.json {
        say!("{out}");
    } else {
        print_text(&args, &out, quota, &verify_text);
    }
    let mut why = broken.clone();
    if lost > 0 {
        why.push(format!("{lost} lost"));
    }
    if duplicated > 0 {
        why.push(format!("{duplicated} duplicated"));
    }
    if failed > 0 {
        why.push(format!("{failed} failed"));
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(CliError::failure(format!(
            "bench failed: {}",
            why.join(", ")
        )))
    }
}

/// For `patch-one-user`: the updates' spacing against Clerk's 10 per 10 s, and the
/// busiest 10 s as the workers saw their answers.
fn per_user_figures(reports: &[Value]) -> Value {
    let mut times: Vec<u64> = reports
        .iter()
        .filter_map(|r| r.get("patch_times_us").and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_u64)
        .collect();
    times.sort_unstable();
    let quota = Quota::per_user();
    let window_us = u64::try_from(quota.window().as_micros()).unwrap_or(u64::MAX);
    let nominal_gap = quota.window().as_secs_f64() / f64::from(quota.requests());
    let utilization = match (times.first(), times.last()) {
        (Some(a), Some(b)) if times.len() > 1 && b > a => {
            let gap = (b - a) as f64 / 1e6 / (times.len() - 1) as f64;
            Some(nominal_gap / gap)
        }
        _ => None,
    };
    let mut worst = 0;
    let mut lo = 0;
    for hi in 0..times.len() {
        while times[hi] - times[lo] >= window_us {
            lo += 1;
        }
        worst = worst.max(hi - lo + 1);
    }
    json!({"updates": times.len(), "utilization": utilization, "worst_window": worst,
           "limit": quota.requests(), "window_s": quota.window().as_secs_f64()})
}

fn print_text(args: &BenchArgs, out: &Value, quota: Quota, verify_text: &str) {
    let n = |k: &str| out.get(k).and_then(Value::as_u64).unwrap_or(0);
    let f = |k: &str| out.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    say!(
        "clerk-users bench: {} worker processes sharing one quota through Redis ({})",
        args.workers,
        out["workload"].as_str().unwrap_or("")
    );
    say!(
        "  quota {}/{}s · concurrency {} per worker",
        quota.requests(),
        quota.window().as_secs_f64(),
        args.concurrency
    );
    say!(
        "  created {} · already present {} · failed {}",
        thousands(n("created")),
        thousands(n("already_present")),
        thousands(n("failed"))
    );
    say!(
        "  verified on the server: lost {} · duplicated {} ({verify_text})",
        n("lost"),
        n("duplicated")
    );
    say!(
        "  requests {} · retries {} · 429s {} · reconciliation lookups {}",
        thousands(n("requests")),
        thousands(n("retries")),
        thousands(n("http_429")),
        thousands(n("lookups"))
    );
    say!(
        "  wall {} · {:.1} req/s of {:.0} req/s quota · aggregate utilization {:.1} %",
        human(Duration::from_secs_f64(f("wall_s"))),
        f("achieved_rps"),
        f("quota_rps"),
        100.0 * f("utilization")
    );
    if let Some(w) = out.get("max_window_requests").and_then(Value::as_u64) {
        say!(
            "  worst window on the server: {w} requests (limit {})",
            quota.requests()
        );
    }
    if let Some(p) = out.get("per_user").filter(|p| !p.is_null()) {
        say!(
            "  one user: {} updates · worst 10 s window {} (limit {}) · utilization {:.1} %",
            p["updates"],
            p["worst_window"],
            p["limit"],
            100.0 * p["utilization"].as_f64().unwrap_or(0.0)
        );
    }
    if n("failovers") > 0 {
        say!(
            "  Redis fall-backs {} · grants on the local shares {}",
            n("failovers"),
            n("fallback_grants")
        );
    }
    if let Some(workers) = out.get("per_worker").and_then(Value::as_array) {
        for w in workers {
            say!(
                "    worker {}: {} requests · {} 429s · {} · p50 {:.1} ms · p99 {:.1} ms",
                w["shard"].as_str().unwrap_or("?"),
                w["requests"],
                w["http_429"],
                w["coordination"].as_str().unwrap_or("?"),
                w["p50_ms"].as_f64().unwrap_or(0.0),
                w["p99_ms"].as_f64().unwrap_or(0.0)
            );
        }
    }
}
