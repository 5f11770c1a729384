//! `clerk-users import FILE`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use serde_json::{Value, json};

use crate::args::{ConnectArgs, OPERATION_TIMEOUT, OutputArgs, parse_duration};
use crate::check::{Accepted, Checked, accepted, check_file};
use crate::input::Format;
use crate::progress::{self, Progress};
use crate::records::Records;
use crate::report::{Latencies, human, thousands};
use crate::terminal::{say, tell};
use crate::{CliError, CliResult};
use clerk_migrate::import::{self, Item, Options, Summary};
use clerk_migrate::journal;
use clerk_migrate::shard::Shard;

/// Bulk-create users from a file, exactly once.
#[derive(Args, Debug)]
pub(crate) struct ImportArgs {
    /// JSON Lines, JSON array or CSV of Clerk create bodies, or Clerk migration-tool users.
    pub(crate) file: PathBuf,
    /// Input format.
    #[arg(long, value_enum, default_value_t = Format::Auto)]
    pub(crate) format: Format,
    /// Validate only: report every problem with its line and field, send nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Checkpoint journal (default: FILE.checkpoint.jsonl). Rerun with the same one to resume.
    #[arg(long, value_name = "FILE")]
    pub(crate) checkpoint: Option<PathBuf>,
    /// Where failed records go, as JSON Lines `import` accepts (default: FILE.failed.jsonl).
    #[arg(long, value_name = "FILE")]
    pub(crate) failed_out: Option<PathBuf>,
    /// Import the valid records even if others have problems (those go to the failed file).
    #[arg(long)]
    pub(crate) skip_invalid: bool,
    /// Creates of one record at most, after reconciling that the previous one did nothing.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub(crate) max_attempts: u32,
    /// Import only shard K of N (K from 1 to N): N processes, on N machines if need be,
    /// split the file by record key, each with its own checkpoint
    /// (FILE.shard-K-of-N.checkpoint.jsonl). Share the quota with --redis-url.
    #[arg(long, value_name = "K/N")]
    pub(crate) shard: Option<Shard>,
    /// How long an ambiguous create (timeout, reset, 5xx, lost response) is left to
    /// land before it is looked up: longer than --attempt-timeout plus what a slow
    /// server or proxy may hold a request.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub(crate) settle_delay: std::time::Duration,
    /// Deadline of one HTTP attempt.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub(crate) attempt_timeout: std::time::Duration,
    /// Longest Retry-After to wait for; above it the import stops, resumable.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub(crate) max_wait: std::time::Duration,
    /// Delete the duplicates the final verification finds (the newer users this import
    /// created or may have created), journaled; others' users are only reported.
    #[arg(long)]
    pub(crate) repair: bool,
    /// Also import records with no lookup key (no external_id, email, phone, username
    /// or web3 wallet): those are imported at most once, not exactly once.
    #[arg(long)]
    pub(crate) allow_unkeyed: bool,
    /// Where conflicting records go (default: FILE.conflicts.jsonl).
    #[arg(long, value_name = "FILE")]
    pub(crate) conflicts_out: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) connect: ConnectArgs,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

pub(crate) fn sibling(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(suffix);
    file.with_file_name(name)
}

/// Length and modification time: a file that changes between the check and the
/// send (or while sending) stops the run.
fn stamp(path: &Path) -> std::io::Result<(u64, Option<std::time::SystemTime>)> {
    let meta = std::fs::metadata(path)?;
    Ok((meta.len(), meta.modified().ok()))
}

/// Records pulled by the run at most ahead of it.
const READ_AHEAD: usize = 1024;

