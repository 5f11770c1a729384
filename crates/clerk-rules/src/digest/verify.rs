//! Verification: a password hashed again the way a [`Parsed`] digest says, and compared in
//! constant time.

use aes::Aes256;
use ctr::cipher::{KeyIvInit, StreamCipher};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

use super::DigestError;
use super::memory_hard::{Argon2Algorithm, Argon2Params, Argon2Version, ScryptParams};
use super::parse::{PHPASS_ITOA64, Parsed, Prf};

impl Parsed<'_> {
    pub(super) fn verify(&self, password: &[u8], hasher: &str) -> Result<bool, DigestError> {
        Ok(match self {
            Parsed::Bcrypt { digest, pre_sha256 } => {
                let result = if *pre_sha256 {
                    let pre = hex::encode(Sha256::digest(password));
                    bcrypt::verify(pre.as_bytes(), digest)
                } else {
                    bcrypt::verify(password, digest)
                };
                result.map_err(|e| DigestError::invalid(hasher, e))?
            }
            Parsed::Md5(expected) => ct_eq(&Md5::digest(password), expected),
            Parsed::Sha256(expected) => ct_eq(&Sha256::digest(password), expected),
            Parsed::Pbkdf2 {
                prf,
                iterations,
                salt,
                hash,
            } => {
                let mut out = vec![0u8; hash.len()];
                match prf {
                    Prf::Sha1 => pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, *iterations, &mut out),
                    Prf::Sha256 => {
                        pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, *iterations, &mut out)
                    }
                    Prf::Sha512 => {
                        pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, *iterations, &mut out)
                    }
                }
                ct_eq(&out, hash)
            }
            Parsed::Phpass {
                count_log2,
                setting,
                encoded,
            } => {
                let computed = phpass_hash(password, &setting.as_bytes()[4..12], *count_log2);
                ct_eq(phpass_encode64(&computed).as_bytes(), encoded.as_bytes())
            }
            Parsed::ScryptFirebase {
                hash,
                salt,
                signer_key,
                params,
            } => {
                let mut key = [0u8; 32];
                scrypt::scrypt(password, salt, &scrypt_params(*params, hasher)?, &mut key)
                    .map_err(|e| DigestError::invalid(hasher, e))?;
                let mut block = signer_key.clone();
                // Firebase's modified scrypt: the derived key AES-256-CTR-encrypts the project's
                // signer key under an all-zero IV, and that ciphertext is the stored hash.
                let mut cipher = ctr::Ctr128BE::<Aes256>::new(&key.into(), &[0u8; 16].into());
                cipher.apply_keystream(&mut block);
                ct_eq(&block, hash)
            }
            Parsed::ScryptWerkzeug { salt, hash, params } => {
                let mut out = vec![0u8; hash.len()];
                scrypt::scrypt(
                    password,
                    salt.as_bytes(),
                    &scrypt_params(*params, hasher)?,
                    &mut out,
                )
                .map_err(|e| DigestError::invalid(hasher, e))?;
                ct_eq(&out, hash)
            }
            Parsed::LdapSsha { hash, salt } => {
                let mut h = Sha1::new();
                h.update(password);
                h.update(salt);
                ct_eq(&h.finalize(), hash)
            }
            Parsed::Argon2 {
                algorithm,
                version,
                params,
                salt,
                hash,
            } => {
                let versions: &[argon2::Version] = match version {
                    Some(Argon2Version::V16) => &[argon2::Version::V0x10],
                    Some(Argon2Version::V19) => &[argon2::Version::V0x13],
                    None => &[argon2::Version::V0x13, argon2::Version::V0x10],
                };
                let algorithm = match algorithm {
                    Argon2Algorithm::Argon2i => argon2::Algorithm::Argon2i,
                    Argon2Algorithm::Argon2id => argon2::Algorithm::Argon2id,
                };
                let params = argon2_params(params, hash.len(), hasher)?;
                let mut matched = false;
                for v in versions {
                    let mut out = vec![0u8; hash.len()];
                    argon2::Argon2::new(algorithm, *v, params.clone())
                        .hash_password_into(password, salt, &mut out)
                        .map_err(|e| DigestError::invalid(hasher, e))?;
                    matched |= ct_eq(&out, hash);
                }
                matched
            }
            Parsed::Symfony {
                iterations,
                salt,
                hash,
            } => ct_eq(&symfony_sha512(password, salt, *iterations), hash),
        })
    }
}

