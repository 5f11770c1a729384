//! Matching the users read from the instance to the source records, by key, and
//! looking keys up in batches.

use std::collections::HashMap;

use clerk_core::User;
use clerk_tower::Clerk;
use clerk_tower::users::ListUsers;
use serde_json::{Map, Value};

use super::diff::{FieldChange, UserDiff, diff_user};
use super::plan::EXPORT_PAGE;
use super::{MatchKey, Missing, SyncError, SyncOptions};
use crate::record::{Body, Lookup};

/// Bytes of keys per lookup request at most, so its URL stays well under the
/// 8 KiB that servers and proxies commonly accept.
pub const LOOKUP_BYTES: usize = 4096;

/// The source's keys in lookup requests: at most [`LOOKUP_BATCH`] keys and
/// [`LOOKUP_BYTES`] of them (percent-encoding aside) per request.
pub(super) fn lookup_batches(keys: &[String]) -> Vec<&[String]> {
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

/// Keys per lookup request.
pub const LOOKUP_BATCH: usize = 100;

/// A source record, kept compact while the state is read.
pub(super) struct Source {
    pub(super) index: usize,
    pub(super) line: usize,
    pub(super) key: String,
    pub(super) body: Body,
    /// Left alone (no key, or a key another record has).
    pub(super) conflicted: bool,
    /// The Clerk user matched, and the diff against it.
    pub(super) matched: Option<(String, UserDiff)>,
    /// Matched by more than one user.
    pub(super) ambiguous: bool,
}

/// Where the record of a source key is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Slot {
    /// This shard's, at this position of the planned records.
    Here(usize),
    /// Another shard's: the users it matches are not missing, and not this run's.
    Elsewhere,
}

/// The match key of a create body.
pub(super) fn key_of(key: MatchKey, body: &Map<String, Value>) -> Option<String> {
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

pub(super) fn lookup_kind(key: MatchKey) -> Lookup {
    match key {
        MatchKey::ExternalId => Lookup::ExternalId(String::new()),
        MatchKey::Email => Lookup::Email(String::new()),
    }
}

/// Matches users read from the instance to source records.
pub(super) struct Matcher<'a> {
    pub(super) options: &'a SyncOptions,
    pub(super) sources: &'a mut Vec<Source>,
    pub(super) by_key: &'a HashMap<String, Slot>,
}

impl Matcher<'_> {
    /// Looks `keys` up, [`LOOKUP_BATCH`] per request, and matches the users found;
    /// `read(n)` after each request that returned `n` users.
    pub(super) async fn look_up(
        &mut self,
        clerk: &Clerk,
        keys: &[String],
        mut read: impl FnMut(u64),
    ) -> Result<(), SyncError> {
        let kind = lookup_kind(self.options.key).kind();
        for chunk in lookup_batches(keys) {
            let request = ListUsers::new()
                .filter(Lookup::filter(kind, chunk))
                .limit(EXPORT_PAGE as u32);
            let users = clerk.users().list(request).await.map_err(SyncError::read)?;
            for user in &users {
                self.offer(user);
            }
            read(users.len() as u64);
        }
        Ok(())
    }

    /// Matches `user` to its source record and diffs the two; `false` when no
    /// record has its key.
    pub(super) fn offer(&mut self, user: &User) -> bool {
        let kind = lookup_kind(self.options.key).kind();
        let values = Lookup::values_of(kind, user);
        // The records (of any shard) whose key the user has, one per key.
        let mut hits: Vec<(&str, Slot)> = values
            .iter()
            .filter_map(|value| self.by_key.get(value).map(|slot| (value.as_str(), *slot)))
            .collect();
        hits.sort_unstable_by_key(|(key, _)| *key);
        hits.dedup_by_key(|(key, _)| *key);
        if hits.len() > 1 {
            // One user, several records (by its several email addresses): a conflict
            // for each record, in whichever shard it is.
            for (_, slot) in hits {
                if let Slot::Here(at) = slot {
                    self.sources[at].ambiguous = true;
                }
            }
            return true;
        }
        let hit = !hits.is_empty();
        for at in hits.into_iter().filter_map(|(_, slot)| match slot {
            Slot::Here(at) => Some(at),
            // Another shard's record: that shard updates the user.
            Slot::Elsewhere => None,
        }) {
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
