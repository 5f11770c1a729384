//! The checkpoint journal of `import`: append-only JSON Lines, one line per record
//! outcome, each made durable (`write_all` + `sync_data`) before the record counts
//! as done. A rerun reads it back (a torn last line from `kill -9` is cut off) and
//! skips the records it lists as created or already present.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

/// What happened to one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// This run (or an earlier one) created the user.
    Created,
    /// A user with the record's key already existed (found by reconciliation).
    AlreadyPresent,
    /// Clerk refused the record, or it kept failing; a rerun tries it again.
    Failed,
}

impl Outcome {
    /// Whether a rerun skips the record.
    pub fn is_done(self) -> bool {
        matches!(self, Self::Created | Self::AlreadyPresent)
    }
}

/// One journal line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Index of the record in the input.
    pub record: usize,
    /// The record's stable key ([`crate::record::record_key`]); a rerun checks it against the input.
    pub key: String,
    /// The outcome.
    pub outcome: Outcome,
    /// The Clerk user id, when one is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The Clerk error code (or error type) of a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// The journal as read at start.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The last entry of each record.
    pub entries: HashMap<usize, Entry>,
    /// Complete lines read.
    pub lines: usize,
    /// Bytes of a torn last line that were cut off.
    pub torn_bytes: usize,
}

impl Loaded {
    /// Whether the journal held anything: the previous run may have left records in flight.
    pub fn is_rerun(&self) -> bool {
        self.lines > 0 || self.torn_bytes > 0
    }
}

/// Reads the journal at `path` (a missing file is an empty journal) and cuts off a
/// torn last line, so the next append starts on a line of its own.
pub fn load(path: &Path) -> io::Result<Loaded> {
    let mut file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Loaded::default()),
        Err(err) => return Err(err),
    };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let mut loaded = Loaded {
        torn_bytes: bytes.len() - complete,
        ..Loaded::default()
    };
    for (i, line) in bytes[..complete].split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let entry: Entry = serde_json::from_slice(line).map_err(|err| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "checkpoint {} is damaged at line {}: {err}",
                    path.display(),
                    i + 1
                ),
            )
        })?;
        loaded.lines += 1;
        loaded.entries.insert(entry.record, entry);
    }
    if loaded.torn_bytes > 0 {
        file.set_len(complete as u64)?;
        file.seek(SeekFrom::End(0))?;
        file.sync_data()?;
    }
    Ok(loaded)
}

type Job = (Entry, oneshot::Sender<io::Result<()>>);

/// Appends entries durably from a dedicated thread. Concurrent appends are
/// group-committed: one `write_all` and one `sync_data` for every entry that
/// arrived meanwhile, and each caller learns when its own entry is on disk.
#[derive(Debug)]
pub struct JournalWriter {
    tx: Option<mpsc::Sender<Job>>,
    thread: Option<thread::JoinHandle<()>>,
    path: PathBuf,
}

impl JournalWriter {
    /// Opens (creating it if needed) the journal for appending.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = crate::files::append_private(path)?;
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

    fn entry(record: usize, outcome: Outcome) -> Entry {
        Entry {
            record,
            key: format!("k{record}"),
            outcome,
            user_id: Some(format!("user_{record}")),
            code: None,
        }
    }

    #[tokio::test]
    async fn entries_survive_a_reopen_and_the_last_one_wins() {
        let path = temp_path("reopen");
        {
            let writer = JournalWriter::open(&path).unwrap();
            let appends = (0..50).map(|i| writer.append(entry(i, Outcome::Created)));
            for result in futures_util::future::join_all(appends).await {
                result.unwrap();
            }
            writer.append(entry(7, Outcome::Failed)).await.unwrap();
        }
        let loaded = load(&path).unwrap();
        assert_eq!(loaded.lines, 51);
        assert!(loaded.is_rerun());
        assert_eq!(loaded.entries.len(), 50);
        assert_eq!(loaded.entries[&7].outcome, Outcome::Failed);
        assert!(!loaded.entries[&7].outcome.is_done());
        assert_eq!(loaded.entries[&3].user_id.as_deref(), Some("user_3"));
    }

    #[tokio::test]
    async fn a_torn_last_line_is_cut_off_and_appends_continue_cleanly() {
        let path = temp_path("torn");
        {
            let writer = JournalWriter::open(&path).unwrap();
            writer.append(entry(0, Outcome::Created)).await.unwrap();
        }
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(br#"{"record":1,"key":"k1","outc"#).unwrap();
        drop(file);
        let loaded = load(&path).unwrap();
        assert_eq!((loaded.lines, loaded.torn_bytes > 0), (1, true));
        {
            let writer = JournalWriter::open(&path).unwrap();
            writer
                .append(entry(1, Outcome::AlreadyPresent))
                .await
                .unwrap();
        }
        let loaded = load(&path).unwrap();
        assert_eq!((loaded.lines, loaded.torn_bytes), (2, 0));
        assert_eq!(loaded.entries[&1].outcome, Outcome::AlreadyPresent);
    }

    #[test]
    fn a_damaged_middle_line_is_an_error_naming_the_line() {
        let path = temp_path("damaged");
        std::fs::write(&path, "{\"record\":0,\"key\":\"a\",\"outcome\":\"created\"}\ngarbage\n{\"record\":1,\"key\":\"b\",\"outcome\":\"created\"}\n").unwrap();
        let err = load(&path).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        assert!(
            load(&path.with_file_name("missing.jsonl"))
                .unwrap()
                .entries
                .is_empty()
        );
    }
}
