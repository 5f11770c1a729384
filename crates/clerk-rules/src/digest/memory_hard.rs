//! The memory-hard digests, scrypt (Firebase's and Werkzeug's forms) and argon2 (PHC
//! strings): their parameters checked the way the hash crates check them, within the caps.

// What the parsers take apart is read by `verify` (the `verify` feature) only.
#![cfg_attr(not(feature = "verify"), allow(dead_code))]

use password_hash::PasswordHash;

use super::parse::{
    MAX_ARGON2_M_KIB, MAX_ARGON2_T, MAX_ARGON2_WORK_KIB, MAX_KEY_LEN, MAX_SCRYPT_LOG_N,
    MAX_SCRYPT_MEMORY, MAX_SCRYPT_P, MIN_KEY_LEN, Parsed, b64_decode, check_key_len, hex_field,
    printable,
};

/// scrypt's parameters, checked as the `scrypt` crate's `Params::new` checks them (and within
/// the caps), so that verification cannot fail on a digest that passed validation.
#[derive(Clone, Copy, Debug)]
pub(super) struct ScryptParams {
    pub(super) log_n: u8,
    pub(super) r: u32,
    pub(super) p: u32,
    pub(super) len: usize,
}

/// Derived-key lengths the `scrypt` crate produces.
const SCRYPT_KEY_LEN: std::ops::RangeInclusive<usize> = 10..=64;

fn scrypt_params(log_n: u8, r: u32, p: u32, len: usize) -> Result<ScryptParams, String> {
    if log_n == 0 || log_n > MAX_SCRYPT_LOG_N {
        return Err(format!(
            "scrypt N must be a power of two between 2 and 2^{MAX_SCRYPT_LOG_N}"
        ));
    }
    if r == 0 || p == 0 || p > MAX_SCRYPT_P {
        return Err(format!(
            "scrypt r must be at least 1 and p between 1 and {MAX_SCRYPT_P}"
        ));
    }
    let memory = 128u64 * (1u64 << log_n) * u64::from(r);
    if memory > MAX_SCRYPT_MEMORY {
        return Err("scrypt parameters need more than the emulator's maximum of 256 MiB".into());
    }
    // scrypt itself requires N < 2^(16 r) and r·p < 2^30.
    let valid = SCRYPT_KEY_LEN.contains(&len)
        && u64::from(log_n) < 16 * u64::from(r)
        && u64::from(r) * u64::from(p) < 0x4000_0000;
    if !valid {
        return Err("invalid scrypt parameters: Invalid Scrypt parameters".into());
    }
    Ok(ScryptParams { log_n, r, p, len })
}

fn parse_small_int(s: &str, what: &str) -> Result<u32, String> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what} is not a small non-negative integer"));
    }
    s.parse().map_err(|_| format!("{what} is not an integer"))
}

pub(super) fn parse_scrypt_firebase(digest: &str) -> Result<Parsed<'static>, String> {
    let parts: Vec<&str> = digest.split('$').collect();
    let [hash, salt, signer_key, separator, rounds, mem_cost] = parts.as_slice() else {
        return Err("expected 6 `$`-separated fields: `<hash>$<salt>$<signer key>$<salt separator>$<rounds>$<memory cost>`".into());
    };
    let hash = b64_decode(hash).ok_or("the hash is not base64")?;
    let mut salt = b64_decode(salt).ok_or("the salt is not base64")?;
    let signer_key = b64_decode(signer_key).ok_or("the signer key is not base64")?;
    // Firebase's default separator is non-empty, but an empty one is a valid project setting.
    let separator = if separator.is_empty() {
        Vec::new()
    } else {
        b64_decode(separator).ok_or("the salt separator is not base64")?
    };
    let rounds = parse_small_int(rounds, "rounds")?;
    let mem_cost = parse_small_int(mem_cost, "memory cost")?;
    if !(1..=u32::from(MAX_SCRYPT_LOG_N)).contains(&mem_cost) {
        return Err(format!(
            "memory cost must be between 1 and {MAX_SCRYPT_LOG_N}"
        ));
    }
    if hash.len() != signer_key.len() {
        return Err("the hash and the signer key differ in length".into());
    }
    if !(MIN_KEY_LEN..=MAX_KEY_LEN).contains(&hash.len()) {
        return Err("the hash must be between 16 and 128 bytes".into());
    }
    salt.extend_from_slice(&separator);
    let params = scrypt_params(mem_cost as u8, rounds, 1, 32)?;
    Ok(Parsed::ScryptFirebase {
        hash,
        salt,
        signer_key,
        params,
    })
}

pub(super) fn parse_scrypt_werkzeug(digest: &str) -> Result<Parsed<'_>, String> {
    const FORM: &str = "expected `scrypt:<N>:<r>:<p>$<salt>$<hash>` (leading `$` optional)";
    let body = digest.strip_prefix('$').unwrap_or(digest);
    let (method, rest) = body.split_once('$').ok_or(FORM)?;
    let (salt, hash) = rest.rsplit_once('$').ok_or(FORM)?;
    let args: Vec<&str> = method.split(':').collect();
    // Werkzeug's defaults when the method is bare `scrypt`.
    let (n, r, p) = match args.as_slice() {
        ["scrypt"] => (32768, 8, 1),
        ["scrypt", n, r, p] => (
            parse_small_int(n, "N")?,
            parse_small_int(r, "r")?,
            parse_small_int(p, "p")?,
        ),
        _ => return Err(FORM.into()),
    };
    if !n.is_power_of_two() || n < 2 {
        return Err("scrypt N must be a power of two of at least 2".into());
    }
    if salt.is_empty() {
        return Err("the salt is empty".into());
    }
    // Werkzeug writes the hash in hex; Clerk's text calls it base64, so both are read.
    let hash = if hash.len() % 2 == 0 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex_field(hash)
    } else {
        b64_decode(hash)
    }
    .ok_or("the hash is neither hex nor base64")?;
    check_key_len(&hash)?;
    let params = scrypt_params(n.trailing_zeros() as u8, r, p, hash.len())?;
    Ok(Parsed::ScryptWerkzeug { salt, hash, params })
}

