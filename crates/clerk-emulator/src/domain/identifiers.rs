//! Identifiers: emails, phone numbers, usernames and web3 wallets, checked and normalised by
//! [`clerk_rules::identifiers`], and the identifier-taken error.

use clerk_rules::identifiers;

use crate::body::JsonBody;
use crate::error::{ApiError, ApiResult};
use crate::store::IdentKind;

pub(crate) fn identifier_exists(kind: IdentKind) -> ApiError {
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

/// The answer Clerk gives for a value that breaks one of its rules.
pub(crate) fn rejected(r: clerk_rules::Rejection) -> ApiError {
    if r.code() == "form_param_format_invalid" {
        ApiError::invalid_param(r.field(), r.reason())
    } else {
        ApiError::unprocessable(r.code(), r.message(), r.reason()).with_param(r.field())
    }
}

pub(crate) fn normalize_email(s: &str) -> ApiResult<String> {
    identifiers::email(s).map_err(rejected)
}

pub(crate) fn normalize_phone(s: &str) -> ApiResult<String> {
    identifiers::phone(s).map_err(rejected)
}

pub(crate) fn normalize_username(s: &str) -> ApiResult<String> {
    identifiers::username(s).map_err(rejected)
}

pub(crate) fn normalize_wallet(s: &str) -> ApiResult<String> {
    identifiers::web3_wallet(s).map_err(rejected)
}

pub(crate) fn statuses(body: &JsonBody, key: &str, n: usize) -> ApiResult<Vec<bool>> {
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

/// The identifiers of a list field, each normalised (and checked) as Clerk compares them.
pub(crate) fn normalized_list(
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
