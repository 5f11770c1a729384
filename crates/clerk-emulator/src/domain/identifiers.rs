//! Identifiers: how Clerk checks and normalises emails, phone numbers, usernames and web3
//! wallets, and the identifier-taken error.

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

pub(crate) fn normalize_phone(s: &str) -> ApiResult<String> {
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

pub(crate) fn normalize_username(s: &str) -> ApiResult<String> {
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

pub(crate) fn normalize_wallet(s: &str) -> ApiResult<String> {
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
