//! The check of an import file before anything is sent, streaming: each record is
//! validated as it is read ([`Validator`]: clerk-rules, clerk-core's field table, the
//! create body), and its identifiers go to the file-wide uniqueness check
//! ([`Uniqueness`]), which sorts them in bounded runs spilled next to the checkpoint.
//! What comes out ([`Checked`]) is counts, the first problems and the offsets of the
//! invalid records: the pass that sends ([`accepted`]) reads the file again.

use std::path::{Path, PathBuf};

use clerk_migrate::import::Item;
use clerk_migrate::record::{Lookup, record_key};
use clerk_migrate::shard::Shard;
use clerk_migrate::spill::{Ascending, Sorter};
use clerk_tower::users::CreateUser;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::dedup::{Duplicate, Uniqueness};
use crate::input::Format;
use crate::records::{Layout, RawRecord, Records};
use crate::validate::{self, Claim, IDENTITY_SLOT, Problem, ProblemLog, Validator};

/// What validating a whole input found. Its size does not grow with the input:
/// counts, the first [`ProblemLog::KEPT`] problems, and the offsets of the invalid
/// records (the first [`INVALID_IN_MEMORY`] in memory, the rest in a scratch file).
#[derive(Debug)]
pub(crate) struct Checked {
    /// How the file's records are laid out (for the pass that sends).
    pub(crate) layout: Layout,
    /// Records read (valid or not; the unreadable ones are counted apart).
    pub(crate) records: usize,
    /// Problems of records that could not even be read.
    pub(crate) unreadable: usize,
    /// Valid records of the whole input.
    pub(crate) valid: usize,
    /// Valid records of this shard: the ones a run sends.
    pub(crate) in_shard: usize,
    pub(crate) problems: ProblemLog,
    /// Byte offsets of the records with problems, ascending.
    pub(crate) invalid: Ascending,
    /// Valid records of this shard without a lookup key, and the first lines of them.
    pub(crate) unkeyed: usize,
    pub(crate) unkeyed_lines: Vec<usize>,
}

impl Checked {
    /// Records with problems, unreadable ones included.
    pub(crate) fn invalid_records(&self) -> usize {
        usize::try_from(self.invalid.len()).unwrap_or(usize::MAX) + self.unreadable
    }
}

/// Offsets of invalid records kept in memory (512 KiB); past them they go to a
/// scratch file next to the checkpoint, so a file of bad records costs no more.
pub(crate) const INVALID_IN_MEMORY: usize = 1 << 16;

/// Duplicates (offset and line) sorted in memory before a run of them is spilled.
const REJECTED_RUN: usize = 1 << 15;

/// Validates records one at a time (clerk-rules, clerk-core's field table, the create
/// body), and collects their identifiers for the file-wide uniqueness check.
pub(crate) struct Checker {
    dir: PathBuf,
    invalid_in_memory: usize,
    shard: Shard,
    uniqueness: Uniqueness,
    validator: Validator,
    checked: Checked,
    found: Vec<Problem>,
    /// Offsets and lines of the first unkeyed records (their lines are reported).
    unkeyed: Vec<(u64, usize)>,
}

/// Unkeyed records remembered by offset, for the message that lists their lines.
const UNKEYED_KEPT: usize = 1000;

impl Checker {
    /// A check whose sorted identifiers spill to `dir` past one run.
    pub(crate) fn new(dir: &Path, shard: Shard) -> Self {
        Self::with(dir, shard, Uniqueness::new(dir), INVALID_IN_MEMORY)
    }

    /// With the uniqueness check and the invalid offsets kept in memory of one's
    /// choosing (tests spill with little).
    fn with(dir: &Path, shard: Shard, uniqueness: Uniqueness, invalid_in_memory: usize) -> Self {
        Self {
            dir: dir.to_owned(),
            invalid_in_memory,
            shard,
            uniqueness,
            validator: Validator,
            checked: Checked {
                layout: Layout::default(),
                records: 0,
                unreadable: 0,
                valid: 0,
                in_shard: 0,
                problems: ProblemLog::default(),
                invalid: Ascending::new(dir, invalid_in_memory),
                unkeyed: 0,
                unkeyed_lines: Vec::new(),
            },
            found: Vec::new(),
            unkeyed: Vec::new(),
        }
    }