fn scrypt_params(p: ScryptParams, hasher: &str) -> Result<scrypt::Params, DigestError> {
    scrypt::Params::new(p.log_n, p.r, p.p, p.len).map_err(|e| DigestError::invalid(hasher, e))
}

fn argon2_params(
    p: &Argon2Params,
    output_len: usize,
    hasher: &str,
) -> Result<argon2::Params, DigestError> {
    let data = argon2::AssociatedData::new(&p.data).map_err(|e| DigestError::invalid(hasher, e))?;
    argon2::ParamsBuilder::new()
        .m_cost(p.m_cost)
        .t_cost(p.t_cost)
        .p_cost(p.p_cost)
        .data(data)
        .output_len(output_len)
        .build()
        .map_err(|e| DigestError::invalid(hasher, e))
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// phpass `crypt_private`: MD5(salt ‖ password), then 2^count_log2 times MD5(hash ‖ password).
fn phpass_hash(password: &[u8], salt: &[u8], count_log2: u32) -> [u8; 16] {
    let mut hash: [u8; 16] = {
        let mut h = Md5::new();
        h.update(salt);
        h.update(password);
        h.finalize().into()
    };
    for _ in 0..(1u64 << count_log2) {
        let mut h = Md5::new();
        h.update(hash);
        h.update(password);
        hash = h.finalize().into();
    }
    hash
}

/// phpass `encode64`: little-endian 6-bit groups over its own alphabet, 16 bytes → 22 chars.
fn phpass_encode64(input: &[u8]) -> String {
    let mut out = String::with_capacity(22);
    let push = |out: &mut String, v: u32| out.push(PHPASS_ITOA64[(v & 0x3f) as usize] as char);
    for chunk in input.chunks(3) {
        let mut value = u32::from(chunk[0]);
        push(&mut out, value);
        if let Some(&b) = chunk.get(1) {
            value |= u32::from(b) << 8;
        }
        push(&mut out, value >> 6);
        if chunk.len() < 2 {
            break;
        }
        if let Some(&b) = chunk.get(2) {
            value |= u32::from(b) << 16;
        }
        push(&mut out, value >> 12);
        if chunk.len() < 3 {
            break;
        }
        push(&mut out, value >> 18);
    }
    out
}

/// Symfony `MessageDigestPasswordEncoder` with sha512: salted = `password{salt}` (or just the
/// password for an empty salt); digest = H(salted); then iterations − 1 times H(digest ‖ salted).
fn symfony_sha512(password: &[u8], salt: &str, iterations: u32) -> [u8; 64] {
    let mut salted = password.to_vec();
    if !salt.is_empty() {
        salted.push(b'{');
        salted.extend_from_slice(salt.as_bytes());
        salted.push(b'}');
    }
    let mut digest: [u8; 64] = Sha512::digest(&salted).into();
    for _ in 1..iterations {
        let mut h = Sha512::new();
        h.update(digest);
        h.update(&salted);
        digest = h.finalize().into();
    }
    digest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phpass_encode64_matches_reference_layout() {
        // 16 bytes → 22 characters, as phpass's encode64($hash, 16).
        assert_eq!(phpass_encode64(&[0u8; 16]), "......................");
        assert_eq!(phpass_encode64(&[0xff; 16]).len(), 22);
        assert_eq!(&phpass_encode64(&[1, 0, 0])[..], "/...");
    }
}
