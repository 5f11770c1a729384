//! The identifiers a user signs in with, checked and normalised the way the instance compares
//! them for uniqueness: emails, usernames and wallets compare case-insensitively (and are
//! stored lowercase); surrounding whitespace is not part of an email, phone or wallet.
//!
//! Phone numbers follow E.164's structure: `+`, a country code that does not start with 0,
//! and at most 15 digits in all. The shortest numbers in service have 7 digits (a 3-digit
//! country code and a 4-digit subscriber number, as in Niue or Tokelau), so `+12` is refused.
//! Which numbers a carrier has assigned is not checked: a per-country validity table
//! (libphonenumber's) would refuse the fictional `+1 555 …` numbers that test data and
//! documentation use, and nothing says Clerk goes that far.

use crate::{Rejection, limits};

/// RFC 5321: at most 64 bytes before the `@` (and 254 in all: [`limits`]).
const MAX_LOCAL_LEN: usize = 64;
/// RFC 1035 label length.
const MAX_LABEL_LEN: usize = 63;
const E164_DIGITS: std::ops::RangeInclusive<usize> = 7..=15;

/// An email address, trimmed and lowercased.
///
/// One `@`; 1 to 64 bytes before it and 254 in all; no whitespace or control characters; a
/// domain of two or more labels of 1 to 63 letters, digits or `-`, none starting or ending
/// with `-`.
///
/// # Errors
///
/// `form_param_format_invalid` on `email_address`, with the reason.
pub fn email(value: &str) -> Result<String, Rejection> {
    let bad = |reason| Err(Rejection::format("email_address", reason));
    limits::email_address(value)?;
    let value = value.trim();
    let Some((local, domain)) = value.rsplit_once('@') else {
        return bad("not a valid email address (no `@`)");
    };
    if local.contains('@') {
        return bad("not a valid email address (more than one `@`)");
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("not a valid email address (spaces or control characters)");
    }
    if local.is_empty() || local.len() > MAX_LOCAL_LEN {
        return bad("not a valid email address (bad local part)");
    }
    let labels_ok = domain.split('.').count() >= 2
        && domain.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= MAX_LABEL_LEN
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if !labels_ok {
        return bad("not a valid email address (bad domain)");
    }
    Ok(value.to_lowercase())
}

/// An E.164 phone number (`+14155550100`), trimmed: `+`, then 7 to 15 digits, the first not 0.
///
/// # Errors
///
/// `form_param_format_invalid` on `phone_number`.
pub fn phone(value: &str) -> Result<String, Rejection> {
    limits::phone_number(value)?;
    let value = value.trim();
    let digits = value.strip_prefix('+').unwrap_or("");
    if !E164_DIGITS.contains(&digits.len())
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || digits.starts_with('0')
    {
        return Err(Rejection::format(
            "phone_number",
            "not an E.164 phone number (`+`, then 7 to 15 digits, the first not 0, e.g. +14155550100)",
        ));
    }
    Ok(value.to_owned())
}

/// A username, lowercased: 4 to 64 characters of ASCII letters, digits, `_`, `-` and `.`.
///
/// # Errors
///
/// Clerk's `form_username_invalid_length` or `form_username_invalid_character`.
pub fn username(value: &str) -> Result<String, Rejection> {
    limits::username(value)?;
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        const TEXT: &str = "Usernames can only contain letters, numbers and '_' or '-'.";
        return Err(Rejection::new(
            "form_username_invalid_character",
            "username",
            TEXT,
            TEXT,
        ));
    }
    Ok(value.to_lowercase())
}

/// An Ethereum address (`0x` and 40 hex digits), trimmed and lowercased.
///
/// # Errors
///
/// `form_param_format_invalid` on `web3_wallet`.
pub fn web3_wallet(value: &str) -> Result<String, Rejection> {
    limits::web3_wallet(value)?;
    let value = value.trim();
    let hex = value.strip_prefix("0x").unwrap_or("");
    if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Rejection::format(
            "web3_wallet",
            "not an Ethereum address (0x and 40 hex digits)",
        ));
    }
    Ok(value.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_lowercased_and_checked() {
        assert_eq!(email(" Ada@Example.COM ").unwrap(), "ada@example.com");
        for good in ["a@b.co", "first.last+tag@sub.example.org", "josé@bücher.de"] {
            assert!(email(good).is_ok(), "{good}");
        }
        let long_local = format!("{}@x.io", "a".repeat(65));
        let long_total = format!("a@{}.io", "b.".repeat(130));
        for bad in [
            "",
            "@x.com",
            "a@",
            "a@b",
            "a b@x.com",
            "a@-x.com",
            "a@x..com",
            "a@x.com.",
            "a@b@x.com",
            "a@x_y.com",
            long_local.as_str(),
            long_total.as_str(),
        ] {
            let err = email(bad).unwrap_err();
            assert_eq!(
                (err.code(), err.field()),
                ("form_param_format_invalid", "email_address"),
                "{bad}"
            );
        }
    }

    #[test]
    fn phones_are_e164_with_7_to_15_digits() {
        for good in [
            "+14155550100",
            "+447911123456",
            "+6834002",
            "+123456789012345",
        ] {
            assert_eq!(phone(good).as_deref(), Ok(good), "{good}");
        }
        assert_eq!(phone(" +14155550100\n").unwrap(), "+14155550100");
        for bad in [
            "+12",
            "+123456",
            "+1234567890123456",
            "14155550100",
            "+0123456789",
            "+1-415-555-0100",
            "+1 4155550100",
            "",
        ] {
            assert!(phone(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn usernames_and_wallets() {
        assert_eq!(username("Ada_L.x-1").unwrap(), "ada_l.x-1");
        assert_eq!(
            username("abc").unwrap_err().code(),
            "form_username_invalid_length"
        );
        assert_eq!(
            username(&"a".repeat(65)).unwrap_err().code(),
            "form_username_invalid_length"
        );
        assert_eq!(
            username("bad name!").unwrap_err().code(),
            "form_username_invalid_character"
        );
        let w = "0x00000000000000000000000000000000000000C1";
        assert_eq!(web3_wallet(w).unwrap(), w.to_lowercase());
        assert!(web3_wallet("0x123").is_err());
        assert!(web3_wallet("00000000000000000000000000000000000000000c1").is_err());
    }
}
