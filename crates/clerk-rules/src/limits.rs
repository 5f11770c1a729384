//! How long a value may be and which characters it may hold: the bounds on the text
//! fields of the user bodies and on the object ids that go into paths, checked before
//! anything else so a 50 MB value costs one length check and a NUL never reaches a
//! server.
//!
//! Where each bound comes from:
//!
//! | values | bound | source |
//! |---|---|---|
//! | `first_name`, `last_name` | 256 characters | Clerk's `form_param_max_length_exceeded` ("First name should not exceed 256 characters.": clerk/javascript `packages/localizations/src/en-US.ts`); Clerk's OpenAPI specs (2025-11-10, 2026-05-12) give no `maxLength` on the Users bodies |
//! | `username` | 4 to 64 characters | Clerk's `form_username_invalid_length` ([`identifiers::username`](crate::identifiers::username)) |
//! | `email_address` | 254 bytes | RFC 5321 ([`identifiers::email`](crate::identifiers::email)) |
//! | `phone_number` | 15 digits | E.164 ([`identifiers::phone`](crate::identifiers::phone)) |
//! | `external_id`, `locale` | [`MAX_TEXT_BYTES`] | none documented by Clerk (neither spec nor guide): ours, far above any real value, low enough for an importer to look the value up in one URL (3 × 1,024 percent-encoded bytes stay under the 8 KB proxies allow) |
//! | object ids (`user_id`, `user_ids`, `starting_after`, `primary_*_id`, …) | [`MAX_OBJECT_ID_BYTES`] | Clerk's ids are a short prefix and 27 base62 characters (the specs' `^user_\w{27}$` patterns): under 40 bytes |
//!
//! No text value may hold NUL: a database text column cannot store it (PostgreSQL refuses
//! `\0` in `text`). Identifiers, ids and `external_id` may hold no control character at all
//! (C0, DEL, C1: they are keys that are compared, looked up and printed); names may (they
//! are display text whose content Clerk does not constrain), except NUL.
//!
//! ```
//! use clerk_rules::limits;
//!
//! assert!(limits::check("first_name", "Ada").is_ok());
//! let long = limits::check("first_name", &"a".repeat(257)).unwrap_err();
//! assert_eq!((long.code(), long.field()), ("form_param_max_length_exceeded", "first_name"));
//! let nul = limits::check("external_id", "crm\0-42").unwrap_err();
//! assert_eq!(nul.code(), "form_param_format_invalid");
//! assert!(limits::object_id("user_id", "user_2xhFjEI5X2qWRvtV13BzSj8H6Dk").is_ok());
//! assert!(limits::object_id("user_id", "user_1\r\n").is_err());
//! ```

use crate::Rejection;

/// Most characters in `first_name` and `last_name` (Clerk's `form_param_max_length_exceeded`).
pub const MAX_NAME_CHARS: usize = 256;
/// Most bytes in `external_id` and `locale`, for which Clerk documents no bound.
pub const MAX_TEXT_BYTES: usize = 1024;
/// Most bytes in an object id (`user_…`, `idn_…`).
pub const MAX_OBJECT_ID_BYTES: usize = 128;

/// RFC 5321's bound on a whole address.
const MAX_EMAIL_BYTES: usize = 254;

/// Clerk's code for a value over its length bound.
const TOO_LONG: &str = "form_param_max_length_exceeded";
const TOO_LONG_MESSAGE: &str = "exceeds the maximum allowed length";

/// The bounds on one body string field by its name, or `Ok` for a field this module
/// has no bound for (passwords, digests, TOTP secrets and timestamps have their own rules).
///
/// Identifiers are checked for length and characters only; their format is
/// [`identifiers`](crate::identifiers)' (which applies these bounds first). Emails, phones
/// and wallets are judged without surrounding whitespace, as Clerk compares them.
///
/// # Errors
///
/// `form_param_max_length_exceeded` for a value over its bound, `form_param_format_invalid`
/// for a NUL or (outside names) a control character; the rejection names the field and
/// never the value.
pub fn check(field: &str, value: &str) -> Result<(), Rejection> {
    match field {
        "first_name" => name("first_name", value),
        "last_name" => name("last_name", value),
        "external_id" => external_id(value),
        "locale" => keyed_text("locale", value),
        "username" => username(value),
        "email_address" => email_address(value),
        "phone_number" => phone_number(value),
        "web3_wallet" => web3_wallet(value),
        "user_id" => object_id("user_id", value),
        "user_ids" => object_id("user_ids", value),
        "starting_after" => object_id("starting_after", value),
        "primary_email_address_id" => object_id("primary_email_address_id", value),
        "primary_phone_number_id" => object_id("primary_phone_number_id", value),
        "primary_web3_wallet_id" => object_id("primary_web3_wallet_id", value),
        "profile_image_id" => object_id("profile_image_id", value),
        "organization_id" => object_id("organization_id", value),
        _ => Ok(()),
    }
}

