//! The exact HTTP request of every operation: method, path, query string, headers
//! and body, plus the encoding of hostile ids and the client-side checks.

use bytes::Bytes;
use clerk_core::models::{IdentificationStatus, InvitationStatus, Metadata};
use clerk_core::users::*;
use clerk_core::{ApiVersion, BaseUrl, Body, Error, Operation, OperationInfo, RetryClass};
use http::{Method, StatusCode};
use serde_json::{Value, json};

fn base() -> BaseUrl {
    BaseUrl::parse("https://api.clerk.com/v1").unwrap()
}

/// What went on the wire.
#[derive(Debug)]
struct Sent {
    method: Method,
    /// Path and query, relative to `/v1`.
    target: String,
    content_type: Option<String>,
    body: Bytes,
    info: OperationInfo,
    header_names: Vec<String>,
}

impl Sent {
    fn json(&self) -> Value {
        assert_eq!(self.content_type.as_deref(), Some("application/json"));
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    fn assert_no_body(&self) {
        assert!(self.body.is_empty(), "{} sends a body", self.target);
        assert_eq!(
            self.content_type, None,
            "{} sends a content type",
            self.target
        );
        assert!(self.header_names.is_empty(), "{:?}", self.header_names);
    }
}

fn send(op: &impl Operation) -> Sent {
    let request = op.build_request(&base()).expect("request builds");
    let uri = request.uri().clone();
    assert_eq!(uri.scheme_str(), Some("https"));
    assert_eq!(uri.authority().map(|a| a.as_str()), Some("api.clerk.com"));
    let pq = uri.path_and_query().unwrap().as_str();
    let target = pq.strip_prefix("/v1").expect("under the prefix").to_owned();
    let info = request
        .extensions()
        .get::<OperationInfo>()
        .cloned()
        .expect("operation info attached");
    assert_eq!(info, op.info());
    Sent {
        method: request.method().clone(),
        target,
        content_type: request
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned()),
        header_names: request
            .headers()
            .keys()
            .filter(|k| *k != "content-type")
            .map(|k| k.to_string())
            .collect(),
        body: request.into_body().into_bytes(),
        info,
    }
}

fn refused(op: &impl Operation) -> Error {
    let err = op
        .build_request(&base())
        .expect_err("request must be refused");
    assert!(err.is_invalid_request(), "{err:?}");
    err
}

fn meta(value: Value) -> Metadata {
    value.as_object().cloned().unwrap()
}

#[test]
fn list_users_with_every_parameter() {
    let op = ListUsers::new()
        .email_address("ada@example.com")
        .email_address("bob+tag@example.com")
        .phone_number("+15555550100")
        .external_ids(["+ext_1", "-ext_2"])
        .username("ada")
        .web3_wallet("0xabc")
        .user_id("+user_1")
        .user_id("-user_2")
        .organization_id("org_1")
        .query("a&b=c")
        .email_address_query("ello")
        .phone_number_query("555")
        .username_query("Cool")
        .name_query("Ada L")
        .banned(false)
        .last_active_at_before(1_700_000_000_001)
        .last_active_at_after(1_700_000_000_002)
        .last_active_at_since(1_700_000_000_003)
        .created_at_before(1_700_000_000_004)
        .created_at_after(1_700_000_000_005)
        .last_sign_in_at_before(1_700_000_000_006)
        .last_sign_in_at_after(1_700_000_000_007)
        .provider("oauth_google")
        .provider_user_id("12345")
        .provider_user_ids(["678"])
        .limit(500)
        .starting_after("user_9")
        .order_by(UserOrderBy::asc(UserOrderField::CreatedAt));
    let sent = send(&op);
    assert_eq!(sent.method, Method::GET);
    assert_eq!(
        sent.target,
        "/users?email_address=ada%40example.com&email_address=bob%2Btag%40example.com\
         &phone_number=%2B15555550100&external_id=%2Bext_1&external_id=-ext_2\
         &username=ada&web3_wallet=0xabc&user_id=%2Buser_1&user_id=-user_2\
         &organization_id=org_1&query=a%26b%3Dc&email_address_query=ello\
         &phone_number_query=555&username_query=Cool&name_query=Ada%20L&banned=false\
         &last_active_at_before=1700000000001&last_active_at_after=1700000000002\
         &last_active_at_since=1700000000003&created_at_before=1700000000004\
         &created_at_after=1700000000005&last_sign_in_at_before=1700000000006\
         &last_sign_in_at_after=1700000000007&provider=oauth_google\
         &provider_user_id=12345&provider_user_id=678&limit=500\
         &starting_after=user_9&order_by=%2Bcreated_at"
    );
    sent.assert_no_body();
    assert_eq!(
        (sent.info.operation_id, sent.info.path_template),
        ("GetUserList", "/users")
    );
    assert_eq!(sent.info.retry_class, RetryClass::Idempotent);
}

#[test]
fn list_users_defaults_send_no_query() {
    let sent = send(&ListUsers::new());
    assert_eq!(sent.target, "/users");
    let op = ListUsers::new();
    assert_eq!((op.get_limit(), op.get_offset()), (10, 0));
    assert!(op.uses_created_at_order());
}

#[test]
fn list_users_order_and_offset() {
    let op = ListUsers::new()
        .order_by(UserOrderBy::desc(UserOrderField::Web3Wallet))
        .offset(40)
        .limit(20);
    assert_eq!(
        send(&op).target,
        "/users?limit=20&offset=40&order_by=-web3wallet"
    );
    assert!(!op.uses_created_at_order());
    assert_eq!(
        op.get_order_by(),
        Some(&UserOrderBy::desc(UserOrderField::Web3Wallet))
    );
    assert_eq!((op.get_limit(), op.get_offset()), (20, 40));
    assert!(
        ListUsers::new()
            .order_by(UserOrderBy::desc(UserOrderField::CreatedAt))
            .uses_created_at_order()
    );
}

#[test]
fn list_users_refuses_what_the_server_would_reject() {
    refused(&ListUsers::new().limit(0));
    refused(&ListUsers::new().limit(501));
    refused(
        &ListUsers::new()
            .starting_after("user_1")
            .order_by(UserOrderBy::asc(UserOrderField::Username)),
    );
    refused(&ListUsers::new().starting_after("user_1").offset(10));
    refused(&ListUsers::new().starting_after(""));
    refused(&ListUsers::new().provider("oauth_google"));
    refused(&ListUsers::new().provider_user_id("1"));
}

