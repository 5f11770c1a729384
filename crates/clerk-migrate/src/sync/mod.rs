//! Sync: keep a Clerk instance equal to a source of truth. Plan, then apply.
//!
//! [`plan`] reads the source (a [`Stream`](futures_util::Stream) of
//! [`SourceRecord`]s: a file, a database query…) and the instance's state — a full
//! export, or batched lookups of the source's keys when that costs fewer requests —
//! and computes, per record, a create, an update of only the fields that differ
//! ([`diff::COMPARED_FIELDS`]), or nothing; and for Clerk users absent from the
//! source, the [`Missing`] action. It sends no write. [`apply`] sends the plan at
//! the client's rate limit: creates exactly once through the [`import`](crate::import)
//! engine (checkpoint journal, reconciliation), updates through `PATCH
//! /users/{id}` and the metadata merge endpoint (both under Clerk's per-user limit,
//! which the default stack's rate limiter keeps), bans 50 per bulk request,
//! deletes one by one. A second run over an unchanged source sends no write.
//!
//! Neither holds the source or the instance in memory: the records go to a
//! private scratch file as they are read ([`SyncOptions::scratch_dir`]), the
//! users are diffed page by page as the export streams in, and the plan's lists
//! ([`Planned`]) are scratch files read back entry by entry. The index that
//! matches users to records is on disk too (a fixed-size slot per record, the
//! keys' hashes externally sorted into a file; in memory a fixed 512 KiB table of
//! where each hash prefix starts), as are the pending updates and the missing
//! users being counted (external sorts with bounded runs): planning's memory is
//! the same for ten thousand records as for ten million. The conflicts it reports
//! (duplicate keys, records without the key, ambiguous matches) are a list on
//! disk too ([`Plan::conflicts`]).
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use clerk_migrate::sync::{self, Missing, NoObserver, SourceRecord, SyncOptions};
//! use clerk_tower::Clerk;
//! use futures_util::stream;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let clerk = Clerk::builder().build()?;
//! // Rows of your database, as Clerk create bodies.
//! let rows = vec![serde_json::json!({"external_id": "crm-42", "first_name": "Ada",
//!                                    "email_address": ["ada@example.com"],
//!                                    "public_metadata": {"plan": "pro"}})];
//! let source = stream::iter(rows.into_iter().map(|row| {
//!     Ok::<_, std::convert::Infallible>(SourceRecord::new(row.as_object().cloned().unwrap_or_default()))
//! }));
//! let options = SyncOptions::new().missing(Missing::Ban).max_bans(100);
//! let plan = sync::plan(&clerk, source, &options, &NoObserver).await?;
//! println!("create {} · update {} · unchanged {} · ban {}",
//!          plan.creates.len(), plan.updates.len(), plan.unchanged, plan.missing.len());
//! let checkpoint = std::path::Path::new("sync.checkpoint.jsonl");
//! let report = sync::apply(&clerk, plan, &options, checkpoint, Arc::new(NoObserver)).await?;
//! println!("{} writes, {} failed", report.writes, report.failures.len());
//! # Ok(()) }
//! ```
//!
//! # Shards
//!
//! [`SyncOptions::shard`] splits one source between `N` runs (`K/N`, on `N` machines,
//! sharing the quota through the rate limiter's Redis backend). Every run reads the
//! whole source and the whole instance; then:
//!
//! - it creates and updates only the records whose **match key** falls in its shard
//!   ([`Shard::contains`]); records sharing a key share a shard, so the conflicts
//!   are found as without shards, each reported by one run (a record without the
//!   key by the shard of its identity, as `import` shards it);
//! - a Clerk user is **missing** when no record *of any shard* matches it: the other
//!   shards' keys are kept (the keys only) for that, so no run bans or deletes a user
//!   another shard's record matches. Of the missing users, each run acts on those
//!   whose **Clerk user id** falls in its shard: every user has an id, with a key or
//!   without (`external_id` unset), so each leaver is handled by exactly one run;
//! - `max_deletes` / `max_bans` apply to all shards' missing users together, which
//!   every run counts ([`Plan::missing_all_shards`]): all runs refuse, or none;
//! - the export is read while the other runs write (delete their leavers, create
//!   and update their records): it follows the `created_at` cursor
//!   (`starting_after`), so a delete cannot shift an unread user onto a page already
//!   read (as it would paged by offset), and a user created meanwhile is newer than
//!   the cursor (and matched by the record that created it, not missing).
//!
//! Each run needs its own checkpoint (the CLI names it
//! `FILE.shard-K-of-N.sync-checkpoint.jsonl`).

