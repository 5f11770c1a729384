//! Decoding of the response models: a realistic full user, tolerance of what the
//! server may add later, and the two shapes of the OAuth token list.

use clerk_core::models::{
    EnterpriseProtocol, InvitationStatus, ObjectType, TotpCodeType, VerificationKind,
    VerificationStatus, VerificationStrategy,
};
use clerk_core::{
    DeletedObject, OAuthAccessTokens, OrganizationInvitations, OrganizationMemberships, TotalCount,
    User, UserIdResponse, VerifyPasswordResponse, VerifyTotpResponse,
};
use serde_json::{Value, json};

const FULL_USER: &str = include_str!("fixtures/user_full.json");

#[test]
fn full_user_decodes_with_every_nested_type() {
    let user: User = serde_json::from_str(FULL_USER).expect("full user decodes");
    assert_eq!(user.id, "user_2xhFjEI5X2qWRvtV13BzSj8H6Dk");
    assert_eq!(user.object, ObjectType::User);
    assert_eq!(user.external_id.as_deref(), Some("ext-42"));
    assert_eq!(user.primary_web3_wallet_id, None);
    assert_eq!(user.public_metadata["seats"], json!(3));
    assert_eq!(user.private_metadata["stripe"]["customer"], json!("cus_1"));
    assert_eq!(user.mfa_enabled_at, Some(1_700_690_450_000));
    assert_eq!(user.mfa_disabled_at, None);
    assert_eq!(user.verification_attempts_remaining, Some(100));
    assert_eq!(user.lockout_expires_in_seconds, None);

    let primary = user.primary_email_address().expect("primary email present");
    assert_eq!(primary.email_address, "ada@example.com");
    let verification = primary.verification.as_ref().expect("verification");
    assert!(verification.is_verified());
    assert_eq!(verification.kind(), VerificationKind::Otp);
    assert_eq!(primary.linked_to[0].kind, "oauth_google");

    // A verification without `object` is classified by its strategy.
    let second = user.email_addresses[1].verification.as_ref().unwrap();
    assert_eq!(second.object, None);
    assert_eq!(second.kind(), VerificationKind::FromOauth);
    assert_eq!(second.strategy.oauth_provider(), Some("oauth_google"));

    let phone = user.primary_phone_number().expect("primary phone");
    assert!(phone.default_second_factor);
    assert_eq!(
        phone.verification.as_ref().unwrap().channel.as_deref(),
        Some("sms")
    );
    assert_eq!(
        user.web3_wallets[0].verification.as_ref().unwrap().strategy,
        VerificationStrategy::Web3MetamaskSignature
    );
    assert_eq!(user.passkeys[0].name, "MacBook Touch ID");
    assert_eq!(user.external_accounts[0].id, "eac_2xhGoogle");
    assert_eq!(user.external_accounts[0].email_address_verified, Some(true));
    assert_eq!(
        user.saml_accounts[0]
            .saml_connection
            .as_ref()
            .unwrap()
            .domains,
        ["corp.example"]
    );
    assert_eq!(
        user.enterprise_accounts[0].protocol,
        Some(EnterpriseProtocol::Saml)
    );
    assert_eq!(
        user.organization_memberships[0].organization.slug,
        "engines"
    );
}

#[test]
fn user_survives_a_serialize_round_trip() {
    let user: User = serde_json::from_str(FULL_USER).unwrap();
    let encoded = serde_json::to_value(&user).unwrap();
    let again: User = serde_json::from_value(encoded.clone()).unwrap();
    assert_eq!(again, user);
    // The wire shape is Clerk's: same keys as the input at the top level.
    let input: Value = serde_json::from_str(FULL_USER).unwrap();
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&encoded), keys(&input));
}

