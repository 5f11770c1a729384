//! Conformance with Clerk's official OpenAPI specs (the copies vendored in
//! `clerk-spec`, one per API version): for each version and each of the 38
//! operations, the operation exists in that version's spec exactly when
//! [`ApiVersion`] says it does (and is refused otherwise); our method, path
//! template, query parameter names and JSON body fields are that spec's, and our
//! bodies validate; every example of the response schemas decodes into our
//! models; and a response carrying every property the spec defines (synthesized
//! from the schemas) comes back out of our models with every property intact, so a
//! field we miss or misspell anywhere fails here.

use std::collections::BTreeSet;

use clerk_core::models::{IdentificationStatus, InvitationStatus, Metadata};
use clerk_core::users::*;
use clerk_core::{ApiVersion, BaseUrl, Body, Operation, User};
use clerk_spec::Spec;
use serde::Serialize;
use serde_json::{Map, Value, json};

fn base() -> BaseUrl {
    BaseUrl::parse("https://api.clerk.com/v1").unwrap()
}

fn meta(value: Value) -> Metadata {
    value.as_object().cloned().unwrap()
}

/// The values the maximal requests use for each path parameter.
const PATH_VALUES: [(&str, &str); 7] = [
    ("trusted_device_id", "td_1"),
    ("user_id", "user_1"),
    ("provider", "oauth_google"),
    ("passkey_identification_id", "idn_pk"),
    ("web3_wallet_identification_id", "idn_w3"),
    ("external_account_id", "eac_1"),
    ("organization_id", "org_1"),
];

fn spec_of(version: ApiVersion) -> &'static Spec {
    Spec::for_version(version.as_str()).unwrap_or_else(|| panic!("{version} is not vendored"))
}

/// Checks one maximal request against the spec of `version` and returns its
/// operation id, or `None` when the version does not have the operation (the spec
/// lacks it and the client refuses it).
fn check_request<O: Operation>(version: ApiVersion, op: &O) -> Option<&'static str> {
    let info = op.info();
    let id = info.operation_id;
    let spec = spec_of(version);
    if !version.has_operation(id) {
        assert!(
            spec.operation(id).is_none(),
            "{id} is in the {version} spec"
        );
        let err = op.check_api_version(version).expect_err("refused");
        assert!(err.is_invalid_request(), "{id}: {err:?}");
        return None;
    }
    let spec = spec
        .operation(id)
        .unwrap_or_else(|| panic!("{id} is not in the {version} spec"));
    op.check_api_version(version)
        .unwrap_or_else(|e| panic!("{id} refused under {version}: {e}"));
    let request = op.build_request(&base()).expect("maximal request builds");

    assert_eq!(request.method().as_str(), spec.method, "{id}: method");
    assert_eq!(info.path_template, spec.path, "{id}: path template");

    // The concrete path is the spec's template with our ids in the right places.
    let mut expected_path = format!("/v1{}", spec.path);
    for (name, value) in PATH_VALUES {
        expected_path = expected_path.replace(&format!("{{{name}}}"), value);
    }
    assert!(
        !expected_path.contains('{'),
        "{id}: unfilled {expected_path}"
    );
    assert_eq!(request.uri().path(), expected_path, "{id}: path");

    // Query parameter names: everything we send is in the spec, and the maximal
    // request sends everything the spec has.
    let sent: BTreeSet<String> = request
        .uri()
        .query()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, _)| k.into_owned())
                .collect()
        })
        .unwrap_or_default();
    let allowed: BTreeSet<String> = spec.query_params.iter().cloned().collect();
    assert!(
        sent.is_subset(&allowed),
        "{id}: query parameters not in the spec: {:?}",
        sent.difference(&allowed).collect::<Vec<_>>()
    );
    assert_eq!(
        sent, allowed,
        "{id}: the maximal request misses spec parameters"
    );

    let content_type = request
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = request.body().as_bytes().clone();
    match spec.request_content_type.as_deref() {
        None => {
            assert!(body.is_empty(), "{id}: sends a body the spec does not have");
            assert_eq!(content_type, None, "{id}");
        }
        Some("application/json") => {
            assert_eq!(content_type.as_deref(), Some("application/json"), "{id}");
            let schema = spec.request_body_schema.clone().expect("JSON body schema");
            let body: Value = serde_json::from_slice(&body).expect("JSON body");
            let sent: BTreeSet<String> = body
                .as_object()
                .expect("object body")
                .keys()
                .cloned()
                .collect();
            let allowed = clerk_spec::property_names(&schema);
            assert!(
                sent.is_subset(&allowed),
                "{id}: body fields not in the spec: {:?}",
                sent.difference(&allowed).collect::<Vec<_>>()
            );
            assert_eq!(sent, allowed, "{id}: the maximal body misses spec fields");
            clerk_spec::validate(&schema, &body).unwrap_or_else(|e| panic!("{id}: {e}"));
        }
        Some("multipart/form-data") => {
            let content_type = content_type.expect("multipart content type");
            assert!(
                content_type.starts_with("multipart/form-data; boundary="),
                "{id}"
            );
            let schema = spec.request_body_schema.clone().expect("multipart schema");
            let parts = clerk_spec::property_names(&schema);
            let text = String::from_utf8_lossy(&body);
            for part in &parts {
                assert!(
                    text.contains(&format!("name=\"{part}\"")),
                    "{id}: part {part}"
                );
            }
            assert_eq!(
                text.matches("Content-Disposition").count(),
                parts.len(),
                "{id}"
            );
        }
        Some(other) => panic!("{id}: unexpected media type {other}"),
    }
    Some(id)
}

