// Over 600 lines on purpose: the exactly-once create loop (resume, send, settle, reconcile,
// verify) is one sequence whose steps share the run's state; record, journal and lookups
// are their own modules.
//! The import engine: creates every record exactly once, through a bounded window of
//! creates in flight sharing one rate-limited client, the [checkpoint
//! journal](crate::journal) and reconciliation by lookup key. Records are pulled from
//! a `Stream` as the window has room (a file is read as it is sent, never held), and
//! the memory a run takes does not grow with the number of records: what it keeps
//! is the window, the records settling (at most a settle delay's worth), and the
//! failures and conflicts it reports; records in doubt wait for the final
//! verification in a scratch file next to the journal.
//!
//! 1. **Resume.** Records the journal lists as done are skipped. Records a killed
//!    run had sent without an outcome are *in doubt*: their create may still land,
//!    so nothing happens to them until it no longer can (the settle delay after the
//!    latest moment it was sent).
//! 2. **Reconcile first.** Every other record with a lookup key is looked up before
//!    it is created (500 records read ahead at a time, ≤ 100 values and ≤ 7 KB of
//!    URL per list call, 8 calls at once), on a fresh checkpoint too: an instance that already holds some records gets
//!    no duplicates. A found user counts as *already present* only if it agrees on
//!    every identifier of the record; otherwise the record is a **conflict**, reported
//!    and left alone.
//! 3. **Create.** A `sent` entry is journaled before each create. A create that
//!    fails with [`Applied::No`] (429, no connection) is sent again after the wait;
//!    a 422 `form_identifier_exists` is looked up at once (agree: already present,
//!    else conflict); any other 4xx fails. A create that **may have been applied**
//!    ([`Applied::may_have`]: timeout, reset, 5xx, lost response, a 2xx with an
//!    unreadable body) is never resent at once: it waits for the settle delay (past
//!    the attempt timeout, so an attempt still on its way has landed) while the
//!    other records go on, is looked up, and only if nothing is found is it created
//!    again (a bounded number of rounds).
//! 4. **Verify.** At the end every record that went through an ambiguous path, and
//!    every record this run created, is looked up again (in batches, as in step 2:
//!    about one request per 100 records) and must match exactly one agreeing user:
//!    a duplicate someone else created while this run was going (another run from a
//!    copy of the file, another tool) is found too. Duplicates are reported; with
//!    [`Options::repair`] the newer ones **this import may have created** are deleted
//!    and journaled: the user whose id this run journaled as created, or, for a record
//!    that went through an ambiguous create, a user created between its first create
//!    and the moment that create could no longer land (its settle delay). Any other
//!    extra user is someone else's: left alone and reported for a human.
//!
//! Records without any lookup key ([`Lookup::None`]) cannot be reconciled: one that
//! fails ambiguously is reported failed, never resent — at most once, not exactly once.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clerk_core::{Applied, Error, User};
use clerk_tower::Clerk;
use clerk_tower::users::{CreateUser, ListUsers};
use futures_util::stream::{FuturesUnordered, Stream, StreamExt};
use serde_json::{Map, Value};

use crate::files::{self, Scratch};
use crate::human;
use crate::journal::{Entry, JournalWriter, Outcome, Replay};
use crate::record::{Body, Lookup, MAX_LOOKUP_URL, disagreements};

/// Where the engine reports progress (a progress bar, a log line, nothing).
pub trait Progress: Send + Sync {
    /// Records already done before this run started.
    fn set_position(&self, done: u64) {
        let _ = done;
    }
    /// `n` more records done.
    fn inc(&self, n: u64) {
        let _ = n;
    }
    /// The run is waiting, and why (`None`: no longer waiting).
    fn waiting(&self, why: Option<&str>) {
        let _ = why;
    }
}

/// Reports nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// One record ready to send (validated; its body decodes into a `CreateUser`).
#[derive(Debug)]
pub struct Item {
    /// Position in the input, from 0.
    pub index: usize,
    /// 1-based line of the input the record starts on (for reports).
    pub line: usize,
    /// The record's identity in the journal ([`Lookup::identity`]).
    pub key: String,
    /// The record's [`fingerprint`](crate::record::fingerprint).
    pub fingerprint: u64,
    /// The create body.
    pub body: Body,
    /// How the record is found on the server.
    pub lookup: Lookup,
}

impl Item {
    /// An item for the record at `index` (line `line`) with this body.
    pub fn new(index: usize, line: usize, map: Map<String, Value>) -> Self {
        let lookup = Lookup::for_body(&map);
        Self {
            index,
            line,
            key: lookup.identity(&map),
            fingerprint: crate::record::fingerprint(&map),
            lookup,
            body: Body::from_map(map),
        }
    }
}

