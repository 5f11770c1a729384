//! Matching the users read from the instance to the source records, by key, and
//! looking keys up in batches.

use clerk_core::User;
use clerk_tower::Clerk;
use clerk_tower::users::ListUsers;
use serde_json::{Map, Value};

use super::plan::EXPORT_PAGE;
use super::tape::{DiffRule, RecordAt, RecordTape, StoredRecord, Tape};
use super::{MatchKey, SyncError, SyncOptions};
use crate::record::Lookup;

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

/// A record of this run's shard.
pub(super) const HERE: u8 = 1;
/// Left alone: another record has its key.
pub(super) const CONFLICTED: u8 = 2;
/// Matched by more than one user, or one user matches several records.
pub(super) const AMBIGUOUS: u8 = 4;
/// Matched, and the user differs (an update is pending).
pub(super) const CHANGED: u8 = 8;

/// One source record in memory while the state is read: where it is on the
/// [`RecordTape`], and what matching found (32 bytes, whatever the record's size).
#[derive(Clone, Copy, Debug)]
pub(super) struct Rec {
    pub(super) at: RecordAt,
    /// A hash of the id of the Clerk user matched (0: none yet): a second, other
    /// user makes the record ambiguous.
    pub(super) matched: u64,
    /// Position among this shard's records.
    pub(super) index: u32,
    pub(super) flags: u8,
}

/// The source's records by key: the records themselves on disk, and in memory a
/// [`Rec`] each plus a sorted `(hash of the key, record)` table, 48 bytes per
/// record in all. A hash is only a hint: every hit is checked against the key on
/// disk, so two keys with one hash are still told apart.
pub(super) struct Index {
    pub(super) tape: RecordTape,
    pub(super) recs: Vec<Rec>,
    by_hash: Vec<(u64, u32)>,
    /// [`key_hash`]; tests make every key collide.
    hash: fn(&str) -> u64,
}

fn key_hash(key: &str) -> u64 {
    crate::record::stable_hash(key.as_bytes())
}

impl Index {
    pub(super) fn new(tape: RecordTape) -> Self {
        Self {
            tape,
            recs: Vec::new(),
            by_hash: Vec::new(),
            hash: key_hash,
        }
    }

    /// Adds a record with its key.
    pub(super) fn push(
        &mut self,
        line: usize,
        key: &str,
        body: &str,
        here: bool,
        index: u32,
    ) -> Result<(), SyncError> {
        let at = self.tape.push(line, key, body)?;
        let n = u32::try_from(self.recs.len())
            .map_err(|_| SyncError::source("more than 4,294,967,295 records".to_owned()))?;
        self.recs.push(Rec {
            at,
            matched: 0,
            index,
            flags: if here { HERE } else { 0 },
        });
        self.by_hash.push(((self.hash)(key), n));
        Ok(())
    }

    /// Ends the source: sorts the keys and finds the records sharing one, each
    /// later one a conflict (`line`, `key`, the first one's line), the first
    /// marked [`CONFLICTED`] too.
    pub(super) fn finish(&mut self) -> Result<Vec<(usize, String, usize)>, SyncError> {
        self.tape.flush()?;
        self.by_hash.sort_unstable();
        self.by_hash.shrink_to_fit();
        self.recs.shrink_to_fit();
        let mut duplicates = Vec::new();
        let mut start = 0;
        while start < self.by_hash.len() {
            let hash = self.by_hash[start].0;
            let end = start
                + self.by_hash[start..]
                    .iter()
                    .take_while(|(h, _)| *h == hash)
                    .count();
            if end - start > 1 {
                // Rare: the same key (or, rarer, two keys with one hash). Compared exactly.
                let run: Vec<u32> = self.by_hash[start..end].iter().map(|e| e.1).collect();
                let records: Vec<StoredRecord> = run
                    .iter()
                    .map(|&r| self.tape.get(self.recs[r as usize].at))
                    .collect::<Result<_, _>>()?;
                for (i, record) in records.iter().enumerate() {
                    if let Some(first) = records[..i].iter().position(|r| r.key == record.key) {
                        let first_rec = run[first] as usize;
                        if self.recs[first_rec].flags & HERE != 0 {
                            duplicates.push((record.line, record.key.clone(), records[first].line));
                            self.recs[first_rec].flags |= CONFLICTED;
                            self.recs[run[i] as usize].flags |= CONFLICTED;
                        }
                    }
                }
            }
            start = end;
        }
        Ok(duplicates)
    }

    /// The first record (in source order) whose key is `key`.
    pub(super) fn find(&self, key: &str, buf: &mut Vec<u8>) -> Result<Option<u32>, SyncError> {
        let hash = (self.hash)(key);
        let from = self.by_hash.partition_point(|(h, _)| *h < hash);
        for &(h, rec) in &self.by_hash[from..] {
            if h != hash {
                break;
            }
            if self.tape.key_is(self.recs[rec as usize].at, key, buf)? {
                return Ok(Some(rec));
            }
        }
        Ok(None)
    }