mod apply;
mod conflicts;
pub mod diff;
mod index;
mod leavers;
mod matching;
mod plan;
mod tape;

use std::fmt;

use crate::shard::Shard;

pub use apply::{Action, ApplyReport, SyncFailure, apply};
pub use diff::{FieldChange, MetadataMode, UserDiff};
pub use matching::{LOOKUP_BATCH, LOOKUP_BYTES};
pub use plan::{
    Conflict, EXPORT_PAGE, MissingUser, Plan, PlannedCreate, PlannedUpdate, ReadStrategy,
    SourceRecord, StateRead, plan,
};
pub use tape::{Iter, Planned};

/// Ids per bulk ban request (Clerk's maximum).
pub const BAN_BATCH: usize = 50;

/// How source records are matched to Clerk users.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MatchKey {
    /// By `external_id`.
    #[default]
    ExternalId,
    /// By email address (the record's first; any of the user's, case-insensitive).
    Email,
}

impl fmt::Display for MatchKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ExternalId => "external_id",
            Self::Email => "email address",
        })
    }
}

/// What happens to Clerk users that no source record matches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Missing {
    /// Nothing.
    #[default]
    Ignore,
    /// They are banned (and unbanned when they come back to the source).
    Ban,
    /// They are deleted.
    Delete,
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ignore => "ignore",
            Self::Ban => "ban",
            Self::Delete => "delete",
        })
    }
}

/// The knobs of a sync.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SyncOptions {
    /// How records are matched to users.
    pub key: MatchKey,
    /// What happens to users absent from the source.
    pub missing: Missing,
    /// How changed metadata is written.
    pub metadata: MetadataMode,
    /// Deletes a plan may hold at most (`None`: 10 % of the instance, at least 10).
    pub max_deletes: Option<u64>,
    /// Bans a plan may hold at most (`None`: 10 % of the instance, at least 10).
    pub max_bans: Option<u64>,
    /// Requests in flight at most.
    pub concurrency: usize,
    /// Creates of one record at most (after reconciling that the previous did nothing).
    pub max_create_attempts: u32,
    /// How long an ambiguous create settles before it is looked up
    /// ([`crate::import::Options::settle_delay`]).
    pub settle_delay: std::time::Duration,
    /// The share of the source this run plans ([`Shard::ALL`] by default); see
    /// [Shards](self#shards).
    pub shard: Shard,
    /// Where the plan keeps the source's records and its lists (private scratch
    /// files, removed when the plan is dropped); `None`: the system's temporary
    /// directory.
    pub scratch_dir: Option<std::path::PathBuf>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            key: MatchKey::default(),
            missing: Missing::default(),
            metadata: MetadataMode::default(),
            max_deletes: None,
            max_bans: None,
            concurrency: 32,
            max_create_attempts: 8,
            settle_delay: crate::import::Options::default().settle_delay,
            shard: Shard::ALL,
            scratch_dir: None,
        }
    }
}

impl SyncOptions {
    /// Match by external id, ignore missing users, merge metadata, 32 in flight.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the match key.
    #[must_use]
    pub fn key(mut self, key: MatchKey) -> Self {
        self.key = key;
        self
    }

    /// Sets what happens to users absent from the source.
    #[must_use]
    pub fn missing(mut self, missing: Missing) -> Self {
        self.missing = missing;
        self
    }

