//! Credentials: the password policy, password digests, TOTP secrets and backup codes of
//! create and update bodies.

use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult};
use crate::model::Password;
use crate::{passwords, totp};

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
pub(crate) fn password_from_body(body: &JsonBody) -> ApiResult<Option<Password>> {
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

pub(crate) fn check_totp_secret(secret: &str) -> ApiResult<()> {
    if totp::is_valid_secret(secret) {
        Ok(())
    } else {
        Err(ApiError::invalid_param(
            "totp_secret",
            "must be a base32-encoded TOTP secret",
        ))
    }
}

pub(crate) fn check_backup_codes(codes: &[String]) -> ApiResult<()> {
    if codes.iter().any(|c| c.trim().is_empty()) {
        return Err(ApiError::invalid_param(
            "backup_codes",
            "codes must not be empty",
        ));
    }
    Ok(())
}
