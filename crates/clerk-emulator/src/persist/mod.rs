//! Start-up data (`--seed`, `--state`) and the atomic state snapshot written on shutdown. The
//! seed loader goes through [`crate::domain`], so a seeded record passes the checks a created
//! one does.

mod seed;
mod state;
mod stream;

pub(crate) use stream::without_position;

use std::collections::{BTreeMap, HashSet};
use std::io::{self, BufReader, BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use serde::ser::SerializeMap as _;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::app::{App, Instance};
use crate::config::Config;
use crate::faults::FaultState;
use crate::store::InstanceData;

const STATE_VERSION: u64 = 1;

/// The deepest nesting of arrays and objects a seed or state file may have: what a request body
/// may have (serde_json's limit of 128, which [`crate::body`] applies), plus the levels the
/// file puts above a user's fields (`instances`, the key, `data`, `users`, the id: 5 in the
/// state file, 4 in the seed file) and room to spare. A file nested deeper is refused with a
/// clear error instead of recursing without bound.
pub(crate) const MAX_FILE_DEPTH: usize = 128 + 16;

/// The state file names instances by a hash of their key, so no secret is written to disk.
fn key_id(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

pub(crate) async fn build_app(
    config: &Config,
    origin: String,
    control: crate::api::control_guard::ControlAccess,
) -> io::Result<App> {
    let datas: Vec<(String, InstanceData)> = config
        .keys()
        .into_iter()
        .map(|k| (k, InstanceData::default()))
        .collect();
    let (state, seed) = (config.state_file.clone(), config.seed_file.clone());
    // Reading a file of a million users takes seconds: off the runtime's threads.
    let (datas, dormant) = tokio::task::spawn_blocking(move || load(datas, state, seed))
        .await
        .map_err(io::Error::other)??;
    let instances = datas
        .into_iter()
        .map(|(key, data)| Arc::new(Instance::new(key, config.rate_limit, data)))
        .collect();
    Ok(App::new(
        instances,
        origin,
        FaultState::new(config.faults, config.latency),
        dormant,
        control,
    ))
}

/// The instances' start-up data: the state file's if it exists, else the seed file's; and
/// the state file's instances whose key is not configured.
type Loaded = (Vec<(String, InstanceData)>, BTreeMap<String, Value>);

fn load(
    mut datas: Vec<(String, InstanceData)>,
    state: Option<PathBuf>,
    seed: Option<PathBuf>,
) -> io::Result<Loaded> {
    if let Some(path) = &state
        && let Some(file) = open_optional(path)?
    {
        let dormant = state::load(BufReader::with_capacity(READ_BUFFER, file), &mut datas)
            .map_err(|e| invalid(format!("state file {}: {e}", path.display())))?;
        return Ok((datas, dormant));
    }
    if let Some(path) = &seed {
        let file = open_optional(path)?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("seed file {} not found", path.display()),
            )
        })?;
        seed::apply(BufReader::with_capacity(READ_BUFFER, file), &mut datas)
            .map_err(|e| invalid(format!("seed file {}: {e}", path.display())))?;
    }
    Ok((datas, BTreeMap::new()))
}

/// The read buffer of a seed or state file.
const READ_BUFFER: usize = 256 * 1024;

fn open_optional(path: &Path) -> io::Result<Option<std::fs::File>> {
    match std::fs::File::open(path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes all instances to `path` atomically: temp file in the same directory, fsync, rename.
/// Each instance is serialized straight into the file under its read lock (no JSON tree of
/// the whole state).
pub(crate) async fn write_state(app: Arc<App>, path: PathBuf) -> io::Result<()> {
    tokio::task::spawn_blocking(move || {
        write_atomic(&path, |out| {
            serde_json::to_writer(out, &Snapshot(&app)).map_err(io::Error::other)
        })
    })
    .await
    .map_err(io::Error::other)?
}

/// `{"version": 1, "instances": {KEY_HASH: {"label": .., "data": ..}}}`.
struct Snapshot<'a>(&'a App);

impl Serialize for Snapshot<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("version", &STATE_VERSION)?;
        map.serialize_entry("instances", &SnapshotInstances(self.0))?;
        map.end()
    }
}

struct SnapshotInstances<'a>(&'a App);

#[derive(Serialize)]
struct StoredInstanceRef<'a> {
    label: &'a str,
    data: &'a InstanceData,
}

impl Serialize for SnapshotInstances<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let app = self.0;
        let mut map = s.serialize_map(None)?;
        let mut written = HashSet::new();
        for inst in &app.instances {
            let id = key_id(inst.key());
            let data = inst.read();
            let stored = StoredInstanceRef {
                label: &inst.label,
                data: &data,
            };
            map.serialize_entry(&id, &stored)?;
            written.insert(id);
        }
        for (id, v) in app.dormant.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            if !written.contains(id) {
                map.serialize_entry(id, v)?;
            }
        }
        map.end()
    }
}

fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<std::fs::File>) -> io::Result<()>,
) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "state file path has no file name",
        )
    })?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        crate::ids::random_hex(4)
    ));
    let result = (|| {
        // TOTP secrets and backup codes: readable by the owner only.
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut out = BufWriter::with_capacity(256 * 1024, options.open(&tmp)?);
        write(&mut out)?;
        out.flush()?;
        let f = out.into_inner().map_err(io::IntoInnerError::into_error)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable (best effort: not every platform opens directories).
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
