//! Start-up data (`--seed`, `--state`) and the atomic state snapshot written on shutdown. The
//! seed loader goes through [`crate::domain`], so a seeded record passes the checks a created
//! one does.

use std::collections::BTreeMap;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize as _;
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

use crate::app::{App, Instance};
use crate::body::JsonBody;
use crate::config::{Config, validate_key};
use crate::domain::{accounts, newer, orgs, users};
use crate::error::ApiError;
use crate::faults::FaultState;
use crate::store::InstanceData;

const STATE_VERSION: u64 = 1;

/// The deepest nesting of arrays and objects a seed or state file may have: what a request body
/// may have (serde_json's limit of 128, which [`crate::body`] applies), plus the levels the
/// file puts above a user's fields (`instances`, the key, `data`, `users`, the id: 5 in the
/// state file, 4 in the seed file) and room to spare. A file nested deeper is refused with a
/// clear error instead of recursing without bound.
pub(crate) const MAX_FILE_DEPTH: usize = 128 + 16;

/// Decodes a seed or state file, accepting nesting up to [`MAX_FILE_DEPTH`]: serde_json's own
/// limit (128) refused state files holding metadata the API had accepted.
fn decode_file(text: &str) -> Result<Value, String> {
    match serde_json::from_str(text) {
        Err(e) if e.is_syntax() && e.to_string().starts_with("recursion limit exceeded") => {
            let depth = clerk_rules::nesting::depth(text.as_bytes());
            if depth > MAX_FILE_DEPTH {
                return Err(format!(
                    "nested {depth} levels deep, more than the {MAX_FILE_DEPTH} allowed"
                ));
            }
            let mut de = serde_json::Deserializer::from_str(text);
            de.disable_recursion_limit();
            let value = Value::deserialize(&mut de).map_err(|e| e.to_string())?;
            de.end().map_err(|e| e.to_string())?;
            Ok(value)
        }
        other => other.map_err(|e| e.to_string()),
    }
}

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
    let mut datas: Vec<(String, InstanceData)> = config
        .keys()
        .into_iter()
        .map(|k| (k, InstanceData::default()))
        .collect();
    let mut dormant = BTreeMap::new();
    let state = match &config.state_file {
        Some(path) => read_optional(path).await?,
        None => None,
    };
    if let (Some(text), Some(path)) = (state, &config.state_file) {
        let snapshot = decode_file(&text)
            .map_err(|e| invalid(format!("state file {}: {e}", path.display())))?;
        let mut instances = match snapshot.get("instances") {
            Some(Value::Object(m)) => m.clone(),
            _ => {
                return Err(invalid(format!(
                    "state file {}: missing \"instances\"",
                    path.display()
                )));
            }
        };
        for (key, data) in &mut datas {
            if let Some(entry) = instances.remove(&key_id(key)) {
                let stored = entry.get("data").cloned().unwrap_or(Value::Null);
                *data = serde_json::from_value(stored).map_err(|e| {
                    invalid(format!("state file {}: instance data: {e}", path.display()))
                })?;
                data.rebuild_indexes();
            }
        }
        dormant = instances.into_iter().collect();
    } else if let Some(seed) = &config.seed_file {
        let text = read_optional(seed).await?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("seed file {} not found", seed.display()),
            )
        })?;
        apply_seed(&text, &mut datas)
            .map_err(|e| invalid(format!("seed file {}: {e}", seed.display())))?;
    }
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

async fn read_optional(path: &Path) -> io::Result<Option<String>> {
    match tokio::fs::read_to_string(path).await {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn describe(e: &ApiError) -> String {
    format!("{} ({})", e.long_message, e.code)
}

fn take_array(obj: &mut Map<String, Value>, key: &str, ctx: &str) -> Result<Vec<Value>, String> {
    match obj.remove(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(format!("{ctx}.{key}: expected an array")),
    }
}

fn as_object(v: Value, ctx: &str) -> Result<Map<String, Value>, String> {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(format!("{ctx}: expected an object")),
    }
}

fn take_id(
    obj: &mut Map<String, Value>,
    prefix: &str,
    ctx: &str,
) -> Result<Option<String>, String> {
    match obj.remove("id") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.starts_with(prefix) && s.len() > prefix.len() => Ok(Some(s)),
        Some(_) => Err(format!(
            "{ctx}.id: expected a string starting with {prefix:?}"
        )),
    }
}

