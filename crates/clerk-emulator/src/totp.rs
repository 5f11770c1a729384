//! TOTP (RFC 6238) and backup codes, as Clerk supports them for `totp_secret` and
//! `backup_codes`: HMAC-SHA1, 30-second steps, 6 digits, one step of clock skew either way.
//!
//! Secrets are base32 (RFC 4648 alphabet), read case-insensitively, with or without `=`
//! padding, as [`clerk_rules::totp`] decodes them. Backup codes are stored either in plain
//! text or as bcrypt digests.

use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};

const DIGITS: usize = 6;
const STEP_SECS: u64 = 30;
const MAX_BCRYPT_COST: u32 = 16;

/// Whether `secret_base32` is a usable TOTP secret: non-empty RFC 4648 base32, any letter
/// case, padding optional (but correct when present).
pub fn is_valid_secret(secret_base32: &str) -> bool {
    clerk_rules::totp::decode_secret(secret_base32).is_some()
}

/// The 6-digit code for `unix_secs`, or `None` for an invalid secret.
pub fn generate_totp(secret_base32: &str, unix_secs: u64) -> Option<String> {
    let key = clerk_rules::totp::decode_secret(secret_base32)?;
    Some(totp(key).generate(unix_secs))
}

/// Whether `code` is the 6-digit code of `secret_base32` for the step containing `unix_secs`,
/// or for the step just before or after it. Anything but exactly six ASCII digits is rejected.
pub fn verify_totp(secret_base32: &str, code: &str, unix_secs: u64) -> bool {
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Some(key) = clerk_rules::totp::decode_secret(secret_base32) else {
        return false;
    };
    let totp = totp(key);
    let candidates = [
        unix_secs.checked_sub(STEP_SECS),
        Some(unix_secs),
        unix_secs.checked_add(STEP_SECS),
    ];
    // Every candidate is compared, so the time taken does not reveal which step matched.
    let mut matched = subtle::Choice::from(0);
    for time in candidates.into_iter().flatten() {
        matched |= totp.generate(time).as_bytes().ct_eq(code.as_bytes());
    }
    matched.into()
}

/// Whether `code` matches a stored backup code: a bcrypt digest (`$2a$`, `$2b$`, `$2y$`) is
/// verified as bcrypt, anything else is compared as plain text in constant time. An empty code
/// never matches, nor does a bcrypt digest that is malformed or over cost 16.
pub fn verify_backup_code(stored: &str, code: &str) -> bool {
    if code.is_empty() || stored.is_empty() {
        return false;
    }
    if ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|p| stored.starts_with(p))
    {
        return bcrypt_cost(stored).is_some_and(|c| (4..=MAX_BCRYPT_COST).contains(&c))
            && bcrypt::verify(code, stored).unwrap_or(false);
    }
    stored.as_bytes().ct_eq(code.as_bytes()).into()
}

fn bcrypt_cost(digest: &str) -> Option<u32> {
    let cost = digest.get(4..6)?;
    if !cost.bytes().all(|b| b.is_ascii_digit()) || digest.as_bytes().get(6) != Some(&b'$') {
        return None;
    }
    cost.parse().ok()
}

fn totp(key: Vec<u8>) -> TOTP {
    // `new_unchecked`: `TOTP::new` refuses secrets under 128 bits, which authenticator apps
    // (and so Clerk imports) still carry, e.g. 16-character Google Authenticator secrets.
    TOTP::new_unchecked(Algorithm::SHA1, DIGITS, 0, STEP_SECS, key)
}