pub(crate) async fn run(args: ImportArgs) -> CliResult<()> {
    let shard = args.shard.unwrap_or_default();
    let suffix = |what: &str| match args.shard {
        Some(s) => format!(".shard-{}-of-{}.{what}", s.index(), s.count()),
        None => format!(".{what}"),
    };
    let checkpoint = args
        .checkpoint
        .clone()
        .unwrap_or_else(|| sibling(&args.file, &suffix("checkpoint.jsonl")));
    // Scratch files (a sort spilled to disk) go next to the checkpoint.
    let scratch_dir = match checkpoint.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let cannot_read =
        |e: std::io::Error| CliError::usage(format!("cannot read {}: {e}", args.file.display()));
    let stamped = stamp(&args.file).map_err(cannot_read)?;
    // Every shard validates the whole file (an identifier used twice is a problem
    // wherever its records land), then sends its own records.
    let file = args.file.clone();
    let format = args.format;
    let dir = scratch_dir.clone();
    let checked = tokio::task::spawn_blocking(move || check_file(&file, format, &dir, shard))
        .await
        .map_err(|e| CliError::failure(e.to_string()))?
        .map_err(cannot_read)?;
    let format = checked.layout.format;
    let json = args.output.json;
    let problem_count = checked.problems.total();
    let invalid_records = checked.invalid_records();
    let records = checked.records + checked.unreadable;
    let (valid, in_shard) = (checked.valid, checked.in_shard);
    let (unkeyed, unkeyed_lines) = (checked.unkeyed, checked.unkeyed_lines.clone());
    let mut checked = checked;
    let problems = std::mem::take(&mut checked.problems).into_sorted();
    let checked = Arc::new(checked);
    if !json {
        for p in problems.iter().take(200) {
            tell!("{p}");
        }
        if problem_count > 200 {
            tell!("… and {} more problems", problem_count - 200);
        }
    }
    if args.dry_run {
        if json {
            let problems: Vec<Value> = problems
                .iter()
                .map(|p| json!({"line": p.line, "field": p.field, "message": p.message}))
                .collect();
            say!(
                "{}",
                json!({"format": format.to_string(), "records": records,
                       "valid": valid, "invalid": invalid_records, "problems": problems,
                       "problems_total": problem_count})
            );
        } else {
            say!(
                "{}: {} records ({format}), {} valid, {} with problems; nothing sent (dry run)",
                args.file.display(),
                thousands(records as u64),
                thousands(valid as u64),
                thousands(invalid_records as u64)
            );
        }
        return if problem_count == 0 {
            Ok(())
        } else {
            Err(CliError::quiet(1))
        };
    }
    if problem_count > 0 && !args.skip_invalid {
        return Err(CliError::usage(format!(
            "{problem_count} problem(s) in {invalid_records} record(s); nothing was sent. \
             Fix them, or pass --skip-invalid to import the valid records"
        )));
    }
    if unkeyed > 0 && !args.allow_unkeyed {
        let lines: Vec<String> = unkeyed_lines.iter().map(usize::to_string).collect();
        return Err(CliError::usage(format!(
            "{} record(s) have no lookup key (external_id, email, phone, username or web3 wallet), \
             line(s) {}{}: after a lost response or a kill they cannot be checked, so they could \
             be duplicated or lost. Add a key, or pass --allow-unkeyed to import them at most once",
            unkeyed,
            lines.join(", "),
            if unkeyed > 20 { ", …" } else { "" }
        )));
    }

    // Held until the run ends: another import of this file, even with another
    // checkpoint, would create its records twice.
    let _input_lock =
        crate::input_lock::lock(&args.file, args.shard.is_some()).map_err(CliError::usage)?;
    let latencies = Arc::new(Latencies::default());
    let clerk = args
        .connect
        .builder_timed(&latencies)
        .map_err(CliError::usage)?
        .attempt_timeout(args.attempt_timeout)
        .build()
        .map_err(|e| CliError::usage(format!("cannot build the Clerk client: {e}")))?;
    let (replay, writer) =
        journal::open(&checkpoint).map_err(|e| CliError::usage(e.to_string()))?;
    let quota_rps = args.connect.quota_rps();
    let progress = Progress::new(
        progress::wanted(json),
        Some(in_shard as u64),
        &clerk,
        quota_rps,
    );
    let options = Options {
        concurrency: args.connect.concurrency as usize,
        max_create_attempts: args.max_attempts,
        settle_delay: args.settle_delay,
        operation_timeout: OPERATION_TIMEOUT,
        max_wait: args.max_wait,
        repair: args.repair,
    };
    // The second pass reads the file as the run sends, a bounded window ahead.
    let items = send_pass(&args.file, &checked, shard, stamped);
    let summary = import::run(
        &clerk,
        items,
        &replay,
        Arc::new(writer),
        options,
        progress.ticks(),
    )
    .await
    .map_err(CliError::failure)?;
    progress.finish();
    let latency = latencies.p50_p99_ms();

    let failed_out = args
        .failed_out
        .clone()
        .unwrap_or_else(|| sibling(&args.file, &suffix("failed.jsonl")));
    let invalid_to_write = args.skip_invalid && invalid_records > 0;
    let failed_written = if summary.failures.is_empty() && !invalid_to_write {
        None
    } else {
        write_failed(
            &failed_out,
            &args.file,
            &checked,
            shard,
            &summary,
            args.skip_invalid,
        )
        .map_err(|e| CliError::failure(format!("cannot write {}: {e}", failed_out.display())))?
    };

    let conflicts_out = args
        .conflicts_out
        .clone()
        .unwrap_or_else(|| sibling(&args.file, &suffix("conflicts.jsonl")));
    let conflicts_written = if summary.conflicts.is_empty() {
        None
    } else {
        write_conflicts(&conflicts_out, &summary).map_err(|e| {
            CliError::failure(format!("cannot write {}: {e}", conflicts_out.display()))
        })?;
        Some(conflicts_out)
    };
    let unrepaired = summary.duplicates.iter().filter(|d| !d.deleted).count();
    let failed_total = summary.failed
        + summary.conflicts.len()
        + unrepaired
        + if args.skip_invalid {
            invalid_records
        } else {
            0
        };
    print_summary(
        &summary,
        latency,
        quota_rps,
        &args,
        Files {
            checkpoint: &checkpoint,
            failed: failed_written.as_deref(),
            conflicts: conflicts_written.as_deref(),
        },
        invalid_records,
    );
    if failed_total > 0 {
        Err(CliError::quiet(1))
    } else {
        Ok(())
    }
}

