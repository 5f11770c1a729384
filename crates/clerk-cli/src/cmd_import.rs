//! `clerk-users import FILE`.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use clerk_tower::users::CreateUser;
use serde_json::{Value, json};

use crate::args::{ConnectArgs, OutputArgs};
use crate::input::{self, Format, Record};
use crate::progress::{self, Progress};
use crate::report::{Latencies, human, thousands};
use crate::terminal::{say, tell};
use crate::validate::{Problem, Validator};
use crate::{CliError, CliResult};
use clerk_migrate::import::{self, Item, Options, Summary};
use clerk_migrate::journal::{self, JournalWriter, Loaded};
use clerk_migrate::record::{Lookup, record_key};
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

/// Validated input: the records to send, and the problems of the others.
pub(crate) struct Prepared {
    /// Records read, valid or not (the unreadable ones are counted apart).
    pub(crate) total: usize,
    /// The records with problems, kept for the failed-records file.
    pub(crate) invalid_records: Vec<Record>,
    /// The valid records as requests, in input order.
    pub(crate) items: Vec<Item>,
    pub(crate) problems: Vec<Problem>,
    /// Indexes of records that have problems.
    pub(crate) invalid: HashSet<usize>,
    pub(crate) unreadable: usize,
}

/// Validates records and turns the valid ones into requests.
pub(crate) fn prepare(input: input::Input) -> Prepared {
    let mut problems: Vec<Problem> = input
        .problems
        .iter()
        .map(|p| Problem {
            line: p.line,
            field: p.field.clone(),
            message: p.message.clone(),
        })
        .collect();
    let unreadable = input.problems.len();
    let mut validator = Validator::default();
    let mut invalid = HashSet::new();
    let mut invalid_records = Vec::new();
    let total = input.records.len();
    let mut items = Vec::with_capacity(total);
    // Each record is decoded once here (validation, key, lookup, request check) and
    // again when it is sent; its compact body moves into its item, so a million
    // records are held once.
    for record in input.records {
        let map = record.body.to_map();
        let before = problems.len();
        validator.check(record.line, &map, &mut problems);
        if problems.len() > before {
            invalid.insert(record.index);
            invalid_records.push(record);
            continue;
        }
        let key = record_key(&map);
        let lookup = Lookup::for_body(&map);
        let (index, line) = (record.index, record.line);
        match serde_json::from_value::<CreateUser>(Value::Object(map)) {
            Ok(_) => items.push(Item {
                index,
                line,
                key,
                body: record.body,
                lookup,
            }),
            Err(err) => {
                invalid.insert(index);
                problems.push(Problem {
                    line,
                    field: None,
                    message: err.to_string(),
                });
            }
        }
    }
    problems.sort_by_key(|p| p.line);
    Prepared {
        total,
        invalid_records,
        items,
        problems,
        invalid,
        unreadable,
    }
}

/// Checks that the journal belongs to this input: every record it lists is a valid
/// record of the input with the same key (`items` are in input order).
pub(crate) fn check_journal(loaded: &Loaded, items: &[Item], path: &Path) -> CliResult<()> {
    for entry in loaded.entries.values() {
        let matches = items
            .binary_search_by_key(&entry.record, |item| item.index)
            .is_ok_and(|at| items[at].key == entry.key);
        if !matches {
            return Err(CliError::usage(format!(
                "checkpoint {} does not match this input (record {} has another key than {:?}): \
                 use the input it was made for, or another --checkpoint",
                path.display(),
                entry.record,
                entry.key
            )));
        }
    }
    Ok(())
}

