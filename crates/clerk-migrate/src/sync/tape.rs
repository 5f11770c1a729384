//! What sync keeps on disk instead of in memory: the source's records (read once
//! from the caller's stream, needed again to diff and to create) and the plan's
//! lists (creates, updates, missing users), each an append-only [scratch
//! file](crate::files::scratch) (owner-only, unlinked at once) of length-prefixed
//! entries, read back one entry at a time. A million-record plan then holds none
//! of its records in memory (nor, with the index in [`index`](super::index), any
//! per-record state).

use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use clerk_core::User;
use serde_json::{Map, Value};

use super::SyncError;
use super::diff::{MetadataMode, UserDiff};
use super::plan::{MissingUser, PlannedCreate, PlannedUpdate};
use crate::files::{Scratch, scratch};
use crate::record::Body;

/// An append-only scratch file: written sequentially, read at offsets.
pub(super) struct Tape {
    scratch: Scratch,
    writer: Option<BufWriter<File>>,
    len: u64,
}

impl fmt::Debug for Tape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tape").field("bytes", &self.len).finish()
    }
}

pub(super) fn spill_error(what: &str, err: impl fmt::Display) -> SyncError {
    SyncError::spill(format!("the sync's scratch file ({what}): {err}"))
}

impl Tape {
    pub(super) fn new(dir: &Path, what: &str) -> Result<Self, SyncError> {
        let scratch = scratch(dir, what).map_err(|e| {
            spill_error(
                what,
                format_args!("cannot create it in {}: {e}", dir.display()),
            )
        })?;
        let file = scratch
            .file()
            .try_clone()
            .map_err(|e| spill_error(what, e))?;
        Ok(Self {
            scratch,
            writer: Some(BufWriter::with_capacity(64 * 1024, file)),
            len: 0,
        })
    }

    /// Appends `parts` as one entry; its offset.
    pub(super) fn push(&mut self, parts: &[&[u8]]) -> Result<u64, SyncError> {
        let at = self.len;
        let size: usize = parts.iter().map(|p| p.len()).sum();
        let size = u32::try_from(size).map_err(|_| spill_error("write", "entry over 4 GiB"))?;
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| spill_error("write", "written after it was sealed"))?;
        writer
            .write_all(&size.to_le_bytes())
            .map_err(|e| spill_error("write", e))?;
        for part in parts {
            writer
                .write_all(part)
                .map_err(|e| spill_error("write", e))?;
        }
        self.len += 4 + u64::from(size);
        Ok(at)
    }

    /// Flushes what was written, so it can be read.
    pub(super) fn flush(&mut self) -> Result<(), SyncError> {
        match &mut self.writer {
            Some(w) => w.flush().map_err(|e| spill_error("write", e)),
            None => Ok(()),
        }
    }

    /// Flushes and stops writing.
    pub(super) fn seal(&mut self) -> Result<(), SyncError> {
        self.flush()?;
        self.writer = None;
        Ok(())
    }

    /// Bytes written.
    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// The entry at `at` (an offset [`Tape::push`] returned), and the next offset.
    pub(super) fn read(&self, at: u64, buf: &mut Vec<u8>) -> Result<u64, SyncError> {
        let mut size = [0u8; 4];
        self.scratch
            .read_exact_at(&mut size, at)
            .map_err(|e| spill_error("read", e))?;
        let size = u32::from_le_bytes(size) as usize;
        buf.clear();
        buf.resize(size, 0);
        self.scratch
            .read_exact_at(buf, at + 4)
            .map_err(|e| spill_error("read", e))?;
        Ok(at + 4 + size as u64)
    }
}

