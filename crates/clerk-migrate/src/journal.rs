//! The checkpoint journal: append-only JSON Lines, one line per event of a record,
//! keyed by the record's **identity** ([`Lookup::identity`](crate::record::Lookup::identity):
//! its lookup key, else a content hash), never by its position, so a fixed,
//! reordered or appended input resumes where it stopped.
//!
//! ```text
//! {"journal":"clerk-migrate","version":2}
//! {"key":"x:crm-42","fp":"5c1f…","outcome":"sent","at":1764581000000}
//! {"key":"x:crm-42","fp":"5c1f…","outcome":"created","user_id":"user_2x…"}
//! ```
//!
//! - A `sent` entry is written (and made durable) **before** a create goes out: a
//!   rerun knows which records a killed run may have left in flight, and when.
//! - Every other outcome is made durable (`write_all` + `sync_data`, group-committed
//!   from one thread) before the record counts as done. The last entry of a key wins.
//! - [`open`] takes an OS advisory lock on the file (`File::try_lock`): a second run
//!   on the same checkpoint fails at once instead of creating every record twice.
//! - A file that is not a journal is refused untouched; only a torn last line that
//!   is the start of an entry (a `kill -9` mid-write) is cut off. The directory is
//!   fsync'ed after the journal is created, so the file itself survives a crash.
//!
//! Replay keeps one compact [`State`] per key (outcome, user id, when sent, a
//! 64-bit fingerprint), not the records. [`Outcome`] has room for other jobs
//! (`sync`): `updated`, `deleted`, `banned` are journaled and replayed the same way.

use std::collections::HashMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

/// The first line of every journal.
const HEADER: &str = r#"{"journal":"clerk-migrate","version":2}"#;

/// What happened to one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// A create is about to be sent (written ahead, with [`Entry::at`]).
    Sent,
    /// This run (or an earlier one) created the user.
    Created,
    /// A user agreeing with the record already existed (found by reconciliation).
    AlreadyPresent,
    /// A user holds the record's key or identifiers but disagrees with it; nothing
    /// was changed. A rerun checks again.
    Conflict,
    /// Clerk refused the record, or it kept failing; a rerun tries it again.
    Failed,
    /// A duplicate user of this record was deleted (`--repair`); [`Entry::user_id`]
    /// is the deleted one.
    DeletedDuplicate,
    /// The user was updated (`sync`).
    Updated,
    /// The user was deleted (`sync`).
    Deleted,
    /// The user was banned (`sync`).
    Banned,
    /// An outcome this version does not know (written by a newer one).
    #[serde(other)]
    Unknown,
}

impl Outcome {
    /// Whether a rerun skips the record.
    pub fn is_done(self) -> bool {
        matches!(
            self,
            Self::Created | Self::AlreadyPresent | Self::Updated | Self::Deleted | Self::Banned
        )
    }
}

/// One journal line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The record's identity.
    pub key: String,
    /// The record's [`fingerprint`](crate::record::fingerprint), hex.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub fp: String,
    /// The outcome.
    pub outcome: Outcome,
    /// Unix milliseconds, for [`Outcome::Sent`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<u64>,
    /// The Clerk user id, when one is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The Clerk error code, or what differs for a conflict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

impl Entry {
    /// An entry with only a key and an outcome.
    pub fn new(key: impl Into<String>, outcome: Outcome) -> Self {
        Self {
            key: key.into(),
            fp: String::new(),
            outcome,
            at: None,
            user_id: None,
            code: None,
        }
    }
}

/// What the journal says about one key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    /// The last final outcome (anything but `sent`).
    pub outcome: Option<Outcome>,
    /// The user id of that outcome.
    pub user_id: Option<String>,
    /// When the last create was sent, if no final outcome came after it: the
    /// record may have been created by a run that died.
    pub in_flight_since: Option<u64>,
}

/// The journal as read at start.
#[derive(Debug, Default)]
pub struct Replay {
    /// The state of each key.
    pub states: HashMap<String, State>,
    /// Entries read.
    pub entries: usize,
    /// Bytes of a torn last line that were cut off.
    pub torn_bytes: usize,
}

impl Replay {
    /// Whether a record is done.
    pub fn is_done(&self, key: &str) -> bool {
        self.states
            .get(key)
            .and_then(|s| s.outcome)
            .is_some_and(Outcome::is_done)
    }

    /// When a killed run sent a create for `key` that has no outcome.
    pub fn in_flight_since(&self, key: &str) -> Option<u64> {
        self.states.get(key).and_then(|s| s.in_flight_since)
    }

