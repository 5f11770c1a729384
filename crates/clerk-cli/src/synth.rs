//! Realistic synthetic users for `bench`: names, emails, some phones and usernames,
//! a mix of plain passwords, bcrypt digests and password-less users, metadata and
//! backdated creation times. Each carries a unique `external_id`.

use clerk_tower::users::rfc3339_from_unix_ms;
use serde_json::{Map, Value, json};

const FIRST: &[&str] = &[
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Margaret",
    "Linus",
    "Ken",
    "Dennis",
    "Radia",
    "Frances",
    "John",
    "Leslie",
    "Niklaus",
    "Hedy",
    "Katherine",
    "Tim",
    "Sophie",
    "Guido",
];
const LAST: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Hamilton",
    "Torvalds",
    "Thompson",
    "Ritchie",
    "Perlman",
    "Allen",
    "McCarthy",
    "Lamport",
    "Wirth",
    "Lamarr",
    "Johnson",
    "Berners-Lee",
    "Wilson",
    "Rossum",
];
const DOMAINS: &[&str] = &[
    "example.com",
    "example.org",
    "mail.example.net",
    "corp.example.io",
];
const PLANS: &[&str] = &["free", "free", "free", "pro", "team"];
/// A valid bcrypt digest (cost 5), as a legacy system would export it.
const BCRYPT_DIGEST: &str = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";

/// SplitMix64: deterministic, good enough to vary synthetic fields.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn pick<'a>(list: &[&'a str], r: u64) -> &'a str {
    list[(r % list.len() as u64) as usize]
}

/// User `i` of run `run` (the run id keeps identifiers unique across runs against
/// one server).
pub(crate) fn user(run: u32, i: u64) -> Map<String, Value> {
    let r = mix(u64::from(run) << 32 ^ i);
    let first = pick(FIRST, r);
    let last = pick(LAST, r >> 8);
    let domain = pick(DOMAINS, r >> 16);
    let slug = format!(
        "{}.{}",
        first.to_lowercase(),
        last.to_lowercase().replace('-', "")
    );
    let mut body = json!({
        "external_id": format!("bench-{run}-{i:07}"),
        "first_name": first,
        "last_name": last,
        "email_address": [format!("{slug}.{run}.{i}@{domain}")],
        "public_metadata": {"plan": pick(PLANS, r >> 24), "migrated_from": "legacy-db", "legacy_id": i},
        "private_metadata": {"billing_id": format!("cus_{:012x}", r >> 12)},
        // Backdated sign-ups spread over about five years.
        "created_at": rfc3339_from_unix_ms(1_500_000_000_000 + ((r >> 20) % 157_680_000) as i64 * 1000),
    });
    let Value::Object(map) = &mut body else {
        return Map::new();
    };
    if r % 10 < 3 {
        // 15 digits (E.164's maximum): +1 555, the run, the index; unique per run and index.
        map.insert(
            "phone_number".into(),
            json!([format!("+1555{:04}{:07}", run % 10_000, i % 10_000_000)]),
        );
    }
    if (r >> 4) % 10 < 2 {
        map.insert(
            "username".into(),
            json!(format!("{}_{run}_{i}", first.to_lowercase())),
        );
    }
    match (r >> 40) % 10 {
        0..=4 => {
            map.insert(
                "password".into(),
                json!(format!("Tr0ub4dor&{:08x}", r >> 32)),
            );
        }
        5..=7 => {
            map.insert("password_digest".into(), json!(BCRYPT_DIGEST));
            map.insert("password_hasher".into(), json!("bcrypt"));
        }
        _ => {
            map.insert("skip_password_requirement".into(), json!(true));
        }
    }
    std::mem::take(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Record;
    use crate::validate::validate;

    #[test]
    fn synthetic_users_are_valid_and_unique() {
        let records: Vec<Record> = (0..3000)
            .map(|i| Record {
                index: i as usize,
                line: i as usize + 1,
                body: crate::input::Body::from_map(user(42, i)),
            })
            .collect();
        let problems = validate(&records);
        assert!(
            problems.is_empty(),
            "{:?}",
            &problems[..problems.len().min(5)]
        );
        assert_eq!(user(42, 7), user(42, 7));
        assert_ne!(user(42, 7)["external_id"], user(43, 7)["external_id"]);
        let with_phone = records
            .iter()
            .filter(|r| r.body.to_map().contains_key("phone_number"))
            .count();
        assert!((600..1200).contains(&with_phone), "{with_phone}");
    }
}
