//! The seed file (`--seed`), applied as it is read: each user is parsed, checked and created
//! before the next one is read, so seeding holds one record's JSON at a time (organizations,
//! which name users, are kept until the instance's users are in). The format is described in
//! the crate docs; a record that would be refused by the API stops the start with an error
//! naming it (`sk_test_…users[17]: …`).

use std::fmt;
use std::io::Read;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::stream::{Failure, fail, parse, within};
use crate::body::JsonBody;
use crate::config::validate_key;
use crate::domain::{accounts, newer, orgs, users};
use crate::error::ApiError;
use crate::store::InstanceData;

/// Seeds `datas` from a seed file: `{"instances": {KEY: {"users": [..], "organizations":
/// [..]}}}`, or just `{"users": [..], "organizations": [..]}` for the first instance.
pub(super) fn apply(
    reader: impl Read,
    datas: &mut Vec<(String, InstanceData)>,
) -> Result<(), String> {
    let now = crate::time::now_ms();
    parse(reader, |de, failure| {
        SeedRoot {
            datas,
            now,
            failure,
        }
        .deserialize(de)
    })
}

struct SeedRoot<'a> {
    datas: &'a mut Vec<(String, InstanceData)>,
    now: i64,
    failure: &'a mut Failure,
}

impl<'de> DeserializeSeed<'de> for SeedRoot<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for SeedRoot<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a seed object ({\"instances\": {..}} or {\"users\": [..]})")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let SeedRoot {
            datas,
            now,
            failure,
        } = self;
        if datas.is_empty() {
            return Err(fail(failure, "no instance to seed".to_owned()));
        }
        // Without the `instances` wrapper the root is the first instance's object.
        let mut flat = InstanceSeed::new(0, datas);
        let mut flat_key: Option<String> = None;
        let mut wrapped = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "instances" {
                if let Some(k) = &flat_key {
                    return Err(fail(failure, format!("unknown top-level key {k:?}")));
                }
                if wrapped {
                    return Err(fail(failure, "duplicate key \"instances\"".to_owned()));
                }
                wrapped = true;
                map.next_value_seed(SeedInstances {
                    datas: &mut *datas,
                    now,
                    failure: &mut *failure,
                })?;
            } else {
                if wrapped {
                    return Err(fail(failure, format!("unknown top-level key {key:?}")));
                }
                flat.field(&key, &mut map, datas, now, failure)?;
                flat_key.get_or_insert(key);
            }
        }
        flat.finish(datas, now, failure)
    }
}

/// `"instances": {KEY: {..}, ..}`: each key is its own instance (a new one when it is not
/// configured).
struct SeedInstances<'a> {
    datas: &'a mut Vec<(String, InstanceData)>,
    now: i64,
    failure: &'a mut Failure,
}

impl<'de> DeserializeSeed<'de> for SeedInstances<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for SeedInstances<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of instances by secret key")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            validate_key(&key).map_err(|e| fail(self.failure, e.to_string()))?;
            let idx = match self.datas.iter().position(|(k, _)| *k == key) {
                Some(i) => i,
                None => {
                    self.datas.push((key, InstanceData::default()));
                    self.datas.len() - 1
                }
            };
            let label = crate::config::redact_key(&self.datas[idx].0);
            if seen.contains(&idx) {
                return Err(fail(self.failure, format!("{label}: duplicate instance")));
            }
            seen.push(idx);
            map.next_value_seed(InstanceObject {
                seed: InstanceSeed::new(idx, self.datas),
                datas: &mut *self.datas,
                now: self.now,
                failure: &mut *self.failure,
            })?;
        }
        Ok(())
    }
}

/// One instance's `{"users": [..], "organizations": [..]}` under `instances`.
struct InstanceObject<'a> {
    seed: InstanceSeed,
    datas: &'a mut Vec<(String, InstanceData)>,
    now: i64,
    failure: &'a mut Failure,
}

impl<'de> DeserializeSeed<'de> for InstanceObject<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for InstanceObject<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: an object (users, organizations)", self.seed.label)
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            self.seed
                .field(&key, &mut map, self.datas, self.now, self.failure)?;
        }
        self.seed.finish(self.datas, self.now, self.failure)
    }
}

/// What one instance's object has given so far.
struct InstanceSeed {
    idx: usize,
    label: String,
    users_seen: bool,
    /// Kept until the object ends: they name users that may come after them.
    orgs: Option<Vec<Value>>,
}

impl InstanceSeed {
    fn new(idx: usize, datas: &[(String, InstanceData)]) -> Self {
        Self {
            idx,
            label: crate::config::redact_key(&datas[idx].0),
            users_seen: false,
            orgs: None,
        }
    }

    /// Takes the value of `key` from `map`.
    fn field<'de, A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
        datas: &mut [(String, InstanceData)],
        now: i64,
        failure: &mut Failure,
    ) -> Result<(), A::Error> {
        let label = &self.label;
        match key {
            "users" if !self.users_seen => {
                self.users_seen = true;
                map.next_value_seed(SeedUsers {
                    data: &mut datas[self.idx].1,
                    label,
                    now,
                    failure: &mut *failure,
                })
                .map_err(within(failure, || format!("{label}.users")))
            }
            "organizations" if self.orgs.is_none() => {
                let orgs = map
                    .next_value::<Value>()
                    .map_err(within(failure, || format!("{label}.organizations")))?;
                self.orgs = Some(match orgs {
                    Value::Null => Vec::new(),
                    Value::Array(a) => a,
                    _ => {
                        return Err(fail(
                            failure,
                            format!("{label}.organizations: expected an array"),
                        ));
                    }
                });
                Ok(())
            }
            "users" | "organizations" => {
                Err(fail(failure, format!("{label}: duplicate key {key:?}")))
            }
            _ => Err(fail(
                failure,
                format!("{label}: unknown key {key:?} (expected users, organizations)"),
            )),
        }
    }

    /// Seeds the organizations, now that the instance's users are in.
    fn finish<E: de::Error>(
        self,
        datas: &mut [(String, InstanceData)],
        now: i64,
        failure: &mut Failure,
    ) -> Result<(), E> {
        let data = &mut datas[self.idx].1;
        for (i, o) in self.orgs.into_iter().flatten().enumerate() {
            let ctx = format!("{}.organizations[{i}]", self.label);
            seed_org(data, o, now, &ctx).map_err(|msg| fail(failure, msg))?;
        }
        Ok(())
    }
}

/// `"users": [..]`: each element is parsed, checked and created before the next is read.
struct SeedUsers<'a> {
    data: &'a mut InstanceData,
    label: &'a str,
    now: i64,
    failure: &'a mut Failure,
}

impl<'de> DeserializeSeed<'de> for SeedUsers<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl SeedUsers<'_> {
    fn not_an_array<E: de::Error>(self) -> Result<(), E> {
        Err(fail(
            self.failure,
            format!("{}.users: expected an array", self.label),
        ))
    }
}

impl<'de> Visitor<'de> for SeedUsers<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of users")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let SeedUsers {
            data,
            label,
            now,
            failure,
        } = self;
        for i in 0.. {
            let ctx = || format!("{label}.users[{i}]");
            let Some(user) = seq.next_element::<Value>().map_err(within(failure, ctx))? else {
                break;
            };
            seed_user(data, user, now, &ctx()).map_err(|msg| fail(failure, msg))?;
        }
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.not_an_array()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.not_an_array()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.not_an_array()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.not_an_array()
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.not_an_array()
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        self.not_an_array()
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
