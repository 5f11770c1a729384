//! Applying a plan: creates exactly once through the import engine, then updates,
//! then the missing users' bans or deletes.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clerk_core::users::ReplaceUserMetadata;
use clerk_core::{Applied, Error};
use clerk_tower::Clerk;
use futures_util::StreamExt;
use futures_util::stream;

use super::plan::{Plan, PlannedUpdate};
use super::{BAN_BATCH, Missing, Observer, SyncError, SyncOptions};
use crate::import::{self, Item};
use crate::journal;

/// A kind of write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Action {
    /// A user created.
    Create,
    /// A user's fields or metadata changed.
    Update,
    /// A ban lifted (the user is back in the source).
    Unban,
    /// A missing user banned.
    Ban,
    /// A missing user deleted.
    Delete,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Unban => "unban",
            Self::Ban => "ban",
            Self::Delete => "delete",
        })
    }
}

/// One action that failed.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SyncFailure {
    /// What was attempted.
    pub action: Action,
    /// Line of the source (0 for a missing user).
    pub line: usize,
    /// The Clerk user, when known.
    pub user_id: Option<String>,
    /// Clerk's error code (or the error type).
    pub code: String,
    /// The error.
    pub message: String,
}

/// What applying a plan did.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ApplyReport {
    /// Users created by this run.
    pub created: usize,
    /// Creates found to exist already (reconciled: an earlier run, or a lost response).
    pub already_present: usize,
    /// Creates the checkpoint lists as done by an interrupted run.
    pub created_before: usize,
    /// Users updated.
    pub updated: usize,
    /// Bans lifted.
    pub unbanned: usize,
    /// Missing users banned.
    pub banned: usize,
    /// Missing users deleted (or found gone already).
    pub deleted: usize,
    /// Writes Clerk answered with a 2xx whose body could not be read (truncated, a
    /// proxy's HTML, another object): applied, so counted done in their action too.
    pub applied_unreadable: usize,
    /// What failed.
    pub failures: Vec<SyncFailure>,
    /// Write requests sent (retries not counted).
    pub writes: u64,
    /// Writes under Clerk's per-user limit (`PATCH /users/{id}` and its metadata).
    pub per_user_writes: u64,
    /// The most per-user-limited writes one user got (Clerk allows 10 per 10 s).
    pub max_writes_per_user: u64,
    /// Reads sent to reconcile creates.
    pub lookups: u64,
    /// Every HTTP attempt of the apply phase (retries and lookups included).
    pub requests: u64,
    /// Attempts after the first.
    pub retries: u64,
    /// 429 responses.
    pub http_429: u64,
    /// Time the apply took.
    pub wall: Duration,
}

impl ApplyReport {
    /// Failures per action and Clerk error code.
    pub fn failed_by_code(&self) -> BTreeMap<(Action, String), usize> {
        let mut by = BTreeMap::new();
        for f in &self.failures {
            *by.entry((f.action, f.code.clone())).or_insert(0) += 1;
        }
        by
    }
}

fn code_of(err: &Error) -> String {
    err.clerk_errors()
        .first()
        .map_or_else(|| err.error_type().into_owned(), |e| e.code.clone())
}

/// The write was applied although the call failed ([`Applied::Yes`]: here, a 2xx
/// whose body was unreadable), so it is done, not failed.
fn applied_unreadable(err: &Error) -> bool {
    Applied::of_error(err) == Applied::Yes
}

fn failure(action: Action, line: usize, user_id: &str, err: &Error) -> SyncFailure {
    SyncFailure {
        action,
        line,
        user_id: Some(user_id.to_owned()),
        code: code_of(err),
        message: err.to_string(),
    }
}

/// Forwards the import engine's progress to the observer.
struct CreateProgress(Arc<dyn Observer>);

impl import::Progress for CreateProgress {
    fn inc(&self, n: u64) {
        self.0.applied(n);
    }
}

