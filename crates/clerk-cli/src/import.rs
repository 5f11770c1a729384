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

use clerk_core::{Error, User};
use clerk_tower::Clerk;
use clerk_tower::users::{CreateUser, ListUsers, UserFilter};
use serde_json::{Map, Value};
use tokio::task::JoinSet;

use crate::input::Body;
use crate::journal::{Entry, JournalWriter, Loaded, Outcome};
use crate::progress::Progress;
use crate::report::Latencies;

/// How a record can be found on the server.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Lookup {
    ExternalId(String),
    Email(String),
    Phone(String),
    Username(String),
    /// Nothing to look it up by: created without reconciliation.
    None,
}

impl Lookup {
    /// The best lookup for a create body.
    pub(crate) fn for_body(body: &Map<String, Value>) -> Self {
        let first = |f: &str| {
            body.get(f)
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .and_then(Value::as_str)
        };
        if let Some(id) = body.get("external_id").and_then(Value::as_str) {
            Self::ExternalId(id.to_owned())
        } else if let Some(email) = first("email_address") {
            Self::Email(email.to_lowercase())
        } else if let Some(phone) = first("phone_number") {
            Self::Phone(phone.to_owned())
        } else if let Some(name) = body.get("username").and_then(Value::as_str) {
            Self::Username(name.to_lowercase())
        } else {
            Self::None
        }
    }

    fn kind(&self) -> u8 {
        match self {
            Self::ExternalId(_) => 0,
            Self::Email(_) => 1,
            Self::Phone(_) => 2,
            Self::Username(_) => 3,
            Self::None => 4,
        }
    }

    /// A filter matching any of `values` (all of this lookup's kind).
    fn filter(kind: u8, values: &[String]) -> UserFilter {
        let f = UserFilter::new();
        match kind {
            // A leading `+`/`-` would read as include/exclude: `+` makes it a literal include.
            0 => f.external_ids(values.iter().map(|v| {
                if v.starts_with(['+', '-']) {
                    format!("+{v}")
                } else {
                    v.clone()
                }
            })),
            1 => f.email_addresses(values.iter().cloned()),
            2 => f.phone_numbers(values.iter().cloned()),
            _ => f.usernames(values.iter().cloned()),
        }
    }

    /// The values of this lookup's kind that `user` carries.
    fn values_of(kind: u8, user: &User) -> Vec<String> {
        match kind {
            0 => user.external_id.iter().cloned().collect(),
            1 => user
                .email_addresses
                .iter()
                .map(|e| e.email_address.to_lowercase())
                .collect(),
            2 => user
                .phone_numbers
                .iter()
                .map(|p| p.phone_number.clone())
                .collect(),
            _ => user.username.iter().map(|u| u.to_lowercase()).collect(),
        }
    }

    fn value(&self) -> Option<&str> {
        match self {
            Self::ExternalId(v) | Self::Email(v) | Self::Phone(v) | Self::Username(v) => Some(v),
            Self::None => None,
        }
    }
}

/// One record ready to send (validated; its body decodes into a `CreateUser`).
#[derive(Debug)]
pub(crate) struct Item {
    pub(crate) index: usize,
    pub(crate) line: usize,
    pub(crate) key: String,
    pub(crate) body: Body,
    pub(crate) lookup: Lookup,
}

/// Knobs of one import run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Options {
    /// Workers (creates in flight at most).
    pub(crate) concurrency: usize,
    /// Creates of one record at most (after reconciling that the previous did nothing).
    pub(crate) max_create_attempts: u32,
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
pub(crate) struct Failure {
    pub(crate) index: usize,
    pub(crate) line: usize,
    pub(crate) code: String,
    pub(crate) message: String,
    /// The create body, for the failed-records file (`import` reads it back).
    pub(crate) body: Value,
}

/// What an import run did.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    /// Records considered (valid records of the input).
    pub(crate) total: usize,
    /// Done by an earlier run, per the journal.
    pub(crate) skipped: usize,
    pub(crate) created: usize,
    pub(crate) already_present: usize,
    pub(crate) failed: usize,
    pub(crate) failures: Vec<Failure>,
    /// HTTP requests sent (every attempt, lookups included).
    pub(crate) requests: u64,
    /// Attempts after the first (by the retry layer, and creates resent after reconciling).
    pub(crate) retries: u64,
    pub(crate) http_429: u64,
    /// Lookups made to reconcile.
    pub(crate) lookups: u64,
    pub(crate) wall: Duration,
    /// Request latency percentiles (each attempt, without the rate limiter's wait).
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
}

impl Summary {
    /// Failures grouped by Clerk error code.
    pub(crate) fn failed_by_code(&self) -> BTreeMap<String, usize> {
        let mut by = BTreeMap::new();
        for f in &self.failures {
            *by.entry(f.code.clone()).or_insert(0) += 1;
        }
        by
    }

    /// Requests per second over the run.
    pub(crate) fn achieved_rps(&self) -> f64 {
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
pub(crate) async fn run(
    clerk: &Clerk,
    items: Vec<Item>,
    loaded: &Loaded,
    journal: Arc<JournalWriter>,
    options: Options,
    progress: &Progress,
    latencies: &Latencies,
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
        pending = reconcile_batch(clerk, pending, &journal, &shared, progress).await?;
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
        let progress_inc = ProgressHandle(progress.bar());
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
                progress_inc.inc();
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
    let (p50_ms, p99_ms) = latencies.p50_p99_ms();
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
        p50_ms,
        p99_ms,
    })
}

/// Ticks the bar from a worker task.
struct ProgressHandle(Option<indicatif::ProgressBar>);

impl ProgressHandle {
    fn inc(&self) {
        if let Some(bar) = &self.0 {
            bar.inc(1);
        }
    }
}

/// Looks up every pending record that can be looked up, 100 values per list call,
/// journals the ones found as already present, and returns the rest.
async fn reconcile_batch(
    clerk: &Clerk,
    pending: Vec<Item>,
    journal: &JournalWriter,
    shared: &Shared,
    progress: &Progress,
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lookups_prefer_the_external_id() {
        let m = |v: Value| match v {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        assert_eq!(
            Lookup::for_body(&m(json!({"external_id":"e","email_address":["A@x.io"]}))),
            Lookup::ExternalId("e".into())
        );
        assert_eq!(
            Lookup::for_body(&m(json!({"email_address":["A@x.io"]}))),
            Lookup::Email("a@x.io".into())
        );
        assert_eq!(
            Lookup::for_body(&m(json!({"phone_number":["+14155550100"]}))),
            Lookup::Phone("+14155550100".into())
        );
        assert_eq!(
            Lookup::for_body(&m(json!({"username":"Ann_1"}))),
            Lookup::Username("ann_1".into())
        );
        assert_eq!(
            Lookup::for_body(&m(json!({"first_name":"A"}))),
            Lookup::None
        );
    }
}
