//! The 27 Users operations.

use std::cmp::Ordering;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart};
use axum::response::Response;
use http::{Request, StatusCode};
use serde_json::{Value, json};

use super::body::{JsonBody, Patch, Query, deep_merge};
use super::route::Op;
use super::{Call, IMAGE_LIMIT};
use crate::error::{ApiError, ApiResult, json_bytes_response, json_response};
use crate::ids::new_id;
use crate::model::{Email, Image, LOCKOUT_SECS, Metadata, Password, Phone, User, Wallet};
use crate::render::{Ctx, deleted_object, token_view, user_json};
use crate::store::{IdentKind, InstanceData};
use crate::{passwords, totp};

pub(crate) const CREATE_FIELDS: &[&str] = &[
    "external_id",
    "first_name",
    "last_name",
    "locale",
    "email_address",
    "email_address_identification_status",
    "phone_number",
    "phone_number_identification_status",
    "web3_wallet",
    "username",
    "password",
    "password_digest",
    "password_hasher",
    "skip_password_checks",
    "skip_password_requirement",
    "totp_secret",
    "backup_codes",
    "public_metadata",
    "private_metadata",
    "unsafe_metadata",
    "delete_self_enabled",
    "legal_accepted_at",
    "skip_legal_checks",
    "skip_user_requirement",
    "create_organization_enabled",
    "create_organizations_limit",
    "created_at",
    "bypass_client_trust",
    "banned",
    "locked",
];

const UPDATE_FIELDS: &[&str] = &[
    "external_id",
    "first_name",
    "last_name",
    "locale",
    "primary_email_address_id",
    "notify_primary_email_address_changed",
    "primary_phone_number_id",
    "primary_web3_wallet_id",
    "username",
    "profile_image_id",
    "password",
    "password_digest",
    "password_hasher",
    "skip_password_checks",
    "sign_out_of_other_sessions",
    "totp_secret",
    "backup_codes",
    "public_metadata",
    "private_metadata",
    "unsafe_metadata",
    "delete_self_enabled",
    "create_organization_enabled",
    "legal_accepted_at",
    "skip_legal_checks",
    "create_organizations_limit",
    "created_at",
    "bypass_client_trust",
];

const METADATA_FIELDS: &[&str] = &["public_metadata", "private_metadata", "unsafe_metadata"];

/// A few of the passwords every breach list has; Clerk rejects them as `form_password_pwned`.
const PWNED: &[&str] = &[
    "password",
    "password1",
    "password123",
    "12345678",
    "123456789",
    "1234567890",
    "qwertyuiop",
    "qwerty123",
    "iloveyou",
    "11111111",
    "abc12345",
    "letmein1",
    "welcome1",
    "00000000",
];

fn ok(bytes: Vec<u8>) -> ApiResult<Response> {
    Ok(json_bytes_response(StatusCode::OK, bytes))
}

fn ok_value(v: &Value) -> ApiResult<Response> {
    Ok(json_response(StatusCode::OK, v))
}

fn ctx<'a>(call: &'a Call, data: &'a InstanceData) -> Ctx<'a> {
    Ctx {
        now: call.now,
        origin: &call.app.origin,
        data,
    }
}

fn user_response(call: &Call, data: &InstanceData, id: &str) -> ApiResult<Response> {
    let u = data.users.get(id).ok_or_else(ApiError::not_found)?;
    ok(user_json(u, ctx(call, data)))
}

fn users_array(call: &Call, data: &InstanceData, users: &[&User]) -> ApiResult<Response> {
    let c = ctx(call, data);
    let views: Vec<_> = users
        .iter()
        .map(|u| crate::render::user_view(u, c))
        .collect();
    ok(serde_json::to_vec(&views).unwrap_or_default())
}

/// Synchronous operations (everything but the multipart upload and the slow verifications).
pub(crate) fn handle(call: &Call, body: &[u8]) -> ApiResult<Response> {
    match call.op {
        Op::GetUserList => list(call),
        Op::GetUsersCount => count(call),
        Op::CreateUser => create(call, body),
        Op::GetUser => {
            JsonBody::expect_empty(body)?;
            let data = call.inst.read();
            user_response(call, &data, call.param(0))
        }
        Op::UpdateUser => update(call, body),
        Op::DeleteUser => {
            JsonBody::expect_empty(body)?;
            let mut data = call.inst.write();
            let u = data
                .remove_user(call.param(0))
                .ok_or_else(ApiError::not_found)?;
            let mut v = deleted_object("user", &u.id);
            if let (Some(ext), Some(obj)) = (u.external_id, v.as_object_mut()) {
                obj.insert("external_id".into(), Value::String(ext));
            }
            ok_value(&v)
        }
        Op::BanUser
        | Op::UnbanUser
        | Op::LockUser
        | Op::UnlockUser
        | Op::DeleteUserProfileImage => {
            JsonBody::expect_empty(body)?;
            let now = call.now;
            let op = call.op;
            let mut data = call.inst.write();
            let removed_image = data
                .modify_user(call.param(0), |u| {
                    let mut removed = None;
                    match op {
                        Op::BanUser => u.banned = true,
                        Op::UnbanUser => u.banned = false,
                        Op::LockUser => u.locked_until = Some(now + LOCKOUT_SECS * 1000),
                        Op::UnlockUser => u.locked_until = None,
                        _ => removed = u.image_id.take(),
                    }
                    u.updated_at = now;
                    removed
                })
                .ok_or_else(ApiError::not_found)?;
            if let Some(img) = removed_image {
                data.images.remove(&img);
            }
            user_response(call, &data, call.param(0))
        }
        Op::UsersBan | Op::UsersUnban => bulk_ban(call, body),
        Op::UpdateUserMetadata => update_metadata(call, body),
        Op::GetOAuthAccessToken => oauth_tokens(call, body),
        Op::UsersGetOrganizationMemberships => user_memberships(call, body),
        Op::UsersGetOrganizationInvitations => user_invitations(call, body),
        Op::DisableMFA | Op::DeleteBackupCode | Op::DeleteTOTP => {
            JsonBody::expect_empty(body)?;
            let (op, now) = (call.op, call.now);
            let mut data = call.inst.write();
            data.modify_user(call.param(0), |u| {
                let had_mfa = u.totp_secret.is_some() || !u.backup_codes.is_empty();
                if matches!(op, Op::DisableMFA | Op::DeleteTOTP) {
                    u.totp_secret = None;
                }
                if matches!(op, Op::DisableMFA | Op::DeleteBackupCode) {
                    u.backup_codes.clear();
                }
                if had_mfa && u.totp_secret.is_none() && u.backup_codes.is_empty() {
                    u.mfa_disabled_at = Some(now);
                }
                u.updated_at = now;
            })
            .ok_or_else(ApiError::not_found)?;
            ok_value(&json!({ "user_id": call.param(0) }))
        }
        Op::UserPasskeyDelete | Op::UserWeb3WalletDelete | Op::DeleteExternalAccount => {
            JsonBody::expect_empty(body)?;
            delete_sub_resource(call)
        }
        _ => Err(ApiError::not_found()),
    }
}

