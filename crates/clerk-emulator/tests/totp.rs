//! TOTP against RFC 6238's published vectors, the ±1 step window, and backup codes.

use std::time::Duration;

#[path = "support/cpu.rs"]
mod cpu;

use clerk_emulator::totp::{generate_totp, is_valid_secret, verify_backup_code, verify_totp};

/// RFC 6238 Appendix B: the SHA1 seed is ASCII "12345678901234567890".
const RFC_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

/// RFC 6238 Appendix B SHA1 rows: (time, 8-digit TOTP). A 6-digit code is the same
/// truncated value modulo 10^6, i.e. the last six digits.
const RFC_VECTORS: &[(u64, &str)] = &[
    (59, "94287082"),
    (1_111_111_109, "07081804"),
    (1_111_111_111, "14050471"),
    (1_234_567_890, "89005924"),
    (2_000_000_000, "69279037"),
    (20_000_000_000, "65353130"),
];

#[test]
fn rfc6238_sha1_vectors_generate_and_verify() {
    for &(time, eight) in RFC_VECTORS {
        let six = &eight[2..];
        assert_eq!(
            generate_totp(RFC_SECRET, time).as_deref(),
            Some(six),
            "t={time}"
        );
        assert!(verify_totp(RFC_SECRET, six, time), "t={time}");
    }
}

#[test]
fn secret_is_case_insensitive_and_padding_is_optional() {
    let lower = RFC_SECRET.to_ascii_lowercase();
    assert_eq!(generate_totp(&lower, 59).as_deref(), Some("287082"));
    // 10-byte secrets (16 characters, as older authenticator apps issue) are usable.
    assert!(is_valid_secret("GEZDGNBVGY3TQOJQ"));
    // 11 bytes: 18 characters unpadded, 24 padded.
    let odd = "GEZDGNBVGY3TQOJQGE";
    let odd_padded = "GEZDGNBVGY3TQOJQGE======";
    assert!(is_valid_secret(odd) && is_valid_secret(odd_padded));
    assert_eq!(generate_totp(odd, 1_000), generate_totp(odd_padded, 1_000));
    assert_eq!(
        generate_totp(&odd.to_ascii_lowercase(), 1_000),
        generate_totp(odd, 1_000)
    );
}

#[test]
fn one_step_of_skew_is_accepted_two_are_not() {
    // 1234567890 is the first second of its 30 s step.
    let t = 1_234_567_890;
    let code = generate_totp(RFC_SECRET, t).expect("valid secret");
    for accepted in [t, t + 29, t + 30, t + 59, t - 1, t - 30] {
        assert!(verify_totp(RFC_SECRET, &code, accepted), "at {accepted}");
    }
    for rejected in [t + 60, t + 90, t - 31, t - 60, 0, u64::MAX] {
        assert!(!verify_totp(RFC_SECRET, &code, rejected), "at {rejected}");
    }
}

#[test]
fn near_the_epoch_and_the_end_of_time_nothing_panics() {
    let first = generate_totp(RFC_SECRET, 0).expect("valid secret");
    assert!(verify_totp(RFC_SECRET, &first, 0));
    assert!(verify_totp(RFC_SECRET, &first, 29));
    assert!(verify_totp(RFC_SECRET, &first, 59));
    let last = generate_totp(RFC_SECRET, u64::MAX).expect("valid secret");
    assert!(verify_totp(RFC_SECRET, &last, u64::MAX));
    assert!(verify_totp(RFC_SECRET, &last, u64::MAX - 30));
}

