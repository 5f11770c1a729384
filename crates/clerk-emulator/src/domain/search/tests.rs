//! The indexed candidates against the scan of every user: the same page, count and error for
//! every query, through creates, updates that move identifiers, external ids and
//! `created_at`, replaced emails and deletes; and a lookup looks at its candidates only.

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{Value, json};

use super::{Candidates, count, count_with, counted, list, list_with};
use crate::body::{JsonBody, Query};
use crate::domain::{newer, user_actions, users};
use crate::store::InstanceData;

const NOW: i64 = 1_764_581_000_000;

fn body(v: Value) -> JsonBody {
    JsonBody::parse(v.to_string().as_bytes(), None).expect("a JSON object")
}

fn create(data: &mut InstanceData, v: Value) -> String {
    users::create_user(data, &body(v), NOW, None).expect("create")
}

/// One query as `list` and `count` answer it and by the scan of every user: the page (ids
/// in order) and the count, or the same error.
fn assert_same(data: &InstanceData, query: &str) {
    let q = Query::parse(Some(query));
    let error = |e: crate::error::ApiError| (e.code, e.long_message);
    let ids =
        |page: Vec<&crate::model::User>| page.iter().map(|u| u.id.clone()).collect::<Vec<_>>();
    assert_eq!(
        list(&q, data).map(ids).map_err(error),
        list_with(&q, data, Candidates::Scan)
            .map(|(page, _)| ids(page))
            .map_err(error),
        "list {query}"
    );
    assert_eq!(
        count(&q, data).map_err(error),
        count_with(&q, data, Candidates::Scan)
            .map(|(n, _)| n)
            .map_err(error),
        "count {query}"
    );
}

/// How many users a list looks at, and how many it returns.
fn looked_at(data: &InstanceData, query: &str, how: Candidates) -> (usize, usize) {
    let (page, looked) = list_with(&Query::parse(Some(query)), data, how).expect("list");
    (looked, page.len())
}

fn ext(i: u64) -> String {
    format!("crm-{i}")
}

/// An instance whose users share external ids, created_at values (so `seq` breaks ties) and
/// mixed-case identifiers, then changed and partly deleted.
/// Returns the instance, every id created, the deleted ones, and the email of a deleted user
/// that a new user holds.
fn churned_instance(rng: &mut StdRng) -> (InstanceData, Vec<String>, Vec<String>, String) {
    let mut data = InstanceData::default();
    let mut ids = Vec::new();
    for i in 0..240u64 {
        let mut u = json!({
            "first_name": format!("First{}", i % 7),
            "last_name": format!("Last{}", i % 5),
            "email_address": [format!("User.{i}@Example.COM")],
            "created_at": format!("2025-01-0{}T00:00:00Z", 1 + i % 4),
        });
        if i % 5 != 0 {
            u["external_id"] = json!(ext(rng.random_range(0..30)));
        }
        if i % 3 == 0 {
            u["username"] = json!(format!("Name_{i}"));
        }
        if i % 4 == 0 {
            u["phone_number"] = json!([format!("+1415555{i:04}")]);
        }
        if i % 6 == 0 {
            u["web3_wallet"] = json!([format!("0x{i:040X}")]);
            u["email_address"]
                .as_array_mut()
                .expect("emails")
                .push(json!(format!("second.{i}@example.org")));
        }
        if i % 11 == 0 {
            u["banned"] = json!(true);
        }
        ids.push(create(&mut data, u));
    }
    for (n, id) in ids.clone().iter().enumerate() {
        match rng.random_range(0..8) {
            0 => {
                let v = if n % 2 == 0 {
                    json!(ext(rng.random_range(0..30)))
                } else {
                    Value::Null
                };
                users::update_user(&mut data, id, &body(json!({ "external_id": v })), NOW)
                    .expect("external id changed");
            }
            1 => {
                let name = format!("Renamed_{n}");
                users::update_user(&mut data, id, &body(json!({ "username": name })), NOW)
                    .expect("username changed");
            }
            2 => {
                let address = format!("Replaced.{n}@Example.net");
                newer::replace_email(
                    &mut data,
                    id,
                    &body(json!({ "email_address": address })),
                    NOW,
                )
                .expect("email replaced");
            }
            3 => {
                let at = format!("2024-12-{:02}T00:00:00Z", 1 + n % 3);
                users::update_user(&mut data, id, &body(json!({ "created_at": at })), NOW)
                    .expect("created_at changed");
            }
            _ => {}
        }
    }
    let mut deleted = Vec::new();
    let mut freed = None;
    for id in ids.clone() {
        if rng.random_range(0..6) == 0 {
            let u = &data.users[&id];
            freed.get_or_insert_with(|| (u.emails[0].email_address.clone(), u.username.clone()));
            user_actions::delete_user(&mut data, &id).expect("delete");
            deleted.push(id);
        }
    }
    // A deleted user's email and username taken by a new user.
    let (email, username) = freed.expect("a user deleted");
    create(
        &mut data,
        json!({ "email_address": [email.to_uppercase()], "external_id": ext(3), "username": username }),
    );
    (data, ids, deleted, email)
}

