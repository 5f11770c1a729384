//! The source's records by key, all on disk, so that planning holds the same
//! memory for a thousand records as for ten million:
//!
//! - the records themselves on the [`RecordTape`];
//! - a fixed-size [`Rec`] per record (where it is, what matching found) in a
//!   scratch file of 32-byte slots, read and rewritten in place;
//! - the `(hash of the key, record)` pairs, sorted by an external sort
//!   ([`Sorter`]: runs of bounded size merged) into a scratch file, and in memory
//!   only a fixed table of where each of [`BUCKETS`] hash prefixes starts in it.
//!
//! A key is found by reading its bucket (a few entries) and checking each entry
//! with its hash against the key on disk: a hash is only a hint, two keys with one
//! hash are still told apart, and so are duplicates. The pages the lookups touch
//! are the kernel's page cache, not this process's memory.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::SyncError;
use super::tape::{RecordAt, RecordTape, Tape, spill_error};
use crate::files::{Scratch, scratch};
use crate::spill::Sorter;

/// A record of this run's shard.
pub(super) const HERE: u8 = 1;
/// Left alone: another record has its key.
pub(super) const CONFLICTED: u8 = 2;
/// Matched by more than one user, or one user matches several records.
pub(super) const AMBIGUOUS: u8 = 4;
/// Matched, and the user differs (an update is pending).
pub(super) const CHANGED: u8 = 8;

/// Hash prefixes of the in-memory bucket table (16 bits: 512 KiB, whatever the
/// number of records; about 15 entries a bucket at a million records).
const BUCKETS: usize = 1 << 16;

/// Entries an external sort of the plan holds in memory at most (4 MiB of
/// `[u64; 2]`); past that it spills sorted runs to disk.
pub(super) const SORT_RUN: usize = 1 << 18;

fn bucket(hash: u64) -> usize {
    (hash >> 48) as usize
}

/// What matching found for one source record: 32 bytes on disk, none in memory.
#[derive(Clone, Copy, Debug)]
pub(super) struct Rec {
    pub(super) at: RecordAt,
    /// Where the id of the Clerk user matched is on the matched ids' tape, plus
    /// one (0: none yet): another user makes the record ambiguous.
    pub(super) matched: u64,
    /// Position among this shard's records.
    pub(super) index: u32,
    pub(super) flags: u8,
}

const REC_SIZE: usize = 32;

impl Rec {
    fn encode(&self) -> [u8; REC_SIZE] {
        let mut out = [0; REC_SIZE];
        out[..8].copy_from_slice(&self.at.offset.to_le_bytes());
        out[8..12].copy_from_slice(&self.at.key_len.to_le_bytes());
        out[12..16].copy_from_slice(&self.index.to_le_bytes());
        out[16..24].copy_from_slice(&self.matched.to_le_bytes());
        out[24] = self.flags;
        out
    }

    fn decode(b: &[u8]) -> Self {
        let u64_at = |i: usize| {
            let mut w = [0; 8];
            w.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(w)
        };
        let u32_at = |i: usize| {
            let mut w = [0; 4];
            w.copy_from_slice(&b[i..i + 4]);
            u32::from_le_bytes(w)
        };
        Self {
            at: RecordAt {
                offset: u64_at(0),
                key_len: u32_at(8),
            },
            index: u32_at(12),
            matched: u64_at(16),
            flags: b[24],
        }
    }
}

/// Bytes read at a time when the slots or a bucket are scanned.
const CHUNK: usize = 64 * 1024;

/// The source's records by key (see the [module](self)).
pub(super) struct Index {
    pub(super) tape: RecordTape,
    dir: PathBuf,
    /// One [`Rec`] per record, in source order.
    slots: Scratch,
    /// Appends the slots while the source is read.
    writer: Option<BufWriter<File>>,
    len: u32,
    /// `(hash, record)` while the source is read.
    sorter: Option<Sorter<[u64; 2]>>,
    /// The sorted `(hash, record)` pairs, 16 bytes each, once the source is read.
    keys: Option<Scratch>,
    /// Where bucket `b`'s pairs start on `keys` (in pairs); `b + 1`'s is its end.
    buckets: Vec<u64>,
    /// The ids of the users matched.
    matched_ids: Tape,
    /// `stable_hash` of the key; tests make every key collide.
    hash: fn(&str) -> u64,
}