fn maximal_requests_cover(version: ApiVersion, check: &mut dyn FnMut(Option<&'static str>)) {
    let check_request = |op: &dyn ErasedOperation| op.check(version);
    let list = ListUsers::new()
        .email_address("a@x.com")
        .phone_number("+1")
        .external_id("+e")
        .username("user")
        .web3_wallet("0x1")
        .user_id("-user_2")
        .organization_id("org_1")
        .query("q")
        .email_address_query("e")
        .phone_number_query("5")
        .username_query("u")
        .name_query("n")
        .banned(true)
        .last_active_at_before(1)
        .last_active_at_after(2)
        .last_active_at_since(3)
        .created_at_before(4)
        .created_at_after(5)
        .last_sign_in_at_before(6)
        .last_sign_in_at_after(7)
        .provider("oauth_google")
        .provider_user_id("p")
        .limit(10)
        .offset(0)
        .starting_after("user_0")
        .order_by(UserOrderBy::desc(UserOrderField::CreatedAt));
    check(check_request(&list));
    check(check_request(&list.to_count()));
    let create = CreateUser::new()
        .external_id("e")
        .first_name("f")
        .last_name("l")
        .locale("en")
        .email_address_with_status("a@x.com", IdentificationStatus::Reserved)
        .phone_number_with_status("+15555550100", IdentificationStatus::Verified)
        .web3_wallet("0x1")
        .username("user")
        .password("password1")
        .password_digest("d")
        .password_hasher("bcrypt")
        .skip_password_checks(true)
        .skip_password_requirement(true)
        .totp_secret("s")
        .backup_codes(["b"])
        .public_metadata(meta(json!({"a": 1})))
        .private_metadata(meta(json!({"b": 2})))
        .unsafe_metadata(meta(json!({"c": 3})))
        .delete_self_enabled(true)
        .legal_accepted_at_unix_ms(1)
        .skip_legal_checks(true)
        .skip_user_requirement(true)
        .create_organization_enabled(true)
        .create_organizations_limit(1)
        .created_at_unix_ms(2)
        .bypass_client_trust(true)
        .banned(true)
        .locked(true);
    check(check_request(&create));
    check(check_request(&GetUser::new("user_1")));
    let update = UpdateUser::new("user_1")
        .external_id("e")
        .first_name("f")
        .clear_last_name()
        .locale("en")
        .primary_email_address_id("idn_1")
        .notify_primary_email_address_changed(true)
        .primary_phone_number_id("idn_2")
        .primary_web3_wallet_id("idn_3")
        .clear_username()
        .profile_image_id("img")
        .password("password1")
        .password_digest("d")
        .password_hasher("bcrypt")
        .skip_password_checks(true)
        .sign_out_of_other_sessions(true)
        .totp_secret("s")
        .backup_codes(["b"])
        .delete_self_enabled(true)
        .create_organization_enabled(true)
        .legal_accepted_at("2020-01-01T00:00:00Z")
        .skip_legal_checks(true)
        .create_organizations_limit(2)
        .created_at_unix_ms(3)
        .bypass_client_trust(true);
    let with_metadata = update
        .clone()
        .public_metadata(meta(json!({})))
        .private_metadata(meta(json!({})))
        .unsafe_metadata(meta(json!({})));
    if version.accepts_metadata_on_user_update() {
        check(check_request(&with_metadata));
    } else {
        // The spec of this version has no metadata on the user update, and the
        // client refuses it, pointing at the metadata endpoints.
        let err = with_metadata.check_api_version(version).unwrap_err();
        assert!(err.to_string().contains("replace_metadata"), "{err}");
        check(check_request(&update));
    }
    check(check_request(&DeleteUser::new("user_1")));
    check(check_request(&BanUser::new("user_1")));
    check(check_request(&UnbanUser::new("user_1")));
    check(check_request(&BanUsers::new(["user_1", "user_2"])));
    check(check_request(&UnbanUsers::new(["user_1"])));
    check(check_request(&LockUser::new("user_1")));
    check(check_request(&UnlockUser::new("user_1")));
    check(check_request(&SetProfileImage::new(
        "user_1",
        b"img".to_vec(),
        "image/png",
    )));
    check(check_request(&DeleteProfileImage::new("user_1")));
    check(check_request(
        &UpdateUserMetadata::new("user_1")
            .public_metadata(meta(json!({"a": null})))
            .private_metadata(meta(json!({"b": {"c": 1}})))
            .unsafe_metadata(meta(json!({}))),
    ));
    check(check_request(
        &GetOAuthAccessTokens::new("user_1", "oauth_google")
            .paginated(true)
            .limit(5)
            .offset(1),
    ));
    check(check_request(
        &GetOrganizationMemberships::new("user_1").limit(5).offset(1),
    ));
    check(check_request(
        &GetOrganizationInvitations::new("user_1")
            .limit(5)
            .offset(1)
            .status(InvitationStatus::Revoked),
    ));
    check(check_request(&VerifyPassword::new("user_1", "pw")));
    check(check_request(&VerifyTotp::new("user_1", "123456")));
    check(check_request(&DisableMfa::new("user_1")));
    check(check_request(&DeleteBackupCodes::new("user_1")));
    check(check_request(&DeletePasskey::new("user_1", "idn_pk")));
    check(check_request(&DeleteWeb3Wallet::new("user_1", "idn_w3")));
    check(check_request(&DeleteTotp::new("user_1")));
    check(check_request(&DeleteExternalAccount::new(
        "user_1", "eac_1",
    )));
    check(check_request(
        &GetInstanceOrganizationMemberships::new()
            .order_by(MembershipOrderBy::asc(MembershipOrderField::Username))
            .limit(5)
            .offset(1),
    ));
    check(check_request(
        &SetPasswordCompromised::new("user_1").revoke_all_sessions(true),
    ));
    check(check_request(&UnsetPasswordCompromised::new("user_1")));
    check(check_request(
        &RemovePassword::new("user_1").sign_out_of_other_sessions(true),
    ));
    check(check_request(
        &ReplaceUserMetadata::new("user_1")
            .public_metadata(meta(json!({"a": 1})))
            .private_metadata(meta(json!({"b": {"c": 1}})))
            .unsafe_metadata(meta(json!({}))),
    ));
    check(check_request(
        &ReplaceEmailAddress::new("user_1", "a@x.com")
            .identification_status(IdentificationStatus::Unverified)
            .notify_primary_email_address_changed(true),
    ));
    check(check_request(
        &ReplacePhoneNumber::new("user_1", "+15555550100")
            .identification_status(IdentificationStatus::Reserved),
    ));
    check(check_request(&ListTrustedDevices::new("user_1")));
    check(check_request(&RevokeTrustedDevice::new("user_1", "td_1")));
    check(check_request(&GetBillingSubscription::new("user_1")));
    check(check_request(&GetBillingCreditBalance::new("user_1")));
    check(check_request(
        &AdjustBillingCreditBalance::decrease("user_1", 250, "key-1")
            .currency("EUR")
            .note("refund"),
    ));
}

/// `check_request` for a `&dyn`, so the list above can name each request once.
trait ErasedOperation {
    fn check(&self, version: ApiVersion) -> Option<&'static str>;
}

impl<O: Operation> ErasedOperation for O {
    fn check(&self, version: ApiVersion) -> Option<&'static str> {
        check_request(version, self)
    }
}

