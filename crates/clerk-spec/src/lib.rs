// Over 600 lines only with its unit tests (the code is ~550).
//! Test support: Clerk's official OpenAPI specs, vendored, and checks against them.
//!
//! `spec/bapi-<version>.yml` are Clerk's Backend API specs for the API versions
//! 2025-04-10, 2025-11-10 and 2026-05-12, copied byte for byte (MIT, see
//! `spec/LICENSE` and `spec/SOURCE.md`). They are the source of truth the workspace
//! tests check our requests, models and the emulator's responses against, one
//! [`Spec`] per version ([`Spec::all`], [`Spec::for_version`]):
//!
//! - [`Spec::operation`] finds an operation by its `operationId` and gives its method,
//!   path template, query parameters, and request/response schemas with every `$ref`
//!   resolved;
//! - [`validate`] checks a JSON value against such a schema (OpenAPI 3.0 `nullable`
//!   is translated to JSON Schema);
//! - [`Spec::validate_response`] / [`Spec::validate_request_body`] do both in one call;
//! - [`examples_in`] collects the `example` values a schema carries.
//!
//! The free functions [`operation`], [`component_schema`], [`validate_response`] and
//! [`validate_request_body`] use the oldest vendored spec, 2025-04-10.
//!
//! This crate is not published: it exists for tests.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde_json::{Map, Value};

/// The 2025-04-10 spec, as shipped by Clerk.
pub const SPEC_YAML: &str = include_str!("../spec/bapi-2025-04-10.yml");

/// One vendored spec: the Backend API as of one `Clerk-API-Version`.
#[derive(Debug)]
pub struct Spec {
    version: &'static str,
    yaml: &'static str,
    parsed: OnceLock<Value>,
}

/// `bapi-2025-04-10.yml`.
pub static SPEC_2025_04_10: Spec = Spec::new("2025-04-10", SPEC_YAML);
/// `bapi-2025-11-10.yml`: adds the password-compromised operations.
pub static SPEC_2025_11_10: Spec =
    Spec::new("2025-11-10", include_str!("../spec/bapi-2025-11-10.yml"));
/// `bapi-2026-05-12.yml`: `PATCH /users/{user_id}` no longer takes metadata.
pub static SPEC_2026_05_12: Spec =
    Spec::new("2026-05-12", include_str!("../spec/bapi-2026-05-12.yml"));

impl Spec {
    const fn new(version: &'static str, yaml: &'static str) -> Self {
        Self {
            version,
            yaml,
            parsed: OnceLock::new(),
        }
    }

    /// Every vendored spec, oldest first.
    pub fn all() -> [&'static Spec; 3] {
        [&SPEC_2025_04_10, &SPEC_2025_11_10, &SPEC_2026_05_12]
    }

