//! A test's scratch directory, removed when the test passes. Its own file so that
//! tests needing only this take it by path (`#[path = "support/scratch.rs"]`) without
//! the rest of the support module.

use std::path::{Path, PathBuf};

/// A fresh directory for one test, named after the test binary, this process and `name`.
pub(crate) fn temp_dir(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!(
        "clerk-{}-{}-{name}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    Scratch(dir)
}

/// A test's scratch directory: removed when the test ends, kept when it fails (a
/// panic), to look at.
pub(crate) struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
