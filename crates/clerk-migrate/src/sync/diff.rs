//! What must change on a Clerk user for it to equal a source record (sans-IO).
//!
//! A source record is a Clerk create body. A field the record leaves out is not
//! managed by sync (the user keeps whatever it has); a field set to `null` (or `""`
//! for a text field) must be empty on the user. Metadata objects must be equal as a
//! whole: keys the source lacks are deleted.

use clerk_core::User;
use clerk_core::models::Metadata;
use clerk_core::users::{ReplaceUserMetadata, UpdateUser, UpdateUserMetadata};
use serde_json::{Map, Value};

/// The fields sync compares, and writes when they differ.
pub const COMPARED_FIELDS: &[&str] = &[
    "external_id",
    "first_name",
    "last_name",
    "username",
    "locale",
    "delete_self_enabled",
    "create_organization_enabled",
    "create_organizations_limit",
    "bypass_client_trust",
    "public_metadata",
    "private_metadata",
    "unsafe_metadata",
];

/// Fields used when sync creates a user, never compared: secrets and settings that
/// only make sense at creation, and identifiers, which Clerk changes through their
/// own endpoints (email addresses, phone numbers, web3 wallets), not through the
/// user.
pub const CREATE_ONLY_FIELDS: &[&str] = &[
    "password",
    "password_digest",
    "password_hasher",
    "skip_password_checks",
    "skip_password_requirement",
    "totp_secret",
    "backup_codes",
    "created_at",
    "legal_accepted_at",
    "skip_legal_checks",
    "skip_user_requirement",
    "email_address",
    "email_address_identification_status",
    "phone_number",
    "phone_number_identification_status",
    "web3_wallet",
    "banned",
    "locked",
];

/// How metadata that differs is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MetadataMode {
    /// `PATCH /users/{id}/metadata` with exactly the keys that changed (removed keys
    /// as `null`, nested objects as nested patches). Metadata a merge cannot express
    /// (a `null` value to keep) is replaced instead.
    #[default]
    Merge,
    /// The whole object is replaced.
    Replace,
}

/// One changed field, for plans and dry runs. Values of private metadata are
/// withheld (`secret`).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct FieldChange {
    /// The field, with a dotted path into metadata (`public_metadata.plan.tier`).
    pub field: String,
    /// The user's value (`None`: absent).
    pub before: Option<Value>,
    /// The source's value (`None`: removed).
    pub after: Option<Value>,
    /// Whether the values must not be shown.
    pub secret: bool,
}

/// What sync sends to make one user equal its source record.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct UserDiff {
    /// Every change, field by field.
    pub changes: Vec<FieldChange>,
    /// `PATCH /users/{id}`: the fields, if any differ.
    pub update: Option<UpdateUser>,
    /// `PATCH /users/{id}/metadata`: the merge patch, if metadata differs.
    pub metadata: Option<UpdateUserMetadata>,
    /// The metadata objects to replace whole (`--metadata replace`, or a target a
    /// merge cannot express).
    pub replace: Option<ReplaceUserMetadata>,
    /// Lift a ban (sync bans leavers; a user back in the source is unbanned).
    pub unban: bool,
}

impl UserDiff {
    /// Whether nothing differs.
    pub fn is_empty(&self) -> bool {
        self.update.is_none() && self.metadata.is_none() && self.replace.is_none() && !self.unban
    }

    /// Write requests this diff costs.
    pub fn writes(&self) -> u64 {
        u64::from(self.update.is_some())
            + u64::from(self.metadata.is_some())
            + u64::from(self.replace.is_some())
            + u64::from(self.unban)
    }
}

/// The text fields, as (name, the user's value, where the update puts it).
type TextSlot = (
    &'static str,
    fn(&User) -> Option<&str>,
    fn(&mut UpdateUser) -> &mut Option<Option<String>>,
);

const TEXT_FIELDS: &[TextSlot] = &[
    (
        "external_id",
        |u| u.external_id.as_deref(),
        |p| &mut p.external_id,
    ),
    (
        "first_name",
        |u| u.first_name.as_deref(),
        |p| &mut p.first_name,
    ),
    (
        "last_name",
        |u| u.last_name.as_deref(),
        |p| &mut p.last_name,
    ),
    ("username", |u| u.username.as_deref(), |p| &mut p.username),
    ("locale", |u| u.locale.as_deref(), |p| &mut p.locale),
];

type BoolSlot = (
    &'static str,
    fn(&User) -> bool,
    fn(&mut UpdateUser) -> &mut Option<Option<bool>>,
);

