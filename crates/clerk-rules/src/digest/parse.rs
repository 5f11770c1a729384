//! The digest parsers: each hasher's form taken apart into a [`Parsed`], with the work caps
//! enforced, so that nothing is hashed for a malformed or hostile digest. No hash crate is
//! used here: the CLI validates digests without linking them.

// What the parsers take apart is read by `verify` (the `verify` feature) only.
#![cfg_attr(not(feature = "verify"), allow(dead_code))]

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::memory_hard::{self, Argon2Algorithm, Argon2Params, Argon2Version, ScryptParams};
use super::{DigestError, SUPPORTED_HASHERS};

const MAX_BCRYPT_COST: u32 = 16;
const MAX_ITERATIONS: u32 = 2_000_000;
const MAX_PHPASS_LOG2: u32 = 24;
pub(super) const MAX_SCRYPT_LOG_N: u8 = 20;
pub(super) const MAX_SCRYPT_P: u32 = 16;
pub(super) const MAX_SCRYPT_MEMORY: u64 = 256 * 1024 * 1024;
pub(super) const MAX_ARGON2_M_KIB: u32 = 256 * 1024;
pub(super) const MAX_ARGON2_T: u32 = 32;
pub(super) const MAX_ARGON2_WORK_KIB: u64 = 2 * 1024 * 1024;
/// Derived-key lengths accepted for PBKDF2 / scrypt digests: short enough to bound the work,
/// long enough that a wrong password cannot match by chance.
pub(super) const MIN_KEY_LEN: usize = 16;
pub(super) const MAX_KEY_LEN: usize = 128;
/// No real digest comes close; the cap keeps error paths and decoders cheap.
const MAX_DIGEST_LEN: usize = 4096;

