//! The import engine: a bounded pool of workers sharing one rate-limited client,
//! exactly-once through the checkpoint journal and reconciliation.
//!
//! A record is *in flight* from the moment its create is sent until its outcome is
//! in the journal. After a crash, the records the journal does not list may or may
//! not exist on the server, so a rerun looks them up (by `external_id`, else email,
//! phone or username; 100 per list call) before creating anything. During a run, a
//! create whose outcome is unknown (lost response, timeout, 5xx after sending) or
//! that answers 422 `form_identifier_exists` is reconciled the same way, one record
//! at a time: found means "already present", not found means the create did not
//! happen and is sent again (a bounded number of times).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use clerk_core::Error;
use clerk_tower::Clerk;
use clerk_tower::users::{CreateUser, ListUsers};
use serde_json::Value;
use tokio::task::JoinSet;

use crate::journal::{Entry, JournalWriter, Loaded, Outcome};
use crate::record::{Body, Lookup};

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
    /// The record's stable key ([`crate::record::record_key`]).
    pub key: String,
    /// The create body.
    pub body: Body,
    /// How the record is found on the server.
    pub lookup: Lookup,
}

/// Knobs of one import run.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Workers (creates in flight at most).
    pub concurrency: usize,
    /// Creates of one record at most (after reconciling that the previous did nothing).
    pub max_create_attempts: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            concurrency: 32,
            max_create_attempts: 8,
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

    /// Requests per second over the run.
    pub fn achieved_rps(&self) -> f64 {
        let secs = self.wall.as_secs_f64();
        if secs > 0.0 {
            self.requests as f64 / secs
        } else {
            0.0
        }
    }
}

#[derive(Debug, Default)]
struct Shared {
    next: AtomicUsize,
    created: AtomicUsize,
    already_present: AtomicUsize,
    resent: AtomicU64,
    lookups: AtomicU64,
    stop: AtomicBool,
    failures: Mutex<Vec<Failure>>,
    journal_error: Mutex<Option<String>>,
}

/// Imports `items` (the valid records, in input order). Records the journal lists
/// as done are skipped; when the journal held anything, the rest are reconciled first.
pub async fn run(
    clerk: &Clerk,
    items: Vec<Item>,
    loaded: &Loaded,
    journal: Arc<JournalWriter>,
    options: Options,
    progress: Arc<dyn Progress>,
) -> Result<Summary, String> {
    let started = Instant::now();
    let before = clerk.metrics();
    let total = items.len();
    let (done, mut pending): (Vec<Item>, Vec<Item>) = items.into_iter().partition(|item| {
        loaded
            .entries
            .get(&item.index)
            .is_some_and(|e| e.outcome.is_done())
    });
    let skipped = done.len();
    progress.set_position(skipped as u64);
    let shared = Arc::new(Shared::default());

    if loaded.is_rerun() {
        pending = reconcile_batch(clerk, pending, &journal, &shared, &*progress).await?;
    }

    let items: Arc<[Item]> = pending.into();
    let mut workers = JoinSet::new();
    for _ in 0..options.concurrency.max(1).min(items.len().max(1)) {
        let (clerk, items, journal, shared) = (
            clerk.clone(),
            Arc::clone(&items),
            Arc::clone(&journal),
            Arc::clone(&shared),
        );
        let progress = Arc::clone(&progress);
        workers.spawn(async move {
            while !shared.stop.load(Relaxed) {
                let i = shared.next.fetch_add(1, Relaxed);
                let Some(item) = items.get(i) else { break };
                let result = import_one(&clerk, item, options, &shared).await;
                let entry = match &result {
                    Ok((outcome, user_id)) => Entry {
                        record: item.index,
                        key: item.key.clone(),
                        outcome: *outcome,
                        user_id: Some(user_id.clone()),
                        code: None,
                    },
                    Err(failure) => Entry {
                        record: item.index,
                        key: item.key.clone(),
                        outcome: Outcome::Failed,
                        user_id: None,
                        code: Some(failure.code.clone()),
                    },
                };
                // The record counts only once its outcome is on disk.
                if let Err(err) = journal.append(entry).await {
                    shared.stop.store(true, Relaxed);
                    if let Ok(mut slot) = shared.journal_error.lock() {
                        slot.get_or_insert_with(|| err.to_string());
                    }
                    break;
                }
                match result {
                    Ok((Outcome::Created, _)) => shared.created.fetch_add(1, Relaxed),
                    Ok(_) => shared.already_present.fetch_add(1, Relaxed),
                    Err(failure) => {
                        if let Ok(mut f) = shared.failures.lock() {
                            f.push(failure);
                        }
                        0
                    }
                };
                progress.inc(1);
            }
        });
    }
    while workers.join_next().await.is_some() {}
    if let Some(err) = shared.journal_error.lock().ok().and_then(|mut e| e.take()) {
        return Err(format!(
            "stopped: {err}; rerun with the same --checkpoint to continue"
        ));
    }

    let after = clerk.metrics();
    let mut failures = shared
        .failures
        .lock()
        .map(|f| f.clone())
        .unwrap_or_default();
    failures.sort_by_key(|f| f.index);
    Ok(Summary {
        total,
        skipped,
        created: shared.created.load(Relaxed),
        already_present: shared.already_present.load(Relaxed),
        failed: failures.len(),
        failures,
        requests: after.attempts.saturating_sub(before.attempts),
        retries: after.retries.saturating_sub(before.retries) + shared.resent.load(Relaxed),
        http_429: after.rate_limited.saturating_sub(before.rate_limited),
        lookups: shared.lookups.load(Relaxed),
        wall: started.elapsed(),
    })
}

