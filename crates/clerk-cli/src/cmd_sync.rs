//! `clerk-users sync FILE`: make the instance equal the file. Plan, then apply,
//! through `clerk_migrate::sync`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::{Args, ValueEnum};
use clerk_migrate::shard::Shard;
use clerk_migrate::sync::{
    self, ApplyReport, Conflict, FieldChange, MatchKey, MetadataMode, Missing, Observer, Plan,
    PlannedUpdate, SourceRecord, SyncOptions,
};
use indicatif::ProgressBar;
use serde_json::{Value, json};

use crate::args::{ConnectArgs, OutputArgs};
use crate::check::{Accepted, accepted, check_file};
use crate::cmd_import::sibling;
use crate::input::Format;
use crate::progress::{self, Progress};
use crate::records::Records;
use crate::report::{Latencies, human, thousands};
use crate::terminal::{say, tell};
use crate::{CliError, CliResult};

/// Conflicts the `--json` summary lists at most (it counts them all).
const CONFLICTS_IN_JSON: usize = 200;

/// How records are matched to Clerk users.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum KeyArg {
    /// By `external_id`.
    ExternalId,
    /// By email address (the record's first; any of the user's).
    Email,
}

/// What happens to Clerk users absent from the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum MissingArg {
    /// Nothing.
    Ignore,
    /// Banned (and unbanned when they come back).
    Ban,
    /// Deleted.
    Delete,
}

/// How changed metadata is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum MetadataArg {
    /// Only the keys that changed, through the merge endpoint (removed keys as `null`).
    Merge,
    /// The whole object replaced.
    Replace,
}

/// Make the instance equal a file: create, update only what differs, and ban or
/// delete the users the file lacks.
#[derive(Args, Debug)]
pub(crate) struct SyncArgs {
    /// JSON Lines, JSON array or CSV of Clerk create bodies, or Clerk migration-tool users.
    pub(crate) file: PathBuf,
    /// Input format.
    #[arg(long, value_enum, default_value_t = Format::Auto)]
    pub(crate) format: Format,
    /// How records are matched to Clerk users.
    #[arg(long, value_enum, default_value_t = KeyArg::ExternalId)]
    pub(crate) key: KeyArg,
    /// What happens to Clerk users absent from the file.
    #[arg(long, value_enum, default_value_t = MissingArg::Ignore)]
    pub(crate) missing: MissingArg,
    /// How changed metadata is written.
    #[arg(long, value_enum, default_value_t = MetadataArg::Merge)]
    pub(crate) metadata: MetadataArg,
    /// Print the plan (counts and the first diffs) and send no write.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Refuse a plan with more deletes (default: 10 % of the instance, at least 10).
    #[arg(long, value_name = "N")]
    pub(crate) max_deletes: Option<u64>,
    /// Refuse a plan with more bans (default: 10 % of the instance, at least 10).
    #[arg(long, value_name = "N")]
    pub(crate) max_bans: Option<u64>,
    /// Diffs shown by the plan.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub(crate) show: usize,
    /// Sync only shard K of N (K from 1 to N): N processes, on N machines if need be,
    /// split the file by match key; a user missing from the whole file is banned or
    /// deleted by the one shard its Clerk id falls in. Each reads the whole file and
    /// instance and keeps its own checkpoint (FILE.shard-K-of-N.sync-checkpoint.jsonl).
    /// Share the quota with --redis-url.
    #[arg(long, value_name = "K/N")]
    pub(crate) shard: Option<Shard>,
    /// Checkpoint journal of the creates (default: FILE.sync-checkpoint.jsonl, or
    /// FILE.shard-K-of-N.sync-checkpoint.jsonl); kept only while a run is unfinished.
    #[arg(long, value_name = "FILE")]
    pub(crate) checkpoint: Option<PathBuf>,
    /// Creates of one record at most, after reconciling that the previous one did nothing.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub(crate) max_attempts: u32,
    /// How long an ambiguous create settles before it is looked up (see `import --help`).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = crate::args::parse_duration)]
    pub(crate) settle_delay: std::time::Duration,
    #[command(flatten)]
    pub(crate) connect: ConnectArgs,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

impl SyncArgs {
    fn options(&self) -> SyncOptions {
        let mut options = SyncOptions::new()
            .key(match self.key {
                KeyArg::ExternalId => MatchKey::ExternalId,
                KeyArg::Email => MatchKey::Email,
            })
            .missing(match self.missing {
                MissingArg::Ignore => Missing::Ignore,
                MissingArg::Ban => Missing::Ban,
                MissingArg::Delete => Missing::Delete,
            })
            .metadata(match self.metadata {
                MetadataArg::Merge => MetadataMode::Merge,
                MetadataArg::Replace => MetadataMode::Replace,
            })
            .concurrency(self.connect.concurrency as usize)
            .max_create_attempts(self.max_attempts)
            .settle_delay(self.settle_delay)
            .shard(self.shard.unwrap_or_default());
        if let Some(n) = self.max_deletes {
            options = options.max_deletes(n);
        }
        if let Some(n) = self.max_bans {
            options = options.max_bans(n);
        }
        options
    }
}

/// Ticks a progress bar (or nothing).
struct BarObserver(Option<ProgressBar>);

impl Observer for BarObserver {
    fn state_read(&self, users: u64) {
        if let Some(bar) = &self.0 {
            bar.set_position(users);
        }
    }