    /// Checks one record.
    pub(crate) fn record(&mut self, raw: RawRecord) -> std::io::Result<()> {
        let checked = &mut self.checked;
        let map = match raw.body {
            Ok(map) => map,
            Err(problems) => {
                checked.unreadable += problems.len();
                for p in problems {
                    checked.problems.push(Problem {
                        line: p.line,
                        field: p.field,
                        message: p.message,
                    });
                }
                return Ok(());
            }
        };
        checked.records += 1;
        let (offset, line) = (raw.offset, raw.line);
        self.found.clear();
        let claims = self.validator.check(line, &map, &mut self.found);
        let mut claimed = Ok(());
        claims.each(|kind, key, slot| {
            if claimed.is_ok() {
                claimed = self.uniqueness.claim(kind, key, slot, offset, line);
            }
        });
        claimed?;
        let deserializes = claims.deserializes();
        drop(claims);
        if !self.found.is_empty() {
            checked.invalid.push(offset)?;
            for p in self.found.drain(..) {
                checked.problems.push(p);
            }
            return Ok(());
        }
        let lookup = Lookup::for_body(&map);
        // The record's key decides its shard; a record without a lookup key is keyed by
        // its identity (a hash of its whole body), which is also a claim.
        let key =
            (lookup == Lookup::None || self.shard.count() != 1).then(|| lookup.identity(&map));
        // The type check vouches for the `CreateUser` (a test holds it to that); a
        // field of a kind it does not know is deserialized to see (consumed: the
        // body's strings move instead of being copied).
        if !deserializes && let Err(err) = CreateUser::deserialize(Value::Object(map)) {
            checked.invalid.push(offset)?;
            checked.problems.push(Problem {
                line,
                field: None,
                message: err.to_string(),
            });
            return Ok(());
        }
        if lookup == Lookup::None
            && let Some(key) = &key
        {
            // The journal is keyed by identity: two records with one identity are one user.
            self.uniqueness
                .claim("identity", key, IDENTITY_SLOT, offset, line)?;
        }
        checked.valid += 1;
        if key.as_ref().is_none_or(|key| self.shard.contains(key)) {
            checked.in_shard += 1;
            if lookup == Lookup::None {
                checked.unkeyed += 1;
                if self.unkeyed.len() < UNKEYED_KEPT {
                    self.unkeyed.push((offset, line));
                }
            }
        }
        Ok(())
    }

    /// Finds the identifiers used twice in the input: `reread` gives the record at an
    /// offset (and line) again. `layout` is how the input was read.
    pub(crate) fn finish(
        self,
        layout: Layout,
        mut reread: impl FnMut(u64, usize) -> std::io::Result<Option<Map<String, Value>>>,
    ) -> std::io::Result<Checked> {
        let Self {
            dir,
            invalid_in_memory,
            shard,
            uniqueness,
            mut checked,
            unkeyed,
            ..
        } = self;
        checked.layout = layout;
        // The duplicates, sorted by offset in bounded memory (a file can be all duplicates).
        let mut rejected = Sorter::<[u64; 2]>::new(&dir, REJECTED_RUN);
        let mut rejecting = Ok(());
        let changed = || std::io::Error::other("the input changed while it was being checked");
        uniqueness.finish(
            |offset, line| {
                let map = reread(offset, line)?.ok_or_else(changed)?;
                Ok(all_claims(&map))
            },
            |dup| {
                let Duplicate {
                    offset,
                    line,
                    claim,
                    first_line,
                } = dup;
                let message = if claim.slot == IDENTITY_SLOT {
                    format!(
                        "same identity ({}) as the record on line {first_line}",
                        crate::validate::excerpt(&claim.key)
                    )
                } else {
                    format!(
                        "{} {} is already used by the record on line {first_line}",
                        claim.kind,
                        crate::validate::excerpt(&claim.key)
                    )
                };
                checked.problems.push(Problem {
                    line,
                    field: claim.field,
                    message,
                });
                if rejecting.is_ok() {
                    rejecting = rejected.push([offset, line as u64]);
                }
            },
        )?;
        rejecting?;
        if rejected.is_empty() {
            checked.unkeyed_lines = unkeyed.iter().map(|(_, line)| *line).take(20).collect();
            return Ok(checked);
        }
        // The invalid records: those the first look found, merged with the duplicates.
        let first_look = std::mem::replace(
            &mut checked.invalid,
            Ascending::new(&dir, invalid_in_memory),
        );
        let mut earlier = first_look.iter();
        let mut next_earlier = earlier.next().transpose()?;
        let mut unkeyed_rejected = Vec::new();
        let mut last = None;
        for entry in rejected.finish()? {
            let [offset, line] = entry?;
            if last.replace(offset) == Some(offset) {
                continue;
            }
            while let Some(before) = next_earlier.filter(|before| *before < offset) {
                checked.invalid.push(before)?;
                next_earlier = earlier.next().transpose()?;
            }
            checked.invalid.push(offset)?;
            if next_earlier == Some(offset) {
                // Invalid already: counted so.
                next_earlier = earlier.next().transpose()?;
                continue;
            }
            let line = usize::try_from(line).unwrap_or(usize::MAX);
            // Counted valid by the first look; not any more.
            checked.valid -= 1;
            let map = reread(offset, line)?.ok_or_else(changed)?;
            let lookup = Lookup::for_body(&map);
            if shard.contains(&lookup.identity(&map)) {
                checked.in_shard -= 1;
                if lookup == Lookup::None {
                    checked.unkeyed -= 1;
                    // Only the remembered ones matter (their lines are listed).
                    if unkeyed.iter().any(|(o, _)| *o == offset) {
                        unkeyed_rejected.push(offset);
                    }
                }
            }
        }
        while let Some(before) = next_earlier {
            checked.invalid.push(before)?;
            next_earlier = earlier.next().transpose()?;
        }
        checked.unkeyed_lines = unkeyed
            .iter()
            .filter(|(offset, _)| !unkeyed_rejected.contains(offset))
            .map(|(_, line)| *line)
            .take(20)
            .collect();
        Ok(checked)
    }
}