/// Seed format (see the crate docs): `{"instances": {KEY: {"users": [..], "organizations": [..]}}}`
/// or just `{"users": [..], "organizations": [..]}` for the first instance.
fn apply_seed(text: &str, datas: &mut Vec<(String, InstanceData)>) -> Result<(), String> {
    let root = as_object(decode_file(text)?, "seed")?;
    let mut per_key: Vec<(Option<String>, Map<String, Value>)> = Vec::new();
    if root.contains_key("instances") {
        let mut root = root;
        let instances = as_object(root.remove("instances").unwrap_or(Value::Null), "instances")?;
        if let Some(k) = root.keys().next() {
            return Err(format!("unknown top-level key {k:?}"));
        }
        for (key, v) in instances {
            validate_key(&key).map_err(|e| e.to_string())?;
            per_key.push((Some(key), as_object(v, "instances.<key>")?));
        }
    } else {
        per_key.push((None, root));
    }
    let now = crate::time::now_ms();
    for (key, mut inst) in per_key {
        let idx = match key {
            None => 0,
            Some(k) => match datas.iter().position(|(dk, _)| *dk == k) {
                Some(i) => i,
                None => {
                    datas.push((k, InstanceData::default()));
                    datas.len() - 1
                }
            },
        };
        let label = crate::config::redact_key(&datas[idx].0);
        let data = &mut datas[idx].1;
        let users = take_array(&mut inst, "users", &label)?;
        let orgs = take_array(&mut inst, "organizations", &label)?;
        if let Some(k) = inst.keys().next() {
            return Err(format!(
                "{label}: unknown key {k:?} (expected users, organizations)"
            ));
        }
        for (i, u) in users.into_iter().enumerate() {
            let ctx = format!("{label}.users[{i}]");
            seed_user(data, u, now, &ctx)?;
        }
        for (i, o) in orgs.into_iter().enumerate() {
            let ctx = format!("{label}.organizations[{i}]");
            seed_org(data, o, now, &ctx)?;
        }
    }
    Ok(())
}

fn seed_user(data: &mut InstanceData, v: Value, now: i64, ctx: &str) -> Result<(), String> {
    let mut obj = as_object(v, ctx)?;
    let id = take_id(&mut obj, "user_", ctx)?;
    if id.as_ref().is_some_and(|id| data.users.contains_key(id)) {
        return Err(format!("{ctx}.id: duplicate user id"));
    }
    let accounts = take_array(&mut obj, "external_accounts", ctx)?;
    let passkeys = take_array(&mut obj, "passkeys", ctx)?;
    let devices = take_array(&mut obj, "trusted_devices", ctx)?;
    let subscription = obj.remove("billing_subscription");
    let mut activity = Map::new();
    for k in ["last_sign_in_at", "last_active_at"] {
        if let Some(v) = obj.remove(k) {
            activity.insert(k.to_owned(), v);
        }
    }
    let body = JsonBody::from_map(obj);
    body.check_keys(users::CREATE_FIELDS)
        .map_err(|e| format!("{ctx}: {}", describe(&e)))?;
    let id =
        users::create_user(data, &body, now, id).map_err(|e| format!("{ctx}: {}", describe(&e)))?;
    for (i, a) in accounts.into_iter().enumerate() {
        let body = JsonBody::from_map(as_object(a, &format!("{ctx}.external_accounts[{i}]"))?);
        accounts::add_external_account(data, &id, body, now)
            .map_err(|e| format!("{ctx}.external_accounts[{i}]: {}", describe(&e)))?;
    }
    for (i, p) in passkeys.into_iter().enumerate() {
        let body = JsonBody::from_map(as_object(p, &format!("{ctx}.passkeys[{i}]"))?);
        accounts::add_passkey(data, &id, body, now)
            .map_err(|e| format!("{ctx}.passkeys[{i}]: {}", describe(&e)))?;
    }
    for (i, d) in devices.into_iter().enumerate() {
        let body = JsonBody::from_map(as_object(d, &format!("{ctx}.trusted_devices[{i}]"))?);
        newer::add_trusted_device(data, &id, body, now)
            .map_err(|e| format!("{ctx}.trusted_devices[{i}]: {}", describe(&e)))?;
    }
    if let Some(s) = subscription {
        let body = JsonBody::from_map(as_object(s, &format!("{ctx}.billing_subscription"))?);
        newer::set_subscription(data, &id, body, now)
            .map_err(|e| format!("{ctx}.billing_subscription: {}", describe(&e)))?;
    }
    if !activity.is_empty() {
        accounts::set_activity(data, &id, JsonBody::from_map(activity))
            .map_err(|e| format!("{ctx}: {}", describe(&e)))?;
    }
    Ok(())
}

