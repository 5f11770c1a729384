//! Matching the users read from the instance to the source records, by key, and
//! looking keys up in batches.

use clerk_core::User;
use clerk_tower::Clerk;
use clerk_tower::users::ListUsers;
use serde_json::{Map, Value};

use super::index::{AMBIGUOUS, CHANGED, CONFLICTED, HERE, Index};
use super::plan::EXPORT_PAGE;
use super::tape::{DiffRule, Tape};
use super::{MatchKey, SyncError, SyncOptions};
use crate::record::Lookup;
use crate::spill::Sorter;

/// Bytes of keys per lookup request at most, so its URL stays well under the
/// 8 KiB that servers and proxies commonly accept.
pub const LOOKUP_BYTES: usize = 4096;

/// The source's keys in lookup requests: at most [`LOOKUP_BATCH`] keys and
/// [`LOOKUP_BYTES`] of them (percent-encoding aside) per request.
pub(super) fn lookup_batches(keys: &[String]) -> Vec<&[String]> {
    let mut batches = Vec::new();
    let mut start = 0;
    for end in batch_ends(keys.iter().map(String::len)) {
        batches.push(&keys[start..end]);
        start = end;
    }
    batches
}

/// The lookup requests keys of these lengths take ([`lookup_batches`]).
pub(super) fn lookup_requests(key_lens: impl Iterator<Item = usize>) -> u64 {
    batch_ends(key_lens).count() as u64
}

/// Where each batch of keys ends: the one rule of [`lookup_batches`].
fn batch_ends(key_lens: impl Iterator<Item = usize>) -> impl Iterator<Item = usize> {
    let (mut start, mut bytes, mut n) = (0, 0, 0);
    let mut lens = key_lens.fuse();
    std::iter::from_fn(move || {
        loop {
            let Some(len) = lens.next() else {
                // The last batch, once.
                let end = (n > start).then_some(n);
                start = n;
                return end;
            };
            let len = len + 16; // `&external_id=` and the `+` escape
            let i = n;
            n += 1;
            if i > start && (i - start == LOOKUP_BATCH || bytes + len > LOOKUP_BYTES) {
                let end = i;
                (start, bytes) = (i, len);
                return Some(end);
            }
            bytes += len;
        }
    })
}

/// Keys per lookup request.
pub const LOOKUP_BATCH: usize = 100;

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

/// Matches users read from the instance to source records, diffs each match,
/// and writes the users that differ to the pending-updates tape.
pub(super) struct Matcher<'a> {
    pub(super) options: &'a SyncOptions,
    pub(super) rule: DiffRule,
    pub(super) index: &'a mut Index,
    /// `[record][writes][the user as JSON]` per record whose user differs.
    pub(super) pending: &'a mut Tape,
    /// `(record, offset on pending)`, sorted on disk past a run.
    pub(super) pending_at: &'a mut Sorter<[u64; 2]>,
    pub(super) buf: Vec<u8>,
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
                self.offer(user)?;
            }
            read(users.len() as u64);
        }
        Ok(())
    }

    /// Matches `user` to its source record and diffs the two; `false` when no
    /// record (of any shard) has its key.
    pub(super) fn offer(&mut self, user: &User) -> Result<bool, SyncError> {
        let kind = lookup_kind(self.options.key).kind();
        let values = Lookup::values_of(kind, user);
        // The records (of any shard) whose key the user has, one per key.
        let mut hits = Vec::new();
        for value in &values {
            if let Some(rec) = self.index.find(value, &mut self.buf)? {
                hits.push(rec);
            }
        }
        hits.sort_unstable();
        hits.dedup();
        if hits.len() > 1 {
            // One user, several records (by its several email addresses): a conflict
            // for each record, in whichever shard it is.
            for at in hits {
                self.index.flag(at, AMBIGUOUS)?;
            }
            return Ok(true);
        }
        let Some(&at) = hits.first() else {
            return Ok(false);
        };
        let mut rec = self.index.get(at)?;
        // Another shard's record: that shard updates the user.
        if rec.flags & HERE == 0 {
            return Ok(true);
        }
        if rec.matched != 0 {
            // The same user again (a page repeated), or another one: compared by id.
            if rec.flags & AMBIGUOUS == 0 && !self.index.matched_is(rec.matched, &user.id)? {
                self.index.flag(at, AMBIGUOUS)?;
            }
            return Ok(true);
        }
        rec.matched = self.index.remember(&user.id)?;
        if rec.flags & CONFLICTED == 0 {
            let record = self.index.tape.get(rec.at)?;
            let diff = self.rule.diff(&record.body, user);
            if !diff.is_empty() {
                rec.flags |= CHANGED;
                let user = serde_json::to_vec(user)
                    .map_err(|e| SyncError::spill(format!("encoding a user: {e}")))?;
                // At most 4 writes (update, merge, replace, unban).
                let writes = [u8::try_from(diff.writes()).unwrap_or(u8::MAX)];
                let offset = self.pending.push(&[&at.to_le_bytes(), &writes, &user])?;
                self.pending_at
                    .push([u64::from(at), offset])
                    .map_err(|e| SyncError::spill(format!("the sync's sort: {e}")))?;
            }
        }
        self.index.set(at, rec)?;
        Ok(true)
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
        for keys in [&short, &long, &huge] {
            assert_eq!(
                lookup_requests(keys.iter().map(String::len)),
                lookup_batches(keys).len() as u64
            );
        }
    }
}
