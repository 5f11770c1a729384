//! Credentials of create and update bodies: the password policy, password digests, TOTP
//! secrets and backup codes, by the rules of [`clerk_rules`].

use super::identifiers::rejected;
use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult};
use crate::model::Password;
use crate::passwords;

fn check_password(password: &str, skip_checks: bool) -> ApiResult<()> {
    if skip_checks {
        return Ok(());
    }
    clerk_rules::password::check(password).map_err(rejected)
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
    clerk_rules::totp::check_secret(secret).map_err(rejected)
}

pub(crate) fn check_backup_codes(codes: &[String]) -> ApiResult<()> {
    clerk_rules::totp::check_backup_codes(codes).map_err(rejected)
}
