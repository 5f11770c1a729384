//! Reading the instance and planning: each source record becomes a create, an
//! update or nothing, and each Clerk user absent from the source gets the
//! [`Missing`] action.

use std::collections::HashMap;
use std::fmt;
use std::pin::pin;

use clerk_tower::Clerk;
use clerk_tower::users::{CountUsers, ListUsers};
use futures_util::{Stream, TryStreamExt};
use serde_json::{Map, Value};

use super::diff::{FieldChange, UserDiff};
use super::matching::{Matcher, Slot, Source, key_of, lookup_batches, lookup_kind};
use super::{Missing, Observer, SyncError, SyncOptions};
use crate::record::{Body, Lookup, record_key};
use crate::shard::Shard;

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
    pub creates: Vec<PlannedCreate>,
    /// Users to update.
    pub updates: Vec<PlannedUpdate>,
    /// Records whose user already equals them.
    pub unchanged: usize,
    /// Users absent from the source, that get the [`Missing`] action: those whose
    /// Clerk user id falls in this shard.
    pub missing: Vec<MissingUser>,
    /// Users absent from the source that get the [`Missing`] action in the plans of
    /// all shards together (this one's included); the limits apply to it.
    pub missing_all_shards: usize,
    /// Users absent from the source that need nothing (ignored, or banned already).
    pub missing_untouched: usize,
    /// The action for [`Plan::missing`].
    pub missing_action: Missing,
    /// Records left alone.
    pub conflicts: Vec<Conflict>,
    /// How the state was read.
    pub state: StateRead,
}

impl Plan {
    /// Write requests the plan costs at least (creates, updates, metadata merges,
    /// unbans one by one; bans 50 per bulk request; deletes one by one).
    pub fn writes(&self) -> u64 {
        let updates: u64 = self.updates.iter().map(|u| u.diff.writes()).sum();
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

    /// The first `n` changes, record by record, for a dry run.
    pub fn first_changes(&self, n: usize) -> Vec<(&PlannedUpdate, &[FieldChange])> {
        self.updates
            .iter()
            .take(n)
            .map(|u| (u, u.diff.changes.as_slice()))
            .collect()
    }
}

/// Reads `source` and the instance's state, and plans the sync. Sends no write.
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
    let mut sources: Vec<Source> = Vec::new();
    // Every record's key, this shard's or not: a user another shard's record matches
    // is not missing.
    let mut by_key: HashMap<String, Slot> = HashMap::new();
    let mut records_in_other_shards = 0;
    let mut conflicts = Vec::new();
    let mut source = pin!(source);
    while let Some(record) = source
        .try_next()
        .await
        .map_err(|e| SyncError::source(format!("reading the source: {e}")))?
    {
        let index = sources.len();
        let Some(key) = key_of(options.key, &record.body) else {
            // Reported by one shard: the one its identity (as `import` shards it) falls in.
            if shard.contains(&record_key(&record.body)) {
                conflicts.push(Conflict {
                    line: record.line,
                    key: None,
                    message: format!("the record has no {}, the match key", options.key),
                });
            } else {
                records_in_other_shards += 1;
            }
            continue;
        };
        // One key, one shard: records sharing a key (a conflict) share a shard too.
        if !shard.contains(&key) {
            records_in_other_shards += 1;
            by_key.entry(key).or_insert(Slot::Elsewhere);
            continue;
        }
        let mut conflicted = false;
        if let Some(&Slot::Here(other)) = by_key.get(&key) {
            let first: &mut Source = &mut sources[other];
            conflicts.push(Conflict {
                line: record.line,
                key: Some(key.clone()),
                message: format!(
                    "{} {key:?} is also the key of line {}",
                    options.key, first.line
                ),
            });
            first.conflicted = true;
            conflicted = true;
        } else {
            by_key.insert(key.clone(), Slot::Here(index));
        }
        sources.push(Source {
            index,
            line: record.line,
            key,
            body: Body::from_map(record.body),
            conflicted,
            matched: None,
            ambiguous: false,
        });
    }

