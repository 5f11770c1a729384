//! The operations added after the first 27, each 2xx body validated against the spec of
//! the version asked for.

use std::time::Duration;

use clerk_emulator::{Config, RateLimit};
use http::Method;
use serde_json::{Value, json};

use crate::common::Api;

async fn user_with_password(api: &Api) -> String {
    let u = api
        .create_user(json!({"first_name": "Ada", "password": "correct horse battery"}))
        .await;
    u["id"].as_str().unwrap().to_owned()
}

async fn verify(api: &Api, id: &str, password: &str) -> crate::common::Resp {
    api.post(
        &format!("/v1/users/{id}/verify_password"),
        &json!({ "password": password }),
    )
    .await
}

#[tokio::test]
async fn password_compromise_and_removal_change_verify_password_and_the_user() {
    let api = Api::unlimited().await;
    let id = user_with_password(&api).await;
    verify(&api, &id, "correct horse battery")
        .await
        .ok("VerifyPassword");

    let set = format!("/v1/users/{id}/password/set_compromised");
    let user = api
        .post(&set, &json!({"revoke_all_sessions": true}))
        .await
        .ok("SetUserPasswordCompromised");
    assert_eq!(user["password_enabled"], true);
    // The right password is no longer accepted as is; a wrong one is still wrong.
    verify(&api, &id, "correct horse battery")
        .await
        .err(422, "form_password_pwned");
    verify(&api, &id, "wrong horse battery")
        .await
        .err(422, "form_password_incorrect");
    // Twice is the same as once.
    api.post(&set, &json!({}))
        .await
        .ok("SetUserPasswordCompromised");

    api.call(
        Method::POST,
        &format!("/v1/users/{id}/password/unset_compromised"),
        None,
    )
    .await
    .ok("UnsetUserPasswordCompromised");
    verify(&api, &id, "correct horse battery")
        .await
        .ok("VerifyPassword");

    // A new password clears the mark.
    api.post(&set, &json!({}))
        .await
        .ok("SetUserPasswordCompromised");
    api.patch(
        &format!("/v1/users/{id}"),
        &json!({"password": "brand new passphrase"}),
    )
    .await
    .ok("UpdateUser");
    verify(&api, &id, "brand new passphrase")
        .await
        .ok("VerifyPassword");

    let removed = api
        .post(
            &format!("/v1/users/{id}/remove_password"),
            &json!({"sign_out_of_other_sessions": true}),
        )
        .await
        .ok("RemoveUserPassword");
    assert_eq!(removed["password_enabled"], false);
    assert_eq!(removed["password_last_updated_at"], Value::Null);
    verify(&api, &id, "brand new passphrase")
        .await
        .err(400, "password_not_set");
    // A user without a password comes back unchanged.
    let again = api
        .call(
            Method::POST,
            &format!("/v1/users/{id}/remove_password"),
            None,
        )
        .await
        .ok("RemoveUserPassword");
    assert_eq!(again["updated_at"], removed["updated_at"]);
    api.post(&set, &json!({}))
        .await
        .err(400, "password_not_set");
    api.post(
        "/v1/users/user_missing/password/set_compromised",
        &json!({}),
    )
    .await
    .err(404, "resource_not_found");
}

#[tokio::test]
async fn password_compromised_operations_exist_from_2025_11_10_on() {
    let api = Api::unlimited().await;
    let id = user_with_password(&api).await;
    let path = format!("/v1/users/{id}/password/set_compromised");
    api.versioned("2025-04-10", Method::POST, &path, Some(&json!({})))
        .await
        .err(404, "resource_not_found");
    verify(&api, &id, "correct horse battery")
        .await
        .ok("VerifyPassword");
    for version in ["2025-11-10", "2026-05-12"] {
        api.versioned(version, Method::POST, &path, Some(&json!({})))
            .await
            .ok("SetUserPasswordCompromised");
    }
    let unset = format!("/v1/users/{id}/password/unset_compromised");
    api.versioned("2025-04-10", Method::POST, &unset, None)
        .await
        .err(404, "resource_not_found");
    api.versioned("2099-01-01", Method::POST, &unset, None)
        .await
        .err(400, "api_version_invalid");
}