fn key_hash(key: &str) -> u64 {
    crate::record::stable_hash(key.as_bytes())
}

fn io_error(what: &str) -> impl Fn(std::io::Error) -> SyncError + '_ {
    move |e| spill_error(what, e)
}

impl Index {
    pub(super) fn new(tape: RecordTape, dir: &Path) -> Result<Self, SyncError> {
        let slots = scratch(dir, "sync-index").map_err(|e| {
            spill_error(
                "sync-index",
                format_args!("cannot create it in {}: {e}", dir.display()),
            )
        })?;
        let file = slots.file().try_clone().map_err(io_error("sync-index"))?;
        Ok(Self {
            tape,
            dir: dir.to_owned(),
            slots,
            writer: Some(BufWriter::with_capacity(CHUNK, file)),
            len: 0,
            sorter: Some(Sorter::new(dir, SORT_RUN)),
            keys: None,
            buckets: Vec::new(),
            matched_ids: Tape::new(dir, "sync-matched")?,
            hash: key_hash,
        })
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
        let n = self.len;
        let next = n
            .checked_add(1)
            .ok_or_else(|| SyncError::source("more than 4,294,967,295 records".to_owned()))?;
        let at = self.tape.push(line, key, body)?;
        let rec = Rec {
            at,
            matched: 0,
            index,
            flags: if here { HERE } else { 0 },
        };
        let (Some(writer), Some(sorter)) = (self.writer.as_mut(), self.sorter.as_mut()) else {
            return Err(spill_error(
                "write",
                "a record added after the source ended",
            ));
        };
        writer
            .write_all(&rec.encode())
            .map_err(io_error("sync-index"))?;
        sorter
            .push([(self.hash)(key), u64::from(n)])
            .map_err(io_error("sort"))?;
        self.len = next;
        Ok(())
    }

    /// The record `n`'s [`Rec`].
    pub(super) fn get(&self, n: u32) -> Result<Rec, SyncError> {
        let mut b = [0; REC_SIZE];
        self.slots
            .read_exact_at(&mut b, u64::from(n) * REC_SIZE as u64)
            .map_err(io_error("sync-index"))?;
        Ok(Rec::decode(&b))
    }

    /// Rewrites the record `n`'s [`Rec`].
    pub(super) fn set(&self, n: u32, rec: Rec) -> Result<(), SyncError> {
        self.slots
            .write_all_at(&rec.encode(), u64::from(n) * REC_SIZE as u64)
            .map_err(io_error("sync-index"))
    }

    /// Adds `flags` to record `n`.
    pub(super) fn flag(&self, n: u32, flags: u8) -> Result<(), SyncError> {
        let mut rec = self.get(n)?;
        rec.flags |= flags;
        self.set(n, rec)
    }

    /// Ends the source: sorts the keys and finds the records sharing one, each
    /// later one a conflict (`line`, `key`, the first one's line), the first
    /// marked [`CONFLICTED`] too.
    pub(super) fn finish(&mut self) -> Result<Vec<(usize, String, usize)>, SyncError> {
        self.tape.flush()?;
        if let Some(mut writer) = self.writer.take() {
            writer.flush().map_err(io_error("sync-index"))?;
        }
        let sorter = self
            .sorter
            .take()
            .ok_or_else(|| spill_error("sort", "the source ended twice"))?;
        let keys = scratch(&self.dir, "sync-keys").map_err(io_error("sync-keys"))?;
        let mut out = BufWriter::with_capacity(CHUNK, keys.file());
        let mut counts = vec![0u64; BUCKETS + 1];
        let mut duplicates = Vec::new();
        let mut buf = Vec::new();
        // The current run of pairs with one hash: its first record, and (once the
        // hash repeats) each distinct key of the run with its first record.
        let mut run: Option<(u64, u32)> = None;
        let mut run_keys: Vec<(String, u32)> = Vec::new();
        for pair in sorter.finish().map_err(io_error("sort"))? {
            let [hash, n] = pair.map_err(io_error("sort"))?;
            let n = n as u32;
            counts[bucket(hash) + 1] += 1;
            let mut bytes = [0; 16];
            bytes[..8].copy_from_slice(&hash.to_le_bytes());
            bytes[8..].copy_from_slice(&u64::from(n).to_le_bytes());
            out.write_all(&bytes).map_err(io_error("sync-keys"))?;
            match run {
                Some((h, first)) if h == hash => {
                    // Rare: the same key (or, rarer, two keys with one hash). Compared exactly.
                    if run_keys.is_empty() {
                        let key = self.tape.key(self.get(first)?.at, &mut buf)?;
                        run_keys.push((key, first));
                    }
                    let rec = self.get(n)?;
                    let (line, key) = self.tape.line_and_key(rec.at, &mut buf)?;
                    match run_keys.iter().find(|(k, _)| *k == key) {
                        Some(&(_, first)) => {
                            let first_rec = self.get(first)?;
                            if first_rec.flags & HERE != 0 {
                                let (first_line, _) =
                                    self.tape.line_and_key(first_rec.at, &mut buf)?;
                                duplicates.push((line, key, first_line));
                                self.flag(first, CONFLICTED)?;
                                self.flag(n, CONFLICTED)?;
                            }
                        }
                        None => run_keys.push((key, n)),
                    }
                }
                _ => {
                    run = Some((hash, n));
                    run_keys.clear();
                }
            }
        }
        out.flush().map_err(io_error("sync-keys"))?;
        drop(out);
        for b in 1..counts.len() {
            counts[b] += counts[b - 1];
        }
        self.buckets = counts;
        self.keys = Some(keys);
        Ok(duplicates)
    }

