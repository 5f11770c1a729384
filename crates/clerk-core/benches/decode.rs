//! What decoding one `User` costs, and what the alternatives would save.
//!
//! `cargo bench -p clerk-core --bench decode`
//!
//! Two bodies: `tests/fixtures/user_full.json` (every property, two emails, an
//! external account, an organization membership; 7.6 KB as written, 5.6 KB compact,
//! which is what is decoded), and
//! the ~2.4 KB user the emulator answers in `benches/peers.rs`. For each, the
//! decoders run in alternating rounds on one thread; each round times
//! `DECODES` decodes by this thread's CPU time (`getrusage(RUSAGE_THREAD)`), and the
//! figures are medians of the per-round ratios against `serde_json::from_slice`
//! (how `clerk-core` decoded before).
//!
//! - `from_slice`: `serde_json::from_slice::<User>` (checks UTF-8 string by string);
//! - `utf8 + from_str`: one `str::from_utf8` over the whole body, then
//!   `serde_json::from_str` (what `clerk-core` does now).
//!
//! sonic-rs 0.5 (SIMD JSON, serde-compatible) was measured here too and saved only
//! 7-9 % against `from_slice` (0.909 and 0.932), less than the UTF-8 change
//! (0.790 and 0.786) for a heavy dependency, so it is not used (nor kept in
//! this bench: CI builds every bench).

use std::hint::black_box;
use std::time::Duration;

use clerk_core::User;
use nix::sys::resource::{UsageWho, getrusage};

const DECODES: usize = 20_000;
const ROUNDS: usize = 7;

type Decoder = (&'static str, fn(&[u8]) -> User);

fn from_slice(body: &[u8]) -> User {
    serde_json::from_slice(body).expect("decodes")
}

fn utf8_from_str(body: &[u8]) -> User {
    serde_json::from_str(std::str::from_utf8(body).expect("utf-8")).expect("decodes")
}

const DECODERS: [Decoder; 2] = [
    ("from_slice", from_slice),
    ("utf8 + from_str", utf8_from_str),
];

fn thread_cpu() -> Duration {
    let usage = getrusage(UsageWho::RUSAGE_THREAD).expect("getrusage");
    let t = |v: nix::sys::time::TimeVal| {
        Duration::from_secs(v.tv_sec() as u64) + Duration::from_micros(v.tv_usec() as u64)
    };
    t(usage.user_time()) + t(usage.system_time())
}

fn per_decode(decode: fn(&[u8]) -> User, body: &[u8]) -> f64 {
    let before = thread_cpu();
    for _ in 0..DECODES {
        black_box(decode(black_box(body)));
    }
    (thread_cpu() - before).as_secs_f64() / DECODES as f64
}

/// The user the emulator renders for the peers bench (two emails, a phone, metadata).
fn emulator_like_user() -> Vec<u8> {
    let verification = serde_json::json!({"object": "verification_admin", "status": "verified", "strategy": "admin", "attempts": null, "expire_at": null});
    let email = |id: &str, address: &str| {
        serde_json::json!({
            "id": id, "object": "email_address", "email_address": address, "reserved": false,
            "verification": verification, "linked_to": [], "matches_sso_connection": false,
            "created_at": 1_764_576_000_000_i64, "updated_at": 1_764_576_000_000_i64
        })
    };
    let metadata = serde_json::json!({"plan": {"tier": "pro", "seats": 12}, "crm_id": "crm-0042"});
    serde_json::to_vec(&serde_json::json!({
        "id": "user_2xhFjEI5X2qWRvtV13BzSj8H6Dk", "object": "user", "external_id": "crm-0042",
        "primary_email_address_id": "idn_2xhFjFp4vZ1JqN0tB8cS3mYd", "primary_phone_number_id": "idn_2xhFjGfV0PhNwQ7rT5eX1kLa",
        "primary_web3_wallet_id": null, "username": "ada_lovelace", "first_name": "Ada", "last_name": "Lovelace",
        "locale": null, "profile_image_url": "https://www.gravatar.com/avatar?d=mp",
        "image_url": "https://img.clerk.com/eyJ0eXBlIjoiZGVmYXVsdCIsImlpZCI6Imluc18yeGhGakVJNVgycVdSdnRWMTNCelNqOEg2RGsiLCJyaWQiOiJ1c2VyXzJ4aEZqRUk1WDJxV1J2dFYxM0J6U2o4SDZEayJ9",
        "has_image": false, "public_metadata": metadata, "private_metadata": metadata, "unsafe_metadata": {},
        "email_addresses": [email("idn_2xhFjFp4vZ1JqN0tB8cS3mYd", "ada@example.com"), email("idn_2xhFjHk9sLp2Wm4Rz7Qv0TbE", "ada.lovelace@example.org")],
        "phone_numbers": [{"id": "idn_2xhFjGfV0PhNwQ7rT5eX1kLa", "object": "phone_number", "phone_number": "+14155550100",
            "reserved_for_second_factor": false, "default_second_factor": false, "reserved": false,
            "verification": verification, "linked_to": [], "backup_codes": null,
            "created_at": 1_764_576_000_000_i64, "updated_at": 1_764_576_000_000_i64}],
        "web3_wallets": [], "passkeys": [], "password_enabled": false, "two_factor_enabled": false,
        "totp_enabled": false, "backup_code_enabled": false, "mfa_enabled_at": null, "mfa_disabled_at": null,
        "external_accounts": [], "saml_accounts": [], "enterprise_accounts": [], "last_sign_in_at": null,
        "banned": false, "locked": false, "lockout_expires_in_seconds": null, "verification_attempts_remaining": 100,
        "updated_at": 1_764_576_000_000_i64, "created_at": 1_764_576_000_000_i64, "delete_self_enabled": true,
        "create_organization_enabled": true, "last_active_at": null, "legal_accepted_at": null
    }))
    .expect("serialises")
}

fn main() {
    let full: serde_json::Value =
        serde_json::from_str(include_str!("../tests/fixtures/user_full.json")).expect("fixture");
    let bodies = [
        (
            "user_full.json",
            serde_json::to_vec(&full).expect("serialises"),
        ),
        ("emulator user", emulator_like_user()),
    ];
    for (name, body) in &bodies {
        let reference = from_slice(body);
        for (decoder, decode) in DECODERS {
            assert_eq!(
                decode(body),
                reference,
                "{decoder} decodes {name} differently"
            );
        }
        let mut cost = vec![Vec::new(); DECODERS.len()];
        for round in 0..ROUNDS {
            for i in 0..DECODERS.len() {
                let index = (round + i) % DECODERS.len();
                cost[index].push(per_decode(DECODERS[index].1, body));
            }
        }
        println!(
            "decode {name} ({} bytes), median of {ROUNDS} rounds of {DECODES}:",
            body.len()
        );
        for (index, (decoder, _)) in DECODERS.iter().enumerate() {
            let mut ratios: Vec<f64> = (0..ROUNDS).map(|r| cost[index][r] / cost[0][r]).collect();
            ratios.sort_by(f64::total_cmp);
            let mut times = cost[index].clone();
            times.sort_by(f64::total_cmp);
            println!(
                "  {decoder:<16} {:>6.2} µs per user  ratio {:.3}",
                times[ROUNDS / 2] * 1e6,
                ratios[ROUNDS / 2]
            );
        }
    }
}