#[tokio::test]
async fn replace_metadata_replaces_each_given_field_and_leaves_the_others() {
    let api = Api::unlimited().await;
    let u = api
        .create_user(json!({
            "public_metadata": {"plan": {"tier": "pro", "seats": 3}, "keep": 1},
            "private_metadata": {"crm": 7},
            "unsafe_metadata": {"theme": "dark"}
        }))
        .await;
    let id = u["id"].as_str().unwrap();
    let path = format!("/v1/users/{id}/metadata");
    let replaced = api
        .put(
            &path,
            &json!({"public_metadata": {"plan": {"tier": "free"}}, "unsafe_metadata": {}}),
        )
        .await
        .ok("ReplaceUserMetadata");
    assert_eq!(
        replaced["public_metadata"],
        json!({"plan": {"tier": "free"}})
    );
    assert_eq!(
        replaced["private_metadata"],
        json!({"crm": 7}),
        "left out: untouched"
    );
    assert_eq!(replaced["unsafe_metadata"], json!({}));
    // Unlike PATCH, null values are stored, not deleted keys.
    let stored = api
        .put(&path, &json!({"private_metadata": {"crm": null}}))
        .await
        .ok("ReplaceUserMetadata");
    assert_eq!(stored["private_metadata"], json!({"crm": null}));
    api.put(&path, &json!({"public_metadata": [1]}))
        .await
        .err(422, "form_param_format_invalid");
    api.put(&path, &json!({"frist_metadata": {}}))
        .await
        .err(422, "form_param_unknown");
    // Every version has it, 2026-05-12 included (where PATCH /users/{id} lost metadata).
    api.versioned(
        "2026-05-12",
        Method::PUT,
        &path,
        Some(&json!({"public_metadata": {"v": 1}})),
    )
    .await
    .ok("ReplaceUserMetadata");
}