    /// The spec of an API version (`2025-11-10`), if vendored.
    pub fn for_version(version: &str) -> Option<&'static Spec> {
        Self::all().into_iter().find(|s| s.version == version)
    }

    /// The API version (`info.version`), such as `2025-11-10`.
    pub fn version(&self) -> &'static str {
        self.version
    }

    /// The YAML text, as shipped by Clerk.
    pub fn yaml(&self) -> &'static str {
        self.yaml
    }

    /// The whole spec as JSON (parsed once).
    pub fn json(&'static self) -> &'static Value {
        self.parsed.get_or_init(|| {
            let value: Value =
                serde_norway::from_str(self.yaml).expect("the vendored OpenAPI spec is valid YAML");
            assert_eq!(
                value.pointer("/info/version").and_then(Value::as_str),
                Some(self.version),
                "the file of {} holds another version",
                self.version
            );
            value
        })
    }

    /// Looks up an operation by `operationId`.
    pub fn operation(&'static self, operation_id: &str) -> Option<Op> {
        let root = self.json();
        let paths = root.get("paths")?.as_object()?;
        for (path, item) in paths {
            let Some(item) = item.as_object() else {
                continue;
            };
            for (method, op) in item {
                if op.get("operationId").and_then(Value::as_str) != Some(operation_id) {
                    continue;
                }
                return Some(Op::new(root, operation_id, method, path, item, op));
            }
        }
        None
    }

    /// The operationIds of every operation under `/users` and
    /// `/organization_memberships` (the Users resource of the SDKs).
    pub fn users_operation_ids(&'static self) -> BTreeSet<String> {
        let mut ids = BTreeSet::new();
        let Some(paths) = self.json().get("paths").and_then(Value::as_object) else {
            return ids;
        };
        for (path, item) in paths {
            if !(path.starts_with("/users") || path.starts_with("/organization_memberships")) {
                continue;
            }
            for op in item.as_object().into_iter().flat_map(|m| m.values()) {
                if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                    ids.insert(id.to_owned());
                }
            }
        }
        ids
    }

    /// A component schema by name (`User`, `EmailAddress`, …), refs resolved.
    pub fn component_schema(&'static self, name: &str) -> Option<Value> {
        let root = self.json();
        let schema = root.get("components")?.get("schemas")?.get(name)?;
        Some(resolve_refs(root, schema, &mut Vec::new()))
    }

    /// Validates a response body of `operation_id` with `status` against this spec.
    pub fn validate_response(
        &'static self,
        operation_id: &str,
        status: u16,
        body: &Value,
    ) -> Result<(), String> {
        let version = self.version;
        let op = self
            .operation(operation_id)
            .ok_or_else(|| format!("no operation {operation_id} in the {version} spec"))?;
        let schema = op.response_schema(status).ok_or_else(|| {
            format!("{operation_id} has no JSON schema for status {status} in {version}")
        })?;
        validate(&schema, body).map_err(|e| format!("{operation_id} {status} ({version}): {e}"))
    }

    /// Validates a JSON request body of `operation_id` against this spec.
    pub fn validate_request_body(
        &'static self,
        operation_id: &str,
        body: &Value,
    ) -> Result<(), String> {
        let version = self.version;
        let op = self
            .operation(operation_id)
            .ok_or_else(|| format!("no operation {operation_id} in the {version} spec"))?;
        let schema = op
            .request_body_schema
            .ok_or_else(|| format!("{operation_id} has no request body schema in {version}"))?;
        validate(&schema, body).map_err(|e| format!("{operation_id} request body ({version}): {e}"))
    }
}

/// The 2025-04-10 spec as JSON (parsed once).
pub fn spec() -> &'static Value {
    SPEC_2025_04_10.json()
}

/// One operation of a spec.
#[derive(Debug, Clone)]
pub struct Op {
    /// The `operationId`.
    pub operation_id: String,
    /// Upper-case HTTP method.
    pub method: String,
    /// Path template relative to the server URL, such as `/users/{user_id}`.
    pub path: String,
    /// Names of the query parameters.
    pub query_params: Vec<String>,
    /// Names of the path parameters.
    pub path_params: Vec<String>,
    /// The resolved (refs inlined) OpenAPI schema of the JSON request body, if any.
    pub request_body_schema: Option<Value>,
    /// The media type of the request body, if any (`application/json`, `multipart/form-data`).
    pub request_content_type: Option<String>,
    /// Whether the spec marks the request body required.
    pub request_body_required: bool,
    raw: Value,
    root: &'static Value,
}

