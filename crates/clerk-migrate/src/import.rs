// Over 600 lines on purpose: the exactly-once create loop (resume, send, settle, reconcile,
// verify) is one sequence whose steps share the run's state; record, journal and lookups
// are their own modules.
//! The import engine: creates every record exactly once, through a bounded pool of
//! workers sharing one rate-limited client, the [checkpoint journal](crate::journal)
//! and reconciliation by lookup key.
//!
//! 1. **Resume.** Records the journal lists as done are skipped. Records a killed
//!    run had sent without an outcome are *in doubt*: their create may still land,
//!    so nothing happens to them until it no longer can (the settle delay after the
//!    latest moment it was sent).
//! 2. **Reconcile first.** Every other record with a lookup key is looked up before
//!    anything is created (batched, ≤ 100 values and ≤ 7 KB of URL per list call),
//!    on a fresh checkpoint too: an instance that already holds some records gets
//!    no duplicates. A found user counts as *already present* only if it agrees on
//!    every identifier of the record; otherwise the record is a **conflict**, reported
//!    and left alone.
//! 3. **Create.** A `sent` entry is journaled before each create. A create that
//!    fails with [`Applied::No`] (429, no connection) is sent again after the wait;
//!    a 422 `form_identifier_exists` is looked up at once (agree: already present,
//!    else conflict); any other 4xx fails. A create that **may have been applied**
//!    ([`Applied::may_have`]: timeout, reset, 5xx, lost response, a 2xx with an
//!    unreadable body) is never resent at once: it waits for the settle delay (past
//!    the attempt timeout, so an attempt still on its way has landed), is looked up,
//!    and only if nothing is found is it created again (a bounded number of rounds).
//! 4. **Verify.** At the end every record that went through an ambiguous path is
//!    looked up again and must match exactly one user; duplicates are reported and,
//!    with [`Options::repair`], the newer ones deleted and journaled.
//!
//! Records without any lookup key ([`Lookup::None`]) cannot be reconciled: one that
//! fails ambiguously is reported failed, never resent — at most once, not exactly once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clerk_core::{Applied, Error, User};
use clerk_tower::Clerk;
use clerk_tower::users::{CreateUser, ListUsers};
use serde_json::{Map, Value};

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
    /// Whether the extra ones were deleted ([`Options::repair`]).
    pub deleted: bool,
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

/// State shared by the workers of one run.
struct Run<'a> {
    clerk: &'a Clerk,
    items: &'a [Item],
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

fn code_of(err: &Error) -> String {
    err.clerk_errors()
        .first()
        .map_or_else(|| err.error_type().into_owned(), |e| e.code.clone())
}

