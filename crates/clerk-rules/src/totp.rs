//! TOTP secrets and backup codes of create and update bodies. Secrets are RFC 4648 base32
//! (decoded by `data-encoding`), read case-insensitively, with or without `=` padding (but
//! correct padding when present); backup codes must not be blank.

use std::sync::LazyLock;

use data_encoding::{Encoding, Specification};

use crate::Rejection;

/// Longer than any real secret; keeps a hostile `totp_secret` from costing anything.
pub const MAX_SECRET_CHARS: usize = 1024;

/// RFC 4648 base32 with lowercase read as uppercase, padded or not. Bits left over after the
/// last whole byte are ignored, as authenticator apps do.
fn base32(padded: bool) -> Encoding {
    let mut spec = Specification::new();
    spec.symbols.push_str("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
    spec.translate.from.push_str("abcdefghijklmnopqrstuvwxyz");
    spec.translate.to.push_str("ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    spec.check_trailing_bits = false;
    if padded {
        spec.padding = Some('=');
    }
    // The specification is a constant, valid one (`encoding()` only fails on malformed ones);
    // the fallback, the same alphabet without the lowercase translation, is never taken.
    let strict = if padded {
        data_encoding::BASE32
    } else {
        data_encoding::BASE32_NOPAD
    };
    spec.encoding().unwrap_or(strict)
}

static PADDED: LazyLock<Encoding> = LazyLock::new(|| base32(true));
static UNPADDED: LazyLock<Encoding> = LazyLock::new(|| base32(false));

/// The key bytes of a base32 TOTP secret, or `None` when it is not one (empty, over
/// [`MAX_SECRET_CHARS`], a character outside the alphabet, a length base32 cannot produce,
/// or wrong padding).
pub fn decode_secret(secret: &str) -> Option<Vec<u8>> {
    if secret.is_empty() || secret.len() > MAX_SECRET_CHARS {
        return None;
    }
    let encoding = if secret.ends_with('=') {
        &*PADDED
    } else {
        &*UNPADDED
    };
    encoding
        .decode(secret.as_bytes())
        .ok()
        .filter(|key| !key.is_empty())
}

/// Checks a `totp_secret`.
///
/// # Errors
///
/// `form_param_format_invalid` on `totp_secret`.
pub fn check_secret(secret: &str) -> Result<(), Rejection> {
    match decode_secret(secret) {
        Some(_) => Ok(()),
        None => Err(Rejection::format(
            "totp_secret",
            "must be a base32-encoded TOTP secret",
        )),
    }
}

/// Checks `backup_codes`: none may be empty or blank.
///
/// # Errors
///
/// `form_param_format_invalid` on `backup_codes`.
pub fn check_backup_codes<S: AsRef<str>>(codes: &[S]) -> Result<(), Rejection> {
    if codes.iter().any(|c| c.as_ref().trim().is_empty()) {
        return Err(Rejection::format("backup_codes", "codes must not be empty"));
    }
    Ok(())
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
            assert_eq!(decode_secret(enc).as_deref(), Some(dec.as_bytes()), "{enc}");
            let bare = enc.trim_end_matches('=');
            assert_eq!(
                decode_secret(bare).as_deref(),
                Some(dec.as_bytes()),
                "{bare}"
            );
            let lower = bare.to_ascii_lowercase();
            assert_eq!(
                decode_secret(&lower).as_deref(),
                Some(dec.as_bytes()),
                "{lower}"
            );
        }
        assert!(check_secret("JBSWY3DPEHPK3PXP").is_ok());
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
            "not base32!",
        ] {
            assert_eq!(decode_secret(bad), None, "{bad:?}");
        }
        assert_eq!(decode_secret(&"A".repeat(MAX_SECRET_CHARS + 8)), None);
        assert_eq!(
            check_secret("MZX").unwrap_err().code(),
            "form_param_format_invalid"
        );
    }

    #[test]
    fn backup_codes_must_not_be_blank() {
        assert!(check_backup_codes(&["a1b2", "c3d4"]).is_ok());
        assert!(check_backup_codes::<&str>(&[]).is_ok());
        assert!(check_backup_codes(&["ok", " "]).is_err());
    }
}