fn identity_claim(key: String) -> Claim {
    Claim {
        kind: "identity",
        key,
        field: None,
        slot: IDENTITY_SLOT,
    }
}

/// Every claim of a record, its identity included when it has no lookup key.
fn all_claims(map: &Map<String, Value>) -> Vec<Claim> {
    let mut claims = validate::claims(map, |_| {});
    let lookup = Lookup::for_body(map);
    if lookup == Lookup::None {
        claims.push(identity_claim(lookup.identity(map)));
    }
    claims
}

/// Checks records read from memory (offsets are their positions in `records`'
/// order, and `reread` gives a record by it): the tests' and the bench's way in.
#[cfg(any(test, feature = "emulator"))]
pub(crate) fn check(
    records: impl Iterator<Item = std::io::Result<RawRecord>>,
    dir: &Path,
    shard: Shard,
    mut reread: impl FnMut(u64) -> std::io::Result<Option<Map<String, Value>>>,
) -> std::io::Result<Checked> {
    let mut checker = Checker::new(dir, shard);
    for record in records {
        checker.record(record?)?;
    }
    checker.finish(Layout::default(), |offset, _| reread(offset))
}

/// Checks every record of `path`, streaming: one record in memory at a time, and
/// the identifiers sorted in bounded runs that spill to `dir`.
pub(crate) fn check_file(
    path: &Path,
    format: Format,
    dir: &Path,
    shard: Shard,
) -> std::io::Result<Checked> {
    check_file_with(path, format, Checker::new(dir, shard))
}

/// Records read ahead of the check, per batch handed over, and batches in flight.
const BATCH_RECORDS: usize = 256;
/// A batch is handed over past this many bytes of input, whatever its length, so the
/// read-ahead stays small with large records.
const BATCH_BYTES: u64 = 1 << 20;
const BATCHES_AHEAD: usize = 4;