/// A display name (`first_name`, `last_name`): at most [`MAX_NAME_CHARS`] characters, no NUL.
///
/// # Errors
///
/// `form_param_max_length_exceeded` or `form_param_format_invalid` on `field`.
pub fn name(field: &'static str, value: &str) -> Result<(), Rejection> {
    // A cheap upper bound first: a 50 MB value is refused without counting characters.
    if value.len() > MAX_NAME_CHARS * 4 || value.chars().count() > MAX_NAME_CHARS {
        return Err(Rejection::new(
            TOO_LONG,
            field,
            TOO_LONG_MESSAGE,
            "longer than 256 characters",
        ));
    }
    if value.contains('\0') {
        return Err(Rejection::format(field, "holds a NUL character"));
    }
    Ok(())
}

/// An `external_id`: at most [`MAX_TEXT_BYTES`] bytes, no control character.
///
/// # Errors
///
/// `form_param_max_length_exceeded` or `form_param_format_invalid` on `external_id`.
pub fn external_id(value: &str) -> Result<(), Rejection> {
    keyed_text("external_id", value)
}

/// An object id sent in a path, a query or a body (`user_…`, `idn_…`): not empty, not
/// `.` or `..` (each would address another endpoint as a path segment), at most
/// [`MAX_OBJECT_ID_BYTES`] bytes, no control character.
///
/// # Errors
///
/// `form_param_max_length_exceeded` or `form_param_format_invalid` on `field`.
pub fn object_id(field: &'static str, value: &str) -> Result<(), Rejection> {
    if value.is_empty() {
        return Err(Rejection::format(field, "is empty"));
    }
    if value == "." || value == ".." {
        return Err(Rejection::format(field, "is `.` or `..`"));
    }
    if value.len() > MAX_OBJECT_ID_BYTES {
        return Err(Rejection::new(
            TOO_LONG,
            field,
            TOO_LONG_MESSAGE,
            "longer than 128 bytes (Clerk's ids have under 40)",
        ));
    }
    no_controls(field, value)
}

/// The username's bounds (its character set is [`identifiers::username`](crate::identifiers::username)'s).
pub(crate) fn username(value: &str) -> Result<(), Rejection> {
    const TEXT: &str = "Usernames must be between 4 and 64 characters long.";
    if value.len() > 64 * 4 || !(4..=64).contains(&value.chars().count()) {
        return Err(Rejection::new(
            "form_username_invalid_length",
            "username",
            TEXT,
            TEXT,
        ));
    }
    if value.chars().any(char::is_control) {
        const CHARS: &str = "Usernames can only contain letters, numbers and '_' or '-'.";
        return Err(Rejection::new(
            "form_username_invalid_character",
            "username",
            CHARS,
            CHARS,
        ));
    }
    Ok(())
}

/// An email's bounds: 254 bytes (RFC 5321), no control character, once trimmed.
pub(crate) fn email_address(value: &str) -> Result<(), Rejection> {
    let value = trim_bounded(value, MAX_EMAIL_BYTES);
    if value.len() > MAX_EMAIL_BYTES {
        return Err(Rejection::format(
            "email_address",
            "not a valid email address (longer than 254 characters)",
        ));
    }
    no_controls("email_address", value).map_err(|_| {
        Rejection::format(
            "email_address",
            "not a valid email address (spaces or control characters)",
        )
    })
}

/// A phone number's bounds: `+` and 15 digits at most, once trimmed.
pub(crate) fn phone_number(value: &str) -> Result<(), Rejection> {
    let value = trim_bounded(value, 16);
    if value.len() > 16 || value.chars().any(char::is_control) {
        return Err(Rejection::format(
            "phone_number",
            "not an E.164 phone number (`+`, then 7 to 15 digits, the first not 0, e.g. +14155550100)",
        ));
    }
    Ok(())
}

/// A wallet's bounds: `0x` and 40 hex digits, once trimmed.
pub(crate) fn web3_wallet(value: &str) -> Result<(), Rejection> {
    let value = trim_bounded(value, 42);
    if value.len() > 42 || value.chars().any(char::is_control) {
        return Err(Rejection::format(
            "web3_wallet",
            "not an Ethereum address (0x and 40 hex digits)",
        ));
    }
    Ok(())
}

