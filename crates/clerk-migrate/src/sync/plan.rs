//! Reading the instance and planning: each source record becomes a create, an
//! update or nothing, and each Clerk user absent from the source gets the
//! [`Missing`] action.

use std::collections::HashMap;
use std::fmt;
use std::pin::pin;

use clerk_core::User;
use clerk_tower::Clerk;
use clerk_tower::users::{CountUsers, ListUsers};
use futures_util::{Stream, TryStreamExt};
use serde_json::{Map, Value};

use super::diff::{FieldChange, UserDiff, diff_user};
use super::{MatchKey, Missing, Observer, SyncError, SyncOptions};
use crate::record::{Body, Lookup};

/// Bytes of keys per lookup request at most, so its URL stays well under the
/// 8 KiB that servers and proxies commonly accept.
pub const LOOKUP_BYTES: usize = 4096;

/// The source's keys in lookup requests: at most [`LOOKUP_BATCH`] keys and
/// [`LOOKUP_BYTES`] of them (percent-encoding aside) per request.
fn lookup_batches(keys: &[String]) -> Vec<&[String]> {
    let mut batches = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, key) in keys.iter().enumerate() {
        let len = key.len() + 16; // `&external_id=` and the `+` escape
        if i > start && (i - start == LOOKUP_BATCH || bytes + len > LOOKUP_BYTES) {
            batches.push(&keys[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += len;
    }
    if start < keys.len() {
        batches.push(&keys[start..]);
    }
    batches
}

/// Users per page of the export (Clerk's maximum).
pub const EXPORT_PAGE: u64 = 500;
/// Keys per lookup request.
pub const LOOKUP_BATCH: usize = 100;

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
    /// Only the source's keys, [`LOOKUP_BATCH`] per request.
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
    /// Position in the source, from 0.
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
    /// Position in the source, from 0.
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
    /// Records in the source.
    pub records: usize,
    /// Records to create.
    pub creates: Vec<PlannedCreate>,
    /// Users to update.
    pub updates: Vec<PlannedUpdate>,
    /// Records whose user already equals them.
    pub unchanged: usize,
    /// Users absent from the source, that get the [`Missing`] action.
    pub missing: Vec<MissingUser>,
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
    /// wipe the instance.
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
        let planned = self.missing.len() as u64;
        if planned > limit {
            return Err(SyncError::refused(format!(
                "the plan would {verb} {planned} users, above the limit of {limit} \
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

/// A source record, kept compact while the state is read.
struct Source {
    index: usize,
    line: usize,
    key: String,
    body: Body,
    /// Left alone (no key, or a key another record has).
    conflicted: bool,
    /// The Clerk user matched, and the diff against it.
    matched: Option<(String, UserDiff)>,
    /// Matched by more than one user.
    ambiguous: bool,
}

/// The match key of a create body.
fn key_of(key: MatchKey, body: &Map<String, Value>) -> Option<String> {
    match key {
        MatchKey::ExternalId => body
            .get("external_id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        MatchKey::Email => body
            .get("email_address")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(Value::as_str)
            .map(str::to_lowercase),
    }
}

fn lookup_kind(key: MatchKey) -> Lookup {
    match key {
        MatchKey::ExternalId => Lookup::ExternalId(String::new()),
        MatchKey::Email => Lookup::Email(String::new()),
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
    let mut sources: Vec<Source> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    let mut conflicts = Vec::new();
    let mut source = pin!(source);
    while let Some(record) = source
        .try_next()
        .await
        .map_err(|e| SyncError::source(format!("reading the source: {e}")))?
    {
        let index = sources.len();
        let Some(key) = key_of(options.key, &record.body) else {
            conflicts.push(Conflict {
                line: record.line,
                key: None,
                message: format!("the record has no {}, the match key", options.key),
            });
            continue;
        };
        let mut conflicted = false;
        if let Some(&other) = by_key.get(&key) {
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
            by_key.insert(key.clone(), index);
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

    let mut missing = Vec::new();
    let mut missing_untouched = 0;
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
        let keys: Vec<String> = by_key.keys().cloned().collect();
        let lookups = lookup_batches(&keys).len() as u64;
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
                if !matcher.offer(&user) {
                    let key = Lookup::values_of(lookup_kind(options.key).kind(), &user)
                        .into_iter()
                        .next();
                    match options.missing {
                        Missing::Ban if user.banned => missing_untouched += 1,
                        Missing::Ignore => missing_untouched += 1,
                        _ => missing.push(MissingUser {
                            user_id: user.id.clone(),
                            key,
                            banned: user.banned,
                        }),
                    }
                }
            }
        }
        ReadStrategy::Lookups => {
            let kind = lookup_kind(options.key).kind();
            let keys: Vec<String> = by_key.keys().cloned().collect();
            for chunk in lookup_batches(&keys) {
                let request = ListUsers::new()
                    .filter(Lookup::filter(kind, chunk))
                    .limit(EXPORT_PAGE as u32);
                for user in clerk.users().list(request).await.map_err(SyncError::read)? {
                    users_read += 1;
                    matcher.offer(&user);
                }
                observer.state_read(users_read);
            }
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
        records,
        creates,
        updates,
        unchanged,
        missing,
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

/// Matches users read from the instance to source records.
struct Matcher<'a> {
    options: &'a SyncOptions,
    sources: &'a mut Vec<Source>,
    by_key: &'a HashMap<String, usize>,
}

impl Matcher<'_> {
    /// Matches `user` to its source record and diffs the two; `false` when no
    /// record has its key.
    fn offer(&mut self, user: &User) -> bool {
        let kind = lookup_kind(self.options.key).kind();
        let mut hits: Vec<usize> = Lookup::values_of(kind, user)
            .iter()
            .filter_map(|value| self.by_key.get(value).copied())
            .collect();
        hits.sort_unstable();
        hits.dedup();
        if hits.len() > 1 {
            // One user, several records (by its several email addresses).
            for at in hits {
                self.sources[at].ambiguous = true;
            }
            return true;
        }
        let hit = !hits.is_empty();
        for at in hits {
            let source = &mut self.sources[at];
            if let Some((other, _)) = &source.matched {
                if *other != user.id {
                    source.ambiguous = true;
                }
                continue;
            }
            let body = source.body.to_map();
            let mut diff = diff_user(
                &body,
                user,
                self.options.metadata,
                self.options.key == MatchKey::ExternalId,
            );
            // Sync bans leavers, so a user back in the source is unbanned.
            if self.options.missing == Missing::Ban
                && user.banned
                && body.get("banned").and_then(Value::as_bool) != Some(true)
            {
                diff.unban = true;
                diff.changes.push(FieldChange {
                    field: "banned".to_owned(),
                    before: Some(Value::Bool(true)),
                    after: Some(Value::Bool(false)),
                    secret: false,
                });
            }
            source.matched = Some((user.id.clone(), diff));
        }
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_are_bounded_in_keys_and_in_bytes() {
        let short: Vec<String> = (0..250).map(|i| format!("k{i}")).collect();
        let sizes: Vec<usize> = lookup_batches(&short).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [100, 100, 50]);
        let long: Vec<String> = (0..30).map(|i| format!("{i:0>400}")).collect();
        let batches = lookup_batches(&long);
        assert!(batches.len() > 1);
        assert!(
            batches
                .iter()
                .all(|b| b.iter().map(String::len).sum::<usize>() <= LOOKUP_BYTES)
        );
        assert_eq!(batches.iter().map(|b| b.len()).sum::<usize>(), 30);
        // A single key longer than the bound still goes, alone.
        let huge = vec!["x".repeat(10_000), "y".to_owned()];
        assert_eq!(lookup_batches(&huge).len(), 2);
        assert!(lookup_batches(&[]).is_empty());
    }
}