impl Op {
    fn new(
        root: &'static Value,
        operation_id: &str,
        method: &str,
        path: &str,
        item: &Map<String, Value>,
        op: &Value,
    ) -> Self {
        let mut params: Vec<Value> = Vec::new();
        for source in [item.get("parameters"), op.get("parameters")] {
            if let Some(list) = source.and_then(Value::as_array) {
                params.extend(list.iter().map(|p| resolve_refs(root, p, &mut Vec::new())));
            }
        }
        let names_in = |location: &str| -> Vec<String> {
            params
                .iter()
                .filter(|p| p.get("in").and_then(Value::as_str) == Some(location))
                .filter_map(|p| p.get("name").and_then(Value::as_str).map(str::to_owned))
                .collect()
        };
        let body = op
            .get("requestBody")
            .map(|b| resolve_refs(root, b, &mut Vec::new()));
        let content = body
            .as_ref()
            .and_then(|b| b.get("content"))
            .and_then(Value::as_object);
        let (request_content_type, request_body_schema) = match content {
            Some(content) => match content.iter().next() {
                Some((media, m)) => (Some(media.clone()), m.get("schema").cloned()),
                None => (None, None),
            },
            None => (None, None),
        };
        let request_body_required = body
            .as_ref()
            .and_then(|b| b.get("required"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Op {
            operation_id: operation_id.to_owned(),
            method: method.to_uppercase(),
            path: path.to_owned(),
            query_params: names_in("query"),
            path_params: names_in("path"),
            request_body_schema,
            request_content_type,
            request_body_required,
            raw: op.clone(),
            root,
        }
    }

    /// The resolved OpenAPI schema of the response for `status` (`None` when the
    /// response has no JSON body schema).
    pub fn response_schema(&self, status: u16) -> Option<Value> {
        let responses = self.raw.get("responses")?;
        let response = responses
            .get(status.to_string())
            .or_else(|| responses.get("default"))?;
        let response = resolve_refs(self.root, response, &mut Vec::new());
        response
            .get("content")?
            .get("application/json")?
            .get("schema")
            .cloned()
    }

    /// The statuses the spec lists for this operation.
    pub fn statuses(&self) -> Vec<String> {
        self.raw
            .get("responses")
            .and_then(Value::as_object)
            .map(|r| r.keys().cloned().collect())
            .unwrap_or_default()
    }
}

/// Looks up an operation of the 2025-04-10 spec by `operationId`.
pub fn operation(operation_id: &str) -> Option<Op> {
    SPEC_2025_04_10.operation(operation_id)
}

/// A component schema of the 2025-04-10 spec by name (`User`, `EmailAddress`, …),
/// refs resolved.
pub fn component_schema(name: &str) -> Option<Value> {
    SPEC_2025_04_10.component_schema(name)
}

/// Inlines every `$ref` of `value` (refs point into `root`). A reference to a schema
/// that is already being expanded further up (a cycle) becomes `{}` (anything goes).
fn resolve_refs(root: &Value, value: &Value, stack: &mut Vec<String>) -> Value {
    match value {
        Value::Object(map) => {
            if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
                if stack.iter().any(|r| r == reference) {
                    return Value::Object(Map::new());
                }
                let target = reference
                    .strip_prefix('#')
                    .and_then(|pointer| root.pointer(pointer))
                    .unwrap_or_else(|| {
                        panic!("unresolvable $ref {reference} in the vendored spec")
                    });
                stack.push(reference.to_owned());
                let resolved = resolve_refs(root, target, stack);
                stack.pop();
                return resolved;
            }
            Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), resolve_refs(root, v, stack)))
                    .collect(),
            )
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| resolve_refs(root, v, stack)).collect())
        }
        other => other.clone(),
    }
}