/// Little-endian fields of an entry, read in order.
pub(super) struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Self(bytes)
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], SyncError> {
        if self.0.len() < n {
            return Err(spill_error("read", "a truncated entry"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    pub(super) fn u64(&mut self) -> Result<u64, SyncError> {
        let mut b = [0; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }

    pub(super) fn u32(&mut self) -> Result<u32, SyncError> {
        let mut b = [0; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(b))
    }

    pub(super) fn text(&mut self, n: usize) -> Result<&'a str, SyncError> {
        std::str::from_utf8(self.take(n)?).map_err(|e| spill_error("read", e))
    }

    pub(super) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
}

/// The source's records, kept for the plan (each: its line, key and body).
#[derive(Debug)]
pub(super) struct RecordTape {
    tape: Tape,
}

/// Where a record is on the [`RecordTape`].
#[derive(Clone, Copy, Debug)]
pub(super) struct RecordAt {
    pub(super) offset: u64,
    pub(super) key_len: u32,
}

/// A record read back from the [`RecordTape`].
pub(super) struct StoredRecord {
    pub(super) line: usize,
    pub(super) key: String,
    pub(super) body: Map<String, Value>,
}

impl RecordTape {
    pub(super) fn new(dir: &Path) -> Result<Self, SyncError> {
        Ok(Self {
            tape: Tape::new(dir, "sync-records")?,
        })
    }

    pub(super) fn push(
        &mut self,
        line: usize,
        key: &str,
        body: &str,
    ) -> Result<RecordAt, SyncError> {
        let key_len =
            u32::try_from(key.len()).map_err(|_| spill_error("write", "a key over 4 GiB"))?;
        let offset = self.tape.push(&[
            &(line as u64).to_le_bytes(),
            key.as_bytes(),
            body.as_bytes(),
        ])?;
        Ok(RecordAt { offset, key_len })
    }

    pub(super) fn seal(&mut self) -> Result<(), SyncError> {
        self.tape.seal()
    }

    pub(super) fn flush(&mut self) -> Result<(), SyncError> {
        self.tape.flush()
    }

    /// Whether the record at `at` has the key `key` (its body is not decoded).
    pub(super) fn key_is(
        &self,
        at: RecordAt,
        key: &str,
        buf: &mut Vec<u8>,
    ) -> Result<bool, SyncError> {
        self.tape.read(at.offset, buf)?;
        let mut f = Fields::new(buf);
        f.take(8)?;
        Ok(f.take(at.key_len as usize)? == key.as_bytes())
    }

    /// The line and the key of the record at `at` (its body is not decoded).
    pub(super) fn line_and_key(
        &self,
        at: RecordAt,
        buf: &mut Vec<u8>,
    ) -> Result<(usize, String), SyncError> {
        self.tape.read(at.offset, buf)?;
        let mut f = Fields::new(buf);
        let line = usize::try_from(f.u64()?).unwrap_or(usize::MAX);
        Ok((line, f.text(at.key_len as usize)?.to_owned()))
    }

    /// The key of the record at `at`.
    pub(super) fn key(&self, at: RecordAt, buf: &mut Vec<u8>) -> Result<String, SyncError> {
        self.tape.read(at.offset, buf)?;
        let mut f = Fields::new(buf);
        f.take(8)?;
        Ok(f.text(at.key_len as usize)?.to_owned())
    }

    pub(super) fn get(&self, at: RecordAt) -> Result<StoredRecord, SyncError> {
        let mut buf = Vec::new();
        self.tape.read(at.offset, &mut buf)?;
        let mut f = Fields::new(&buf);
        let line = usize::try_from(f.u64()?).unwrap_or(usize::MAX);
        let key = f.text(at.key_len as usize)?.to_owned();
        let body = match serde_json::from_slice(f.rest()) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(spill_error("read", "a record that is not an object")),
            Err(e) => return Err(spill_error("read", e)),
        };
        Ok(StoredRecord { line, key, body })
    }
}

/// What decoding a planned entry needs besides its bytes.
#[derive(Debug)]
pub(super) struct Context {
    pub(super) records: RecordTape,
    pub(super) diff: DiffRule,
}

/// How a record and a user are diffed (the [`SyncOptions`](super::SyncOptions) it needs).
#[derive(Clone, Copy, Debug)]
pub(super) struct DiffRule {
    pub(super) metadata: MetadataMode,
    pub(super) skip_external_id: bool,
    pub(super) unban_returning: bool,
}

impl DiffRule {
    /// The writes that make `user` equal `record`.
    pub(super) fn diff(&self, record: &Map<String, Value>, user: &User) -> UserDiff {
        let mut diff = super::diff::diff_user(record, user, self.metadata, self.skip_external_id);
        // Sync bans leavers, so a user back in the source is unbanned.
        if self.unban_returning
            && user.banned
            && record.get("banned").and_then(Value::as_bool) != Some(true)
        {
            diff.unban = true;
            diff.changes.push(super::diff::FieldChange {
                field: "banned".to_owned(),
                before: Some(Value::Bool(true)),
                after: Some(Value::Bool(false)),
                secret: false,
            });
        }
        diff
    }
}

/// How an entry of a planned list is read back.
type Decode<T> = fn(&[u8], &Context) -> Result<T, SyncError>;

/// A planned create: `[index][record offset][key length]`.
pub(super) fn encode_create(index: u32, at: RecordAt) -> [u8; 16] {
    let mut out = [0; 16];
    out[..4].copy_from_slice(&index.to_le_bytes());
    out[4..12].copy_from_slice(&at.offset.to_le_bytes());
    out[12..].copy_from_slice(&at.key_len.to_le_bytes());
    out
}

fn decode_at(f: &mut Fields<'_>) -> Result<(usize, RecordAt), SyncError> {
    let index = f.u32()? as usize;
    let offset = f.u64()?;
    let key_len = f.u32()?;
    Ok((index, RecordAt { offset, key_len }))
}

impl PlannedCreate {
    pub(super) fn decode(bytes: &[u8], context: &Context) -> Result<Self, SyncError> {
        let (index, at) = decode_at(&mut Fields::new(bytes))?;
        let record = context.records.get(at)?;
        Ok(PlannedCreate {
            index,
            line: record.line,
            key: record.key,
            body: Body::from_map(record.body),
        })
    }
}

impl PlannedUpdate {
    /// `[create's fields][the user, as JSON]`: the diff is computed again.
    pub(super) fn decode(bytes: &[u8], context: &Context) -> Result<Self, SyncError> {
        let mut f = Fields::new(bytes);
        let (index, at) = decode_at(&mut f)?;
        let user: User = serde_json::from_slice(f.rest()).map_err(|e| spill_error("read", e))?;
        let record = context.records.get(at)?;
        let diff = context.diff.diff(&record.body, &user);
        Ok(PlannedUpdate {
            index,
            line: record.line,
            key: record.key,
            user_id: user.id,
            diff,
        })
    }
}

/// A missing user: `[banned][id length][id][key]` (an empty key: none).
pub(super) fn encode_missing(m: &MissingUser) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + m.user_id.len());
    out.push(u8::from(m.banned) | if m.key.is_some() { 2 } else { 0 });
    out.extend_from_slice(&(m.user_id.len() as u32).to_le_bytes());
    out.extend_from_slice(m.user_id.as_bytes());
    if let Some(key) = &m.key {
        out.extend_from_slice(key.as_bytes());
    }
    out
}