const BOOL_FIELDS: &[BoolSlot] = &[
    (
        "delete_self_enabled",
        |u| u.delete_self_enabled,
        |p| &mut p.delete_self_enabled,
    ),
    (
        "create_organization_enabled",
        |u| u.create_organization_enabled,
        |p| &mut p.create_organization_enabled,
    ),
    (
        "bypass_client_trust",
        |u| u.bypass_client_trust,
        |p| &mut p.bypass_client_trust,
    ),
];

/// Metadata fields, as (name, the user's value, replace slot, merge slot).
type MetadataSlot = (
    &'static str,
    fn(&User) -> &Metadata,
    fn(&mut ReplaceUserMetadata) -> &mut Option<Metadata>,
    fn(&mut UpdateUserMetadata) -> &mut Option<Metadata>,
);

const METADATA_FIELDS: &[MetadataSlot] = &[
    (
        "public_metadata",
        |u| &u.public_metadata,
        |p| &mut p.public_metadata,
        |m| &mut m.public_metadata,
    ),
    (
        "private_metadata",
        |u| &u.private_metadata,
        |p| &mut p.private_metadata,
        |m| &mut m.private_metadata,
    ),
    (
        "unsafe_metadata",
        |u| &u.unsafe_metadata,
        |p| &mut p.unsafe_metadata,
        |m| &mut m.unsafe_metadata,
    ),
];

/// `""` and absent are the same empty text.
fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

/// What `user` must change to equal `record` (a create body) on the
/// [`COMPARED_FIELDS`]. `skip_external_id` leaves the external id alone (it is the
/// key the two were matched by).
pub fn diff_user(
    record: &Map<String, Value>,
    user: &User,
    mode: MetadataMode,
    skip_external_id: bool,
) -> UserDiff {
    let mut diff = UserDiff::default();
    let mut update = UpdateUser::new(user.id.clone());
    let mut merge = UpdateUserMetadata::new(user.id.clone());
    let mut replace = ReplaceUserMetadata::new(user.id.clone());
    let (mut any_update, mut any_merge, mut any_replace) = (false, false, false);

    for (name, current, slot) in TEXT_FIELDS {
        if *name == "external_id" && skip_external_id {
            continue;
        }
        let Some(value) = record.get(*name) else {
            continue;
        };
        let target = non_empty(value.as_str());
        let have = non_empty(current(user));
        // Clerk keeps usernames in lowercase.
        let same = if *name == "username" {
            target.map(str::to_lowercase) == have.map(str::to_lowercase)
        } else {
            target == have
        };
        if same {
            continue;
        }
        *slot(&mut update) = Some(target.map(str::to_owned));
        any_update = true;
        diff.changes.push(FieldChange {
            field: (*name).to_owned(),
            before: have.map(|s| Value::String(s.to_owned())),
            after: target.map(|s| Value::String(s.to_owned())),
            secret: false,
        });
    }
    for (name, current, slot) in BOOL_FIELDS {
        let Some(target) = record.get(*name).and_then(Value::as_bool) else {
            continue;
        };
        if target != current(user) {
            *slot(&mut update) = Some(Some(target));
            any_update = true;
            diff.changes.push(FieldChange {
                field: (*name).to_owned(),
                before: Some(Value::Bool(current(user))),
                after: Some(Value::Bool(target)),
                secret: false,
            });
        }
    }
    if let Some(value) = record.get("create_organizations_limit") {
        let target = value.as_i64();
        if target != user.create_organizations_limit {
            update.create_organizations_limit = Some(target);
            any_update = true;
            diff.changes.push(FieldChange {
                field: "create_organizations_limit".to_owned(),
                before: user.create_organizations_limit.map(Value::from),
                after: target.map(Value::from),
                secret: false,
            });
        }
    }
    for (name, current, replace_slot, merge_slot) in METADATA_FIELDS {
        let Some(value) = record.get(*name) else {
            continue;
        };
        let empty = Metadata::new();
        let target = value.as_object().unwrap_or(&empty);
        let have = current(user);
        if same_object(target, have) {
            continue;
        }
        let secret = *name == "private_metadata";
        changed_paths(name, have, target, secret, &mut diff.changes);
        let patch = match mode {
            MetadataMode::Merge => merge_patch(have, target),
            MetadataMode::Replace => None,
        };
        match patch {
            Some(patch) => {
                *merge_slot(&mut merge) = Some(patch);
                any_merge = true;
            }
            None => {
                *replace_slot(&mut replace) = Some(target.clone());
                any_replace = true;
            }
        }
    }
    diff.update = any_update.then_some(update);
    diff.metadata = any_merge.then_some(merge);
    diff.replace = any_replace.then_some(replace);
    diff
}