    fn applied(&self, n: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(n);
        }
    }
}

pub(crate) async fn run(args: SyncArgs) -> CliResult<()> {
    let cannot_read =
        |e: std::io::Error| CliError::usage(format!("cannot read {}: {e}", args.file.display()));
    let dir = match args.file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut checked = check_file(&args.file, args.format, &dir, Shard::ALL).map_err(cannot_read)?;
    let json = args.output.json;
    if checked.problems.total() > 0 {
        let total = checked.problems.total();
        if !json {
            for p in std::mem::take(&mut checked.problems)
                .into_sorted()
                .iter()
                .take(200)
            {
                tell!("{p}");
            }
        }
        // A record left out would read as "missing" and could be banned or deleted.
        return Err(CliError::usage(format!(
            "{total} problem(s) in {} record(s); nothing was sent. Sync needs every record valid",
            checked.invalid_records()
        )));
    }
    let records = Records::reopen(&args.file, &checked.layout).map_err(cannot_read)?;
    let checkpoint = args.checkpoint.clone().unwrap_or_else(|| match args.shard {
        Some(s) => sibling(
            &args.file,
            &format!(
                ".shard-{}-of-{}.sync-checkpoint.jsonl",
                s.index(),
                s.count()
            ),
        ),
        None => sibling(&args.file, ".sync-checkpoint.jsonl"),
    });
    // The plan keeps the records in a scratch file next to the checkpoint, as
    // `import` keeps its sort's.
    let scratch_dir = match checkpoint.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let options = args.options().scratch_dir(scratch_dir);
    let latencies = Arc::new(Latencies::default());
    let clerk = args
        .connect
        .client_timed(&latencies)
        .map_err(CliError::usage)?;
    let quota_rps = args.connect.quota_rps();
    let show = progress::wanted(json);

    let started = Instant::now();
    // The file is read a second time, record by record, into the engine (which keeps
    // them on disk): every record, whatever --shard says, since the engine plans its
    // shard's records and needs the others' keys to tell leavers apart.
    let source = futures_util::stream::iter(accepted(records, &checked, Shard::ALL).filter_map(
        |record| match record {
            Ok(Accepted::Item(item)) => {
                Some(Ok(SourceRecord::new(item.body.to_map()).at_line(item.line)))
            }
            Ok(Accepted::Invalid { .. }) => None,
            Err(err) => Some(Err(err)),
        },
    ));
    let reading = Progress::new(show, None, &clerk, quota_rps);
    let plan = sync::plan(&clerk, source, &options, &BarObserver(reading.bar()))
        .await
        .map_err(|e| CliError::failure(e.to_string()))?;
    let first_changes = plan
        .first_changes(args.show)
        .map_err(|e| CliError::failure(e.to_string()))?;
    // The conflicts printed: `--show` of them, and 200 in the JSON summary.
    let first_conflicts = plan
        .conflicts
        .first(args.show.max(CONFLICTS_IN_JSON))
        .map_err(|e| CliError::failure(e.to_string()))?;
    reading.finish();
    let plan_wall = started.elapsed();
    let limits = plan.check_limits(&options);
    if !json {
        print_plan(&args, &plan, &first_changes, &first_conflicts, args.show);
    }

    if args.dry_run || limits.is_err() {
        if json {
            say!(
                "{}",
                plan_json(
                    &args,
                    &plan,
                    &first_changes,
                    &first_conflicts,
                    limits.as_ref().err()
                )
            );
        } else if limits.is_ok() {
            say!(
                "dry run: nothing sent ({} writes planned)",
                thousands(plan.writes())
            );
        }
        return match limits {
            Err(err) => Err(CliError::failure(err.to_string())),
            Ok(()) if !plan.conflicts.is_empty() => Err(CliError::quiet(1)),
            Ok(()) => Ok(()),
        };
    }

    let conflicts = plan.conflicts.len();
    let total = plan.creates.len() + plan.updates.len() + plan.missing.len();
    let applying = Progress::new(show && total > 0, Some(total as u64), &clerk, quota_rps);
    let observer = Arc::new(BarObserver(applying.bar()));
    let plan_requests = plan.state.requests;
    let summary = plan_json(&args, &plan, &first_changes, &first_conflicts, None);
    let report = sync::apply(&clerk, plan, &options, &checkpoint, observer)
        .await
        .map_err(|e| CliError::failure(e.to_string()))?;
    applying.finish();
    let (p50_ms, p99_ms) = latencies.p50_p99_ms();
    let wall = started.elapsed();
    let achieved = (plan_requests + report.requests) as f64 / wall.as_secs_f64().max(1e-9);
    if json {
        let mut out = summary;
        out["applied"] = apply_json(&report);
        out["wall_s"] = json!(wall.as_secs_f64());
        out["plan_wall_s"] = json!(plan_wall.as_secs_f64());
        out["achieved_rps"] = json!(achieved);
        out["quota_rps"] = json!(quota_rps);
        out["p50_ms"] = json!(p50_ms);
        out["p99_ms"] = json!(p99_ms);
        say!("{out}");
    } else {
        print_report(&report, plan_requests, wall, achieved, quota_rps);
    }
    if report.failures.is_empty() && conflicts == 0 {
        Ok(())
    } else {
        Err(CliError::quiet(1))
    }
}

