// Over 600 lines: the bench command's arguments, target start-up, run, server-side verification
// and the printed summary (a failed run's too) belong to one command; its HTML report (bench_report.rs) and its
// worker processes (bench_workers.rs) live apart.
//! `clerk-users bench`: the migration benchmark. Starts the emulator in process
//! (or uses `--api-url`), imports synthetic users through the full stack and the
//! checkpoint journal, then verifies on the server that every user exists exactly once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use clerk_core::SecretKey;
use clerk_emulator::{Config, Emulator, FaultSpec, Latency};
use clerk_layers::rate_limit::Quota;
use clerk_tower::Clerk;
use clerk_tower::users::ListUsers;
use futures_util::TryStreamExt;
use serde_json::{Value, json};

use crate::args::{RateSpec, parse_key, parse_rate};
use crate::bench_report::{QuotaLine, Timeline};
use crate::check::check;
use crate::progress::{self, Progress};
use crate::records::RawRecord;
use crate::report::{Latencies, QuotaUse, human, projection, thousands, timed};
use crate::terminal::{say, tell};
use crate::{CliError, CliResult, synth};
use clerk_migrate::import::{self, Item, Options, Summary};
use clerk_migrate::journal;
use clerk_migrate::shard::Shard;

/// Which of Clerk's instance types to emulate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Instance {
    /// 1000 requests / 10 s.
    Production,
    /// 100 requests / 10 s.
    Development,
}

/// Seconds of import the default user count aims at.
pub(crate) const TARGET_SECONDS: f64 = 22.0;

/// Run the migration benchmark.
#[derive(Args, Debug)]
pub(crate) struct BenchArgs {
    /// Instance type of the embedded emulator (sets the default quota).
    #[arg(long, value_enum, default_value_t = Instance::Production)]
    pub(crate) instance: Instance,
    /// Users to import (default: about 22 s of work at the quota).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub(crate) users: Option<u64>,
    /// Rate limit `N/Ws` for both the emulator and the client (default: the instance's; with `--api-url`, the key's, as for every command).
    #[arg(long, value_name = "N/Ws", value_parser = parse_rate)]
    pub(crate) rate_limit: Option<RateSpec>,
    /// Workers (creates in flight at most).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub(crate) concurrency: u32,
    /// Faults the emulator injects, e.g. `5xx=0.05,reset=0.02,lost_response=0.02`.
    #[arg(long, value_name = "SPEC")]
    pub(crate) faults: Option<FaultSpec>,
    /// Deadline of one HTTP attempt.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = crate::args::parse_duration)]
    pub(crate) attempt_timeout: Duration,
    /// How long an ambiguous create settles before it is looked up (a `slow_apply`
    /// fault of the embedded emulator lands halfway between the attempt timeout and this).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = crate::args::parse_duration)]
    pub(crate) settle_delay: Duration,
    /// Longest Retry-After to wait for; above it the run stops (and fails), as `import` does.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = crate::args::parse_duration)]
    pub(crate) max_wait: Duration,
    /// Emulator latency per request, uniform in MIN..MAX ms.
    #[arg(long, value_name = "MIN..MAX", default_value = "20..80")]
    pub(crate) latency: Latency,
    /// Also print the projected wall time to migrate N users at the quota.
    #[arg(long, value_name = "N")]
    pub(crate) project: Option<u64>,
    /// Benchmark a running server instead of the embedded emulator (needs --secret-key;
    /// --faults and --latency then do not apply).
    #[arg(long, value_name = "URL")]
    pub(crate) api_url: Option<String>,
    /// Secret key for --api-url. Never printed.
    #[arg(long, env = "CLERK_SECRET_KEY", hide_env_values = true, value_name = "KEY", value_parser = parse_key)]
    pub(crate) secret_key: Option<SecretKey>,
    /// One JSON object instead of the text report.
    #[arg(long)]
    pub(crate) json: bool,
    /// Also write the run as one self-contained HTML page with SVG charts (requests/s
    /// against the quota, the server's window occupancy, latency percentiles, retries,
    /// 429s and faults over time, the summary table).
    #[arg(long, value_name = "FILE.html")]
    pub(crate) report: Option<PathBuf>,
    /// Log what the client does to stderr (-v, -vv, -vvv).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// Worker *processes* sharing one quota through Redis (needs --redis or --redis-url);
    /// the report is their aggregate.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub(crate) workers: u32,
    /// Start a throwaway `redis-server` (on a free loopback port) for the workers.
    #[arg(long)]
    pub(crate) redis: bool,
    /// What the workers send: creates of synthetic users, or metadata updates of one
    /// user from every worker (paced by the shared per-user limit).
    #[arg(long, value_enum, default_value_t = Workload::Import)]
    pub(crate) workload: Workload,
    /// `patch-one-user`: updates each worker sends.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub(crate) patches: u32,
    #[command(flatten)]
    pub(crate) redis_args: crate::args::RedisArgs,
}

