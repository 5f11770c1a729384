//! Responses nested as deep as the API accepts decode; deeper ones fail cleanly,
//! and a page with one bad user says which one.

use clerk_core::users::{GetUser, ListUsers};
use clerk_core::{Body, Error, MAX_RESPONSE_DEPTH, Operation, User};

fn ok(body: String) -> http::Response<Body> {
    http::Response::builder()
        .status(200)
        .body(Body::from(body))
        .unwrap()
}

/// `{"k":{"k":…{}…}}`: `levels` nested objects.
fn nested(levels: usize) -> String {
    let mut s = String::with_capacity(levels * 6);
    for _ in 1..levels {
        s.push_str(r#"{"k":"#);
    }
    s.push_str("{}");
    for _ in 1..levels {
        s.push('}');
    }
    s
}

fn user(id: &str, metadata: &str) -> String {
    format!(r#"{{"id":"{id}","object":"user","public_metadata":{metadata}}}"#)
}

#[test]
fn a_page_holding_a_user_nested_as_deep_as_the_api_accepts_decodes() {
    // A create body of depth 127 (the body object, then public_metadata and 125 more).
    let deep = nested(126);
    let page = format!("[{},{}]", user("user_1", "{}"), user("user_2", &deep));
    let users = ListUsers::new()
        .parse_response(ok(page))
        .expect("page decodes");
    assert_eq!(users.len(), 2);
    assert_eq!(users[1].id, "user_2");
    // The single-user endpoints too.
    let one = GetUser::new("user_2")
        .parse_response(ok(user("user_2", &nested(200))))
        .expect("deep user decodes");
    assert_eq!(one.id, "user_2");
}

#[test]
fn nesting_up_to_the_bound_decodes_on_a_small_stack_and_deeper_fails_cleanly() {
    // 1 MiB: half of a tokio worker's stack.
    let handle = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(|| {
            // The page array and the user object are two of the levels.
            let at_bound = format!("[{}]", user("user_1", &nested(MAX_RESPONSE_DEPTH - 2)));
            let decoded = ListUsers::new().parse_response(ok(at_bound));
            assert!(decoded.is_ok(), "{decoded:?}");
            let over = format!("[{}]", user("user_1", &nested(MAX_RESPONSE_DEPTH - 1)));
            let err = ListUsers::new().parse_response(ok(over)).unwrap_err();
            assert!(err.is_decode(), "{err:?}");
            // Absurd depth: an error, not a stack overflow.
            let absurd = "[".repeat(1_000_000);
            let err: Error = GetUser::new("u").parse_response(ok(absurd)).unwrap_err();
            assert!(err.is_decode(), "{err:?}");
        })
        .unwrap();
    handle.join().expect("no stack overflow");
}

#[test]
fn brackets_inside_strings_do_not_count_as_nesting() {
    let tricky = format!(r#"{{"s":"{}\"[[[","n":{}}}"#, "[{".repeat(400), nested(140));
    let users = ListUsers::new()
        .parse_response(ok(format!("[{}]", user("user_1", &tricky))))
        .expect("strings are skipped");
    assert_eq!(users.len(), 1);
}

#[test]
fn one_bad_user_in_a_page_is_named_in_the_error() {
    let page = format!(
        r#"[{},{{"id":"user_2","object":"user","banned":"yes"}},{}]"#,
        user("user_1", "{}"),
        user("user_3", "{}")
    );
    let err = ListUsers::new().parse_response(ok(page)).unwrap_err();
    assert!(err.is_decode());
    let shown = err.to_string();
    assert!(
        shown.contains(r#"item 1 of 3 (id "user_2")"#),
        "the error names the bad user: {shown}"
    );
}

#[test]
fn decoded_users_keep_their_deep_metadata() {
    let page = format!("[{}]", user("user_1", &nested(150)));
    let users: Vec<User> = ListUsers::new().parse_response(ok(page)).unwrap();
    let mut level = &users[0].public_metadata;
    let mut depth = 1;
    while let Some(serde_json::Value::Object(inner)) = level.get("k") {
        level = inner;
        depth += 1;
    }
    assert_eq!(depth, 150);
}
