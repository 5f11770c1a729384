//! Property tests of response decoding: users, pages (bare arrays and `{data,total_count}`),
//! errors, arbitrary bytes, mutated valid JSON, deep nesting, huge numbers, unknown fields
//! and enum values. Whatever the bytes, decoding returns (no panic, no stack overflow), an
//! error status is an error with that status, and a decoded user is one (`object: "user"`,
//! an id). Bodies reach the decoder already capped by the transport, so the inputs here stay
//! under a few hundred KiB.
//!
//! A fixed number of cases keeps CI bounded (a few seconds); `PROPTEST_CASES=100000` runs
//! more. The cases come from a fixed seed, so every run checks the same ones (a CI run
//! passes or fails by the code, not by the draw); `PROPTEST_RNG_SEED=N` draws others.

use clerk_core::users::{GetOrganizationMemberships, GetUser, ListUsers};
use clerk_core::{Body, Operation};
use proptest::prelude::*;
use serde_json::{Value, json};

const FIXTURE: &str = include_str!("fixtures/user_full.json");

fn response(status: u16, body: Vec<u8>) -> http::Response<Body> {
    http::Response::builder()
        .status(status)
        .body(Body::from(body))
        .unwrap()
}

fn config() -> ProptestConfig {
    // `default()` reads PROPTEST_RNG_SEED; without it the seed is fixed, not random.
    let default = ProptestConfig::default();
    let rng_seed = match default.rng_seed {
        proptest::test_runner::RngSeed::Random => {
            proptest::test_runner::RngSeed::Fixed(0x0dec_0de5)
        }
        chosen => chosen,
    };
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        rng_seed,
        // Shrinking a decode failure rarely takes long, but bound it for CI.
        max_shrink_iters: 2_000,
        ..default
    }
}

/// Decodes `body` under `status` as each response shape; checks the invariants.
fn decode_all(status: u16, body: &[u8]) {
    let user = GetUser::new("user_1").parse_response(response(status, body.to_vec()));
    let page = ListUsers::new().parse_response(response(status, body.to_vec()));
    let members =
        GetOrganizationMemberships::new("user_1").parse_response(response(status, body.to_vec()));
    if !(200..300).contains(&status) {
        for err in [
            user.as_ref().err(),
            page.as_ref().err(),
            members.as_ref().err(),
        ] {
            let err = err.expect("an error status decodes as an error");
            assert_eq!(err.status().map(|s| s.as_u16()), Some(status));
            // The error's text is bounded whatever the body (an excerpt, not the body).
            assert!(
                err.to_string().len() < 4096,
                "{} bytes",
                err.to_string().len()
            );
        }
        return;
    }
    if let Ok(user) = &user {
        assert!(!user.id.is_empty(), "a user without an id decoded");
    }
    if let Ok(users) = &page {
        assert!(users.iter().all(|u| !u.id.is_empty()));
    }
    for err in [user.err(), page.err(), members.err()]
        .into_iter()
        .flatten()
    {
        assert!(err.is_decode() || err.status().is_some(), "{err:?}");
        assert!(err.to_string().len() < 4096);
    }
}

/// Any JSON value, nested up to `depth` levels, with huge numbers and odd strings.
fn json_value(depth: u32) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,24}".prop_map(Value::String),
        prop_oneof![
            Just("user"),
            Just("email_address"),
            Just("total_count"),
            Just("")
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(depth, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{0,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// The fixture user with its fields replaced or added at random (unknown fields, unknown
/// enum values, wrong types, huge numbers).
fn edited_user() -> impl Strategy<Value = Value> {
    let base: Value = serde_json::from_str(FIXTURE).unwrap();
    let keys: Vec<String> = base.as_object().unwrap().keys().cloned().collect();
    let edit = (
        prop_oneof![prop::sample::select(keys), "[a-z_]{1,16}".prop_map(|k| k)],
        json_value(3),
    );
    prop::collection::vec(edit, 0..8).prop_map(move |edits| {
        let mut user = base.clone();
        for (k, v) in edits {
            user[k] = v;
        }
        user
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic(
        status in prop_oneof![Just(200u16), Just(201), Just(400), Just(404), Just(422), Just(429), Just(500), Just(502)],
        body in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        decode_all(status, &body);
    }

    #[test]
    fn arbitrary_json_never_panics(status in prop_oneof![Just(200u16), Just(422), Just(500)], value in json_value(8)) {
        decode_all(status, value.to_string().as_bytes());
        decode_all(status, json!([value.clone()]).to_string().as_bytes());
        decode_all(status, json!({"data": [value.clone()], "total_count": 1}).to_string().as_bytes());
        decode_all(status, json!({"errors": [value], "clerk_trace_id": "t"}).to_string().as_bytes());
    }

    #[test]
    fn mutated_valid_bodies_never_panic(
        mutations in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
        cut in any::<prop::sample::Index>(),
        shape in 0..3usize,
    ) {
        let body = match shape {
            0 => FIXTURE.to_owned(),
            1 => format!("[{FIXTURE},{FIXTURE}]"),
            _ => format!(r#"{{"data":[],"total_count":{}}}"#, u64::MAX),
        };
        let mut bytes = body.into_bytes();
        for (at, byte) in mutations {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        decode_all(200, &bytes);
        bytes.truncate(cut.index(bytes.len() + 1));
        decode_all(200, &bytes);
    }

    #[test]
    fn users_with_unknown_fields_and_values_decode_or_fail_cleanly(user in edited_user()) {
        let body = user.to_string();
        let decoded = GetUser::new("user_1").parse_response(response(200, body.clone().into_bytes()));
        let valid_user = user["object"] == "user" && user["id"].as_str().is_some_and(|id| !id.is_empty());
        match decoded {
            Ok(decoded) => {
                prop_assert!(valid_user, "decoded a non-user: {body}");
                prop_assert_eq!(Some(decoded.id.as_str()), user["id"].as_str());
            }
            Err(err) => prop_assert!(err.is_decode(), "{err:?}"),
        }
        // A page of it decodes the same way.
        let page = ListUsers::new().parse_response(response(200, format!("[{body}]").into_bytes()));
        if let Ok(users) = page {
            prop_assert_eq!(users.len(), 1);
            prop_assert!(valid_user);
        }
    }

    #[test]
    fn nesting_of_any_depth_returns(depth in 0usize..4096, open in prop_oneof![Just("["), Just(r#"{"a":"#)]) {
        // On half a tokio worker's stack (as decode_depth.rs): a recursion the depth bound
        // fails to stop would overflow it.
        let body = open.repeat(depth);
        let handle = std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(move || {
                decode_all(200, body.as_bytes());
                let page = format!(r#"[{{"object":"user","id":"u","public_metadata":{}}}]"#, body);
                decode_all(200, page.as_bytes());
            })
            .unwrap();
        prop_assert!(handle.join().is_ok(), "decoding panicked or overflowed at depth {depth}");
    }

    #[test]
    fn total_counts_of_any_size(n in prop_oneof![any::<u64>().prop_map(|n| n.to_string()), any::<i64>().prop_map(|n| n.to_string()), "[0-9]{19,40}", Just("1e400".to_owned()), Just("-0.0".to_owned())]) {
        let body = format!(r#"{{"data":[],"total_count":{n}}}"#);
        let decoded = GetOrganizationMemberships::new("user_1").parse_response(response(200, body.into_bytes()));
        if let Ok(page) = decoded {
            prop_assert!(page.data.is_empty());
        }
    }
}