#[tokio::test]
async fn replace_metadata_counts_toward_the_per_user_update_limit() {
    let api = Api::start(Config::new().rate_limit(RateLimit::Fixed {
        requests: 1000,
        window: Duration::from_secs(10),
    }))
    .await;
    let id = api.create_user(json!({"first_name": "A"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for i in 0..10 {
        if i % 2 == 0 {
            api.put(
                &format!("/v1/users/{id}/metadata"),
                &json!({"public_metadata": {"i": i}}),
            )
            .await
            .ok("ReplaceUserMetadata");
        } else {
            api.patch(
                &format!("/v1/users/{id}"),
                &json!({"first_name": format!("A{i}")}),
            )
            .await
            .ok("UpdateUser");
        }
    }
    api.put(&format!("/v1/users/{id}/metadata"), &json!({}))
        .await
        .err(429, "too_many_requests");
    api.patch(&format!("/v1/users/{id}/metadata"), &json!({}))
        .await
        .err(429, "too_many_requests");
    // Reads of the same user are not limited per user.
    api.get(&format!("/v1/users/{id}")).await.ok("GetUser");
}

#[tokio::test]
async fn replacing_the_email_address_and_phone_number() {
    let api = Api::unlimited().await;
    let u = api
        .create_user(json!({
            "email_address": ["a@example.com", "b@example.com"],
            "phone_number": ["+14155550100"]
        }))
        .await;
    let id = u["id"].as_str().unwrap();
    api.create_user(
        json!({"email_address": ["taken@example.com"], "phone_number": ["+14155550199"]}),
    )
    .await;

    let email = api
        .put(
            &format!("/v1/users/{id}/email_address"),
            &json!({"email_address": "New@Example.com"}),
        )
        .await
        .ok("ReplaceUserEmailAddress");
    assert_eq!(email["email_address"], "new@example.com");
    assert_eq!(email["verification"]["status"], "verified");
    let user = api.get(&format!("/v1/users/{id}")).await.ok("GetUser");
    assert_eq!(user["email_addresses"].as_array().unwrap().len(), 1);
    assert_eq!(user["primary_email_address_id"], email["id"]);
    // The old addresses are free again; a taken one is refused.
    api.create_user(json!({"email_address": ["a@example.com"]}))
        .await;
    api.put(
        &format!("/v1/users/{id}/email_address"),
        &json!({"email_address": "taken@example.com"}),
    )
    .await
    .err(422, "form_identifier_exists");
    let reserved = api
        .put(
            &format!("/v1/users/{id}/email_address"),
            &json!({"email_address": "held@example.com", "identification_status": "reserved"}),
        )
        .await
        .ok("ReplaceUserEmailAddress");
    assert_eq!(reserved["reserved"], true);
    api.put(
        &format!("/v1/users/{id}/email_address"),
        &json!({"email_address": "x@example.com", "identification_status": "maybe"}),
    )
    .await
    .err(422, "form_param_value_invalid");
    api.put(&format!("/v1/users/{id}/email_address"), &json!({}))
        .await
        .err(422, "form_param_missing");

    let phone = api
        .put(
            &format!("/v1/users/{id}/phone_number"),
            &json!({"phone_number": "+14155550123"}),
        )
        .await
        .ok("ReplaceUserPhoneNumber");
    assert_eq!(phone["phone_number"], "+14155550123");
    assert_eq!(phone["reserved_for_second_factor"], false);
    let user = api.get(&format!("/v1/users/{id}")).await.ok("GetUser");
    assert_eq!(user["phone_numbers"].as_array().unwrap().len(), 1);
    assert_eq!(user["primary_phone_number_id"], phone["id"]);
    api.put(
        &format!("/v1/users/{id}/phone_number"),
        &json!({"phone_number": "+14155550199"}),
    )
    .await
    .err(422, "form_identifier_exists");
}

#[tokio::test]
async fn trusted_devices_come_from_the_control_api_and_can_be_revoked() {
    let api = Api::unlimited().await;
    let id = api.create_user(json!({"first_name": "A"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let list = format!("/v1/users/{id}/trusted_devices");
    let empty = api.get(&list).await.ok("ListUserTrustedDevices");
    assert_eq!(empty, json!({"data": [], "total_count": 0}));
    let phone = api
        .control(
            Method::POST,
            &format!("users/{id}/trusted_devices"),
            &json!({"platform": "ios", "app_identifier": "com.acme.app", "name": "Ada's iPhone"}),
        )
        .await;
    assert_eq!(phone.status, 200, "{}", phone.body);
    api.control(
        Method::POST,
        &format!("users/{id}/trusted_devices"),
        &json!({"platform": "android"}),
    )
    .await;
    api.control(
        Method::POST,
        &format!("users/{id}/trusted_devices"),
        &json!({"platform": "palm"}),
    )
    .await
    .err(422, "form_param_value_invalid");
    let listed = api.get(&list).await.ok("ListUserTrustedDevices");
    assert_eq!(listed["total_count"], 2);
    let device_id = phone.body["id"].as_str().unwrap();
    let revoked = api
        .delete(&format!("/v1/users/{id}/trusted_devices/{device_id}"))
        .await
        .ok("RevokeUserTrustedDevice");
    assert_eq!(revoked["status"], "revoked");
    assert!(revoked["revoked_at"].is_i64());
    assert_eq!(
        api.get(&list).await.ok("ListUserTrustedDevices")["total_count"],
        1
    );
    api.delete(&format!("/v1/users/{id}/trusted_devices/{device_id}"))
        .await
        .err(404, "resource_not_found");
}

#[tokio::test]
async fn billing_subscription_and_credits_with_idempotent_adjustments() {
    let api = Api::unlimited().await;
    let u = api
        .create_user(json!({"first_name": "Ada", "email_address": ["ada@example.com"]}))
        .await;
    let id = u["id"].as_str().unwrap();
    let sub = format!("/v1/users/{id}/billing/subscription");
    api.get(&sub).await.err(404, "resource_not_found");
    api.control(
        Method::POST,
        &format!("users/{id}/billing_subscription"),
        &json!({"plan": "Pro", "amount": 4999, "period": "annual"}),
    )
    .await;
    let s = api.get(&sub).await.ok("GetUserBillingSubscription");
    assert_eq!(s["status"], "active");
    let item = &s["subscription_items"][0];
    assert_eq!(item["plan"]["name"], "Pro");
    assert_eq!(item["plan"]["fee"]["amount_formatted"], "$49.99");
    assert_eq!(item["payer"]["email"], "ada@example.com");
    // Each version gets its own shape (2025-04-10: flat plan amounts, a payment source id).
    for version in ["2025-04-10", "2025-11-10", "2026-05-12"] {
        let s = api
            .versioned(version, Method::GET, &sub, None)
            .await
            .ok("GetUserBillingSubscription");
        let legacy = s["subscription_items"][0]["plan"]["amount_formatted"] == "$49.99";
        assert_eq!(legacy, version == "2025-04-10", "{version}: {s}");
    }

    let credits = format!("/v1/users/{id}/billing/credits");
    let none = api.get(&credits).await.ok("GetUserBillingCreditBalance");
    assert_eq!(none["balance"], Value::Null);
    let grant = json!({"amount": 500, "action": "increase", "idempotency_key": "grant-1", "note": "welcome"});
    let first = api
        .post(&credits, &grant)
        .await
        .ok("AdjustUserBillingCreditBalance");
    assert_eq!(first["amount"]["amount"], 500);
    // The same key again: the first entry, applied once.
    let again = api
        .post(
            &credits,
            &json!({"amount": 900, "action": "increase", "idempotency_key": "grant-1"}),
        )
        .await
        .ok("AdjustUserBillingCreditBalance");
    assert_eq!(again, first);
    let spent = api
        .post(
            &credits,
            &json!({"amount": 200, "action": "decrease", "idempotency_key": "spend-1"}),
        )
        .await
        .ok("AdjustUserBillingCreditBalance");
    assert_eq!(spent["amount"]["amount"], -200);
    assert_eq!(spent["amount"]["amount_formatted"], "-$2.00");
    let balance = api.get(&credits).await.ok("GetUserBillingCreditBalance");
    assert_eq!(balance["balance"]["amount"], 300);
    for bad in [
        json!({"amount": 0, "action": "increase", "idempotency_key": "k"}),
        json!({"amount": 5, "action": "double", "idempotency_key": "k"}),
    ] {
        api.post(&credits, &bad)
            .await
            .err(422, "form_param_value_invalid");
    }
    api.post(&credits, &json!({"amount": 5, "action": "increase"}))
        .await
        .err(422, "form_param_missing");
}

#[tokio::test]
async fn the_seed_file_gives_users_trusted_devices_and_a_subscription() {
    let dir = std::env::temp_dir().join(format!("clerk-emulator-newer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let seed = dir.join("seed.json");
    std::fs::write(
        &seed,
        r#"{"instances": {"sk_test_emulator": {"users": [{
            "id": "user_seeded",
            "first_name": "Ada",
            "trusted_devices": [{"platform": "android", "app_identifier": "com.acme", "name": "Pixel"}],
            "billing_subscription": {"plan": "Team", "amount": 1500, "status": "past_due"}
        }]}}}"#,
    )
    .unwrap();
    let api = Api::start(Config::new().rate_limit(RateLimit::Off).seed_file(&seed)).await;
    let devices = api
        .get("/v1/users/user_seeded/trusted_devices")
        .await
        .ok("ListUserTrustedDevices");
    assert_eq!(devices["data"][0]["name"], "Pixel");
    let s = api
        .get("/v1/users/user_seeded/billing/subscription")
        .await
        .ok("GetUserBillingSubscription");
    assert_eq!(s["status"], "past_due");
    std::fs::remove_dir_all(&dir).ok();
}