/// `value` without surrounding whitespace, unless it is so long that trimming could not
/// bring it under `max` plus some whitespace (then as is: the caller refuses it).
fn trim_bounded(value: &str, max: usize) -> &str {
    if value.len() > max + 1024 {
        value
    } else {
        value.trim()
    }
}

/// Free text used as a key (`external_id`, `locale`): [`MAX_TEXT_BYTES`], no control character.
fn keyed_text(field: &'static str, value: &str) -> Result<(), Rejection> {
    if value.len() > MAX_TEXT_BYTES {
        return Err(Rejection::new(
            TOO_LONG,
            field,
            TOO_LONG_MESSAGE,
            "longer than 1024 bytes",
        ));
    }
    no_controls(field, value)
}

fn no_controls(field: &'static str, value: &str) -> Result<(), Rejection> {
    if value.contains('\0') {
        return Err(Rejection::format(field, "holds a NUL character"));
    }
    if value.chars().any(char::is_control) {
        return Err(Rejection::format(
            field,
            "holds a control character (newline, tab, escape, …)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_bounded_at_256_characters_not_bytes() {
        assert_eq!(name("first_name", &"a".repeat(256)), Ok(()));
        assert_eq!(name("first_name", &"é".repeat(256)), Ok(()));
        let err = name("last_name", &"é".repeat(257)).unwrap_err();
        assert_eq!(
            (err.code(), err.field()),
            ("form_param_max_length_exceeded", "last_name")
        );
        let huge = "x".repeat(50 << 20);
        assert_eq!(
            check("first_name", &huge).unwrap_err().code(),
            "form_param_max_length_exceeded"
        );
        // Display text may hold a tab; never a NUL.
        assert_eq!(name("first_name", "Ada\tL"), Ok(()));
        let nul = name("first_name", "Ada\0").unwrap_err();
        assert_eq!(nul.code(), "form_param_format_invalid");
        assert!(nul.reason().contains("NUL"));
    }

    #[test]
    fn external_ids_and_locales_hold_no_control_character() {
        assert_eq!(external_id("crm-42 / ünï"), Ok(()));
        assert_eq!(external_id(&"e".repeat(MAX_TEXT_BYTES)), Ok(()));
        assert_eq!(
            external_id(&"e".repeat(MAX_TEXT_BYTES + 1))
                .unwrap_err()
                .code(),
            "form_param_max_length_exceeded"
        );
        for bad in ["a\0b", "a\nb", "a\u{1b}[2J", "a\u{7f}", "a\u{85}"] {
            let err = external_id(bad).unwrap_err();
            assert_eq!(
                (err.code(), err.field()),
                ("form_param_format_invalid", "external_id"),
                "{bad:?}"
            );
            assert!(check("locale", bad).is_err(), "{bad:?}");
        }
        assert_eq!(check("locale", "fr-FR"), Ok(()));
    }

    #[test]
    fn object_ids() {
        for good in [
            "user_2xhFjEI5X2qWRvtV13BzSj8H6Dk",
            "user_1/ban",
            "a b",
            "ünï",
        ] {
            assert_eq!(object_id("user_id", good), Ok(()), "{good}");
        }
        let long = "u".repeat(MAX_OBJECT_ID_BYTES + 1);
        for bad in [
            "",
            ".",
            "..",
            "user_1\0",
            "user_1\r\n",
            "\u{1b}",
            long.as_str(),
        ] {
            let err = object_id("user_id", bad).unwrap_err();
            assert_eq!(err.field(), "user_id", "{bad:?}");
        }
        assert_eq!(check("user_ids", "").unwrap_err().field(), "user_ids");
    }

    #[test]
    fn identifier_bounds_come_before_their_format() {
        let huge = format!("{}@example.com", "a".repeat(50 << 20));
        assert_eq!(
            check("email_address", &huge).unwrap_err().field(),
            "email_address"
        );
        assert!(check("email_address", " ada@example.com\n").is_ok());
        assert!(check("email_address", "ada\0@example.com").is_err());
        assert!(check("phone_number", " +14155550100\n").is_ok());
        assert!(check("phone_number", "+1415555\0").is_err());
        assert!(check("username", "ada\0").is_err());
        assert!(check("username", &"a".repeat(65)).is_err());
        assert!(check("web3_wallet", &"0".repeat(100)).is_err());
        // A field with rules of its own elsewhere is not judged here.
        assert!(check("password", &"x".repeat(10_000)).is_ok());
    }

    #[test]
    fn rejections_never_name_the_value() {
        let secret = "crm\0secret-value";
        let err = check("external_id", secret).unwrap_err();
        assert!(!err.to_string().contains("secret-value"), "{err}");
    }
}