/// Looks up every pending record that can be looked up, 100 values per list call,
/// journals the ones found as already present, and returns the rest.
async fn reconcile_batch(
    clerk: &Clerk,
    pending: Vec<Item>,
    journal: &JournalWriter,
    shared: &Shared,
    progress: &dyn Progress,
) -> Result<Vec<Item>, String> {
    let mut by_kind: HashMap<u8, Vec<String>> = HashMap::new();
    for item in &pending {
        if let Some(v) = item.lookup.value() {
            by_kind
                .entry(item.lookup.kind())
                .or_default()
                .push(v.to_owned());
        }
    }
    let mut found: HashMap<(u8, String), String> = HashMap::new();
    for (kind, values) in by_kind {
        for chunk in values.chunks(100) {
            shared.lookups.fetch_add(1, Relaxed);
            let request = ListUsers::new()
                .filter(Lookup::filter(kind, chunk))
                .limit(500);
            let users =
                clerk.users().list(request).await.map_err(|e| {
                    format!("reconciling with the server before resuming failed: {e}")
                })?;
            for user in users {
                for value in Lookup::values_of(kind, &user) {
                    found
                        .entry((kind, value))
                        .or_insert_with(|| user.id.clone());
                }
            }
        }
    }
    let mut rest = Vec::with_capacity(pending.len());
    for item in pending {
        let hit = item
            .lookup
            .value()
            .and_then(|v| found.get(&(item.lookup.kind(), v.to_owned())));
        match hit {
            Some(user_id) => {
                journal
                    .append(Entry {
                        record: item.index,
                        key: item.key.clone(),
                        outcome: Outcome::AlreadyPresent,
                        user_id: Some(user_id.clone()),
                        code: None,
                    })
                    .await
                    .map_err(|e| e.to_string())?;
                shared.already_present.fetch_add(1, Relaxed);
                progress.inc(1);
            }
            None => rest.push(item),
        }
    }
    Ok(rest)
}

/// The user a record's lookup finds, if any.
async fn lookup_one(
    clerk: &Clerk,
    lookup: &Lookup,
    shared: &Shared,
) -> Result<Option<String>, Error> {
    let Some(value) = lookup.value() else {
        return Ok(None);
    };
    shared.lookups.fetch_add(1, Relaxed);
    let kind = lookup.kind();
    let users = clerk
        .users()
        .list(
            ListUsers::new()
                .filter(Lookup::filter(kind, &[value.to_owned()]))
                .limit(10),
        )
        .await?;
    Ok(users
        .into_iter()
        .find(|u| Lookup::values_of(kind, u).iter().any(|v| v == value))
        .map(|u| u.id))
}

fn code_of(err: &Error) -> String {
    err.clerk_errors()
        .first()
        .map_or_else(|| err.error_type().into_owned(), |e| e.code.clone())
}

fn failure(item: &Item, err: &Error) -> Failure {
    Failure {
        index: item.index,
        line: item.line,
        code: code_of(err),
        message: err.to_string(),
        body: Value::Object(item.body.to_map()),
    }
}

/// Creates one record, reconciling ambiguous failures. `Ok` holds the outcome and the user id.
async fn import_one(
    clerk: &Clerk,
    item: &Item,
    options: Options,
    shared: &Shared,
) -> Result<(Outcome, String), Failure> {
    let create: CreateUser = serde_json::from_str(item.body.as_str()).map_err(|err| Failure {
        index: item.index,
        line: item.line,
        code: "invalid_record".to_owned(),
        message: err.to_string(),
        body: Value::Object(item.body.to_map()),
    })?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        if attempt > 1 {
            shared.resent.fetch_add(1, Relaxed);
        }
        let err = match clerk.users().create(create.clone()).await {
            Ok(user) => return Ok((Outcome::Created, user.id)),
            Err(err) => err,
        };
        let taken = err.has_code("form_identifier_exists");
        let ambiguous = err.is_outcome_unknown()
            || err.is_timeout()
            || (err.is_transport() && !err.is_connect())
            || err.is_server_error();
        // Nothing was applied: a 429 the retry layer gave up on, or no connection.
        let not_applied = err.is_rate_limited() || err.is_connect();
        if taken || ambiguous {
            match lookup_one(clerk, &item.lookup, shared).await {
                Ok(Some(user_id)) => return Ok((Outcome::AlreadyPresent, user_id)),
                // The identifier belongs to some other user: a real conflict.
                Ok(None) if taken => return Err(failure(item, &err)),
                Ok(None) if matches!(item.lookup, Lookup::None) => {
                    // Cannot tell whether it was created: resending could duplicate it.
                    return Err(failure(item, &err));
                }
                Ok(None) => {}
                Err(lookup_err) if attempt >= options.max_create_attempts => {
                    return Err(failure(item, &lookup_err));
                }
                Err(_) => {}
            }
        } else if !not_applied {
            return Err(failure(item, &err));
        }
        if attempt >= options.max_create_attempts {
            return Err(failure(item, &err));
        }
        let backoff = err.retry_after().unwrap_or_else(|| {
            Duration::from_millis(50u64 << attempt.min(6)).min(Duration::from_secs(2))
        });
        tokio::time::sleep(backoff).await;
    }
}