fn all_operations() -> BTreeSet<&'static str> {
    clerk_spec::USERS_OPERATIONS.into_iter().collect()
}

/// The Users operations of the spec of `version`.
fn operations_of(version: ApiVersion) -> BTreeSet<String> {
    spec_of(version).users_operation_ids()
}

#[test]
fn requests_match_each_versions_spec_for_all_38_operations() {
    let mut union = BTreeSet::new();
    for version in ApiVersion::ALL {
        let mut seen = BTreeSet::new();
        let mut refused = 0;
        maximal_requests_cover(version, &mut |id| match id {
            Some(id) => assert!(seen.insert(id.to_owned()), "{id} checked twice"),
            None => refused += 1,
        });
        assert_eq!(seen, operations_of(version), "{version}");
        assert_eq!(seen.len() + refused, 38, "{version}");
        union.extend(seen);
    }
    let union: BTreeSet<&str> = union.iter().map(String::as_str).collect();
    assert_eq!(union, all_operations());
    assert_eq!(operations_of(ApiVersion::V2025_04_10).len(), 36);
}

#[test]
fn body_field_lists_are_the_specs() {
    for version in ApiVersion::ALL {
        for (id, fields) in [
            ("CreateUser", CreateUser::FIELDS),
            ("UpdateUser", UpdateUser::FIELDS),
            ("UpdateUserMetadata", UpdateUserMetadata::FIELDS),
            ("ReplaceUserMetadata", ReplaceUserMetadata::FIELDS),
        ] {
            let schema = spec_of(version)
                .operation(id)
                .unwrap()
                .request_body_schema
                .unwrap();
            let mut ours: BTreeSet<String> = fields.iter().map(|s| (*s).to_owned()).collect();
            if id == "UpdateUser" && !version.accepts_metadata_on_user_update() {
                ours.retain(|f| !f.ends_with("_metadata"));
            }
            assert_eq!(ours, clerk_spec::property_names(&schema), "{id} {version}");
        }
    }
}