fn delete_sub_resource(call: &Call) -> ApiResult<Response> {
    let (op, now) = (call.op, call.now);
    let sub = call.param(1).to_owned();
    let mut data = call.inst.write();
    let found = data
        .modify_user(call.param(0), |u| {
            let found = match op {
                Op::UserPasskeyDelete => remove_where(&mut u.passkeys, |p| p.id == sub),
                Op::UserWeb3WalletDelete => {
                    let found = remove_where(&mut u.wallets, |w| w.id == sub);
                    if found && u.primary_web3_wallet_id.as_deref() == Some(sub.as_str()) {
                        u.primary_web3_wallet_id = u.wallets.first().map(|w| w.id.clone());
                    }
                    found
                }
                _ => remove_where(&mut u.external_accounts, |a| a.id == sub),
            };
            if found {
                u.updated_at = now;
            }
            found
        })
        .ok_or_else(ApiError::not_found)?;
    if !found {
        return Err(ApiError::not_found());
    }
    let object = match op {
        Op::UserPasskeyDelete => "passkey",
        Op::UserWeb3WalletDelete => "web3_wallet",
        _ => "external_account",
    };
    ok_value(&deleted_object(object, &sub))
}

fn remove_where<T>(v: &mut Vec<T>, f: impl Fn(&T) -> bool) -> bool {
    let before = v.len();
    v.retain(|x| !f(x));
    v.len() != before
}

// ---------------------------------------------------------------------------------------------
// Identifier and password validation

fn identifier_exists(kind: IdentKind) -> ApiError {
    let what = match kind {
        IdentKind::Email => "email address",
        IdentKind::Phone => "phone number",
        IdentKind::Username => "username",
        IdentKind::Web3 => "web3 wallet",
    };
    ApiError::unprocessable(
        "form_identifier_exists",
        &format!("That {what} is taken. Please try another."),
        format!("That {what} is taken. Please try another."),
    )
    .with_param(kind.param())
}

pub(crate) fn normalize_email(s: &str) -> ApiResult<String> {
    let s = s.trim();
    let valid = s.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
    }) && !s.chars().any(char::is_whitespace)
        && s.len() <= 320;
    if !valid {
        return Err(ApiError::invalid_param(
            "email_address",
            "must be a valid email address",
        ));
    }
    Ok(s.to_lowercase())
}

fn normalize_phone(s: &str) -> ApiResult<String> {
    let s = s.trim();
    let digits = s.strip_prefix('+').unwrap_or("");
    if !(7..=15).contains(&digits.len())
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || digits.starts_with('0')
    {
        return Err(ApiError::invalid_param(
            "phone_number",
            "must be a valid phone number in E.164 format, like +15555550100",
        ));
    }
    Ok(s.to_owned())
}

fn normalize_username(s: &str) -> ApiResult<String> {
    let len = s.chars().count();
    if !(4..=64).contains(&len) {
        return Err(ApiError::unprocessable(
            "form_username_invalid_length",
            "Usernames must be between 4 and 64 characters long.",
            "Usernames must be between 4 and 64 characters long.",
        )
        .with_param("username"));
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
    {
        return Err(ApiError::unprocessable(
            "form_username_invalid_character",
            "Usernames can only contain letters, numbers and '_' or '-'.",
            "Usernames can only contain letters, numbers and '_' or '-'.",
        )
        .with_param("username"));
    }
    Ok(s.to_lowercase())
}

fn normalize_wallet(s: &str) -> ApiResult<String> {
    let s = s.trim();
    let hex = s.strip_prefix("0x").unwrap_or("");
    if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::invalid_param(
            "web3_wallet",
            "must be an Ethereum address (0x followed by 40 hex digits)",
        ));
    }
    Ok(s.to_lowercase())
}

fn check_password(password: &str, skip_checks: bool) -> ApiResult<()> {
    if skip_checks {
        return Ok(());
    }
    let len = password.chars().count();
    if len < 8 {
        return Err(ApiError::unprocessable(
            "form_password_length_too_short",
            "Passwords must be 8 characters or more.",
            "Passwords must be 8 characters or more.",
        )
        .with_param("password"));
    }
    if password.len() > 72 {
        return Err(ApiError::unprocessable(
            "form_password_length_too_long",
            "Passwords must be less than 72 bytes.",
            "Passwords must be less than 72 bytes.",
        )
        .with_param("password"));
    }
    if PWNED.contains(&password.to_lowercase().as_str()) {
        return Err(ApiError::unprocessable(
            "form_password_pwned",
            "Password has been found in an online data breach.",
            "This password has been found as part of a breach and can not be used, please try another password instead.",
        )
        .with_param("password"));
    }
    Ok(())
}