/// Reads and parses on a thread of its own (I/O and JSON decoding) while this one
/// validates and sorts: the two halves of the work overlap, on two cores when
/// there are two, and a busy machine's scheduler gives the check two threads'
/// share. At most [`BATCHES_AHEAD`] batches are read ahead.
fn check_file_with(path: &Path, format: Format, checker: Checker) -> std::io::Result<Checked> {
    let mut checker = checker;
    let records = Records::open(path, format)?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<std::io::Result<Vec<RawRecord>>>(BATCHES_AHEAD);
    let layout = std::thread::scope(|scope| -> std::io::Result<Layout> {
        let reader = scope.spawn(move || {
            let mut records = records;
            let mut batch = Vec::with_capacity(BATCH_RECORDS);
            for record in records.by_ref() {
                match record {
                    Ok(record) => {
                        let full = batch.len() + 1 >= BATCH_RECORDS
                            || batch.first().is_some_and(|f: &RawRecord| {
                                record.offset - f.offset >= BATCH_BYTES
                            });
                        batch.push(record);
                        if full {
                            let next = Vec::with_capacity(BATCH_RECORDS);
                            if tx.send(Ok(std::mem::replace(&mut batch, next))).is_err() {
                                break;
                            }
                        }
                    }
                    Err(err) => {
                        let _ = tx.send(Ok(std::mem::take(&mut batch)));
                        let _ = tx.send(Err(err));
                        return records.layout().clone();
                    }
                }
            }
            let _ = tx.send(Ok(batch));
            records.layout().clone()
        });
        let mut result = Ok(());
        for batch in rx.iter() {
            let checked = batch.and_then(|batch| {
                batch
                    .into_iter()
                    .try_for_each(|record| checker.record(record))
            });
            if let Err(err) = checked {
                result = Err(err);
                // Stops the reader: its next send fails.
                break;
            }
        }
        drop(rx);
        let layout = reader
            .join()
            .map_err(|_| std::io::Error::other("the input reader panicked"))?;
        result.map(|()| layout)
    })?;
    let file = std::fs::File::open(path)?;
    let again = layout.clone();
    checker.finish(layout, |offset, line| {
        Ok(Records::at(&file, &again, offset, line)?.and_then(|r| r.body.ok()))
    })
}

/// A record of the pass that sends: valid (as an [`Item`]), or not.
#[derive(Debug)]
pub(crate) enum Accepted {
    Item(Item),
    Invalid {
        index: usize,
        body: Map<String, Value>,
    },
}