#[test]
fn create_user_field_kinds_are_the_specs_types() {
    let schema = clerk_spec::operation("CreateUser")
        .unwrap()
        .request_body_schema
        .unwrap();
    let properties = schema["properties"].as_object().unwrap();
    for (name, kind) in CreateUser::FIELD_KINDS {
        let mut property = properties[*name].clone();
        if let Some(reference) = property.get("$ref").and_then(Value::as_str) {
            let component = reference.rsplit('/').next().unwrap();
            property = clerk_spec::component_schema(component).unwrap();
        }
        let ty = property.get("type").and_then(Value::as_str);
        let items = property.pointer("/items/type").and_then(Value::as_str);
        let spec_kind = match (ty, items) {
            (Some("string"), _) => FieldKind::String,
            (Some("array"), Some("string")) => FieldKind::StringList,
            (Some("boolean"), _) => FieldKind::Bool,
            (Some("integer"), _) => FieldKind::Integer,
            (Some("object"), _) => FieldKind::Object,
            other => panic!("{name}: unexpected spec type {other:?}"),
        };
        assert_eq!(*kind, spec_kind, "{name}");
    }
    let names: Vec<&str> = CreateUser::FIELD_KINDS.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, CreateUser::FIELDS);
}

// ---------------------------------------------------------------------------
// Responses