/// What `bench --workers` sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Workload {
    /// Create synthetic users, each worker its shard of them.
    Import,
    /// Update one user's metadata from every worker.
    PatchOneUser,
}

impl BenchArgs {
    /// Takes the common flags given before `bench` (`before(id)`).
    pub(crate) fn adopt(
        &mut self,
        top: &crate::args::ConnectArgs,
        output: crate::args::OutputArgs,
        before: impl Fn(&str) -> bool,
    ) {
        if before("api_url") {
            self.api_url.clone_from(&top.api_url);
        }
        if before("secret_key") {
            self.secret_key.clone_from(&top.secret_key);
        }
        if before("rate_limit") {
            self.rate_limit = top.rate_limit;
        }
        if before("concurrency") {
            self.concurrency = top.concurrency;
        }
        self.redis_args.adopt(&top.redis, &before);
        self.json |= output.json;
        self.verbose = self.verbose.saturating_add(output.verbose);
    }
}

pub(crate) struct Verification {
    pub(crate) lost: u64,
    pub(crate) duplicated: u64,
    pub(crate) listed: u64,
    pub(crate) took: Duration,
}

/// Counts users per bench external id over one walk of the instance.
pub(crate) async fn verify(
    clerk: &Clerk,
    prefix: &str,
    users: u64,
) -> Result<Verification, String> {
    let started = Instant::now();
    let mut counts: HashMap<String, u32> = HashMap::with_capacity(users as usize);
    let mut stream = std::pin::pin!(clerk.users().list_all(ListUsers::new().limit(500)));
    let mut listed = 0;
    while let Some(user) = stream
        .try_next()
        .await
        .map_err(|e| format!("verification listing failed: {e}"))?
    {
        listed += 1;
        if let Some(id) = user.external_id.filter(|id| id.starts_with(prefix)) {
            *counts.entry(id).or_insert(0) += 1;
        }
    }
    let mut lost = 0;
    let mut duplicated = 0;
    for i in 0..users {
        match counts.get(&format!("{prefix}{i:07}")).copied().unwrap_or(0) {
            0 => lost += 1,
            1 => {}
            _ => duplicated += 1,
        }
    }
    Ok(Verification {
        lost,
        duplicated,
        listed,
        took: started.elapsed(),
    })
}

pub(crate) fn temp_dir(run: u32) -> PathBuf {
    std::env::temp_dir().join(format!("clerk-users-bench-{}-{run}", std::process::id()))
}

/// The bench's quota: `--rate-limit`, else that of the key's instance with
/// `--api-url` (as every other command), else the embedded emulator's instance type's.
pub(crate) fn quota_of(args: &BenchArgs) -> CliResult<(Option<Quota>, &'static str)> {
    let (emu_key, mut default_quota) = match args.instance {
        Instance::Production => ("sk_live_bench_emulator", Quota::production()),
        Instance::Development => ("sk_test_bench_emulator", Quota::development()),
    };
    if let (Some(_), Some(key)) = (&args.api_url, &args.secret_key) {
        // `--instance` describes the embedded emulator: a development key against a
        // real instance at the production quota would draw 429s.
        default_quota = Quota::for_key(key);
    }
    let quota = match args.rate_limit {
        None => Some(default_quota),
        Some(spec) => spec.quota().map_err(CliError::usage)?,
    };
    Ok((quota, emu_key))
}

/// A run id that tells this run's synthetic users from earlier runs'.
pub(crate) fn new_run_id() -> u32 {
    (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        % 100_000) as u32
}

