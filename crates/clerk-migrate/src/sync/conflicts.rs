//! The records a plan leaves alone, kept on disk like the plan's other lists: a
//! source whose every record lacks the match key (a wrong column) is a conflict a
//! record, and must not cost memory a record. They are found out of order
//! (duplicates in the order of the keys' hashes) and listed by line: an external
//! sort by `(line, order found)` puts them in order.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::SyncError;
use super::index::SORT_RUN;
use super::plan::Conflict;
use super::tape::{Context, Fields, Planned, Tape, spill_error};
use crate::spill::Sorter;

/// The conflicts found so far.
pub(super) struct Conflicts {
    dir: PathBuf,
    /// Encoded conflicts, in the order found.
    found: Tape,
    /// `(line, offset on found)`.
    by_line: Sorter<[u64; 2]>,
    len: usize,
    without_key: usize,
}

impl Conflicts {
    pub(super) fn new(dir: &Path) -> Result<Self, SyncError> {
        Ok(Self {
            dir: dir.to_owned(),
            found: Tape::new(dir, "sync-conflicts-found")?,
            by_line: Sorter::new(dir, SORT_RUN),
            len: 0,
            without_key: 0,
        })
    }

    pub(super) fn push(&mut self, conflict: &Conflict) -> Result<(), SyncError> {
        let offset = self.found.push(&[&encode(conflict)])?;
        self.by_line
            .push([conflict.line as u64, offset])
            .map_err(|e| spill_error("sort", e))?;
        self.len += 1;
        self.without_key += usize::from(conflict.key.is_none());
        Ok(())
    }

    /// Conflicts of records without the match key.
    pub(super) fn without_key(&self) -> usize {
        self.without_key
    }

    /// The conflicts by line (those of one line in the order found).
    pub(super) fn finish(mut self, context: Arc<Context>) -> Result<Planned<Conflict>, SyncError> {
        self.found.flush()?;
        let mut sorted = Tape::new(&self.dir, "sync-conflicts")?;
        let mut buf = Vec::new();
        for entry in self.by_line.finish().map_err(|e| spill_error("sort", e))? {
            let [_, offset] = entry.map_err(|e| spill_error("sort", e))?;
            self.found.read(offset, &mut buf)?;
            sorted.push(&[&buf])?;
        }
        sorted.seal()?;
        Ok(Planned::new(
            Some(sorted),
            self.len,
            context,
            Conflict::decode,
        ))
    }
}

/// `[has a key][line][key length][key][message]`.
fn encode(c: &Conflict) -> Vec<u8> {
    let key = c.key.as_deref().unwrap_or("");
    let mut out = Vec::with_capacity(13 + key.len() + c.message.len());
    out.push(u8::from(c.key.is_some()));
    out.extend_from_slice(&(c.line as u64).to_le_bytes());
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(c.message.as_bytes());
    out
}

impl Conflict {
    pub(super) fn decode(bytes: &[u8], _: &Context) -> Result<Self, SyncError> {
        let mut f = Fields::new(bytes);
        let has_key = f.take(1)?[0] != 0;
        let line = usize::try_from(f.u64()?).unwrap_or(usize::MAX);
        let key_len = f.u32()? as usize;
        let key = f.text(key_len)?.to_owned();
        let message = std::str::from_utf8(f.rest())
            .map_err(|e| spill_error("read", e))?
            .to_owned();
        Ok(Conflict {
            line,
            key: has_key.then_some(key),
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::diff::MetadataMode;
    use crate::sync::tape::{DiffRule, RecordTape};

    #[test]
    fn conflicts_come_back_by_line_in_the_order_found() {
        let dir = std::env::temp_dir();
        let mut conflicts = Conflicts {
            by_line: Sorter::new(&dir, 2),
            ..Conflicts::new(&dir).unwrap()
        };
        let conflict = |line, key: Option<&str>, message: &str| Conflict {
            line,
            key: key.map(str::to_owned),
            message: message.to_owned(),
        };
        let found = [
            conflict(9, Some("crm-1"), "also line 2"),
            conflict(3, None, "no key"),
            conflict(9, Some(""), "second on line 9"),
            conflict(1, Some("ü"), "ambiguous"),
        ];
        for c in &found {
            conflicts.push(c).unwrap();
        }
        assert_eq!(conflicts.without_key(), 1);
        let context = Arc::new(Context {
            records: RecordTape::new(&dir).unwrap(),
            diff: DiffRule {
                metadata: MetadataMode::Merge,
                skip_external_id: true,
                unban_returning: false,
            },
        });
        let planned = conflicts.finish(context).unwrap();
        let back: Vec<Conflict> = planned.iter().collect::<Result<_, _>>().unwrap();
        let expected = [&found[3], &found[1], &found[0], &found[2]];
        assert_eq!(back.iter().collect::<Vec<_>>(), expected);
    }
}
