//! The Clerk users no source record matches, as the export finds them: kept on
//! disk, each counted once by its exact id (a server paging by offset while users
//! are created can repeat a user on two pages), without a set of the ids seen in
//! memory: once the export is read, an external sort by id brings the repeats
//! together, and a second one puts the first sightings back in export order.

use std::path::{Path, PathBuf};

use super::SyncError;
use super::index::SORT_RUN;
use super::plan::MissingUser;
use super::tape::{Fields, Tape, encode_missing};
use crate::spill::Sorter;

/// Gets the [`Missing`](super::Missing) action (not ignored, not banned already).
const ACTED_ON: u8 = 1;
/// Its Clerk id falls in this run's shard.
const HERE: u8 = 2;

fn sort_error(e: std::io::Error) -> SyncError {
    SyncError::spill(format!("the sync's sort: {e}"))
}

/// What the missing users come to, each counted once.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Counted {
    /// This shard's users that get the action (written to the missing list).
    pub(super) acted_on: usize,
    /// This shard's users that need nothing.
    pub(super) untouched: usize,
    /// All shards' users that get the action.
    pub(super) acted_on_all_shards: usize,
}

/// The missing users seen so far (see the [module](self)).
pub(super) struct Leavers {
    dir: PathBuf,
    /// `[flags][encode_missing]` per sighting.
    tape: Tape,
    /// `(hash of the id, sighting, offset on the tape)`.
    by_id: Sorter<[u64; 3]>,
    seen: u64,
    /// The id's hash; tests make every id collide.
    hash: fn(&str) -> u64,
}

fn id_hash(id: &str) -> u64 {
    crate::record::stable_hash(id.as_bytes())
}

impl Leavers {
    pub(super) fn new(dir: &Path) -> Result<Self, SyncError> {
        Ok(Self {
            dir: dir.to_owned(),
            tape: Tape::new(dir, "sync-leavers")?,
            by_id: Sorter::new(dir, SORT_RUN),
            seen: 0,
            hash: id_hash,
        })
    }

    /// A user no record matches: whether it gets the action, whether its id is this
    /// shard's.
    pub(super) fn push(
        &mut self,
        user: &MissingUser,
        acted_on: bool,
        here: bool,
    ) -> Result<(), SyncError> {
        let flags = [if acted_on { ACTED_ON } else { 0 } | if here { HERE } else { 0 }];
        let offset = self.tape.push(&[&flags, &encode_missing(user)])?;
        self.by_id
            .push([(self.hash)(&user.user_id), self.seen, offset])
            .map_err(sort_error)?;
        self.seen += 1;
        Ok(())
    }

    /// Writes this shard's users that get the action to `missing` (`encode_missing`
    /// entries), each once, in the order the export found them; the counts.
    pub(super) fn finish(mut self, missing: &mut Tape) -> Result<Counted, SyncError> {
        self.tape.flush()?;
        let mut buf = Vec::new();
        let mut firsts = Sorter::<[u64; 2]>::new(&self.dir, SORT_RUN);
        // The ids of the current run of one hash (one, but for a collision).
        let mut run: Option<u64> = None;
        let mut run_ids: Vec<String> = Vec::new();
        for entry in self.by_id.finish().map_err(sort_error)? {
            let [hash, seen, offset] = entry.map_err(sort_error)?;
            if run != Some(hash) {
                run = Some(hash);
                run_ids.clear();
            }
            self.tape.read(offset, &mut buf)?;
            let id = user_id(&buf)?;
            // Sorted by sighting within a hash: the first sighting comes first.
            if run_ids.iter().any(|seen_id| *seen_id == id) {
                continue;
            }
            run_ids.push(id.to_owned());
            firsts.push([seen, offset]).map_err(sort_error)?;
        }
        let mut counted = Counted::default();
        for entry in firsts.finish().map_err(sort_error)? {
            let [_, offset] = entry.map_err(sort_error)?;
            self.tape.read(offset, &mut buf)?;
            let flags = buf[0];
            let acted_on = flags & ACTED_ON != 0;
            counted.acted_on_all_shards += usize::from(acted_on);
            if flags & HERE == 0 {
                continue;
            }
            if acted_on {
                missing.push(&[&buf[1..]])?;
                counted.acted_on += 1;
            } else {
                counted.untouched += 1;
            }
        }
        Ok(counted)
    }
}

/// The user id of a `[flags][encode_missing]` entry.
fn user_id(entry: &[u8]) -> Result<&str, SyncError> {
    let mut f = Fields::new(entry);
    f.take(2)?;
    let len = f.u32()? as usize;
    f.text(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, banned: bool) -> MissingUser {
        MissingUser {
            user_id: id.to_owned(),
            key: Some(format!("key-{id}")),
            banned,
        }
    }

    /// Every id with one hash: repeats are still told apart from other users by
    /// the id on disk, and the list keeps the export's order.
    #[test]
    fn repeated_users_count_once_by_their_exact_id() {
        let dir = std::env::temp_dir();
        let mut leavers = Leavers {
            hash: |_| 7,
            by_id: Sorter::new(&dir, 2),
            ..Leavers::new(&dir).unwrap()
        };
        let sightings = [
            ("user_c", true, true),
            ("user_a", true, false),
            ("user_c", true, true),
            ("user_b", false, true),
            ("user_d", true, true),
            ("user_a", true, false),
            ("user_b", false, true),
        ];
        for (id, acted_on, here) in sightings {
            leavers.push(&user(id, !acted_on), acted_on, here).unwrap();
        }
        let mut missing = Tape::new(&dir, "test-missing").unwrap();
        let counted = leavers.finish(&mut missing).unwrap();
        assert_eq!(
            counted,
            Counted {
                acted_on: 2,
                untouched: 1,
                acted_on_all_shards: 3,
            }
        );
        missing.flush().unwrap();
        let mut buf = Vec::new();
        let mut at = 0;
        let mut ids = Vec::new();
        while at < missing.len() {
            at = missing.read(at, &mut buf).unwrap();
            let mut f = Fields::new(&buf);
            f.take(1).unwrap();
            let len = f.u32().unwrap() as usize;
            ids.push(f.text(len).unwrap().to_owned());
        }
        assert_eq!(ids, ["user_c", "user_d"]);
    }
}