/// The patch that turns `current` into `target` under Clerk's deep merge (objects
/// merge recursively, `null` deletes a key at any depth, anything else replaces),
/// holding exactly the keys that differ. `None` when no merge can give `target`:
/// it keeps a `null` value inside an object, which a merge would read as "delete".
pub fn merge_patch(current: &Metadata, target: &Metadata) -> Option<Metadata> {
    let mut patch = Metadata::new();
    for key in current.keys() {
        if !target.contains_key(key) {
            patch.insert(key.clone(), Value::Null);
        }
    }
    for (key, want) in target {
        match (current.get(key), want) {
            (Some(have), _) if same_value(have, want) => {}
            (Some(Value::Object(have)), Value::Object(want)) => {
                patch.insert(key.clone(), Value::Object(merge_patch(have, want)?));
            }
            _ if holds_object_null(want) => return None,
            _ => {
                patch.insert(key.clone(), want.clone());
            }
        }
    }
    Some(patch)
}

/// JSON equality that reads `1` and `1.0` as the same number: a server may
/// re-encode numbers, and that is no reason to rewrite the metadata every run.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y || ((x.is_f64() || y.is_f64()) && x.as_f64() == y.as_f64())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_value(a, b))
        }
        (Value::Object(x), Value::Object(y)) => same_object(x, y),
        _ => a == b,
    }
}

fn same_object(a: &Metadata, b: &Metadata) -> bool {
    a.len() == b.len()
        && a.iter()
            .all(|(k, v)| b.get(k).is_some_and(|w| same_value(v, w)))
}

/// Whether a merge would drop part of `value`: a `null` outside any array.
fn holds_object_null(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.values().any(holds_object_null),
        _ => false,
    }
}

