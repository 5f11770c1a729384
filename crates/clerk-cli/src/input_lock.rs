//! The input file's lock: one import of a file at a time, whatever its checkpoint.
//!
//! The checkpoint's lock stops two runs on one checkpoint; two runs of one file with
//! different checkpoints (`--checkpoint other`) would each create every record. So
//! `import` also takes an OS advisory lock (`File::try_lock`, `flock` on Unix) on the
//! input file for the whole run: exclusive for a whole-file run, shared for a shard
//! (the N shards of one file run side by side, but not beside a whole-file run). The
//! lock is advisory: it stops other `clerk-users import` runs, not an editor.

use std::fs::{File, TryLockError};
use std::path::Path;

/// Locks `path` for this run (shared if `shared`); the lock lasts as long as the file.
pub(crate) fn lock(path: &Path, shared: bool) -> Result<File, String> {
    let file = File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let taken = if shared {
        file.try_lock_shared()
    } else {
        file.try_lock()
    };
    match taken {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(format!(
            "{} is in use by another run{}; wait for it to finish (two imports of one file \
             with different checkpoints would create records twice)",
            path.display(),
            holder(&file).map_or_else(String::new, |h| format!(" ({h})"))
        )),
        Err(TryLockError::Error(e)) => Err(format!("cannot lock {}: {e}", path.display())),
    }
}

/// Which process holds the lock on `file`, and with which checkpoint, where the OS
/// says (Linux: `/proc/locks`). Its command line is not printed whole: it may hold
/// a secret key.
#[cfg(target_os = "linux")]
fn holder(file: &File) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata().ok()?;
    let dev = meta.dev();
    let (major, minor) = (
        ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff),
        (dev & 0xff) | ((dev >> 12) & !0xff),
    );
    let wanted = format!("{major:02x}:{minor:02x}:{}", meta.ino());
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    let me = std::process::id().to_string();
    let pid = locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // "1: FLOCK  ADVISORY  WRITE 4242 08:01:1234 0 EOF" ("->" marks a waiter).
        let at = fields.iter().position(|f| *f == "FLOCK")?;
        (fields.get(at + 4) == Some(&wanted.as_str()) && fields.get(at + 3) != Some(&me.as_str()))
            .then(|| fields.get(at + 3).map(|p| (*p).to_owned()))
            .flatten()
    })?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let checkpoint = args.iter().enumerate().find_map(|(i, a)| {
        a.strip_prefix("--checkpoint=")
            .map(str::to_owned)
            .or_else(|| {
                (a == "--checkpoint")
                    .then(|| args.get(i + 1).cloned())
                    .flatten()
            })
    });
    Some(match checkpoint {
        Some(c) => format!("process {pid}, --checkpoint {c}"),
        None if args.is_empty() => format!("process {pid}"),
        None => format!("process {pid}, its default checkpoint"),
    })
}

#[cfg(not(target_os = "linux"))]
fn holder(_file: &File) -> Option<String> {
    None
}
