//! Passwords: Clerk's 17 import hashers, from [`clerk_rules::digest`] (the digest forms, the
//! work caps and the verification), and the emulator's own fast hash for plain passwords.
//!
//! Plain passwords the emulator stores go through [`hash_plain`] / [`verify_plain`]: a salted
//! SHA-256 that costs microseconds, because the emulator is a test double whose throughput
//! matters, not a vault.

use rand::RngCore;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

pub use clerk_rules::digest::{DigestError, SUPPORTED_HASHERS, validate_digest, verify_digest};

/// Hashes a plain password for storage: `emu$sha256$<salt hex>$<hash hex>`, with a random
/// 16-byte salt and SHA-256(salt ‖ password).
pub fn hash_plain(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let hash = salted_sha256(&salt, password.as_bytes());
    format!("emu$sha256${}${}", hex::encode(salt), hex::encode(hash))
}

/// Checks `password` against a value made by [`hash_plain`], in constant time. A `stored` value
/// in any other form never matches.
pub fn verify_plain(stored: &str, password: &str) -> bool {
    let Some(rest) = stored.strip_prefix("emu$sha256$") else {
        return false;
    };
    let Some((salt_hex, hash_hex)) = rest.split_once('$') else {
        return false;
    };
    let (Ok(salt), Ok(expected)) = (hex::decode(salt_hex), hex::decode(hash_hex)) else {
        return false;
    };
    if salt.is_empty() || expected.len() != 32 {
        return false;
    }
    salted_sha256(&salt, password.as_bytes())
        .ct_eq(&expected)
        .into()
}

fn salted_sha256(salt: &[u8], password: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(password);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_hash_round_trips_and_is_salted() {
        let a = hash_plain("correct horse");
        let b = hash_plain("correct horse");
        assert_ne!(a, b, "two hashes of one password must differ by salt");
        assert!(verify_plain(&a, "correct horse"));
        assert!(!verify_plain(&a, "correct horsE"));
        assert!(!verify_plain("emu$sha256$$", "x"));
        assert!(!verify_plain("", ""));
    }
}
