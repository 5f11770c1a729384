//! Seed and state files read as they stream in: every record of a large file arrives, a bad
//! record anywhere stops the start with an error naming it, organizations may come before
//! the users they name, and a state file gives back the users it was written from.

use std::path::Path;

use clerk_emulator::{Config, Emulator, RateLimit};
use serde_json::{Value, json};

use crate::common::Api;
use crate::persistence::temp_path;

const USERS: usize = 4_000;

/// `{"organizations": [..], "users": [..]}` with `n` users, the organizations first (they
/// name the last user, so a loader that applied them where they stand would refuse them).
fn seed_text(n: usize, record: impl Fn(usize) -> String) -> String {
    let mut text = format!(
        r#"{{"organizations": [{{"name": "Last", "created_by": "user_seed{}", "memberships": [{{"user_id": "user_seed0", "role": "org:member"}}]}}], "users": ["#,
        n - 1
    );
    for i in 0..n {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&record(i));
    }
    text.push_str("]}");
    text
}

fn good_user(i: usize) -> String {
    format!(
        r#"{{"id": "user_seed{i}", "external_id": "ext-{i}", "email_address": ["seed{i}@example.com"], "first_name": "Seed", "last_name": "User {i}", "public_metadata": {{"plan": "pro", "n": {i}, "tags": ["a", {{"deep": [null, true]}}]}}, "private_metadata": {{"crm": "c-{i}"}}}}"#
    )
}

async fn start_err(seed: &Path) -> String {
    let err = Emulator::start(Config::new().rate_limit(RateLimit::Off).seed_file(seed))
        .await
        .expect_err("the seed file is refused");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");
    err.to_string()
}

/// Every user, oldest first, as the API renders them (the port in image URLs blanked).
async fn all_users(api: &Api) -> Vec<Value> {
    let mut users = Vec::new();
    loop {
        let page = api
            .get(&format!(
                "/v1/users?order_by=%2Bcreated_at&limit=500&offset={}",
                users.len()
            ))
            .await
            .ok("GetUserList");
        let page = page.as_array().expect("a list").clone();
        if page.is_empty() {
            break;
        }
        for mut u in page {
            for k in ["image_url", "profile_image_url"] {
                u[k] = Value::Null;
            }
            u["organization_memberships"] = Value::Null;
            users.push(u);
        }
    }
    users
}