/// A digest taken apart, with everything needed to recompute it.
pub(super) enum Parsed<'a> {
    /// A bcrypt string, already checked; `pre_sha256` is Django's SHA-256-hex pre-hash.
    Bcrypt {
        digest: &'a str,
        pre_sha256: bool,
    },
    Md5([u8; 16]),
    Sha256([u8; 32]),
    Pbkdf2 {
        prf: Prf,
        iterations: u32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    Phpass {
        count_log2: u32,
        /// The 12-character setting (`$P$` + rounds + salt) that is hashed as the salt.
        setting: &'a str,
        encoded: &'a str,
    },
    ScryptFirebase {
        hash: Vec<u8>,
        salt: Vec<u8>,
        signer_key: Vec<u8>,
        params: ScryptParams,
    },
    ScryptWerkzeug {
        salt: &'a str,
        hash: Vec<u8>,
        params: ScryptParams,
    },
    LdapSsha {
        hash: [u8; 20],
        salt: Vec<u8>,
    },
    Argon2 {
        algorithm: Argon2Algorithm,
        /// `None` when the digest has no `v=`: see [`parse_argon2`].
        version: Option<Argon2Version>,
        params: Argon2Params,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    Symfony {
        iterations: u32,
        salt: &'a str,
        hash: Vec<u8>,
    },
}

#[derive(Clone, Copy)]
pub(super) enum Prf {
    Sha1,
    Sha256,
    Sha512,
}

pub(super) fn parse<'a>(hasher: &str, digest: &'a str) -> Result<Parsed<'a>, DigestError> {
    if !SUPPORTED_HASHERS.contains(&hasher) {
        return Err(DigestError::new(format!(
            "unsupported password_hasher `{}`; supported hashers are: {}",
            printable(hasher),
            SUPPORTED_HASHERS.join(", ")
        )));
    }
    if digest.is_empty() {
        return Err(DigestError::invalid(hasher, "it is empty"));
    }
    if digest.len() > MAX_DIGEST_LEN {
        return Err(DigestError::invalid(
            hasher,
            format_args!("it is longer than {MAX_DIGEST_LEN} bytes"),
        ));
    }
    let bad = |why: &str| DigestError::invalid(hasher, why);
    match hasher {
        "bcrypt" => {
            check_bcrypt(digest).map_err(bad)?;
            Ok(Parsed::Bcrypt {
                digest,
                pre_sha256: false,
            })
        }
        "bcrypt_sha256_django" => {
            let inner = digest
                .strip_prefix("bcrypt_sha256$")
                .ok_or_else(|| bad("expected `bcrypt_sha256$` followed by a bcrypt digest"))?;
            check_bcrypt(inner).map_err(bad)?;
            Ok(Parsed::Bcrypt {
                digest: inner,
                pre_sha256: true,
            })
        }
        "md5" => Ok(Parsed::Md5(
            hex_array(digest).ok_or_else(|| bad("expected 32 hexadecimal digits"))?,
        )),
        "sha256" => Ok(Parsed::Sha256(
            hex_array(digest).ok_or_else(|| bad("expected 64 hexadecimal digits"))?,
        )),
        "pbkdf2_sha1" => parse_pbkdf2_sha1(digest).map_err(bad),
        "pbkdf2_sha256" => {
            if digest.starts_with("$pbkdf2-sha256$") {
                parse_pbkdf2_phc(digest, "$pbkdf2-sha256$", Prf::Sha256).map_err(bad)
            } else {
                parse_pbkdf2_dollar(digest, "pbkdf2_sha256$", Prf::Sha256, b64_field, b64_field)
                    .map_err(bad)
            }
        }
        "pbkdf2_sha256_django" => {
            parse_pbkdf2_dollar(digest, "pbkdf2_sha256$", Prf::Sha256, raw_field, b64_field)
                .map_err(bad)
        }
        "pbkdf2_sha512" => {
            if digest.starts_with("$pbkdf2-sha512$") {
                parse_pbkdf2_phc(digest, "$pbkdf2-sha512$", Prf::Sha512).map_err(bad)
            } else {
                parse_pbkdf2_dollar(digest, "pbkdf2_sha512$", Prf::Sha512, raw_field, hex_field)
                    .map_err(bad)
            }
        }
        "pbkdf2_sha512_hex" => {
            let prefix = if digest.starts_with("pbkdf2_sha512_hex$") {
                "pbkdf2_sha512_hex$"
            } else {
                "pbkdf2_sha512$"
            };
            parse_pbkdf2_dollar(digest, prefix, Prf::Sha512, hex_field, hex_field).map_err(bad)
        }
        "phpass" | "md5_phpass" => parse_phpass(digest).map_err(bad),
        "scrypt_firebase" => memory_hard::parse_scrypt_firebase(digest).map_err(|why| bad(&why)),
        "scrypt_werkzeug" => memory_hard::parse_scrypt_werkzeug(digest).map_err(|why| bad(&why)),
        "ldap_ssha" => parse_ldap_ssha(digest).map_err(bad),
        "argon2i" => {
            memory_hard::parse_argon2(digest, Argon2Algorithm::Argon2i).map_err(|why| bad(&why))
        }
        "argon2id" => {
            memory_hard::parse_argon2(digest, Argon2Algorithm::Argon2id).map_err(|why| bad(&why))
        }
        "sha512_symfony" => parse_symfony(digest).map_err(bad),
        // SUPPORTED_HASHERS and this match list the same names; the unit tests hold them together.
        other => Err(DigestError::new(format!(
            "unsupported password_hasher `{}`",
            printable(other)
        ))),
    }
}

/// The hasher name as it can be echoed in an error: bounded, and printable ASCII only.
pub(super) fn printable(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if s.chars().count() > 64 {
        out.push('…');
    }
    out
}

const BCRYPT_ALPHABET: &[u8] = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn check_bcrypt(digest: &str) -> Result<(), &'static str> {
    const FORM: &str =
        "expected `$2a$`, `$2b$` or `$2y$`, a two-digit cost and 53 characters of salt and hash";
    let rest = ["$2a$", "$2b$", "$2y$"]
        .iter()
        .find_map(|p| digest.strip_prefix(p))
        .ok_or(FORM)?;
    let (cost, tail) = rest.split_once('$').ok_or(FORM)?;
    if cost.len() != 2 || !cost.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FORM);
    }
    let cost: u32 = cost.parse().map_err(|_| FORM)?;
    if cost < 4 {
        return Err("bcrypt cost must be at least 4");
    }
    if cost > MAX_BCRYPT_COST {
        return Err("bcrypt cost is above the emulator's maximum of 16");
    }
    if tail.len() != 53 || !tail.bytes().all(|b| BCRYPT_ALPHABET.contains(&b)) {
        return Err(FORM);
    }
    Ok(())
}

fn hex_array<const N: usize>(s: &str) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// Base64 as it turns up in exports: standard or URL-safe alphabet, padding optional,
/// non-canonical trailing bits tolerated.
pub(super) fn b64_decode(s: &str) -> Option<Vec<u8>> {
    const CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true);
    const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, CONFIG);
    const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, CONFIG);
    if s.is_empty() {
        return None;
    }
    STANDARD.decode(s).or_else(|_| URL_SAFE.decode(s)).ok()
}