/// Writes one JSON line per conflicting record: its line, key, the user that
/// matched and which of the record's identifiers that user does not have. Keys
/// are users' emails and phones: owner-only, like the failed file.
fn write_conflicts(path: &Path, summary: &Summary) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(clerk_migrate::files::create_private(path)?);
    for c in &summary.conflicts {
        let line = json!({"line": c.line, "key": c.key, "user_id": c.user_id, "fields": c.fields});
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Writes the failed records' bodies, in input order, as JSON Lines: the run's
/// failures, and with `--skip-invalid` the invalid records of this shard (read from
/// the input again). `None` when there was nothing to write.
fn write_failed(
    path: &Path,
    input: &Path,
    checked: &Checked,
    shard: Shard,
    summary: &Summary,
    skip_invalid: bool,
) -> std::io::Result<Option<PathBuf>> {
    let mut failures = summary.failures.iter().peekable();
    let mut out: Option<std::io::BufWriter<std::fs::File>> = None;
    let mut write = |body: &Value| -> std::io::Result<()> {
        let out = match &mut out {
            Some(out) => out,
            None => out.insert(std::io::BufWriter::new(
                clerk_migrate::files::create_private(path)?,
            )),
        };
        serde_json::to_writer(&mut *out, body)?;
        out.write_all(b"\n")
    };
    if skip_invalid && !checked.invalid.is_empty() {
        let records = Records::reopen(input, &checked.layout)?;
        for record in accepted(records, checked, shard) {
            let Accepted::Invalid { index, body } = record? else {
                continue;
            };
            while let Some(f) = failures.next_if(|f| f.index < index) {
                write(&f.body)?;
            }
            write(&Value::Object(body))?;
        }
    }
    for f in failures {
        write(&f.body)?;
    }
    match out {
        Some(mut out) => {
            out.flush()?;
            Ok(Some(path.to_owned()))
        }
        None => Ok(None),
    }
}

/// The records the run sends, read from `path` on a thread of their own as the run
/// pulls them ([`READ_AHEAD`] at most ahead), stopping the run if the file changes.
fn send_pass(
    path: &Path,
    checked: &Arc<Checked>,
    shard: Shard,
    stamped: (u64, Option<std::time::SystemTime>),
) -> impl futures_util::Stream<Item = Result<Item, String>> + use<> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Item, String>>(READ_AHEAD);
    let tx_err = tx.clone();
    let (path, checked) = (path.to_owned(), Arc::clone(checked));
    let read = move || -> Result<(), String> {
        let shown = path.display();
        let changed = || format!("{shown} changed since it was checked; rerun to check it again");
        if stamp(&path).map_err(|e| format!("reading {shown}: {e}"))? != stamped {
            return Err(changed());
        }
        let records =
            Records::reopen(&path, &checked.layout).map_err(|e| format!("reading {shown}: {e}"))?;
        for (n, record) in accepted(records, &checked, shard).enumerate() {
            if n % 10_000 == 9_999 && stamp(&path).ok() != Some(stamped) {
                return Err(changed());
            }
            match record.map_err(|e| format!("reading {shown}: {e}"))? {
                Accepted::Item(item) => {
                    if tx.blocking_send(Ok(item)).is_err() {
                        return Ok(());
                    }
                }
                Accepted::Invalid { .. } => {}
            }
        }
        if stamp(&path).ok() != Some(stamped) {
            return Err(changed());
        }
        Ok(())
    };
    std::thread::spawn(move || {
        if let Err(why) = read() {
            let _ = tx_err.blocking_send(Err(why));
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) })
}

