//! The replay table: one compact [`State`] per key of a journal, in memory that does
//! not grow with the journal, and **exact**: a key is found by a 128-bit digest
//! and then compared byte for byte with the key the journal wrote, so two keys whose
//! digests collide are never taken for one another (the import promises each record
//! once; a collision is ~10⁻²⁶ likely among 5 M keys, and still never a mix-up).
//!
//! Keys are folded a chunk at a time ([`REPLAY_CHUNK_KEYS`] keys or
//! [`CHUNK_KEY_BYTES`] of key text, whichever comes first). A chunk's keys are kept
//! in one string; past one chunk, each spilled chunk's keys go to a scratch file
//! and its states to a [`Sorter`], merged by digest into a sorted table on disk
//! whose entries point at their key. Digests that two different keys share (in
//! practice never) move to a small side table keyed by the whole key.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;

use super::{Entry, Outcome, State};
use crate::files::{Scratch, scratch};
use crate::spill::{Fixed, Sorter};

/// Keys folded in memory before the fold is spilled to disk: the replay of a
/// journal of any length holds at most this many keys (~12 MB).
pub(super) const REPLAY_CHUNK_KEYS: usize = 1 << 18;

/// Bytes of key text a chunk holds at most (long keys spill sooner).
const CHUNK_KEY_BYTES: usize = 8 << 20;

/// The longest key replayed (a key's length is packed in 24 bits).
const MAX_KEY_BYTES: usize = (1 << 24) - 1;

/// How a key becomes its digest: SHA-256 in a run; tests force collisions.
pub(super) type DigestFn = fn(&str) -> u128;

/// A key's 128-bit digest (SHA-256, truncated): the fast path of a look-up, so a key
/// costs 16 bytes of index however long it is.
pub(super) fn key_digest(key: &str) -> u128 {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(key.as_bytes());
    let mut first = [0; 16];
    first.copy_from_slice(&hash[..16]);
    u128::from_be_bytes(first)
}

const OUTCOMES: [Outcome; 10] = [
    Outcome::Sent,
    Outcome::Created,
    Outcome::AlreadyPresent,
    Outcome::Conflict,
    Outcome::Failed,
    Outcome::DeletedDuplicate,
    Outcome::Updated,
    Outcome::Deleted,
    Outcome::Banned,
    Outcome::Unknown,
];

fn encode_state(state: State) -> (u64, u64) {
    let outcome = state.outcome.map_or(0, |o| {
        OUTCOMES
            .iter()
            .position(|x| *x == o)
            .map_or(0, |i| i as u64 + 1)
    });
    (
        outcome,
        state.in_flight_since.map_or(0, |at| at.saturating_add(1)),
    )
}

fn decode_state(outcome: u64, in_flight: u64) -> State {
    State {
        outcome: usize::try_from(outcome)
            .ok()
            .and_then(|i| i.checked_sub(1))
            .and_then(|i| OUTCOMES.get(i).copied()),
        in_flight_since: in_flight.checked_sub(1),
    }
}

/// Where a key's text is: its offset (40 bits) and length (24 bits), in a chunk's
/// string or in the keys file.
#[derive(Clone, Copy, Debug)]
struct KeyRef(u64);

impl KeyRef {
    fn new(at: u64, len: usize) -> Self {
        Self((at << 24) | len as u64)
    }

    fn range(self) -> (u64, usize) {
        (self.0 >> 24, (self.0 & 0xff_ffff) as usize)
    }

    fn in_text(self, text: &str) -> &str {
        let (at, len) = self.range();
        text.get(at as usize..at as usize + len).unwrap_or("")
    }

    fn read(self, file: &Scratch) -> io::Result<Vec<u8>> {
        let (at, len) = self.range();
        let mut bytes = vec![0; len];
        file.read_exact_at(&mut bytes, at)?;
        Ok(bytes)
    }
}

/// A key's state and where its text is in its chunk's string, in 16 bytes (as
/// compact as the digest-only table's state was): [`encode_state`]'s in-flight
/// number, and its outcome number (8 bits) with the key's offset (32 bits) and
/// length (24 bits).
#[derive(Clone, Copy, Debug)]
struct Slot {
    in_flight: u64,
    packed: u64,
}

impl Slot {
    fn new(state: State, at: usize, len: usize) -> Self {
        let mut slot = Self {
            in_flight: 0,
            packed: ((at as u64 & 0xffff_ffff) << 24) | len as u64,
        };
        slot.set_state(state);
        slot
    }

    fn state(self) -> State {
        decode_state(self.packed >> 56, self.in_flight)
    }

    fn set_state(&mut self, state: State) {
        let (outcome, in_flight) = encode_state(state);
        self.in_flight = in_flight;
        self.packed = (outcome << 56) | (self.packed & ((1 << 56) - 1));
    }

