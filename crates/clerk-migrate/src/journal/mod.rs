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
//! Replay reads the journal line by line and keeps one compact [`State`] per key
//! (a 16-byte digest of the key, the outcome, when sent, the key's text to compare
//! on a digest match: see [`Replay`]), not the entries; a journal
//! of more than 262,144 keys is folded into a sorted table in a scratch file next to
//! it, so replaying 5 million keys takes the memory of replaying 262,144. [`Outcome`] has room for other jobs
//! (`sync`): `updated`, `deleted`, `banned` are journaled and replayed the same way.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, BufRead, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

mod replay;

pub use replay::Replay;
use replay::{Folder, REPLAY_CHUNK_KEYS};

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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct State {
    /// The last final outcome (anything but `sent`).
    pub outcome: Option<Outcome>,
    /// When the last create was sent, if no final outcome came after it: the
    /// record may have been created by a run that died.
    pub in_flight_since: Option<u64>,
}

impl State {
    /// The state after `later` (the fold of a later stretch of the journal).
    fn then(self, later: Self) -> Self {
        match later.outcome {
            Some(_) => later,
            None => Self {
                outcome: self.outcome,
                in_flight_since: later.in_flight_since.or(self.in_flight_since),
            },
        }
    }

    fn apply(&mut self, entry: &Entry) {
        match entry.outcome {
            Outcome::Sent => self.in_flight_since = entry.at.or(Some(0)),
            Outcome::DeletedDuplicate => {}
            outcome => {
                self.outcome = Some(outcome);
                self.in_flight_since = None;
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
    let len = file.metadata()?.len();
    let mut replay = Replay::default();
    if len == 0 {
        file.write_all(HEADER.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_data()?;
        if !existed {
            sync_dir(path)?;
        }
    } else {
        replay = read(path, &file)?;
        if replay.torn_bytes > 0 {
            file.set_len(len - replay.torn_bytes as u64)?;
            file.sync_data()?;
        }
    }
    // A journal an older run left readable by others (it names every record's key) is
    // narrowed now that it is known to be one; `mode` above covers only a new file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.seek(SeekFrom::End(0))?;
    Ok((replay, JournalWriter::start(file, path)?))
}

/// Reads a journal line by line, without touching the file; the scratch file of a
/// long journal's table goes next to it.
fn read(path: &Path, file: &File) -> io::Result<Replay> {
    read_folding(path, file, REPLAY_CHUNK_KEYS, replay::key_digest)
}

/// [`read`] with a chunk size and a key digest of one's choosing (tests spill and
/// force digest collisions).
fn read_folding(
    path: &Path,
    file: &File,
    chunk_keys: usize,
    digest: replay::DigestFn,
) -> io::Result<Replay> {
    let mut reader = io::BufReader::with_capacity(64 * 1024, file);
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line)?;
    if line.strip_suffix(b"\n") != Some(HEADER.as_bytes()) {
        return Err(refuse(
            path,
            "not a clerk-users checkpoint journal (or one from an older version); \
             it was left untouched: pass another --checkpoint",
        ));
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut folder = Folder::new(dir, chunk_keys, digest);
    let (mut entries, mut torn_bytes) = (0, 0);
    for number in 2.. {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let Some(text) = line.strip_suffix(b"\n") else {
            // The last line, without its newline: a torn write is the start of an entry.
            if line.starts_with(b"{\"key\":") {
                torn_bytes = line.len();
                break;
            }
            return Err(refuse(
                path,
                format!("line {number} is not a journal entry"),
            ));
        };
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let entry: Entry = serde_json::from_slice(text)
            .map_err(|err| refuse(path, format!("damaged at line {number}: {err}")))?;
        entries += 1;
        folder
            .apply(&entry)
            .map_err(|err| refuse(path, format!("line {number}: {err}")))?;
    }
    let mut replay = folder.finish()?;
    replay.entries = entries;
    replay.torn_bytes = torn_bytes;
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

    #[cfg(unix)]
    #[test]
    fn a_journal_left_readable_by_others_is_narrowed_and_a_foreign_file_is_not() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let wide =
            |p: &Path| std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let path = temp_path("narrowed");
        drop(open(&path).unwrap());
        wide(&path);
        drop(open(&path).unwrap());
        assert_eq!(mode(&path), 0o600, "an existing journal");
        let empty = path.with_file_name("empty.jsonl");
        std::fs::write(&empty, "").unwrap();
        wide(&empty);
        drop(open(&empty).unwrap());
        assert_eq!(mode(&empty), 0o600, "an empty file made a journal");
        let notes = path.with_file_name("notes.txt");
        std::fs::write(&notes, "notes\n").unwrap();
        wide(&notes);
        assert!(open(&notes).is_err());
        assert_eq!(mode(&notes), 0o644, "a refused file is left untouched");
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
        assert!(!replay.is_done("x:k7").unwrap() && replay.is_done("x:k3").unwrap());
        assert_eq!(replay.in_flight_since("x:k60").unwrap(), Some(1060));
        assert_eq!(replay.in_flight_since("x:k3").unwrap(), None);
        assert_eq!((replay.in_flight, replay.latest_in_flight), (1, Some(1060)));
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
        assert!(replay.is_done("x:k1").unwrap());
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
        assert_eq!(
            replay.state("x:a").unwrap().and_then(|s| s.outcome),
            Some(Outcome::Unknown)
        );
        assert!(!replay.is_done("x:a").unwrap());
    }

    #[test]
    fn a_long_journal_replays_from_a_table_on_disk_with_the_same_states() {
        let path = temp_path("long");
        let mut text = format!("{HEADER}\n");
        let keys = 3000;
        // Each key's entries are spread over the journal (and so over the folded
        // chunks): sent, then an outcome much later, some resent after a failure.
        for round in 0..3 {
            for k in 0..keys {
                let outcome = match (round, k % 5) {
                    (0, _) => "sent",
                    (1, 0) => "failed",
                    (1, 1) => "deleted_duplicate",
                    (1, _) => "created",
                    (2, 0) => "sent",
                    (2, 4) => "already_present",
                    _ => continue,
                };
                text.push_str(&format!(
                    "{{\"key\":\"x:k{k}\",\"outcome\":\"{outcome}\",\"at\":{}}}\n",
                    100 * round + k
                ));
            }
        }
        std::fs::write(&path, &text).unwrap();
        let file = File::open(&path).unwrap();
        let memory = read_folding(&path, &file, usize::MAX, replay::key_digest).unwrap();
        let file = File::open(&path).unwrap();
        let disk = read_folding(&path, &file, 100, replay::key_digest).unwrap();
        assert!(!memory.on_disk() && disk.on_disk());
        assert_eq!((memory.keys(), disk.keys()), (keys as u64, keys as u64));
        assert_eq!(
            (memory.in_flight, memory.latest_in_flight),
            (disk.in_flight, disk.latest_in_flight)
        );
        for k in 0..keys {
            let key = format!("x:k{k}");
            let state = disk.state(&key).unwrap();
            assert_eq!(state, memory.state(&key).unwrap(), "{key}");
            let expected = match k % 5 {
                0 => (Some(Outcome::Failed), Some(200 + k as u64)),
                1 => (None, Some(k as u64)),
                4 => (Some(Outcome::AlreadyPresent), None),
                _ => (Some(Outcome::Created), None),
            };
            let state = state.unwrap();
            assert_eq!((state.outcome, state.in_flight_since), expected, "{key}");
        }
        assert_eq!(disk.state("x:absent").unwrap(), None);
        assert_eq!(disk.state("x:k").unwrap(), None);
    }

    /// A digest with two values: every other key collides with every other.
    fn two_digests(key: &str) -> u128 {
        (key.len() % 2) as u128
    }

    #[test]
    fn keys_whose_digests_collide_are_never_taken_for_one_another() {
        let path = temp_path("collide");
        let mut text = format!("{HEADER}\n");
        // Two keys, one digest: one created, the other failed after it.
        text.push_str("{\"key\":\"x:a\",\"outcome\":\"sent\",\"at\":5}\n");
        text.push_str("{\"key\":\"x:a\",\"outcome\":\"created\"}\n");
        text.push_str("{\"key\":\"x:b\",\"outcome\":\"sent\",\"at\":7}\n");
        text.push_str("{\"key\":\"x:b\",\"outcome\":\"failed\"}\n");
        // Then 1,000 keys spread over the journal (and the spilled chunks), sent in
        // one round and settled two rounds later, some left in flight.
        let keys = 1000;
        for round in 0..3 {
            for k in 0..keys {
                let outcome = match (round, k % 4) {
                    (0, _) => "sent",
                    (2, 0) => "failed",
                    (2, 1) => continue,
                    (2, 2) => "already_present",
                    (2, _) => "created",
                    _ => continue,
                };
                text.push_str(&format!(
                    "{{\"key\":\"x:k{k}\",\"outcome\":\"{outcome}\",\"at\":{k}}}\n"
                ));
            }
        }
        std::fs::write(&path, &text).unwrap();
        let file = File::open(&path).unwrap();
        let exact = read_folding(&path, &file, usize::MAX, replay::key_digest).unwrap();
        assert_eq!(exact.collided_keys(), 0);
        for chunk_keys in [usize::MAX, 7] {
            let file = File::open(&path).unwrap();
            let replay = read_folding(&path, &file, chunk_keys, two_digests).unwrap();
            assert!(replay.is_done("x:a").unwrap(), "chunks of {chunk_keys}");
            assert!(!replay.is_done("x:b").unwrap(), "chunks of {chunk_keys}");
            assert_eq!(
                replay.state("x:b").unwrap().and_then(|s| s.outcome),
                Some(Outcome::Failed)
            );
            for k in 0..keys {
                let key = format!("x:k{k}");
                assert_eq!(
                    replay.state(&key).unwrap(),
                    exact.state(&key).unwrap(),
                    "{key}, chunks of {chunk_keys}"
                );
            }
            // Keys the journal never saw share a digest with a thousand it did.
            for absent in ["x:c", "x:cd", "x:k1000", "x:k10000"] {
                assert_eq!(replay.state(absent).unwrap(), None, "{absent}");
            }
            assert_eq!(replay.keys(), exact.keys());
            assert_eq!(
                (replay.in_flight, replay.latest_in_flight),
                (exact.in_flight, exact.latest_in_flight)
            );
            assert!(replay.collided_keys() > 900, "{}", replay.collided_keys());
        }
    }

    #[test]
    fn a_digest_shared_by_two_keys_from_two_chunks_keeps_both_apart() {
        // `x:NN` and `y:NN` share a digest. Every `x` is spilled before the first
        // `y` is read (the collisions are found merging the chunks on disk); a last
        // round interleaves them (found within a chunk).
        fn pairs(key: &str) -> u128 {
            replay::key_digest(key.get(2..).unwrap_or(key))
        }
        let path = temp_path("collide-merge");
        let mut text = format!("{HEADER}\n");
        let mut line = |key: String, outcome: &str, at: usize| {
            text.push_str(&format!(
                "{{\"key\":\"{key}\",\"outcome\":\"{outcome}\",\"at\":{at}}}\n"
            ));
        };
        for k in 0..40 {
            line(format!("x:{k:02}"), "sent", k);
        }
        for k in 0..40 {
            line(format!("y:{k:02}"), "sent", 100 + k);
        }
        for k in 0..40 {
            if k % 3 != 0 {
                line(format!("x:{k:02}"), "created", 0);
            }
            if k % 2 == 0 {
                line(format!("y:{k:02}"), "failed", 0);
            }
            if k % 5 == 0 {
                line(format!("x:{k:02}"), "sent", 200 + k);
                line(format!("y:{k:02}"), "already_present", 0);
            }
        }
        std::fs::write(&path, &text).unwrap();
        for chunk_keys in [5, usize::MAX] {
            let file = File::open(&path).unwrap();
            let exact = read_folding(&path, &file, chunk_keys, replay::key_digest).unwrap();
            let file = File::open(&path).unwrap();
            let paired = read_folding(&path, &file, chunk_keys, pairs).unwrap();
            assert_eq!(paired.on_disk(), chunk_keys == 5);
            for k in 0..40 {
                for key in [format!("x:{k:02}"), format!("y:{k:02}")] {
                    assert_eq!(
                        paired.state(&key).unwrap(),
                        exact.state(&key).unwrap(),
                        "{key}, chunks of {chunk_keys}"
                    );
                }
                let x = paired.state(&format!("x:{k:02}")).unwrap().unwrap();
                assert_eq!(x.outcome.is_some(), k % 3 != 0, "x:{k:02}");
                let y = paired.state(&format!("y:{k:02}")).unwrap().unwrap();
                assert_eq!(y.in_flight_since.is_some(), k % 2 != 0 && k % 5 != 0);
            }
            assert_eq!(paired.state("z:00").unwrap(), None);
            assert_eq!(
                (paired.keys(), paired.in_flight, paired.latest_in_flight),
                (exact.keys(), exact.in_flight, exact.latest_in_flight)
            );
            assert_eq!(paired.collided_keys(), 80);
        }
    }
}