    fn apply(&mut self, entry: Entry) {
        self.entries += 1;
        let state = self.states.entry(entry.key).or_default();
        match entry.outcome {
            Outcome::Sent => state.in_flight_since = entry.at.or(Some(0)),
            Outcome::DeletedDuplicate => {}
            outcome => {
                state.outcome = Some(outcome);
                state.user_id = entry.user_id;
                state.in_flight_since = None;
            }
        }
    }
}

/// Why a journal could not be opened.
fn refuse(path: &Path, why: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("checkpoint {}: {why}", path.display()),
    )
}

/// Opens the journal at `path` (creating it, with its header, if missing), locks
/// it against other runs, replays it, and returns the writer for this run.
pub fn open(path: &Path) -> io::Result<(Replay, JournalWriter)> {
    let existed = path.exists();
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "checkpoint {} is in use by another run; wait for it to finish \
                     (two runs on one checkpoint would create records twice)",
                    path.display()
                ),
            ));
        }
        Err(TryLockError::Error(err)) => return Err(err),
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let mut replay = Replay::default();
    if bytes.is_empty() {
        file.write_all(HEADER.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_data()?;
        if !existed {
            sync_dir(path)?;
        }
    } else {
        replay = read(path, &bytes)?;
        if replay.torn_bytes > 0 {
            file.set_len((bytes.len() - replay.torn_bytes) as u64)?;
            file.sync_data()?;
        }
    }
    file.seek(SeekFrom::End(0))?;
    Ok((replay, JournalWriter::start(file, path)?))
}

/// Reads a journal's bytes without touching the file.
fn read(path: &Path, bytes: &[u8]) -> io::Result<Replay> {
    let mut lines = bytes.split_inclusive(|b| *b == b'\n');
    let header = lines.next().unwrap_or_default();
    if header.strip_suffix(b"\n") != Some(HEADER.as_bytes()) {
        return Err(refuse(
            path,
            "not a clerk-users checkpoint journal (or one from an older version); \
             it was left untouched: pass another --checkpoint",
        ));
    }
    let mut replay = Replay::default();
    let mut lines = lines.enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        let Some(text) = line.strip_suffix(b"\n") else {
            // The last line, without its newline: a torn write is the start of an entry.
            if lines.peek().is_none() && line.starts_with(b"{\"key\":") {
                replay.torn_bytes = line.len();
                break;
            }
            return Err(refuse(
                path,
                format!("line {} is not a journal entry", i + 2),
            ));
        };
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let entry: Entry = serde_json::from_slice(text)
            .map_err(|err| refuse(path, format!("damaged at line {}: {err}", i + 2)))?;
        replay.apply(entry);
    }
    Ok(replay)
}

fn sync_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

type Job = (Entry, oneshot::Sender<io::Result<()>>);

/// Appends entries durably from a dedicated thread. Concurrent appends are
/// group-committed: one `write_all` and one `sync_data` for every entry that
/// arrived meanwhile, and each caller learns when its own entry is on disk.
/// Holds the journal's lock until dropped.
#[derive(Debug)]
pub struct JournalWriter {
    tx: Option<mpsc::Sender<Job>>,
    thread: Option<thread::JoinHandle<()>>,
    path: PathBuf,
}

impl JournalWriter {
    fn start(file: File, path: &Path) -> io::Result<Self> {
        let (tx, rx) = mpsc::channel::<Job>();
        let thread = thread::Builder::new()
            .name("clerk-journal".into())
            .spawn(move || writer_loop(file, &rx))?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
            path: path.to_owned(),
        })
    }

    /// Appends one entry; returns once it is on disk.
    pub async fn append(&self, entry: Entry) -> io::Result<()> {
        let (done, wait) = oneshot::channel();
        let closed = || {
            io::Error::other(format!(
                "checkpoint writer for {} stopped",
                self.path.display()
            ))
        };
        self.tx
            .as_ref()
            .ok_or_else(closed)?
            .send((entry, done))
            .map_err(|_| closed())?;
        wait.await.map_err(|_| closed())?
    }

    /// Where the journal is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for JournalWriter {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(thread) = self.thread.take() {
            // The writer only exits once every queued entry was written.
            let _ = thread.join();
        }
    }
}