/// Imports `items` (the valid records). See the [module docs](self).
pub async fn run(
    clerk: &Clerk,
    items: Vec<Item>,
    replay: &Replay,
    journal: Arc<JournalWriter>,
    options: Options,
    progress: Arc<dyn Progress>,
) -> Result<Summary, String> {
    let started = Instant::now();
    let before = clerk.metrics();
    let total = items.len();
    let (done, pending): (Vec<Item>, Vec<Item>) = items
        .into_iter()
        .partition(|item| replay.is_done(&item.key));
    let skipped = done.len();
    drop(done);
    progress.set_position(skipped as u64);
    let run = Run {
        clerk,
        items: &pending,
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
    };
    let unkeyed = pending.iter().filter(|i| i.lookup == Lookup::None).count();

    // 1. Records a killed run left in flight settle before anything is decided.
    let now_ms = unix_ms();
    let mut ambiguous: HashSet<usize> = HashSet::new();
    let mut settle_until = 0;
    for (i, item) in pending.iter().enumerate() {
        if let Some(sent) = replay.in_flight_since(&item.key) {
            ambiguous.insert(i);
            let op_ms = u64::try_from(options.operation_timeout.as_millis()).unwrap_or(u64::MAX);
            let settle_ms = u64::try_from(options.settle_delay.as_millis()).unwrap_or(u64::MAX);
            let sent_by = now_ms.min(sent.saturating_add(op_ms));
            settle_until = settle_until.max(sent_by.saturating_add(settle_ms));
        }
    }
    if settle_until > now_ms {
        let wait = Duration::from_millis(settle_until - now_ms);
        run.settling_ms.fetch_add(settle_until - now_ms, Relaxed);
        run.wait(
            wait,
            &format!(
                "{} records a previous run left in flight settle ({} s)",
                ambiguous.len(),
                wait.as_secs()
            ),
        )
        .await;
    }

    // 2. Reconcile every pending record with a key before creating anything.
    let all: Vec<usize> = (0..pending.len()).collect();
    let mut queue = run.settle(&all, &ambiguous, true).await?;

    // 3. Create, in rounds: an ambiguous create is settled, looked up, and resent only if absent.
    let mut round = 0;
    while !queue.is_empty() && run.stopped().is_none() {
        round += 1;
        if round > 1 {
            run.resent.fetch_add(queue.len() as u64, Relaxed);
        }
        let deferred = run.create_all(&queue).await;
        if deferred.is_empty() {
            break;
        }
        ambiguous.extend(deferred.iter().copied());
        run.settling_ms.fetch_add(
            u64::try_from(options.settle_delay.as_millis()).unwrap_or(u64::MAX),
            Relaxed,
        );
        run.wait(
            options.settle_delay,
            &format!(
                "{} ambiguous creates settle before they are looked up ({} s)",
                deferred.len(),
                options.settle_delay.as_secs()
            ),
        )
        .await;
        let absent = run.settle(&deferred, &ambiguous, false).await?;
        queue = Vec::new();
        for i in absent {
            if round >= options.max_create_attempts as usize {
                run.fail(
                    i,
                    "outcome_unknown",
                    "still absent after every attempt".into(),
                )
                .await;
            } else {
                queue.push(i);
            }
        }
    }
    if let Some(why) = run.stopped() {
        return Err(format!(
            "stopped: {why}; rerun with the same --checkpoint to continue"
        ));
    }

    // 4. Verify every record that went through an ambiguous path.
    let mut verify: Vec<usize> = ambiguous
        .into_iter()
        .filter(|i| pending[*i].lookup != Lookup::None)
        .collect();
    verify.sort_unstable();
    let duplicates = run.verify(&verify).await?;

    let after = clerk.metrics();
    let mut failures = run.failures.into_inner().unwrap_or_default();
    failures.sort_by_key(|f| f.index);
    let mut conflicts = run.conflicts.into_inner().unwrap_or_default();
    conflicts.sort_by_key(|c| c.index);
    Ok(Summary {
        total,
        skipped,
        created: run.created.load(Relaxed),
        already_present: run.already_present.load(Relaxed),
        failed: failures.len(),
        failures,
        conflicts,
        verified: verify.len(),
        duplicates,
        unkeyed,
        requests: after.attempts.saturating_sub(before.attempts),
        retries: after.retries.saturating_sub(before.retries) + run.resent.load(Relaxed),
        http_429: after.rate_limited.saturating_sub(before.rate_limited),
        lookups: run.lookups.load(Relaxed),
        wall: started.elapsed(),
        settling: Duration::from_millis(run.settling_ms.load(Relaxed)),
    })
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
        i: usize,
        outcome: Outcome,
        user_id: Option<String>,
        code: Option<String>,
    ) -> bool {
        let item = &self.items[i];
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

    async fn fail(&self, i: usize, code: &str, message: String) {
        let item = &self.items[i];
        if self
            .finish(i, Outcome::Failed, None, Some(code.to_owned()))
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

    async fn conflict(&self, i: usize, user_id: String, fields: Vec<&'static str>) {
        let item = &self.items[i];
        let code = format!("conflict: {} differ", fields.join(", "));
        if self
            .finish(i, Outcome::Conflict, Some(user_id.clone()), Some(code))
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

    fn verdict(&self, i: usize, users: &[User]) -> Verdict {
        let body = self.items[i].body.to_map();
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

    /// Looks up `indexes` and journals the ones found (already present, or a
    /// conflict); returns the ones absent that may be created. A record without a
    /// key that was in doubt is failed rather than risked twice.
    async fn settle(
        &self,
        indexes: &[usize],
        ambiguous: &HashSet<usize>,
        first: bool,
    ) -> Result<Vec<usize>, String> {
        let found = self.lookup_many(indexes).await?;
        let mut absent = Vec::new();
        for &i in indexes {
            if self.stopped().is_some() {
                break;
            }
            let users = found.get(&i).map_or(&[][..], Vec::as_slice);
            match self.verdict(i, users) {
                Verdict::Present(id) => {
                    self.finish(i, Outcome::AlreadyPresent, Some(id), None)
                        .await;
                }
                Verdict::Conflict(id, fields) => self.conflict(i, id, fields).await,
                Verdict::Absent
                    if self.items[i].lookup == Lookup::None
                        && (ambiguous.contains(&i) || !first) =>
                {
                    self.fail(
                        i,
                        "outcome_unknown",
                        "may have been created, and has no lookup key to check: not resent".into(),
                    )
                    .await;
                }
                Verdict::Absent => absent.push(i),
            }
        }
        Ok(absent)
    }

    /// The users matching each record's lookup, in list calls of at most 100
    /// values and [`MAX_LOOKUP_URL`] bytes.
    async fn lookup_many(&self, indexes: &[usize]) -> Result<HashMap<usize, Vec<User>>, String> {
        let mut by_kind: BTreeMap<u8, Vec<usize>> = BTreeMap::new();
        for &i in indexes {
            if self.items[i].lookup.value().is_some() {
                by_kind
                    .entry(self.items[i].lookup.kind())
                    .or_default()
                    .push(i);
            }
        }
        let mut found: HashMap<usize, Vec<User>> = HashMap::new();
        for (kind, members) in by_kind {
            let mut rest = &members[..];
            while !rest.is_empty() {
                let mut len = 0;
                let mut take = 0;
                while take < rest.len() && take < 100 {
                    let add =
                        Lookup::encoded_len(self.items[rest[take]].lookup.value().unwrap_or(""));
                    if take > 0 && len + add > MAX_LOOKUP_URL {
                        break;
                    }
                    len += add;
                    take += 1;
                }
                let (chunk, tail) = rest.split_at(take);
                rest = tail;
                let values: Vec<String> = chunk
                    .iter()
                    .filter_map(|i| self.items[*i].lookup.value().map(str::to_owned))
                    .collect();
                let users = self.list(kind, &values).await?;
                let mut by_value: HashMap<String, Vec<&User>> = HashMap::new();
                for user in &users {
                    for value in Lookup::values_of(kind, user) {
                        by_value.entry(value).or_default().push(user);
                    }
                }
                for &i in chunk {
                    let value = self.items[i].lookup.value().unwrap_or("");
                    if let Some(users) = by_value.get(value) {
                        found.insert(i, users.iter().map(|u| (*u).clone()).collect());
                    }
                }
            }
        }
        Ok(found)
    }

    async fn list(&self, kind: u8, values: &[String]) -> Result<Vec<User>, String> {
        self.lookups.fetch_add(1, Relaxed);
        let request = ListUsers::new()
            .filter(Lookup::filter(kind, values))
            .limit(500);
        self.clerk
            .users()
            .list(request)
            .await
            .map_err(|e| format!("looking records up on the server failed: {e}"))
    }

    /// Creates `queue` with the worker pool; returns the records whose create may
    /// have been applied (to settle and look up).
    async fn create_all(&self, queue: &[usize]) -> Vec<usize> {
        let next = AtomicUsize::new(0);
        let deferred = Mutex::new(Vec::new());
        let workers = self.options.concurrency.clamp(1, queue.len().max(1));
        let work = (0..workers).map(|_| async {
            while self.stopped().is_none() {
                let Some(&i) = queue.get(next.fetch_add(1, Relaxed)) else {
                    break;
                };
                if self.create_one(i).await
                    && let Ok(mut d) = deferred.lock()
                {
                    d.push(i);
                }
            }
        });
        futures_util::future::join_all(work).await;
        let mut deferred = deferred.into_inner().unwrap_or_default();
        deferred.sort_unstable();
        deferred
    }

    /// Creates one record; `true` when the create may have been applied and must be
    /// settled and looked up.
    async fn create_one(&self, i: usize) -> bool {
        let item = &self.items[i];
        let create: CreateUser = match serde_json::from_str(item.body.as_str()) {
            Ok(create) => create,
            Err(err) => {
                self.fail(i, "invalid_record", err.to_string()).await;
                return false;
            }
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let sent = Entry {
                fp: format!("{:016x}", item.fingerprint),
                at: Some(unix_ms()),
                ..Entry::new(item.key.clone(), Outcome::Sent)
            };
            // Written ahead: a rerun after kill -9 knows this create may be in flight.
            if let Err(err) = self.journal.append(sent).await {
                self.stop_with(err.to_string());
                return false;
            }
            let err = match self.clerk.users().create(create.clone()).await {
                Ok(user) => {
                    self.finish(i, Outcome::Created, Some(user.id), None).await;
                    return false;
                }
                Err(err) => err,
            };
            match err.applied() {
                _ if err.has_code("form_identifier_exists") => {
                    self.identifier_taken(i, &err).await;
                    return false;
                }
                Applied::No if attempt < self.options.max_create_attempts => {
                    let wait = err.retry_after().unwrap_or_else(|| {
                        Duration::from_millis(50u64 << attempt.min(6)).min(Duration::from_secs(2))
                    });
                    if wait > self.options.max_wait {
                        self.fail(i, &code_of(&err), err.to_string()).await;
                        self.stop_with(format!(
                            "Clerk asked to wait {} s (Retry-After), more than the {} s this run waits",
                            wait.as_secs(),
                            self.options.max_wait.as_secs()
                        ));
                        return false;
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
                applied if applied.may_have() => return true,
                _ => {
                    self.fail(i, &code_of(&err), err.to_string()).await;
                    return false;
                }
            }
        }
    }

    /// A 422 `form_identifier_exists`: whoever holds one of the record's
    /// identifiers is found, and the record is already present or a conflict.
    async fn identifier_taken(&self, i: usize, err: &Error) {
        let body = self.items[i].body.to_map();
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
                    self.fail(i, &code_of(err), message).await;
                    return;
                }
            }
        }
        match self.verdict(i, &users) {
            Verdict::Present(id) => {
                self.finish(i, Outcome::AlreadyPresent, Some(id), None)
                    .await;
            }
            Verdict::Conflict(id, fields) => self.conflict(i, id, fields).await,
            Verdict::Absent => self.fail(i, &code_of(err), err.to_string()).await,
        }
    }

    /// Each record must match exactly one agreeing user; extra ones are reported
    /// (and deleted with `repair`: the newer ones, journaled).
    async fn verify(&self, indexes: &[usize]) -> Result<Vec<Duplicate>, String> {
        let found = self.lookup_many(indexes).await?;
        let mut duplicates = Vec::new();
        for &i in indexes {
            let body = self.items[i].body.to_map();
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
            agreeing.sort_by_key(|u| (u.created_at, u.id.clone()));
            let kept = agreeing[0].id.clone();
            let extra: Vec<String> = agreeing[1..].iter().map(|u| u.id.clone()).collect();
            let mut deleted = false;
            if self.options.repair {
                deleted = true;
                for id in &extra {
                    match self.clerk.users().delete(id.clone()).await {
                        Ok(_) => {
                            let entry = Entry {
                                user_id: Some(id.clone()),
                                ..Entry::new(self.items[i].key.clone(), Outcome::DeletedDuplicate)
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
                line: self.items[i].line,
                key: self.items[i].key.clone(),
                kept,
                extra,
                deleted,
            });
        }
        Ok(duplicates)
    }
}