type Field = fn(&str) -> Option<Vec<u8>>;

fn b64_field(s: &str) -> Option<Vec<u8>> {
    b64_decode(s)
}

pub(super) fn hex_field(s: &str) -> Option<Vec<u8>> {
    if s.is_empty() {
        return None;
    }
    hex::decode(s).ok()
}

fn raw_field(s: &str) -> Option<Vec<u8>> {
    Some(s.as_bytes().to_vec())
}

fn parse_iterations(s: &str) -> Result<u32, &'static str> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err("the iteration count is not a positive integer");
    }
    match s.parse::<u32>() {
        Ok(0) => Err("the iteration count must be at least 1"),
        Ok(n) if n <= MAX_ITERATIONS => Ok(n),
        _ => Err("the iteration count is above the emulator's maximum of 2000000"),
    }
}

pub(super) fn check_key_len(hash: &[u8]) -> Result<(), &'static str> {
    if hash.len() < MIN_KEY_LEN {
        Err("the hash is shorter than 16 bytes")
    } else if hash.len() > MAX_KEY_LEN {
        Err("the hash is longer than 128 bytes")
    } else {
        Ok(())
    }
}

/// `<prefix><iterations>$<salt>$<hash>`; the salt may itself contain `$` (Django forbids it,
/// other exporters do not), so the hash is split off the end.
fn parse_pbkdf2_dollar(
    digest: &str,
    prefix: &str,
    prf: Prf,
    salt_field: Field,
    hash_field: Field,
) -> Result<Parsed<'static>, &'static str> {
    const FORM: &str = "expected `<name>$<iterations>$<salt>$<hash>`";
    let rest = digest.strip_prefix(prefix).ok_or(FORM)?;
    let (iterations, rest) = rest.split_once('$').ok_or(FORM)?;
    let (salt, hash) = rest.rsplit_once('$').ok_or(FORM)?;
    let iterations = parse_iterations(iterations)?;
    if salt.is_empty() {
        return Err("the salt is empty");
    }
    let salt = salt_field(salt).ok_or("the salt is not in the expected encoding")?;
    let hash = hash_field(hash).ok_or("the hash is not in the expected encoding")?;
    check_key_len(&hash)?;
    Ok(Parsed::Pbkdf2 {
        prf,
        iterations,
        salt,
        hash,
    })
}

/// Clerk's `pbkdf2_sha1$<iter>$<salt>$<hex hash>[$<key length>]`: the salt is hex-decoded when
/// it is valid hex and used as raw bytes otherwise.
fn parse_pbkdf2_sha1(digest: &str) -> Result<Parsed<'static>, &'static str> {
    const FORM: &str =
        "expected `pbkdf2_sha1$<iterations>$<salt>$<hex hash>` with an optional `$<key length>`";
    let rest = digest.strip_prefix("pbkdf2_sha1$").ok_or(FORM)?;
    let parts: Vec<&str> = rest.split('$').collect();
    let (iterations, salt, hash, key_len) = match parts.as_slice() {
        [i, s, h] => (*i, *s, *h, None),
        [i, s, h, k] => (*i, *s, *h, Some(*k)),
        _ => return Err(FORM),
    };
    let iterations = parse_iterations(iterations)?;
    if salt.is_empty() {
        return Err("the salt is empty");
    }
    let salt = hex::decode(salt).unwrap_or_else(|_| salt.as_bytes().to_vec());
    let hash = hex_field(hash).ok_or("the hash is not hexadecimal")?;
    check_key_len(&hash)?;
    if let Some(k) = key_len {
        // The key length says how many bytes were derived, so it must agree with the hash.
        if k.parse::<usize>().ok() != Some(hash.len()) {
            return Err("the key length does not match the length of the hash");
        }
    }
    Ok(Parsed::Pbkdf2 {
        prf: Prf::Sha1,
        iterations,
        salt,
        hash,
    })
}