/// A value for `schema` with every property present and non-null. `choice`
/// picks which branch of each `oneOf`/`anyOf` and which `enum` value to use, so
/// running it for several choices covers every variant.
fn synthesize(schema: &Value, name: &str, choice: usize) -> Value {
    if let Some(example) = schema.get("example") {
        return example.clone();
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return values[choice % values.len()].clone();
    }
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        let mut merged = Map::new();
        if let Some(Value::Object(own)) = own_properties(schema, name, choice) {
            merged.extend(own);
        }
        for part in parts {
            if let Value::Object(obj) = synthesize(part, name, choice) {
                merged.extend(obj);
            }
        }
        return Value::Object(merged);
    }
    for combinator in ["oneOf", "anyOf"] {
        if let Some(options) = schema.get(combinator).and_then(Value::as_array)
            && schema.get("properties").is_none()
        {
            return synthesize(&options[choice % options.len()], name, choice);
        }
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("array") => {
            let items = schema.get("items").cloned().unwrap_or(json!({}));
            Value::Array(vec![synthesize(&items, name, choice)])
        }
        Some("integer") => json!(1_700_690_400_123_i64 + name.len() as i64),
        Some("number") => json!(1.5),
        Some("boolean") => json!(true),
        Some("string") => {
            let pattern = schema.get("pattern").and_then(Value::as_str).unwrap_or("");
            if pattern.contains("from_oauth") {
                json!("from_oauth_google")
            } else if pattern.contains("oauth_") {
                json!("oauth_google")
            } else {
                json!(format!("{name}-value"))
            }
        }
        _ => own_properties(schema, name, choice).unwrap_or_else(|| json!({"key": "value"})),
    }
}

fn own_properties(schema: &Value, _name: &str, choice: usize) -> Option<Value> {
    let properties = schema.get("properties")?.as_object()?;
    Some(Value::Object(
        properties
            .iter()
            .map(|(prop, s)| (prop.clone(), synthesize(s, prop, choice)))
            .collect(),
    ))
}

/// The most branches any `oneOf`/`anyOf`/`enum` in `schema` has.
fn max_choices(schema: &Value) -> usize {
    let here = ["oneOf", "anyOf", "enum"]
        .iter()
        .filter_map(|k| schema.get(*k).and_then(Value::as_array).map(Vec::len))
        .max()
        .unwrap_or(1);
    let below = match schema {
        Value::Object(map) => map.values().map(max_choices).max().unwrap_or(1),
        Value::Array(items) => items.iter().map(max_choices).max().unwrap_or(1),
        _ => 1,
    };
    here.max(below)
}

/// Whether every key of `expected` is in `actual` with the same value, at
/// every depth. Returns the first difference.
fn contains(expected: &Value, actual: &Value, path: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, value) in e {
                let inner = format!("{path}/{key}");
                let got = a.get(key).ok_or_else(|| format!("{inner} is missing"))?;
                contains(value, got, &inner)?;
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => e
            .iter()
            .zip(a)
            .enumerate()
            .try_for_each(|(i, (e, a))| contains(e, a, &format!("{path}/{i}"))),
        (e, a) if e == a => Ok(()),
        (e, a) => Err(format!("{path}: sent {e}, model gave back {a}")),
    }
}

