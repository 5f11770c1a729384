//! Bad input of every kind is a 4xx Clerk error, never a 500, a panic or a plain-text answer.

use bytes::Bytes;
use http::{Method, Request, header};
use http_body_util::Full;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{Api, KEY};

#[tokio::test]
async fn malformed_bodies_wrong_types_and_unknown_fields() {
    let api = Api::unlimited().await;
    let u = api.create_user(json!({"first_name": "T"})).await;
    let id = u["id"].as_str().unwrap().to_owned();
    for raw in [
        "{",
        "{\"first_name\": }",
        "[1,2]",
        "\"str\"",
        "42",
        "{\"a\":1}}",
        "\u{feff}{}",
        "a=b",
    ] {
        api.raw(Method::POST, "/v1/users", "application/json", raw)
            .await
            .err(400, "request_body_invalid");
        api.raw(
            Method::PATCH,
            &format!("/v1/users/{id}"),
            "application/json",
            raw,
        )
        .await
        .err(400, "request_body_invalid");
    }
    for (body, param) in [
        (json!({"email_address": "a@x.io"}), "email_address"),
        (json!({"email_address": [1]}), "email_address"),
        (json!({"banned": "yes"}), "banned"),
        (json!({"created_at": 1_700_000_000_000_i64}), "created_at"),
        (json!({"created_at": "yesterday"}), "created_at"),
        (json!({"public_metadata": [1]}), "public_metadata"),
        (
            json!({"create_organizations_limit": "3"}),
            "create_organizations_limit",
        ),
        (json!({"first_name": {"x": 1}}), "first_name"),
        (json!({"email_address": ["not-an-email"]}), "email_address"),
        (json!({"phone_number": ["555"]}), "phone_number"),
        (json!({"web3_wallet": ["0x12"]}), "web3_wallet"),
    ] {
        let e = api
            .post("/v1/users", &body)
            .await
            .err(422, "form_param_format_invalid");
        assert_eq!(e["meta"]["param_name"], param, "{body}");
    }
    api.post("/v1/users", &json!({"username": "ab"}))
        .await
        .err(422, "form_username_invalid_length");
    api.post("/v1/users", &json!({"username": "bad name!"}))
        .await
        .err(422, "form_username_invalid_character");
    for (path, method) in [
        ("/v1/users".to_owned(), Method::POST),
        (format!("/v1/users/{id}"), Method::PATCH),
        (format!("/v1/users/{id}/metadata"), Method::PATCH),
        (format!("/v1/users/{id}/verify_password"), Method::POST),
        (format!("/v1/users/{id}/verify_totp"), Method::POST),
        (format!("/v1/users/{id}/ban"), Method::POST),
        (format!("/v1/users/{id}/mfa"), Method::DELETE),
        ("/v1/organizations".to_owned(), Method::POST),
    ] {
        let e = api
            .call(method, &path, Some(&json!({"nope": true})))
            .await
            .err(422, "form_param_unknown");
        assert_eq!(e["meta"]["param_name"], "nope", "{path}");
    }
    // The bulk ban body is open in the spec: extra keys are ignored.
    api.post("/v1/users/ban", &json!({"user_ids": [id], "extra": 1}))
        .await
        .ok("UsersBan");
    // Metadata writes through PATCH /users/{id} are gone in 2026-05-12.
    let req = Request::builder()
        .method(Method::PATCH)
        .uri(api.url(&format!("/v1/users/{id}")))
        .header(header::AUTHORIZATION, format!("Bearer {KEY}"))
        .header("Clerk-API-Version", "2026-05-12")
        .body(Full::new(Bytes::from_static(b"{\"public_metadata\":{}}")))
        .unwrap();
    api.send(req).await.unwrap().err(422, "form_param_unknown");
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let api = Api::unlimited().await;
    let big = format!("{{\"first_name\":\"{}\"}}", "a".repeat(2 << 20));
    api.raw(Method::POST, "/v1/users", "application/json", big.clone())
        .await
        .err(413, "request_body_too_large");
    // The same without a Content-Length (chunked) is caught while reading.
    let mut s = TcpStream::connect(api.emu.addr()).await.unwrap();
    let head = format!(
        "POST /v1/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    for chunk in big.as_bytes().chunks(256 * 1024) {
        if s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await
            .is_err()
        {
            break;
        }
        if s.write_all(chunk).await.is_err() || s.write_all(b"\r\n").await.is_err() {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n").await;
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("request_body_too_large"), "{text}");

    let u = api.create_user(json!({})).await;
    let boundary = "b0undary";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\nContent-Type: image/png\r\n\r\n").into_bytes();
    body.extend(std::iter::repeat_n(0u8, 11 << 20));
    body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
    api.raw(
        Method::POST,
        &format!("/v1/users/{}/profile_image", u["id"].as_str().unwrap()),
        &format!("multipart/form-data; boundary={boundary}"),
        body,
    )
    .await
    .err(413, "request_body_too_large");
}

#[tokio::test]
async fn garbage_ids_are_404_and_never_reach_another_endpoint() {
    let api = Api::unlimited().await;
    let u = api.create_user(json!({"first_name": "Victim"})).await;
    let id = u["id"].as_str().unwrap().to_owned();
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    for hostile in [
        format!("{id}/ban"),
        format!("{id}?x=1"),
        format!("../users/{id}"),
        "..".into(),
        "%00".into(),
        "é✓".into(),
        "x".repeat(5000),
        format!("{id}#frag"),
    ] {
        let p = enc(&hostile);
        api.get(&format!("/v1/users/{p}"))
            .await
            .err(404, "resource_not_found");
        api.post(&format!("/v1/users/{p}"), &json!({}))
            .await
            .err(404, "resource_not_found");
        api.delete(&format!("/v1/users/{p}"))
            .await
            .err(404, "resource_not_found");
        api.patch(
            &format!("/v1/users/{p}/metadata"),
            &json!({"public_metadata": {"pwned": true}}),
        )
        .await
        .err(404, "resource_not_found");
        api.delete(&format!("/v1/users/{id}/passkeys/{p}"))
            .await
            .err(404, "resource_not_found");
    }
    // Invalid UTF-8 after decoding, unknown paths and methods.
    api.get("/v1/users/%FF%FE")
        .await
        .err(404, "resource_not_found");
    api.get("/v1/nothing").await.err(404, "resource_not_found");
    api.call(Method::PUT, "/v1/users", None)
        .await
        .err(404, "resource_not_found");
    api.get("/v2/users").await.err(404, "resource_not_found");
    let after = api.get(&format!("/v1/users/{id}")).await.ok("GetUser");
    assert_eq!(after["banned"], false);
    assert_eq!(after["public_metadata"], json!({}));
}

#[tokio::test]
async fn keys_and_api_versions() {
    let api = Api::unlimited().await;
    let with = |auth: Option<&str>, version: Option<&str>, path: &str| {
        let mut b = Request::builder().uri(api.url(path));
        if let Some(a) = auth {
            b = b.header(header::AUTHORIZATION, a);
        }
        if let Some(v) = version {
            b = b.header("Clerk-API-Version", v);
        }
        b.body(Full::new(Bytes::new())).unwrap()
    };
    for auth in [
        None,
        Some("Bearer"),
        Some("Bearer sk_test_wrong_key_value"),
        Some("Basic sk_test_emulator"),
        Some("sk_test_emulator"),
    ] {
        let r = api.send(with(auth, None, "/v1/users")).await.unwrap();
        assert!(
            !String::from_utf8_lossy(&r.raw).contains("sk_test_wrong"),
            "the key is never echoed"
        );
        r.err(401, "authentication_invalid");
    }
    api.send(with(Some("bearer sk_test_emulator"), None, "/v1/users"))
        .await
        .unwrap()
        .ok("GetUserList");
    for v in [
        "2021-02-05",
        "2024-10-01",
        "2025-03-12",
        "2025-04-10",
        "2025-11-10",
        "2026-05-12",
    ] {
        api.send(with(Some("Bearer sk_test_emulator"), Some(v), "/v1/users"))
            .await
            .unwrap()
            .ok("GetUserList");
    }
    for v in ["2025-04-11", "latest", ""] {
        api.send(with(Some("Bearer sk_test_emulator"), Some(v), "/v1/users"))
            .await
            .unwrap()
            .err(400, "api_version_invalid");
    }
    api.send(with(
        Some("Bearer sk_test_emulator"),
        None,
        "/v1/users?__clerk_api_version=2025-04-10",
    ))
    .await
    .unwrap()
    .ok("GetUserList");
    api.send(with(
        Some("Bearer sk_test_emulator"),
        Some("2025-04-10"),
        "/v1/users?__clerk_api_version=2025-04-10",
    ))
    .await
    .unwrap()
    .err(400, "api_version_invalid");
}

#[tokio::test]
async fn no_operation_answers_500_to_hostile_input() {
    let api = Api::unlimited().await;
    let u = api.create_user(json!({"first_name": "F"})).await;
    let id = u["id"].as_str().unwrap().to_owned();
    let paths = [
        "/v1/users",
        "/v1/users/count",
        "/v1/users/ban",
        "/v1/users/unban",
        "/v1/organization_memberships",
        "/v1/organizations",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain(
        [
            "",
            "/ban",
            "/unban",
            "/lock",
            "/unlock",
            "/profile_image",
            "/metadata",
            "/oauth_access_tokens/oauth_google",
            "/organization_memberships",
            "/organization_invitations",
            "/verify_password",
            "/verify_totp",
            "/mfa",
            "/backup_code",
            "/totp",
            "/passkeys/x",
            "/web3_wallets/x",
            "/external_accounts/x",
        ]
        .iter()
        .map(|s| format!("/v1/users/{id}{s}")),
    )
    .chain([
        "/v1/organizations/org_x/memberships".to_owned(),
        "/v1/organizations/org_x/invitations".to_owned(),
    ]);
    let bodies = [
        "",
        "null",
        "{}",
        "[]",
        "{\"user_ids\":null}",
        "{\"user_ids\":[1]}",
        "{\"password\":null}",
        "{\"code\":12}",
        "{\"public_metadata\":\"x\"}",
        "{\"name\":\"\"}",
        "{\"limit\":-1}",
        "\u{0}",
        "{\"email_address\":[\"\u{0}@x.io\"]}",
    ];
    let queries = [
        "",
        "?limit=-5",
        "?offset=-1",
        "?limit=1e9",
        "?order_by=%00",
        "?paginated=maybe",
        "?status=x",
        "?user_id=%FF",
    ];
    for path in paths {
        for method in [Method::GET, Method::POST, Method::PATCH, Method::DELETE] {
            for (i, body) in bodies.iter().enumerate() {
                let q = queries[i % queries.len()];
                let r = api
                    .raw(
                        method.clone(),
                        &format!("{path}{q}"),
                        "application/json",
                        body.to_string(),
                    )
                    .await;
                assert!(
                    (200..500).contains(&r.status),
                    "{method} {path}{q} {body:?}: {} {}",
                    r.status,
                    String::from_utf8_lossy(&r.raw)
                );
                assert_eq!(
                    r.headers["content-type"], "application/json",
                    "{method} {path}"
                );
            }
        }
    }
}

#[tokio::test]
async fn text_over_clerks_bounds_or_with_control_characters_is_refused_naming_the_param() {
    let api = Api::unlimited().await;
    let u = api.create_user(json!({"first_name": "T"})).await;
    let id = u["id"].as_str().unwrap().to_owned();
    let long_name = "é".repeat(257);
    for (body, code, param) in [
        (
            json!({"first_name": long_name}),
            "form_param_max_length_exceeded",
            "first_name",
        ),
        (
            json!({"last_name": "x".repeat(300)}),
            "form_param_max_length_exceeded",
            "last_name",
        ),
        (
            json!({"external_id": "crm\u{0}42"}),
            "form_param_format_invalid",
            "external_id",
        ),
        (
            json!({"external_id": "x".repeat(1025)}),
            "form_param_max_length_exceeded",
            "external_id",
        ),
        (
            json!({"locale": "en\u{1b}[2J"}),
            "form_param_format_invalid",
            "locale",
        ),
        (
            json!({"first_name": "Ada\u{0}"}),
            "form_param_format_invalid",
            "first_name",
        ),
        (
            json!({"username": "ada\u{0}lovelace"}),
            "form_username_invalid_character",
            "username",
        ),
        (
            json!({"email_address": ["ada\u{0}@example.com"]}),
            "form_param_format_invalid",
            "email_address",
        ),
    ] {
        let e = api.post("/v1/users", &body).await.err(422, code);
        assert_eq!(e["meta"]["param_name"], param, "{body}");
        if param != "email_address" {
            let e = api
                .patch(&format!("/v1/users/{id}"), &body)
                .await
                .err(422, code);
            assert_eq!(e["meta"]["param_name"], param, "{body}");
        }
    }
    // At the bounds, and display text with a tab, are accepted.
    api.create_user(json!({"first_name": "é".repeat(256), "last_name": "L\tx", "external_id": "x".repeat(1024)}))
        .await;
}
