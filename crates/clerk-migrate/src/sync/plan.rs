//! Reading the instance and planning: each source record becomes a create, an
//! update or nothing, and each Clerk user absent from the source gets the
//! [`Missing`] action.

use std::fmt;
use std::pin::pin;
use std::sync::Arc;

use clerk_tower::Clerk;
use clerk_tower::users::{CountUsers, ListUsers, UserOrderBy, UserOrderField};
use futures_util::{Stream, TryStreamExt};
use serde_json::{Map, Value};

use super::conflicts::Conflicts;
use super::diff::UserDiff;
use super::index::{AMBIGUOUS, CHANGED, CONFLICTED, HERE, Index, Rec, SORT_RUN};
use super::leavers::Leavers;
use super::matching::{Matcher, key_of, lookup_kind, lookup_requests};
use super::tape::{Context, DiffRule, Fields, Planned, RecordTape, Tape, encode_create};
use super::{MatchKey, Missing, Observer, SyncError, SyncOptions};
use crate::record::{Body, Lookup, record_key};
use crate::shard::Shard;
use crate::spill::Sorter;

/// Users per page of the export (Clerk's maximum).
pub const EXPORT_PAGE: u64 = 500;

/// One record of the source of truth: a Clerk create body (snake_case fields, as
/// `clerk-users import` reads them). A field it leaves out is not managed; a field
/// set to `null` must be empty on the user.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceRecord {
    body: Map<String, Value>,
    line: usize,
}

impl SourceRecord {
    /// A record from a create body.
    pub fn new(body: Map<String, Value>) -> Self {
        Self { body, line: 0 }
    }

    /// Tags the record with the line (or row) it came from, for reports.
    #[must_use]
    pub fn at_line(mut self, line: usize) -> Self {
        self.line = line;
        self
    }

    /// The create body.
    pub fn body(&self) -> &Map<String, Value> {
        &self.body
    }
}

impl From<clerk_core::users::CreateUser> for SourceRecord {
    fn from(create: clerk_core::users::CreateUser) -> Self {
        match serde_json::to_value(&create) {
            Ok(Value::Object(body)) => Self::new(body),
            // A create body always serializes to an object.
            _ => Self::new(Map::new()),
        }
    }
}

/// How the instance's state was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadStrategy {
    /// Every user, page by page ([`EXPORT_PAGE`] per request).
    Export,
    /// Only the source's keys, [`LOOKUP_BATCH`](super::LOOKUP_BATCH) per request.
    Lookups,
}

impl fmt::Display for ReadStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Export => "full export",
            Self::Lookups => "key lookups",
        })
    }
}

/// What reading the state cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StateRead {
    /// The strategy chosen.
    pub strategy: ReadStrategy,
    /// Why: `Some((export, lookups))` requests each would cost, when it was a choice
    /// (with `Missing::Ignore`); `None` when the whole instance had to be read.
    pub estimate: Option<(u64, u64)>,
    /// Read requests made (the count included).
    pub requests: u64,
    /// Users read.
    pub users_read: u64,
    /// Users in the instance, when counted or fully read.
    pub instance_users: Option<u64>,
}

/// A record to create.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PlannedCreate {
    /// Position among the records planned (this shard's), from 0.
    pub index: usize,
    /// Line of the source.
    pub line: usize,
    /// The match key's value.
    pub key: String,
    /// The create body.
    pub body: Body,
}

/// A user to update.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PlannedUpdate {
    /// Position among the records planned (this shard's), from 0.
    pub index: usize,
    /// Line of the source.
    pub line: usize,
    /// The match key's value.
    pub key: String,
    /// The Clerk user.
    pub user_id: String,
    /// What changes.
    pub diff: UserDiff,
}

/// A Clerk user that no source record matches.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MissingUser {
    /// The Clerk user.
    pub user_id: String,
    /// Its match key's value, if it has one.
    pub key: Option<String>,
    /// Whether it is banned already.
    pub banned: bool,
}

/// A record sync leaves alone, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Conflict {
    /// Line of the source (0 when the source gave none).
    pub line: usize,
    /// The match key's value, if it has one.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// The plan: what applying it will send.