fn ok(json: &Value) -> http::Response<Body> {
    http::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(json).unwrap()))
        .unwrap()
}

/// The spec's examples are fragments: a user built from them lacks the `id` and
/// `object` the schema requires, and a response that is not a user is refused.
/// Fills both in where the operation returns users and the fragment has neither.
fn complete_users<O: Operation>(op: &O, example: &Value) -> Value {
    let returns_users = std::any::type_name::<O::Output>().ends_with("User>")
        || std::any::type_name::<O::Output>().ends_with("::User");
    let complete = |v: &Value| match v {
        Value::Object(map) if !map.contains_key("id") && !map.contains_key("object") => {
            let mut map = map.clone();
            map.insert("id".into(), "user_example".into());
            map.insert("object".into(), "user".into());
            Value::Object(map)
        }
        other => other.clone(),
    };
    let _ = op;
    match example {
        _ if !returns_users => example.clone(),
        Value::Array(items) => Value::Array(items.iter().map(complete).collect()),
        other => complete(other),
    }
}

/// Checks the 200 schema of one operation in the spec of `version` against its
/// output type (`None` when that version has no such operation).
fn check_response<O>(version: ApiVersion, op: &O) -> Option<&'static str>
where
    O: Operation,
    O::Output: Serialize,
{
    let id = op.info().operation_id;
    if !version.has_operation(id) {
        return None;
    }
    let spec = spec_of(version).operation(id).unwrap();
    let schema = spec
        .response_schema(200)
        .unwrap_or_else(|| panic!("{id}: no 200 schema"));

    // 1. Every example the schema carries on an object or array, and the object
    //    built from the examples of its properties, decode into our model, and
    //    the example values survive.
    let mut examples: Vec<Value> = clerk_spec::examples_in(&schema)
        .into_iter()
        .filter(|e| e.is_object() || e.is_array())
        .collect();
    examples.extend(clerk_spec::instance_from_examples(&schema));
    for example in &examples {
        let example = &complete_users(op, example);
        let output = op
            .parse_response(ok(example))
            .unwrap_or_else(|e| panic!("{id}: example {example} does not decode: {e:?}"));
        let back = serde_json::to_value(&output).unwrap();
        contains(example, &back, "").unwrap_or_else(|e| panic!("{id}: example: {e}"));
    }

    // 2. A response with every property the schema defines, in each variant.
    for choice in 0..max_choices(&schema) {
        let full = synthesize(&schema, "root", choice);
        clerk_spec::validate(&schema, &full)
            .unwrap_or_else(|e| panic!("{id}: synthesized response is off-spec: {e}\n{full}"));
        let output = op
            .parse_response(ok(&full))
            .unwrap_or_else(|e| panic!("{id}: full response does not decode: {e:?}"));
        let back = serde_json::to_value(&output).unwrap();
        contains(&full, &back, "").unwrap_or_else(|e| panic!("{id} (variant {choice}): {e}"));
        // And what the model emits is itself on-spec (no invented keys, right types).
        clerk_spec::validate(&schema, &back)
            .unwrap_or_else(|e| panic!("{id}: model output is off-spec: {e}"));
    }
    Some(id)
}

#[test]
fn response_schemas_and_examples_decode_into_our_models() {
    for version in ApiVersion::ALL {
        responses_decode(version);
    }
}

