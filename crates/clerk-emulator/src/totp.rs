//! TOTP (RFC 6238) and backup codes, as Clerk supports them for `totp_secret` and
//! `backup_codes`: HMAC-SHA1, 30-second steps, 6 digits, one step of clock skew either way.
//!
//! Secrets are base32 (RFC 4648 alphabet), read case-insensitively, with or without `=`
//! padding. Backup codes are stored either in plain text or as bcrypt digests.

use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};

const DIGITS: usize = 6;
const STEP_SECS: u64 = 30;
/// Longer than any real secret; keeps a hostile `totp_secret` from costing anything.
const MAX_SECRET_CHARS: usize = 1024;
const MAX_BCRYPT_COST: u32 = 16;

/// Whether `secret_base32` is a usable TOTP secret: non-empty RFC 4648 base32, any letter
/// case, padding optional (but correct when present).
pub fn is_valid_secret(secret_base32: &str) -> bool {
    decode_base32(secret_base32).is_some()
}

/// The 6-digit code for `unix_secs`, or `None` for an invalid secret.
pub fn generate_totp(secret_base32: &str, unix_secs: u64) -> Option<String> {
    let key = decode_base32(secret_base32)?;
    Some(totp(key).generate(unix_secs))
}

/// Whether `code` is the 6-digit code of `secret_base32` for the step containing `unix_secs`,
/// or for the step just before or after it. Anything but exactly six ASCII digits is rejected.
pub fn verify_totp(secret_base32: &str, code: &str, unix_secs: u64) -> bool {
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Some(key) = decode_base32(secret_base32) else {
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

/// RFC 4648 base32, case-insensitive; `=` padding optional, but when present it must bring the
/// length to a multiple of 8 and the unpadded length must be one base32 can produce.
fn decode_base32(input: &str) -> Option<Vec<u8>> {
    if input.is_empty() || input.len() > MAX_SECRET_CHARS {
        return None;
    }
    let body = input.trim_end_matches('=');
    let pad = input.len() - body.len();
    if body.is_empty() {
        return None;
    }
    // Lengths mod 8 that a whole number of bytes encodes to.
    if !matches!(body.len() % 8, 0 | 2 | 4 | 5 | 7) {
        return None;
    }
    if pad != 0 && (body.len().is_multiple_of(8) || !input.len().is_multiple_of(8)) {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for b in body.bytes() {
        let v = match b.to_ascii_uppercase() {
            c @ b'A'..=b'Z' => c - b'A',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_decodes_rfc4648_test_vectors() {
        // RFC 4648 §10.
        let cases = [
            ("MY======", "f"),
            ("MZXQ====", "fo"),
            ("MZXW6===", "foo"),
            ("MZXW6YQ=", "foob"),
            ("MZXW6YTB", "fooba"),
            ("MZXW6YTBOI======", "foobar"),
        ];
        for (enc, dec) in cases {
            assert_eq!(decode_base32(enc).as_deref(), Some(dec.as_bytes()), "{enc}");
            let bare = enc.trim_end_matches('=');
            assert_eq!(
                decode_base32(bare).as_deref(),
                Some(dec.as_bytes()),
                "{bare}"
            );
            let lower = bare.to_ascii_lowercase();
            assert_eq!(
                decode_base32(&lower).as_deref(),
                Some(dec.as_bytes()),
                "{lower}"
            );
        }
    }

    #[test]
    fn base32_rejects_malformed_input() {
        for bad in [
            "",
            "=",
            "M",
            "MZX",
            "MZXW6Y",
            "MY=",
            "MY=======",
            "MZXW6YTB========",
            "MZ1W",
            "MZ W6",
            "MY==MY==",
            "é",
        ] {
            assert_eq!(decode_base32(bad), None, "{bad:?}");
        }
        assert_eq!(decode_base32(&"A".repeat(MAX_SECRET_CHARS + 8)), None);
    }
}