fn seed_org(data: &mut InstanceData, v: Value, now: i64, ctx: &str) -> Result<(), String> {
    let mut obj = as_object(v, ctx)?;
    let id = take_id(&mut obj, "org_", ctx)?;
    if id.as_ref().is_some_and(|id| data.orgs.contains_key(id)) {
        return Err(format!("{ctx}.id: duplicate organization id"));
    }
    let members = take_array(&mut obj, "memberships", ctx)?;
    let invitations = take_array(&mut obj, "invitations", ctx)?;
    let body = JsonBody::from_map(obj);
    body.check_keys(orgs::ORG_FIELDS)
        .map_err(|e| format!("{ctx}: {}", describe(&e)))?;
    let org_id =
        orgs::create_org(data, &body, now, id).map_err(|e| format!("{ctx}: {}", describe(&e)))?;
    for (i, m) in members.into_iter().enumerate() {
        let c = format!("{ctx}.memberships[{i}]");
        let body = JsonBody::from_map(as_object(m, &c)?);
        body.check_keys(orgs::MEMBERSHIP_FIELDS)
            .map_err(|e| format!("{c}: {}", describe(&e)))?;
        orgs::create_membership(data, &org_id, &body, now)
            .map_err(|e| format!("{c}: {}", describe(&e)))?;
    }
    for (i, m) in invitations.into_iter().enumerate() {
        let c = format!("{ctx}.invitations[{i}]");
        let body = JsonBody::from_map(as_object(m, &c)?);
        body.check_keys(orgs::INVITATION_FIELDS)
            .map_err(|e| format!("{c}: {}", describe(&e)))?;
        orgs::create_invitation(data, &org_id, &body, now)
            .map_err(|e| format!("{c}: {}", describe(&e)))?;
    }
    Ok(())
}

/// Writes all instances to `path` atomically: temp file in the same directory, fsync, rename.
pub(crate) async fn write_state(app: Arc<App>, path: PathBuf) -> io::Result<()> {
    let mut instances = Map::new();
    for inst in &app.instances {
        let data = serde_json::to_value(&*inst.read()).map_err(io::Error::other)?;
        instances.insert(
            key_id(inst.key()),
            json!({ "label": inst.label, "data": data }),
        );
    }
    for (k, v) in app.dormant.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        instances.entry(k.clone()).or_insert_with(|| v.clone());
    }
    let snapshot = json!({ "version": STATE_VERSION, "instances": instances });
    let bytes = serde_json::to_vec(&snapshot).map_err(io::Error::other)?;
    tokio::task::spawn_blocking(move || write_atomic(&path, &bytes))
        .await
        .map_err(io::Error::other)?
}

fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
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
        let mut f = options.open(&tmp)?;
        f.write_all(bytes)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_decode_to_their_depth_bound_and_no_deeper() {
        let nested = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        assert!(decode_file(&nested(MAX_FILE_DEPTH)).is_ok());
        let err = decode_file(&nested(MAX_FILE_DEPTH + 1)).unwrap_err();
        assert_eq!(err, "nested 145 levels deep, more than the 144 allowed");
        // A hostile file far deeper is measured, not recursed into.
        assert!(decode_file(&nested(1_000_000)).is_err());
        // Brackets inside strings (escaped quotes too) are not nesting.
        let text = format!(r#"{{"a": "\"[[[[", "b": {}}}"#, nested(130));
        assert_eq!(clerk_rules::nesting::depth(text.as_bytes()), 131);
        assert!(decode_file(&text).is_ok());
        assert!(decode_file("{").is_err());
    }
}
