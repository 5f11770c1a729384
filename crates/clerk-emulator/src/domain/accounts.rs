//! What only a sign-in would create on Clerk, set up through the control API and the seed
//! file: external accounts (with their OAuth tokens), passkeys and sign-in activity.

use crate::body::{JsonBody, Patch};
use crate::error::{ApiError, ApiResult};
use crate::ids::{new_id, random_hex};
use crate::model::{ExternalAccount, OAuthToken, Passkey};
use crate::store::InstanceData;

fn valid_provider(p: &str) -> bool {
    let rest = p.strip_prefix("oauth_").unwrap_or("");
    let rest = rest
        .strip_prefix("custom_")
        .or_else(|| rest.strip_prefix("token_"))
        .unwrap_or(rest);
    !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_lowercase())
}

const EXTERNAL_ACCOUNT_FIELDS: &[&str] = &[
    "provider",
    "provider_user_id",
    "email_address",
    "first_name",
    "last_name",
    "username",
    "phone_number",
    "image_url",
    "approved_scopes",
    "label",
    "public_metadata",
    "token",
    "token_secret",
    "id_token",
    "scopes",
    "expires_at",
];

/// Attaches an external account (and its OAuth access token) to a user, as a sign-in would.
pub(crate) fn add_external_account(
    data: &mut InstanceData,
    user_id: &str,
    body: JsonBody,
    now: i64,
) -> ApiResult<String> {
    body.check_keys(EXTERNAL_ACCOUNT_FIELDS)?;
    let provider = body.required_string("provider")?;
    let provider = if provider.starts_with("oauth_") {
        provider
    } else {
        format!("oauth_{provider}")
    };
    if !valid_provider(&provider) {
        return Err(ApiError::invalid_param(
            "provider",
            "expected a provider such as oauth_google",
        ));
    }
    let user = data.users.get(user_id).ok_or_else(ApiError::not_found)?;
    let s = |k: &str| body.opt_string(k);
    let scopes = body.string_list("scopes")?;
    let token = match body.string("token")? {
        Patch::Null => None,
        Patch::Set(t) => Some(t),
        Patch::Absent => Some(format!("oauth_token_{}", random_hex(16))),
    };
    let expires_at = body.int("expires_at")?.into_option();
    let account = ExternalAccount {
        id: new_id("eac"),
        identification_id: new_id("idn"),
        provider_user_id: s("provider_user_id")?.unwrap_or_else(|| random_hex(10)),
        approved_scopes: s("approved_scopes")?
            .or_else(|| scopes.as_ref().map(|v| v.join(" ")))
            .unwrap_or_else(|| "email profile".into()),
        email_address: s("email_address")?
            .or_else(|| user.primary_email().map(str::to_owned))
            .unwrap_or_default(),
        first_name: s("first_name")?
            .or_else(|| user.first_name.clone())
            .unwrap_or_default(),
        last_name: s("last_name")?
            .or_else(|| user.last_name.clone())
            .unwrap_or_default(),
        image_url: s("image_url")?,
        username: s("username")?,
        phone_number: s("phone_number")?,
        public_metadata: body
            .object("public_metadata")?
            .into_option()
            .unwrap_or_default(),
        label: s("label")?,
        created_at: now,
        updated_at: now,
        token: token.map(|token| OAuthToken {
            token,
            token_secret: None,
            id_token: None,
            scopes: scopes.clone(),
            expires_at,
        }),
        provider,
    };
    let mut account = account;
    if let Some(t) = account.token.as_mut() {
        t.token_secret = s("token_secret")?;
        t.id_token = s("id_token")?;
    }
    let id = account.id.clone();
    data.modify_user(user_id, |u| {
        u.external_accounts.push(account);
        u.updated_at = now;
    });
    Ok(id)
}

/// Registers a passkey on a user.
pub(crate) fn add_passkey(
    data: &mut InstanceData,
    user_id: &str,
    body: JsonBody,
    now: i64,
) -> ApiResult<String> {
    body.check_keys(&["name", "last_used_at"])?;
    let name = body.opt_string("name")?.unwrap_or_else(|| "Passkey".into());
    let last_used_at = body.int("last_used_at")?.into_option().unwrap_or(now);
    let id = new_id("idn");
    let pk = Passkey {
        id: id.clone(),
        name,
        last_used_at,
        created_at: now,
    };
    data.modify_user(user_id, |u| {
        u.passkeys.push(pk);
        u.updated_at = now;
    })
    .ok_or_else(ApiError::not_found)?;
    Ok(id)
}

/// Sets sign-in activity timestamps (Unix ms), which only sign-ins would change on Clerk.
pub(crate) fn set_activity(
    data: &mut InstanceData,
    user_id: &str,
    body: JsonBody,
) -> ApiResult<()> {
    body.check_keys(&["last_sign_in_at", "last_active_at"])?;
    let sign_in = body.int("last_sign_in_at")?;
    let active = body.int("last_active_at")?;
    data.modify_user(user_id, |u| {
        for (field, patch) in [
            (&mut u.last_sign_in_at, sign_in),
            (&mut u.last_active_at, active),
        ] {
            match patch {
                Patch::Set(v) => *field = Some(v),
                Patch::Null => *field = None,
                Patch::Absent => {}
            }
        }
    })
    .ok_or_else(ApiError::not_found)
}