    /// The next keys (at most [`KEYS_AT_ONCE`]) of this shard's records that `want`
    /// selects, from record `*from` on (advanced past them); empty at the end.
    pub(super) fn next_keys(
        &self,
        from: &mut usize,
        want: impl Fn(&Rec) -> bool,
    ) -> Result<Vec<String>, SyncError> {
        let mut keys = Vec::new();
        let mut buf = Vec::new();
        while *from < self.recs.len() && keys.len() < KEYS_AT_ONCE {
            let rec = self.recs[*from];
            *from += 1;
            if rec.flags & HERE == 0 || !want(&rec) {
                continue;
            }
            keys.push(self.tape.key(rec.at, &mut buf)?);
        }
        Ok(keys)
    }
}

/// Keys held at once while this shard's keys are looked up.
const KEYS_AT_ONCE: usize = 10 * LOOKUP_BATCH;

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

fn user_hash(id: &str) -> u64 {
    // Never 0, which means "no user".
    crate::record::stable_hash(id.as_bytes()) | 1
}

/// Matches users read from the instance to source records, diffs each match,
/// and writes the users that differ to the pending-updates tape.
pub(super) struct Matcher<'a> {
    pub(super) options: &'a SyncOptions,
    pub(super) rule: DiffRule,
    pub(super) index: &'a mut Index,
    /// `[record][writes][the user as JSON]` per record whose user differs.
    pub(super) pending: &'a mut Tape,
    /// `(record, offset on pending)`.
    pub(super) pending_at: &'a mut Vec<(u32, u64)>,
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
                self.index.recs[at as usize].flags |= AMBIGUOUS;
            }
            return Ok(true);
        }
        let Some(&at) = hits.first() else {
            return Ok(false);
        };
        let rec = &mut self.index.recs[at as usize];
        // Another shard's record: that shard updates the user.
        if rec.flags & HERE == 0 {
            return Ok(true);
        }
        let who = user_hash(&user.id);
        if rec.matched != 0 {
            if rec.matched != who {
                rec.flags |= AMBIGUOUS;
            }
            return Ok(true);
        }
        rec.matched = who;
        if rec.flags & CONFLICTED != 0 {
            return Ok(true);
        }
        let record = self.index.tape.get(rec.at)?;
        let diff = self.rule.diff(&record.body, user);
        if !diff.is_empty() {
            self.index.recs[at as usize].flags |= CHANGED;
            let user = serde_json::to_vec(user)
                .map_err(|e| SyncError::spill(format!("encoding a user: {e}")))?;
            // At most 4 writes (update, merge, replace, unban).
            let writes = [u8::try_from(diff.writes()).unwrap_or(u8::MAX)];
            let offset = self.pending.push(&[&at.to_le_bytes(), &writes, &user])?;
            self.pending_at.push((at, offset));
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key with one hash: duplicates and hits are still decided by the keys.
    #[test]
    fn keys_sharing_a_hash_are_told_apart_by_the_key_on_disk() {
        let tape = RecordTape::new(&std::env::temp_dir()).unwrap();
        let mut index = Index {
            hash: |_| 42,
            ..Index::new(tape)
        };
        let records = [
            (1, "crm-1", true),
            (2, "crm-2", true),
            (3, "crm-1", true),
            (4, "crm-3", false),
            (5, "crm-4", true),
        ];
        for (i, (line, key, here)) in records.into_iter().enumerate() {
            let body = format!(r#"{{"external_id":"{key}"}}"#);
            index.push(line, key, &body, here, i as u32).unwrap();
        }
        let duplicates = index.finish().unwrap();
        assert_eq!(duplicates, [(3, "crm-1".to_owned(), 1)]);
        let flags: Vec<u8> = index.recs.iter().map(|r| r.flags).collect();
        assert_eq!(flags, [HERE | CONFLICTED, HERE, HERE | CONFLICTED, 0, HERE]);
        let mut buf = Vec::new();
        let found: Vec<Option<u32>> = ["crm-1", "crm-2", "crm-3", "crm-4", "crm-5"]
            .iter()
            .map(|k| index.find(k, &mut buf).unwrap())
            .collect();
        assert_eq!(found, [Some(0), Some(1), Some(3), Some(4), None]);
        let mut from = 0;
        let keys = index
            .next_keys(&mut from, |r| r.flags & CONFLICTED == 0)
            .unwrap();
        assert_eq!(keys, ["crm-2", "crm-4"], "this shard's open keys only");
        assert!(index.next_keys(&mut from, |_| true).unwrap().is_empty());
    }

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