#[test]
fn indexed_filters_give_the_pages_and_counts_of_the_scan() {
    let mut rng = StdRng::seed_from_u64(14);
    let (data, ids, deleted, reused_email) = churned_instance(&mut rng);
    assert_eq!(Candidates::for_data(&data), Candidates::Indexed);
    let live = ids
        .iter()
        .find(|id| !deleted.contains(id))
        .expect("a live user");
    let orders = [
        "",
        "&order_by=created_at",
        "&order_by=-created_at",
        "&order_by=%2Bcreated_at",
        "&order_by=email_address",
        "&order_by=-username",
        "&order_by=first_name",
    ];
    let pages = ["", "&limit=3", "&limit=2&offset=1", "&limit=500&offset=4"];
    let mut filters: Vec<String> = vec![
        String::new(),
        "external_id=crm-3".into(),
        "external_id=crm-3&external_id=crm-4&external_id=%2Bcrm-5".into(),
        "external_id=crm-3&external_id=-crm-3".into(),
        "external_id=-crm-3".into(),
        "external_id=CRM-3".into(),
        "external_id=nobody".into(),
        "email_address=USER.5@example.COM".into(),
        "email_address=user.5@example.com&email_address=second.6@EXAMPLE.org".into(),
        "email_address=replaced.2@example.net&email_address=Replaced.3@Example.net".into(),
        "email_address=user.10@example.com&external_id=crm-1".into(),
        "username=NAME_9".into(),
        "username=name_3&username=renamed_1&username=Renamed_2".into(),
        "phone_number=%2B14155550004&phone_number=%2B14155550008".into(),
        "web3_wallet=0x000000000000000000000000000000000000000C".into(),
        "web3_wallet=0x0000000000000000000000000000000000000000&banned=true".into(),
        "external_id=crm-1&banned=false".into(),
        "external_id=crm-2&email_address_query=user.1".into(),
        "external_id=crm-2&query=first3".into(),
        "external_id=crm-2&created_at_after=1735689600000".into(),
        "external_id=crm-2&username=name_3".into(),
        format!("user_id={live}"),
        format!("user_id={live}&user_id=-{live}"),
        format!("user_id=-{live}&external_id=crm-7"),
        format!("user_id={live}&external_id=crm-7"),
        "user_id=user_none&email_address=user.7@example.com".into(),
        "provider=oauth_google".into(),
    ];
    filters.extend(deleted.iter().take(3).map(|id| format!("user_id={id}")));
    filters.push(format!("email_address={reused_email}"));
    filters.push(format!("email_address={reused_email}&external_id=crm-3"));
    filters.extend((0..30).map(|i| format!("external_id={}", ext(i))));
    filters.extend(
        (0..240)
            .step_by(7)
            .map(|i| format!("email_address=user.{i}@example.com")),
    );
    filters.push(
        (0..101)
            .map(|i| format!("external_id={}", ext(i)))
            .collect::<Vec<_>>()
            .join("&"),
    );
    for filter in &filters {
        for order in orders {
            for page in pages {
                assert_same(&data, &format!("{filter}{order}{page}"));
            }
        }
        // Cursor pages: from a live user and from a deleted one (its tombstone).
        for cursor in [live, &deleted[0], &ids[100]] {
            for order in ["", "&order_by=created_at"] {
                assert_same(
                    &data,
                    &format!("{filter}{order}&limit=4&starting_after={cursor}"),
                );
            }
        }
    }
}