    /// The first record (in source order) whose key is `key`.
    pub(super) fn find(&self, key: &str, buf: &mut Vec<u8>) -> Result<Option<u32>, SyncError> {
        let Some(keys) = &self.keys else {
            return Ok(None);
        };
        let hash = (self.hash)(key);
        let b = bucket(hash);
        let (mut at, end) = (self.buckets[b], self.buckets[b + 1]);
        let mut pairs = Vec::new();
        while at < end {
            let take = (end - at).min((CHUNK / 16) as u64);
            pairs.resize(take as usize * 16, 0);
            keys.read_exact_at(&mut pairs, at * 16)
                .map_err(io_error("sync-keys"))?;
            at += take;
            for pair in pairs.chunks_exact(16) {
                let mut w = [0; 8];
                w.copy_from_slice(&pair[..8]);
                let h = u64::from_le_bytes(w);
                if h > hash {
                    return Ok(None);
                }
                if h < hash {
                    continue;
                }
                w.copy_from_slice(&pair[8..]);
                let n = u64::from_le_bytes(w) as u32;
                if self.tape.key_is(self.get(n)?.at, key, buf)? {
                    return Ok(Some(n));
                }
            }
        }
        Ok(None)
    }

    /// Notes `user_id` as the user a record matched: the [`Rec::matched`] to keep.
    pub(super) fn remember(&mut self, user_id: &str) -> Result<u64, SyncError> {
        Ok(self.matched_ids.push(&[user_id.as_bytes()])? + 1)
    }

    /// Whether `matched` ([`Index::remember`]) is `user_id` (compared exactly).
    pub(super) fn matched_is(&mut self, matched: u64, user_id: &str) -> Result<bool, SyncError> {
        let mut buf = Vec::new();
        self.matched_ids.flush()?;
        self.matched_ids.read(matched - 1, &mut buf)?;
        Ok(buf == user_id.as_bytes())
    }

    /// Every record's [`Rec`] from `from` on, in source order, read a chunk at a time.
    pub(super) fn scan(&self, from: u32) -> Scan<'_> {
        Scan {
            index: self,
            next: from,
            chunk: Vec::new(),
            pos: 0,
        }
    }

    /// The next keys (at most [`KEYS_AT_ONCE`]) of this shard's records that `want`
    /// selects, from record `*from` on (advanced past them); empty at the end.
    pub(super) fn next_keys(
        &self,
        from: &mut u32,
        want: impl Fn(&Rec) -> bool,
    ) -> Result<Vec<String>, SyncError> {
        let mut keys = Vec::new();
        let mut buf = Vec::new();
        let mut scan = self.scan(*from);
        while keys.len() < KEYS_AT_ONCE {
            let Some(item) = scan.next() else { break };
            let (n, rec) = item?;
            *from = n + 1;
            if rec.flags & HERE == 0 || !want(&rec) {
                continue;
            }
            keys.push(self.tape.key(rec.at, &mut buf)?);
        }
        Ok(keys)
    }

    /// The record tape, once the plan no longer needs the rest.
    pub(super) fn into_tape(self) -> RecordTape {
        self.tape
    }
}