/// PHC (`$pbkdf2-sha256$i=1000,l=32$<b64 salt>$<b64 hash>`) and passlib
/// (`$pbkdf2-sha256$1000$<ab64 salt>$<ab64 hash>`, `.` standing for `+`) strings.
fn parse_pbkdf2_phc(digest: &str, prefix: &str, prf: Prf) -> Result<Parsed<'static>, &'static str> {
    const FORM: &str = "expected `$pbkdf2-<hash>$<iterations or i=..,l=..>$<salt>$<hash>`";
    let rest = digest.strip_prefix(prefix).ok_or(FORM)?;
    let parts: Vec<&str> = rest.split('$').collect();
    let [params, salt, hash] = parts.as_slice() else {
        return Err(FORM);
    };
    let mut iterations = None;
    let mut declared_len = None;
    if params.bytes().all(|b| b.is_ascii_digit()) {
        iterations = Some(parse_iterations(params)?);
    } else {
        for kv in params.split(',') {
            match kv.split_once('=') {
                Some(("i", v)) => iterations = Some(parse_iterations(v)?),
                Some(("l", v)) => declared_len = Some(v.parse::<usize>().map_err(|_| FORM)?),
                _ => return Err(FORM),
            }
        }
    }
    let iterations = iterations.ok_or("the iteration count is missing")?;
    let ab64 = |s: &str| b64_decode(&s.replace('.', "+"));
    let salt = ab64(salt).ok_or("the salt is not base64")?;
    let hash = ab64(hash).ok_or("the hash is not base64")?;
    check_key_len(&hash)?;
    if declared_len.is_some_and(|l| l != hash.len()) {
        return Err("the declared length `l` does not match the length of the hash");
    }
    Ok(Parsed::Pbkdf2 {
        prf,
        iterations,
        salt,
        hash,
    })
}

pub(super) const PHPASS_ITOA64: &[u8] =
    b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn parse_phpass(digest: &str) -> Result<Parsed<'_>, &'static str> {
    const FORM: &str =
        "expected `$P$` (or `$H$`), a rounds character, 8 salt characters and 22 hash characters";
    if !(digest.starts_with("$P$") || digest.starts_with("$H$")) {
        return Err(FORM);
    }
    if digest.len() != 34 || !digest.bytes().skip(3).all(|b| PHPASS_ITOA64.contains(&b)) {
        return Err(FORM);
    }
    let count_log2 = PHPASS_ITOA64
        .iter()
        .position(|&c| c == digest.as_bytes()[3])
        .ok_or(FORM)? as u32;
    // phpass itself refuses fewer than 2^7 rounds.
    if count_log2 < 7 {
        return Err("the rounds character encodes fewer than 2^7 rounds");
    }
    if count_log2 > MAX_PHPASS_LOG2 {
        return Err("the rounds character encodes more than the emulator's maximum of 2^24 rounds");
    }
    Ok(Parsed::Phpass {
        count_log2,
        setting: &digest[..12],
        encoded: &digest[12..],
    })
}

fn parse_ldap_ssha(digest: &str) -> Result<Parsed<'static>, &'static str> {
    const FORM: &str = "expected `{SSHA}` followed by base64 of a SHA-1 hash and a salt";
    let prefix = digest.get(..6).ok_or(FORM)?;
    if !prefix.eq_ignore_ascii_case("{SSHA}") {
        return Err(FORM);
    }
    let raw = b64_decode(&digest[6..]).ok_or(FORM)?;
    if raw.len() <= 20 {
        return Err("the decoded value has no salt after the 20-byte SHA-1 hash");
    }
    let (hash, salt) = raw.split_at(20);
    let mut h = [0u8; 20];
    h.copy_from_slice(hash);
    Ok(Parsed::LdapSsha {
        hash: h,
        salt: salt.to_vec(),
    })
}

fn parse_symfony(digest: &str) -> Result<Parsed<'_>, &'static str> {
    const FORM: &str = "expected `sha512_symfony$<iterations>$<salt>$<base64 hash>`";
    let rest = digest.strip_prefix("sha512_symfony$").ok_or(FORM)?;
    let (iterations, rest) = rest.split_once('$').ok_or(FORM)?;
    let (salt, hash) = rest.rsplit_once('$').ok_or(FORM)?;
    let iterations = parse_iterations(iterations)?;
    // Symfony refuses salts with braces: they delimit the salt in `password{salt}`.
    if salt.contains(['{', '}']) {
        return Err("the salt contains `{` or `}`");
    }
    let hash = b64_decode(hash)
        .filter(|h| h.len() == 64)
        .or_else(|| hex_field(hash).filter(|h| h.len() == 64))
        .ok_or("the hash is not a base64 (or hex) SHA-512 value")?;
    Ok(Parsed::Symfony {
        iterations,
        salt,
        hash,
    })
}