#[derive(Debug)]
#[non_exhaustive]
pub struct Plan {
    /// The shard planned ([`SyncOptions::shard`]; `1/1`: the whole source).
    pub shard: Shard,
    /// Records of the source in this shard.
    pub records: usize,
    /// Records of the source in the other shards: read for their keys only (a user
    /// they match is not missing), planned by the other shards' runs.
    pub records_in_other_shards: usize,
    /// Records to create.
    pub creates: Planned<PlannedCreate>,
    /// Users to update.
    pub updates: Planned<PlannedUpdate>,
    /// Write requests of the updates.
    update_writes: u64,
    /// Records whose user already equals them.
    pub unchanged: usize,
    /// Users absent from the source, that get the [`Missing`] action: those whose
    /// Clerk user id falls in this shard.
    pub missing: Planned<MissingUser>,
    /// Users absent from the source that get the [`Missing`] action in the plans of
    /// all shards together (this one's included); the limits apply to it.
    pub missing_all_shards: usize,
    /// Users absent from the source that need nothing (ignored, or banned already).
    pub missing_untouched: usize,
    /// The action for [`Plan::missing`].
    pub missing_action: Missing,
    /// Records left alone, by line (a scratch file read back entry by entry, like the
    /// other lists: a source of bad records costs no memory a record).
    pub conflicts: Planned<Conflict>,
    /// How the state was read.
    pub state: StateRead,
}

impl Plan {
    /// Write requests the plan costs at least (creates, updates, metadata merges,
    /// unbans one by one; bans 50 per bulk request; deletes one by one).
    pub fn writes(&self) -> u64 {
        let updates = self.update_writes;
        let missing = match self.missing_action {
            Missing::Ban => (self.missing.len() as u64).div_ceil(super::BAN_BATCH as u64),
            Missing::Delete => self.missing.len() as u64,
            Missing::Ignore => 0,
        };
        self.creates.len() as u64 + updates + missing
    }

    /// Checks the plan against `--max-deletes` / `--max-bans` (by default 10 % of
    /// the instance, at least 10): a source that lost most of its records must not
    /// wipe the instance. A source with no records at all acts on missing users only
    /// with the limit given explicitly. With shards, the limit applies to all shards' missing users
    /// together (each shard's run counts them all), so every shard refuses, or none.
    pub fn check_limits(&self, options: &SyncOptions) -> Result<(), SyncError> {
        let instance = self.state.instance_users.unwrap_or(0);
        let default = (instance / 10).max(10);
        let (limit, verb, flag) = match self.missing_action {
            Missing::Delete => (
                options.max_deletes.unwrap_or(default),
                "delete",
                "--max-deletes",
            ),
            Missing::Ban => (options.max_bans.unwrap_or(default), "ban", "--max-bans"),
            Missing::Ignore => return Ok(()),
        };
        let planned = self.missing_all_shards as u64;
        let whose = if self.shard.count() > 1 {
            format!(
                " (all {} shards; {} of them in shard {})",
                self.shard.count(),
                self.missing.len(),
                self.shard
            )
        } else {
            String::new()
        };
        // An empty source (a failed dump, a wrong path) would wipe a small instance under
        // the default limit's floor of 10: it needs the limit given explicitly.
        let explicit = match self.missing_action {
            Missing::Delete => options.max_deletes.is_some(),
            _ => options.max_bans.is_some(),
        };
        if planned > 0 && self.records + self.records_in_other_shards == 0 && !explicit {
            return Err(SyncError::refused(format!(
                "the source has no records: the plan would {verb} all {planned} users it \
                 finds; nothing was changed. Check the source, or pass {flag} {planned} to \
                 mean it"
            )));
        }
        if planned > limit {
            return Err(SyncError::refused(format!(
                "the plan would {verb} {planned} users{whose}, above the limit of {limit} \
                 ({flag}; by default 10 % of the instance, at least 10); nothing was changed. \
                 Check the source, or raise {flag}"
            )));
        }
        Ok(())
    }

    /// The first `n` updates (each with its changes, field by field), for a dry run.
    pub fn first_changes(&self, n: usize) -> Result<Vec<PlannedUpdate>, SyncError> {
        self.updates.first(n)
    }
}

/// The export of the instance: newest first, each page after the `starting_after`
/// cursor of the last user read. Other writers (the other shards deleting their
/// leavers) cannot shift it: paged by offset, a delete on a page already read
/// would move an unread user onto it, and that user would never be read (a leaver
/// missed by every shard, a record planned as a create).
fn export_request() -> ListUsers {
    let request = ListUsers::new()
        .order_by(UserOrderBy::desc(UserOrderField::CreatedAt))
        .limit(EXPORT_PAGE as u32);
    // `list_all` follows the cursor for the `created_at` orderings.
    debug_assert!(request.uses_created_at_order());
    request
}

