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
        let _ = std::fs::remove_dir_all(&dir);
    }
}