fn responses_decode(version: ApiVersion) {
    let mut seen = BTreeSet::new();
    let mut check = |id: Option<&'static str>| {
        if let Some(id) = id {
            assert!(seen.insert(id.to_owned()), "{id} checked twice");
        }
    };
    let check_response = |op: &dyn ErasedResponse| op.check(version);
    check(check_response(&ListUsers::new()));
    check(check_response(&CreateUser::new()));
    check(check_response(&CountUsers::new()));
    check(check_response(&GetUser::new("u")));
    check(check_response(&UpdateUser::new("u")));
    check(check_response(&DeleteUser::new("u")));
    check(check_response(&BanUser::new("u")));
    check(check_response(&UnbanUser::new("u")));
    check(check_response(&BanUsers::new(["u"])));
    check(check_response(&UnbanUsers::new(["u"])));
    check(check_response(&LockUser::new("u")));
    check(check_response(&UnlockUser::new("u")));
    check(check_response(&SetProfileImage::new(
        "u",
        Vec::new(),
        "image/png",
    )));
    check(check_response(&DeleteProfileImage::new("u")));
    check(check_response(&UpdateUserMetadata::new("u")));
    check(check_response(&GetOAuthAccessTokens::new(
        "u",
        "oauth_google",
    )));
    check(check_response(&GetOrganizationMemberships::new("u")));
    check(check_response(&GetOrganizationInvitations::new("u")));
    check(check_response(&VerifyPassword::new("u", "p")));
    check(check_response(&VerifyTotp::new("u", "1")));
    check(check_response(&DisableMfa::new("u")));
    check(check_response(&DeleteBackupCodes::new("u")));
    check(check_response(&DeletePasskey::new("u", "i")));
    check(check_response(&DeleteWeb3Wallet::new("u", "i")));
    check(check_response(&DeleteTotp::new("u")));
    check(check_response(&DeleteExternalAccount::new("u", "e")));
    check(check_response(&GetInstanceOrganizationMemberships::new()));
    check(check_response(&SetPasswordCompromised::new("u")));
    check(check_response(&UnsetPasswordCompromised::new("u")));
    check(check_response(&RemovePassword::new("u")));
    check(check_response(&ReplaceUserMetadata::new("u")));
    check(check_response(&ReplaceEmailAddress::new("u", "a@x.com")));
    check(check_response(&ReplacePhoneNumber::new("u", "+1")));
    check(check_response(&ListTrustedDevices::new("u")));
    check(check_response(&RevokeTrustedDevice::new("u", "td")));
    check(check_response(&GetBillingSubscription::new("u")));
    check(check_response(&GetBillingCreditBalance::new("u")));
    check(check_response(&AdjustBillingCreditBalance::increase(
        "u", 1, "k",
    )));
    assert_eq!(seen, operations_of(version), "{version}");
}

/// `check_response` for a `&dyn`.
trait ErasedResponse {
    fn check(&self, version: ApiVersion) -> Option<&'static str>;
}

impl<O> ErasedResponse for O
where
    O: Operation,
    O::Output: Serialize,
{
    fn check(&self, version: ApiVersion) -> Option<&'static str> {
        check_response(version, self)
    }
}

#[test]
fn user_has_every_property_of_the_spec_user_schema() {
    for spec in Spec::all() {
        user_has_every_property(spec);
    }
}

fn user_has_every_property(spec: &'static Spec) {
    let schema = spec.component_schema("User").expect("User schema");
    let full = synthesize(&schema, "user", 0);
    let user: User = serde_json::from_value(full).unwrap();
    let ours: BTreeSet<String> = serde_json::to_value(&user)
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let spec = clerk_spec::property_names(&schema);
    assert_eq!(
        ours,
        spec,
        "missing: {:?}, extra: {:?}",
        spec.difference(&ours).collect::<Vec<_>>(),
        ours.difference(&spec).collect::<Vec<_>>()
    );
}

#[test]
fn the_synthesizer_catches_a_misspelled_field() {
    // Guard for the checks above: a model that loses a property must fail them.
    #[derive(serde::Deserialize, Serialize)]
    struct Misspelled {
        user_id: Option<String>,
        #[serde(rename = "verifed")]
        verified: Option<bool>,
    }
    let schema = clerk_spec::operation("VerifyPassword")
        .unwrap()
        .response_schema(200)
        .unwrap();
    let full = synthesize(&schema, "root", 0);
    let decoded: Misspelled = serde_json::from_value(full.clone()).unwrap();
    let back = serde_json::to_value(&decoded).unwrap();
    assert!(contains(&full, &back, "").is_err());
}