    fn key(self) -> KeyRef {
        KeyRef::new(
            (self.packed >> 24) & 0xffff_ffff,
            (self.packed & 0xff_ffff) as usize,
        )
    }
}

/// Entries of the final table per block: one block (5 KiB) is read per look-up.
const BLOCK_ENTRIES: usize = 128;
/// `[digest high, digest low, outcome, in flight + 1, key ref]`.
const TABLE_ENTRY: usize = 40;

/// The state of every key, in memory when the journal is short, else a sorted table
/// in a scratch file with one in-memory index entry per block.
#[derive(Debug)]
enum Table {
    Memory {
        slots: HashMap<u128, Slot>,
        /// The keys' text, one after the other.
        keys: String,
    },
    Disk {
        file: Scratch,
        /// The keys' text, which table entries point into.
        keys: Scratch,
        /// The first digest of each block.
        index: Vec<u128>,
        entries: u64,
    },
}

impl Default for Table {
    fn default() -> Self {
        Self::Memory {
            slots: HashMap::new(),
            keys: String::new(),
        }
    }
}

impl Table {
    /// The state of `key`, whose digest is `digest`: the key found by its digest
    /// counts only if it is `key`.
    fn get(&self, digest: u128, key: &str) -> io::Result<Option<State>> {
        match self {
            Self::Memory { slots, keys } => Ok(slots
                .get(&digest)
                .filter(|slot| slot.key().in_text(keys) == key)
                .map(|slot| slot.state())),
            Self::Disk {
                file,
                keys,
                index,
                entries,
            } => {
                let Some(block) = index
                    .partition_point(|first| *first <= digest)
                    .checked_sub(1)
                else {
                    return Ok(None);
                };
                let start = (block * BLOCK_ENTRIES) as u64;
                let count = (*entries - start).min(BLOCK_ENTRIES as u64) as usize;
                let mut bytes = vec![0; count * TABLE_ENTRY];
                file.read_exact_at(&mut bytes, start * TABLE_ENTRY as u64)?;
                let decoded: Vec<[u64; 5]> = bytes
                    .chunks_exact(TABLE_ENTRY)
                    .map(<[u64; 5] as Fixed>::decode)
                    .collect();
                let Ok(i) = decoded
                    .binary_search_by_key(&digest, |e| (u128::from(e[0]) << 64) | u128::from(e[1]))
                else {
                    return Ok(None);
                };
                let [_, _, outcome, flight, at] = decoded[i];
                if KeyRef(at).read(keys)? != key.as_bytes() {
                    return Ok(None);
                }
                Ok(Some(decode_state(outcome, flight)))
            }
        }
    }

    fn len(&self) -> u64 {
        match self {
            Self::Memory { slots, .. } => slots.len() as u64,
            Self::Disk { entries, .. } => *entries,
        }
    }
}

/// The journal as read at start: one compact state per key (a 16-byte digest, the
/// outcome, when sent, where its key is), not the entries; past 262,144 keys the
/// table is sorted on disk, next to the journal, so a replay's memory does not
/// grow with it.
#[derive(Debug)]
pub struct Replay {
    table: Table,
    digest: DigestFn,
    /// Digests two different keys share: those keys' states, by the whole key.
    shared: HashSet<u128>,
    collided: HashMap<String, State>,
    /// Entries read.
    pub entries: usize,
    /// Bytes of a torn last line that were cut off.
    pub torn_bytes: usize,
    /// Keys with a create sent and no outcome after it.
    pub in_flight: usize,
    /// The latest of their `sent` times (Unix ms).
    pub latest_in_flight: Option<u64>,
}

impl Default for Replay {
    fn default() -> Self {
        Self {
            table: Table::default(),
            digest: key_digest,
            shared: HashSet::new(),
            collided: HashMap::new(),
            entries: 0,
            torn_bytes: 0,
            in_flight: 0,
            latest_in_flight: None,
        }
    }
}

impl Replay {
    /// What the journal says about `key` (`None`: nothing).
    pub fn state(&self, key: &str) -> io::Result<Option<State>> {
        let digest = (self.digest)(key);
        if !self.shared.is_empty() && self.shared.contains(&digest) {
            return Ok(self.collided.get(key).copied());
        }
        self.table.get(digest, key)
    }

    /// Whether a record is done.
    pub fn is_done(&self, key: &str) -> io::Result<bool> {
        Ok(self
            .state(key)?
            .and_then(|s| s.outcome)
            .is_some_and(Outcome::is_done))
    }

    /// When a killed run sent a create for `key` that has no outcome.
    pub fn in_flight_since(&self, key: &str) -> io::Result<Option<u64>> {
        Ok(self.state(key)?.and_then(|s| s.in_flight_since))
    }

    /// Keys the journal knows.
    pub fn keys(&self) -> u64 {
        self.table.len() + self.collided.len() as u64
    }