/// A value from the file or the server, fit to print: JSON-escaped, invisible
/// and bidirectional-control characters escaped, at most 60 characters.
fn shown(value: Option<&Value>) -> String {
    let Some(value) = value else {
        return "(absent)".to_owned();
    };
    let text = value.to_string();
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n == 60 {
            out.push('…');
            break;
        }
        let invisible = c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}');
        if invisible {
            out.push_str(&format!("\\u{{{:04x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

fn change_text(c: &FieldChange) -> String {
    if c.secret {
        let what = match (&c.before, &c.after) {
            (None, _) => "added",
            (_, None) => "removed",
            _ => "changed",
        };
        format!("{} {what} (value not shown)", c.field)
    } else {
        format!(
            "{}: {} → {}",
            c.field,
            shown(c.before.as_ref()),
            shown(c.after.as_ref())
        )
    }
}

fn print_plan(
    args: &SyncArgs,
    plan: &Plan,
    first_changes: &[PlannedUpdate],
    first_conflicts: &[Conflict],
    first: usize,
) {
    let s = &plan.state;
    let records = if args.shard.is_some() {
        format!(
            "shard {}: {} of {} records",
            plan.shard,
            thousands(plan.records as u64),
            thousands((plan.records + plan.records_in_other_shards) as u64)
        )
    } else {
        format!("{} records", thousands(plan.records as u64))
    };
    say!(
        "sync {}: {records} · key {} · missing users: {} · metadata {}",
        args.file.display(),
        options_key(args),
        plan.missing_action,
        match args.metadata {
            MetadataArg::Merge => "merge",
            MetadataArg::Replace => "replace",
        }
    );
    let instance = s.instance_users.map_or_else(String::new, |n| {
        format!(" (instance: {} users)", thousands(n))
    });
    match s.estimate {
        Some((export, lookups)) => say!(
            "  state read by {}: {}{instance}; a full export takes {}, key lookups {} (+1 count)",
            s.strategy,
            requests(s.requests),
            thousands(export),
            thousands(lookups)
        ),
        None => say!(
            "  state read by {} (needed to find the missing users): {}{instance}",
            s.strategy,
            requests(s.requests)
        ),
    }
    let missing_note = match plan.missing_action {
        Missing::Ignore => "(ignored)".to_owned(),
        action => {
            let verb = if action == Missing::Ban {
                "ban"
            } else {
                "delete"
            };
            let mut note = format!("→ {verb} {}", thousands(plan.missing.len() as u64));
            if args.shard.is_some() {
                note.push_str(&format!(
                    " (all shards: {})",
                    thousands(plan.missing_all_shards as u64)
                ));
            }
            if plan.missing_untouched > 0 {
                note.push_str(&format!(
                    ", banned already {}",
                    thousands(plan.missing_untouched as u64)
                ));
            }
            note
        }
    };
    say!("  create     {:>10}", thousands(plan.creates.len() as u64));
    say!("  update     {:>10}", thousands(plan.updates.len() as u64));
    say!("  unchanged  {:>10}", thousands(plan.unchanged as u64));
    say!(
        "  missing    {:>10}  {missing_note}",
        thousands((plan.missing.len() + plan.missing_untouched) as u64)
    );
    say!(
        "  conflicts  {:>10}",
        thousands(plan.conflicts.len() as u64)
    );
    for c in first_conflicts.iter().take(first) {
        say!("    line {}: {}", c.line, c.message);
    }
    say!("  writes planned {}", thousands(plan.writes()));
    for update in first_changes {
        say!(
            "  line {} ({}, {}):",
            update.line,
            shown(Some(&Value::String(update.key.clone()))),
            update.user_id
        );
        for c in &update.diff.changes {
            say!("    {}", change_text(c));
        }
    }
    if plan.updates.len() > first {
        say!("  … and {} more updates", plan.updates.len() - first);
    }
}

/// `1 request`, `1,234 requests`.
fn requests(n: u64) -> String {
    format!("{} request{}", thousands(n), if n == 1 { "" } else { "s" })
}

fn options_key(args: &SyncArgs) -> &'static str {
    match args.key {
        KeyArg::ExternalId => "external_id",
        KeyArg::Email => "email",
    }
}

fn plan_json(
    args: &SyncArgs,
    plan: &Plan,
    first_changes: &[PlannedUpdate],
    first_conflicts: &[Conflict],
    refused: Option<&sync::SyncError>,
) -> Value {
    let s = &plan.state;
    let diffs: Vec<Value> = first_changes
        .iter()
        .map(|u| {
            json!({
                "line": u.line, "key": u.key, "user_id": u.user_id,
                "changes": u.diff.changes.iter().map(|c| if c.secret {
                    json!({"field": c.field, "secret": true})
                } else {
                    json!({"field": c.field, "before": c.before, "after": c.after})
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "file": args.file.display().to_string(),
        "dry_run": args.dry_run,
        "key": options_key(args),
        "missing_action": plan.missing_action.to_string(),
        "records": plan.records,
        "shard": args.shard.map(|s| s.to_string()),
        "records_in_other_shards": plan.records_in_other_shards,
        "plan": {
            "create": plan.creates.len(),
            "update": plan.updates.len(),
            "unchanged": plan.unchanged,
            "missing": plan.missing.len() + plan.missing_untouched,
            "missing_to_act_on": plan.missing.len(),
            "missing_to_act_on_all_shards": plan.missing_all_shards,
            "conflicts": plan.conflicts.len(),
            "writes": plan.writes(),
        },
        "state_read": {
            "strategy": match s.strategy { sync::ReadStrategy::Export => "export", _ => "lookups" },
            "requests": s.requests,
            "users_read": s.users_read,
            "instance_users": s.instance_users,
            "export_requests_estimate": s.estimate.map(|e| e.0),
            "lookup_requests_estimate": s.estimate.map(|e| e.1),
        },
        "conflicts": first_conflicts.iter().take(CONFLICTS_IN_JSON).map(|c| json!({"line": c.line, "key": c.key, "message": c.message})).collect::<Vec<_>>(),
        "first_diffs": diffs,
        "refused": refused.map(ToString::to_string),
        "applied": Value::Null,
    })
}

fn apply_json(r: &ApplyReport) -> Value {
    let by_code: Vec<Value> = r
        .failed_by_code()
        .into_iter()
        .map(|((action, code), n)| json!({"action": action.to_string(), "code": code, "count": n}))
        .collect();
    json!({
        "created": r.created,
        "already_present": r.already_present,
        "created_before": r.created_before,
        "updated": r.updated,
        "unbanned": r.unbanned,
        "banned": r.banned,
        "deleted": r.deleted,
        "applied_unreadable": r.applied_unreadable,
        "failed": r.failures.len(),
        "failed_by_code": by_code,
        "writes": r.writes,
        "lookups": r.lookups,
        "requests": r.requests,
        "retries": r.retries,
        "http_429": r.http_429,
        "per_user_writes": r.per_user_writes,
        "max_writes_per_user": r.max_writes_per_user,
        "wall_s": r.wall.as_secs_f64(),
    })
}

fn print_report(
    r: &ApplyReport,
    plan_requests: u64,
    wall: std::time::Duration,
    achieved: f64,
    quota_rps: Option<f64>,
) {
    say!(
        "applied in {} (plan and apply {})",
        human(r.wall),
        human(wall)
    );
    say!(
        "  created {} · already present {} · updated {} · unbanned {} · banned {} · deleted {} · failed {}",
        thousands(r.created as u64),
        thousands(r.already_present as u64),
        thousands(r.updated as u64),
        thousands(r.unbanned as u64),
        thousands(r.banned as u64),
        thousands(r.deleted as u64),
        thousands(r.failures.len() as u64)
    );
    if r.created_before > 0 {
        say!(
            "  created by the interrupted run {}  (per the checkpoint)",
            thousands(r.created_before as u64)
        );
    }
    if r.applied_unreadable > 0 {
        say!(
            "  answered by an unreadable 2xx {}  (applied: counted done above)",
            thousands(r.applied_unreadable as u64)
        );
    }
    for ((action, code), n) in r.failed_by_code() {
        say!("    {action} {code}: {}", thousands(n as u64));
    }
    for f in r.failures.iter().take(20) {
        say!(
            "  {} line {}: {}",
            f.action,
            f.line,
            shown(Some(&Value::String(f.message.clone())))
        );
    }
    say!(
        "requests: plan {} reads · apply {} writes + {} reconciliation lookups ({} attempts, {} retries, {} × 429)",
        thousands(plan_requests),
        thousands(r.writes),
        thousands(r.lookups),
        thousands(r.requests),
        thousands(r.retries),
        thousands(r.http_429)
    );
    say!(
        "per-user limited writes {}, at most {} to one user (Clerk allows 10 per 10 s per user)",
        thousands(r.per_user_writes),
        r.max_writes_per_user
    );
    say!(
        "{}",
        crate::report::rate_line(plan_requests + r.requests, achieved, quota_rps)
    );
}