/// One [`FieldChange`] per differing leaf, with its dotted path.
fn changed_paths(
    path: &str,
    have: &Metadata,
    want: &Metadata,
    secret: bool,
    out: &mut Vec<FieldChange>,
) {
    let mut push = |key: &str, before: Option<&Value>, after: Option<&Value>| {
        out.push(FieldChange {
            field: format!("{path}.{key}"),
            before: before.cloned(),
            after: after.cloned(),
            secret,
        });
    };
    let mut nested = Vec::new();
    for (key, before) in have {
        if !want.contains_key(key) {
            push(key, Some(before), None);
        }
    }
    for (key, after) in want {
        match (have.get(key), after) {
            (Some(before), _) if same_value(before, after) => {}
            (Some(Value::Object(b)), Value::Object(a)) => nested.push((key, b, a)),
            (before, _) => push(key, before, Some(after)),
        }
    }
    for (key, b, a) in nested {
        changed_paths(&format!("{path}.{key}"), b, a, secret, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    /// Clerk's deep merge, as the field guide states it.
    fn deep_merge(target: &mut Metadata, patch: &Metadata) {
        for (k, v) in patch {
            match v {
                Value::Null => {
                    target.remove(k);
                }
                Value::Object(p) => match target.get_mut(k) {
                    Some(Value::Object(t)) => deep_merge(t, p),
                    _ => {
                        let mut fresh = Metadata::new();
                        deep_merge(&mut fresh, p);
                        target.insert(k.clone(), Value::Object(fresh));
                    }
                },
                other => {
                    target.insert(k.clone(), other.clone());
                }
            }
        }
    }

    fn user(v: Value) -> User {
        let mut base =
            map(json!({"id": "user_1", "object": "user", "created_at": 1, "updated_at": 1}));
        base.extend(map(v));
        serde_json::from_value(Value::Object(base)).unwrap()
    }

    #[test]
    fn merge_patches_hold_exactly_the_changed_keys_and_reach_the_target() {
        let cases = [
            (json!({}), json!({"a": 1})),
            (json!({"a": 1, "b": 2}), json!({"a": 1})),
            (
                json!({"plan": {"tier": "free", "seats": 3}, "tags": [1, 2]}),
                json!({"plan": {"tier": "pro", "seats": 3}, "tags": [2]}),
            ),
            (
                json!({"a": {"b": {"c": 1, "d": 2}}}),
                json!({"a": {"b": {"c": 1}}}),
            ),
            (json!({"a": {"x": 1}}), json!({"a": {}})),
            (json!({"a": 5}), json!({"a": {"b": [null, 1]}})),
            (json!({"a": {"b": 1}}), json!({"a": [1]})),
        ];
        for (have, want) in cases {
            let (have, want) = (map(have), map(want));
            let patch = merge_patch(&have, &want).expect("expressible");
            let mut merged = have.clone();
            deep_merge(&mut merged, &patch);
            assert_eq!(merged, want, "patch {patch:?}");
        }
        let patch = merge_patch(
            &map(json!({"plan": {"tier": "free", "seats": 3}, "old": true, "same": 1})),
            &map(json!({"plan": {"tier": "pro", "seats": 3}, "same": 1})),
        );
        assert_eq!(
            patch.map(Value::Object),
            Some(json!({"plan": {"tier": "pro"}, "old": null}))
        );
    }

    #[test]
    fn a_null_to_keep_cannot_be_merged_and_is_replaced() {
        assert_eq!(merge_patch(&map(json!({})), &map(json!({"a": null}))), None);
        assert_eq!(
            merge_patch(
                &map(json!({"a": {"b": 1}})),
                &map(json!({"a": {"b": 1, "c": null}}))
            ),
            None
        );
        let diff = diff_user(
            &map(json!({"public_metadata": {"a": null}})),
            &user(json!({})),
            MetadataMode::Merge,
            true,
        );
        assert!(diff.metadata.is_none() && diff.update.is_none());
        let replace = diff.replace.expect("replaced");
        assert_eq!(replace.public_metadata, Some(map(json!({"a": null}))));
        assert_eq!(
            replace.private_metadata, None,
            "only what differs is replaced"
        );
    }

    #[test]
    fn only_the_fields_that_differ_are_sent() {
        let u = user(json!({
            "first_name": "Ada", "last_name": "Lovelace", "username": "ada_l",
            "external_id": "e1", "public_metadata": {"plan": "free"}, "delete_self_enabled": true
        }));
        let same = map(json!({
            "external_id": "e1", "first_name": "Ada", "last_name": "Lovelace", "username": "Ada_L",
            "public_metadata": {"plan": "free"}, "password": "whatever-secret", "email_address": ["x@y.io"]
        }));
        assert!(diff_user(&same, &u, MetadataMode::Merge, false).is_empty());

        let changed = map(json!({
            "first_name": "Ada", "last_name": null, "username": "ada_l", "delete_self_enabled": false,
            "public_metadata": {"plan": "pro"}, "private_metadata": {"ssn": "123"}
        }));
        let diff = diff_user(&changed, &u, MetadataMode::Merge, true);
        let update = diff.update.clone().expect("update");
        let body: Value = serde_json::to_value(&update).unwrap();
        assert_eq!(
            body,
            json!({"last_name": null, "delete_self_enabled": false})
        );
        let merge = diff.metadata.clone().expect("merge");
        assert_eq!(merge.public_metadata, Some(map(json!({"plan": "pro"}))));
        assert_eq!(merge.private_metadata, Some(map(json!({"ssn": "123"}))));
        assert_eq!(diff.writes(), 2);
        let fields: Vec<&str> = diff.changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "last_name",
                "delete_self_enabled",
                "public_metadata.plan",
                "private_metadata.ssn"
            ]
        );
        assert!(
            diff.changes
                .iter()
                .all(|c| c.secret == c.field.starts_with("private_"))
        );

        let diff = diff_user(&changed, &u, MetadataMode::Replace, true);
        assert!(diff.metadata.is_none());
        assert_eq!(diff.writes(), 2);
        let replace = diff.replace.expect("replace");
        assert_eq!(replace.public_metadata, Some(map(json!({"plan": "pro"}))));
        assert_eq!(replace.private_metadata, Some(map(json!({"ssn": "123"}))));
        assert_eq!(replace.unsafe_metadata, None);
    }

    #[test]
    fn numbers_re_encoded_by_the_server_are_no_change() {
        let u = user(json!({"public_metadata": {"seats": 1.0, "tags": [2.0], "n": {"x": 3}}}));
        let record = map(json!({"public_metadata": {"seats": 1, "tags": [2], "n": {"x": 3.0}}}));
        assert!(diff_user(&record, &u, MetadataMode::Merge, true).is_empty());
        let record = map(json!({"public_metadata": {"seats": 2, "tags": [2], "n": {"x": 3}}}));
        let diff = diff_user(&record, &u, MetadataMode::Merge, true);
        let merge = diff.metadata.expect("merge");
        assert_eq!(merge.public_metadata, Some(map(json!({"seats": 2}))));
    }

    #[test]
    fn empty_text_equals_absent_and_the_match_key_is_left_alone() {
        let u = user(json!({"external_id": "e1"}));
        let record = map(json!({"first_name": "", "last_name": null, "external_id": "E1"}));
        assert!(diff_user(&record, &u, MetadataMode::Merge, true).is_empty());
        let diff = diff_user(&record, &u, MetadataMode::Merge, false);
        assert_eq!(diff.changes.len(), 1);
        assert_eq!(diff.changes[0].field, "external_id");
    }
}