#[test]
fn every_other_code_for_the_moment_is_rejected() {
    let t = 1_111_111_111;
    let window: Vec<String> = [t - 30, t, t + 30]
        .iter()
        .map(|&s| generate_totp(RFC_SECRET, s).expect("valid secret"))
        .collect();
    let right = &window[1];
    // Every single-digit change of the right code, unless it happens to be a neighbour's code.
    for pos in 0..6 {
        for digit in b'0'..=b'9' {
            let mut candidate = right.clone().into_bytes();
            candidate[pos] = digit;
            let candidate = String::from_utf8(candidate).expect("ascii");
            let expected = window.contains(&candidate);
            assert_eq!(
                verify_totp(RFC_SECRET, &candidate, t),
                expected,
                "{candidate}"
            );
        }
    }
}

#[test]
fn garbage_codes_are_rejected() {
    let t = 59;
    assert_eq!(generate_totp(RFC_SECRET, t).as_deref(), Some("287082"));
    for code in [
        "",
        "28708",
        "2870822",
        "94287082",
        "28708a",
        " 287082",
        "287082 ",
        "287 082",
        "２８７０８２",
        "-87082",
        "+87082",
        "287082\n",
        "\u{0}87082",
        "é87082",
    ] {
        assert!(!verify_totp(RFC_SECRET, code, t), "{code:?}");
    }
}

#[test]
fn invalid_secrets_are_refused_everywhere() {
    for secret in [
        "",
        "=",
        "1",
        "GEZDGNBVGY3TQOJ1",
        "GEZDGNBVGY3TQOJQ=",
        "GEZ DGNBV",
        "GEZDGNBVGY3TQOJQG",
        "GEZDGNBVGY3TQOJQGE=====",
        "gezdgnbv-gy3tqojq",
        "ÉEZDGNBVGY3TQOJQ",
    ] {
        assert!(!is_valid_secret(secret), "{secret:?}");
        assert_eq!(generate_totp(secret, 59), None, "{secret:?}");
        assert!(!verify_totp(secret, "287082", 59), "{secret:?}");
    }
    let huge = "A".repeat(1 << 20);
    assert!(!is_valid_secret(&huge));
    assert!(is_valid_secret(RFC_SECRET));
}

#[test]
fn plain_backup_codes_match_exactly() {
    assert!(verify_backup_code("a1b2c3d4", "a1b2c3d4"));
    assert!(!verify_backup_code("a1b2c3d4", "a1b2c3d5"));
    assert!(!verify_backup_code("a1b2c3d4", "a1b2c3d"));
    assert!(!verify_backup_code("a1b2c3d4", "a1b2c3d44"));
    assert!(!verify_backup_code("a1b2c3d4", ""));
    assert!(!verify_backup_code("", ""));
}

#[test]
fn bcrypt_backup_codes_verify_in_every_version() {
    let parts = bcrypt::hash_with_result("k7m2x9qp", 4).expect("cost 4 is valid");
    for version in [
        bcrypt::Version::TwoA,
        bcrypt::Version::TwoB,
        bcrypt::Version::TwoY,
    ] {
        let stored = parts.format_for_version(version);
        assert!(verify_backup_code(&stored, "k7m2x9qp"), "{stored}");
        assert!(!verify_backup_code(&stored, "k7m2x9qq"), "{stored}");
        assert!(!verify_backup_code(&stored, ""), "{stored}");
        // The digest itself is not a code that works.
        assert!(!verify_backup_code(&stored, &stored), "{stored}");
    }
}

#[test]
fn hostile_or_broken_bcrypt_backup_codes_are_refused_fast() {
    let started = cpu::thread_cpu();
    for stored in [
        "$2b$31$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "$2b$17$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "$2b$",
        "$2b$05$",
        "$2b$05$short",
        "$2b$aa$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "$2b$é5$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
    ] {
        assert!(!verify_backup_code(stored, "U*U"), "{stored}");
    }
    assert!(
        cpu::thread_cpu() - started < Duration::from_secs(2),
        "{:?} of CPU",
        cpu::thread_cpu() - started
    );
    // The same digest at a sane cost does verify: the refusal above was the cost, not the form.
    assert!(verify_backup_code(
        "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "U*U"
    ));
}
