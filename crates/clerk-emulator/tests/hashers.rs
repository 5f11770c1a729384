//! Every password hasher Clerk accepts: published or reference-generated vectors verify with
//! the right password and not with a wrong one, malformed digests are `DigestError`s from both
//! `validate_digest` and `verify_digest`, and hostile digests are refused without doing the work.

use std::time::Duration;

#[path = "support/cpu.rs"]
mod cpu;

use clerk_emulator::passwords::{
    DigestError, SUPPORTED_HASHERS, hash_plain, validate_digest, verify_digest, verify_plain,
};

/// (hasher, digest, password). Each comment names where the digest comes from.
const VECTORS: &[(&str, &str, &str)] = &[
    // PHC reference implementation, src/test.c (P-H-C/phc-winner-argon2), version 19.
    (
        "argon2i",
        "$argon2i$v=19$m=256,t=2,p=1$c29tZXNhbHQ$iekCn0Y3spW+sCcFanM2xBT63UP2sghkUoHLIUpWRS8",
        "password",
    ),
    // Same source, the pre-19 encoding without `v=` (computed as version 16).
    (
        "argon2i",
        "$argon2i$m=256,t=2,p=1$c29tZXNhbHQ$/U3YPXYsSb3q9XxHvc0MLxur+GP960kN9j7emXX8zwY",
        "password",
    ),
    // PHC reference vectors for argon2id, as in libxcrypt's test-crypt-argon2 suite.
    (
        "argon2id",
        "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
        "password",
    ),
    // Solar Designer's crypt_blowfish test vectors (also OpenBSD's and John the Ripper's).
    (
        "bcrypt",
        "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "U*U",
    ),
    (
        "bcrypt",
        "$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK",
        "U*U*",
    ),
    // Django's BCryptPasswordHasher output with its `bcrypt$` prefix removed, from the
    // djangohashers crate's Django-generated test vectors.
    (
        "bcrypt",
        "$2b$12$LZSJchsWG/DrBy1erNs4ee31eJ7DaWiuwhDOC7aqIyqGGggfu6Y/.",
        "ExjGmyUT73bFoT",
    ),
    // Django's BCryptSHA256PasswordHasher, same source.
    (
        "bcrypt_sha256_django",
        "bcrypt_sha256$$2b$12$LZSJchsWG/DrBy1erNs4eeYo6tZNlLFQmONdxN9HPesa1EyXVcTXK",
        "ExjGmyUT73bFoT",
    ),
    // OpenLDAP Administrator's Guide, "SSHA password storage scheme" example.
    (
        "ldap_ssha",
        "{SSHA}DkMTwBl+a/3DQTxCYEApdUtNXGgdUac3",
        "secret",
    ),
    // CPython hashlib: base64(sha1(b"secret" + salt) + salt) with salt de ad be ef.
    (
        "ldap_ssha",
        "{SSHA}EfPuh7/9ddeKpzeG+d+Ylov4cTrerb7v",
        "secret",
    ),
    // Clerk's own example for md5 (MD5 of "password").
    ("md5", "5f4dcc3b5aa765d61d8327deb882cf99", "password"),
    ("md5", "5F4DCC3B5AA765D61D8327DEB882CF99", "password"),
    // phpass's test.php ("A correct portable hash for 'test12345'"); passlib's phpass tests.
    (
        "md5_phpass",
        "$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0",
        "test12345",
    ),
    // phpBB3 writes the same algorithm under `$H$`; phpass's CheckPassword reads both.
    (
        "md5_phpass",
        "$H$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0",
        "test12345",
    ),
    // RFC 6070 PBKDF2-HMAC-SHA1 vector (P="password", S="salt", c=4096, dkLen=20); "salt" is
    // not hex, so Clerk's rule uses it raw.
    (
        "pbkdf2_sha1",
        "pbkdf2_sha1$4096$salt$4b007901b765489abead49d926f721d065a429c1",
        "password",
    ),
    // CPython hashlib.pbkdf2_hmac("sha1", b"correct horse", bytes.fromhex("a1b2c3d4e5f60718"),
    // 1000, 32): the hex salt and explicit key length form.
    (
        "pbkdf2_sha1",
        "pbkdf2_sha1$1000$a1b2c3d4e5f60718$9302914381482e27ca881e1a81bd39ef602de1629275f0ee182a508fad0b5d0d$32",
        "correct horse",
    ),
    // RFC 7914 §11 PBKDF2-HMAC-SHA256 vector (P="passwd", S="salt", c=1, dkLen=64) in Clerk's
    // base64-salt, base64-hash form.
    (
        "pbkdf2_sha256",
        "pbkdf2_sha256$1$c2FsdA==$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLxJypzM8Xm2RZkWZLOdd+8xfHG4RbHjC9UJESBB06GXgw==",
        "passwd",
    ),
    // passlib's pbkdf2_sha256 known-correct hash (adapted base64).
    (
        "pbkdf2_sha256",
        "$pbkdf2-sha256$1212$4vjV83LKPjQzk31VI4E0Vw$hsYF68OiOUPdDZ1Fg.fJPeq1h/gXXY7acBp9/6c.tmQ",
        "password",
    ),
    // PHC form, CPython hashlib.pbkdf2_hmac("sha256", b"correct horse", bytes(1..=8), 1000).
    (
        "pbkdf2_sha256",
        "$pbkdf2-sha256$i=1000,l=32$AQIDBAUGBwg$FQ+trt68rHf61QC5TTPZ9wyPC1fiwCWb8dx5MlLaJE0",
        "correct horse",
    ),
    // Django-generated, from the djangohashers crate's tests.
    (
        "pbkdf2_sha256_django",
        "pbkdf2_sha256$24000$KQ8zeK6wKRuR$cmhbSt1XVKuO4FGd9+AX8qSBD4Z0395nZatXTJpEtTY=",
        "ExjGmyUT73bFoT",
    ),
    // CPython hashlib.pbkdf2_hmac("sha512", b"correct horse", b"NaClNaCl", 1000).
    (
        "pbkdf2_sha512",
        "pbkdf2_sha512$1000$NaClNaCl$547c5c840c405d28109de071e534ae1c122c51f286699ed4b8c5531892d26d55f0cee45e278130004bc458dd4fba5395ee6bfeb5a0eac5d28322ceca179b8015",
        "correct horse",
    ),
    // CPython hashlib.pbkdf2_hmac("sha512", b"correct horse", bytes.fromhex("a1b2c3d4e5f60718"), 1000).
    (
        "pbkdf2_sha512_hex",
        "pbkdf2_sha512_hex$1000$a1b2c3d4e5f60718$39d7500e0845dd7761d70bb09ffb1f043e752c5e778ada015e209d5dc6ed8adc37c8a501a3f660e4288aa58d73811665856f0253770ca340951868d237e900fe",
        "correct horse",
    ),
    (
        "pbkdf2_sha512_hex",
        "pbkdf2_sha512$1000$a1b2c3d4e5f60718$39d7500e0845dd7761d70bb09ffb1f043e752c5e778ada015e209d5dc6ed8adc37c8a501a3f660e4288aa58d73811665856f0253770ca340951868d237e900fe",
        "correct horse",
    ),
    // phpass test.php and passlib's phpass known-correct hashes.
    ("phpass", "$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0", "test12345"),
    ("phpass", "$P$FiS0N5L672xzQx1rt1vgdJQRYKnQM9/", "compL3X!"),
    ("phpass", "$P$7JaFQsPzJSuenezefD/3jHgt5hVfNH0", ""),
    // firebase/scrypt README sample project parameters and user, in Clerk's
    // `<hash>$<salt>$<signer key>$<salt separator>$<rounds>$<memory cost>` order.
    (
        "scrypt_firebase",
        "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==$42xEC+ixf3L2lw==$jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==$Bw==$8$14",
        "user1password",
    ),
    // RFC 7914 §12 scrypt vector (P="password", S="NaCl", N=1024, r=8, p=16, dkLen=64) in
    // Werkzeug's `scrypt:N:r:p$salt$hexhash` form.
    (
        "scrypt_werkzeug",
        "scrypt:1024:8:16$NaCl$fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640",
        "password",
    ),
    // CPython hashlib.scrypt, which is what Werkzeug's generate_password_hash calls.
    (
        "scrypt_werkzeug",
        "scrypt:2048:4:1$Wk3xYvA9QnR2tLpz$fc664b145580ff4813f54da383a6f293daff7eab715612f8382eb77dcec5b4cf47dda2f31e3fc76e37fd3162ec8ad1e466355f20f221d86e47a5a554f97ca5d1",
        "correct horse",
    ),
    // Clerk's page shows a leading `$` before the arguments and calls the hash base64.
    (
        "scrypt_werkzeug",
        "$scrypt:2048:4:1$Wk3xYvA9QnR2tLpz$/GZLFFWA/0gT9U2jg6byk9r/fqtxVhL4OC63fc7FtM9H3aLzHj/Hbjf9MWLsitHkZjVfIPIh2G5HpaVU+Xyl0Q==",
        "correct horse",
    ),
    // Clerk's own example for sha256 (SHA-256 of "test").
    (
        "sha256",
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "test",
    ),
    // Symfony MessageDigestPasswordEncoder, computed with CPython hashlib following its
    // encodePassword(): salted = "password{salt}", then iterations-1 rounds of H(digest.salted).
    (
        "sha512_symfony",
        "sha512_symfony$5000$c0ffee42$MHYzP59HgwppZhatKwHrZummlqYRYZvZwv8YeCjTx+WpOz9Q4OQ0dHHWt/Svoj5eMjSDdP6AhArjvDmDbdiegg==",
        "correct horse",
    ),
    // Symfony's own MessageDigestPasswordEncoderTest shape: one iteration, no salt, is
    // base64(sha512("password")).
    (
        "sha512_symfony",
        "sha512_symfony$1$$sQnzu7wkTrgkQZF+0G1hi5AI3Qmzvv0bXgc5THBqi7mAsdd4Xll27ASbRt9fEyavWi6m0QP9B8lThf+rDKy8hg==",
        "password",
    ),
];