/// Knobs of one import run.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Workers (creates in flight at most).
    pub concurrency: usize,
    /// Creates of one record at most (after reconciling that the previous did nothing).
    pub max_create_attempts: u32,
    /// How long after an ambiguous failure a record is looked up: longer than the
    /// attempt timeout plus the time a server or proxy may still hold a request.
    pub settle_delay: Duration,
    /// The client's operation timeout: a create journaled `sent` went out at most
    /// this long after.
    pub operation_timeout: Duration,
    /// Longest `Retry-After` the run waits for; above it the run stops, resumable.
    pub max_wait: Duration,
    /// Delete the newer duplicates the verification finds.
    pub repair: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            concurrency: 32,
            max_create_attempts: 8,
            settle_delay: Duration::from_secs(30),
            operation_timeout: Duration::from_secs(60),
            max_wait: Duration::from_secs(30),
            repair: false,
        }
    }
}

/// One failed record.
#[derive(Clone, Debug)]
pub struct Failure {
    /// Position of the record in the input.
    pub index: usize,
    /// Line of the record in the input.
    pub line: usize,
    /// Clerk's error code, else the error type.
    pub code: String,
    /// The error, as text.
    pub message: String,
    /// The create body, for the failed-records file (`import` reads it back).
    pub body: Value,
}

/// A record a user on the server holds the key or identifiers of, but disagrees with.
#[derive(Clone, Debug)]
pub struct Conflict {
    /// Position of the record in the input.
    pub index: usize,
    /// Line of the record in the input.
    pub line: usize,
    /// The record's identity.
    pub key: String,
    /// The user that matched.
    pub user_id: String,
    /// The record's identifiers the user does not have.
    pub fields: Vec<&'static str>,
}

/// A record the verification found more than one user for.
#[derive(Clone, Debug)]
pub struct Duplicate {
    /// Line of the record in the input.
    pub line: usize,
    /// The record's identity.
    pub key: String,
    /// The user kept (the oldest).
    pub kept: String,
    /// The others (newer).
    pub extra: Vec<String>,
    /// Whether the extra ones were all deleted ([`Options::repair`]).
    pub deleted: bool,
    /// Extra users this import did not create (neither journaled as created by this
    /// run nor created while one of its ambiguous creates could land): never deleted,
    /// even with [`Options::repair`]; a human decides.
    pub not_ours: Vec<String>,
}

/// What an import run did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Records considered (valid records of the input).
    pub total: usize,
    /// Done by an earlier run, per the journal.
    pub skipped: usize,
    /// Users this run created.
    pub created: usize,
    /// Records found on the server instead of created.
    pub already_present: usize,
    /// Records that failed.
    pub failed: usize,
    /// The failed records, in input order.
    pub failures: Vec<Failure>,
    /// The conflicting records, in input order.
    pub conflicts: Vec<Conflict>,
    /// Records that went through an ambiguous path and were verified at the end.
    pub verified: usize,
    /// Records this run created without ambiguity, verified at the end too (a
    /// duplicate someone else created meanwhile is found).
    pub verified_created: usize,
    /// Duplicates the verification found.
    pub duplicates: Vec<Duplicate>,
    /// Records without a lookup key that were sent (not exactly-once).
    pub unkeyed: usize,
    /// HTTP requests sent (every attempt, lookups included).
    pub requests: u64,
    /// Attempts after the first (by the retry layer, and creates resent after reconciling).
    pub retries: u64,
    /// 429 answers received.
    pub http_429: u64,
    /// Lookups made to reconcile.
    pub lookups: u64,
    /// Wall time of the run.
    pub wall: Duration,
    /// Of which spent waiting for ambiguous creates to settle.
    pub settling: Duration,
}

impl Summary {
    /// Failures grouped by Clerk error code.
    pub fn failed_by_code(&self) -> BTreeMap<String, usize> {
        let mut by = BTreeMap::new();
        for f in &self.failures {
            *by.entry(f.code.clone()).or_insert(0) += 1;
        }
        by
    }

    /// Requests per second over the run, the settle waits left out (nothing is
    /// sent while ambiguous creates settle).
    pub fn achieved_rps(&self) -> f64 {
        let secs = self.wall.saturating_sub(self.settling).as_secs_f64();
        if secs > 0.0 {
            self.requests as f64 / secs
        } else {
            0.0
        }
    }
}

/// State shared by the tasks of one run.
struct Run<'a> {
    clerk: &'a Clerk,
    journal: &'a JournalWriter,
    options: Options,
    progress: &'a dyn Progress,
    created: AtomicUsize,
    already_present: AtomicUsize,
    resent: AtomicU64,
    lookups: AtomicU64,
    settling_ms: AtomicU64,
    failures: Mutex<Vec<Failure>>,
    conflicts: Mutex<Vec<Conflict>>,
    /// Why the run stopped early (journal error, a wait over the cap).
    stop: Mutex<Option<String>>,
    /// The records to verify at the end (on disk).
    log: Mutex<VerifyLog>,
}

/// A record on its way through the run.
struct Work {
    item: Item,
    /// Create rounds so far (a round ends when an ambiguous create has settled).
    round: u32,
    /// Whether it went through an ambiguous path: a killed run left it in flight, or
    /// a create of this run may have been applied. Verified at the end.
    in_doubt: bool,
    /// Unix ms of the first create of the record this checkpoint knows of.
    first_sent: Option<u64>,
    /// Unix ms by which every ambiguous create of the record has landed, if at all
    /// (its settle point).
    lands_by: Option<u64>,
}