/// The server to benchmark: the embedded emulator (started here), or `--api-url`.
pub(crate) async fn start_target(
    args: &BenchArgs,
    emu_key: &str,
) -> CliResult<(Option<Emulator>, String, SecretKey)> {
    match &args.api_url {
        Some(url) => {
            let key = args
                .secret_key
                .clone()
                .ok_or_else(|| CliError::usage(crate::args::NO_KEY_HELP))?;
            Ok((None, url.clone(), key))
        }
        None => {
            let mut config = Config::new()
                .secret_key(emu_key)
                .rate_limit(args.rate_limit.map_or(
                    clerk_emulator::RateLimit::PerInstanceType,
                    RateSpec::emulator,
                ))
                .latency(args.latency.min, args.latency.max);
            if let Some(mut faults) = args.faults {
                // A slow apply lands after the attempt timeout and before the settle delay.
                if faults.slow_apply_delay() == clerk_emulator::DEFAULT_SLOW_APPLY_DELAY {
                    let late = args.attempt_timeout
                        + (args.settle_delay.saturating_sub(args.attempt_timeout)) / 2;
                    faults = faults.with_slow_apply_delay(late);
                }
                config = config.faults(faults);
            }
            let emu = Emulator::start(config)
                .await
                .map_err(|e| CliError::failure(format!("cannot start the emulator: {e}")))?;
            let url = emu.base_url();
            Ok((Some(emu), url, SecretKey::new(emu_key)))
        }
    }
}

/// The synthetic users of run `run_id`, validated and converted like a file's records.
pub(crate) fn synthetic_items(run_id: u32, users: u64) -> CliResult<Vec<Item>> {
    let record = |i: u64| RawRecord {
        offset: i,
        line: i as usize + 1,
        body: Ok(synth::user(run_id, i)),
    };
    let checked = check(
        (0..users).map(|i| Ok(record(i))),
        &std::env::temp_dir(),
        Shard::ALL,
        |i| Ok(Some(synth::user(run_id, i))),
    )
    .map_err(|e| CliError::failure(format!("checking the synthetic users: {e}")))?;
    if let Some(p) = checked.problems.into_sorted().first() {
        return Err(CliError::failure(format!(
            "synthetic user failed validation: {p}"
        )));
    }
    Ok((0..users)
        .map(|i| {
            let RawRecord { line, body, .. } = record(i);
            Item::new(i as usize, line, body.unwrap_or_default())
        })
        .collect())
}