/// Digests in a hasher's general shape that are still invalid: bad encodings, bad parameters.
const MALFORMED: &[(&str, &str)] = &[
    (
        "argon2i",
        "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
    ),
    ("argon2i", "$argon2i$v=19$m=256,t=2,p=1$c29tZXNhbHQ"),
    (
        "argon2i",
        "$argon2i$v=42$m=256,t=2,p=1$c29tZXNhbHQ$iekCn0Y3spW+sCcFanM2xBT63UP2sghkUoHLIUpWRS8",
    ),
    (
        "argon2i",
        "$argon2i$v=19$m=256,t=2,p=1,x=3$c29tZXNhbHQ$iekCn0Y3spW+sCcFanM2xBT63UP2sghkUoHLIUpWRS8",
    ),
    (
        "argon2id",
        "$argon2id$v=19$m=256,t=2,p=1$c29t$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
    ),
    (
        "argon2id",
        "argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
    ),
    (
        "bcrypt",
        "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe",
    ),
    (
        "bcrypt",
        "$2x$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
    ),
    (
        "bcrypt",
        "$2a$5$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeWW",
    ),
    (
        "bcrypt",
        "$2a$03$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
    ),
    (
        "bcrypt",
        "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyO!W",
    ),
    (
        "bcrypt_sha256_django",
        "$2b$12$LZSJchsWG/DrBy1erNs4eeYo6tZNlLFQmONdxN9HPesa1EyXVcTXK",
    ),
    (
        "bcrypt_sha256_django",
        "bcrypt_sha256$$2b$12$LZSJchsWG/DrBy1erNs4eeYo6tZNlLF",
    ),
    ("ldap_ssha", "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="),
    ("ldap_ssha", "{SSHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="),
    ("ldap_ssha", "{SSHA}not base64 at all!"),
    ("md5", "5f4dcc3b5aa765d61d8327deb882cf9"),
    ("md5", "5f4dcc3b5aa765d61d8327deb882cf99aa"),
    ("md5", "5f4dcc3b5aa765d61d8327deb882cfzz"),
    ("md5_phpass", "$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L"),
    ("md5_phpass", "$Q$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0"),
    (
        "pbkdf2_sha1",
        "pbkdf2_sha1$4096$salt$4b007901b765489abead49d926f721d065a429c1$32",
    ),
    (
        "pbkdf2_sha1",
        "pbkdf2_sha1$4096$salt$tSJh4xdxfMJotlxfkCGjTFpGYZU=",
    ),
    (
        "pbkdf2_sha1",
        "pbkdf2_sha1$0$salt$4b007901b765489abead49d926f721d065a429c1",
    ),
    (
        "pbkdf2_sha1",
        "pbkdf2_sha1$-1$salt$4b007901b765489abead49d926f721d065a429c1",
    ),
    (
        "pbkdf2_sha1",
        "pbkdf2_sha1$4096$$4b007901b765489abead49d926f721d065a429c1",
    ),
    ("pbkdf2_sha256", "pbkdf2_sha256$1$c2FsdA==$!!!"),
    (
        "pbkdf2_sha256",
        "pbkdf2_sha256$NaN$c2FsdA==$VawEblbjCJ/sFpHCJUS2BflBhSFt3gRl5oudV8INrLw=",
    ),
    ("pbkdf2_sha256", "pbkdf2_sha256$1$c2FsdA==$c2hvcnQ="),
    (
        "pbkdf2_sha256",
        "$pbkdf2-sha256$i=1000,l=16$AQIDBAUGBwg$FQ+trt68rHf61QC5TTPZ9wyPC1fiwCWb8dx5MlLaJE0",
    ),
    (
        "pbkdf2_sha256",
        "$pbkdf2-sha256$x=1000$AQIDBAUGBwg$FQ+trt68rHf61QC5TTPZ9wyPC1fiwCWb8dx5MlLaJE0",
    ),
    (
        "pbkdf2_sha256_django",
        "pbkdf2_sha1$24000$KQ8zeK6wKRuR$tSJh4xdxfMJotlxfkCGjTFpGYZU=",
    ),
    ("pbkdf2_sha256_django", "pbkdf2_sha256$24000$KQ8zeK6wKRuR"),
    ("pbkdf2_sha512", "pbkdf2_sha512$1000$NaClNaCl$not-hex"),
    (
        "pbkdf2_sha512_hex",
        "pbkdf2_sha512_hex$1000$NaClNaCl$39d7500e0845dd7761d70bb09ffb1f043e752c5e778ada015e209d5dc6ed8adc",
    ),
    ("phpass", "$P$!IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0"),
    ("phpass", "$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r!L0"),
    ("phpass", "$P$.IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0"),
    (
        "scrypt_firebase",
        "lSrfV15c$42xEC+ixf3L2lw==$jxspr8Ki$Bw==$8",
    ),
    (
        "scrypt_firebase",
        "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==$42xEC+ixf3L2lw==$jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMX$Bw==$8$14",
    ),
    (
        "scrypt_firebase",
        "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==$42xEC+ixf3L2lw==$jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==$Bw==$eight$14",
    ),
    (
        "scrypt_werkzeug",
        "scrypt:1000:8:16$NaCl$fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162",
    ),
    (
        "scrypt_werkzeug",
        "pbkdf2:sha256:600000$NaCl$fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162",
    ),
    (
        "scrypt_werkzeug",
        "scrypt:1024:8$NaCl$fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162",
    ),
    (
        "scrypt_werkzeug",
        "scrypt:1024:0:1$NaCl$fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162",
    ),
    (
        "sha256",
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0",
    ),
    (
        "sha256",
        "salt$9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    ),
    (
        "sha512_symfony",
        "sha512_symfony$0$salt$sQnzu7wkTrgkQZF+0G1hi5AI3Qmzvv0bXgc5THBqi7mAsdd4Xll27ASbRt9fEyavWi6m0QP9B8lThf+rDKy8hg==",
    ),
    (
        "sha512_symfony",
        "sha512_symfony$1$s{al}t$sQnzu7wkTrgkQZF+0G1hi5AI3Qmzvv0bXgc5THBqi7mAsdd4Xll27ASbRt9fEyavWi6m0QP9B8lThf+rDKy8hg==",
    ),
    ("sha512_symfony", "sha512_symfony$1$salt$c2hvcnQ="),
    (
        "sha512_symfony",
        "sha512$1$salt$sQnzu7wkTrgkQZF+0G1hi5AI3Qmzvv0bXgc5THBqi7mAsdd4Xll27ASbRt9fEyavWi6m0QP9B8lThf+rDKy8hg==",
    ),
];

/// Digests whose work factor is far beyond any real export: they must be refused up front,
/// not computed.
const HOSTILE: &[(&str, &str)] = &[
    (
        "bcrypt",
        "$2b$31$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
    ),
    (
        "bcrypt",
        "$2b$17$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
    ),
    (
        "bcrypt",
        "$2b$99$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
    ),
    (
        "bcrypt_sha256_django",
        "bcrypt_sha256$$2b$31$LZSJchsWG/DrBy1erNs4eeYo6tZNlLFQmONdxN9HPesa1EyXVcTXK",
    ),
    (
        "scrypt_werkzeug",
        "scrypt:1099511627776:8:1$NaCl$fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162",
    ),
    (
        "scrypt_werkzeug",
        "scrypt:1048576:8:1$NaCl$fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162",
    ),
    (
        "scrypt_werkzeug",
        "scrypt:1024:8:4294967295$NaCl$fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162",
    ),
    (
        "scrypt_werkzeug",
        "scrypt:1024:999999999:1$NaCl$fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162",
    ),
    (
        "scrypt_firebase",
        "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==$42xEC+ixf3L2lw==$jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==$Bw==$8$40",
    ),
    (
        "scrypt_firebase",
        "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==$42xEC+ixf3L2lw==$jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==$Bw==$100000$14",
    ),
    (
        "pbkdf2_sha256_django",
        "pbkdf2_sha256$2000001$KQ8zeK6wKRuR$cmhbSt1XVKuO4FGd9+AX8qSBD4Z0395nZatXTJpEtTY=",
    ),
    (
        "pbkdf2_sha256_django",
        "pbkdf2_sha256$99999999999999999999$KQ8zeK6wKRuR$cmhbSt1XVKuO4FGd9+AX8qSBD4Z0395nZatXTJpEtTY=",
    ),
    (
        "pbkdf2_sha1",
        "pbkdf2_sha1$4294967295$salt$4b007901b765489abead49d926f721d065a429c1",
    ),
    (
        "sha512_symfony",
        "sha512_symfony$4000000000$c0ffee42$MHYzP59HgwppZhatKwHrZummlqYRYZvZwv8YeCjTx+WpOz9Q4OQ0dHHWt/Svoj5eMjSDdP6AhArjvDmDbdiegg==",
    ),
    ("phpass", "$P$zIQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0"),
    ("md5_phpass", "$P$TIQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0"),
    (
        "argon2id",
        "$argon2id$v=19$m=4194304,t=1,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
    ),
    (
        "argon2id",
        "$argon2id$v=19$m=262144,t=32,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
    ),
    (
        "argon2i",
        "$argon2i$v=19$m=256,t=4294967295,p=1$c29tZXNhbHQ$iekCn0Y3spW+sCcFanM2xBT63UP2sghkUoHLIUpWRS8",
    ),
];

fn wrong_password(right: &str) -> String {
    format!("{right}x")
}

fn check_hasher(hasher: &str) {
    let vectors: Vec<_> = VECTORS.iter().filter(|(h, _, _)| *h == hasher).collect();
    assert!(!vectors.is_empty(), "no vector for {hasher}");
    for (h, digest, password) in vectors {
        assert_eq!(validate_digest(h, digest), Ok(()), "{h} {digest}");
        assert_eq!(
            verify_digest(h, digest, password),
            Ok(true),
            "{h}: right password must verify against {digest}"
        );
        assert_eq!(
            verify_digest(h, digest, &wrong_password(password)),
            Ok(false),
            "{h}: wrong password must not verify against {digest}"
        );
    }
}

fn check_malformed(hasher: &str) {
    let cases: Vec<_> = MALFORMED.iter().filter(|(h, _)| *h == hasher).collect();
    for (h, digest) in cases {
        let err = validate_digest(h, digest).expect_err(digest);
        assert!(
            err.message().contains(h),
            "the message names the hasher: {err}"
        );
        assert_eq!(verify_digest(h, digest, "password"), Err(err));
    }
    // Whatever the hasher, an empty digest is malformed.
    assert!(validate_digest(hasher, "").is_err());
    assert!(verify_digest(hasher, "", "").is_err());
}

macro_rules! hasher_tests {
    ($($name:ident => $hasher:literal,)*) => {
        $(
            #[test]
            fn $name() {
                check_hasher($hasher);
                check_malformed($hasher);
            }
        )*

        #[test]
        fn every_supported_hasher_has_a_test() {
            let tested = [$($hasher),*];
            let mut supported = SUPPORTED_HASHERS.to_vec();
            supported.sort_unstable();
            let mut tested = tested.to_vec();
            tested.sort_unstable();
            assert_eq!(supported, tested);
            assert_eq!(supported.len(), 17);
        }
    };
}

hasher_tests! {
    argon2i => "argon2i",
    argon2id => "argon2id",
    bcrypt => "bcrypt",
    bcrypt_sha256_django => "bcrypt_sha256_django",
    ldap_ssha => "ldap_ssha",
    md5 => "md5",
    md5_phpass => "md5_phpass",
    pbkdf2_sha1 => "pbkdf2_sha1",
    pbkdf2_sha256 => "pbkdf2_sha256",
    pbkdf2_sha256_django => "pbkdf2_sha256_django",
    pbkdf2_sha512 => "pbkdf2_sha512",
    pbkdf2_sha512_hex => "pbkdf2_sha512_hex",
    phpass => "phpass",
    scrypt_firebase => "scrypt_firebase",
    scrypt_werkzeug => "scrypt_werkzeug",
    sha256 => "sha256",
    sha512_symfony => "sha512_symfony",
}

#[test]
fn bcrypt_digests_made_by_the_reference_crate_verify_in_every_version() {
    let parts = bcrypt::hash_with_result("reference crate", 4).expect("cost 4 is valid");
    for version in [
        bcrypt::Version::TwoA,
        bcrypt::Version::TwoB,
        bcrypt::Version::TwoY,
    ] {
        let digest = parts.format_for_version(version);
        assert_eq!(
            verify_digest("bcrypt", &digest, "reference crate"),
            Ok(true)
        );
        assert_eq!(
            verify_digest("bcrypt", &digest, "reference crat"),
            Ok(false)
        );
        let django = format!("bcrypt_sha256${digest}");
        // A plain bcrypt digest is not a Django bcrypt_sha256 one: the password is pre-hashed.
        assert_eq!(
            verify_digest("bcrypt_sha256_django", &django, "reference crate"),
            Ok(false)
        );
    }
}

#[test]
fn argon2_digests_made_by_the_reference_crate_verify() {
    use argon2::password_hash::{PasswordHasher as _, SaltString};
    let salt = SaltString::encode_b64(b"emulator-salt-16").expect("valid salt");
    for (name, algorithm) in [
        ("argon2i", argon2::Algorithm::Argon2i),
        ("argon2id", argon2::Algorithm::Argon2id),
    ] {
        let params = argon2::Params::new(64, 1, 1, None).expect("valid params");
        let digest = argon2::Argon2::new(algorithm, argon2::Version::V0x13, params)
            .hash_password(b"hunter22", &salt)
            .expect("hashing works")
            .to_string();
        assert_eq!(
            verify_digest(name, &digest, "hunter22"),
            Ok(true),
            "{digest}"
        );
        assert_eq!(verify_digest(name, &digest, "hunter23"), Ok(false));
        let other = if name == "argon2i" {
            "argon2id"
        } else {
            "argon2i"
        };
        assert!(
            validate_digest(other, &digest).is_err(),
            "{other} must refuse {digest}"
        );
    }
}

#[test]
fn clerk_documentation_examples_are_valid_digests() {
    // The examples on Clerk's createUser() page; their passwords are not published.
    for (hasher, digest) in [
        (
            "argon2i",
            "$argon2i$v=19$m=4096,t=3,p=1$4t6CL3P7YiHBtwESXawI8Hm20zJj4cs7/4/G3c187e0$m7RQFczcKr5bIR0IIxbpO2P0tyrLjf3eUW3M3QSwnLc",
        ),
        (
            "argon2id",
            "$argon2id$v=19$m=64,t=4,p=8$Z2liZXJyaXNo$iGXEpMBTDYQ8G/71tF0qGjxRHEmR3gpGULcE93zUJVU",
        ),
        (
            "bcrypt_sha256_django",
            "bcrypt_sha256$$2b$12$tbdicNcyg.VuOdRxrhZs5.tsoxz0IlOLfBPYbALJwjhTr7.UW.WiW",
        ),
        ("md5", "5f4dcc3b5aa765d61d8327deb882cf99"),
        (
            "sha256",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        ),
        (
            "scrypt_werkzeug",
            "scrypt$gY3Kq6rw7GcYbBnC$26ac395eaa07c9c989059afcc1d0b0fe6a15586bae3f9d054a98a1a379a47bd3a175d6e3b606e6d9cab04476b69d724cdc7a30b75681f987417a732722ad5757",
        ),
    ] {
        assert_eq!(validate_digest(hasher, digest), Ok(()), "{hasher} {digest}");
    }
}

#[test]
fn ldap_prefix_is_case_insensitive() {
    assert_eq!(
        verify_digest(
            "ldap_ssha",
            "{ssha}DkMTwBl+a/3DQTxCYEApdUtNXGgdUac3",
            "secret"
        ),
        Ok(true)
    );
}

#[test]
fn unknown_hashers_are_refused_with_the_supported_list() {
    for hasher in [
        "",
        "BCRYPT",
        "bcrypt_peppered",
        "awscognito",
        "sha1",
        "md5 ",
        "bcrypt\0",
    ] {
        let err = validate_digest(hasher, "5f4dcc3b5aa765d61d8327deb882cf99").expect_err(hasher);
        assert!(
            err.message().contains("unsupported password_hasher"),
            "{err}"
        );
        assert!(err.message().contains("pbkdf2_sha512_hex"), "{err}");
        assert_eq!(
            verify_digest(hasher, "5f4dcc3b5aa765d61d8327deb882cf99", "password"),
            Err(err)
        );
    }
    let long = "h".repeat(10_000);
    let err = validate_digest(&long, "x").unwrap_err();
    assert!(err.message().len() < 1_000, "the echoed name is bounded");
}

#[test]
fn a_digest_under_the_wrong_hasher_is_refused() {
    assert!(
        validate_digest(
            "md5",
            "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
        )
        .is_err()
    );
    assert!(validate_digest("bcrypt", "5f4dcc3b5aa765d61d8327deb882cf99").is_err());
    assert!(validate_digest("sha256", "5f4dcc3b5aa765d61d8327deb882cf99").is_err());
    assert!(validate_digest("sha512_symfony", "pbkdf2_sha512$1000$NaClNaCl$547c5c84").is_err());
}

#[test]
fn hostile_work_factors_are_refused_without_doing_the_work() {
    let started = cpu::thread_cpu();
    for (hasher, digest) in HOSTILE {
        let err = validate_digest(hasher, digest).expect_err(digest);
        assert_eq!(verify_digest(hasher, digest, "password"), Err(err));
    }
    // Refusal is parsing only; any real work here would take seconds to hours.
    assert!(
        cpu::thread_cpu() - started < Duration::from_secs(2),
        "{:?} of CPU",
        cpu::thread_cpu() - started
    );
}

#[test]
fn garbage_digests_never_panic() {
    let huge = "A".repeat(1 << 20);
    let dollars = "$".repeat(10_000);
    let mut garbage: Vec<String> = [
        "",
        "$",
        "$$",
        "$$$$$$",
        "=",
        "{SSHA}",
        "{SSH",
        "{SSHé}",
        "é",
        "\u{0}",
        "\u{fffd}\u{fffd}",
        "$P$",
        "$H$é2345678901234567890123456789012",
        "$2b$",
        "$2b$1é$",
        "$argon2id$",
        "$argon2id$v=19$m=,t=,p=$$",
        "pbkdf2_sha256$$$",
        "pbkdf2_sha1$1$$$$",
        "scrypt:::$$",
        "$$$$$",
        "a$b$c$d$e$f",
        "sha512_symfony$$$",
        "bcrypt_sha256$",
        "$pbkdf2-sha256$$$",
        "$pbkdf2-sha512$i=,l=$$",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    garbage.push(huge);
    garbage.push(dollars);
    // Every prefix of every valid vector: truncated exports.
    for (_, digest, _) in VECTORS {
        for end in 0..digest.len() {
            garbage.push(digest[..end].to_string());
        }
    }
    for hasher in SUPPORTED_HASHERS {
        for digest in &garbage {
            // Truncations that still parse are legitimate digests; only cheap parsing runs here.
            if validate_digest(hasher, digest).is_err() {
                assert!(verify_digest(hasher, digest, "pw").is_err());
            }
        }
    }
}

#[test]
fn passwords_of_any_shape_never_panic() {
    // Past bcrypt's 72 bytes and past one hash block; iterated hashers make longer costly.
    let long = "p".repeat(300);
    for password in ["", "é", "\u{0}", long.as_str(), "パスワード"] {
        for (hasher, digest, _) in VECTORS.iter().filter(|(h, _, _)| {
            // The cheap hashers are enough to exercise password handling.
            !matches!(
                *h,
                "scrypt_firebase" | "scrypt_werkzeug" | "bcrypt" | "bcrypt_sha256_django"
            )
        }) {
            assert!(verify_digest(hasher, digest, password).is_ok(), "{hasher}");
        }
    }
    // bcrypt reads only the first 72 bytes, as every bcrypt implementation does.
    let digest = bcrypt::hash(&long, 4).expect("cost 4 is valid");
    assert_eq!(verify_digest("bcrypt", &digest, &long), Ok(true));
}

#[test]
fn digest_error_is_an_error_with_a_message() {
    let err: DigestError = validate_digest("md5", "nope").unwrap_err();
    assert_eq!(err.to_string(), err.message());
    let boxed: Box<dyn std::error::Error> = Box::new(err.clone());
    assert_eq!(boxed.to_string(), err.message());
    assert!(!err.message().contains("nope"), "the digest is not echoed");
}

#[test]
fn plain_hash_is_salted_verifies_and_is_fast() {
    let stored = hash_plain("correct horse battery");
    assert!(stored.starts_with("emu$sha256$"), "{stored}");
    assert!(!stored.contains("correct horse"));
    assert!(verify_plain(&stored, "correct horse battery"));
    assert!(!verify_plain(&stored, "correct horse batterY"));
    assert!(!verify_plain(&stored, ""));
    assert_ne!(stored, hash_plain("correct horse battery"));
    for bad in [
        "",
        "emu$sha256$",
        "emu$sha256$zz$zz",
        "emu$md5$00$00",
        &stored[..stored.len() - 2],
    ] {
        assert!(!verify_plain(bad, "correct horse battery"), "{bad}");
    }

    // The emulator stores and checks plain passwords on hot paths: microseconds, not the
    // tens of milliseconds of a real KDF. 2000 rounds in well under 2 s even unoptimised.
    let started = cpu::thread_cpu();
    for i in 0..1000 {
        let password = format!("password-{i}");
        let stored = hash_plain(&password);
        assert!(verify_plain(&stored, &password));
    }
    assert!(
        cpu::thread_cpu() - started < Duration::from_secs(2),
        "{:?} of CPU",
        cpu::thread_cpu() - started
    );
}