#[test]
fn unknown_fields_kinds_and_enum_values_decode() {
    let mut user: Value = serde_json::from_str(FULL_USER).unwrap();
    user["object"] = json!("user_v2");
    user["brand_new_field"] = json!({"nested": [1, 2, 3]});
    user["email_addresses"][0]["object"] = json!("email_address_v2");
    user["email_addresses"][0]["quantum_entangled"] = json!(true);
    user["email_addresses"][0]["verification"] = json!({
        "object": "verification_quantum",
        "status": "pending_review",
        "strategy": "quantum_code",
        "attempts": 0,
        "expire_at": null,
        "qubits": 7
    });
    user["phone_numbers"][0]["verification"]["strategy"] = json!("carrier_pigeon");
    user["external_accounts"][0]["object"] = json!("microsoft_account");
    user["enterprise_accounts"][0]["protocol"] = json!("ws_federation");
    user["web3_wallets"][0]["verification"]["strategy"] = json!("web3_future_signature");

    let user: User = serde_json::from_value(user).expect("tolerant decode");
    assert_eq!(user.object, ObjectType::Unknown("user_v2".into()));
    let email = &user.email_addresses[0];
    assert_eq!(email.object, ObjectType::Unknown("email_address_v2".into()));
    let v = email.verification.as_ref().unwrap();
    assert_eq!(
        v.kind(),
        VerificationKind::Unknown("verification_quantum".into())
    );
    assert_eq!(
        v.status,
        VerificationStatus::Unknown("pending_review".into())
    );
    assert_eq!(
        v.strategy,
        VerificationStrategy::Other("quantum_code".into())
    );
    assert_eq!(
        user.external_accounts[0].object,
        ObjectType::Unknown("microsoft_account".into())
    );
    assert_eq!(
        user.enterprise_accounts[0].protocol,
        Some(EnterpriseProtocol::Unknown("ws_federation".into()))
    );
    // Unknown values are sent back as they came.
    let back = serde_json::to_value(&user).unwrap();
    assert_eq!(back["object"], json!("user_v2"));
    assert_eq!(
        back["email_addresses"][0]["verification"]["status"],
        json!("pending_review")
    );
}