#[test]
fn order_by_renders_and_parses_every_field() {
    let fields = [
        (UserOrderField::CreatedAt, "created_at"),
        (UserOrderField::UpdatedAt, "updated_at"),
        (UserOrderField::EmailAddress, "email_address"),
        (UserOrderField::Web3Wallet, "web3wallet"),
        (UserOrderField::FirstName, "first_name"),
        (UserOrderField::LastName, "last_name"),
        (UserOrderField::PhoneNumber, "phone_number"),
        (UserOrderField::Username, "username"),
        (UserOrderField::LastActiveAt, "last_active_at"),
        (UserOrderField::LastSignInAt, "last_sign_in_at"),
    ];
    for (field, name) in fields {
        assert_eq!(UserOrderBy::asc(field).to_string(), format!("+{name}"));
        assert_eq!(UserOrderBy::desc(field).to_string(), format!("-{name}"));
        assert_eq!(
            name.parse::<UserOrderBy>().unwrap(),
            UserOrderBy::asc(field)
        );
        assert_eq!(
            format!("-{name}").parse::<UserOrderBy>().unwrap(),
            UserOrderBy::desc(field)
        );
        let sent = send(&ListUsers::new().order_by(UserOrderBy::asc(field)));
        assert_eq!(sent.target, format!("/users?order_by=%2B{name}"));
    }
    assert!("web3_wallet".parse::<UserOrderBy>().is_err());
    assert!("-".parse::<UserOrderBy>().is_err());
}

#[test]
fn count_users_shares_the_list_filters() {
    let filter = UserFilter::new()
        .email_address("a@x.com")
        .organization_id("-org_1")
        .banned(true)
        .provider("oauth_github")
        .provider_user_id("7");
    let list = ListUsers::new().filter(filter.clone()).limit(5);
    let count = CountUsers::new().filter(filter.clone());
    assert_eq!(list.to_count(), count);
    assert_eq!(CountUsers::from(filter), count);
    let sent = send(&count);
    assert_eq!(sent.method, Method::GET);
    assert_eq!(
        sent.target,
        "/users/count?email_address=a%40x.com&organization_id=-org_1&banned=true\
         &provider=oauth_github&provider_user_id=7"
    );
    sent.assert_no_body();
    assert_eq!(sent.info.operation_id, "GetUsersCount");
    // The list sends exactly the count's filters, then its paging.
    let list_target = send(&list).target;
    assert_eq!(
        list_target,
        sent.target.replace("/users/count", "/users") + "&limit=5"
    );
}

#[test]
fn create_user_with_every_field() {
    let op = CreateUser::new()
        .external_id("ext-1")
        .first_name("Ada")
        .last_name("Lovelace")
        .locale("en-GB")
        .email_address("ada@example.com")
        .email_address_with_status("old@example.com", IdentificationStatus::Reserved)
        .phone_number("+15555550100")
        .web3_wallet("0xabc")
        .username("ada_l")
        .password("correct horse")
        .password_digest("$2a$10$abc")
        .password_hasher("bcrypt")
        .skip_password_checks(true)
        .skip_password_requirement(false)
        .totp_secret("JBSWY3DPEHPK3PXP")
        .backup_codes(["c1", "c2"])
        .public_metadata(meta(json!({"plan": "pro"})))
        .private_metadata(meta(json!({"crm": {"id": 1}})))
        .unsafe_metadata(meta(json!({})))
        .delete_self_enabled(true)
        .legal_accepted_at("2024-01-02T03:04:05.006Z")
        .skip_legal_checks(true)
        .skip_user_requirement(true)
        .create_organization_enabled(false)
        .create_organizations_limit(3)
        .created_at_unix_ms(1_350_717_320_902)
        .bypass_client_trust(true)
        .banned(false)
        .locked(true);
    let sent = send(&op);
    assert_eq!(sent.method, Method::POST);
    assert_eq!(sent.target, "/users");
    assert_eq!(
        sent.json(),
        json!({
            "external_id": "ext-1",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "locale": "en-GB",
            "email_address": ["ada@example.com", "old@example.com"],
            "email_address_identification_status": ["verified", "reserved"],
            "phone_number": ["+15555550100"],
            "web3_wallet": ["0xabc"],
            "username": "ada_l",
            "password": "correct horse",
            "password_digest": "$2a$10$abc",
            "password_hasher": "bcrypt",
            "skip_password_checks": true,
            "skip_password_requirement": false,
            "totp_secret": "JBSWY3DPEHPK3PXP",
            "backup_codes": ["c1", "c2"],
            "public_metadata": {"plan": "pro"},
            "private_metadata": {"crm": {"id": 1}},
            "unsafe_metadata": {},
            "delete_self_enabled": true,
            "legal_accepted_at": "2024-01-02T03:04:05.006Z",
            "skip_legal_checks": true,
            "skip_user_requirement": true,
            "create_organization_enabled": false,
            "create_organizations_limit": 3,
            "created_at": "2012-10-20T07:15:20.902Z",
            "bypass_client_trust": true,
            "banned": false,
            "locked": true
        })
    );
    assert_eq!(sent.info.retry_class, RetryClass::NotIdempotent);
    assert_eq!(sent.info.per_user_limit_key, None);

    let debug = format!("{op:?}");
    for secret in ["correct horse", "$2a$10$abc", "JBSWY3DPEHPK3PXP", "c1"] {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }
}

#[test]
fn create_user_leaves_absent_fields_out() {
    let sent = send(&CreateUser::new().email_address("a@x.com"));
    assert_eq!(sent.json(), json!({"email_address": ["a@x.com"]}));
    assert_eq!(send(&CreateUser::new()).json(), json!({}));
}

#[test]
fn create_user_checks_parallel_status_lists() {
    let mut op = CreateUser::new().phone_number("+1").phone_number("+2");
    op.phone_number_identification_status = vec![IdentificationStatus::Reserved];
    refused(&op);
}