    /// Sets how metadata is written.
    #[must_use]
    pub fn metadata(mut self, mode: MetadataMode) -> Self {
        self.metadata = mode;
        self
    }

    /// Refuses a plan with more deletes.
    #[must_use]
    pub fn max_deletes(mut self, n: u64) -> Self {
        self.max_deletes = Some(n);
        self
    }

    /// Refuses a plan with more bans.
    #[must_use]
    pub fn max_bans(mut self, n: u64) -> Self {
        self.max_bans = Some(n);
        self
    }

    /// Sets the requests in flight at most.
    #[must_use]
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Sets how long an ambiguous create settles before it is looked up.
    #[must_use]
    pub fn settle_delay(mut self, delay: std::time::Duration) -> Self {
        self.settle_delay = delay;
        self
    }

    /// Plans only shard `K/N` of the source (see [Shards](self#shards)).
    #[must_use]
    pub fn shard(mut self, shard: Shard) -> Self {
        self.shard = shard;
        self
    }

    /// Keeps the plan's scratch files in `dir` (by default the system's temporary
    /// directory): about the source's size, plus some 90 bytes a record (the index,
    /// the ids of the users matched) and the changed users.
    #[must_use]
    pub fn scratch_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.scratch_dir = Some(dir.into());
        self
    }

    /// Sets the creates of one record at most.
    #[must_use]
    pub fn max_create_attempts(mut self, n: u32) -> Self {
        self.max_create_attempts = n.max(1);
        self
    }
}

/// Where sync reports progress (a progress bar, a log line, nothing).
pub trait Observer: Send + Sync {
    /// `users` read from the instance so far.
    fn state_read(&self, users: u64) {
        let _ = users;
    }
    /// Apply starts `total` actions.
    fn apply_started(&self, total: u64) {
        let _ = total;
    }
    /// `n` more actions done.
    fn applied(&self, n: u64) {
        let _ = n;
    }
}

/// Reports nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoObserver;

impl Observer for NoObserver {}

#[derive(Debug)]
enum ErrorKind {
    Source,
    Read,
    Refused,
    Checkpoint,
    Spill,
}

/// Why a sync could not plan or apply.
#[derive(Debug)]
pub struct SyncError {
    kind: ErrorKind,
    message: String,
    cause: Option<clerk_core::Error>,
}

impl SyncError {
    fn source(message: String) -> Self {
        Self {
            kind: ErrorKind::Source,
            message,
            cause: None,
        }
    }

    fn read(err: clerk_core::Error) -> Self {
        Self {
            kind: ErrorKind::Read,
            message: format!("reading the instance failed: {err}"),
            cause: Some(err),
        }
    }

    fn refused(message: String) -> Self {
        Self {
            kind: ErrorKind::Refused,
            message,
            cause: None,
        }
    }

    fn checkpoint(message: String) -> Self {
        Self {
            kind: ErrorKind::Checkpoint,
            message,
            cause: None,
        }
    }

    fn spill(message: String) -> Self {
        Self {
            kind: ErrorKind::Spill,
            message,
            cause: None,
        }
    }

    /// The source stream failed.
    pub fn is_source(&self) -> bool {
        matches!(self.kind, ErrorKind::Source)
    }

    /// Reading the instance's state failed (nothing was written).
    pub fn is_read(&self) -> bool {
        matches!(self.kind, ErrorKind::Read)
    }

    /// The plan exceeds `max_deletes` or `max_bans`; nothing was written.
    pub fn is_refused(&self) -> bool {
        matches!(self.kind, ErrorKind::Refused)
    }

    /// The checkpoint could not be read or written.
    pub fn is_checkpoint(&self) -> bool {
        matches!(self.kind, ErrorKind::Checkpoint)
    }

    /// The plan's scratch files could not be written or read back (a full disk).
    pub fn is_spill(&self) -> bool {
        matches!(self.kind, ErrorKind::Spill)
    }
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SyncError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