#[test]
fn sparse_and_null_heavy_users_decode() {
    let user: User = serde_json::from_str(r#"{"id":"user_1"}"#).unwrap();
    assert_eq!(user.id, "user_1");
    assert!(user.public_metadata.is_empty());
    assert_eq!(user.object, ObjectType::Unknown(String::new()));

    // `null` where the spec promises a value decodes as the default.
    let user: User = serde_json::from_value(json!({
        "id": "user_2",
        "object": "user",
        "email_addresses": null,
        "public_metadata": null,
        "private_metadata": null,
        "banned": null,
        "created_at": null,
        "external_accounts": [{"id": "eac_1", "first_name": null, "verification": null}]
    }))
    .unwrap();
    assert!(user.email_addresses.is_empty());
    assert!(!user.banned);
    assert_eq!(user.external_accounts[0].first_name, "");
    assert!(user.external_accounts[0].verification.is_none());
}

#[test]
fn wrong_types_still_fail_to_decode() {
    // Tolerance is about absent and new data, not about garbage.
    assert!(serde_json::from_str::<User>(r#"{"id": 5}"#).is_err());
    assert!(serde_json::from_str::<User>(r#"{"email_addresses": {"a": 1}}"#).is_err());
    assert!(serde_json::from_str::<User>(r#"{"created_at": "yesterday"}"#).is_err());
}

fn token(n: u32) -> Value {
    json!({
        "object": "oauth_access_token",
        "external_account_id": format!("eac_{n}"),
        "provider_user_id": "1234",
        "token": format!("ya29.secret-{n}"),
        "expires_at": 1700690400000i64,
        "provider": "oauth_google",
        "public_metadata": {},
        "label": null,
        "scopes": ["email", "profile"]
    })
}

#[test]
fn oauth_tokens_decode_from_the_bare_array_and_the_envelope() {
    let bare: OAuthAccessTokens = serde_json::from_value(json!([token(1), token(2)])).unwrap();
    assert_eq!(bare.data.len(), 2);
    assert_eq!(bare.total_count, None);
    assert_eq!(bare.data[1].external_account_id, "eac_2");
    assert_eq!(
        bare.data[0].scopes.as_deref(),
        Some(&["email".to_owned(), "profile".to_owned()][..])
    );

    let envelope: OAuthAccessTokens =
        serde_json::from_value(json!({"data": [token(3)], "total_count": 9, "extra": true}))
            .unwrap();
    assert_eq!(envelope.data[0].external_account_id, "eac_3");
    assert_eq!(envelope.total_count, Some(9));

    // Each shape serializes back to itself.
    assert!(serde_json::to_value(&bare).unwrap().is_array());
    assert_eq!(
        serde_json::to_value(&envelope).unwrap()["total_count"],
        json!(9)
    );

    assert!(serde_json::from_value::<OAuthAccessTokens>(json!({"total_count": 1})).is_err());
    assert!(serde_json::from_value::<OAuthAccessTokens>(json!("tokens")).is_err());
}

#[test]
fn oauth_token_debug_redacts_secrets() {
    let mut t = token(1);
    t["token_secret"] = json!("oauth1-secret");
    t["id_token"] = json!("eyJ.id.token");
    let tokens: OAuthAccessTokens = serde_json::from_value(json!([t])).unwrap();
    let debug = format!("{tokens:?}");
    assert!(!debug.contains("ya29.secret-1"), "{debug}");
    assert!(!debug.contains("oauth1-secret"), "{debug}");
    assert!(!debug.contains("eyJ.id.token"), "{debug}");
    assert!(debug.contains("eac_1"));
}

#[test]
fn small_responses_decode() {
    let deleted: DeletedObject =
        serde_json::from_str(r#"{"object":"user","id":"user_1","deleted":true}"#).unwrap();
    assert_eq!(deleted.object, ObjectType::User);
    assert!(deleted.deleted);
    assert_eq!(deleted.slug, None);

    let count: TotalCount =
        serde_json::from_str(r#"{"object":"total_count","total_count":12345678901}"#).unwrap();
    assert_eq!(count.total_count, 12_345_678_901);

    let verified: VerifyPasswordResponse = serde_json::from_str(r#"{"verified":true}"#).unwrap();
    assert!(verified.verified);

    let totp: VerifyTotpResponse =
        serde_json::from_str(r#"{"verified":true,"code_type":"backup_code"}"#).unwrap();
    assert_eq!(totp.code_type, Some(TotpCodeType::BackupCode));
    let totp: VerifyTotpResponse =
        serde_json::from_str(r#"{"verified":true,"code_type":"passkey_prf"}"#).unwrap();
    assert_eq!(
        totp.code_type,
        Some(TotpCodeType::Unknown("passkey_prf".into()))
    );

    let id: UserIdResponse = serde_json::from_str(r#"{"user_id":"user_9"}"#).unwrap();
    assert_eq!(id.user_id, "user_9");
}

#[test]
fn membership_and_invitation_pages_decode() {
    let memberships: OrganizationMemberships = serde_json::from_value(json!({
        "data": [{
            "id": "orgmem_1",
            "object": "organization_membership",
            "role": "org:custom_role",
            "permissions": [],
            "public_metadata": {},
            "organization": {"object": "organization", "id": "org_1", "name": "O", "slug": "o",
                             "has_image": false, "max_allowed_memberships": 0,
                             "admin_delete_enabled": true, "public_metadata": {},
                             "created_at": 1, "updated_at": 2, "brand_new": 1},
            "public_user_data": {"user_id": "user_1", "first_name": null, "last_name": null,
                                 "profile_image_url": null, "image_url": "https://i", "has_image": false,
                                 "identifier": "a@x.com", "username": null},
            "created_at": 1,
            "updated_at": 2
        }],
        "total_count": 31
    }))
    .unwrap();
    assert_eq!(memberships.total_count, 31);
    let m = &memberships.data[0];
    assert_eq!(m.role, "org:custom_role");
    assert_eq!(
        m.public_user_data.as_ref().unwrap().identifier.as_deref(),
        Some("a@x.com")
    );

    let invitations: OrganizationInvitations = serde_json::from_value(json!({
        "data": [
            {"object": "organization_invitation", "id": "orginv_1", "email_address": "a@x.com",
             "role": "org:member", "role_name": "Member", "inviter_id": null,
             "public_inviter_data": null, "status": "pending", "public_metadata": {},
             "url": null, "expires_at": null, "created_at": 1, "updated_at": 2,
             "public_organization_data": {"id": "org_1", "name": "O", "slug": "o", "has_image": false}},
            {"object": "organization_invitation", "id": "orginv_2", "email_address": "b@x.com",
             "role": "org:member", "role_name": "Member", "inviter_id": "user_1",
             "public_inviter_data": {"user_id": "user_1", "first_name": "A", "last_name": null,
                                     "image_url": "https://i", "has_image": false, "identifier": "a@x.com"},
             "status": "superseded", "public_metadata": {}, "url": "https://accept",
             "expires_at": 99, "created_at": 1, "updated_at": 2}
        ],
        "total_count": 2
    }))
    .unwrap();
    assert_eq!(invitations.data[0].status, Some(InvitationStatus::Pending));
    assert_eq!(
        invitations.data[1].status,
        Some(InvitationStatus::Unknown("superseded".into()))
    );
    assert_eq!(
        invitations.data[1]
            .public_inviter_data
            .as_ref()
            .unwrap()
            .first_name
            .as_deref(),
        Some("A")
    );
}