/// The records of `shard` as a first pass checked them, in input order.
pub(crate) fn accepted<'a>(
    records: impl Iterator<Item = std::io::Result<RawRecord>> + 'a,
    checked: &'a Checked,
    shard: Shard,
) -> impl Iterator<Item = std::io::Result<Accepted>> + 'a {
    let mut index = 0;
    // Records come in file order: one pass over the invalid offsets answers for all.
    let mut invalid = checked.invalid.cursor();
    records.filter_map(move |raw| {
        let raw = match raw {
            Ok(raw) => raw,
            Err(err) => return Some(Err(err)),
        };
        let map = raw.body.ok()?;
        let at = index;
        index += 1;
        let is_invalid = match invalid.contains(raw.offset) {
            Ok(is_invalid) => is_invalid,
            Err(err) => return Some(Err(err)),
        };
        if is_invalid {
            return shard
                .contains(&record_key(&map))
                .then_some(Ok(Accepted::Invalid {
                    index: at,
                    body: map,
                }));
        }
        let item = Item::new(at, raw.line, map);
        shard
            .contains(&item.key)
            .then_some(Ok(Accepted::Item(item)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records of a file: `external_id` x{i}, email u{i}@x.io; some repeat earlier ones.
    fn file(dir: &Path, n: usize) -> std::path::PathBuf {
        let mut text = String::new();
        for i in 0..n {
            let line = match i {
                // The last record reuses the first one's email, in another case.
                _ if i == n - 1 => {
                    format!(r#"{{"external_id":"x{i}","email_address":["U0@X.io"]}}"#)
                }
                // Two records without any identifier, with the same content: one identity.
                7 | 4000 => r#"{"first_name":"Nobody"}"#.to_owned(),
                // Record 3000 repeats the external id of record 10.
                3000 => r#"{"external_id":"x10","email_address":["other@x.io"]}"#.to_owned(),
                _ => format!(r#"{{"external_id":"x{i}","email_address":["u{i}@x.io"]}}"#),
            };
            text.push_str(&line);
            text.push('\n');
        }
        let path = dir.join("users.jsonl");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn duplicates_anywhere_in_the_file_are_found_exactly_through_collisions_and_spills() {
        let dir = std::env::temp_dir().join(format!("clerk-cli-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = file(&dir, 5000);
        // Runs of 256 entries (40 spilled runs) and a 4-bit fingerprint: thousands of
        // collisions, every one of them settled by reading the records again.
        let tiny = Uniqueness::with(&dir, 256, |kind, key| {
            use std::hash::{Hash, Hasher};
            let mut h = std::hash::DefaultHasher::new();
            (kind, key).hash(&mut h);
            h.finish() & 0xf
        });
        let checked = check_file_with(
            &path,
            Format::Auto,
            Checker::with(&dir, Shard::ALL, tiny, INVALID_IN_MEMORY),
        )
        .unwrap();
        let exact = check_file(&path, Format::Auto, &dir, Shard::ALL).unwrap();
        let mut checked = checked;
        let problems: Vec<String> = std::mem::take(&mut checked.problems)
            .into_sorted()
            .iter()
            .map(ToString::to_string)
            .collect();
        let nobody = record_key(&serde_json::from_str(r#"{"first_name":"Nobody"}"#).unwrap());
        assert_eq!(
            problems,
            [
                r#"line 3001: field `external_id`: external_id "x10" is already used by the record on line 11"#.to_owned(),
                format!(r#"line 4001: same identity ("{nobody}") as the record on line 8"#),
                r#"line 5000: field `email_address[0]`: email address "u0@x.io" is already used by the record on line 1"#.to_owned(),
            ]
        );
        assert_eq!(exact.problems.total(), 3);
        let offsets = |c: &Checked| {
            c.invalid
                .iter()
                .collect::<std::io::Result<Vec<u64>>>()
                .unwrap()
        };
        assert_eq!(offsets(&exact), offsets(&checked));
        assert_eq!(
            (checked.records, checked.valid, checked.in_shard),
            (5000, 4997, 4997)
        );
        // One unkeyed record is left (line 8), the other is a duplicate.
        assert_eq!(
            (checked.unkeyed, checked.unkeyed_lines.clone()),
            (1, vec![8])
        );

        // The pass that sends skips exactly the three, and reads every other record.
        let records = Records::reopen(&path, &checked.layout).unwrap();
        let (mut items, mut invalid) = (Vec::new(), Vec::new());
        for record in accepted(records, &checked, Shard::ALL) {
            match record.unwrap() {
                Accepted::Item(item) => items.push(item.line),
                Accepted::Invalid { index, .. } => invalid.push(index),
            }
        }
        assert_eq!(items.len(), 4997);
        assert_eq!(invalid, [3000, 4000, 4999]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn invalid_records_past_the_memory_bound_are_kept_on_disk_and_all_skipped() {
        let dir = std::env::temp_dir().join(format!("clerk-cli-invalid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // 6,000 records: every third one has a bad email, every seventh repeats the
        // external id of the record before it (some of those are bad as well).
        let mut text = String::new();
        let mut expected = Vec::new();
        for i in 0..6000 {
            let id = if i % 7 == 6 { i - 1 } else { i };
            let email = if i % 3 == 0 {
                "not-an-email".to_owned()
            } else {
                format!("u{i}@x.io")
            };
            text.push_str(&format!(
                "{{\"external_id\":\"x{id}\",\"email_address\":[\"{email}\"]}}\n"
            ));
            if i % 3 == 0 || i % 7 == 6 {
                expected.push(i);
            }
        }
        let path = dir.join("bad.jsonl");
        std::fs::write(&path, text).unwrap();
        let checker = Checker::with(&dir, Shard::ALL, Uniqueness::new(&dir), 100);
        let checked = check_file_with(&path, Format::Auto, checker).unwrap();
        assert_eq!(checked.invalid_records(), expected.len());
        assert_eq!(checked.valid, 6000 - expected.len());
        // 100 offsets in memory, the rest (thousands) in the scratch file.
        assert!(
            checked.invalid.spilled() > 2000,
            "{}",
            checked.invalid.spilled()
        );
        assert!(
            checked.invalid.memory_bytes() <= 2 * 100 * 8,
            "{} bytes",
            checked.invalid.memory_bytes()
        );
        // The pass that sends skips exactly the invalid records, twice over.
        for _ in 0..2 {
            let records = Records::reopen(&path, &checked.layout).unwrap();
            let (mut items, mut invalid) = (0, Vec::new());
            for record in accepted(records, &checked, Shard::ALL) {
                match record.unwrap() {
                    Accepted::Item(_) => items += 1,
                    Accepted::Invalid { index, .. } => invalid.push(index),
                }
            }
            assert_eq!(invalid, expected);
            assert_eq!(items, 6000 - expected.len());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