pub(crate) async fn run(args: BenchArgs) -> CliResult<()> {
    let shared = args.redis || args.redis_args.redis_url.is_some();
    if args.redis_args.window_margin.is_some() && !shared {
        return Err(CliError::usage(
            "--window-margin applies to a quota shared through Redis: add --redis or --redis-url",
        ));
    }
    if args.workers > 1 || shared {
        if args.report.is_some() {
            return Err(CliError::usage(
                "--report draws one process's run: it cannot be combined with --workers or --redis",
            ));
        }
        return crate::bench_workers::run(args).await;
    }
    let (quota, emu_key) = quota_of(&args)?;
    let quota_rps = quota.map(|q| f64::from(q.requests()) / q.window().as_secs_f64());
    let users = args
        .users
        .unwrap_or_else(|| quota_rps.map_or(2000, |rps| (rps * TARGET_SECONDS).round() as u64));
    let run_id = new_run_id();
    let (emulator, base_url, key) = start_target(&args, emu_key).await?;
    let latencies = Arc::new(Latencies::default());
    let timeline = args.report.as_ref().map(|_| Timeline::new());
    let mut builder = timed(Clerk::builder(), &latencies);
    if let Some(timeline) = &timeline {
        builder = timeline.layer(builder);
    }
    let mut builder = builder
        .secret_key(key)
        .base_url(base_url)
        .max_in_flight(args.concurrency as usize)
        .attempt_timeout(args.attempt_timeout)
        .operation_timeout(Duration::from_secs(120));
    builder = match quota {
        Some(q) => builder.quota(q),
        None => builder.no_rate_limit(),
    };
    let clerk = builder
        .build()
        .map_err(|e| CliError::usage(format!("cannot build the client: {e}")))?;

    // The synthetic users go through the same validation and conversion as a file.
    let items = synthetic_items(run_id, users)?;
    let dir = temp_dir(run_id);
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError::failure(format!("cannot create {}: {e}", dir.display())))?;
    let (replay, writer) = journal::open(&dir.join("checkpoint.jsonl"))
        .map_err(|e| CliError::failure(format!("cannot open the checkpoint: {e}")))?;
    let progress = Progress::new(progress::wanted(args.json), Some(users), &clerk, quota_rps);
    let options = Options {
        concurrency: args.concurrency as usize,
        settle_delay: args.settle_delay,
        max_wait: args.max_wait,
        operation_timeout: Duration::from_secs(120),
        ..Options::default()
    };
    let counted = Arc::new(Counted {
        inner: progress.ticks(),
        done: AtomicU64::new(0),
    });
    let started = Instant::now();
    let result = {
        let import = import::run(
            &clerk,
            futures_util::stream::iter(items.into_iter().map(Ok)),
            &replay,
            Arc::new(writer),
            options,
            Arc::clone(&counted) as Arc<dyn import::Progress>,
        );
        // For --report: the server's window occupancy, 4 times a second.
        let sampling = async {
            let Some(timeline) = &timeline else {
                return std::future::pending::<()>().await;
            };
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            loop {
                tick.tick().await;
                let window = emulator.as_ref().and_then(|e| {
                    e.stats()
                        .instances
                        .values()
                        .map(|i| i.window_requests)
                        .max()
                });
                timeline.sample(window);
            }
        };
        tokio::pin!(import);
        tokio::select! {
            biased;
            result = &mut import => result,
            () = sampling => import.await,
        }
    };
    progress.finish();
    let latency = latencies.p50_p99_ms();
    if let Some(timeline) = &timeline {
        // The last sample closes the run.
        let window = emulator.as_ref().and_then(|e| {
            e.stats()
                .instances
                .values()
                .map(|i| i.window_requests)
                .max()
        });
        timeline.sample(window);
        timeline.stop();
    }
    let _ = std::fs::remove_dir_all(&dir);
    let setup = Setup {
        args: &args,
        users,
        quota,
        quota_rps,
    };
    let summary = match result {
        Ok(summary) => summary,
        Err(why) => {
            // The run failed: the page shows what was recorded up to the failure.
            let metrics = clerk.metrics();
            let ran = Ran {
                done: counted.done.load(Relaxed),
                requests: metrics.attempts,
                retries: metrics.retries,
                http_429: metrics.rate_limited,
                wall: started.elapsed(),
                latency,
                max_window: worst_window(emulator.as_ref()),
            };
            if let Some(emu) = emulator {
                let _ = emu.shutdown().await;
            }
            if let (Some(path), Some(timeline)) = (&args.report, &timeline) {
                let page = write_report(path, timeline, &setup, &setup.failed_json(&why, &ran));
                if let Err(e) = page {
                    tell!(
                        "{}",
                        e.message.as_deref().unwrap_or("cannot write the report")
                    );
                }
            }
            return Err(CliError::failure(why));
        }
    };

    // The import phase ends here: read the server's worst window before verifying.
    let max_window = worst_window(emulator.as_ref());
    let verification = verify(&clerk, &format!("bench-{run_id}-"), users).await;
    if let Some(emu) = emulator {
        let _ = emu.shutdown().await;
    }
    let verification = verification.map_err(CliError::failure)?;

    let report = Report {
        setup,
        summary: &summary,
        latency,
        max_window,
        verification: &verification,
    };
    report.print();
    if let (Some(path), Some(timeline)) = (&args.report, &timeline) {
        write_report(path, timeline, &report.setup, &report.json())?;
    }
    let mut why = Vec::new();
    if verification.lost > 0 {
        why.push(format!("{} users lost", verification.lost));
    }
    if verification.duplicated > 0 {
        why.push(format!("{} users duplicated", verification.duplicated));
    }
    if summary.failed > 0 {
        why.push(format!(
            "{} records failed ({:?})",
            summary.failed,
            summary.failed_by_code()
        ));
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

/// What the run was asked to do: the part of the summary a failed run has too.
struct Setup<'a> {
    args: &'a BenchArgs,
    users: u64,
    quota: Option<Quota>,
    quota_rps: Option<f64>,
}

/// Writes the page of a run (`summary`: its `--json` object) to `path`.
fn write_report(
    path: &Path,
    timeline: &Timeline,
    setup: &Setup<'_>,
    summary: &Value,
) -> CliResult<()> {
    let quota_line = setup.quota.map(|q| QuotaLine {
        requests: u64::from(q.requests()),
        window: q.window(),
    });
    let page = crate::bench_report::render(timeline, &setup.title(), quota_line, summary);
    std::fs::write(path, page)
        .map_err(|e| CliError::failure(format!("cannot write {}: {e}", path.display())))?;
    if !setup.args.json {
        say!("  report {}", path.display());
    }
    Ok(())
}