    /// Whether the table was spilled to disk (a long journal).
    pub fn on_disk(&self) -> bool {
        matches!(self.table, Table::Disk { .. })
    }

    /// Keys that share their digest with another key (0 but in a test that forces it).
    #[cfg(test)]
    pub(super) fn collided_keys(&self) -> usize {
        self.collided.len()
    }
}

/// Stretches of the journal for the keys of a shared digest, by chunk; folded in
/// chunk order at the end.
type Stretches = HashMap<String, Vec<(u64, State)>>;

/// Folds journal entries key by key, spilling every [`REPLAY_CHUNK_KEYS`] keys.
pub(super) struct Folder {
    dir: PathBuf,
    chunk_keys: usize,
    digest: DigestFn,
    chunk: HashMap<u128, Slot>,
    /// The chunk's keys' text.
    chunk_text: String,
    chunks: u64,
    sorter: Option<Sorter<[u64; 6]>>,
    /// Every spilled chunk's keys, and the bytes written to it.
    keys: Option<(Scratch, u64)>,
    shared: HashSet<u128>,
    collided: Stretches,
}

impl Folder {
    pub(super) fn new(dir: PathBuf, chunk_keys: usize, digest: DigestFn) -> Self {
        Self {
            dir,
            chunk_keys,
            digest,
            chunk: HashMap::new(),
            chunk_text: String::new(),
            chunks: 0,
            sorter: None,
            keys: None,
            shared: HashSet::new(),
            collided: HashMap::new(),
        }
    }