/// The password fields shared by Create and Update: `password` (+ `skip_password_checks`) or
/// `password_digest` + `password_hasher`.
fn password_from_body(body: &JsonBody) -> ApiResult<Option<Password>> {
    let password = body.opt_string("password")?;
    let digest = body.opt_string("password_digest")?;
    let hasher = body.opt_string("password_hasher")?;
    let skip = body.opt_bool("skip_password_checks")?.unwrap_or(false);
    match (password, digest, hasher) {
        (Some(_), Some(_), _) => Err(ApiError::value_invalid(
            "password_digest",
            "cannot be combined with password",
        )),
        (Some(p), None, _) => {
            check_password(&p, skip)?;
            Ok(Some(Password::Plain {
                hash: passwords::hash_plain(&p),
            }))
        }
        (None, Some(_), None) => Err(ApiError::missing_param("password_hasher")),
        (None, None, Some(_)) => Err(ApiError::missing_param("password_digest")),
        (None, Some(digest), Some(hasher)) => {
            if !passwords::SUPPORTED_HASHERS.contains(&hasher.as_str()) {
                return Err(ApiError::unprocessable(
                    "form_password_digest_invalid",
                    "is invalid",
                    format!(
                        "password_hasher {hasher:?} is not a hasher Clerk accepts. Accepted hashers: {}.",
                        passwords::SUPPORTED_HASHERS.join(", ")
                    ),
                )
                .with_param("password_hasher"));
            }
            passwords::validate_digest(&hasher, &digest).map_err(|e| {
                ApiError::unprocessable(
                    "form_password_digest_invalid",
                    "is invalid",
                    format!("The password digest is not a valid {hasher} digest: {e}"),
                )
                .with_param("password_digest")
            })?;
            Ok(Some(Password::Digest { hasher, digest }))
        }
        (None, None, None) => Ok(None),
    }
}

fn check_totp_secret(secret: &str) -> ApiResult<()> {
    if totp::is_valid_secret(secret) {
        Ok(())
    } else {
        Err(ApiError::invalid_param(
            "totp_secret",
            "must be a base32-encoded TOTP secret",
        ))
    }
}

fn check_backup_codes(codes: &[String]) -> ApiResult<()> {
    if codes.iter().any(|c| c.trim().is_empty()) {
        return Err(ApiError::invalid_param(
            "backup_codes",
            "codes must not be empty",
        ));
    }
    Ok(())
}