/// Keys held at once while this shard's keys are looked up.
const KEYS_AT_ONCE: usize = 10 * super::LOOKUP_BATCH;

/// The records' [`Rec`]s in source order ([`Index::scan`]): `(record, rec)`.
pub(super) struct Scan<'a> {
    index: &'a Index,
    next: u32,
    chunk: Vec<u8>,
    pos: usize,
}

impl Iterator for Scan<'_> {
    type Item = Result<(u32, Rec), SyncError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.index.len {
            return None;
        }
        if self.pos >= self.chunk.len() {
            let take = (self.index.len - self.next).min((CHUNK / REC_SIZE) as u32);
            self.chunk.resize(take as usize * REC_SIZE, 0);
            self.pos = 0;
            if let Err(e) = self
                .index
                .slots
                .read_exact_at(&mut self.chunk, u64::from(self.next) * REC_SIZE as u64)
            {
                self.next = self.index.len;
                return Some(Err(spill_error("sync-index", e)));
            }
        }
        let rec = Rec::decode(&self.chunk[self.pos..self.pos + REC_SIZE]);
        self.pos += REC_SIZE;
        let n = self.next;
        self.next += 1;
        Some(Ok((n, rec)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(index: &Index) -> Vec<u8> {
        index.scan(0).map(|r| r.unwrap().1.flags).collect()
    }

    /// Every key with one hash: duplicates and hits are still decided by the keys.
    #[test]
    fn keys_sharing_a_hash_are_told_apart_by_the_key_on_disk() {
        let dir = std::env::temp_dir();
        let tape = RecordTape::new(&dir).unwrap();
        let mut index = Index {
            hash: |_| 42,
            ..Index::new(tape, &dir).unwrap()
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
        assert_eq!(
            flags(&index),
            [HERE | CONFLICTED, HERE, HERE | CONFLICTED, 0, HERE]
        );
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
        // The user a record matched is compared by its id, not a hash of it.
        let m = index.remember("user_1").unwrap();
        assert!(index.matched_is(m, "user_1").unwrap());
        assert!(!index.matched_is(m, "user_2").unwrap());
    }

    /// More records than one sort run, three hashes for all keys (pairs of one
    /// hash read in several chunks): every key is found as the first record that
    /// has it, every later duplicate reported once.
    #[test]
    fn a_source_larger_than_a_sort_run_is_indexed_from_disk() {
        let dir = std::env::temp_dir();
        let mut index = Index {
            hash: |k| crate::record::stable_hash(k.as_bytes()) % 3,
            sorter: Some(Sorter::new(&dir, 1024)),
            ..Index::new(RecordTape::new(&dir).unwrap(), &dir).unwrap()
        };
        let n = 15_000u32;
        // Every 1,000th record repeats the key of the one 7 before it.
        let dup = |i: u32| i % 1000 == 999;
        for i in 0..n {
            let key = if dup(i) {
                format!("k{}", i - 7)
            } else {
                format!("k{i}")
            };
            index.push(i as usize + 1, &key, "{}", true, i).unwrap();
        }
        let mut got = index.finish().unwrap();
        let mut expected: Vec<(usize, String, usize)> = (0..n)
            .filter(|&i| dup(i))
            .map(|i| (i as usize + 1, format!("k{}", i - 7), i as usize - 6))
            .collect();
        got.sort();
        expected.sort();
        assert_eq!(got, expected);
        let mut buf = Vec::new();
        for i in [0, 1, 992, 999, 1024, 9_000, n - 1] {
            let want = (!dup(i)).then_some(i);
            assert_eq!(
                index.find(&format!("k{i}"), &mut buf).unwrap(),
                want,
                "k{i}"
            );
        }
        assert_eq!(index.find("k-none", &mut buf).unwrap(), None);
        let conflicted = index
            .scan(0)
            .filter(|r| r.as_ref().unwrap().1.flags & CONFLICTED != 0)
            .count();
        assert_eq!(conflicted, 2 * expected.len());
        assert_eq!(index.scan(0).count(), n as usize);
    }
}