    let own_keys: Vec<String> = by_key
        .iter()
        .filter(|(_, slot)| matches!(slot, Slot::Here(_)))
        .map(|(key, _)| key.clone())
        .collect();
    let mut missing = Vec::new();
    let mut missing_untouched = 0;
    let mut missing_all_shards = 0;
    // A page can repeat a user when a create lands before it (newest first).
    let mut missing_seen = std::collections::HashSet::new();
    let mut users_read = 0u64;
    let mut matcher = Matcher {
        options,
        sources: &mut sources,
        by_key: &by_key,
    };
    let (strategy, estimate, instance_users) = if options.missing == Missing::Ignore {
        let count = clerk
            .users()
            .count(CountUsers::new())
            .await
            .map_err(SyncError::read)?;
        let count = u64::try_from(count).unwrap_or(0);
        // Every page, the last one short or empty.
        let export = count / EXPORT_PAGE + 1;
        let lookups = lookup_batches(&own_keys).len() as u64;
        if lookups < export {
            (ReadStrategy::Lookups, Some((export, lookups)), Some(count))
        } else {
            (ReadStrategy::Export, Some((export, lookups)), Some(count))
        }
    } else {
        (ReadStrategy::Export, None, None)
    };
    match strategy {
        ReadStrategy::Export => {
            let mut users = pin!(
                clerk
                    .users()
                    .list_all(ListUsers::new().limit(EXPORT_PAGE as u32))
            );
            while let Some(user) = users.try_next().await.map_err(SyncError::read)? {
                users_read += 1;
                if users_read.is_multiple_of(EXPORT_PAGE) {
                    observer.state_read(users_read);
                }
                if matcher.offer(&user) || !missing_seen.insert(user.id.clone()) {
                    continue;
                }
                // Missing from the whole source. Its Clerk id, which every user has
                // (with a key or without), names the one shard that acts on it.
                let acted_on = match options.missing {
                    Missing::Ban => !user.banned,
                    Missing::Delete => true,
                    Missing::Ignore => false,
                };
                missing_all_shards += usize::from(acted_on);
                if !shard.contains(&user.id) {
                    continue;
                }
                if acted_on {
                    let key = Lookup::values_of(lookup_kind(options.key).kind(), &user)
                        .into_iter()
                        .next();
                    missing.push(MissingUser {
                        user_id: user.id.clone(),
                        key,
                        banned: user.banned,
                    });
                } else {
                    missing_untouched += 1;
                }
            }
            if shard.count() > 1 {
                // The other shards write while this one reads page after page: a delete
                // ahead of the offset moves an unread user onto a page already read, and
                // its record would look new. The records about to be created are looked
                // up first (100 per request).
                let unmatched: Vec<String> = matcher
                    .sources
                    .iter()
                    .filter(|s| !s.conflicted && !s.ambiguous && s.matched.is_none())
                    .map(|s| s.key.clone())
                    .collect();
                matcher.look_up(clerk, &unmatched, |_| {}).await?;
            }
        }
        ReadStrategy::Lookups => {
            matcher
                .look_up(clerk, &own_keys, |n| {
                    users_read += n;
                    observer.state_read(users_read);
                })
                .await?;
        }
    }
    observer.state_read(users_read);
    let instance_users = instance_users.or(
        // A full export saw every user.
        (strategy == ReadStrategy::Export).then_some(users_read),
    );

    let mut creates = Vec::new();
    let mut updates = Vec::new();
    let mut unchanged = 0;
    let records = sources.len() + conflicts.iter().filter(|c| c.key.is_none()).count();
    for s in sources {
        if s.conflicted {
            continue;
        }
        if s.ambiguous {
            conflicts.push(Conflict {
                line: s.line,
                key: Some(s.key.clone()),
                message: format!("more than one Clerk user has {} {:?}", options.key, s.key),
            });
            continue;
        }
        match s.matched {
            None => creates.push(PlannedCreate {
                index: s.index,
                line: s.line,
                key: s.key,
                body: s.body,
            }),
            Some((_, diff)) if diff.is_empty() => unchanged += 1,
            Some((user_id, diff)) => updates.push(PlannedUpdate {
                index: s.index,
                line: s.line,
                key: s.key,
                user_id,
                diff,
            }),
        }
    }
    conflicts.sort_by_key(|c| c.line);
    let requests = clerk.metrics().attempts.saturating_sub(before);
    Ok(Plan {
        shard,
        records,
        records_in_other_shards,
        creates,
        updates,
        unchanged,
        missing,
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