fn statuses(body: &JsonBody, key: &str, n: usize) -> ApiResult<Vec<bool>> {
    match body.string_list(key)? {
        None => Ok(vec![false; n]),
        Some(list) => {
            if list.len() != n {
                return Err(ApiError::value_invalid(
                    key,
                    "must have exactly one entry per identifier",
                ));
            }
            list.iter()
                .map(|s| match s.as_str() {
                    "verified" => Ok(false),
                    "reserved" => Ok(true),
                    _ => Err(ApiError::value_invalid(
                        key,
                        "entries must be verified or reserved",
                    )),
                })
                .collect()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Create

fn create(call: &Call, bytes: &[u8]) -> ApiResult<Response> {
    let body = JsonBody::parse(bytes, Some(CREATE_FIELDS))?;
    let mut data = call.inst.write();
    let id = create_user(&mut data, &body, call.now, None)?;
    user_response(call, &data, &id)
}

/// The identifiers of a list field, each normalised (and checked) as Clerk compares them.
fn normalized_list(
    body: &JsonBody,
    field: &str,
    normalize: fn(&str) -> ApiResult<String>,
) -> ApiResult<Vec<String>> {
    body.string_list(field)?
        .unwrap_or_default()
        .iter()
        .map(|value| normalize(value))
        .collect()
}

/// Creates a user from a CreateUser body (also used by the seed loader).
pub(crate) fn create_user(
    data: &mut InstanceData,
    body: &JsonBody,
    now: i64,
    id: Option<String>,
) -> ApiResult<String> {
    let emails = normalized_list(body, "email_address", normalize_email)?;
    let email_reserved = statuses(body, "email_address_identification_status", emails.len())?;
    let phones = normalized_list(body, "phone_number", normalize_phone)?;
    let phone_reserved = statuses(body, "phone_number_identification_status", phones.len())?;
    let wallets = normalized_list(body, "web3_wallet", normalize_wallet)?;
    let username = match body.opt_string("username")? {
        Some(u) if !u.is_empty() => Some(normalize_username(&u)?),
        _ => None,
    };
    let mut seen = std::collections::HashSet::new();
    let idents = emails
        .iter()
        .map(|v| (IdentKind::Email, v))
        .chain(phones.iter().map(|v| (IdentKind::Phone, v)))
        .chain(wallets.iter().map(|v| (IdentKind::Web3, v)))
        .chain(username.iter().map(|v| (IdentKind::Username, v)));
    for (kind, value) in idents {
        if data.ident_owner(kind, value).is_some() || !seen.insert((kind, value.to_lowercase())) {
            return Err(identifier_exists(kind));
        }
    }
    let password = password_from_body(body)?;
    let totp_secret = body.opt_string("totp_secret")?;
    if let Some(s) = &totp_secret {
        check_totp_secret(s)?;
    }
    let backup_codes = body.string_list("backup_codes")?.unwrap_or_default();
    check_backup_codes(&backup_codes)?;
    let meta =
        |k: &str| -> ApiResult<Metadata> { Ok(body.object(k)?.into_option().unwrap_or_default()) };
    let (public_metadata, private_metadata, unsafe_metadata) = (
        meta("public_metadata")?,
        meta("private_metadata")?,
        meta("unsafe_metadata")?,
    );
    let legal_accepted_at = body.timestamp("legal_accepted_at")?.into_option();
    let created_at = body.timestamp("created_at")?.into_option().unwrap_or(now);
    let create_organizations_limit = match body.int("create_organizations_limit")? {
        Patch::Set(n) if n < 0 => {
            return Err(ApiError::value_invalid(
                "create_organizations_limit",
                "must be 0 or more",
            ));
        }
        p => p.into_option(),
    };
    for flag in [
        "skip_password_requirement",
        "skip_legal_checks",
        "skip_user_requirement",
    ] {
        body.opt_bool(flag)?;
    }
    let delete_self_enabled = body.opt_bool("delete_self_enabled")?.unwrap_or(true);
    let create_organization_enabled = body
        .opt_bool("create_organization_enabled")?
        .unwrap_or(true);
    let bypass_client_trust = body.opt_bool("bypass_client_trust")?.unwrap_or(false);
    let banned = body.opt_bool("banned")?.unwrap_or(false);
    let locked = body.opt_bool("locked")?.unwrap_or(false);
    let external_id = body.opt_string("external_id")?;
    let first_name = body.opt_string("first_name")?;
    let last_name = body.opt_string("last_name")?;
    let locale = body.opt_string("locale")?;

    let emails: Vec<Email> = emails
        .into_iter()
        .zip(email_reserved)
        .map(|(email_address, reserved)| Email {
            id: new_id("idn"),
            email_address,
            reserved,
            created_at: now,
            updated_at: now,
        })
        .collect();
    let phones: Vec<Phone> = phones
        .into_iter()
        .zip(phone_reserved)
        .map(|(phone_number, reserved)| Phone {
            id: new_id("idn"),
            phone_number,
            reserved,
            created_at: now,
            updated_at: now,
        })
        .collect();
    let wallets: Vec<Wallet> = wallets
        .into_iter()
        .map(|web3_wallet| Wallet {
            id: new_id("idn"),
            web3_wallet,
            created_at: now,
            updated_at: now,
        })
        .collect();
    let mfa = totp_secret.is_some() || !backup_codes.is_empty();
    let seq = data.next_seq();
    let user = User {
        id: id.unwrap_or_else(|| new_id("user")),
        seq,
        external_id,
        first_name,
        last_name,
        username,
        locale,
        primary_email_address_id: emails.iter().find(|e| !e.reserved).map(|e| e.id.clone()),
        primary_phone_number_id: phones.iter().find(|p| !p.reserved).map(|p| p.id.clone()),
        primary_web3_wallet_id: wallets.first().map(|w| w.id.clone()),
        emails,
        phones,
        wallets,
        passkeys: Vec::new(),
        external_accounts: Vec::new(),
        image_id: None,
        public_metadata,
        private_metadata,
        unsafe_metadata,
        password_last_updated_at: password.as_ref().map(|_| now),
        password,
        totp_secret,
        backup_codes,
        mfa_enabled_at: mfa.then_some(now),
        mfa_disabled_at: None,
        last_sign_in_at: None,
        last_active_at: None,
        legal_accepted_at,
        banned,
        locked_until: locked.then_some(now + LOCKOUT_SECS * 1000),
        delete_self_enabled,
        create_organization_enabled,
        create_organizations_limit,
        bypass_client_trust,
        created_at,
        updated_at: now,
    };
    let id = user.id.clone();
    data.insert_user(user);
    Ok(id)
}

// ---------------------------------------------------------------------------------------------
// Update

fn update(call: &Call, bytes: &[u8]) -> ApiResult<Response> {
    let body = JsonBody::parse(bytes, Some(UPDATE_FIELDS))?;
    if call.version.as_deref() == Some("2026-05-12") {
        // That version moved metadata writes to the metadata endpoints.
        if let Some(k) = METADATA_FIELDS.iter().find(|k| body.has(k)) {
            return Err(ApiError::unknown_param(k));
        }
    }
    let now = call.now;
    let user_id = call.param(0);
    let mut data = call.inst.write();
    let user = data.users.get(user_id).ok_or_else(ApiError::not_found)?;

    let username = match body.string("username")? {
        Patch::Set(s) if !s.is_empty() => {
            let name = normalize_username(&s)?;
            if data
                .ident_owner(IdentKind::Username, &name)
                .is_some_and(|o| o != user_id)
            {
                return Err(identifier_exists(IdentKind::Username));
            }
            Patch::Set(name)
        }
        Patch::Set(_) | Patch::Null => {
            if user.username.is_some() && !user.has_identifier_besides_username() {
                return Err(ApiError::unprocessable(
                    "form_param_nil",
                    "is required",
                    "username cannot be removed: the user has no other identifier.",
                )
                .with_param("username"));
            }
            Patch::Null
        }
        Patch::Absent => Patch::Absent,
    };
    let primary_email = match body.opt_string("primary_email_address_id")? {
        Some(id) if user.emails.iter().any(|e| e.id == id && !e.reserved) => Some(id),
        Some(_) => {
            return Err(ApiError::value_invalid(
                "primary_email_address_id",
                "must be a verified email address of this user",
            ));
        }
        None => None,
    };
    let primary_phone = match body.opt_string("primary_phone_number_id")? {
        Some(id) if user.phones.iter().any(|p| p.id == id && !p.reserved) => Some(id),
        Some(_) => {
            return Err(ApiError::value_invalid(
                "primary_phone_number_id",
                "must be a verified phone number of this user",
            ));
        }
        None => None,
    };
    let primary_wallet = match body.opt_string("primary_web3_wallet_id")? {
        Some(id) if user.wallets.iter().any(|w| w.id == id) => Some(id),
        Some(_) => {
            return Err(ApiError::value_invalid(
                "primary_web3_wallet_id",
                "must be a web3 wallet of this user",
            ));
        }
        None => None,
    };
    let image = match body.opt_string("profile_image_id")? {
        Some(img) if data.images.contains_key(&img) => Some(img),
        Some(_) => {
            return Err(ApiError::value_invalid(
                "profile_image_id",
                "is not a known image",
            ));
        }
        None => None,
    };
    let password = password_from_body(&body)?;
    let totp_secret = body.string("totp_secret")?;
    if let Patch::Set(s) = &totp_secret {
        check_totp_secret(s)?;
    }
    let backup_codes = body.string_list("backup_codes")?;
    if let Some(c) = &backup_codes {
        check_backup_codes(c)?;
    }
    let metadata = [
        body.object("public_metadata")?,
        body.object("private_metadata")?,
        body.object("unsafe_metadata")?,
    ];
    let legal = body.timestamp("legal_accepted_at")?;
    let created_at = body.timestamp("created_at")?.into_option();
    let org_limit = body.int("create_organizations_limit")?;
    if matches!(org_limit, Patch::Set(n) if n < 0) {
        return Err(ApiError::value_invalid(
            "create_organizations_limit",
            "must be 0 or more",
        ));
    }
    for flag in [
        "notify_primary_email_address_changed",
        "sign_out_of_other_sessions",
        "skip_legal_checks",
    ] {
        body.opt_bool(flag)?;
    }
    let delete_self = body.opt_bool("delete_self_enabled")?;
    let create_org = body.opt_bool("create_organization_enabled")?;
    let bypass = body.opt_bool("bypass_client_trust")?;
    let strings = [
        body.string("external_id")?,
        body.string("first_name")?,
        body.string("last_name")?,
        body.string("locale")?,
    ];

    let old_image = data
        .modify_user(user_id, |u| {
            let [external_id, first_name, last_name, locale] = strings;
            for (field, patch) in [
                (&mut u.external_id, external_id),
                (&mut u.first_name, first_name),
                (&mut u.last_name, last_name),
                (&mut u.locale, locale),
            ] {
                match patch {
                    Patch::Set(v) => *field = Some(v),
                    Patch::Null => *field = None,
                    Patch::Absent => {}
                }
            }
            match username {
                Patch::Set(v) => u.username = Some(v),
                Patch::Null => u.username = None,
                Patch::Absent => {}
            }
            if primary_email.is_some() {
                u.primary_email_address_id = primary_email;
            }
            if primary_phone.is_some() {
                u.primary_phone_number_id = primary_phone;
            }
            if primary_wallet.is_some() {
                u.primary_web3_wallet_id = primary_wallet;
            }
            let old_image = match image {
                Some(img) if u.image_id.as_deref() != Some(img.as_str()) => u.image_id.replace(img),
                _ => None,
            };
            if let Some(p) = password {
                u.password = Some(p);
                u.password_last_updated_at = Some(now);
            }
            let had_mfa = u.totp_secret.is_some() || !u.backup_codes.is_empty();
            match totp_secret {
                Patch::Set(s) => u.totp_secret = Some(s),
                Patch::Null => u.totp_secret = None,
                Patch::Absent => {}
            }
            if let Some(codes) = backup_codes {
                u.backup_codes = codes;
            }
            let has_mfa = u.totp_secret.is_some() || !u.backup_codes.is_empty();
            if has_mfa && !had_mfa {
                u.mfa_enabled_at = Some(now);
            } else if had_mfa && !has_mfa {
                u.mfa_disabled_at = Some(now);
            }
            let [public, private, unsafe_] = metadata;
            for (field, patch) in [
                (&mut u.public_metadata, public),
                (&mut u.private_metadata, private),
                (&mut u.unsafe_metadata, unsafe_),
            ] {
                match patch {
                    Patch::Set(m) => *field = m,
                    Patch::Null => field.clear(),
                    Patch::Absent => {}
                }
            }
            match legal {
                Patch::Set(t) => u.legal_accepted_at = Some(t),
                Patch::Null => u.legal_accepted_at = None,
                Patch::Absent => {}
            }
            if let Some(t) = created_at {
                u.created_at = t;
            }
            match org_limit {
                Patch::Set(n) => u.create_organizations_limit = Some(n),
                Patch::Null => u.create_organizations_limit = None,
                Patch::Absent => {}
            }
            if let Some(b) = delete_self {
                u.delete_self_enabled = b;
            }
            if let Some(b) = create_org {
                u.create_organization_enabled = b;
            }
            if let Some(b) = bypass {
                u.bypass_client_trust = b;
            }
            u.updated_at = now;
            old_image
        })
        .ok_or_else(ApiError::not_found)?;
    if let Some(img) = old_image {
        data.images.remove(&img);
    }
    user_response(call, &data, user_id)
}

fn update_metadata(call: &Call, bytes: &[u8]) -> ApiResult<Response> {
    let body = JsonBody::parse(bytes, Some(METADATA_FIELDS))?;
    let patches = [
        body.object("public_metadata")?,
        body.object("private_metadata")?,
        body.object("unsafe_metadata")?,
    ];
    let now = call.now;
    let mut data = call.inst.write();
    data.modify_user(call.param(0), |u| {
        let [public, private, unsafe_] = patches;
        for (field, patch) in [
            (&mut u.public_metadata, public),
            (&mut u.private_metadata, private),
            (&mut u.unsafe_metadata, unsafe_),
        ] {
            match patch {
                Patch::Set(m) => deep_merge(field, m),
                Patch::Null => field.clear(),
                Patch::Absent => {}
            }
        }
        u.updated_at = now;
    })
    .ok_or_else(ApiError::not_found)?;
    user_response(call, &data, call.param(0))
}

fn bulk_ban(call: &Call, bytes: &[u8]) -> ApiResult<Response> {
    // The spec leaves this body open (no additionalProperties: false).
    let body = JsonBody::parse(bytes, None)?;
    let ids = body
        .string_list("user_ids")?
        .ok_or_else(|| ApiError::missing_param("user_ids"))?;
    if ids.is_empty() || ids.len() > 50 {
        return Err(ApiError::value_invalid(
            "user_ids",
            "must contain between 1 and 50 user IDs",
        ));
    }
    let ban = call.op == Op::UsersBan;
    let now = call.now;
    let mut data = call.inst.write();
    let mut done: Vec<String> = Vec::new();
    for id in ids {
        if done.contains(&id) {
            continue;
        }
        let found = data.modify_user(&id, |u| {
            u.banned = ban;
            u.updated_at = now;
        });
        if found.is_some() {
            done.push(id);
        }
    }
    let users: Vec<&User> = done.iter().filter_map(|id| data.users.get(id)).collect();
    users_array(call, &data, &users)
}

// ---------------------------------------------------------------------------------------------
// List and count

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortField {
    CreatedAt,
    UpdatedAt,
    EmailAddress,
    Web3Wallet,
    FirstName,
    LastName,
    PhoneNumber,
    Username,
    LastActiveAt,
    LastSignInAt,
}

fn parse_order(raw: Option<&str>) -> ApiResult<(SortField, bool)> {
    let raw = raw.unwrap_or("-created_at");
    let (desc, field) = match raw.as_bytes().first() {
        Some(b'-') => (true, &raw[1..]),
        Some(b'+') => (false, &raw[1..]),
        _ => (false, raw),
    };
    let f = match field {
        "created_at" => SortField::CreatedAt,
        "updated_at" => SortField::UpdatedAt,
        "email_address" => SortField::EmailAddress,
        "web3wallet" => SortField::Web3Wallet,
        "first_name" => SortField::FirstName,
        "last_name" => SortField::LastName,
        "phone_number" => SortField::PhoneNumber,
        "username" => SortField::Username,
        "last_active_at" => SortField::LastActiveAt,
        "last_sign_in_at" => SortField::LastSignInAt,
        _ => {
            return Err(ApiError::value_invalid(
                "order_by",
                "must be one of created_at, updated_at, email_address, web3wallet, first_name, last_name, phone_number, username, last_active_at, last_sign_in_at, with an optional + or - prefix (send + as %2B)",
            ));
        }
    };
    Ok((f, desc))
}

/// `None` sorts after every value ascending (and first descending), like SQL's default.
fn cmp_opt<T: Ord>(a: Option<T>, b: Option<T>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(&b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn cmp_users(a: &User, b: &User, f: SortField) -> Ordering {
    let lower = |s: Option<&str>| s.map(str::to_lowercase);
    let primary = match f {
        SortField::CreatedAt => a.created_at.cmp(&b.created_at),
        SortField::UpdatedAt => a.updated_at.cmp(&b.updated_at),
        SortField::EmailAddress => cmp_opt(a.primary_email(), b.primary_email()),
        SortField::Web3Wallet => cmp_opt(a.primary_wallet(), b.primary_wallet()),
        SortField::FirstName => cmp_opt(
            lower(a.first_name.as_deref()),
            lower(b.first_name.as_deref()),
        ),
        SortField::LastName => {
            cmp_opt(lower(a.last_name.as_deref()), lower(b.last_name.as_deref()))
        }
        SortField::PhoneNumber => cmp_opt(a.primary_phone(), b.primary_phone()),
        SortField::Username => cmp_opt(a.username.as_deref(), b.username.as_deref()),
        SortField::LastActiveAt => cmp_opt(a.last_active_at, b.last_active_at),
        SortField::LastSignInAt => cmp_opt(a.last_sign_in_at, b.last_sign_in_at),
    };
    primary.then(a.seq.cmp(&b.seq))
}

/// `+id`/`-id` include/exclude filters: a user passes when it matches an include (if any) and
/// no exclude.
fn include_exclude<'a>(values: &[&'a str]) -> (Vec<&'a str>, Vec<&'a str>) {
    let mut inc = Vec::new();
    let mut exc = Vec::new();
    for v in values {
        if let Some(x) = v.strip_prefix('-') {
            exc.push(x);
        } else {
            inc.push(v.strip_prefix('+').unwrap_or(v));
        }
    }
    (inc, exc)
}

fn passes(inc: &[&str], exc: &[&str], candidates: &[&str]) -> bool {
    (inc.is_empty() || candidates.iter().any(|c| inc.contains(c)))
        && !candidates.iter().any(|c| exc.contains(c))
}

fn contains_ci(hay: &str, needle_lower: &str) -> bool {
    hay.to_lowercase().contains(needle_lower)
}

/// The users matching the List/Count filters.
fn filter_users<'a>(q: &Query, data: &'a InstanceData) -> ApiResult<Vec<&'a User>> {
    let lower = |v: Vec<&str>| v.into_iter().map(str::to_lowercase).collect::<Vec<_>>();
    let emails = lower(q.list("email_address")?);
    let phones = q.list("phone_number")?;
    let usernames = lower(q.list("username")?);
    let wallets = lower(q.list("web3_wallet")?);
    let (ext_inc, ext_exc) = include_exclude(&q.list("external_id")?);
    let (id_inc, id_exc) = include_exclude(&q.list("user_id")?);
    let (org_inc, org_exc) = include_exclude(&q.list("organization_id")?);
    let provider = q.first("provider");
    let provider_ids = q.list("provider_user_id")?;
    if provider.is_some() == provider_ids.is_empty() {
        return Err(ApiError::value_invalid(
            if provider.is_some() {
                "provider_user_id"
            } else {
                "provider"
            },
            "provider and provider_user_id must be used together",
        ));
    }
    let text = |k: &str| q.first(k).filter(|s| !s.is_empty()).map(str::to_lowercase);
    let (query, email_q, phone_q, username_q, name_q) = (
        text("query"),
        text("email_address_query"),
        text("phone_number_query"),
        text("username_query"),
        text("name_query"),
    );
    let banned = q.boolean("banned")?;
    let ts = |k: &str| q.int(k);
    let (la_before, la_after, la_since) = (
        ts("last_active_at_before")?,
        ts("last_active_at_after")?,
        ts("last_active_at_since")?,
    );
    let (c_before, c_after) = (ts("created_at_before")?, ts("created_at_after")?);
    let (ls_before, ls_after) = (ts("last_sign_in_at_before")?, ts("last_sign_in_at_after")?);

    let before = |v: Option<i64>, t: Option<i64>| t.is_none_or(|t| v.is_some_and(|v| v < t));
    let after = |v: Option<i64>, t: Option<i64>| t.is_none_or(|t| v.is_some_and(|v| v > t));

    let users = data.users.values().filter(|u| {
        if !emails.is_empty() && !u.emails.iter().any(|e| emails.contains(&e.email_address)) {
            return false;
        }
        if !phones.is_empty()
            && !u
                .phones
                .iter()
                .any(|p| phones.contains(&p.phone_number.as_str()))
        {
            return false;
        }
        if !usernames.is_empty() && !u.username.as_ref().is_some_and(|n| usernames.contains(n)) {
            return false;
        }
        if !wallets.is_empty() && !u.wallets.iter().any(|w| wallets.contains(&w.web3_wallet)) {
            return false;
        }
        if (!ext_inc.is_empty() || !ext_exc.is_empty())
            && !passes(
                &ext_inc,
                &ext_exc,
                &u.external_id.as_deref().into_iter().collect::<Vec<_>>(),
            )
        {
            return false;
        }
        if !passes(&id_inc, &id_exc, &[u.id.as_str()]) {
            return false;
        }
        if !org_inc.is_empty() || !org_exc.is_empty() {
            let orgs: Vec<&str> = data
                .memberships_of(&u.id)
                .map(|m| m.organization_id.as_str())
                .collect();
            if !passes(&org_inc, &org_exc, &orgs) {
                return false;
            }
        }
        if let Some(p) = provider {
            let p = p.strip_prefix("oauth_").unwrap_or(p);
            if !u.external_accounts.iter().any(|a| {
                a.provider.strip_prefix("oauth_").unwrap_or(&a.provider) == p
                    && provider_ids.contains(&a.provider_user_id.as_str())
            }) {
                return false;
            }
        }
        if let Some(q) = &email_q
            && !u.emails.iter().any(|e| contains_ci(&e.email_address, q))
        {
            return false;
        }
        if let Some(q) = &phone_q
            && !u.phones.iter().any(|p| contains_ci(&p.phone_number, q))
        {
            return false;
        }
        if let Some(q) = &username_q
            && !u.username.as_deref().is_some_and(|n| contains_ci(n, q))
        {
            return false;
        }
        if let Some(q) = &name_q {
            let full = format!(
                "{} {}",
                u.first_name.as_deref().unwrap_or(""),
                u.last_name.as_deref().unwrap_or("")
            );
            if !contains_ci(full.trim(), q) {
                return false;
            }
        }
        if let Some(q) = &query {
            let hit = u.emails.iter().any(|e| contains_ci(&e.email_address, q))
                || u.phones.iter().any(|p| contains_ci(&p.phone_number, q))
                || u.wallets.iter().any(|w| contains_ci(&w.web3_wallet, q))
                || u.username.as_deref().is_some_and(|n| contains_ci(n, q))
                || contains_ci(&u.id, q)
                || u.first_name.as_deref().is_some_and(|n| contains_ci(n, q))
                || u.last_name.as_deref().is_some_and(|n| contains_ci(n, q));
            if !hit {
                return false;
            }
        }
        if banned.is_some_and(|b| b != u.banned) {
            return false;
        }
        before(u.last_active_at, la_before)
            && after(u.last_active_at, la_after)
            && la_since.is_none_or(|t| u.last_active_at.is_some_and(|v| v >= t))
            && before(Some(u.created_at), c_before)
            && after(Some(u.created_at), c_after)
            && before(u.last_sign_in_at, ls_before)
            && after(u.last_sign_in_at, ls_after)
    });
    Ok(users.collect())
}

fn list(call: &Call) -> ApiResult<Response> {
    let q = &call.query;
    let (limit, offset) = q.page()?;
    let (field, desc) = parse_order(q.first("order_by"))?;
    let cursor = q.first("starting_after").filter(|s| !s.is_empty());
    if cursor.is_some() {
        if field != SortField::CreatedAt {
            return Err(ApiError::value_invalid(
                "starting_after",
                "can only be used with created_at ordering",
            ));
        }
        if offset != 0 {
            return Err(ApiError::value_invalid(
                "starting_after",
                "cannot be combined with offset",
            ));
        }
    }
    let data = call.inst.read();
    let mut users = filter_users(q, &data)?;
    users.sort_by(|a, b| {
        let o = cmp_users(a, b, field);
        if desc { o.reverse() } else { o }
    });
    let start = match cursor {
        None => offset,
        Some(id) => {
            let key = data
                .users
                .get(id)
                .map(|u| (u.created_at, u.seq))
                .or_else(|| data.tombstones.get(id).copied())
                .ok_or_else(|| {
                    ApiError::value_invalid("starting_after", "is not a known user ID")
                })?;
            users
                .iter()
                .position(|u| {
                    let o = (u.created_at, u.seq).cmp(&key);
                    if desc {
                        o == Ordering::Less
                    } else {
                        o == Ordering::Greater
                    }
                })
                .unwrap_or(users.len())
        }
    };
    let page: Vec<&User> = users.into_iter().skip(start).take(limit).collect();
    users_array(call, &data, &page)
}

fn count(call: &Call) -> ApiResult<Response> {
    let data = call.inst.read();
    let n = filter_users(&call.query, &data)?.len();
    ok_value(&json!({ "object": "total_count", "total_count": n }))
}

// ---------------------------------------------------------------------------------------------
// Sub-resources

fn oauth_tokens(call: &Call, body: &[u8]) -> ApiResult<Response> {
    JsonBody::expect_empty(body)?;
    let paginated = call.query.boolean("paginated")?.unwrap_or(false);
    let (limit, offset) = call.query.page()?;
    let provider = call.param(1);
    let provider = if provider.starts_with("oauth_") {
        provider.to_owned()
    } else {
        format!("oauth_{provider}")
    };
    let data = call.inst.read();
    let u = data
        .users
        .get(call.param(0))
        .ok_or_else(ApiError::not_found)?;
    let all: Vec<_> = u
        .external_accounts
        .iter()
        .filter(|a| a.provider == provider)
        .filter_map(token_view)
        .collect();
    let total = all.len();
    let page: Vec<_> = all.into_iter().skip(offset).take(limit).collect();
    let bytes = if paginated {
        serde_json::to_vec(&json!({ "data": page, "total_count": total }))
    } else {
        serde_json::to_vec(&page)
    };
    ok(bytes.unwrap_or_default())
}

fn user_memberships(call: &Call, body: &[u8]) -> ApiResult<Response> {
    JsonBody::expect_empty(body)?;
    let (limit, offset) = call.query.page()?;
    let data = call.inst.read();
    if !data.users.contains_key(call.param(0)) {
        return Err(ApiError::not_found());
    }
    let c = ctx(call, &data);
    let all: Vec<_> = data
        .memberships_of(call.param(0))
        .filter_map(|m| crate::render::membership_view(m, c, true))
        .collect();
    let total = all.len();
    let page: Vec<_> = all.into_iter().skip(offset).take(limit).collect();
    ok(serde_json::to_vec(&json!({ "data": page, "total_count": total })).unwrap_or_default())
}

fn user_invitations(call: &Call, body: &[u8]) -> ApiResult<Response> {
    JsonBody::expect_empty(body)?;
    let (limit, offset) = call.query.page()?;
    let status = call.query.first("status");
    if let Some(s) = status
        && !["pending", "accepted", "revoked", "expired"].contains(&s)
    {
        return Err(ApiError::value_invalid(
            "status",
            "must be one of pending, accepted, revoked, expired",
        ));
    }
    let data = call.inst.read();
    let u = data
        .users
        .get(call.param(0))
        .ok_or_else(ApiError::not_found)?;
    let emails: Vec<&str> = u.emails.iter().map(|e| e.email_address.as_str()).collect();
    let mut invs: Vec<_> = data
        .invitations
        .values()
        .filter(|i| emails.contains(&i.email_address.as_str()))
        .filter(|i| status.is_none_or(|s| i.effective_status(call.now) == s))
        .collect();
    invs.sort_by_key(|i| std::cmp::Reverse(i.seq));
    let total = invs.len();
    let c = ctx(call, &data);
    let page: Vec<_> = invs
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|i| crate::render::invitation_view(i, c, true))
        .collect();
    ok(serde_json::to_vec(&json!({ "data": page, "total_count": total })).unwrap_or_default())
}