/// The files a run wrote.
struct Files<'a> {
    checkpoint: &'a Path,
    failed: Option<&'a Path>,
    conflicts: Option<&'a Path>,
}

fn print_summary(
    s: &Summary,
    (p50_ms, p99_ms): (f64, f64),
    quota_rps: Option<f64>,
    args: &ImportArgs,
    files: Files<'_>,
    invalid: usize,
) {
    let Files {
        checkpoint,
        failed: failed_file,
        conflicts: conflicts_file,
    } = files;
    let json = args.output.json;
    let by_code: BTreeMap<String, usize> = s.failed_by_code();
    let achieved = s.achieved_rps();
    let (utilization, short_burst) =
        crate::report::QuotaUse::json(quota_rps.map(|q| crate::report::QuotaUse::of(achieved, q)));
    if json {
        let out = json!({
            "file": args.file.display().to_string(),
            "shard": args.shard.map(|s| s.to_string()),
            "records": s.total,
            "skipped_done_before": s.skipped,
            "created": s.created,
            "already_present": s.already_present,
            "failed": s.failed,
            "invalid": if args.skip_invalid { invalid } else { 0 },
            "failed_by_code": by_code,
            "conflicts": s.conflicts.len(),
            "verified": s.verified,
            "duplicates": s.duplicates.iter().map(|d| d.extra.len()).sum::<usize>(),
            "duplicates_deleted": s.duplicates.iter().filter(|d| d.deleted).map(|d| d.extra.len()).sum::<usize>(),
            "duplicates_not_ours": s.duplicates.iter().map(|d| d.not_ours.len()).sum::<usize>(),
            "verified_created": s.verified_created,
            "unkeyed": s.unkeyed,
            "requests": s.requests,
            "retries": s.retries,
            "http_429": s.http_429,
            "lookups": s.lookups,
            "wall_s": s.wall.as_secs_f64(),
            "achieved_rps": achieved,
            "quota_rps": quota_rps,
            "utilization": utilization,
            "short_burst": short_burst,
            "p50_ms": p50_ms,
            "p99_ms": p99_ms,
            "checkpoint": checkpoint.display().to_string(),
            "failed_file": failed_file.map(|p| p.display().to_string()),
            "conflicts_file": conflicts_file.map(|p| p.display().to_string()),
        });
        say!("{out}");
        return;
    }
    say!("imported {} in {}", args.file.display(), human(s.wall));
    say!("  created          {:>10}", thousands(s.created as u64));
    say!(
        "  already present  {:>10}",
        thousands(s.already_present as u64)
    );
    say!("  failed           {:>10}", thousands(s.failed as u64));
    for (code, n) in &by_code {
        say!("    {code}: {}", thousands(*n as u64));
    }
    if !s.conflicts.is_empty() {
        say!(
            "  conflicts        {:>10}  (a user holds the key but differs; nothing changed)",
            thousands(s.conflicts.len() as u64)
        );
        for c in s.conflicts.iter().take(20) {
            say!(
                "    line {}: {:?} matched {} ({} differ)",
                c.line,
                c.key,
                c.user_id,
                c.fields.join(", ")
            );
        }
    }
    if s.skipped > 0 {
        say!(
            "  done before      {:>10}  (skipped, per the checkpoint)",
            thousands(s.skipped as u64)
        );
    }
    if args.skip_invalid && invalid > 0 {
        say!(
            "  invalid          {:>10}  (not sent)",
            thousands(invalid as u64)
        );
    }
    say!(
        "requests {} · retries {} · 429s {} · reconciliation lookups {}",
        thousands(s.requests),
        thousands(s.retries),
        thousands(s.http_429),
        thousands(s.lookups)
    );
    say!(
        "{}",
        crate::report::rate_line(s.requests, achieved, quota_rps)
    );
    say!("request latency p50 {p50_ms:.1} ms · p99 {p99_ms:.1} ms");
    for f in s.failures.iter().take(20) {
        say!("  line {}: {}", f.line, f.message);
    }
    let extra: usize = s.duplicates.iter().map(|d| d.extra.len()).sum();
    let not_ours: usize = s.duplicates.iter().map(|d| d.not_ours.len()).sum();
    say!(
        "verified {} ambiguous records{}: {} duplicates{}",
        thousands(s.verified as u64),
        if s.verified_created > 0 {
            format!(" and {} created", thousands(s.verified_created as u64))
        } else {
            String::new()
        },
        extra,
        if extra > 0 && s.duplicates.iter().all(|d| d.deleted) {
            " (the newer ones deleted: --repair)"
        } else if extra > 0 && not_ours == extra {
            " (not created by this import: left for a human)"
        } else if extra > 0 && args.repair {
            " (the newer ones this import created deleted: --repair; the others left for a human)"
        } else if extra > 0 {
            " (rerun with --repair to delete the newer ones this import created)"
        } else {
            ""
        }
    );
    for d in s.duplicates.iter().take(20) {
        say!(
            "  line {}: {:?} kept {}, extra {}{}",
            d.line,
            d.key,
            d.kept,
            d.extra.join(", "),
            if d.not_ours.is_empty() {
                String::new()
            } else {
                format!(
                    "; not created by this import, a conflict for a human: {}",
                    d.not_ours.join(", ")
                )
            }
        );
    }
    if s.unkeyed > 0 {
        say!(
            "{} records without a lookup key were imported at most once, not exactly once (--allow-unkeyed)",
            thousands(s.unkeyed as u64)
        );
    }
    say!("checkpoint {}", checkpoint.display());
    if let Some(path) = conflicts_file {
        say!("conflicts written to {}", path.display());
    }
    if let Some(path) = failed_file {
        say!(
            "failed records written to {} (fix them and import that file)",
            path.display()
        );
    }
}
