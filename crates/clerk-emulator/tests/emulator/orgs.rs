//! Organizations, memberships and invitations as the Users API sees them.

use serde_json::json;

use crate::common::{Api, ids};

#[tokio::test]
async fn organizations_memberships_and_invitations() {
    let api = Api::unlimited().await;
    let admin = api
        .create_user(json!({"first_name": "Zed", "email_address": ["zed@x.io"]}))
        .await;
    let member = api
        .create_user(
            json!({"first_name": "Amy", "email_address": ["amy@x.io"], "username": "amy_a"}),
        )
        .await;
    let (a, m) = (
        admin["id"].as_str().unwrap(),
        member["id"].as_str().unwrap(),
    );

    let org = api
        .post(
            "/v1/organizations",
            &json!({"name": "Acme Inc.", "created_by": a, "public_metadata": {"tier": 1}}),
        )
        .await
        .ok("CreateOrganization");
    let org_id = org["id"].as_str().unwrap().to_owned();
    assert!(org_id.starts_with("org_"));
    assert_eq!(org["slug"], "acme-inc");
    assert_eq!(org["members_count"], 1);
    api.post(
        "/v1/organizations",
        &json!({"name": "Other", "slug": "acme-inc"}),
    )
    .await
    .err(422, "form_identifier_exists");
    api.post(
        "/v1/organizations",
        &json!({"name": "Bad", "slug": "Not A Slug"}),
    )
    .await
    .err(422, "form_param_format_invalid");
    api.post("/v1/organizations", &json!({}))
        .await
        .err(422, "form_param_missing");
    let second = api
        .post(
            "/v1/organizations",
            &json!({"name": "Beta", "slug": "beta", "max_allowed_memberships": 1}),
        )
        .await
        .ok("CreateOrganization");

    let mem = api
        .post(
            &format!("/v1/organizations/{org_id}/memberships"),
            &json!({"user_id": m, "role": "org:member", "public_metadata": {"seat": 2}}),
        )
        .await
        .ok("CreateOrganizationMembership");
    assert!(mem["id"].as_str().unwrap().starts_with("orgmem_"));
    assert_eq!(mem["public_user_data"]["identifier"], "amy@x.io");
    api.post(
        &format!("/v1/organizations/{org_id}/memberships"),
        &json!({"user_id": m, "role": "org:member"}),
    )
    .await
    .err(400, "already_a_member_in_organization");
    api.post(
        "/v1/organizations/org_missing/memberships",
        &json!({"user_id": m, "role": "org:member"}),
    )
    .await
    .err(404, "resource_not_found");
    api.post(
        &format!("/v1/organizations/{org_id}/memberships"),
        &json!({"user_id": "user_missing", "role": "org:member"}),
    )
    .await
    .err(404, "resource_not_found");
    let beta = second["id"].as_str().unwrap();
    api.post(
        &format!("/v1/organizations/{beta}/memberships"),
        &json!({"user_id": m, "role": "org:admin"}),
    )
    .await
    .ok("CreateOrganizationMembership");
    api.post(
        &format!("/v1/organizations/{beta}/memberships"),
        &json!({"user_id": a, "role": "org:member"}),
    )
    .await
    .err(403, "organization_membership_quota_exceeded");

    // The user's memberships, paginated.
    let mine = api
        .get(&format!("/v1/users/{m}/organization_memberships"))
        .await
        .ok("UsersGetOrganizationMemberships");
    assert_eq!(mine["total_count"], 2);
    assert_eq!(mine["data"][0]["organization"]["id"], org_id.as_str());
    assert_eq!(mine["data"][1]["role"], "org:admin");
    let page = api
        .get(&format!(
            "/v1/users/{m}/organization_memberships?limit=1&offset=1"
        ))
        .await
        .ok("UsersGetOrganizationMemberships");
    assert_eq!(
        (
            page["total_count"].clone(),
            page["data"].as_array().unwrap().len()
        ),
        (json!(2), 1)
    );
    let user = api.get(&format!("/v1/users/{m}")).await.ok("GetUser");
    assert_eq!(
        user["organization_memberships"].as_array().unwrap().len(),
        2
    );
    api.get("/v1/users/user_nope/organization_memberships")
        .await
        .err(404, "resource_not_found");

    // Instance-wide memberships with order_by.
    let all = api
        .get("/v1/organization_memberships?order_by=first_name")
        .await
        .ok("InstanceGetOrganizationMemberships");
    assert_eq!(all["total_count"], 3);
    let names: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["public_user_data"]["first_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Amy", "Amy", "Zed"]);
    let desc = api
        .get("/v1/organization_memberships?order_by=-first_name&limit=1")
        .await
        .ok("InstanceGetOrganizationMemberships");
    assert_eq!(desc["data"][0]["public_user_data"]["first_name"], "Zed");
    for ob in [
        "username",
        "%2Bemail_address",
        "phone_number",
        "last_name",
        "-created_at",
    ] {
        api.get(&format!("/v1/organization_memberships?order_by={ob}"))
            .await
            .ok("InstanceGetOrganizationMemberships");
    }
    api.get("/v1/organization_memberships?order_by=updated_at")
        .await
        .err(422, "form_param_value_invalid");

    // Invitations reach the user through their email addresses.
    let inv = api
        .post(
            &format!("/v1/organizations/{org_id}/invitations"),
            &json!({"email_address": "AMY@x.io", "role": "org:admin", "inviter_user_id": a}),
        )
        .await
        .ok("CreateOrganizationInvitation");
    assert!(inv["id"].as_str().unwrap().starts_with("orginv_"));
    assert_eq!(inv["status"], "pending");
    assert_eq!(inv["public_inviter_data"]["user_id"], a);
    api.post(
        &format!("/v1/organizations/{beta}/invitations"),
        &json!({"email_address": "amy@x.io", "role": "org:member", "expires_in_days": 1}),
    )
    .await
    .ok("CreateOrganizationInvitation");
    api.post(
        &format!("/v1/organizations/{org_id}/invitations"),
        &json!({"email_address": "x@x.io", "role": "org:member", "inviter_user_id": m}),
    )
    .await
    .err(422, "form_param_value_invalid");
    api.post(
        &format!("/v1/organizations/{org_id}/invitations"),
        &json!({"email_address": "x@x.io", "role": "org:member", "expires_in_days": 0}),
    )
    .await
    .err(422, "form_param_value_invalid");
    let invs = api
        .get(&format!("/v1/users/{m}/organization_invitations"))
        .await
        .ok("UsersGetOrganizationInvitations");
    assert_eq!(invs["total_count"], 2);
    assert_eq!(
        invs["data"][1]["public_organization_data"]["slug"],
        "acme-inc"
    );
    let pending = api
        .get(&format!(
            "/v1/users/{m}/organization_invitations?status=pending&limit=1"
        ))
        .await
        .ok("UsersGetOrganizationInvitations");
    assert_eq!(
        (
            pending["total_count"].clone(),
            pending["data"].as_array().unwrap().len()
        ),
        (json!(2), 1)
    );
    let accepted = api
        .get(&format!(
            "/v1/users/{m}/organization_invitations?status=accepted"
        ))
        .await
        .ok("UsersGetOrganizationInvitations");
    assert_eq!(accepted, json!({"data": [], "total_count": 0}));
    api.get(&format!(
        "/v1/users/{m}/organization_invitations?status=bogus"
    ))
    .await
    .err(422, "form_param_value_invalid");
    let none = api
        .get(&format!("/v1/users/{a}/organization_invitations"))
        .await
        .ok("UsersGetOrganizationInvitations");
    assert_eq!(none["total_count"], 0);

    // Deleting a user removes their memberships.
    api.delete(&format!("/v1/users/{m}")).await.ok("DeleteUser");
    let all = api
        .get("/v1/organization_memberships")
        .await
        .ok("InstanceGetOrganizationMemberships");
    assert_eq!(all["total_count"], 1);
    assert_eq!(ids(&all["data"]).len(), 1);
}
