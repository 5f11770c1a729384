//! Create, get, update, delete, ban, lock, profile image, metadata and the sub-resource deletes.

use http::Method;
use serde_json::json;

use crate::common::{Api, ids};

#[tokio::test]
async fn create_get_update_delete_roundtrip() {
    let api = Api::unlimited().await;
    let u = api
        .create_user(json!({
            "external_id": "ext-1",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email_address": ["Ada@Example.com", "ada2@example.com"],
            "phone_number": ["+15555550100"],
            "web3_wallet": ["0x52908400098527886E0F7030069857D2E4169EE7"],
            "username": "Ada_L",
            "password": "correct horse battery",
            "public_metadata": {"plan": "pro"},
            "private_metadata": {"crm": 7},
            "unsafe_metadata": {"theme": "dark"},
            "created_at": "2012-10-20T07:15:20.902Z",
            "legal_accepted_at": "2020-01-01T00:00:00Z",
            "locale": "en-GB"
        }))
        .await;
    let id = u["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("user_") && id.len() == 32, "{id}");
    assert_eq!(u["object"], "user");
    assert_eq!(u["created_at"], 1_350_717_320_902_i64);
    assert_eq!(u["legal_accepted_at"], 1_577_836_800_000_i64);
    assert_eq!(u["email_addresses"][0]["email_address"], "ada@example.com");
    assert_eq!(u["primary_email_address_id"], u["email_addresses"][0]["id"]);
    assert!(
        u["email_addresses"][0]["id"]
            .as_str()
            .unwrap()
            .starts_with("idn_")
    );
    assert_eq!(
        u["email_addresses"][0]["verification"]["status"],
        "verified"
    );
    assert_eq!(u["primary_phone_number_id"], u["phone_numbers"][0]["id"]);
    assert_eq!(u["primary_web3_wallet_id"], u["web3_wallets"][0]["id"]);
    assert_eq!(u["username"], "ada_l");
    assert_eq!(u["password_enabled"], true);
    assert!(u["password_last_updated_at"].is_i64());
    assert_eq!(u["public_metadata"], json!({"plan": "pro"}));
    assert_eq!(u["has_image"], false);

    let got = api.get(&format!("/v1/users/{id}")).await.ok("GetUser");
    assert_eq!(got, u);

    // Update replaces metadata, switches primaries and removes the username.
    let second_email = u["email_addresses"][1]["id"].clone();
    let up = api
        .patch(
            &format!("/v1/users/{id}"),
            &json!({
                "first_name": "Augusta",
                "last_name": null,
                "primary_email_address_id": second_email,
                "public_metadata": {"new": true},
                "username": null,
                "external_id": "ext-2",
                "delete_self_enabled": false
            }),
        )
        .await
        .ok("UpdateUser");
    assert_eq!(up["first_name"], "Augusta");
    assert_eq!(up["last_name"], json!(null));
    assert_eq!(up["primary_email_address_id"], second_email);
    assert_eq!(up["public_metadata"], json!({"new": true}));
    assert_eq!(up["private_metadata"], json!({"crm": 7}));
    assert_eq!(up["username"], json!(null));
    assert_eq!(up["delete_self_enabled"], false);
    assert!(up["updated_at"].as_i64() >= u["updated_at"].as_i64());

    // The removed username is free again.
    api.create_user(json!({"username": "ada_l"})).await;

    let del = api
        .delete(&format!("/v1/users/{id}"))
        .await
        .ok("DeleteUser");
    assert_eq!(
        del,
        json!({"object": "user", "id": id, "deleted": true, "external_id": "ext-2"})
    );
    api.get(&format!("/v1/users/{id}"))
        .await
        .err(404, "resource_not_found");
    api.delete(&format!("/v1/users/{id}"))
        .await
        .err(404, "resource_not_found");
    // Its identifiers are free again.
    api.create_user(json!({"email_address": ["ada@example.com"]}))
        .await;
}

#[tokio::test]
async fn identifiers_are_unique_per_instance_but_external_id_is_not() {
    let api = Api::unlimited().await;
    api.create_user(json!({
        "email_address": ["a@x.io"], "phone_number": ["+15555550101"], "username": "alice",
        "web3_wallet": ["0x0000000000000000000000000000000000000001"], "external_id": "same"
    }))
    .await;
    for (body, param) in [
        (json!({"email_address": ["A@X.IO"]}), "email_address"),
        (json!({"phone_number": ["+15555550101"]}), "phone_number"),
        (json!({"username": "ALICE"}), "username"),
        (
            json!({"web3_wallet": ["0x0000000000000000000000000000000000000001"]}),
            "web3_wallet",
        ),
        (
            json!({"email_address": ["b@x.io", "b@x.io"]}),
            "email_address",
        ),
    ] {
        let e = api
            .post("/v1/users", &body)
            .await
            .err(422, "form_identifier_exists");
        assert_eq!(e["meta"]["param_name"], param);
    }
    api.create_user(json!({"external_id": "same"})).await;
    let other = api.create_user(json!({"username": "bob_b"})).await;
    // Taking a username on update checks uniqueness too.
    api.patch(
        &format!("/v1/users/{}", other["id"].as_str().unwrap()),
        &json!({"username": "alice"}),
    )
    .await
    .err(422, "form_identifier_exists");
    // Another instance has its own data.
    let two = Api::start(
        clerk_emulator::Config::new()
            .secret_key("sk_test_one")
            .secret_key("sk_live_two"),
    )
    .await;
    let mut two = two;
    two.key = "sk_test_one".into();
    two.create_user(json!({"email_address": ["a@x.io"]})).await;
    two.key = "sk_live_two".into();
    two.create_user(json!({"email_address": ["a@x.io"]})).await;
    two.post("/v1/users", &json!({"email_address": ["a@x.io"]}))
        .await
        .err(422, "form_identifier_exists");
    two.key = "sk_test_emulator".into();
    two.get("/v1/users")
        .await
        .err(401, "authentication_invalid");
}

#[tokio::test]
async fn identification_status_reserved_and_primaries() {
    let api = Api::unlimited().await;
    let u = api
        .create_user(json!({
            "email_address": ["r@x.io", "v@x.io"],
            "email_address_identification_status": ["reserved", "verified"],
            "phone_number": ["+15555550102"],
            "phone_number_identification_status": ["verified"]
        }))
        .await;
    assert_eq!(u["email_addresses"][0]["reserved"], true);
    assert_eq!(
        u["email_addresses"][0]["verification"]["status"],
        "unverified"
    );
    assert_eq!(u["primary_email_address_id"], u["email_addresses"][1]["id"]);
    let id = u["id"].as_str().unwrap();
    // A reserved (unverified) address cannot become primary, nor can someone else's.
    let reserved = u["email_addresses"][0]["id"].clone();
    api.patch(
        &format!("/v1/users/{id}"),
        &json!({"primary_email_address_id": reserved}),
    )
    .await
    .err(422, "form_param_value_invalid");
    let other = api.create_user(json!({"email_address": ["o@x.io"]})).await;
    api.patch(
        &format!("/v1/users/{id}"),
        &json!({"primary_email_address_id": other["primary_email_address_id"]}),
    )
    .await
    .err(422, "form_param_value_invalid");
    api.post(
        "/v1/users",
        &json!({"email_address": ["z@x.io"], "email_address_identification_status": []}),
    )
    .await
    .err(422, "form_param_value_invalid");
    // The only identifier cannot be removed.
    let solo = api.create_user(json!({"username": "solo_user"})).await;
    api.patch(
        &format!("/v1/users/{}", solo["id"].as_str().unwrap()),
        &json!({"username": ""}),
    )
    .await
    .err(422, "form_param_nil");
}

#[tokio::test]
async fn ban_unban_bulk_lock_unlock() {
    let api = Api::unlimited().await;
    let a = api.create_user(json!({"first_name": "A"})).await;
    let b = api.create_user(json!({"first_name": "B"})).await;
    let (ia, ib) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let banned = api
        .post(&format!("/v1/users/{ia}/ban"), &json!(null))
        .await
        .ok("BanUser");
    assert_eq!(banned["banned"], true);
    // Bodyless POSTs accept no body, {} and null.
    let un = api
        .call(Method::POST, &format!("/v1/users/{ia}/unban"), None)
        .await
        .ok("UnbanUser");
    assert_eq!(un["banned"], false);
    api.post(&format!("/v1/users/{ia}/ban"), &json!({"x": 1}))
        .await
        .err(422, "form_param_unknown");

    let list = api
        .post(
            "/v1/users/ban",
            &json!({"user_ids": [ia, ib, "user_missing", ia]}),
        )
        .await
        .ok("UsersBan");
    assert_eq!(ids(&list), vec![ia.to_owned(), ib.to_owned()]);
    assert!(list.as_array().unwrap().iter().all(|u| u["banned"] == true));
    let list = api
        .post("/v1/users/unban", &json!({"user_ids": [ib]}))
        .await
        .ok("UsersUnban");
    assert_eq!(list[0]["banned"], false);
    api.post("/v1/users/ban", &json!({"user_ids": []}))
        .await
        .err(422, "form_param_value_invalid");
    let many: Vec<String> = (0..51).map(|i| format!("user_{i}")).collect();
    api.post("/v1/users/ban", &json!({"user_ids": many}))
        .await
        .err(422, "form_param_value_invalid");
    api.post("/v1/users/ban", &json!({}))
        .await
        .err(422, "form_param_missing");

    let locked = api
        .post(&format!("/v1/users/{ia}/lock"), &json!({}))
        .await
        .ok("LockUser");
    assert_eq!(locked["locked"], true);
    let secs = locked["lockout_expires_in_seconds"].as_i64().unwrap();
    assert!((3590..=3600).contains(&secs), "{secs}");
    let unlocked = api
        .post(&format!("/v1/users/{ia}/unlock"), &json!({}))
        .await
        .ok("UnlockUser");
    assert_eq!(unlocked["locked"], false);
    assert_eq!(unlocked["lockout_expires_in_seconds"], json!(null));
    api.post("/v1/users/user_nope/lock", &json!({}))
        .await
        .err(404, "resource_not_found");
    let created_locked = api
        .create_user(json!({"locked": true, "banned": true}))
        .await;
    assert_eq!(created_locked["locked"], true);
    assert_eq!(created_locked["banned"], true);
}

#[tokio::test]
async fn metadata_deep_merge_deletes_nulls_at_any_depth() {
    let api = Api::unlimited().await;
    let u = api
        .create_user(json!({
            "public_metadata": {"a": {"b": 1, "c": {"d": 2, "e": 3}}, "list": [1, 2], "gone": true},
            "private_metadata": {"keep": 1}
        }))
        .await;
    let path = format!("/v1/users/{}/metadata", u["id"].as_str().unwrap());
    let m = api
        .patch(
            &path,
            &json!({
                "public_metadata": {"a": {"c": {"d": null, "f": 4}}, "list": [3], "gone": null},
                "unsafe_metadata": {"n": {"x": null, "y": "z"}}
            }),
        )
        .await
        .ok("UpdateUserMetadata");
    assert_eq!(
        m["public_metadata"],
        json!({"a": {"b": 1, "c": {"e": 3, "f": 4}}, "list": [3]})
    );
    assert_eq!(m["private_metadata"], json!({"keep": 1}));
    assert_eq!(m["unsafe_metadata"], json!({"n": {"y": "z"}}));
    // The body is optional.
    let same = api
        .call(Method::PATCH, &path, None)
        .await
        .ok("UpdateUserMetadata");
    assert_eq!(same["public_metadata"], m["public_metadata"]);
    api.patch(&path, &json!({"public_metadata": [1]}))
        .await
        .err(422, "form_param_format_invalid");
    api.patch(&path, &json!({"other": {}}))
        .await
        .err(422, "form_param_unknown");
    api.patch("/v1/users/user_nope/metadata", &json!({}))
        .await
        .err(404, "resource_not_found");
}

#[tokio::test]
async fn profile_image_multipart_upload_is_served_back_and_deleted() {
    let api = Api::unlimited().await;
    let u = api.create_user(json!({"first_name": "Pic"})).await;
    let id = u["id"].as_str().unwrap();
    let png: &[u8] = b"\x89PNG\r\n\x1a\n fake image bytes \x00\xff";
    let boundary = "XyZzY-boundary";
    let mut body = Vec::new();
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes());
    body.extend_from_slice(png);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let up = api
        .raw(
            Method::POST,
            &format!("/v1/users/{id}/profile_image"),
            &format!("multipart/form-data; boundary={boundary}"),
            body,
        )
        .await
        .ok("SetUserProfileImage");
    assert_eq!(up["has_image"], true);
    let url = up["image_url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&format!("http://{}/_emulator/images/img_", api.emu.addr())),
        "{url}"
    );
    let path = url
        .split_once(&api.emu.addr().to_string())
        .unwrap()
        .1
        .to_owned();
    let img = api.get(&path).await;
    assert_eq!(img.status, 200);
    assert_eq!(img.raw.as_ref(), png);
    assert_eq!(img.headers["content-type"], "image/png");

    // A multipart body without a `file` part, and a non-multipart body, are 400s.
    let empty = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--{boundary}--\r\n"
    );
    api.raw(
        Method::POST,
        &format!("/v1/users/{id}/profile_image"),
        &format!("multipart/form-data; boundary={boundary}"),
        empty,
    )
    .await
    .err(400, "form_param_missing");
    api.raw(
        Method::POST,
        &format!("/v1/users/{id}/profile_image"),
        "application/json",
        "{}",
    )
    .await
    .err(400, "form_param_format_invalid");

    let del = api
        .delete(&format!("/v1/users/{id}/profile_image"))
        .await
        .ok("DeleteUserProfileImage");
    assert_eq!(del["has_image"], false);
    assert_eq!(api.get(&path).await.status, 404);
}

