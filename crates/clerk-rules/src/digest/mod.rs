//! Password digests: Clerk's 17 import hashers.
//!
//! `POST /v1/users` and `PATCH /v1/users/{id}` accept a `password_digest` together with a
//! `password_hasher`; `POST /v1/users/{id}/verify_password` must then check a password against
//! that digest. [`validate_digest`] is the check at import time (an unknown hasher or a digest
//! not in the hasher's form is a [`DigestError`]), [`verify_digest`] the check at sign-in time.
//!
//! The digest forms follow Clerk's own description of each hasher (the `passwordHasher` docs of
//! `createUser()` in clerk-docs and `@clerk/backend`), which is what real importers send. Where
//! Clerk names a hasher without giving a form (`md5_phpass`, `ldap_ssha`), the form is the one
//! the originating software writes.
//!
//! | hasher | digest form | example |
//! |---|---|---|
//! | `argon2i` | PHC string; without `v=`, versions 19 and 16 are tried | `$argon2i$v=19$m=256,t=2,p=1$c29tZXNhbHQ$iekCn0Y3spW+sCcFanM2xBT63UP2sghkUoHLIUpWRS8` |
//! | `argon2id` | PHC string, as `argon2i` | `$argon2id$v=19$m=64,t=4,p=8$Z2liZXJyaXNo$iGXEpMBTDYQ8G/71tF0qGjxRHEmR3gpGULcE93zUJVU` |
//! | `bcrypt` | `$<2a\|2b\|2y>$<cost>$<22 salt chars><31 hash chars>` | `$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW` |
//! | `bcrypt_sha256_django` | `bcrypt_sha256$` + a bcrypt digest of the lowercase hex SHA-256 of the password | `bcrypt_sha256$$2b$12$tbdicNcyg.VuOdRxrhZs5.tsoxz0IlOLfBPYbALJwjhTr7.UW.WiW` |
//! | `ldap_ssha` | `{SSHA}` + base64(SHA-1(password ‖ salt) ‖ salt) | `{SSHA}…` (salt of any non-zero length) |
//! | `md5` | 32 hex digits of MD5(password) | `5f4dcc3b5aa765d61d8327deb882cf99` |
//! | `md5_phpass` | phpass portable hash, `$P$` or `$H$` (phpBB) prefix | `$H$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0` |
//! | `pbkdf2_sha1` | `pbkdf2_sha1$<iter>$<salt>$<hex hash>[$<key length>]`; the salt is hex-decoded when it is valid hex, else used as is | `pbkdf2_sha1$4096$salt$4b007901b765489abead49d926f721d065a429c1` |
//! | `pbkdf2_sha256` | `pbkdf2_sha256$<iter>$<base64 salt>$<base64 hash>`, or PHC / passlib `$pbkdf2-sha256$<iter or i=..,l=..>$<salt>$<hash>` | `pbkdf2_sha256$1000$c2FsdA==$…` |
//! | `pbkdf2_sha256_django` | Django's `pbkdf2_sha256$<iter>$<raw salt>$<base64 hash>` | `pbkdf2_sha256$1000000$seasalt$…` |
//! | `pbkdf2_sha512` | `pbkdf2_sha512$<iter>$<raw salt>$<hex hash>`, or PHC / passlib `$pbkdf2-sha512$…` | `pbkdf2_sha512$1000$salt$…` |
//! | `pbkdf2_sha512_hex` | `pbkdf2_sha512_hex$<iter>$<hex salt>$<hex hash>` (`pbkdf2_sha512$` prefix also read) | `pbkdf2_sha512_hex$1000$73616c74$…` |
//! | `phpass` | `$P$<rounds char><8 salt chars><22 hash chars>` (`$H$` also read, as phpass itself does) | `$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0` |
//! | `scrypt_firebase` | `<hash>$<salt>$<signer key>$<salt separator>$<rounds>$<mem cost>`, the first four base64 | `lSrfV15c…$42xEC+ixf3L2lw==$jxspr8Ki…$Bw==$8$14` |
//! | `scrypt_werkzeug` | `[$]scrypt[:N:r:p]$<salt>$<hash>`, hash hex (as Werkzeug writes it) or base64 | `scrypt:32768:8:1$gY3Kq6rw7GcYbBnC$…` |
//! | `sha256` | 64 hex digits of SHA-256(password) | `9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08` |
//! | `sha512_symfony` | `sha512_symfony$<iter>$<salt>$<base64 hash>` (Symfony's legacy `MessageDigestPasswordEncoder`) | `sha512_symfony$5000$somesalt$…` |
//!
//! Hasher names are exact and case-sensitive, as in Clerk. Hex digits are read in either case.
//! Base64 fields accept the standard and the URL-safe alphabets, padded or not.
//!
//! Work factors inside a digest are capped, so that a hostile digest cannot burn minutes of CPU
//! or gigabytes of memory: bcrypt cost ≤ 16, PBKDF2 and Symfony iterations ≤ 2 000 000, phpass
//! rounds ≤ 2^24, scrypt N ≤ 2^20 with 128·N·r ≤ 256 MiB and p ≤ 16, argon2 m ≤ 256 MiB,
//! t ≤ 32 and m·t ≤ 2 GiB of block passes. A digest over a cap is invalid, like a malformed one.
//!
//! The module is in parts: this one is the API, `parse` takes each hasher's digest form apart
//! (and enforces the caps) without hashing anything, `memory_hard` does so for scrypt and
//! argon2, and `verify` (the `verify` feature) recomputes a digest from a password.

