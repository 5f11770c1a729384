//! `GET /users` filters, ordering and pagination, `GET /users/count`.

use http::Method;
use serde_json::{Value, json};

use crate::common::{Api, ids};

/// Five users created in order with distinct created_at, plus activity and an org membership.
async fn fixture(api: &Api) -> Vec<String> {
    let bodies = [
        json!({"first_name": "Ada", "last_name": "Lovelace", "email_address": ["ada@math.org"], "username": "ada_l", "external_id": "e1", "created_at": "2020-01-01T00:00:00Z", "phone_number": ["+15555550001"]}),
        json!({"first_name": "Grace", "last_name": "Hopper", "email_address": ["grace@navy.mil"], "username": "amazing_grace", "external_id": "e2", "created_at": "2020-01-02T00:00:00Z", "web3_wallet": ["0x00000000000000000000000000000000000000c1"]}),
        json!({"first_name": "Alan", "last_name": "Turing", "email_address": ["alan@bletchley.uk"], "external_id": "e3", "created_at": "2020-01-03T00:00:00Z", "phone_number": ["+445555550003"]}),
        json!({"first_name": "Edsger", "last_name": "Dijkstra", "username": "ewd_d", "created_at": "2020-01-04T00:00:00Z"}),
        json!({"last_name": "Nameless", "email_address": ["anon@x.io"], "created_at": "2020-01-05T00:00:00Z"}),
    ];
    let mut out = Vec::new();
    for b in bodies {
        out.push(api.create_user(b).await["id"].as_str().unwrap().to_owned());
    }
    for (i, (sign_in, active)) in [
        (Some(1000), Some(5000)),
        (Some(3000), None),
        (None, Some(2000)),
    ]
    .into_iter()
    .enumerate()
    {
        let r = api
            .control(
                Method::PATCH,
                &format!("users/{}/activity", out[i]),
                &json!({"last_sign_in_at": sign_in, "last_active_at": active}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    api.post(&format!("/v1/users/{}/ban", out[3]), &json!({}))
        .await
        .ok("BanUser");
    let org = api
        .post(
            "/v1/organizations",
            &json!({"name": "Org", "created_by": out[1]}),
        )
        .await
        .ok("CreateOrganization");
    api.post(
        &format!(
            "/v1/organizations/{}/memberships",
            org["id"].as_str().unwrap()
        ),
        &json!({"user_id": out[2], "role": "org:member"}),
    )
    .await
    .ok("CreateOrganizationMembership");
    out.push(org["id"].as_str().unwrap().to_owned());
    out
}

async fn list(api: &Api, query: &str) -> Vec<String> {
    ids(&api
        .get(&format!("/v1/users?{query}"))
        .await
        .ok("GetUserList"))
}

async fn count(api: &Api, query: &str) -> Value {
    api.get(&format!("/v1/users/count?{query}"))
        .await
        .ok("GetUsersCount")["total_count"]
        .clone()
}

#[tokio::test]
async fn filters_match_and_count_agrees() {
    let api = Api::unlimited().await;
    let u = fixture(&api).await;
    let org = u[5].clone();
    let s = |v: &[usize]| v.iter().map(|i| u[*i].clone()).collect::<Vec<_>>();
    let cases: Vec<(String, Vec<usize>)> = vec![
        ("".into(), vec![4, 3, 2, 1, 0]),
        (
            "email_address=ADA%40math.org&email_address=anon%40x.io".into(),
            vec![4, 0],
        ),
        ("phone_number=%2B445555550003".into(), vec![2]),
        ("username=ewd_d&username=ada_l".into(), vec![3, 0]),
        (
            "web3_wallet=0x00000000000000000000000000000000000000C1".into(),
            vec![1],
        ),
        ("external_id=e1&external_id=%2Be3".into(), vec![2, 0]),
        ("external_id=-e1".into(), vec![4, 3, 2, 1]),
        (format!("user_id={}&user_id={}", u[0], u[4]), vec![4, 0]),
        (format!("user_id=-{}", u[0]), vec![4, 3, 2, 1]),
        (format!("organization_id={org}"), vec![2, 1]),
        (format!("organization_id=-{org}"), vec![4, 3, 0]),
        ("query=ALAN".into(), vec![2]),
        ("query=math".into(), vec![0]),
        (format!("query={}", &u[3][5..15]), vec![3]),
        ("email_address_query=NAVY".into(), vec![1]),
        ("phone_number_query=555555000".into(), vec![2, 0]),
        ("username_query=GRACE".into(), vec![1]),
        ("name_query=ada%20love".into(), vec![0]),
        ("name_query=er".into(), vec![3, 1]),
        ("banned=true".into(), vec![3]),
        ("banned=false".into(), vec![4, 2, 1, 0]),
        ("created_at_after=1577923200000".into(), vec![4, 3, 2]),
        ("created_at_before=1577923200000".into(), vec![0]),
        ("last_sign_in_at_after=1000".into(), vec![1]),
        ("last_sign_in_at_before=2000".into(), vec![0]),
        ("last_active_at_after=1000".into(), vec![2, 0]),
        ("last_active_at_before=3000".into(), vec![2]),
        ("last_active_at_since=5000".into(), vec![0]),
        ("query=nomatch".into(), vec![]),
        ("email_address=ada%40math.org&username=ewd".into(), vec![]),
    ];
    for (q, want) in cases {
        assert_eq!(list(&api, &q).await, s(&want), "{q}");
        assert_eq!(count(&api, &q).await, json!(want.len()), "count {q}");
    }
}

#[tokio::test]
async fn provider_filter_needs_both_params() {
    let api = Api::unlimited().await;
    let u = api.create_user(json!({"first_name": "G"})).await;
    let id = u["id"].as_str().unwrap();
    api.control(
        Method::POST,
        &format!("users/{id}/external_accounts"),
        &json!({"provider": "oauth_google", "provider_user_id": "12345"}),
    )
    .await;
    api.create_user(json!({"first_name": "H"})).await;
    assert_eq!(
        list(&api, "provider=oauth_google&provider_user_id=12345").await,
        vec![id.to_owned()]
    );
    assert_eq!(
        list(&api, "provider=oauth_github&provider_user_id=12345").await,
        Vec::<String>::new()
    );
    api.get("/v1/users?provider=oauth_google")
        .await
        .err(422, "form_param_value_invalid");
    api.get("/v1/users/count?provider_user_id=1")
        .await
        .err(422, "form_param_value_invalid");
}

#[tokio::test]
async fn ordering_over_every_field() {
    let api = Api::unlimited().await;
    let u = fixture(&api).await;
    let s = |v: &[usize]| v.iter().map(|i| u[*i].clone()).collect::<Vec<_>>();
    // Missing values sort last ascending and first descending.
    let cases: Vec<(&str, Vec<usize>)> = vec![
        ("order_by=created_at", vec![0, 1, 2, 3, 4]),
        ("order_by=%2Bcreated_at", vec![0, 1, 2, 3, 4]),
        ("order_by=-created_at", vec![4, 3, 2, 1, 0]),
        (
            "order_by=-created_at&order_by=%2Bcreated_at",
            vec![4, 3, 2, 1, 0],
        ),
        ("order_by=first_name", vec![0, 2, 3, 1, 4]),
        ("order_by=-first_name", vec![4, 1, 3, 2, 0]),
        ("order_by=last_name", vec![3, 1, 0, 4, 2]),
        ("order_by=email_address", vec![0, 2, 4, 1, 3]),
        ("order_by=phone_number", vec![0, 2, 1, 3, 4]),
        ("order_by=username", vec![0, 1, 3, 2, 4]),
        ("order_by=web3wallet", vec![1, 0, 2, 3, 4]),
        ("order_by=last_sign_in_at", vec![0, 1, 2, 3, 4]),
        ("order_by=-last_active_at", vec![4, 3, 1, 0, 2]),
    ];
    for (q, want) in cases {
        assert_eq!(list(&api, q).await, s(&want), "{q}");
    }
    let by_update = list(&api, "order_by=updated_at").await;
    assert_eq!(by_update.len(), 5);
    for bad in [
        "order_by=nope",
        "order_by=web3_wallet",
        "order_by=%20created_at",
        "order_by=+created_at",
    ] {
        api.get(&format!("/v1/users?{bad}"))
            .await
            .err(422, "form_param_value_invalid");
    }
}

#[tokio::test]
async fn pagination_limit_offset_and_cursor() {
    let api = Api::unlimited().await;
    let mut all = Vec::new();
    for i in 0..23 {
        all.push(
            api.create_user(json!({"external_id": format!("p{i}")}))
                .await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    all.reverse(); // newest first, the default order
    assert_eq!(list(&api, "").await, all[..10]);
    assert_eq!(list(&api, "limit=5&offset=20").await, all[20..]);
    assert_eq!(list(&api, "limit=500").await, all);
    assert_eq!(list(&api, "offset=23").await, Vec::<String>::new());
    assert_eq!(list(&api, "offset=1000").await, Vec::<String>::new());
    // Cursor paging walks everything without gaps or repeats, even when the cursor's user is
    // deleted between pages.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            None => "limit=7".to_owned(),
            Some(c) => format!("limit=7&starting_after={c}"),
        };
        let page = list(&api, &q).await;
        seen.extend(page.iter().cloned());
        if page.len() < 7 {
            break;
        }
        let last = page.last().unwrap().clone();
        if seen.len() == 7 {
            api.delete(&format!("/v1/users/{last}"))
                .await
                .ok("DeleteUser");
        }
        cursor = Some(last);
    }
    assert_eq!(seen, all);
    let asc = list(
        &api,
        &format!("order_by=%2Bcreated_at&limit=3&starting_after={}", all[22]),
    )
    .await;
    assert_eq!(asc, vec![all[21].clone(), all[20].clone(), all[19].clone()]);
    // Cursor rules.
    api.get(&format!(
        "/v1/users?starting_after={}&order_by=first_name",
        all[0]
    ))
    .await
    .err(422, "form_param_value_invalid");
    api.get(&format!("/v1/users?starting_after={}&offset=2", all[0]))
        .await
        .err(422, "form_param_value_invalid");
    api.get("/v1/users?starting_after=user_unknown")
        .await
        .err(422, "form_param_value_invalid");
    for bad in [
        "limit=0",
        "limit=501",
        "limit=99999999999999999999",
        "offset=-1",
        "limit=ten",
        "banned=yes",
        "created_at_after=soon",
    ] {
        let r = api.get(&format!("/v1/users?{bad}")).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.body);
    }
}

#[tokio::test]
async fn created_at_pages_follow_updates_deletes_and_filters() {
    let api = Api::unlimited().await;
    let mut ids_in_order = Vec::new();
    for (i, day) in ["01", "02", "03", "04", "05", "06"].into_iter().enumerate() {
        let body = json!({
            "external_id": format!("c{i}"),
            "first_name": if i % 2 == 0 { "Even" } else { "Odd" },
            "created_at": format!("2021-01-{day}T00:00:00Z"),
        });
        ids_in_order.push(
            api.create_user(body).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    // Moving the oldest user to the newest place reorders every created_at page.
    api.patch(
        &format!("/v1/users/{}", ids_in_order[0]),
        &json!({"created_at": "2021-02-01T00:00:00Z"}),
    )
    .await
    .ok("UpdateUser");
    let moved = ids_in_order.remove(0);
    ids_in_order.push(moved);
    assert_eq!(
        list(&api, "order_by=%2Bcreated_at&limit=10").await,
        ids_in_order
    );
    let newest_first: Vec<String> = ids_in_order.iter().rev().cloned().collect();
    assert_eq!(list(&api, "limit=10").await, newest_first);
    // A cursor from the middle, in both directions.
    assert_eq!(
        list(
            &api,
            &format!(
                "order_by=%2Bcreated_at&limit=2&starting_after={}",
                ids_in_order[1]
            )
        )
        .await,
        ids_in_order[2..4]
    );
    assert_eq!(
        list(&api, &format!("limit=2&starting_after={}", ids_in_order[4])).await,
        vec![ids_in_order[3].clone(), ids_in_order[2].clone()]
    );
    // Filters combine with the cursor and the limit: the page holds `limit` matches
    // (ids_in_order is users 1, 2, 3, 4, 5, 0; the odd ones are named "Odd").
    let page = list(
        &api,
        &format!(
            "order_by=%2Bcreated_at&limit=2&name_query=odd&starting_after={}",
            ids_in_order[0]
        ),
    )
    .await;
    assert_eq!(page, vec![ids_in_order[2].clone(), ids_in_order[4].clone()]);
    // Offset counts matches, not users.
    assert_eq!(
        list(
            &api,
            "order_by=%2Bcreated_at&name_query=even&offset=1&limit=5"
        )
        .await
        .len(),
        2
    );
    // A deleted user leaves the order, and its id still works as a cursor.
    api.delete(&format!("/v1/users/{}", ids_in_order[2]))
        .await
        .ok("DeleteUser");
    assert_eq!(
        list(
            &api,
            &format!(
                "order_by=%2Bcreated_at&limit=10&starting_after={}",
                ids_in_order[2]
            )
        )
        .await,
        ids_in_order[3..]
    );
    assert_eq!(count(&api, "").await, json!(5));
}