pub(crate) async fn run(args: ImportArgs) -> CliResult<()> {
    let input = input::read_file(&args.file, args.format)
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", args.file.display())))?;
    let format = input.format.unwrap_or(Format::Auto);
    let mut prepared = prepare(input);
    let json = args.output.json;
    let problem_count = prepared.problems.len();
    if !json {
        for p in prepared.problems.iter().take(200) {
            tell!("{p}");
        }
        if problem_count > 200 {
            tell!("… and {} more problems", problem_count - 200);
        }
    }
    let invalid_records = prepared.invalid.len() + prepared.unreadable;
    if args.dry_run {
        if json {
            let problems: Vec<Value> = prepared
                .problems
                .iter()
                .map(|p| json!({"line": p.line, "field": p.field, "message": p.message}))
                .collect();
            say!(
                "{}",
                json!({"format": format.to_string(), "records": prepared.total + prepared.unreadable,
                       "valid": prepared.items.len(), "invalid": invalid_records, "problems": problems})
            );
        } else {
            say!(
                "{}: {} records ({format}), {} valid, {} with problems; nothing sent (dry run)",
                args.file.display(),
                thousands((prepared.total + prepared.unreadable) as u64),
                thousands(prepared.items.len() as u64),
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

    // Every shard validates the whole file (an identifier used twice is a problem
    // wherever its records land), then keeps its own records.
    let shard = args.shard.unwrap_or_default();
    prepared.items.retain(|item| shard.contains(&item.key));
    prepared
        .invalid_records
        .retain(|r| shard.contains(&record_key(&r.body.to_map())));
    let suffix = |what: &str| match args.shard {
        Some(s) => format!(".shard-{}-of-{}.{what}", s.index(), s.count()),
        None => format!(".{what}"),
    };

    let latencies = Arc::new(Latencies::default());
    let clerk = args
        .connect
        .client_timed(&latencies)
        .map_err(CliError::usage)?;
    let checkpoint = args
        .checkpoint
        .clone()
        .unwrap_or_else(|| sibling(&args.file, &suffix("checkpoint.jsonl")));
    let loaded = journal::load(&checkpoint).map_err(|e| CliError::usage(e.to_string()))?;
    check_journal(&loaded, &prepared.items, &checkpoint)?;
    let writer = Arc::new(JournalWriter::open(&checkpoint).map_err(|e| {
        CliError::usage(format!(
            "cannot open checkpoint {}: {e}",
            checkpoint.display()
        ))
    })?);
    let quota_rps = args.connect.quota_rps();
    let progress = Progress::new(
        progress::wanted(json),
        Some(prepared.items.len() as u64),
        &clerk,
        quota_rps,
    );
    let options = Options {
        concurrency: args.connect.concurrency as usize,
        max_create_attempts: args.max_attempts,
    };
    let summary = import::run(
        &clerk,
        prepared.items,
        &loaded,
        writer,
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
    let mut failed: Vec<(usize, &Value)> = summary
        .failures
        .iter()
        .map(|f| (f.index, &f.body))
        .collect();
    let invalid_bodies: Vec<(usize, Value)> = if args.skip_invalid {
        prepared
            .invalid_records
            .iter()
            .map(|r| (r.index, Value::Object(r.body.to_map())))
            .collect()
    } else {
        Vec::new()
    };
    failed.extend(invalid_bodies.iter().map(|(index, body)| (*index, body)));
    failed.sort_unstable_by_key(|(index, _)| *index);
    let failed_written = if failed.is_empty() {
        None
    } else {
        write_failed(&failed_out, &failed).map_err(|e| {
            CliError::failure(format!("cannot write {}: {e}", failed_out.display()))
        })?;
        Some(failed_out)
    };

    let failed_total = summary.failed
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
        &checkpoint,
        failed_written.as_deref(),
        invalid_records,
    );
    if failed_total > 0 {
        Err(CliError::quiet(1))
    } else {
        Ok(())
    }
}

/// Writes the failed records' bodies, in input order, as JSON Lines.
fn write_failed(path: &Path, failed: &[(usize, &Value)]) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(clerk_migrate::files::create_private(path)?);
    for (_, body) in failed {
        serde_json::to_writer(&mut out, body)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

fn print_summary(
    s: &Summary,
    (p50_ms, p99_ms): (f64, f64),
    quota_rps: Option<f64>,
    args: &ImportArgs,
    checkpoint: &Path,
    failed_file: Option<&Path>,
    invalid: usize,
) {
    let json = args.output.json;
    let by_code: BTreeMap<String, usize> = s.failed_by_code();
    let achieved = s.achieved_rps();
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
            "requests": s.requests,
            "retries": s.retries,
            "http_429": s.http_429,
            "lookups": s.lookups,
            "wall_s": s.wall.as_secs_f64(),
            "achieved_rps": achieved,
            "quota_rps": quota_rps,
            "utilization": quota_rps.map(|q| achieved / q),
            "p50_ms": p50_ms,
            "p99_ms": p99_ms,
            "checkpoint": checkpoint.display().to_string(),
            "failed_file": failed_file.map(|p| p.display().to_string()),
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
    match quota_rps {
        _ if s.requests == 0 => say!("rate: no request sent"),
        // The limiter's small burst lets a run shorter than one quota window go
        // faster than the average rate; no window ever holds more than the quota.
        Some(q) if achieved > q => {
            say!("rate {achieved:.1} req/s: a short burst, within the {q:.0} req/s quota's window")
        }
        Some(q) => say!(
            "rate {achieved:.1} req/s of {q:.0} req/s quota ({:.1} %)",
            100.0 * achieved / q
        ),
        None => say!("rate {achieved:.1} req/s (no rate limit)"),
    }
    say!("request latency p50 {p50_ms:.1} ms · p99 {p99_ms:.1} ms");
    for f in s.failures.iter().take(20) {
        say!("  line {}: {}", f.line, f.message);
    }
    say!("checkpoint {}", checkpoint.display());
    if let Some(path) = failed_file {
        say!(
            "failed records written to {} (fix them and import that file)",
            path.display()
        );
    }
}