/// Sends `plan`: creates (exactly once, journaled in `checkpoint`), updates, then
/// bans or deletes of the missing users. Refuses a plan above `max_deletes` /
/// `max_bans` before sending anything. The checkpoint is removed once the apply
/// finished; a rerun after an interruption uses it to skip and reconcile the
/// creates already sent.
pub async fn apply(
    clerk: &Clerk,
    plan: Plan,
    options: &SyncOptions,
    checkpoint: &Path,
    observer: Arc<dyn Observer>,
) -> Result<ApplyReport, SyncError> {
    plan.check_limits(options)?;
    let started = Instant::now();
    let before = clerk.metrics();
    let mut report = ApplyReport::default();
    let missing_actions = match plan.missing_action {
        Missing::Ignore => 0,
        _ => plan.missing.len(),
    };
    observer.apply_started((plan.creates.len() + plan.updates.len() + missing_actions) as u64);

    if !plan.creates.is_empty() {
        create_all(
            clerk,
            &plan,
            options,
            checkpoint,
            Arc::clone(&observer),
            &mut report,
        )
        .await?;
    }

    let updates = stream::iter(plan.updates.iter())
        .map(|u| async move {
            let u = u?;
            Ok::<_, SyncError>(update_one(clerk, &u).await)
        })
        .buffer_unordered(options.concurrency.max(1));
    let mut updates = std::pin::pin!(updates);
    while let Some(outcome) = updates.next().await {
        let outcome = outcome?;
        report.writes += outcome.writes;
        report.per_user_writes += outcome.per_user;
        report.max_writes_per_user = report.max_writes_per_user.max(outcome.per_user);
        report.applied_unreadable += outcome.unreadable;
        match outcome.result {
            Ok(unbanned) => {
                report.updated += usize::from(outcome.per_user > 0);
                report.unbanned += usize::from(unbanned);
            }
            Err(f) => report.failures.push(f),
        }
        observer.applied(1);
    }

    match plan.missing_action {
        Missing::Ignore => {}
        Missing::Ban => {
            let mut missing = plan.missing.iter();
            loop {
                let chunk: Vec<String> = missing
                    .by_ref()
                    .take(BAN_BATCH)
                    .map(|m| m.map(|m| m.user_id))
                    .collect::<Result<_, _>>()?;
                if chunk.is_empty() {
                    break;
                }
                report.writes += 1;
                match clerk
                    .users()
                    .ban_many(chunk.iter().map(String::as_str))
                    .await
                {
                    Ok(_) => report.banned += chunk.len(),
                    Err(err) if applied_unreadable(&err) => {
                        report.banned += chunk.len();
                        report.applied_unreadable += chunk.len();
                    }
                    Err(err) => report
                        .failures
                        .extend(chunk.iter().map(|id| failure(Action::Ban, 0, id, &err))),
                }
                observer.applied(chunk.len() as u64);
            }
        }
        Missing::Delete => {
            let deletes = stream::iter(plan.missing.iter())
                .map(|m| async move {
                    let m = m?;
                    let result = clerk.users().delete(m.user_id.clone()).await;
                    Ok::<_, SyncError>((m, result))
                })
                .buffer_unordered(options.concurrency.max(1));
            let mut deletes = std::pin::pin!(deletes);
            while let Some(outcome) = deletes.next().await {
                let (m, result) = outcome?;
                report.writes += 1;
                match result {
                    // Gone already: a retry after a lost response, or someone else.
                    Ok(_) => report.deleted += 1,
                    Err(err) if err.is_not_found() => report.deleted += 1,
                    Err(err) if applied_unreadable(&err) => {
                        report.deleted += 1;
                        report.applied_unreadable += 1;
                    }
                    Err(err) => report
                        .failures
                        .push(failure(Action::Delete, 0, &m.user_id, &err)),
                }
                observer.applied(1);
            }
        }
    }

    // Finished: a later run plans afresh from the instance's state.
    match std::fs::remove_file(checkpoint) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => {
            return Err(SyncError::checkpoint(format!(
                "cannot remove the checkpoint {}: {err}",
                checkpoint.display()
            )));
        }
    }
    let after = clerk.metrics();
    report.requests = after.attempts.saturating_sub(before.attempts);
    report.retries += after.retries.saturating_sub(before.retries);
    report.http_429 = after.rate_limited.saturating_sub(before.rate_limited);
    report.wall = started.elapsed();
    report.failures.sort_by_key(|f| (f.action, f.line));
    Ok(report)
}

