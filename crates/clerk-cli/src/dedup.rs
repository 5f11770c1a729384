//! Identifiers used twice within a file, found exactly in memory that does not grow
//! with the file.
//!
//! Each claim (an identifier of a record: kind and normalised value) becomes a
//! 32-byte entry — a 64-bit fingerprint of the value, the record's byte offset, its
//! line, the claim's slot in the record — sorted by `clerk_migrate::spill` in runs of
//! at most [`RUN_ENTRIES`] (32 MiB), spilled to a scratch file next to the checkpoint
//! past that. Merged, equal fingerprints come out together, in file order: only
//! those records are read again, from their offsets, and their values compared, so a
//! fingerprint collision is never taken for a duplicate, and the first record of a
//! value is the one the others are reported against.

use std::io;
use std::path::Path;

use clerk_migrate::spill::Sorter;

use crate::validate::Claim;

/// Entries sorted in memory before a run is spilled (32 bytes each: 32 MiB).
pub(crate) const RUN_ENTRIES: usize = 1 << 20;

/// A record reported for a value an earlier record claimed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Duplicate {
    /// The later record: its offset and line.
    pub(crate) offset: u64,
    pub(crate) line: usize,
    /// Its claim.
    pub(crate) claim: Claim,
    /// The line of the first record with that value.
    pub(crate) first_line: usize,
}

/// Fingerprint of a claim's kind and value.
type Hash = fn(&str, &str) -> u64;

/// foldhash's quality variant: a few ns per value where SipHash took tens, and any
/// collision is settled by comparing the values anyway. A fixed seed: the same value
/// has the same fingerprint throughout the run.
fn fingerprint(kind: &str, key: &str) -> u64 {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::with_seed(0x636c_6572_6b2d_7573).hash_one((kind, key))
}

/// Claims of every record of a file, checked for values claimed twice.
pub(crate) struct Uniqueness {
    sorter: Sorter<[u64; 4]>,
    hash: Hash,
}

impl Uniqueness {
    /// Spills to a scratch file in `dir` when the claims outgrow one run.
    pub(crate) fn new(dir: &Path) -> Self {
        Self::with(dir, RUN_ENTRIES, fingerprint)
    }

    /// With a run length and a fingerprint of one's choosing (tests force collisions).
    pub(crate) fn with(dir: &Path, run_entries: usize, hash: Hash) -> Self {
        Self {
            sorter: Sorter::new(dir, run_entries),
            hash,
        }
    }

    /// Records that the record at `offset` (on `line`) claims `key` of `kind` in `slot`
    /// (borrowed: nothing is allocated per claim).
    pub(crate) fn claim(
        &mut self,
        kind: &str,
        key: &str,
        slot: u32,
        offset: u64,
        line: usize,
    ) -> io::Result<()> {
        let fp = (self.hash)(kind, key);
        self.sorter.push([fp, offset, line as u64, u64::from(slot)])
    }

    /// Bytes of memory the claims take: at most one run, whatever the number of records.
    #[cfg(test)]
    pub(crate) fn memory_bytes(&self) -> usize {
        self.sorter.memory_bytes()
    }

    /// Runs spilled to disk so far.
    #[cfg(test)]
    pub(crate) fn spilled_runs(&self) -> usize {
        self.sorter.spilled_runs()
    }