// ---------------------------------------------------------------------------------------------
// Profile image

pub(crate) async fn set_profile_image(call: Call, req: Request<Body>) -> ApiResult<Response> {
    let bad = |long: &str| {
        ApiError::bad_request("form_param_missing", "missing data", long.to_owned())
            .with_param("file")
    };
    let is_multipart = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !is_multipart {
        return Err(ApiError::bad_request(
            "form_param_format_invalid",
            "is invalid",
            "SetUserProfileImage expects a multipart/form-data body with a `file` part.",
        ));
    }
    let multipart_error = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::payload_too_large(IMAGE_LIMIT)
        } else {
            ApiError::bad_request(
                "form_param_format_invalid",
                "is invalid",
                format!("Invalid multipart body: {}", e.body_text()),
            )
        }
    };
    let mut multipart = Multipart::from_request(req, &()).await.map_err(|e| {
        ApiError::bad_request(
            "form_param_format_invalid",
            "is invalid",
            format!("Invalid multipart body: {}", e.body_text()),
        )
    })?;
    let mut file = None;
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        if field.name() == Some("file") {
            let content_type = field
                .content_type()
                .unwrap_or("application/octet-stream")
                .to_owned();
            let bytes = field.bytes().await.map_err(multipart_error)?;
            file = Some((content_type, bytes));
        } else {
            // Drain unknown parts so the stream moves on.
            let _ = field.bytes().await.map_err(multipart_error)?;
        }
    }
    let (content_type, bytes) =
        file.ok_or_else(|| bad("The multipart body has no `file` part."))?;
    if bytes.is_empty() {
        return Err(bad("The `file` part is empty."));
    }
    let image_id = new_id("img");
    let now = call.now;
    let mut data = call.inst.write();
    let old = data
        .modify_user(call.param(0), |u| {
            u.updated_at = now;
            u.image_id.replace(image_id.clone())
        })
        .ok_or_else(ApiError::not_found)?;
    if let Some(old) = old {
        data.images.remove(&old);
    }
    data.images.insert(
        image_id,
        Image {
            content_type,
            bytes: bytes.to_vec(),
        },
    );
    user_response(&call, &data, call.param(0))
}