#[tokio::test]
async fn sub_resources_are_deleted_as_deleted_objects() {
    let api = Api::unlimited().await;
    let u = api
        .create_user(json!({"web3_wallet": ["0x00000000000000000000000000000000000000aa", "0x00000000000000000000000000000000000000bb"]}))
        .await;
    let id = u["id"].as_str().unwrap();
    let eac = api
        .control(
            Method::POST,
            &format!("users/{id}/external_accounts"),
            &json!({"provider": "google", "email_address": "g@x.io"}),
        )
        .await
        .body;
    let eac_id = eac["id"].as_str().unwrap().to_owned();
    assert!(eac_id.starts_with("eac_"), "{eac}");
    let pk = api
        .control(
            Method::POST,
            &format!("users/{id}/passkeys"),
            &json!({"name": "YubiKey"}),
        )
        .await
        .body;
    let pk_id = pk["id"].as_str().unwrap().to_owned();
    let full = api.get(&format!("/v1/users/{id}")).await.ok("GetUser");
    assert_eq!(full["external_accounts"][0]["provider"], "oauth_google");
    assert_eq!(full["passkeys"][0]["name"], "YubiKey");

    let d = api
        .delete(&format!("/v1/users/{id}/passkeys/{pk_id}"))
        .await
        .ok("UserPasskeyDelete");
    assert_eq!(
        d,
        json!({"object": "passkey", "id": pk_id, "deleted": true})
    );
    api.delete(&format!("/v1/users/{id}/passkeys/{pk_id}"))
        .await
        .err(404, "resource_not_found");

    let primary = u["primary_web3_wallet_id"].as_str().unwrap().to_owned();
    let d = api
        .delete(&format!("/v1/users/{id}/web3_wallets/{primary}"))
        .await
        .ok("UserWeb3WalletDelete");
    assert_eq!(d["deleted"], true);
    let after = api.get(&format!("/v1/users/{id}")).await.ok("GetUser");
    assert_eq!(
        after["primary_web3_wallet_id"],
        after["web3_wallets"][0]["id"]
    );
    assert_eq!(after["web3_wallets"].as_array().unwrap().len(), 1);

    // The identification id is not the external account id.
    let idn = full["external_accounts"][0]["identification_id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.delete(&format!("/v1/users/{id}/external_accounts/{idn}"))
        .await
        .err(404, "resource_not_found");
    let d = api
        .delete(&format!("/v1/users/{id}/external_accounts/{eac_id}"))
        .await
        .ok("DeleteExternalAccount");
    assert_eq!(d["object"], "external_account");
    api.delete(&format!("/v1/users/user_nope/passkeys/{pk_id}"))
        .await
        .err(404, "resource_not_found");
}

#[tokio::test]
async fn oauth_access_tokens_bare_or_paginated() {
    let api = Api::unlimited().await;
    let u = api.create_user(json!({"email_address": ["o@x.io"]})).await;
    let id = u["id"].as_str().unwrap();
    for (token, scopes) in [
        ("ya29.one", json!(["email"])),
        ("ya29.two", json!(["email", "profile"])),
    ] {
        let r = api
            .control(Method::POST, &format!("users/{id}/external_accounts"), &json!({"provider": "oauth_google", "token": token, "scopes": scopes, "expires_at": 1_900_000_000_000_i64}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    api.control(
        Method::POST,
        &format!("users/{id}/external_accounts"),
        &json!({"provider": "github", "token": "gho_x"}),
    )
    .await;
    let bare = api
        .get(&format!("/v1/users/{id}/oauth_access_tokens/oauth_google"))
        .await
        .ok("GetOAuthAccessToken");
    let tokens: Vec<&str> = bare
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["token"].as_str().unwrap())
        .collect();
    assert_eq!(tokens, ["ya29.one", "ya29.two"]);
    assert_eq!(bare[0]["object"], "oauth_access_token");
    assert_eq!(bare[1]["scopes"], json!(["email", "profile"]));
    assert_eq!(bare[0]["expires_at"], 1_900_000_000_000_i64);
    let page = api
        .get(&format!(
            "/v1/users/{id}/oauth_access_tokens/oauth_google?paginated=true&limit=1&offset=1"
        ))
        .await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body["total_count"], 2);
    assert_eq!(page.body["data"][0]["token"], "ya29.two");
    let none = api
        .get(&format!(
            "/v1/users/{id}/oauth_access_tokens/oauth_facebook"
        ))
        .await
        .ok("GetOAuthAccessToken");
    assert_eq!(none, json!([]));
    api.get("/v1/users/user_nope/oauth_access_tokens/oauth_google")
        .await
        .err(404, "resource_not_found");
}

#[tokio::test]
async fn users_carry_every_property_of_the_spec_schemas() {
    let api = Api::unlimited().await;
    let u = api
        .create_user(json!({
            "email_address": ["p@x.io"], "phone_number": ["+15555550199"],
            "web3_wallet": ["0x00000000000000000000000000000000000000dd"]
        }))
        .await;
    let id = u["id"].as_str().unwrap();
    api.control(Method::POST, &format!("users/{id}/passkeys"), &json!({}))
        .await;
    api.control(
        Method::POST,
        &format!("users/{id}/external_accounts"),
        &json!({"provider": "google"}),
    )
    .await;
    api.post("/v1/organizations", &json!({"name": "P", "created_by": id}))
        .await
        .ok("CreateOrganization");
    let u = api.get(&format!("/v1/users/{id}")).await.ok("GetUser");
    for (schema, value) in [
        ("User", &u),
        ("EmailAddress", &u["email_addresses"][0]),
        ("PhoneNumber", &u["phone_numbers"][0]),
        ("Web3Wallet", &u["web3_wallets"][0]),
        ("Passkey", &u["passkeys"][0]),
        ("OrganizationMembership", &u["organization_memberships"][0]),
    ] {
        let schema_json =
            clerk_spec::component_schema(schema).unwrap_or_else(|| panic!("{schema} in spec"));
        for prop in clerk_spec::property_names(&schema_json) {
            // Inside a User, a membership leaves out the user it would repeat.
            if matches!(
                (schema, prop.as_str()),
                ("OrganizationMembership", "public_user_data")
            ) {
                continue;
            }
            assert!(
                value.get(&prop).is_some(),
                "{schema}.{prop} missing in {value}"
            );
        }
    }
}