/// The embedded emulator's worst window so far (`None` for another server).
fn worst_window(emulator: Option<&Emulator>) -> Option<u64> {
    emulator.and_then(|e| {
        e.stats()
            .instances
            .values()
            .map(|i| i.max_window_requests)
            .max()
    })
}

/// The import's progress, counting the records done for a failed run's report.
struct Counted {
    inner: Arc<dyn import::Progress>,
    done: AtomicU64,
}

impl import::Progress for Counted {
    fn set_position(&self, done: u64) {
        self.done.store(done, Relaxed);
        self.inner.set_position(done);
    }
    fn inc(&self, n: u64) {
        self.done.fetch_add(n, Relaxed);
        self.inner.inc(n);
    }
    fn waiting(&self, why: Option<&str>) {
        self.inner.waiting(why);
    }
}

struct Report<'a> {
    setup: Setup<'a>,
    summary: &'a Summary,
    /// Request latency `(p50, p99)` in ms.
    latency: (f64, f64),
    max_window: Option<u64>,
    verification: &'a Verification,
}

impl Setup<'_> {
    /// The quota as given (`1000/10s`), or `off`.
    fn quota_text(&self) -> String {
        self.quota.map_or_else(
            || "off".to_owned(),
            |q| format!("{}/{}s", q.requests(), q.window().as_secs_f64()),
        )
    }

    /// The fault spec as given, or `none`.
    fn faults_text(&self) -> String {
        self.args
            .faults
            .map_or_else(|| "none".to_owned(), |f| f.to_string())
    }

    /// The emulated instance kind.
    fn instance_name(&self) -> &'static str {
        match self.args.instance {
            Instance::Production => "production",
            Instance::Development => "development",
        }
    }

    /// The summary's fields that describe the run's settings.
    fn json(&self) -> serde_json::Map<String, Value> {
        let args = self.args;
        let Value::Object(map) = json!({
            "users": self.users,
            "quota_rps": self.quota_rps,
            "quota": self.quota_text(),
            "quota_requests": self.quota.map(|q| q.requests()),
            "quota_window_s": self.quota.map(|q| q.window().as_secs_f64()),
            "concurrency": args.concurrency,
            "faults": self.faults_text(),
            // The embedded emulator's latency: none is added to another server's.
            "latency_ms": args.api_url.is_none().then_some([args.latency.min.as_millis() as u64, args.latency.max.as_millis() as u64]),
            "instance": if args.api_url.is_some() { "external" } else { self.instance_name() },
        }) else {
            unreachable!("a JSON object literal")
        };
        map
    }

    /// `--json`'s `utilization` (at most 1) and `short_burst` at `achieved` req/s.
    fn utilization(&self, achieved: f64) -> (Option<f64>, bool) {
        QuotaUse::json(self.quota_rps.map(|q| QuotaUse::of(achieved, q)))
    }

    /// The report's first line: how many users into what.
    fn title(&self) -> String {
        let target = self.args.api_url.as_deref().map_or_else(
            || {
                format!(
                    "embedded emulator ({}, latency {}..{} ms, faults {})",
                    self.instance_name(),
                    self.args.latency.min.as_millis(),
                    self.args.latency.max.as_millis(),
                    self.faults_text()
                )
            },
            |url| format!("{} (external)", clerk_core::BaseUrl::redacted(url)),
        );
        let users = if self.users == 1 { "user" } else { "users" };
        format!("{} {users} into {target}", thousands(self.users))
    }

    /// The summary of a run that ended in `error`: what was recorded up to it.
    fn failed_json(&self, error: &str, ran: &Ran) -> Value {
        let achieved = if ran.wall > Duration::ZERO {
            ran.requests as f64 / ran.wall.as_secs_f64()
        } else {
            0.0
        };
        let (utilization, short_burst) = self.utilization(achieved);
        let mut out = self.json();
        let rest = json!({
            "run": "failed",
            "error": crate::terminal::neutral(error),
            "done": ran.done,
            "requests": ran.requests,
            "retries": ran.retries,
            "http_429": ran.http_429,
            "wall_s": ran.wall.as_secs_f64(),
            "achieved_rps": achieved,
            "utilization": utilization,
            "short_burst": short_burst,
            "max_window_requests": ran.max_window,
            "p50_ms": ran.latency.0,
            "p99_ms": ran.latency.1,
        });
        if let Value::Object(rest) = rest {
            out.extend(rest);
        }
        Value::Object(out)
    }
}