// ---------------------------------------------------------------------------------------------
// Verifications (hashing runs off the async workers and outside the instance lock)

pub(crate) async fn verify_password(call: &Call, bytes: &[u8]) -> ApiResult<Response> {
    let body = JsonBody::parse(bytes, Some(&["password"]))?;
    let password = body.required_string("password")?;
    let stored = {
        let data = call.inst.read();
        let u = data
            .users
            .get(call.param(0))
            .ok_or_else(ApiError::not_found)?;
        u.password.clone()
    };
    let stored = stored.ok_or_else(|| {
        ApiError::bad_request(
            "password_not_set",
            "The user does not have a password set.",
            "The user does not have a password set, so it cannot be verified.",
        )
    })?;
    let verified = tokio::task::spawn_blocking(move || match &stored {
        Password::Plain { hash } => passwords::verify_plain(hash, &password),
        Password::Digest { hasher, digest } => {
            passwords::verify_digest(hasher, digest, &password).unwrap_or(false)
        }
    })
    .await
    .unwrap_or(false);
    if !verified {
        return Err(ApiError::unprocessable(
            "form_password_incorrect",
            "Password is incorrect. Try again, or use another method.",
            "Password is incorrect. Try again, or use another method.",
        )
        .with_param("password"));
    }
    ok_value(&json!({ "verified": true }))
}

