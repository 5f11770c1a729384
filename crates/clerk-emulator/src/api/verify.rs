//! The verifications: `verify_password` and `verify_totp`. Hashing runs off the async workers
//! (`spawn_blocking`) and outside the instance lock.

use axum::response::Response;
use serde_json::json;

use super::{Call, ok_value};
use crate::body::JsonBody;
use crate::domain::user_actions;
use crate::error::{ApiError, ApiResult};
use crate::model::Password;
use crate::{passwords, totp};

/// `POST /users/{id}/verify_password`, against a plain password or an imported digest.
pub(crate) async fn verify_password(call: &Call, bytes: &[u8]) -> ApiResult<Response> {
    let body = JsonBody::parse(bytes, Some(&["password"]))?;
    let password = body.required_string("password")?;
    let (stored, compromised) = {
        let data = call.inst.read();
        let u = data
            .users
            .get(call.param(0))
            .ok_or_else(ApiError::not_found)?;
        (u.password.clone(), u.extras.password_compromised)
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
    if compromised {
        // The right password, marked compromised: it must be reset before it is trusted.
        return Err(ApiError::unprocessable(
            "form_password_pwned",
            "This password has been marked compromised. Reset it to sign in.",
            "This password has been marked compromised (set_compromised); the user must reset it.",
        )
        .with_param("password"));
    }
    ok_value(&json!({ "verified": true }))
}

/// `POST /users/{id}/verify_totp`: a TOTP code, or a backup code (used up on success).
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
            let mut data = call.inst.write();
            let consumed =
                user_actions::consume_backup_code(&mut data, call.param(0), &stored, call.now)?;
            if !consumed {
                return Err(incorrect());
            }
            ok_value(&json!({ "verified": true, "code_type": "backup_code" }))
        }
    }
}