/// What a failed run recorded before it ended.
struct Ran {
    /// Records finished (created, found present or failed).
    done: u64,
    requests: u64,
    retries: u64,
    http_429: u64,
    wall: Duration,
    latency: (f64, f64),
    max_window: Option<u64>,
}

impl Report<'_> {
    /// Requests per user this run took (1 when it had no users).
    fn requests_per_user(&self) -> f64 {
        if self.setup.users > 0 {
            self.summary.requests as f64 / self.setup.users as f64
        } else {
            1.0
        }
    }

    /// What `--json` prints, and the report's summary table.
    fn json(&self) -> Value {
        let s = self.summary;
        let v = self.verification;
        let achieved = s.achieved_rps();
        let (utilization, short_burst) = self.setup.utilization(achieved);
        let requests_per_user = self.requests_per_user();
        let projected = self
            .setup
            .args
            .project
            .zip(self.setup.quota_rps)
            .map(|(n, rps)| {
                (
                    n,
                    n as f64 * requests_per_user.max(1.0) / rps,
                    projection(n, rps, requests_per_user),
                )
            });
        let mut out = self.setup.json();
        let run = json!({
            "created": s.created,
            "already_present": s.already_present,
            "failed": s.failed,
            "failed_by_code": s.failed_by_code(),
            "lost": v.lost,
            "duplicated": v.duplicated,
            "requests": s.requests,
            "retries": s.retries,
            "http_429": s.http_429,
            "lookups": s.lookups,
            "wall_s": s.wall.as_secs_f64(),
            "achieved_rps": achieved,
            "utilization": utilization,
            "short_burst": short_burst,
            "max_window_requests": self.max_window,
            "p50_ms": self.latency.0,
            "p99_ms": self.latency.1,
            "verify_s": v.took.as_secs_f64(),
            "verify_listed": v.listed,
        });
        if let Value::Object(run) = run {
            out.extend(run);
        }
        if let Some((n, secs, text)) = &projected {
            out.insert(
                "projection".into(),
                json!({"users": n, "wall_s": secs, "text": text}),
            );
        }
        Value::Object(out)
    }

    fn print(&self) {
        if self.setup.args.json {
            say!("{}", self.json());
            return;
        }
        let s = self.summary;
        let v = self.verification;
        let achieved = s.achieved_rps();
        let projected = self
            .setup
            .args
            .project
            .zip(self.setup.quota_rps)
            .map(|(n, rps)| projection(n, rps, self.requests_per_user()));
        say!("clerk-users bench: {}", self.setup.title());
        say!(
            "  quota {} · concurrency {}",
            self.setup.quota_text(),
            self.setup.args.concurrency
        );
        say!(
            "  created {} · already present {} · failed {}",
            thousands(s.created as u64),
            thousands(s.already_present as u64),
            thousands(s.failed as u64)
        );
        say!(
            "  verified on the server: lost {} · duplicated {} ({} users listed in {})",
            v.lost,
            v.duplicated,
            thousands(v.listed),
            human(v.took)
        );
        say!(
            "  requests {} · retries {} · 429s {} · reconciliation lookups {}",
            thousands(s.requests),
            thousands(s.retries),
            thousands(s.http_429),
            thousands(s.lookups)
        );
        match self.setup.quota_rps.map(|q| (q, QuotaUse::of(achieved, q))) {
            Some((q, QuotaUse::ShortBurst)) => say!(
                "  wall {} · {achieved:.1} req/s: a short burst, within the {q:.0} req/s quota's window",
                human(s.wall)
            ),
            Some((q, QuotaUse::Share(u))) => say!(
                "  wall {} · {achieved:.1} req/s of {q:.0} req/s quota · utilization {:.1} %",
                human(s.wall),
                100.0 * u
            ),
            None => say!(
                "  wall {} · {achieved:.1} req/s (no rate limit)",
                human(s.wall)
            ),
        }
        if let (Some(w), Some(q)) = (self.max_window, self.setup.quota) {
            say!(
                "  worst window on the server: {w} requests (limit {})",
                q.requests()
            );
        }
        say!(
            "  request latency p50 {:.1} ms · p99 {:.1} ms",
            self.latency.0,
            self.latency.1
        );
        if let Some(text) = &projected {
            say!("  projection: {text}");
        }
    }
}