fn writer_loop(mut file: File, rx: &mpsc::Receiver<Job>) {
    let mut buffer = Vec::with_capacity(64 * 1024);
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        buffer.clear();
        for (entry, _) in &batch {
            // Serializing this plain struct cannot fail.
            if serde_json::to_writer(&mut buffer, entry).is_ok() {
                buffer.push(b'\n');
            }
        }
        let result = file.write_all(&buffer).and_then(|()| file.sync_data());
        for (_, done) in batch {
            let _ = done.send(match &result {
                Ok(()) => Ok(()),
                Err(err) => Err(io::Error::new(
                    err.kind(),
                    format!("writing the checkpoint: {err}"),
                )),
            });
        }
    }
    // The lock goes with the file.
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("clerk-migrate-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).ok();
        dir.join("checkpoint.jsonl")
    }

    fn entry(i: usize, outcome: Outcome) -> Entry {
        Entry {
            user_id: Some(format!("user_{i}")),
            at: (outcome == Outcome::Sent).then_some(1000 + i as u64),
            ..Entry::new(format!("x:k{i}"), outcome)
        }
    }

    #[tokio::test]
    async fn entries_survive_a_reopen_and_the_last_one_wins() {
        let path = temp_path("reopen");
        {
            let (_, writer) = open(&path).unwrap();
            let appends = (0..50).map(|i| writer.append(entry(i, Outcome::Created)));
            for result in futures_util::future::join_all(appends).await {
                result.unwrap();
            }
            writer.append(entry(7, Outcome::Failed)).await.unwrap();
            writer.append(entry(60, Outcome::Sent)).await.unwrap();
        }
        let (replay, _writer) = open(&path).unwrap();
        assert_eq!(replay.entries, 52);
        assert!(!replay.is_done("x:k7") && replay.is_done("x:k3"));
        assert_eq!(replay.states["x:k3"].user_id.as_deref(), Some("user_3"));
        assert_eq!(replay.in_flight_since("x:k60"), Some(1060));
        assert_eq!(replay.in_flight_since("x:k3"), None);
    }

    #[tokio::test]
    async fn a_second_run_on_the_same_checkpoint_is_refused() {
        let path = temp_path("lock");
        let (_, writer) = open(&path).unwrap();
        let err = open(&path).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert!(err.to_string().contains("in use by another run"), "{err}");
        drop(writer);
        open(&path).expect("free again once the first run is over");
    }

    #[tokio::test]
    async fn a_torn_entry_is_cut_off_and_appends_continue_cleanly() {
        let path = temp_path("torn");
        {
            let (_, writer) = open(&path).unwrap();
            writer.append(entry(0, Outcome::Created)).await.unwrap();
        }
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(br#"{"key":"x:k1","outc"#).unwrap();
        drop(file);
        {
            let (replay, writer) = open(&path).unwrap();
            assert_eq!((replay.entries, replay.torn_bytes > 0), (1, true));
            writer
                .append(entry(1, Outcome::AlreadyPresent))
                .await
                .unwrap();
        }
        let (replay, _w) = open(&path).unwrap();
        assert_eq!((replay.entries, replay.torn_bytes), (2, 0));
        assert!(replay.is_done("x:k1"));
    }

    #[test]
    fn a_file_that_is_not_a_journal_is_refused_and_left_untouched() {
        let path = temp_path("foreign");
        for text in [
            "my precious notes, no newline",
            "a\nb\n",
            "{\"record\":0,\"key\":\"a\",\"outcome\":\"created\"}\n",
        ] {
            std::fs::write(&path, text).unwrap();
            let err = open(&path).unwrap_err();
            assert!(
                err.to_string().contains("not a clerk-users checkpoint"),
                "{err}"
            );
            assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        }
        let garbage_tail =
            format!("{HEADER}\n{{\"key\":\"x:a\",\"outcome\":\"created\"}}\nnot an entry");
        std::fs::write(&path, &garbage_tail).unwrap();
        assert!(open(&path).unwrap_err().to_string().contains("line 3"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), garbage_tail);
        let damaged = format!("{HEADER}\ngarbage\n{{\"key\":\"x:a\",\"outcome\":\"created\"}}\n");
        std::fs::write(&path, &damaged).unwrap();
        assert!(open(&path).unwrap_err().to_string().contains("line 2"));
    }

    #[test]
    fn unknown_outcomes_from_a_newer_version_are_tolerated() {
        let path = temp_path("newer");
        std::fs::write(
            &path,
            format!("{HEADER}\n{{\"key\":\"x:a\",\"outcome\":\"merged\",\"extra\":1}}\n"),
        )
        .unwrap();
        let (replay, _w) = open(&path).unwrap();
        assert_eq!(replay.states["x:a"].outcome, Some(Outcome::Unknown));
        assert!(!replay.is_done("x:a"));
    }
}