/// Translates an (already resolved) OpenAPI 3.0 schema into draft-4 JSON Schema:
/// `nullable: true` admits `null`; `example`, `x-*` and other annotation keywords go.
pub fn to_json_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                if key.starts_with("x-")
                    || matches!(
                        key.as_str(),
                        "example"
                            | "examples"
                            | "nullable"
                            | "discriminator"
                            | "xml"
                            | "externalDocs"
                            | "deprecated"
                            | "readOnly"
                            | "writeOnly"
                    )
                {
                    continue;
                }
                let converted = match key.as_str() {
                    // Maps whose values are schemas, keyed by property name.
                    "properties" | "patternProperties" | "definitions" => match value {
                        Value::Object(props) => Value::Object(
                            props
                                .iter()
                                .map(|(k, v)| (k.clone(), to_json_schema(v)))
                                .collect(),
                        ),
                        other => other.clone(),
                    },
                    "items" | "additionalProperties" | "not" => to_json_schema(value),
                    "allOf" | "anyOf" | "oneOf" => match value {
                        Value::Array(list) => {
                            Value::Array(list.iter().map(to_json_schema).collect())
                        }
                        other => other.clone(),
                    },
                    _ => value.clone(),
                };
                out.insert(key.clone(), converted);
            }
            if map.get("nullable").and_then(Value::as_bool) == Some(true) {
                return make_nullable(out);
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

fn make_nullable(mut schema: Map<String, Value>) -> Value {
    // A combinator beside `nullable` would still apply to `null`: admit it outside.
    if ["oneOf", "anyOf", "allOf", "not"]
        .iter()
        .any(|k| schema.contains_key(*k))
    {
        return serde_json::json!({ "anyOf": [{ "type": "null" }, Value::Object(schema)] });
    }
    if let Some(Value::Array(values)) = schema.get_mut("enum")
        && !values.contains(&Value::Null)
    {
        values.push(Value::Null);
    }
    match schema.get("type").cloned() {
        Some(Value::String(t)) => {
            schema.insert(
                "type".into(),
                Value::Array(vec![Value::String(t), "null".into()]),
            );
            Value::Object(schema)
        }
        Some(Value::Array(mut types)) => {
            if !types.contains(&Value::String("null".into())) {
                types.push("null".into());
            }
            schema.insert("type".into(), Value::Array(types));
            Value::Object(schema)
        }
        _ => serde_json::json!({ "anyOf": [{ "type": "null" }, Value::Object(schema)] }),
    }
}

/// Validates `value` against a resolved OpenAPI schema. The error lists every
/// violation with its JSON pointer.
pub fn validate(schema: &Value, value: &Value) -> Result<(), String> {
    let json_schema = to_json_schema(schema);
    let validator = jsonschema::draft4::options()
        .should_validate_formats(false)
        .build(&json_schema)
        .map_err(|e| format!("schema does not compile: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// Validates a response body of `operation_id` with `status` against the
/// 2025-04-10 spec.
pub fn validate_response(operation_id: &str, status: u16, body: &Value) -> Result<(), String> {
    SPEC_2025_04_10.validate_response(operation_id, status, body)
}

/// Validates a JSON request body of `operation_id` against the 2025-04-10 spec.
pub fn validate_request_body(operation_id: &str, body: &Value) -> Result<(), String> {
    SPEC_2025_04_10.validate_request_body(operation_id, body)
}

/// Every `example` value found anywhere in `schema` (resolved), outermost first.
pub fn examples_in(schema: &Value) -> Vec<Value> {
    let mut found = Vec::new();
    collect_examples(schema, &mut found);
    found
}

fn collect_examples(schema: &Value, found: &mut Vec<Value>) {
    match schema {
        Value::Object(map) => {
            if let Some(example) = map.get("example") {
                found.push(example.clone());
            }
            for (key, value) in map {
                if key != "example" {
                    collect_examples(value, found);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_examples(v, found)),
        _ => {}
    }
}

/// Builds one instance of an object schema from the `example`s of its properties
/// (recursively), for schemas that carry examples only on their leaves. Properties
/// without an example are left out; `None` when nothing had an example.
pub fn instance_from_examples(schema: &Value) -> Option<Value> {
    if let Some(example) = schema.get("example") {
        return Some(example.clone());
    }
    if let Some(items) = schema.get("items") {
        return instance_from_examples(items).map(|item| Value::Array(vec![item]));
    }
    for combinator in ["allOf", "oneOf", "anyOf"] {
        if let Some(list) = schema.get(combinator).and_then(Value::as_array) {
            if combinator == "allOf" {
                let mut merged = Map::new();
                for part in list {
                    if let Some(Value::Object(obj)) = instance_from_examples(part) {
                        merged.extend(obj);
                    }
                }
                return (!merged.is_empty()).then_some(Value::Object(merged));
            }
            return list.iter().find_map(instance_from_examples);
        }
    }
    let properties = schema.get("properties")?.as_object()?;
    let object: Map<String, Value> = properties
        .iter()
        .filter_map(|(name, prop)| instance_from_examples(prop).map(|v| (name.clone(), v)))
        .collect();
    (!object.is_empty()).then_some(Value::Object(object))
}

/// The property names of an object schema (through `allOf`).
pub fn property_names(schema: &Value) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        for part in parts {
            names.extend(property_names(part));
        }
    }
    names
}

/// The operationIds of the 38 Users operations this workspace covers: every
/// operation under `/users` and `/organization_memberships` of the newest spec.
pub const USERS_OPERATIONS: [&str; 38] = [
    "GetUserList",
    "CreateUser",
    "GetUsersCount",
    "GetUser",
    "UpdateUser",
    "DeleteUser",
    "BanUser",
    "UnbanUser",
    "UsersBan",
    "UsersUnban",
    "LockUser",
    "UnlockUser",
    "SetUserProfileImage",
    "DeleteUserProfileImage",
    "UpdateUserMetadata",
    "GetOAuthAccessToken",
    "UsersGetOrganizationMemberships",
    "UsersGetOrganizationInvitations",
    "VerifyPassword",
    "VerifyTOTP",
    "DisableMFA",
    "DeleteBackupCode",
    "UserPasskeyDelete",
    "UserWeb3WalletDelete",
    "DeleteTOTP",
    "DeleteExternalAccount",
    "InstanceGetOrganizationMemberships",
    "SetUserPasswordCompromised",
    "UnsetUserPasswordCompromised",
    "RemoveUserPassword",
    "ReplaceUserMetadata",
    "ReplaceUserEmailAddress",
    "ReplaceUserPhoneNumber",
    "ListUserTrustedDevices",
    "RevokeUserTrustedDevice",
    "GetUserBillingSubscription",
    "GetUserBillingCreditBalance",
    "AdjustUserBillingCreditBalance",
];

/// The Users operations that exist only from API version 2025-11-10 on.
pub const SINCE_2025_11_10: [&str; 2] =
    ["SetUserPasswordCompromised", "UnsetUserPasswordCompromised"];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_users_operation_is_in_each_spec_that_has_it() {
        let ours: BTreeSet<String> = USERS_OPERATIONS.iter().map(|s| (*s).to_owned()).collect();
        for spec in Spec::all() {
            let in_spec = spec.users_operation_ids();
            let mut expected = ours.clone();
            if spec.version() == "2025-04-10" {
                for id in SINCE_2025_11_10 {
                    expected.remove(id);
                }
            }
            assert_eq!(in_spec, expected, "{}", spec.version());
            for id in &in_spec {
                let op = spec.operation(id).unwrap();
                assert!(op.response_schema(200).is_some(), "{id} has no 200 schema");
            }
        }
        assert_eq!(
            Spec::for_version("2026-05-12").unwrap().version(),
            "2026-05-12"
        );
        assert!(Spec::for_version("2024-01-01").is_none());
        // The one Users change of 2026-05-12: no metadata on PATCH /users/{user_id}.
        let patch = |spec: &'static Spec| {
            property_names(
                &spec
                    .operation("UpdateUser")
                    .unwrap()
                    .request_body_schema
                    .unwrap(),
            )
        };
        assert!(patch(&SPEC_2025_11_10).contains("public_metadata"));
        assert!(!patch(&SPEC_2026_05_12).contains("public_metadata"));
        let get = operation("GetUser").unwrap();
        assert_eq!(
            (get.method.as_str(), get.path.as_str()),
            ("GET", "/users/{user_id}")
        );
        let list = operation("GetUserList").unwrap();
        assert!(list.query_params.iter().any(|p| p == "order_by"));
    }

    #[test]
    fn validation_catches_wrong_types_and_accepts_nullable() {
        let schema = operation("GetUser").unwrap().response_schema(200).unwrap();
        let err = validate(&schema, &json!({"id": 5})).unwrap_err();
        assert!(!err.is_empty());
        let count = operation("GetUsersCount")
            .unwrap()
            .response_schema(200)
            .unwrap();
        validate(&count, &json!({"object": "total_count", "total_count": 3})).unwrap();
        assert!(
            validate(
                &count,
                &json!({"object": "total_count", "total_count": "3"})
            )
            .is_err()
        );
        let nullable = json!({"type": "string", "nullable": true});
        validate(&nullable, &Value::Null).unwrap();
        let nullable_one_of = json!({"nullable": true, "type": "object", "oneOf": [{"type": "object", "required": ["a"]}]});
        validate(&nullable_one_of, &Value::Null).unwrap();
        assert!(validate(&nullable_one_of, &json!({"b": 1})).is_err());
        assert!(validate(&json!({"type": "string"}), &Value::Null).is_err());
    }

    #[test]
    fn request_bodies_forbid_unknown_fields() {
        validate_request_body("CreateUser", &json!({"first_name": "Ada"})).unwrap();
        assert!(validate_request_body("CreateUser", &json!({"frist_name": "Ada"})).is_err());
    }
}