/// What reconciling a record against the users found for it concluded.
enum Verdict {
    Present(String),
    Conflict(String, Vec<&'static str>),
    Absent,
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn code_of(err: &Error) -> String {
    err.clerk_errors()
        .first()
        .map_or_else(|| err.error_type().into_owned(), |e| e.code.clone())
}

/// Records read ahead of the creates, looked up in one go (≤ 100 values per call).
const RECONCILE_BATCH: usize = 500;

/// List calls of one batch of lookups in flight at once.
const LOOKUPS_IN_FLIGHT: usize = 8;

/// Records verified at the end per round of lookups (20 list calls of 100, so the
/// [`LOOKUPS_IN_FLIGHT`] stay busy).
const VERIFY_BATCH: usize = 2_000;

/// Looked-up records waiting for a create slot at most, before the input is read on.
const READY_AHEAD: usize = 1_024;

/// Reads of one lookup at most when its 2xx answers cannot be decoded, or every
/// attempt of the retry layer met a transient failure (5xx, no connection, timeout).
const LOOKUP_ATTEMPTS: u32 = 4;

/// What the progress shows while ambiguous creates settle: how many, and how long
/// until the first is looked up (`400 ms`, `4.6 s`: a sub-second wait is not `0 s`).
fn settling_message(creates: usize, left: Duration) -> String {
    let (settle, it) = if creates == 1 {
        ("create settles", "it is")
    } else {
        ("creates settle", "they are")
    };
    format!(
        "{creates} ambiguous {settle} before {it} looked up ({})",
        human::duration(left)
    )
}

/// Imports the valid records `items` yields, in a bounded window: records are pulled
/// from the stream as the creates need them, never collected. An `Err` from the
/// stream stops the run (resumable). See the [module docs](self).
pub async fn run<S>(
    clerk: &Clerk,
    items: S,
    replay: &Replay,
    journal: Arc<JournalWriter>,
    options: Options,
    progress: Arc<dyn Progress>,
) -> Result<Summary, String>
where
    S: Stream<Item = Result<Item, String>>,
{
    let started = Instant::now();
    let before = clerk.metrics();
    let run = Run {
        clerk,
        journal: &journal,
        options,
        progress: &*progress,
        created: AtomicUsize::new(0),
        already_present: AtomicUsize::new(0),
        resent: AtomicU64::new(0),
        lookups: AtomicU64::new(0),
        settling_ms: AtomicU64::new(0),
        failures: Mutex::new(Vec::new()),
        conflicts: Mutex::new(Vec::new()),
        stop: Mutex::new(None),
        log: Mutex::new(VerifyLog::new(journal.path())),
    };

    // 1. Records a killed run left in flight settle before anything is decided.
    if let Some(sent) = replay.latest_in_flight {
        let now_ms = unix_ms();
        let sent_by = now_ms.min(sent.saturating_add(millis(options.operation_timeout)));
        let settle_until = sent_by.saturating_add(millis(options.settle_delay));
        if settle_until > now_ms {
            let wait = Duration::from_millis(settle_until - now_ms);
            run.settling_ms.fetch_add(settle_until - now_ms, Relaxed);
            run.wait(
                wait,
                &format!(
                    "{} records a previous run left in flight settle ({} s)",
                    replay.in_flight,
                    wait.as_secs()
                ),
            )
            .await;
        }
    }

    let total = AtomicUsize::new(0);
    let skipped = AtomicUsize::new(0);
    let unkeyed = AtomicUsize::new(0);
    // How many looked-up records wait for a create slot, and the wake-up of the input
    // reader paused on it (see `ready` below).
    let ready_len = AtomicUsize::new(0);
    let ready_gate = tokio::sync::Notify::new();
    // The stream and the window borrow the run until the last create is done.
    {
        let run_ref = &run;
        let (total_ref, skipped_ref, unkeyed_ref) = (&total, &skipped, &unkeyed);
        let (ready_len_ref, ready_gate_ref) = (&ready_len, &ready_gate);
        // 2. Skip what is done, and look every other record up before creating it.
        let fresh = items
            // Read-ahead is bounded here, at the input, never by leaving the stream
            // unpolled: a lookup in it may hold the rate limiter's FIFO turn, and
            // creates queued behind that turn would wait for it forever.
            .then(move |item| async move {
                loop {
                    let woken = ready_gate_ref.notified();
                    if ready_len_ref.load(Relaxed) < READY_AHEAD {
                        break;
                    }
                    woken.await;
                }
                item
            })
            .take_while(move |_| futures_util::future::ready(run_ref.stopped().is_none()))
            .filter_map(move |item| {
                let work = match item {
                    Err(why) => {
                        run_ref.stop_with(why);
                        None
                    }
                    Ok(item) => {
                        total_ref.fetch_add(1, Relaxed);
                        match replay.state(&item.key) {
                            Err(err) => {
                                run_ref.stop_with(format!("reading the checkpoint: {err}"));
                                None
                            }
                            Ok(Some(state)) if state.outcome.is_some_and(Outcome::is_done) => {
                                skipped_ref.fetch_add(1, Relaxed);
                                run_ref.progress.inc(1);
                                None
                            }
                            Ok(state) => {
                                if item.lookup == Lookup::None {
                                    unkeyed_ref.fetch_add(1, Relaxed);
                                }
                                // Left in flight by a killed run: an ambiguous path, verified
                                // at the end whatever the lookup finds now. Its create went
                                // out at most an operation timeout after it was journaled.
                                let sent = state.and_then(|s| s.in_flight_since);
                                Some(Work {
                                    item,
                                    round: 1,
                                    in_doubt: sent.is_some(),
                                    first_sent: sent,
                                    lands_by: sent.map(|at| {
                                        at.saturating_add(millis(options.operation_timeout))
                                            .saturating_add(millis(options.settle_delay))
                                    }),
                                })
                            }
                        }
                    }
                };
                futures_util::future::ready(work)
            })
            .chunks(RECONCILE_BATCH)
            .map(move |batch| run_ref.settle(batch, true))
            .buffered(2)
            .flat_map(|absent| futures_util::stream::iter(absent.unwrap_or_default()));
        // Dropped when the run stops (see the loop).
        let mut fresh = std::pin::pin!(Some(fresh.fuse()));

        // 3. Create within the window; an ambiguous create settles, is looked up, and is
        //    created again only if absent.
        let concurrency = options.concurrency.max(1);
        let mut creating = FuturesUnordered::new();
        let mut looking: FuturesUnordered<_> = FuturesUnordered::new();
        let mut retry: VecDeque<Work> = VecDeque::new();
        // Looked up and absent, waiting for a create slot. `fresh` is polled whenever
        // the loop waits, whatever this holds (see the read-ahead bound above).
        let mut ready: VecDeque<Work> = VecDeque::new();
        let mut settling: VecDeque<(tokio::time::Instant, Work)> = VecDeque::new();
        let mut fresh_done = false;
        loop {
            let stopped = run.stopped().is_some();
            if stopped {
                // A stopped run reads and looks up nothing more, and a lookup left in the
                // stream unpolled could own the limiter's turn, which the creates still in
                // flight wait for: dropping it lets go of the turn.
                fresh.set(None);
            }
            while !stopped && creating.len() < concurrency {
                let Some(work) = retry.pop_front().or_else(|| ready.pop_front()) else {
                    break;
                };
                creating.push(run.create_one(work));
            }
            if stopped && creating.is_empty() && looking.is_empty() {
                break;
            }
            ready_len.store(ready.len(), Relaxed);
            if ready.len() < READY_AHEAD {
                ready_gate.notify_one();
            }
            if fresh_done
                && ready.is_empty()
                && creating.is_empty()
                && looking.is_empty()
                && retry.is_empty()
                && settling.is_empty()
            {
                break;
            }
            // Nothing to do but wait for ambiguous creates to settle.
            let idle = fresh_done
                && ready.is_empty()
                && creating.is_empty()
                && looking.is_empty()
                && retry.is_empty();
            let due = settling.front().map(|(at, _)| *at);
            let idle_since = Instant::now();
            if idle && let Some(at) = due {
                let left = at.saturating_duration_since(tokio::time::Instant::now());
                run.progress
                    .waiting(Some(&settling_message(settling.len(), left)));
            }
            tokio::select! {
                biased;
                Some(deferred) = creating.next(), if !creating.is_empty() => {
                    if let Some(mut work) = deferred {
                        // Every attempt of this create went out before now: it lands, if
                        // at all, within the settle delay.
                        work.in_doubt = true;
                        work.lands_by = Some(unix_ms().saturating_add(millis(options.settle_delay)));
                        let at = tokio::time::Instant::now() + options.settle_delay;
                        settling.push_back((at, work));
                    }
                }
                Some(absent) = looking.next(), if !looking.is_empty() => {
                    let absent: Vec<Work> = absent?;
                    for mut work in absent {
                        if work.round >= options.max_create_attempts {
                            run.fail(&work, "outcome_unknown", "still absent after every attempt".into())
                                .await;
                        } else {
                            work.round += 1;
                            run.resent.fetch_add(1, Relaxed);
                            retry.push_back(work);
                        }
                    }
                }
                () = tokio::time::sleep_until(due.unwrap_or_else(tokio::time::Instant::now)),
                    if due.is_some() && looking.is_empty() && !stopped => {
                    if idle {
                        run.progress.waiting(None);
                        run.settling_ms.fetch_add(millis(idle_since.elapsed()), Relaxed);
                    }
                    let now = tokio::time::Instant::now();
                    let mut batch = Vec::new();
                    while batch.len() < RECONCILE_BATCH
                        && let Some((at, _)) = settling.front()
                        && *at <= now
                        && let Some((_, work)) = settling.pop_front()
                    {
                        batch.push(work);
                    }
                    looking.push(run.settle(batch, false));
                }
                next = async {
                    match fresh.as_mut().as_pin_mut() {
                        Some(mut fresh) => fresh.next().await,
                        None => None,
                    }
                }, if !fresh_done && !stopped => {
                    match next {
                        Some(work) => ready.push_back(work),
                        None => fresh_done = true,
                    }
                }
            }
        }
    }
    if let Some(why) = run.stopped() {
        return Err(format!(
            "stopped: {why}; rerun with the same --checkpoint to continue"
        ));
    }

    // 4. Verify every record that went through an ambiguous path or was created.
    let mut duplicates = Vec::new();
    let (mut verified, mut verified_created) = (0, 0);
    let log = std::mem::replace(
        &mut *run
            .log
            .lock()
            .map_err(|_| "reading a scratch file: poisoned".to_owned())?,
        VerifyLog::new(journal.path()),
    );
    let mut batches = log
        .read_back()
        .map_err(|e| format!("reading a scratch file: {e}"))?;
    loop {
        let batch = batches
            .next_batch(VERIFY_BATCH)
            .map_err(|e| format!("reading a scratch file: {e}"))?;
        if batch.is_empty() {
            break;
        }
        let ambiguous = batch.iter().filter(|c| c.in_doubt).count();
        verified += ambiguous;
        verified_created += batch.len() - ambiguous;
        duplicates.extend(run.verify(&batch).await?);
    }

    let after = clerk.metrics();
    let mut failures = run.failures.into_inner().unwrap_or_default();
    failures.sort_by_key(|f| f.index);
    let mut conflicts = run.conflicts.into_inner().unwrap_or_default();
    conflicts.sort_by_key(|c| c.index);
    Ok(Summary {
        total: total.into_inner(),
        skipped: skipped.into_inner(),
        created: run.created.load(Relaxed),
        already_present: run.already_present.load(Relaxed),
        failed: failures.len(),
        failures,
        conflicts,
        verified,
        verified_created,
        duplicates,
        unkeyed: unkeyed.into_inner(),
        requests: after.attempts.saturating_sub(before.attempts),
        retries: after.retries.saturating_sub(before.retries) + run.resent.load(Relaxed),
        http_429: after.rate_limited.saturating_sub(before.rate_limited),
        lookups: run.lookups.load(Relaxed),
        wall: started.elapsed(),
        settling: Duration::from_millis(run.settling_ms.load(Relaxed)),
    })
}

/// The records to verify at the end (those that went through an ambiguous path, and
/// those this run created), kept in a scratch file next to the journal (not in
/// memory: they can be every record). A line holds what verifying needs: the key, the
/// record's identifiers (not its whole body), the user id journaled as created, and
/// when its creates could land.
struct VerifyLog {
    dir: PathBuf,
    file: Option<(Scratch, BufWriter<File>)>,
}

impl VerifyLog {
    fn new(journal: &Path) -> Self {
        let dir = match journal.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => PathBuf::from("."),
        };
        Self { dir, file: None }
    }

    fn push(&mut self, work: &Work, created: Option<&str>) -> std::io::Result<()> {
        let item = &work.item;
        let out = match &mut self.file {
            Some((_, out)) => out,
            None => {
                let scratch = files::scratch(&self.dir, "verify")?;
                let out = BufWriter::new(scratch.file().try_clone()?);
                &mut self.file.insert((scratch, out)).1
            }
        };
        let mut identifiers = item.body.to_map();
        identifiers.retain(|field, _| IDENTIFIERS.contains(&field.as_str()));
        let line = serde_json::json!({
            "i": item.index, "l": item.line, "k": item.key, "f": item.fingerprint,
            "b": Value::Object(identifiers).to_string(), "d": work.in_doubt, "u": created,
            "s": work.first_sent, "e": work.lands_by,
        });
        serde_json::to_writer(&mut *out, &line)?;
        out.write_all(b"\n")
    }

    fn read_back(mut self) -> std::io::Result<LogReader> {
        let Some((scratch, mut out)) = self.file.take() else {
            return Ok(LogReader { reader: None });
        };
        out.flush()?;
        let mut file = out.into_inner().map_err(|e| e.into_error())?;
        file.seek(SeekFrom::Start(0))?;
        Ok(LogReader {
            reader: Some((scratch, BufReader::new(file))),
        })
    }
}

struct LogReader {
    reader: Option<(Scratch, BufReader<File>)>,
}

impl LogReader {
    fn next_batch(&mut self, max: usize) -> std::io::Result<Vec<ToVerify>> {
        let mut batch = Vec::new();
        let Some((_, reader)) = &mut self.reader else {
            return Ok(batch);
        };
        let mut line = String::new();
        while batch.len() < max {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                break;
            }
            let logged: Logged = serde_json::from_str(&line)?;
            let map = match serde_json::from_str(&logged.b)? {
                Value::Object(map) => map,
                _ => Map::new(),
            };
            let window = match (logged.s, logged.e) {
                (Some(from), Some(to)) if logged.d => Some((from, to)),
                _ => None,
            };
            batch.push(ToVerify {
                item: Item {
                    index: logged.i,
                    line: logged.l,
                    key: logged.k,
                    fingerprint: logged.f,
                    lookup: Lookup::for_body(&map),
                    body: Body::from_map(map),
                },
                in_doubt: logged.d,
                created: logged.u,
                window,
            });
        }
        Ok(batch)
    }
}