/// Creates the plan's new records through the import engine.
async fn create_all(
    clerk: &Clerk,
    plan: &Plan,
    options: &SyncOptions,
    checkpoint: &Path,
    observer: Arc<dyn Observer>,
    report: &mut ApplyReport,
) -> Result<(), SyncError> {
    let (replay, writer) =
        journal::open(checkpoint).map_err(|e| SyncError::checkpoint(e.to_string()))?;
    // The journal is keyed by each record's identity, so a source that changed since
    // an interrupted run resumes correctly. The records are read back one by one.
    let items = plan.creates.iter().map(|c| {
        c.map(|c| Item::new(c.index, c.line, c.body.to_map()))
            .map_err(|e| e.to_string())
    });
    let import_options = import::Options {
        concurrency: options.concurrency.max(1),
        max_create_attempts: options.max_create_attempts,
        settle_delay: options.settle_delay,
        ..import::Options::default()
    };
    let summary = import::run(
        clerk,
        futures_util::stream::iter(items),
        &replay,
        Arc::new(writer),
        import_options,
        Arc::new(CreateProgress(observer)),
    )
    .await
    .map_err(SyncError::checkpoint)?;
    report.created += summary.created;
    report.already_present += summary.already_present;
    report.created_before += summary.skipped;
    report.writes += (summary.created + summary.failed) as u64;
    report.lookups += summary.lookups;
    report.retries += summary.retries;
    report
        .failures
        .extend(summary.failures.into_iter().map(|f| SyncFailure {
            action: Action::Create,
            line: f.line,
            user_id: None,
            code: f.code,
            message: f.message,
        }));
    Ok(())
}

/// Replaces metadata objects whole: `PUT /users/{id}/metadata`, under the same
/// per-user limit as the updates.
async fn send_replace(clerk: &Clerk, replace: &ReplaceUserMetadata) -> Result<(), Error> {
    clerk
        .users()
        .replace_metadata(replace.clone())
        .await
        .map(drop)
}

struct UpdateOutcome {
    writes: u64,
    per_user: u64,
    /// Writes answered by an unreadable 2xx (applied).
    unreadable: usize,
    /// `Ok(unbanned)`.
    result: Result<bool, SyncFailure>,
}

/// Sends one user's update, metadata merge and unban.
async fn update_one(clerk: &Clerk, u: &PlannedUpdate) -> UpdateOutcome {
    let mut outcome = UpdateOutcome {
        writes: 0,
        per_user: 0,
        unreadable: 0,
        result: Ok(false),
    };
    if let Some(update) = &u.diff.update {
        outcome.writes += 1;
        outcome.per_user += 1;
        if let Err(err) = clerk.users().update(update.clone()).await {
            if !applied_unreadable(&err) {
                outcome.result = Err(failure(Action::Update, u.line, &u.user_id, &err));
                return outcome;
            }
            outcome.unreadable += 1;
        }
    }
    if let Some(merge) = &u.diff.metadata {
        outcome.writes += 1;
        outcome.per_user += 1;
        if let Err(err) = clerk.users().update_metadata(merge.clone()).await {
            if !applied_unreadable(&err) {
                outcome.result = Err(failure(Action::Update, u.line, &u.user_id, &err));
                return outcome;
            }
            outcome.unreadable += 1;
        }
    }
    if let Some(replace) = &u.diff.replace {
        outcome.writes += 1;
        outcome.per_user += 1;
        if let Err(err) = send_replace(clerk, replace).await {
            if !applied_unreadable(&err) {
                outcome.result = Err(failure(Action::Update, u.line, &u.user_id, &err));
                return outcome;
            }
            outcome.unreadable += 1;
        }
    }
    if u.diff.unban {
        outcome.writes += 1;
        if let Err(err) = clerk.users().unban(u.user_id.clone()).await {
            if !applied_unreadable(&err) {
                outcome.result = Err(failure(Action::Unban, u.line, &u.user_id, &err));
                return outcome;
            }
            outcome.unreadable += 1;
        }
        outcome.result = Ok(true);
    }
    outcome
}
