//! Users: creating and updating a user under the emulated instance's rules. The API handlers
//! and the seed loader both come here; nothing in this module knows about HTTP.

use crate::body::{JsonBody, Patch, deep_merge};
use crate::error::{ApiError, ApiResult};
use crate::ids::new_id;
use crate::model::{Email, LOCKOUT_SECS, Metadata, Phone, StoredMetadata, User, Wallet};
use crate::store::{IdentKind, InstanceData};

use super::credentials::{check_backup_codes, check_totp_secret, password_from_body};
use super::identifiers::{
    identifier_exists, normalize_email, normalize_phone, normalize_username, normalize_wallet,
    normalized_list, rejected, statuses,
};

/// The fields of a `POST /users` body (`additionalProperties: false` in the spec).
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

/// The fields of a `PATCH /users/{id}` body.
pub(crate) const UPDATE_FIELDS: &[&str] = &[
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

/// The fields of a `PATCH /users/{id}/metadata` body.
pub(crate) const METADATA_FIELDS: &[&str] =
    &["public_metadata", "private_metadata", "unsafe_metadata"];

/// Clerk's bounds on the free-text fields (`clerk_rules::limits`, the client's and the
/// CLI's rule too): length, NUL and control characters. Identifiers get theirs from
/// their own rules.
fn check_text_fields(body: &JsonBody) -> ApiResult<()> {
    for field in ["external_id", "first_name", "last_name", "locale"] {
        if let Some(serde_json::Value::String(value)) = body.raw(field) {
            clerk_rules::limits::check(field, value).map_err(rejected)?;
        }
    }
    Ok(())
}

/// Creates a user from a `POST /users` body (the API and the seed loader), returning its id.
pub(crate) fn create_user(
    data: &mut InstanceData,
    body: &JsonBody,
    now: i64,
    id: Option<String>,
) -> ApiResult<String> {
    check_text_fields(body)?;
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
        public_metadata: StoredMetadata::new(&public_metadata),
        private_metadata: StoredMetadata::new(&private_metadata),
        unsafe_metadata: StoredMetadata::new(&unsafe_metadata),
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
        extras: Default::default(),
    };
    let id = user.id.clone();
    data.insert_user(user);
    Ok(id)
}

/// Applies a `PATCH /users/{id}` body: everything is checked before anything changes.
pub(crate) fn update_user(
    data: &mut InstanceData,
    user_id: &str,
    body: &JsonBody,
    now: i64,
) -> ApiResult<()> {
    let user = data.users.get(user_id).ok_or_else(ApiError::not_found)?;
    check_text_fields(body)?;

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
    let password = password_from_body(body)?;
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
                u.extras.password_compromised = false;
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
                    Patch::Set(m) => *field = StoredMetadata::new(&m),
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
    Ok(())
}

/// Applies a `PATCH /users/{id}/metadata` body: a deep merge where `null` deletes.
pub(crate) fn update_metadata(
    data: &mut InstanceData,
    user_id: &str,
    body: &JsonBody,
    now: i64,
) -> ApiResult<()> {
    write_metadata(data, user_id, body, now, deep_merge)
}

/// Applies a `PUT /users/{id}/metadata` body: each given field replaced whole (`null`
/// empties it), the others left as they are.
pub(crate) fn replace_metadata(
    data: &mut InstanceData,
    user_id: &str,
    body: &JsonBody,
    now: i64,
) -> ApiResult<()> {
    write_metadata(data, user_id, body, now, |field, value| *field = value)
}

/// The three metadata fields of a body, each written with `write` when given, emptied
/// when `null`, left alone when absent.
fn write_metadata(
    data: &mut InstanceData,
    user_id: &str,
    body: &JsonBody,
    now: i64,
    write: fn(&mut Metadata, Metadata),
) -> ApiResult<()> {
    let values = [
        body.object("public_metadata")?,
        body.object("private_metadata")?,
        body.object("unsafe_metadata")?,
    ];
    data.modify_user(user_id, |u| {
        let [public, private, unsafe_] = values;
        for (field, value) in [
            (&mut u.public_metadata, public),
            (&mut u.private_metadata, private),
            (&mut u.unsafe_metadata, unsafe_),
        ] {
            match value {
                Patch::Set(m) => field.update(|field| write(field, m)),
                Patch::Null => field.clear(),
                Patch::Absent => {}
            }
        }
        u.updated_at = now;
    })
    .ok_or_else(ApiError::not_found)
}