#[test]
fn create_user_decodes_clerk_bodies_and_the_strict_importer_names_unknown_fields() {
    let line = r#"{"email_address":["a@x.com"],"password_digest":"$2b$1","password_hasher":"bcrypt",
                  "created_at":1350717320902,"legal_accepted_at":"2024-01-02T00:00:00Z",
                  "public_metadata":{"a":1},"skip_password_checks":null}"#;
    let op = CreateUser::from_json_strict(line).unwrap();
    assert_eq!(op.created_at.as_deref(), Some("2012-10-20T07:15:20.902Z"));
    assert_eq!(
        op.legal_accepted_at.as_deref(),
        Some("2024-01-02T00:00:00Z")
    );
    assert_eq!(op.email_address, ["a@x.com"]);
    let lenient: CreateUser = serde_json::from_str(line).unwrap();
    assert_eq!(lenient, op);

    let err = CreateUser::from_json_strict(r#"{"emial_address":["a@x.com"]}"#).unwrap_err();
    assert!(err.contains("\"emial_address\""), "{err}");
    let err = CreateUser::from_json_strict(r#"{"email_address":"a@x.com"}"#).unwrap_err();
    assert!(err.contains("invalid type"), "{err}");
    assert!(CreateUser::from_json_strict("[1]").is_err());
    assert!(CreateUser::from_json_strict("{").is_err());
    // The lenient decoder ignores unknown fields.
    assert!(serde_json::from_str::<CreateUser>(r#"{"emial_address":[]}"#).is_ok());
}

#[test]
fn get_delete_and_bodyless_user_operations() {
    let cases: Vec<(Sent, Method, &str, &str)> = vec![
        (
            send(&GetUser::new("user_1")),
            Method::GET,
            "/users/user_1",
            "GetUser",
        ),
        (
            send(&DeleteUser::new("user_1")),
            Method::DELETE,
            "/users/user_1",
            "DeleteUser",
        ),
        (
            send(&BanUser::new("user_1")),
            Method::POST,
            "/users/user_1/ban",
            "BanUser",
        ),
        (
            send(&UnbanUser::new("user_1")),
            Method::POST,
            "/users/user_1/unban",
            "UnbanUser",
        ),
        (
            send(&LockUser::new("user_1")),
            Method::POST,
            "/users/user_1/lock",
            "LockUser",
        ),
        (
            send(&UnlockUser::new("user_1")),
            Method::POST,
            "/users/user_1/unlock",
            "UnlockUser",
        ),
        (
            send(&DeleteProfileImage::new("user_1")),
            Method::DELETE,
            "/users/user_1/profile_image",
            "DeleteUserProfileImage",
        ),
        (
            send(&DisableMfa::new("user_1")),
            Method::DELETE,
            "/users/user_1/mfa",
            "DisableMFA",
        ),
        (
            send(&DeleteBackupCodes::new("user_1")),
            Method::DELETE,
            "/users/user_1/backup_code",
            "DeleteBackupCode",
        ),
        (
            send(&DeleteTotp::new("user_1")),
            Method::DELETE,
            "/users/user_1/totp",
            "DeleteTOTP",
        ),
        (
            send(&DeletePasskey::new("user_1", "idn_pk")),
            Method::DELETE,
            "/users/user_1/passkeys/idn_pk",
            "UserPasskeyDelete",
        ),
        (
            send(&DeleteWeb3Wallet::new("user_1", "idn_w3")),
            Method::DELETE,
            "/users/user_1/web3_wallets/idn_w3",
            "UserWeb3WalletDelete",
        ),
        (
            send(&DeleteExternalAccount::new("user_1", "eac_1")),
            Method::DELETE,
            "/users/user_1/external_accounts/eac_1",
            "DeleteExternalAccount",
        ),
    ];
    for (sent, method, target, operation_id) in cases {
        assert_eq!(sent.method, method, "{target}");
        assert_eq!(sent.target, target);
        assert_eq!(sent.info.operation_id, operation_id);
        assert_eq!(sent.info.retry_class, RetryClass::Idempotent);
        assert_eq!(sent.info.per_user_limit_key, None);
        sent.assert_no_body();
    }
}

#[test]
fn update_user_with_every_field_and_explicit_nulls() {
    let op = UpdateUser::new("user_1")
        .external_id("ext")
        .first_name("Ada")
        .clear_last_name()
        .locale("fr-FR")
        .primary_email_address_id("idn_e")
        .notify_primary_email_address_changed(true)
        .primary_phone_number_id("idn_p")
        .primary_web3_wallet_id("idn_w")
        .clear_username()
        .profile_image_id("img_1")
        .password("new password")
        .password_digest("$argon2id$v=19$x")
        .password_hasher("argon2id")
        .skip_password_checks(true)
        .sign_out_of_other_sessions(true)
        .totp_secret("JBSWY3DPEHPK3PXP")
        .backup_codes(["b1"])
        .public_metadata(meta(json!({"p": 1})))
        .private_metadata(meta(json!({"q": [1, 2]})))
        .unsafe_metadata(meta(json!({})))
        .delete_self_enabled(false)
        .create_organization_enabled(true)
        .legal_accepted_at_unix_ms(0)
        .skip_legal_checks(false)
        .create_organizations_limit(0)
        .created_at("2020-01-01T00:00:00Z")
        .bypass_client_trust(false);
    let sent = send(&op);
    assert_eq!(sent.method, Method::PATCH);
    assert_eq!(sent.target, "/users/user_1");
    assert_eq!(
        sent.json(),
        json!({
            "external_id": "ext",
            "first_name": "Ada",
            "last_name": null,
            "locale": "fr-FR",
            "primary_email_address_id": "idn_e",
            "notify_primary_email_address_changed": true,
            "primary_phone_number_id": "idn_p",
            "primary_web3_wallet_id": "idn_w",
            "username": null,
            "profile_image_id": "img_1",
            "password": "new password",
            "password_digest": "$argon2id$v=19$x",
            "password_hasher": "argon2id",
            "skip_password_checks": true,
            "sign_out_of_other_sessions": true,
            "totp_secret": "JBSWY3DPEHPK3PXP",
            "backup_codes": ["b1"],
            "public_metadata": {"p": 1},
            "private_metadata": {"q": [1, 2]},
            "unsafe_metadata": {},
            "delete_self_enabled": false,
            "create_organization_enabled": true,
            "legal_accepted_at": "1970-01-01T00:00:00.000Z",
            "skip_legal_checks": false,
            "create_organizations_limit": 0,
            "created_at": "2020-01-01T00:00:00Z",
            "bypass_client_trust": false
        })
    );
    assert_eq!(sent.info.operation_id, "UpdateUser");
    assert_eq!(sent.info.path_template, "/users/{user_id}");
    assert_eq!(sent.info.per_user_limit_key.as_deref(), Some("user_1"));
    let debug = format!("{op:?}");
    for secret in ["new password", "$argon2id", "JBSWY3DPEHPK3PXP", "\"b1\""] {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }

    // An empty update is `{}`, and decoding keeps null apart from absent.
    assert_eq!(send(&UpdateUser::new("user_1")).json(), json!({}));
    let decoded: UpdateUser =
        serde_json::from_str(r#"{"username":null,"first_name":"A","created_at":0}"#).unwrap();
    assert_eq!(decoded.username, Some(None));
    assert_eq!(decoded.first_name, Some(Some("A".into())));
    assert_eq!(decoded.last_name, None);
    assert_eq!(
        decoded.created_at,
        Some(Some("1970-01-01T00:00:00.000Z".into()))
    );
    let decoded = decoded.with_user_id("user_2");
    assert_eq!(
        send(&decoded).json(),
        json!({"username": null, "first_name": "A", "created_at": "1970-01-01T00:00:00.000Z"})
    );
}

#[test]
fn update_user_metadata_merges() {
    let op = UpdateUserMetadata::new("user_1")
        .public_metadata(meta(
            json!({"plan": "pro", "old": null, "nested": {"a": null}}),
        ))
        .private_metadata(meta(json!({"x": [1]})));
    let sent = send(&op);
    assert_eq!(sent.method, Method::PATCH);
    assert_eq!(sent.target, "/users/user_1/metadata");
    assert_eq!(
        sent.json(),
        json!({
            "public_metadata": {"plan": "pro", "old": null, "nested": {"a": null}},
            "private_metadata": {"x": [1]}
        })
    );
    assert_eq!(sent.info.operation_id, "UpdateUserMetadata");
    assert_eq!(sent.info.per_user_limit_key.as_deref(), Some("user_1"));
    assert_eq!(
        send(&UpdateUserMetadata::new("u").unsafe_metadata(meta(json!({"k": 1})))).json(),
        json!({"unsafe_metadata": {"k": 1}})
    );
    assert_eq!(send(&UpdateUserMetadata::new("u")).json(), json!({}));
}

#[test]
fn bulk_ban_and_unban() {
    let sent = send(&BanUsers::new(["user_1", "user_2"]));
    assert_eq!(
        (sent.method.clone(), sent.target.as_str()),
        (Method::POST, "/users/ban")
    );
    assert_eq!(sent.json(), json!({"user_ids": ["user_1", "user_2"]}));
    assert_eq!(sent.info.operation_id, "UsersBan");

    let sent = send(&UnbanUsers::new(vec!["user_3".to_string()]));
    assert_eq!(sent.target, "/users/unban");
    assert_eq!(sent.json(), json!({"user_ids": ["user_3"]}));
    assert_eq!(sent.info.operation_id, "UsersUnban");

    let fifty: Vec<String> = (0..50).map(|i| format!("user_{i}")).collect();
    assert_eq!(
        send(&BanUsers::new(fifty.clone())).json()["user_ids"]
            .as_array()
            .unwrap()
            .len(),
        50
    );
    let fifty_one: Vec<String> = (0..51).map(|i| format!("user_{i}")).collect();
    let err = refused(&BanUsers::new(fifty_one.clone()));
    assert!(err.to_string().contains("51"), "{err}");
    refused(&UnbanUsers::new(fifty_one));
    refused(&BanUsers::new(Vec::<String>::new()));
    refused(&UnbanUsers::new(Vec::<String>::new()));
    refused(&BanUsers::new(["user_1", ""]));
}

#[test]
fn set_profile_image_is_one_multipart_file_part() {
    let data: &[u8] = b"\x89PNG\r\n\x1a\n\x00binary\xff--";
    let op = SetProfileImage::new("user_1", data.to_vec(), "image/png").filename("me \"x\".png");
    let sent = send(&op);
    assert_eq!(sent.method, Method::POST);
    assert_eq!(sent.target, "/users/user_1/profile_image");
    assert_eq!(sent.info.operation_id, "SetUserProfileImage");
    let content_type = sent.content_type.clone().unwrap();
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .expect("multipart content type");
    assert!(!boundary.is_empty() && boundary.len() <= 70);
    let mut expected = Vec::new();
    expected.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    expected.extend_from_slice(
        b"Content-Disposition: form-data; name=\"file\"; filename=\"me %22x%22.png\"\r\n",
    );
    expected.extend_from_slice(b"Content-Type: image/png\r\n\r\n");
    expected.extend_from_slice(data);
    expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    assert_eq!(&sent.body[..], &expected[..]);
    // The boundary occurs only as delimiters.
    let occurrences = sent
        .body
        .windows(boundary.len())
        .filter(|w| *w == boundary.as_bytes())
        .count();
    assert_eq!(occurrences, 2);
    // Same request, same bytes.
    assert_eq!(send(&op).body, sent.body);

    // Default filename; any content type that is a valid header.
    let sent = send(&SetProfileImage::new(
        "user_1",
        Bytes::from_static(b"x"),
        "application/octet-stream",
    ));
    let text = String::from_utf8_lossy(&sent.body).into_owned();
    assert!(text.contains(
        "name=\"file\"; filename=\"profile_image\"\r\nContent-Type: application/octet-stream\r\n"
    ));
    refused(&SetProfileImage::new(
        "user_1",
        b"x".to_vec(),
        "image/png\r\nX-Evil: 1",
    ));
    refused(&SetProfileImage::new("user_1", b"x".to_vec(), ""));
    assert!(!format!("{op:?}").contains("PNG"));
}

#[test]
fn oauth_access_tokens() {
    let sent = send(&GetOAuthAccessTokens::new("user_1", "oauth_google"));
    assert_eq!(sent.method, Method::GET);
    assert_eq!(
        sent.target,
        "/users/user_1/oauth_access_tokens/oauth_google"
    );
    sent.assert_no_body();
    assert_eq!(sent.info.operation_id, "GetOAuthAccessToken");
    assert_eq!(
        sent.info.path_template,
        "/users/{user_id}/oauth_access_tokens/{provider}"
    );
    let sent = send(
        &GetOAuthAccessTokens::new("user_1", "oauth_custom_acme")
            .paginated(true)
            .limit(5)
            .offset(10),
    );
    assert_eq!(
        sent.target,
        "/users/user_1/oauth_access_tokens/oauth_custom_acme?paginated=true&limit=5&offset=10"
    );
    refused(&GetOAuthAccessTokens::new("user_1", ""));
    refused(&GetOAuthAccessTokens::new("user_1", "oauth_google").limit(0));
}

#[test]
fn organization_listings() {
    let op = GetOrganizationMemberships::new("user_1")
        .limit(100)
        .offset(200);
    assert_eq!((op.get_limit(), op.get_offset()), (100, 200));
    let sent = send(&op);
    assert_eq!(sent.method, Method::GET);
    assert_eq!(
        sent.target,
        "/users/user_1/organization_memberships?limit=100&offset=200"
    );
    assert_eq!(sent.info.operation_id, "UsersGetOrganizationMemberships");
    sent.assert_no_body();

    let op = GetOrganizationInvitations::new("user_1")
        .limit(1)
        .offset(0)
        .status(InvitationStatus::Expired);
    let sent = send(&op);
    assert_eq!(
        sent.target,
        "/users/user_1/organization_invitations?limit=1&offset=0&status=expired"
    );
    assert_eq!(sent.info.operation_id, "UsersGetOrganizationInvitations");
    let defaults = GetOrganizationInvitations::new("user_1");
    assert_eq!((defaults.get_limit(), defaults.get_offset()), (10, 0));
    assert_eq!(
        send(&defaults).target,
        "/users/user_1/organization_invitations"
    );

    let op = GetInstanceOrganizationMemberships::new()
        .order_by(MembershipOrderBy::desc(MembershipOrderField::CreatedAt))
        .limit(500)
        .offset(3);
    let sent = send(&op);
    assert_eq!(sent.method, Method::GET);
    assert_eq!(
        sent.target,
        "/organization_memberships?order_by=-created_at&limit=500&offset=3"
    );
    assert_eq!(sent.info.operation_id, "InstanceGetOrganizationMemberships");
    assert_eq!(sent.info.path_template, "/organization_memberships");
    assert_eq!(
        send(
            &GetInstanceOrganizationMemberships::new()
                .order_by(MembershipOrderBy::asc(MembershipOrderField::PhoneNumber))
        )
        .target,
        "/organization_memberships?order_by=%2Bphone_number"
    );
    refused(&GetOrganizationMemberships::new("user_1").limit(501));
    refused(&GetInstanceOrganizationMemberships::new().limit(0));
}

#[test]
fn verify_password_and_totp() {
    let op = VerifyPassword::new("user_1", "p@ss word");
    let sent = send(&op);
    assert_eq!(sent.method, Method::POST);
    assert_eq!(sent.target, "/users/user_1/verify_password");
    assert_eq!(sent.json(), json!({"password": "p@ss word"}));
    assert_eq!(sent.info.operation_id, "VerifyPassword");
    assert!(!format!("{op:?}").contains("p@ss"));

    let op = VerifyTotp::new("user_1", "123456");
    let sent = send(&op);
    assert_eq!(sent.target, "/users/user_1/verify_totp");
    assert_eq!(sent.json(), json!({"code": "123456"}));
    assert_eq!(sent.info.operation_id, "VerifyTOTP");
    assert!(!format!("{op:?}").contains("123456"));
}

/// Every operation that takes an id, built with `id` in every id position.
fn with_ids(id: &str) -> Vec<(&'static str, Result<clerk_core::ClerkRequest, Error>)> {
    let b = base();
    vec![
        ("GetUser", GetUser::new(id).build_request(&b)),
        ("UpdateUser", UpdateUser::new(id).build_request(&b)),
        ("DeleteUser", DeleteUser::new(id).build_request(&b)),
        ("BanUser", BanUser::new(id).build_request(&b)),
        ("UnbanUser", UnbanUser::new(id).build_request(&b)),
        ("LockUser", LockUser::new(id).build_request(&b)),
        ("UnlockUser", UnlockUser::new(id).build_request(&b)),
        (
            "SetProfileImage",
            SetProfileImage::new(id, b"x".to_vec(), "image/png").build_request(&b),
        ),
        (
            "DeleteProfileImage",
            DeleteProfileImage::new(id).build_request(&b),
        ),
        (
            "UpdateUserMetadata",
            UpdateUserMetadata::new(id).build_request(&b),
        ),
        (
            "GetOAuthAccessTokens",
            GetOAuthAccessTokens::new(id, id).build_request(&b),
        ),
        (
            "GetOrganizationMemberships",
            GetOrganizationMemberships::new(id).build_request(&b),
        ),
        (
            "GetOrganizationInvitations",
            GetOrganizationInvitations::new(id).build_request(&b),
        ),
        (
            "VerifyPassword",
            VerifyPassword::new(id, "pw").build_request(&b),
        ),
        ("VerifyTotp", VerifyTotp::new(id, "1").build_request(&b)),
        ("DisableMfa", DisableMfa::new(id).build_request(&b)),
        (
            "DeleteBackupCodes",
            DeleteBackupCodes::new(id).build_request(&b),
        ),
        (
            "DeletePasskey",
            DeletePasskey::new(id, id).build_request(&b),
        ),
        (
            "DeleteWeb3Wallet",
            DeleteWeb3Wallet::new(id, id).build_request(&b),
        ),
        ("DeleteTotp", DeleteTotp::new(id).build_request(&b)),
        (
            "DeleteExternalAccount",
            DeleteExternalAccount::new(id, id).build_request(&b),
        ),
        (
            "SetPasswordCompromised",
            SetPasswordCompromised::new(id).build_request(&b),
        ),
        (
            "UnsetPasswordCompromised",
            UnsetPasswordCompromised::new(id).build_request(&b),
        ),
        ("RemovePassword", RemovePassword::new(id).build_request(&b)),
        (
            "ReplaceUserMetadata",
            ReplaceUserMetadata::new(id).build_request(&b),
        ),
        (
            "ReplaceEmailAddress",
            ReplaceEmailAddress::new(id, "a@x.com").build_request(&b),
        ),
        (
            "ReplacePhoneNumber",
            ReplacePhoneNumber::new(id, "+15555550100").build_request(&b),
        ),
        (
            "ListTrustedDevices",
            ListTrustedDevices::new(id).build_request(&b),
        ),
        (
            "RevokeTrustedDevice",
            RevokeTrustedDevice::new(id, id).build_request(&b),
        ),
        (
            "GetBillingSubscription",
            GetBillingSubscription::new(id).build_request(&b),
        ),
        (
            "GetBillingCreditBalance",
            GetBillingCreditBalance::new(id).build_request(&b),
        ),
        (
            "AdjustBillingCreditBalance",
            AdjustBillingCreditBalance::increase(id, 1, "k").build_request(&b),
        ),
    ]
}

#[test]
fn hostile_ids_stay_one_path_segment() {
    let cases = [
        ("user_1/ban", "user_1%2Fban"),
        ("../x?y#z", "..%2Fx%3Fy%23z"),
        ("a b", "a%20b"),
        ("%2F", "%252F"),
        ("ünïcödé✓", "%C3%BCn%C3%AFc%C3%B6d%C3%A9%E2%9C%93"),
        ("+1;a=b&c", "%2B1%3Ba%3Db%26c"),
        ("user_~.-", "user_~.-"),
    ];
    for (id, encoded) in cases {
        for (name, request) in with_ids(id) {
            let request = request.unwrap_or_else(|e| panic!("{name} refused {id:?}: {e}"));
            let path = request.uri().path().to_owned();
            assert!(request.uri().query().is_none(), "{name}: {path}");
            let segments: Vec<&str> = path.split('/').skip(2).collect();
            // Every id position holds exactly the encoded id, and no segment was
            // added or removed.
            let template = request
                .extensions()
                .get::<OperationInfo>()
                .unwrap()
                .path_template;
            let template_segments: Vec<&str> = template.split('/').skip(1).collect();
            assert_eq!(segments.len(), template_segments.len(), "{name}: {path}");
            for (segment, tpl) in segments.iter().zip(&template_segments) {
                if tpl.starts_with('{') {
                    assert_eq!(*segment, encoded, "{name}: {path}");
                } else {
                    assert_eq!(segment, tpl, "{name}: {path}");
                }
            }
            // The layers see the same operation as the one built.
            let classified = OperationInfo::classify(request.method(), &path);
            assert_eq!(classified.path_template, template, "{name}: {path}");
        }
    }
}

#[test]
fn ids_with_control_characters_or_no_clerk_length_are_refused_before_sending() {
    let long = format!("user_{}", "x".repeat(200));
    for id in [
        "user_1\0",
        "user_1\r\n",
        "user_\u{1b}[2J",
        "\u{85}",
        long.as_str(),
    ] {
        for (name, request) in with_ids(id) {
            let err = request.expect_err(name);
            assert!(err.is_invalid_request(), "{name}: {err:?}");
            let shown = err.to_string();
            assert!(shown.contains("nothing was sent"), "{name}: {shown}");
            assert!(
                !shown.contains("xxxxxxxx") && !shown.contains('\u{1b}'),
                "{shown}"
            );
        }
    }
    assert!(
        BanUsers::new(["user_1", "user_2\0"])
            .build_request(&base())
            .unwrap_err()
            .is_invalid_request()
    );
    assert!(
        ListUsers::new()
            .starting_after("user_1\n")
            .build_request(&base())
            .unwrap_err()
            .is_invalid_request()
    );
}

#[test]
fn body_text_over_clerks_bounds_or_with_nul_is_refused_naming_the_field() {
    let huge = "n".repeat(50 << 20);
    let cases: Vec<(&str, Result<clerk_core::ClerkRequest, Error>)> = vec![
        ("first_name", {
            CreateUser::new()
                .first_name(huge.as_str())
                .build_request(&base())
        }),
        ("last_name", {
            CreateUser::new()
                .last_name("é".repeat(257))
                .build_request(&base())
        }),
        ("external_id", {
            CreateUser::new()
                .external_id("crm\0-42")
                .build_request(&base())
        }),
        ("external_id", {
            CreateUser::new()
                .external_id("x".repeat(1025))
                .build_request(&base())
        }),
        (
            "locale",
            CreateUser::new().locale("en\nUS").build_request(&base()),
        ),
        ("username", {
            CreateUser::new()
                .username("ada\0lovelace")
                .build_request(&base())
        }),
        ("email_address", {
            CreateUser::new()
                .email_address("ada\0@example.com")
                .build_request(&base())
        }),
        ("phone_number", {
            CreateUser::new()
                .phone_number("+1".repeat(1000))
                .build_request(&base())
        }),
        ("first_name", {
            UpdateUser::new("user_1")
                .first_name(huge.as_str())
                .build_request(&base())
        }),
        ("external_id", {
            UpdateUser::new("user_1")
                .external_id("a\u{1b}b")
                .build_request(&base())
        }),
        ("primary_email_address_id", {
            UpdateUser::new("user_1")
                .primary_email_address_id("idn\0")
                .build_request(&base())
        }),
        (
            "email_address",
            ReplaceEmailAddress::new("user_1", "a\0@x.io").build_request(&base()),
        ),
    ];
    for (field, built) in cases {
        let err = built.expect_err(field);
        assert!(err.is_invalid_request(), "{field}: {err:?}");
        let shown = err.to_string();
        assert!(shown.contains(&format!("`{field}`")), "{field}: {shown}");
        assert!(
            shown.len() < 300,
            "{field}: the value is echoed: {} bytes",
            shown.len()
        );
    }
    // At the bounds, and clearing fields, is fine.
    CreateUser::new()
        .first_name("é".repeat(256))
        .external_id("x".repeat(1024))
        .first_name("Ada\tL")
        .build_request(&base())
        .unwrap();
    UpdateUser::new("user_1")
        .username("")
        .primary_email_address_id("")
        .build_request(&base())
        .unwrap();
}

#[test]
fn empty_and_dot_ids_are_refused_everywhere() {
    for id in ["", ".", ".."] {
        for (name, request) in with_ids(id) {
            let err = request.expect_err(name);
            assert!(err.is_invalid_request(), "{name}: {err:?}");
        }
    }
    // One bad id among good ones is enough.
    assert!(
        DeletePasskey::new("user_1", "")
            .build_request(&base())
            .unwrap_err()
            .is_invalid_request()
    );
    assert!(
        DeleteExternalAccount::new("", "eac_1")
            .build_request(&base())
            .unwrap_err()
            .is_invalid_request()
    );
}

#[test]
fn requests_carry_info_the_layers_can_recompute() {
    // The typed info and the classification of the bare request agree, so a
    // layer sees the same operation whether or not the extension survived.
    let requests = with_ids("user_1")
        .into_iter()
        .map(|(name, r)| (name, r.unwrap()))
        .chain([
            (
                "ListUsers",
                ListUsers::new().build_request(&base()).unwrap(),
            ),
            (
                "CountUsers",
                CountUsers::new().build_request(&base()).unwrap(),
            ),
            (
                "CreateUser",
                CreateUser::new().build_request(&base()).unwrap(),
            ),
            (
                "BanUsers",
                BanUsers::new(["u"]).build_request(&base()).unwrap(),
            ),
            (
                "UnbanUsers",
                UnbanUsers::new(["u"]).build_request(&base()).unwrap(),
            ),
            (
                "GetInstanceOrganizationMemberships",
                GetInstanceOrganizationMemberships::new()
                    .build_request(&base())
                    .unwrap(),
            ),
        ]);
    let mut seen = std::collections::BTreeSet::new();
    for (name, request) in requests {
        let attached = request.extensions().get::<OperationInfo>().unwrap().clone();
        let classified = OperationInfo::classify(request.method(), request.uri().path());
        assert_eq!(attached, classified, "{name}");
        seen.insert(attached.operation_id);
    }
    assert_eq!(seen.len(), 38, "{seen:?}");
}

fn response(status: u16, body: &str) -> http::Response<Body> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

#[test]
fn responses_decode_into_the_outputs() {
    let user = GetUser::new("user_1")
        .parse_response(response(200, r#"{"id":"user_1","object":"user"}"#))
        .unwrap();
    assert_eq!(user.id, "user_1");

    let users = ListUsers::new()
        .parse_response(response(
            200,
            r#"[{"id":"user_1","object":"user"},{"id":"user_2","object":"user"}]"#,
        ))
        .unwrap();
    assert_eq!(users.len(), 2);

    let count = CountUsers::new()
        .parse_response(response(200, r#"{"object":"total_count","total_count":3}"#))
        .unwrap();
    assert_eq!(count.total_count, 3);

    let tokens = GetOAuthAccessTokens::new("u", "oauth_google")
        .parse_response(response(
            200,
            r#"[{"token":"t","provider":"oauth_google"}]"#,
        ))
        .unwrap();
    assert_eq!((tokens.data.len(), tokens.total_count), (1, None));
    let tokens = GetOAuthAccessTokens::new("u", "oauth_google")
        .paginated(true)
        .parse_response(response(200, r#"{"data":[],"total_count":0}"#))
        .unwrap();
    assert_eq!(tokens.total_count, Some(0));

    let ids = DisableMfa::new("user_1")
        .parse_response(response(200, r#"{"user_id":"user_1"}"#))
        .unwrap();
    assert_eq!(ids.user_id, "user_1");
}

#[test]
fn error_statuses_and_bad_bodies_become_errors() {
    let err = GetUser::new("user_404")
        .parse_response(response(
            404,
            r#"{"errors":[{"message":"not found","long_message":"No user","code":"resource_not_found"}],"clerk_trace_id":"t1"}"#,
        ))
        .unwrap_err();
    assert!(err.is_not_found());
    assert!(err.has_code("resource_not_found"));

    let err = VerifyPassword::new("user_1", "x")
        .parse_response(response(422, "wrong"))
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::UNPROCESSABLE_ENTITY));

    let err = GetUser::new("user_1")
        .parse_response(response(200, "{\"id\":"))
        .unwrap_err();
    assert!(err.is_decode(), "{err:?}");
    // A list where one object was expected is a decode error, not an empty user.
    let err = GetUser::new("user_1")
        .parse_response(response(200, "[]"))
        .unwrap_err();
    assert!(err.is_decode(), "{err:?}");
    let err = ListUsers::new()
        .parse_response(response(200, r#"{"data":[]}"#))
        .unwrap_err();
    assert!(err.is_decode(), "{err:?}");
    let err = DeleteUser::new("u")
        .parse_response(response(200, ""))
        .unwrap_err();
    assert!(err.is_decode(), "{err:?}");
}

#[test]
fn password_operations() {
    let sent = send(&SetPasswordCompromised::new("user_1").revoke_all_sessions(false));
    assert_eq!(
        (sent.method.as_str(), sent.target.as_str()),
        ("POST", "/users/user_1/password/set_compromised")
    );
    assert_eq!(sent.json(), json!({"revoke_all_sessions": false}));
    assert_eq!(send(&SetPasswordCompromised::new("u")).json(), json!({}));
    assert_eq!(sent.info.retry_class, RetryClass::Idempotent);
    assert_eq!(sent.info.per_user_limit_key, None);

    let sent = send(&UnsetPasswordCompromised::new("user_1"));
    assert_eq!(sent.method, Method::POST);
    assert_eq!(sent.target, "/users/user_1/password/unset_compromised");
    sent.assert_no_body();
    assert_eq!(sent.info.operation_id, "UnsetUserPasswordCompromised");

    let sent = send(&RemovePassword::new("user_1").sign_out_of_other_sessions(true));
    assert_eq!(
        (sent.method.as_str(), sent.target.as_str()),
        ("POST", "/users/user_1/remove_password")
    );
    assert_eq!(sent.json(), json!({"sign_out_of_other_sessions": true}));
    assert_eq!(sent.info.operation_id, "RemoveUserPassword");
}

#[test]
fn replace_operations() {
    let op = ReplaceUserMetadata::new("user_1")
        .public_metadata(meta(json!({"plan": "pro"})))
        .private_metadata(meta(json!({})));
    let sent = send(&op);
    assert_eq!(
        (sent.method.as_str(), sent.target.as_str()),
        ("PUT", "/users/user_1/metadata")
    );
    assert_eq!(
        sent.json(),
        json!({"public_metadata": {"plan": "pro"}, "private_metadata": {}})
    );
    // Counts toward the per-user update limit, like PATCH.
    assert_eq!(sent.info.per_user_limit_key.as_deref(), Some("user_1"));
    assert_eq!(sent.info.retry_class, RetryClass::Idempotent);
    let decoded: ReplaceUserMetadata =
        serde_json::from_value(json!({"unsafe_metadata": {"a": 1}})).unwrap();
    assert_eq!(
        send(&decoded.with_user_id("user_2")).json(),
        json!({"unsafe_metadata": {"a": 1}})
    );

    let sent = send(
        &ReplaceEmailAddress::new("user_1", "ada@example.com")
            .identification_status(IdentificationStatus::Unverified)
            .notify_primary_email_address_changed(true),
    );
    assert_eq!(
        (sent.method.as_str(), sent.target.as_str()),
        ("PUT", "/users/user_1/email_address")
    );
    assert_eq!(
        sent.json(),
        json!({
            "email_address": "ada@example.com",
            "identification_status": "unverified",
            "notify_primary_email_address_changed": true
        })
    );
    assert_eq!(sent.info.per_user_limit_key, None);
    refused(&ReplaceEmailAddress::new("user_1", " "));

    let sent = send(&ReplacePhoneNumber::new("user_1", "+15555550100"));
    assert_eq!(
        (sent.method.as_str(), sent.target.as_str()),
        ("PUT", "/users/user_1/phone_number")
    );
    assert_eq!(sent.json(), json!({"phone_number": "+15555550100"}));
    refused(&ReplacePhoneNumber::new("user_1", ""));
}

#[test]
fn trusted_device_and_billing_operations() {
    let sent = send(&ListTrustedDevices::new("user_1"));
    assert_eq!(
        (sent.method.as_str(), sent.target.as_str()),
        ("GET", "/users/user_1/trusted_devices")
    );
    sent.assert_no_body();
    let sent = send(&RevokeTrustedDevice::new("user_1", "td/2"));
    assert_eq!(
        (sent.method.as_str(), sent.target.as_str()),
        ("DELETE", "/users/user_1/trusted_devices/td%2F2")
    );
    let sent = send(&GetBillingSubscription::new("user_1"));
    assert_eq!(sent.target, "/users/user_1/billing/subscription");
    sent.assert_no_body();
    let sent = send(&GetBillingCreditBalance::new("user_1"));
    assert_eq!(
        (sent.method.as_str(), sent.target.as_str()),
        ("GET", "/users/user_1/billing/credits")
    );

    let op = AdjustBillingCreditBalance::decrease("user_1", 250, "refund-42");
    let sent = send(&op);
    assert_eq!(
        (sent.method.as_str(), sent.target.as_str()),
        ("POST", "/users/user_1/billing/credits")
    );
    assert_eq!(
        sent.json(),
        json!({"amount": 250, "action": "decrease", "idempotency_key": "refund-42"})
    );
    // The idempotency key makes a resend harmless: retried like a read.
    assert_eq!(sent.info.retry_class, RetryClass::Idempotent);
    // The same request twice carries the same key.
    assert_eq!(send(&op).body, sent.body);
    refused(&AdjustBillingCreditBalance::increase("user_1", 0, "k"));
    refused(&AdjustBillingCreditBalance::increase("user_1", -5, "k"));
    refused(&AdjustBillingCreditBalance::increase("user_1", 5, ""));
}

#[test]
fn api_versions_gate_operations_and_fields() {
    // The password-compromised operations exist from 2025-11-10 on.
    for op in [
        &SetPasswordCompromised::new("u") as &dyn CheckVersion,
        &UnsetPasswordCompromised::new("u"),
    ] {
        let err = op.check(ApiVersion::V2025_04_10).unwrap_err();
        assert!(err.is_invalid_request());
        assert!(err.to_string().contains("2025-11-10"), "{err}");
        op.check(ApiVersion::V2025_11_10).unwrap();
        op.check(ApiVersion::V2026_05_12).unwrap();
    }
    // Under 2026-05-12 the user update refuses metadata, pointing at the
    // metadata endpoints; without metadata it goes through.
    let patch = UpdateUser::new("user_1")
        .first_name("Ada")
        .private_metadata(meta(json!({"a": 1})));
    let err = patch
        .check_api_version(ApiVersion::V2026_05_12)
        .unwrap_err();
    assert!(err.is_invalid_request());
    let message = err.to_string();
    for needle in [
        "2026-05-12",
        "private_metadata",
        "update_metadata",
        "replace_metadata",
    ] {
        assert!(message.contains(needle), "{needle} not in {message}");
    }
    assert!(!message.contains("public_metadata"), "{message}");
    patch.check_api_version(ApiVersion::V2025_11_10).unwrap();
    patch.check_api_version(ApiVersion::V2025_04_10).unwrap();
    UpdateUser::new("user_1")
        .first_name("Ada")
        .check_api_version(ApiVersion::V2026_05_12)
        .unwrap();
    // Explicit nulls count too: they would replace the metadata.
    let decoded: UpdateUser = serde_json::from_value(json!({"unsafe_metadata": null})).unwrap();
    assert!(decoded.check_api_version(ApiVersion::V2026_05_12).is_err());
    // The metadata endpoints themselves work under every version.
    for version in ApiVersion::ALL {
        UpdateUserMetadata::new("u")
            .check_api_version(version)
            .unwrap();
        ReplaceUserMetadata::new("u")
            .check_api_version(version)
            .unwrap();
    }
}

trait CheckVersion {
    fn check(&self, version: ApiVersion) -> Result<(), Error>;
}

impl<O: Operation> CheckVersion for O {
    fn check(&self, version: ApiVersion) -> Result<(), Error> {
        self.check_api_version(version)
    }
}

#[test]
fn newer_responses_decode_and_tolerate_unknown_values() {
    let devices = ListTrustedDevices::new("u")
        .parse_response(response(
            200,
            r#"{"data":[{"object":"trusted_device","id":"td_1","platform":"visionos","app_identifier":"com.x","algorithm":"ES256","status":"active","created_at":1,"updated_at":2,"last_used_at":null,"brand_new":true}],"total_count":1}"#,
        ))
        .unwrap();
    assert_eq!(devices.total_count, 1);
    assert_eq!(
        devices.data[0].platform,
        clerk_core::models::TrustedDevicePlatform::Unknown("visionos".into())
    );
    let balance = GetBillingCreditBalance::new("u")
        .parse_response(response(
            200,
            r#"{"object":"commerce_credit_balance","balance":null}"#,
        ))
        .unwrap();
    assert_eq!(balance.balance, None);
    let ledger = AdjustBillingCreditBalance::increase("u", 5, "k")
        .parse_response(response(
            200,
            r#"{"object":"commerce_credit_ledger","id":"cl_1","payer_id":"cpayer_1","amount":{"amount":5,"amount_formatted":"$0.05","currency":"USD","currency_symbol":"$"},"source_type":"grant","source_id":"k","created_at":"2026-01-02T03:04:05Z"}"#,
        ))
        .unwrap();
    assert_eq!((ledger.amount.amount, ledger.id.as_str()), (5, "cl_1"));
    let subscription = GetBillingSubscription::new("u")
        .parse_response(response(
            200,
            r#"{"object":"commerce_subscription","id":"csub_1","status":"paused_for_winter","subscription_items":[{"id":"csubi_1","plan_period":"month","status":"active"}]}"#,
        ))
        .unwrap();
    assert_eq!(
        subscription.status,
        clerk_core::models::SubscriptionStatus::Unknown("paused_for_winter".into())
    );
    assert_eq!(
        subscription.subscription_items[0].plan_period,
        clerk_core::models::PlanPeriod::Month
    );
    let err = GetBillingSubscription::new("u")
        .parse_response(response(200, "[]"))
        .unwrap_err();
    assert!(err.is_decode(), "{err:?}");
}

#[test]
fn bodies_that_are_not_utf8_are_decode_errors_with_an_excerpt() {
    for bytes in [
        &b"{\"id\":\"user_\xff\",\"object\":\"user\"}"[..],
        &b"{\"id\":\"user_1\",\"first_name\":\"Ad\xc3\"}"[..],
        &b"\xef\xbb\xbf{\"id\":\"user_1\"}"[..],
    ] {
        let response = http::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Body::from(bytes.to_vec()))
            .unwrap();
        let err = GetUser::new("user_1").parse_response(response).unwrap_err();
        assert!(err.is_decode(), "{err:?}");
    }
    // Non-ASCII text still decodes, escaped or not.
    let user = GetUser::new("user_1")
        .parse_response(response(
            200,
            r#"{"id":"user_1","object":"user","first_name":"Zoë","last_name":"\u00c5ngstr\u00f6m"}"#,
        ))
        .unwrap();
    assert_eq!(user.first_name.as_deref(), Some("Zoë"));
    assert_eq!(user.last_name.as_deref(), Some("Ångström"));
}