    pub(super) fn apply(&mut self, entry: &Entry) -> io::Result<()> {
        let key = entry.key.as_str();
        if key.len() > MAX_KEY_BYTES {
            return Err(io::Error::other(format!(
                "a key of {} bytes (at most {MAX_KEY_BYTES})",
                key.len()
            )));
        }
        let digest = (self.digest)(key);
        if !self.shared.is_empty() && self.shared.contains(&digest) {
            stretch(&mut self.collided, key, self.chunks).apply(entry);
            return Ok(());
        }
        match self.chunk.get_mut(&digest) {
            Some(slot) if slot.key().in_text(&self.chunk_text) == key => {
                let mut state = slot.state();
                state.apply(entry);
                slot.set_state(state);
            }
            Some(_) => {
                // Two keys, one digest: both go to the side table, by their whole key.
                if let Some(slot) = self.chunk.remove(&digest) {
                    let first = slot.key().in_text(&self.chunk_text).to_owned();
                    *stretch(&mut self.collided, &first, self.chunks) = slot.state();
                }
                self.shared.insert(digest);
                stretch(&mut self.collided, key, self.chunks).apply(entry);
            }
            None => {
                let at = self.chunk_text.len();
                self.chunk_text.push_str(key);
                let mut state = State::default();
                state.apply(entry);
                self.chunk.insert(digest, Slot::new(state, at, key.len()));
            }
        }
        if self.chunk.len() >= self.chunk_keys || self.chunk_text.len() >= CHUNK_KEY_BYTES {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> io::Result<()> {
        let (dir, run_len) = (&self.dir, self.chunk_keys);
        let sorter = self
            .sorter
            .get_or_insert_with(|| Sorter::new(dir.clone(), run_len));
        let (keys, written) = match &mut self.keys {
            Some(keys) => keys,
            None => self.keys.insert((scratch(dir, "replay-keys")?, 0)),
        };
        let mut out = io::BufWriter::with_capacity(64 * 1024, keys.file());
        for (digest, slot) in self.chunk.drain() {
            let text = slot.key().in_text(&self.chunk_text);
            out.write_all(text.as_bytes())?;
            let (outcome, in_flight) = encode_state(slot.state());
            sorter.push([
                (digest >> 64) as u64,
                digest as u64,
                self.chunks,
                outcome,
                in_flight,
                KeyRef::new(*written, text.len()).0,
            ])?;
            *written += text.len() as u64;
        }
        out.flush()?;
        self.chunk_text.clear();
        self.chunks += 1;
        Ok(())
    }

    /// The replay's table (and side table), and the keys in flight with the latest
    /// `sent` time.
    pub(super) fn finish(mut self) -> io::Result<Replay> {
        let mut replay = Replay {
            digest: self.digest,
            ..Replay::default()
        };
        if self.sorter.is_none() {
            let slots = std::mem::take(&mut self.chunk);
            count_in_flight(&mut replay, slots.values().map(|slot| slot.state()));
            replay.table = Table::Memory {
                slots,
                keys: std::mem::take(&mut self.chunk_text),
            };
            return Ok(self.finish_collided(replay));
        }
        self.spill()?;
        let (Some(sorter), Some((keys, _))) = (self.sorter.take(), self.keys.take()) else {
            return Err(io::Error::other("replay: no sorter"));
        };
        let file = scratch(&self.dir, "replay")?;
        let mut out = io::BufWriter::with_capacity(64 * 1024, file.file());
        let mut index = Vec::new();
        let mut entries = 0u64;
        let (mut in_flight, mut latest) = (0usize, None::<u64>);
        let mut write = |digest: u128, state: State, at: KeyRef, out: &mut io::BufWriter<&File>| {
            if let Some(at) = state.in_flight_since {
                in_flight += 1;
                latest = Some(latest.map_or(at, |l| l.max(at)));
            }
            if entries.is_multiple_of(BLOCK_ENTRIES as u64) {
                index.push(digest);
            }
            entries += 1;
            let (outcome, flight) = encode_state(state);
            let mut bytes = [0; TABLE_ENTRY];
            [(digest >> 64) as u64, digest as u64, outcome, flight, at.0].encode(&mut bytes);
            out.write_all(&bytes)
        };
        // The stretch of one digest being folded: its key, where it is, its state.
        let mut current: Option<(u128, KeyRef, u64, State)> = None;
        // Sorted by digest, then chunk: each key's stretches come in journal order.
        for entry in sorter.finish()? {
            let [high, low, chunk, outcome, flight, at] = entry?;
            let (digest, at) = ((u128::from(high) << 64) | u128::from(low), KeyRef(at));
            let state = decode_state(outcome, flight);
            if self.shared.contains(&digest) {
                let key = key_text(&keys, at)?;
                stretches_of(&mut self.collided, &key).push((chunk, state));
                continue;
            }
            current = match current {
                Some((d, first, last_chunk, s)) if d == digest => {
                    if keys_equal(&keys, first, at)? {
                        Some((d, first, chunk, s.then(state)))
                    } else {
                        // Two keys, one digest, from two chunks: both to the side table.
                        let key = key_text(&keys, first)?;
                        stretches_of(&mut self.collided, &key).push((last_chunk, s));
                        let key = key_text(&keys, at)?;
                        stretches_of(&mut self.collided, &key).push((chunk, state));
                        self.shared.insert(digest);
                        None
                    }
                }
                Some((d, first, _, s)) => {
                    write(d, s, first, &mut out)?;
                    Some((digest, at, chunk, state))
                }
                None => Some((digest, at, chunk, state)),
            };
        }
        if let Some((d, first, _, s)) = current {
            write(d, s, first, &mut out)?;
        }
        out.flush()?;
        drop(out);
        (replay.in_flight, replay.latest_in_flight) = (in_flight, latest);
        replay.table = Table::Disk {
            file,
            keys,
            index,
            entries,
        };
        Ok(self.finish_collided(replay))
    }

    /// The side table's keys, each folded over its stretches in journal order.
    fn finish_collided(self, mut replay: Replay) -> Replay {
        let collided: HashMap<String, State> = self
            .collided
            .into_iter()
            .map(|(key, mut stretches)| {
                stretches.sort_by_key(|(chunk, _)| *chunk);
                let state = stretches
                    .into_iter()
                    .fold(State::default(), |s, (_, later)| s.then(later));
                (key, state)
            })
            .collect();
        count_in_flight(&mut replay, collided.values().copied());
        replay.shared = self.shared;
        replay.collided = collided;
        replay
    }
}

/// Adds the keys in flight among `states` to the replay's count and latest time.
fn count_in_flight(replay: &mut Replay, states: impl Iterator<Item = State>) {
    for at in states.filter_map(|s| s.in_flight_since) {
        replay.in_flight += 1;
        replay.latest_in_flight = Some(replay.latest_in_flight.map_or(at, |l| l.max(at)));
    }
}

fn stretches_of<'a>(collided: &'a mut Stretches, key: &str) -> &'a mut Vec<(u64, State)> {
    // Only keys of a shared digest come here: in practice never, so the copy is free.
    collided.entry(key.to_owned()).or_default()
}

/// The state of `key`'s stretch in `chunk`, in the side table.
fn stretch<'a>(collided: &'a mut Stretches, key: &str, chunk: u64) -> &'a mut State {
    let stretches = stretches_of(collided, key);
    if stretches.last().is_none_or(|(c, _)| *c != chunk) {
        stretches.push((chunk, State::default()));
    }
    let last = stretches.len() - 1;
    &mut stretches[last].1
}

fn key_text(keys: &Scratch, at: KeyRef) -> io::Result<String> {
    String::from_utf8(at.read(keys)?).map_err(|_| io::Error::other("replay: a key is not UTF-8"))
}

fn keys_equal(keys: &Scratch, a: KeyRef, b: KeyRef) -> io::Result<bool> {
    Ok(a.range().1 == b.range().1 && a.read(keys)? == b.read(keys)?)
}