#[tokio::test]
async fn a_large_seed_file_streams_in_whole_and_its_state_file_gives_the_same_users_back() {
    let dir = temp_path("streamed");
    let seed = dir.join("seed.json");
    let state = dir.join("state.json");
    std::fs::write(&seed, seed_text(USERS, good_user)).unwrap();
    let config = || {
        Config::new()
            .rate_limit(RateLimit::Off)
            .seed_file(&seed)
            .state_file(&state)
    };
    let api = Api::start(config()).await;
    let count = api.get("/v1/users/count").await.ok("GetUsersCount");
    assert_eq!(count["total_count"], USERS);
    for i in [0, USERS / 2, USERS - 1] {
        let u = api
            .get(&format!("/v1/users/user_seed{i}"))
            .await
            .ok("GetUser");
        assert_eq!(u["external_id"], format!("ext-{i}"));
        assert_eq!(u["public_metadata"]["n"], i);
        assert_eq!(u["public_metadata"]["tags"][1]["deep"][1], true);
        assert_eq!(u["private_metadata"]["crm"], format!("c-{i}"));
    }
    let orgs = api
        .get(&format!(
            "/v1/users/user_seed{}/organization_memberships",
            USERS - 1
        ))
        .await
        .ok("UsersGetOrganizationMemberships");
    assert_eq!(
        orgs["data"][0]["role"], "org:admin",
        "the creator is its admin"
    );
    let member = api
        .get("/v1/users/user_seed0/organization_memberships")
        .await
        .ok("UsersGetOrganizationMemberships");
    assert_eq!(member["data"][0]["organization"]["name"], "Last");
    // The identifier index holds every seeded user.
    api.post(
        "/v1/users",
        &json!({"email_address": [format!("seed{}@example.com", USERS - 1)]}),
    )
    .await
    .err(422, "form_identifier_exists");
    let before = all_users(&api).await;
    assert_eq!(before.len(), USERS);
    let Api { emu, .. } = api;
    emu.shutdown().await.unwrap();

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&state).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode, 0o600,
            "the state file is the owner's only, got {mode:o}"
        );
    }
    // The state file wins over the seed file from now on: the seed is gone and unread.
    std::fs::remove_file(&seed).unwrap();
    let api = Api::start(config()).await;
    let after = all_users(&api).await;
    assert_eq!(after.len(), before.len());
    assert!(
        after == before,
        "the state file gives back the users it was written from"
    );
    api.post(
        "/v1/users",
        &json!({"email_address": ["seed0@example.com"]}),
    )
    .await
    .err(422, "form_identifier_exists");
    let found = api
        .get(&format!("/v1/users?external_id=ext-{}", USERS / 2))
        .await
        .ok("GetUserList");
    assert_eq!(found[0]["id"], format!("user_seed{}", USERS / 2));
    let Api { emu, .. } = api;
    emu.shutdown().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_bad_record_in_the_middle_of_a_seed_file_is_named() {
    let dir = temp_path("bad-seed");
    let seed = dir.join("seed.json");
    let n = 700;
    let bad_at = |bad: &'static str| {
        move |i: usize| {
            if i == 600 {
                bad.to_owned()
            } else {
                good_user(i)
            }
        }
    };
    let cases: Vec<(String, Vec<&str>)> =
        vec![
        (
            seed_text(n, bad_at(r#"{"email_address": ["not an email"]}"#)),
            vec!["users[600]", "form_param_format_invalid"],
        ),
        (
            seed_text(n, bad_at(r#"{"email_address": ["SEED3@example.com"]}"#)),
            vec!["users[600]", "form_identifier_exists"],
        ),
        (
            seed_text(n, bad_at(r#"{"id": "user_seed2"}"#)),
            vec!["users[600].id: duplicate user id"],
        ),
        (
            seed_text(n, bad_at(r#"{"first_name": "X", "nope": 1}"#)),
            vec!["users[600]", "nope"],
        ),
        (
            seed_text(n, bad_at(r#"{"first_name": "X" "last_name": "Y"}"#)),
            vec!["users[600]: expected `,` or `}` at line 1 column"],
        ),
        (
            seed_text(n, bad_at(r#"42"#)),
            vec!["users[600]: expected an object"],
        ),
        (
            r#"{"users": [{"first_name": "A"}], "users": []}"#.to_owned(),
            vec![r#"duplicate key "users""#],
        ),
        (
            r#"{"users": "everyone"}"#.to_owned(),
            vec![".users: expected an array"],
        ),
        (
            r#"{"users": [], "groups": []}"#.to_owned(),
            vec![r#"unknown key "groups" (expected users, organizations)"#],
        ),
        (
            r#"{"users": [], "instances": {}}"#.to_owned(),
            vec![r#"unknown top-level key "users""#],
        ),
        (
            r#"{"instances": {"sk_test_other_instance": {"users": []}}, "users": []}"#.to_owned(),
            vec![r#"unknown top-level key "users""#],
        ),
        (
            r#"{"users": [], "organizations": [{"name": "Nobody", "created_by": "user_missing"}]}"#
                .to_owned(),
            vec!["organizations[0]"],
        ),
        (r#"{"users": []} []"#.to_owned(), vec!["trailing characters"]),
    ];
    for (text, wanted) in cases {
        std::fs::write(&seed, &text).unwrap();
        let err = start_err(&seed).await;
        for w in &wanted {
            assert!(err.contains(w), "{err:?} should say {w:?}");
        }
        assert!(
            err.starts_with(&format!("seed file {}: ", seed.display())),
            "{err}"
        );
    }
    // Cut off inside record 600: the message names the record being read.
    let text = seed_text(n, good_user);
    let cut = text.find(r#"{"id": "user_seed600""#).unwrap() + 30;
    std::fs::write(&seed, &text[..cut]).unwrap();
    let err = start_err(&seed).await;
    assert!(err.contains("users[600]: EOF while parsing"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Writes the state file `good` to `state` with its (one) instance edited by `edit`.
fn edit_instance(state: &Path, good: &str, edit: impl FnOnce(&mut Value)) {
    let mut file: Value = serde_json::from_str(good).unwrap();
    let instance = file["instances"]
        .as_object_mut()
        .unwrap()
        .values_mut()
        .next()
        .unwrap();
    edit(instance);
    std::fs::write(state, serde_json::to_string(&file).unwrap()).unwrap();
}

#[tokio::test]
async fn a_bad_user_in_a_state_file_is_named_and_unknown_fields_are_tolerated() {
    let dir = temp_path("bad-state");
    let state = dir.join("state.json");
    let config = || Config::new().rate_limit(RateLimit::Off).state_file(&state);
    let api = Api::start(config()).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let u = api
            .create_user(json!({"email_address": [format!("s{i}@x.io")]}))
            .await;
        ids.push(u["id"].as_str().unwrap().to_owned());
    }
    let Api { emu, .. } = api;
    emu.shutdown().await.unwrap();
    let good = std::fs::read_to_string(&state).unwrap();

    // A field this version does not know, on a user and on the instance: still loads.
    edit_instance(&state, &good, |instance| {
        instance["data"]["users"][&ids[1]]["written_by_a_newer_version"] = json!({"x": 1});
        instance["data"]["future_table"] = json!([]);
    });
    let api = Api::start(config()).await;
    assert_eq!(
        api.get("/v1/users/count").await.ok("GetUsersCount")["total_count"],
        3
    );
    let Api { emu, .. } = api;
    drop(emu);

    // A user whose field has the wrong type: the error names the user.
    edit_instance(&state, &good, |instance| {
        instance["data"]["users"][&ids[1]]["created_at"] = json!("yesterday");
    });
    let err = Emulator::start(config()).await.expect_err("refused");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!(
            "instance data: user {:?}: invalid type: string \"yesterday\"",
            ids[1]
        )),
        "{msg}"
    );
    assert_eq!(msg.matches(" at line ").count(), 1, "one position: {msg}");

    // Cut off in the middle: refused, never a panic, and the file is left as it was.
    std::fs::write(&state, &good[..good.len() / 2]).unwrap();
    let err = Emulator::start(config()).await.expect_err("refused");
    assert!(err.to_string().contains("EOF while parsing"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        good[..good.len() / 2]
    );
    std::fs::write(&state, r#"{"version": 1}"#).unwrap();
    let err = Emulator::start(config()).await.expect_err("refused");
    assert!(err.to_string().ends_with(r#"missing "instances""#), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