mod memory_hard;
mod parse;
#[cfg(feature = "verify")]
mod verify;

use std::fmt;

/// Every value of `password_hasher` that [`validate_digest`] (and `verify_digest`) accept.
pub const SUPPORTED_HASHERS: &[&str] = &[
    "argon2i",
    "argon2id",
    "bcrypt",
    "bcrypt_sha256_django",
    "ldap_ssha",
    "md5",
    "md5_phpass",
    "pbkdf2_sha1",
    "pbkdf2_sha256",
    "pbkdf2_sha256_django",
    "pbkdf2_sha512",
    "pbkdf2_sha512_hex",
    "phpass",
    "scrypt_firebase",
    "scrypt_werkzeug",
    "sha256",
    "sha512_symfony",
];

/// Why a `password_hasher` / `password_digest` pair cannot be used.
///
/// The message names the hasher and the problem; it never repeats the digest or a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestError {
    message: String,
}

impl DigestError {
    pub(super) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    pub(super) fn invalid(hasher: &str, why: impl fmt::Display) -> Self {
        Self::new(format!(
            "password_digest is not a valid {hasher} digest: {why}"
        ))
    }

    /// The human-readable reason, suitable for a Clerk error's `long_message`.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for DigestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DigestError {}

/// Checks that `hasher` is supported and that `digest` is in its form, within the work caps.
///
/// # Errors
///
/// A [`DigestError`] for an unknown hasher, a malformed digest, or a work factor over a cap.
pub fn validate_digest(hasher: &str, digest: &str) -> Result<(), DigestError> {
    parse::parse(hasher, digest).map(|_| ())
}

/// Checks `password` against `digest` made by `hasher` (the `verify` feature): `Ok(true)` on a match, `Ok(false)` on a
/// wrong password.
///
/// # Errors
///
/// The same [`DigestError`]s as [`validate_digest`]; the password is not looked at then.
#[cfg(feature = "verify")]
pub fn verify_digest(hasher: &str, digest: &str, password: &str) -> Result<bool, DigestError> {
    let parsed = parse::parse(hasher, digest)?;
    parsed.verify(password.as_bytes(), hasher)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_hasher_is_parsed() {
        for hasher in SUPPORTED_HASHERS {
            let err = validate_digest(hasher, "x").expect_err("`x` is no valid digest");
            assert!(
                !err.message().starts_with("unsupported"),
                "{hasher} fell through to the unsupported branch"
            );
        }
    }

    #[test]
    fn error_never_echoes_digest() {
        let err = validate_digest("md5", "secret-looking-digest").unwrap_err();
        assert!(!err.message().contains("secret-looking-digest"));
    }
}