/// The two argon2 variants Clerk imports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Argon2Algorithm {
    Argon2i,
    Argon2id,
}

impl Argon2Algorithm {
    fn ident(self) -> &'static str {
        match self {
            Self::Argon2i => "argon2i",
            Self::Argon2id => "argon2id",
        }
    }
}

/// argon2 versions 0x10 (16) and 0x13 (19).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Argon2Version {
    V16,
    V19,
}

/// argon2's parameters, checked as the `argon2` crate's `Params` checks them.
#[derive(Clone, Debug)]
pub(super) struct Argon2Params {
    pub(super) m_cost: u32,
    pub(super) t_cost: u32,
    pub(super) p_cost: u32,
    /// The `data=` parameter: associated data that goes into the hash.
    pub(super) data: Vec<u8>,
}

/// argon2's own bounds (RFC 9106): at least 8 KiB of memory and 8 KiB per lane, at least one
/// pass, 1 to 2^24 − 1 lanes, an output of 4 bytes or more, a salt of 8 bytes or more, a key id
/// of at most 8 bytes and associated data of at most 32.
const ARGON2_MIN_M_KIB: u32 = 8;
const ARGON2_MAX_P: u32 = 0xFF_FFFF;
const ARGON2_MIN_OUTPUT: usize = 4;
const ARGON2_MIN_SALT: usize = 8;
const ARGON2_MAX_KEYID: usize = 8;
const ARGON2_MAX_DATA: usize = 32;

fn argon2_params(phc: &PasswordHash<'_>) -> Result<Argon2Params, &'static str> {
    // The defaults a PHC string without `m`, `t` or `p` stands for.
    let (mut m_cost, mut t_cost, mut p_cost) = (19 * 1024, 2, 1);
    let mut data = Vec::new();
    for (ident, value) in phc.params.iter() {
        let decimal = || {
            value
                .decimal()
                .map_err(|_| "a parameter is not a decimal number")
        };
        let mut buf = [0u8; 64];
        match ident.as_str() {
            "m" => m_cost = decimal()?,
            "t" => t_cost = decimal()?,
            "p" => p_cost = decimal()?,
            "keyid" => {
                let id = value
                    .b64_decode(&mut buf)
                    .map_err(|_| "the key id is not B64")?;
                if id.len() > ARGON2_MAX_KEYID {
                    return Err("the key id is too long");
                }
            }
            "data" => {
                let d = value
                    .b64_decode(&mut buf)
                    .map_err(|_| "the associated data is not B64")?;
                if d.len() > ARGON2_MAX_DATA {
                    return Err("the associated data is too long");
                }
                data = d.to_vec();
            }
            _ => return Err("unknown parameter name"),
        }
    }
    if m_cost < ARGON2_MIN_M_KIB || u64::from(m_cost) < 8 * u64::from(p_cost) {
        return Err("memory cost is too small");
    }
    if t_cost < 1 {
        return Err("time cost is too small");
    }
    if p_cost < 1 {
        return Err("not enough threads");
    }
    if p_cost > ARGON2_MAX_P {
        return Err("too many threads");
    }
    Ok(Argon2Params {
        m_cost,
        t_cost,
        p_cost,
        data,
    })
}

pub(super) fn parse_argon2(
    digest: &str,
    algorithm: Argon2Algorithm,
) -> Result<Parsed<'static>, String> {
    let phc = PasswordHash::new(digest).map_err(|e| format!("not a PHC string ({e})"))?;
    let ident = phc.algorithm.as_str();
    if ident != algorithm.ident() {
        return Err(format!("the algorithm is `{}`", printable(ident)));
    }
    // Without `v=`, Clerk says "version 19 is assumed", while the reference implementation
    // wrote no `v=` only before version 19 existed (reading such digests as 16): both are tried.
    let version = match phc.version {
        None => None,
        Some(0x10) => Some(Argon2Version::V16),
        Some(0x13) => Some(Argon2Version::V19),
        Some(_) => return Err("unknown argon2 version".into()),
    };
    let params = argon2_params(&phc).map_err(|e| format!("invalid parameters ({e})"))?;
    let (m, t) = (params.m_cost, params.t_cost);
    if m > MAX_ARGON2_M_KIB {
        return Err("memory cost is above the emulator's maximum of 256 MiB".into());
    }
    if t > MAX_ARGON2_T || u64::from(m) * u64::from(t) > MAX_ARGON2_WORK_KIB {
        return Err("time cost is above the emulator's maximum".into());
    }
    let salt = phc.salt.ok_or("the salt is missing")?;
    let mut buf = [0u8; 64];
    let salt = salt
        .decode_b64(&mut buf)
        .map_err(|e| format!("the salt is invalid ({e})"))?
        .to_vec();
    if salt.len() < ARGON2_MIN_SALT {
        return Err("the salt is shorter than 8 bytes".into());
    }
    let hash = phc.hash.ok_or("the hash is missing")?.as_bytes().to_vec();
    if hash.len() < ARGON2_MIN_OUTPUT {
        return Err("the hash is too short".into());
    }
    Ok(Parsed::Argon2 {
        algorithm,
        version,
        params,
        salt,
        hash,
    })
}