pub(crate) async fn verify_totp(call: &Call, bytes: &[u8]) -> ApiResult<Response> {
    let body = JsonBody::parse(bytes, Some(&["code"]))?;
    let code = body.required_string("code")?.trim().to_owned();
    let (secret, codes) = {
        let data = call.inst.read();
        let u = data
            .users
            .get(call.param(0))
            .ok_or_else(ApiError::not_found)?;
        (u.totp_secret.clone(), u.backup_codes.clone())
    };
    if secret.is_none() && codes.is_empty() {
        return Err(ApiError::bad_request(
            "totp_not_enabled",
            "TOTP is not enabled",
            "The user does not have TOTP configured for their account.",
        ));
    }
    let now_secs = u64::try_from(call.now / 1000).unwrap_or(0);
    let code2 = code.clone();
    let matched = tokio::task::spawn_blocking(move || {
        if secret
            .as_deref()
            .is_some_and(|s| totp::verify_totp(s, &code2, now_secs))
        {
            return Some(None);
        }
        codes
            .into_iter()
            .find(|stored| totp::verify_backup_code(stored, &code2))
            .map(Some)
    })
    .await
    .unwrap_or(None);
    let incorrect = || {
        ApiError::unprocessable(
            "form_code_incorrect",
            "Incorrect code",
            "The provided TOTP or backup code was incorrect.",
        )
        .with_param("code")
    };
    match matched {
        None => Err(incorrect()),
        Some(None) => ok_value(&json!({ "verified": true, "code_type": "totp" })),
        Some(Some(stored)) => {
            // A backup code is used up; a concurrent verification of the same code loses.
            let now = call.now;
            let mut data = call.inst.write();
            let consumed = data
                .modify_user(call.param(0), |u| {
                    let pos = u.backup_codes.iter().position(|c| *c == stored);
                    if let Some(p) = pos {
                        u.backup_codes.remove(p);
                        u.updated_at = now;
                    }
                    pos.is_some()
                })
                .ok_or_else(ApiError::not_found)?;
            if !consumed {
                return Err(incorrect());
            }
            ok_value(&json!({ "verified": true, "code_type": "backup_code" }))
        }
    }
}