    /// Finds every value claimed by more than one record. `reread(offset, line)`
    /// gives the claims of the record there again (only records sharing a
    /// fingerprint are read again); each later record of a value goes to `found`.
    pub(crate) fn finish(
        self,
        mut reread: impl FnMut(u64, usize) -> io::Result<Vec<Claim>>,
        mut found: impl FnMut(Duplicate),
    ) -> io::Result<()> {
        let mut current: Option<u64> = None;
        // The group's first entry, read again only if a second one shares its fingerprint.
        let mut first: Option<[u64; 4]> = None;
        // The distinct values of the group, with the line of their first record.
        let mut values: Vec<(Claim, usize)> = Vec::new();
        let mut claim_of = |entry: [u64; 4]| -> io::Result<Claim> {
            let [_, offset, line, slot] = entry;
            reread(offset, line as usize)?
                .into_iter()
                .find(|c| u64::from(c.slot) == slot)
                .ok_or_else(|| {
                    io::Error::other(format!(
                        "the record on line {line} changed while it was being checked"
                    ))
                })
        };
        for entry in self.sorter.finish()? {
            let entry = entry?;
            if current != Some(entry[0]) {
                current = Some(entry[0]);
                first = Some(entry);
                values.clear();
                continue;
            }
            if let Some(head) = first.take() {
                values.push((claim_of(head)?, head[2] as usize));
            }
            let claim = claim_of(entry)?;
            let line = entry[2] as usize;
            match values
                .iter()
                .find(|(c, _)| c.kind == claim.kind && c.key == claim.key)
            {
                Some((_, first_line)) => found(Duplicate {
                    offset: entry[1],
                    line,
                    claim,
                    first_line: *first_line,
                }),
                None => values.push((claim, line)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(key: &str, slot: u32) -> Claim {
        Claim {
            kind: "email address",
            key: key.to_owned(),
            field: Some(format!("email_address[{slot}]")),
            slot,
        }
    }

    /// Record `i` claims `u{i % distinct}@x.io` (and `x{i}` in slot 1).
    fn claims_of(i: u64, distinct: u64) -> Vec<Claim> {
        vec![
            claim(&format!("u{}@x.io", i % distinct), 0),
            Claim {
                kind: "external_id",
                ..claim(&format!("x{i}"), 1)
            },
        ]
    }

    fn duplicates(n: u64, distinct: u64, uniq: Uniqueness) -> Vec<Duplicate> {
        let mut uniq = uniq;
        for i in 0..n {
            for c in claims_of(i, distinct) {
                uniq.claim(c.kind, &c.key, c.slot, i * 100, i as usize + 1)
                    .unwrap();
            }
        }
        let mut found = Vec::new();
        uniq.finish(
            |offset, _| Ok(claims_of(offset / 100, distinct)),
            |d| found.push(d),
        )
        .unwrap();
        found.sort_by_key(|d| d.line);
        found
    }

    #[test]
    fn every_later_record_of_a_value_is_reported_against_the_first() {
        let found = duplicates(10, 4, Uniqueness::new(&std::env::temp_dir()));
        let pairs: Vec<(usize, usize)> = found.iter().map(|d| (d.line, d.first_line)).collect();
        assert_eq!(pairs, [(5, 1), (6, 2), (7, 3), (8, 4), (9, 1), (10, 2)]);
        assert!(found.iter().all(|d| d.claim.slot == 0));
    }

    #[test]
    fn colliding_fingerprints_are_told_apart_by_their_values() {
        // Every claim has the same fingerprint: only the exact comparison decides.
        let everything_collides = Uniqueness::with(&std::env::temp_dir(), 7, |_, _| 0);
        let found = duplicates(10, 4, everything_collides);
        let expected = duplicates(10, 4, Uniqueness::new(&std::env::temp_dir()));
        assert_eq!(found, expected);
        // A tiny fingerprint (3 bits) on a file without duplicates: none reported.
        let tiny = Uniqueness::with(&std::env::temp_dir(), 50, |k, v| fingerprint(k, v) & 7);
        assert_eq!(duplicates(500, 500, tiny), []);
    }

    #[test]
    fn duplicates_are_found_across_spilled_runs_over_the_whole_file() {
        let spilling = Uniqueness::with(&std::env::temp_dir(), 64, fingerprint);
        // 5,000 records, 2 claims each: 157 runs of 64; record i repeats record i - 2500.
        let found = duplicates(5000, 2500, spilling);
        assert_eq!(found.len(), 2500);
        assert!(found.iter().all(|d| d.line == d.first_line + 2500));
    }

    #[test]
    fn memory_stays_one_run_whatever_the_number_of_records() {
        let mut peaks = Vec::new();
        for n in [10_000u64, 100_000] {
            let mut uniq = Uniqueness::with(&std::env::temp_dir(), 4096, fingerprint);
            let mut peak = 0;
            for i in 0..n {
                for c in claims_of(i, n) {
                    uniq.claim(c.kind, &c.key, c.slot, i, i as usize + 1)
                        .unwrap();
                }
                peak = peak.max(uniq.memory_bytes());
            }
            assert!(uniq.spilled_runs() as u64 >= 2 * n / 4096);
            peaks.push(peak);
        }
        assert_eq!(peaks[0], peaks[1], "10x the records, the same memory");
        assert!(peaks[1] <= 4096 * 32, "{} bytes", peaks[1]);
    }
}