/// The fields of a create body [`disagreements`] and [`Lookup`] read.
const IDENTIFIERS: [&str; 5] = [
    "external_id",
    "email_address",
    "phone_number",
    "username",
    "web3_wallet",
];

/// One line of the [`VerifyLog`].
#[derive(serde::Deserialize)]
struct Logged {
    i: usize,
    l: usize,
    k: String,
    f: u64,
    b: String,
    #[serde(default)]
    d: bool,
    #[serde(default)]
    u: Option<String>,
    #[serde(default)]
    s: Option<u64>,
    #[serde(default)]
    e: Option<u64>,
}

/// A record to verify at the end.
struct ToVerify {
    item: Item,
    /// It went through an ambiguous path.
    in_doubt: bool,
    /// The user this run journaled as created for it.
    created: Option<String>,
    /// Unix ms from its first create to the moment its ambiguous creates could no
    /// longer land: a user created in it may be one of ours whose answer was lost.
    window: Option<(u64, u64)>,
}

impl ToVerify {
    /// Whether `user` may be one this import created (see the module docs, step 4).
    fn may_be_ours(&self, user: &User) -> bool {
        self.created.as_deref() == Some(user.id.as_str())
            || self.window.is_some_and(|(from, to)| {
                u64::try_from(user.created_at).is_ok_and(|at| from <= at && at <= to)
            })
    }
}