impl MissingUser {
    pub(super) fn decode(bytes: &[u8], _: &Context) -> Result<Self, SyncError> {
        let mut f = Fields::new(bytes);
        let flags = f.take(1)?[0];
        let id_len = f.u32()? as usize;
        let user_id = f.text(id_len)?.to_owned();
        let rest = f.rest();
        let key = if flags & 2 != 0 {
            Some(
                std::str::from_utf8(rest)
                    .map_err(|e| spill_error("read", e))?
                    .to_owned(),
            )
        } else {
            None
        };
        Ok(MissingUser {
            user_id,
            key,
            banned: flags & 1 != 0,
        })
    }
}

/// One list of a [`Plan`](super::Plan) — creates, updates or missing users — kept
/// in a scratch file and read back entry by entry ([`Planned::iter`]), so a plan
/// of a million records does not hold a million records.
pub struct Planned<T> {
    tape: Option<Tape>,
    len: usize,
    context: Arc<Context>,
    decode: Decode<T>,
}

impl<T> fmt::Debug for Planned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Planned")
            .field("len", &self.len)
            .field("bytes", &self.tape.as_ref().map_or(0, Tape::len))
            .finish()
    }
}

impl<T> Planned<T> {
    pub(super) fn new(
        tape: Option<Tape>,
        len: usize,
        context: Arc<Context>,
        decode: Decode<T>,
    ) -> Self {
        Self {
            tape,
            len,
            context,
            decode,
        }
    }