#[test]
fn a_count_without_filters_looks_at_no_user_and_stays_exact() {
    let mut rng = StdRng::seed_from_u64(7);
    let (mut data, ids, deleted, _) = churned_instance(&mut rng);
    let scan = |data: &InstanceData, query: &str| {
        count_with(&Query::parse(Some(query)), data, Candidates::Scan)
            .expect("count")
            .0
    };
    let live = scan(&data, "");
    assert!(live >= ids.len() - deleted.len());
    // Parameters that are not filters, and empty text queries, filter nothing.
    for query in [
        "",
        "limit=3&offset=2&order_by=-created_at",
        "query=&name_query=",
    ] {
        assert_eq!(
            counted(&Query::parse(Some(query)), &data).unwrap(),
            (live, 0),
            "{query}"
        );
        assert_eq!(scan(&data, query), live, "{query}");
    }
    // Every filter the spec gives `GET /users/count` narrows it: counted as the scan does.
    let filters = [
        "email_address=user.5@example.com",
        "phone_number=%2B14155550004",
        "external_id=crm-3",
        "external_id=-crm-3",
        "username=name_3",
        "web3_wallet=0x000000000000000000000000000000000000000C",
        &format!("user_id={}", ids[1]),
        &format!("user_id=-{}", ids[1]),
        "organization_id=org_none",
        "query=first3",
        "email_address_query=user.1",
        "phone_number_query=555000",
        "username_query=name_1",
        "name_query=last4",
        "banned=true",
        "banned=false",
        "last_active_at_before=1",
        "last_active_at_after=1",
        "last_active_at_since=1",
        "created_at_before=1735776000000",
        "created_at_after=1735776000000",
        "last_sign_in_at_before=1",
        "last_sign_in_at_after=1",
        "provider=oauth_google&provider_user_id=nobody",
    ];
    for filter in filters {
        let n = scan(&data, filter);
        assert_eq!(
            count(&Query::parse(Some(filter)), &data).unwrap(),
            n,
            "{filter}"
        );
        assert_ne!(n, live, "{filter} should leave some user out");
    }
    // Creates and deletes move it; so does reloading the instance from a state file.
    let new = create(&mut data, json!({"email_address": ["new@example.com"]}));
    assert_eq!(count(&Query::parse(None), &data).unwrap(), live + 1);
    for id in ids.iter().filter(|id| !deleted.contains(id)).take(5) {
        user_actions::delete_user(&mut data, id).expect("delete");
    }
    user_actions::delete_user(&mut data, &new).expect("delete");
    assert_eq!(count(&Query::parse(None), &data).unwrap(), live - 5);
    let mut reloaded: InstanceData =
        serde_json::from_str(&serde_json::to_string(&data).unwrap()).unwrap();
    reloaded.rebuild_indexes();
    assert_eq!(
        counted(&Query::parse(None), &reloaded).unwrap(),
        (live - 5, 0)
    );
    assert_eq!(scan(&reloaded, ""), live - 5);
    // A bad filter is still refused.
    assert!(counted(&Query::parse(Some("banned=maybe")), &data).is_err());
    assert!(counted(&Query::parse(Some("provider=oauth_google")), &data).is_err());
}

#[test]
fn a_lookup_looks_at_its_candidates_only() {
    let mut data = InstanceData::default();
    let mut ids = Vec::new();
    for i in 0..2_000u64 {
        ids.push(create(
            &mut data,
            json!({
                "external_id": ext(i),
                "email_address": [format!("u{i}@example.com")],
                "username": format!("user_{i}"),
                "phone_number": [format!("+1415555{i:04}")],
            }),
        ));
    }
    let values = (1000..1100)
        .map(|i| format!("external_id={}", ext(i)))
        .collect::<Vec<_>>()
        .join("&");
    let lookups = [
        (format!("external_id={}", ext(1234)), 1),
        (format!("{values}&limit=500"), 100),
        ("email_address=U77@Example.com".into(), 1),
        ("username=USER_1999".into(), 1),
        ("phone_number=%2B14155550042".into(), 1),
        (format!("user_id={}&user_id={}", ids[5], ids[6]), 2),
        (
            format!("external_id={}&email_address=u8@example.com", ext(8)),
            1,
        ),
    ];
    for (query, found) in &lookups {
        // The scan looks at every user; the indexes at the users found (a hash collision
        // between two of 2,000 external ids, ~10⁻¹³ likely, would add one).
        assert_eq!(
            looked_at(&data, query, Candidates::Scan),
            (2_000, *found),
            "{query}"
        );
        let (looked, returned) = looked_at(&data, query, Candidates::Indexed);
        assert_eq!(returned, *found, "{query}");
        assert!(looked <= found + 1, "{query}: looked at {looked} users");
    }
    // A filter that names no user walks the created_at index, to one past a full page.
    assert_eq!(
        looked_at(&data, "banned=false&limit=500", Candidates::Indexed),
        (501, 500)
    );
}

#[test]
fn users_sharing_an_identifier_or_a_key_are_all_found() {
    // Only a hand-edited state file holds such users: the indexes keep one owner per
    // value, so the filters scan, as before.
    let mut data = InstanceData::default();
    let a = create(
        &mut data,
        json!({ "email_address": ["shared@example.com"], "external_id": "x" }),
    );
    let b = create(&mut data, json!({ "email_address": ["b@example.com"] }));
    assert!(data.indexes_exact());
    let user_b = data.users.get_mut(&b).expect("b");
    user_b.emails[0].email_address = "shared@example.com".into();
    data.rebuild_indexes();
    assert!(!data.indexes_exact());
    for query in [
        "email_address=shared@example.com",
        "email_address=SHARED@example.com&limit=1&offset=1",
    ] {
        assert_same(&data, query);
    }
    let page = list(
        &Query::parse(Some("email_address=shared@example.com")),
        &data,
    )
    .expect("list");
    let mut found: Vec<&str> = page.iter().map(|u| u.id.as_str()).collect();
    found.sort_unstable();
    let mut both = [a.as_str(), b.as_str()];
    both.sort_unstable();
    assert_eq!(found, both);

    // Two users at one (created_at, seq).
    let mut data = InstanceData::default();
    let a = create(&mut data, json!({ "external_id": "y" }));
    let b = create(&mut data, json!({ "external_id": "y" }));
    let seq_a = data.users[&a].seq;
    data.users.get_mut(&b).expect("b").seq = seq_a;
    data.rebuild_indexes();
    assert!(!data.indexes_exact());
    assert_same(&data, "external_id=y");
}