impl Run<'_> {
    fn stopped(&self) -> Option<String> {
        self.stop.lock().ok().and_then(|s| s.clone())
    }

    fn stop_with(&self, why: String) {
        if let Ok(mut slot) = self.stop.lock() {
            slot.get_or_insert(why);
        }
    }

    async fn wait(&self, how_long: Duration, why: &str) {
        self.progress.waiting(Some(why));
        tokio::time::sleep(how_long).await;
        self.progress.waiting(None);
    }

    /// Journals a final outcome; the record counts once it is on disk.
    async fn finish(
        &self,
        work: &Work,
        outcome: Outcome,
        user_id: Option<String>,
        code: Option<String>,
    ) -> bool {
        let item = &work.item;
        let created = (outcome == Outcome::Created)
            .then(|| user_id.clone())
            .flatten();
        let entry = Entry {
            fp: format!("{:016x}", item.fingerprint),
            user_id,
            code,
            ..Entry::new(item.key.clone(), outcome)
        };
        if let Err(err) = self.journal.append(entry).await {
            self.stop_with(err.to_string());
            return false;
        }
        if (work.in_doubt || outcome == Outcome::Created)
            && let Err(e) = self.log.lock().map_or_else(
                |_| Err(std::io::Error::other("poisoned")),
                |mut log| log.push(work, created.as_deref()),
            )
        {
            self.stop_with(format!("writing a scratch file: {e}"));
        }
        match outcome {
            Outcome::Created => {
                self.created.fetch_add(1, Relaxed);
            }
            Outcome::AlreadyPresent => {
                self.already_present.fetch_add(1, Relaxed);
            }
            _ => {}
        }
        self.progress.inc(1);
        true
    }

    async fn fail(&self, work: &Work, code: &str, message: String) {
        let item = &work.item;
        if self
            .finish(work, Outcome::Failed, None, Some(code.to_owned()))
            .await
            && let Ok(mut failures) = self.failures.lock()
        {
            failures.push(Failure {
                index: item.index,
                line: item.line,
                code: code.to_owned(),
                message,
                body: Value::Object(item.body.to_map()),
            });
        }
    }

    async fn conflict(&self, work: &Work, user_id: String, fields: Vec<&'static str>) {
        let item = &work.item;
        let code = format!("conflict: {} differ", fields.join(", "));
        if self
            .finish(work, Outcome::Conflict, Some(user_id.clone()), Some(code))
            .await
            && let Ok(mut conflicts) = self.conflicts.lock()
        {
            conflicts.push(Conflict {
                index: item.index,
                line: item.line,
                key: item.key.clone(),
                user_id,
                fields,
            });
        }
    }

    fn verdict(item: &Item, users: &[User]) -> Verdict {
        let body = item.body.to_map();
        let mut agreeing: Vec<&User> = users
            .iter()
            .filter(|u| disagreements(&body, u).is_empty())
            .collect();
        agreeing.sort_by_key(|u| (u.created_at, u.id.clone()));
        match (agreeing.first(), users.first()) {
            (Some(user), _) => Verdict::Present(user.id.clone()),
            (None, Some(other)) => Verdict::Conflict(other.id.clone(), disagreements(&body, other)),
            (None, None) => Verdict::Absent,
        }
    }

    /// Looks `batch` up and journals the records found (already present, or a
    /// conflict); returns the ones absent that may be created. A record without a
    /// key that was in doubt is failed rather than risked twice.
    async fn settle(&self, batch: Vec<Work>, first: bool) -> Result<Vec<Work>, String> {
        let items: Vec<&Item> = batch.iter().map(|w| &w.item).collect();
        let found = match self.lookup_many(&items).await {
            Ok(found) => found,
            Err(why) => {
                self.stop_with(why.clone());
                return Err(why);
            }
        };
        let mut absent = Vec::new();
        for (i, work) in batch.into_iter().enumerate() {
            if self.stopped().is_some() {
                break;
            }
            let users = found.get(&i).map_or(&[][..], Vec::as_slice);
            match Self::verdict(&work.item, users) {
                Verdict::Present(id) => {
                    self.finish(&work, Outcome::AlreadyPresent, Some(id), None)
                        .await;
                }
                Verdict::Conflict(id, fields) => self.conflict(&work, id, fields).await,
                Verdict::Absent
                    if work.item.lookup == Lookup::None && (work.in_doubt || !first) =>
                {
                    self.fail(
                        &work,
                        "outcome_unknown",
                        "may have been created, and has no lookup key to check: not resent".into(),
                    )
                    .await;
                }
                Verdict::Absent => absent.push(work),
            }
        }
        Ok(absent)
    }

    /// The users matching each record's lookup (by position in `items`), in list
    /// calls of at most 100 values and [`MAX_LOOKUP_URL`] bytes.
    async fn lookup_many(&self, items: &[&Item]) -> Result<HashMap<usize, Vec<User>>, String> {
        let mut by_kind: BTreeMap<u8, Vec<usize>> = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            if item.lookup.value().is_some() {
                by_kind.entry(item.lookup.kind()).or_default().push(i);
            }
        }
        let value = |i: usize| items[i].lookup.value().unwrap_or("");
        let mut chunks: Vec<(u8, &[usize])> = Vec::new();
        for (kind, members) in &by_kind {
            let mut rest = &members[..];
            while !rest.is_empty() {
                let mut len = 0;
                let mut take = 0;
                while take < rest.len() && take < 100 {
                    let add = Lookup::encoded_len(value(rest[take]));
                    if take > 0 && len + add > MAX_LOOKUP_URL {
                        break;
                    }
                    len += add;
                    take += 1;
                }
                let (chunk, tail) = rest.split_at(take);
                rest = tail;
                chunks.push((*kind, chunk));
            }
        }
        // A few list calls at once: one at a time, each waited for the one before (the
        // final verification alone took 5 % of a run's wall time at the quota). They are
        // all polled whenever this is, and the run polls every future holding lookups
        // while it waits (see `run`): none can keep the limiter's turn from the others.
        let mut answers = futures_util::stream::iter(chunks)
            .map(|(kind, chunk)| async move {
                let values: Vec<String> = chunk.iter().map(|i| value(*i).to_owned()).collect();
                self.list(kind, &values)
                    .await
                    .map(|users| (kind, chunk, users))
            })
            .buffer_unordered(LOOKUPS_IN_FLIGHT);
        let mut found: HashMap<usize, Vec<User>> = HashMap::new();
        while let Some(answer) = answers.next().await {
            let (kind, chunk, users) = answer?;
            let mut by_value: HashMap<String, Vec<&User>> = HashMap::new();
            for user in &users {
                for value in Lookup::values_of(kind, user) {
                    by_value.entry(value).or_default().push(user);
                }
            }
            for &i in chunk {
                if let Some(users) = by_value.get(value(i)) {
                    found.insert(i, users.iter().map(|u| (*u).clone()).collect());
                }
            }
        }
        Ok(found)
    }

    async fn list(&self, kind: u8, values: &[String]) -> Result<Vec<User>, String> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            self.lookups.fetch_add(1, Relaxed);
            let request = ListUsers::new()
                .filter(Lookup::filter(kind, values))
                .limit(500);
            match self.clerk.users().list(request).await {
                Ok(users) => return Ok(users),
                // A 2xx whose body is not a page (truncated, a proxy's HTML, another
                // object): the retry layer saw a success, but a read can be sent again.
                // Likewise a read whose every attempt failed transiently: one unlucky
                // lookup (4 faults in a row, 1 in 10,000 at a 10 % fault rate) stopped
                // the whole import.
                Err(e)
                    if (e.is_decode()
                        || e.is_server_error()
                        || e.is_transport()
                        || e.is_timeout())
                        && attempts < LOOKUP_ATTEMPTS => {}
                Err(e) => return Err(format!("looking records up on the server failed: {e}")),
            }
        }
    }

    /// Creates one record; returns it when the create may have been applied and must
    /// be settled and looked up.
    async fn create_one(&self, mut work: Work) -> Option<Work> {
        let create: CreateUser = match serde_json::from_str(work.item.body.as_str()) {
            Ok(create) => create,
            Err(err) => {
                self.fail(&work, "invalid_record", err.to_string()).await;
                return None;
            }
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let now = unix_ms();
            work.first_sent.get_or_insert(now);
            let item = &work.item;
            let sent = Entry {
                fp: format!("{:016x}", item.fingerprint),
                at: Some(now),
                ..Entry::new(item.key.clone(), Outcome::Sent)
            };
            // Written ahead: a rerun after kill -9 knows this create may be in flight.
            if let Err(err) = self.journal.append(sent).await {
                self.stop_with(err.to_string());
                return None;
            }
            let err = match self.clerk.users().create(create.clone()).await {
                Ok(user) => {
                    self.finish(&work, Outcome::Created, Some(user.id), None)
                        .await;
                    return None;
                }
                Err(err) => err,
            };
            match err.applied() {
                _ if err.has_code("form_identifier_exists") => {
                    self.identifier_taken(&work, &err).await;
                    return None;
                }
                Applied::No if attempt < self.options.max_create_attempts => {
                    let wait = err.retry_after().unwrap_or_else(|| {
                        Duration::from_millis(50u64 << attempt.min(6)).min(Duration::from_secs(2))
                    });
                    if wait > self.options.max_wait {
                        self.fail(&work, &code_of(&err), err.to_string()).await;
                        self.stop_with(format!(
                            "Clerk asked to wait {} s (Retry-After), more than the {} s this run waits",
                            wait.as_secs(),
                            self.options.max_wait.as_secs()
                        ));
                        return None;
                    }
                    self.resent.fetch_add(1, Relaxed);
                    if err.is_rate_limited() {
                        self.wait(
                            wait,
                            &format!("429: waiting {} s (Retry-After)", wait.as_secs()),
                        )
                        .await;
                    } else {
                        tokio::time::sleep(wait).await;
                    }
                }
                applied if applied.may_have() => return Some(work),
                _ => {
                    self.fail(&work, &code_of(&err), err.to_string()).await;
                    return None;
                }
            }
        }
    }

    /// A 422 `form_identifier_exists`: whoever holds one of the record's
    /// identifiers is found, and the record is already present or a conflict.
    async fn identifier_taken(&self, work: &Work, err: &Error) {
        let item = &work.item;
        let body = item.body.to_map();
        let mut users: Vec<User> = Vec::new();
        for lookup in Lookup::all_for_body(&body) {
            let Some(value) = lookup.value() else {
                continue;
            };
            match self.list(lookup.kind(), &[value.to_owned()]).await {
                Ok(found) => {
                    for user in found {
                        if !users.iter().any(|u| u.id == user.id) {
                            users.push(user);
                        }
                    }
                }
                Err(message) => {
                    self.fail(work, &code_of(err), message).await;
                    return;
                }
            }
        }
        match Self::verdict(item, &users) {
            Verdict::Present(id) => {
                self.finish(work, Outcome::AlreadyPresent, Some(id), None)
                    .await;
            }
            Verdict::Conflict(id, fields) => self.conflict(work, id, fields).await,
            Verdict::Absent => self.fail(work, &code_of(err), err.to_string()).await,
        }
    }

    /// Each record must match exactly one agreeing user; extra ones are reported
    /// and, with `repair`, the newer ones this import may have created deleted
    /// (journaled); the others are reported as not ours.
    async fn verify(&self, batch: &[ToVerify]) -> Result<Vec<Duplicate>, String> {
        let keyed: Vec<&ToVerify> = batch
            .iter()
            .filter(|c| c.item.lookup != Lookup::None)
            .collect();
        let items: Vec<&Item> = keyed.iter().map(|c| &c.item).collect();
        let found = self.lookup_many(&items).await?;
        let mut duplicates = Vec::new();
        for (i, check) in keyed.iter().enumerate() {
            let item = &check.item;
            let body = item.body.to_map();
            let mut agreeing: Vec<&User> = found
                .get(&i)
                .map(|users| {
                    users
                        .iter()
                        .filter(|u| disagreements(&body, u).is_empty())
                        .collect()
                })
                .unwrap_or_default();
            if agreeing.len() < 2 {
                continue;
            }
            // The oldest is kept: two runs racing on one record see the same order, so
            // they never both delete their own copy.
            agreeing.sort_by_key(|u| (u.created_at, u.id.clone()));
            let kept = agreeing[0].id.clone();
            let extra: Vec<String> = agreeing[1..].iter().map(|u| u.id.clone()).collect();
            let not_ours: Vec<String> = agreeing[1..]
                .iter()
                .filter(|u| !check.may_be_ours(u))
                .map(|u| u.id.clone())
                .collect();
            let mut deleted = false;
            if self.options.repair {
                deleted = not_ours.is_empty();
                for id in extra.iter().filter(|id| !not_ours.contains(id)) {
                    match self.clerk.users().delete(id.clone()).await {
                        Ok(_) => {
                            let entry = Entry {
                                user_id: Some(id.clone()),
                                ..Entry::new(item.key.clone(), Outcome::DeletedDuplicate)
                            };
                            self.journal
                                .append(entry)
                                .await
                                .map_err(|e| e.to_string())?;
                        }
                        Err(err) => {
                            deleted = false;
                            self.stop_with(format!("deleting duplicate {id}: {err}"));
                        }
                    }
                }
            }
            duplicates.push(Duplicate {
                line: item.line,
                key: item.key.clone(),
                kept,
                extra,
                deleted,
                not_ours,
            });
        }
        Ok(duplicates)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sub_second_settle_wait_is_shown_in_milliseconds() {
        assert_eq!(
            settling_message(3, Duration::from_millis(400)),
            "3 ambiguous creates settle before they are looked up (400 ms)"
        );
        assert_eq!(
            settling_message(1, Duration::from_millis(4600)),
            "1 ambiguous create settles before it is looked up (4.6 s)"
        );
    }
}