/// Reads `source` and the instance's state, and plans the sync. Sends no write.
///
/// The records are read once and kept in a scratch file
/// ([`SyncOptions::scratch_dir`]), as are the plan's lists and the index that
/// matches users to records ([the module's](super) memory note): memory does not
/// grow with the records.
pub async fn plan<S, E>(
    clerk: &Clerk,
    source: S,
    options: &SyncOptions,
    observer: &dyn Observer,
) -> Result<Plan, SyncError>
where
    S: Stream<Item = Result<SourceRecord, E>>,
    E: fmt::Display,
{
    let before = clerk.metrics().attempts;
    let shard = options.shard;
    let dir = options
        .scratch_dir
        .clone()
        .unwrap_or_else(std::env::temp_dir);
    let mut index = Index::new(RecordTape::new(&dir)?, &dir)?;
    let mut here: u32 = 0;
    let mut records_in_other_shards = 0;
    let mut conflicts = Conflicts::new(&dir)?;
    let mut source = pin!(source);
    while let Some(record) = source
        .try_next()
        .await
        .map_err(|e| SyncError::source(format!("reading the source: {e}")))?
    {
        let Some(key) = key_of(options.key, &record.body) else {
            // Reported by one shard: the one its identity (as `import` shards it) falls in.
            if shard.contains(&record_key(&record.body)) {
                conflicts.push(&Conflict {
                    line: record.line,
                    key: None,
                    message: format!("the record has no {}, the match key", options.key),
                })?;
            } else {
                records_in_other_shards += 1;
            }
            continue;
        };
        // One key, one shard: records sharing a key (a conflict) share a shard too.
        // Every record's key is kept, this shard's or not: a user another shard's
        // record matches is not missing.
        let mine = shard.contains(&key);
        let body = Value::Object(record.body).to_string();
        index.push(record.line, &key, &body, mine, here)?;
        if mine {
            here += 1;
        } else {
            records_in_other_shards += 1;
        }
    }
    for (line, key, first) in index.finish()? {
        conflicts.push(&Conflict {
            line,
            message: format!("{} {key:?} is also the key of line {first}", options.key),
            key: Some(key),
        })?;
    }

    let rule = DiffRule {
        metadata: options.metadata,
        skip_external_id: options.key == MatchKey::ExternalId,
        unban_returning: options.missing == Missing::Ban,
    };
    let mut pending = Tape::new(&dir, "sync-pending")?;
    let mut pending_at = Sorter::<[u64; 2]>::new(&dir, SORT_RUN);
    let mut missing = Tape::new(&dir, "sync-missing")?;
    // A page could repeat a user (a server paging by offset while users are
    // created): each missing user counts once, by its id, once the export is read.
    let mut leavers = Leavers::new(&dir)?;
    let mut users_read = 0u64;
    let open = |r: &Rec| r.flags & CONFLICTED == 0;
    let (strategy, estimate, instance_users) = if options.missing == Missing::Ignore {
        let count = clerk
            .users()
            .count(CountUsers::new())
            .await
            .map_err(SyncError::read)?;
        let count = u64::try_from(count).unwrap_or(0);
        // Every page, the last one short or empty.
        let export = count / EXPORT_PAGE + 1;
        let mut failed = None;
        let lookups = lookup_requests(
            index
                .scan(0)
                .map_while(|r| r.map_err(|e| failed = Some(e)).ok())
                .filter(|(_, r)| r.flags & HERE != 0 && open(r))
                .map(|(_, r)| r.at.key_len as usize),
        );
        if let Some(e) = failed {
            return Err(e);
        }
        if lookups < export {
            (ReadStrategy::Lookups, Some((export, lookups)), Some(count))
        } else {
            (ReadStrategy::Export, Some((export, lookups)), Some(count))
        }
    } else {
        (ReadStrategy::Export, None, None)
    };
    let mut matcher = Matcher {
        options,
        rule,
        index: &mut index,
        pending: &mut pending,
        pending_at: &mut pending_at,
        buf: Vec::new(),
    };
    match strategy {
        ReadStrategy::Export => {
            let mut users = pin!(clerk.users().list_all(export_request()));
            while let Some(user) = users.try_next().await.map_err(SyncError::read)? {
                users_read += 1;
                if users_read.is_multiple_of(EXPORT_PAGE) {
                    observer.state_read(users_read);
                }
                if matcher.offer(&user)? {
                    continue;
                }
                // Missing from the whole source. Its Clerk id, which every user has
                // (with a key or without), names the one shard that acts on it.
                let acted_on = match options.missing {
                    Missing::Ban => !user.banned,
                    Missing::Delete => true,
                    Missing::Ignore => false,
                };
                let key = Lookup::values_of(lookup_kind(options.key).kind(), &user)
                    .into_iter()
                    .next();
                let leaver = MissingUser {
                    user_id: user.id.clone(),
                    key,
                    banned: user.banned,
                };
                leavers.push(&leaver, acted_on, shard.contains(&user.id))?;
            }
        }
        ReadStrategy::Lookups => {
            let mut from = 0;
            loop {
                let keys = matcher.index.next_keys(&mut from, open)?;
                if keys.is_empty() {
                    break;
                }
                matcher
                    .look_up(clerk, &keys, |n| {
                        users_read += n;
                        observer.state_read(users_read);
                    })
                    .await?;
            }
        }
    }
    drop(matcher);
    let counted = leavers.finish(&mut missing)?;
    let (missing_len, missing_untouched, missing_all_shards) = (
        counted.acted_on,
        counted.untouched,
        counted.acted_on_all_shards,
    );
    observer.state_read(users_read);
    let instance_users = instance_users.or(
        // A full export saw every user.
        (strategy == ReadStrategy::Export).then_some(users_read),
    );

    // The plan's lists, in source order (the missing users in the instance's).
    index.tape.seal()?;
    let mut creates = Tape::new(&dir, "sync-creates")?;
    let (mut creates_len, mut unchanged) = (0, 0);
    let mut buf = Vec::new();
    for item in index.scan(0) {
        let (_, rec) = item?;
        if rec.flags & HERE == 0 || rec.flags & CONFLICTED != 0 {
            continue;
        }
        if rec.flags & AMBIGUOUS != 0 {
            let (line, key) = index.tape.line_and_key(rec.at, &mut buf)?;
            conflicts.push(&Conflict {
                line,
                message: format!("more than one Clerk user has {} {key:?}", options.key),
                key: Some(key),
            })?;
        } else if rec.matched == 0 {
            creates.push(&[&encode_create(rec.index, rec.at)])?;
            creates_len += 1;
        } else if rec.flags & CHANGED == 0 {
            unchanged += 1;
        }
    }
    pending.flush()?;
    let mut updates = Tape::new(&dir, "sync-updates")?;
    let (mut updates_len, mut update_writes) = (0, 0u64);
    let sort_error = |e| SyncError::spill(format!("the sync's sort: {e}"));
    for entry in pending_at.finish().map_err(sort_error)? {
        let [at, offset] = entry.map_err(sort_error)?;
        let rec = index.get(at as u32)?;
        if rec.flags & (CONFLICTED | AMBIGUOUS) != 0 {
            continue;
        }
        pending.read(offset, &mut buf)?;
        let mut fields = Fields::new(&buf);
        fields.take(4)?;
        update_writes += u64::from(fields.take(1)?[0]);
        updates.push(&[&encode_create(rec.index, rec.at), fields.rest()])?;
        updates_len += 1;
    }
    drop(pending);
    let tape = index.into_tape();
    for t in [&mut creates, &mut updates, &mut missing] {
        t.seal()?;
    }
    let context = Arc::new(Context {
        records: tape,
        diff: rule,
    });
    let records = here as usize + conflicts.without_key();
    let conflicts = conflicts.finish(Arc::clone(&context))?;
    let requests = clerk.metrics().attempts.saturating_sub(before);
    Ok(Plan {
        shard,
        records,
        records_in_other_shards,
        creates: Planned::new(
            Some(creates),
            creates_len,
            Arc::clone(&context),
            PlannedCreate::decode,
        ),
        updates: Planned::new(
            Some(updates),
            updates_len,
            Arc::clone(&context),
            PlannedUpdate::decode,
        ),
        update_writes,
        unchanged,
        missing: Planned::new(Some(missing), missing_len, context, MissingUser::decode),
        missing_all_shards,
        missing_untouched,
        missing_action: options.missing,
        conflicts,
        state: StateRead {
            strategy,
            estimate,
            requests,
            users_read,
            instance_users,
        },
    })
}