    /// Entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every entry, in order, read from the scratch file one at a time (an error
    /// only if the scratch file cannot be read back).
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            planned: self,
            at: 0,
            left: self.len,
            buf: Vec::new(),
        }
    }

    /// The first `n` entries.
    pub fn first(&self, n: usize) -> Result<Vec<T>, SyncError> {
        self.iter().take(n).collect()
    }
}

impl<'a, T> IntoIterator for &'a Planned<T> {
    type Item = Result<T, SyncError>;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

/// The entries of a [`Planned`] list.
pub struct Iter<'a, T> {
    planned: &'a Planned<T>,
    at: u64,
    left: usize,
    buf: Vec<u8>,
}

impl<T> fmt::Debug for Iter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter").field("left", &self.left).finish()
    }
}

impl<T> Iterator for Iter<'_, T> {
    type Item = Result<T, SyncError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let tape = self.planned.tape.as_ref()?;
        let next = match tape.read(self.at, &mut self.buf) {
            Ok(next) => next,
            Err(e) => {
                self.left = 0;
                return Some(Err(e));
            }
        };
        self.at = next;
        Some((self.planned.decode)(&self.buf, &self.planned.context))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_missing_users_come_back_as_written() {
        let dir = std::env::temp_dir();
        let mut records = RecordTape::new(&dir).unwrap();
        let a = records.push(7, "crm-1", r#"{"external_id":"crm-1","first_name":"Ada"}"#);
        let b = records.push(9, "ü-2", r#"{"external_id":"ü-2"}"#);
        let (a, b) = (a.unwrap(), b.unwrap());
        records.seal().unwrap();
        let mut buf = Vec::new();
        assert!(records.key_is(a, "crm-1", &mut buf).unwrap());
        assert!(!records.key_is(a, "crm-2", &mut buf).unwrap());
        assert_eq!(records.key(b, &mut buf).unwrap(), "ü-2");
        let got = records.get(a).unwrap();
        assert_eq!((got.line, got.key.as_str()), (7, "crm-1"));
        assert_eq!(got.body["first_name"], "Ada");
        // Sealed: no more writes.
        assert!(records.push(1, "x", "{}").unwrap_err().is_spill());

        let context = Arc::new(Context {
            records,
            diff: DiffRule {
                metadata: MetadataMode::Merge,
                skip_external_id: true,
                unban_returning: false,
            },
        });
        let users = [
            MissingUser {
                user_id: "user_1".into(),
                key: Some("crm-9".into()),
                banned: true,
            },
            MissingUser {
                user_id: "user_2".into(),
                key: None,
                banned: false,
            },
            MissingUser {
                user_id: "user_3".into(),
                key: Some(String::new()),
                banned: false,
            },
        ];
        let mut tape = Tape::new(&dir, "test-missing").unwrap();
        for m in &users {
            tape.push(&[&encode_missing(m)]).unwrap();
        }
        tape.seal().unwrap();
        let planned = Planned::new(Some(tape), users.len(), context, MissingUser::decode);
        let back: Vec<MissingUser> = planned.iter().collect::<Result<_, _>>().unwrap();
        assert_eq!(back, users);
        assert_eq!(planned.first(1).unwrap(), users[..1]);
        assert_eq!(planned.iter().size_hint(), (3, Some(3)));
    }
}
