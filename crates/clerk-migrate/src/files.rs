//! Files holding users' data (failed records with their passwords and digests,
//! checkpoint journals, exports) are readable by their owner only: created `0600`,
//! and brought back to `0600` when they already existed with wider permissions.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Creates or truncates `path` for writing, readable by its owner only.
pub fn create_private(path: &Path) -> io::Result<File> {
    private(
        OpenOptions::new().write(true).create(true).truncate(true),
        path,
    )
}

/// Opens `path` for appending (creating it), readable by its owner only.
pub fn append_private(path: &Path) -> io::Result<File> {
    private(OpenOptions::new().create(true).append(true), path)
}

/// A scratch file in `dir` (a sort spilled to disk, records kept for a later pass),
/// readable by its owner only and gone when dropped: on Unix it is unlinked as soon
/// as it is created, so not even a `kill -9` leaves it behind.
pub fn scratch(dir: &Path, what: &str) -> io::Result<Scratch> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        ".clerk-{what}-{}-{}.tmp",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let path = dir.join(name);
    let file = private(
        OpenOptions::new().read(true).write(true).create_new(true),
        &path,
    )?;
    #[cfg(unix)]
    {
        std::fs::remove_file(&path)?;
        Ok(Scratch { file })
    }
    #[cfg(not(unix))]
    Ok(Scratch { file, path })
}

/// A scratch file from [`scratch`]: removed when dropped.
#[derive(Debug)]
pub struct Scratch {
    file: File,
    #[cfg(not(unix))]
    path: std::path::PathBuf,
}

impl Scratch {
    /// The open file (read and write).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Reads exactly `buf.len()` bytes at `offset`, leaving the file position alone.
    pub fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        #[cfg(unix)]
        {
            std::os::unix::fs::FileExt::read_exact_at(&self.file, buf, offset)
        }
        #[cfg(windows)]
        {
            let (mut buf, mut offset) = (buf, offset);
            while !buf.is_empty() {
                match std::os::windows::fs::FileExt::seek_read(&self.file, buf, offset)? {
                    0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                    n => {
                        buf = &mut buf[n..];
                        offset += n as u64;
                    }
                }
            }
            Ok(())
        }
        #[cfg(not(any(unix, windows)))]
        {
            let _ = (buf, offset);
            Err(io::ErrorKind::Unsupported.into())
        }
    }
}

impl Scratch {
    /// Writes all of `buf` at `offset`, leaving the file position alone (a record
    /// rewritten in place).
    pub fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        #[cfg(unix)]
        {
            std::os::unix::fs::FileExt::write_all_at(&self.file, buf, offset)
        }
        #[cfg(windows)]
        {
            let (mut buf, mut offset) = (buf, offset);
            while !buf.is_empty() {
                match std::os::windows::fs::FileExt::seek_write(&self.file, buf, offset)? {
                    0 => return Err(io::ErrorKind::WriteZero.into()),
                    n => {
                        buf = &buf[n..];
                        offset += n as u64;
                    }
                }
            }
            Ok(())
        }
        #[cfg(not(any(unix, windows)))]
        {
            let _ = (buf, offset);
            Err(io::ErrorKind::Unsupported.into())
        }
    }
}

#[cfg(not(unix))]
impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn private(options: &mut OpenOptions, path: &Path) -> io::Result<File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let file = options.mode(0o600).open(path)?;
        // `mode` only applies to a file this call creates.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        Ok(file)
    }
    #[cfg(not(unix))]
    {
        options.open(path)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_and_existing_files_end_up_owner_only() {
        let dir = std::env::temp_dir().join(format!("clerk-migrate-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fresh = dir.join("fresh");
        let _ = std::fs::remove_file(&fresh);
        drop(create_private(&fresh).unwrap());
        assert_eq!(mode(&fresh), 0o600);
        let old = dir.join("old");
        std::fs::write(&old, "x").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(append_private(&old).unwrap());
        assert_eq!(mode(&old), 0o600);
        assert_eq!(
            std::fs::read_to_string(&old).unwrap(),
            "x",
            "append keeps the content"
        );
        let scratch = scratch(&dir, "test").unwrap();
        assert_eq!(
            scratch.file().metadata().unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(
            !std::fs::read_dir(&dir).unwrap().any(|e| e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".tmp")),
            "a scratch file leaves no name behind"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
