//! Calls each of the 38 Users operations once and prints one line per operation.
//!
//! ```text
//! cargo run --example all_operations                 # against the embedded emulator
//! CLERK_API_URL=https://api.clerk.com CLERK_SECRET_KEY=sk_test_… cargo run --example all_operations
//! ```
//!
//! With both variables set it runs against that server (use a development instance:
//! it creates, bans, locks and finally deletes one user and one organization). Without
//! them it starts the emulator in-process, seeds what only sign-in flows and billing
//! create there (a passkey, an external account with an OAuth token, a trusted device,
//! a subscription), and every operation must succeed: the process exits non-zero
//! otherwise.

use std::fmt::Display;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clerk_emulator::{Config, Emulator, RateLimit};
use clerk_tower::users::{
    AdjustBillingCreditBalance, CountUsers, CreateUser, GetInstanceOrganizationMemberships,
    GetOAuthAccessTokens, GetOrganizationInvitations, GetOrganizationMemberships, ListUsers,
    RemovePassword, ReplaceEmailAddress, ReplacePhoneNumber, ReplaceUserMetadata,
    SetPasswordCompromised, SetProfileImage, UpdateUser, UpdateUserMetadata, UserFilter,
};
use clerk_tower::{Body, Clerk, Error};
use serde_json::{Value, json};
use tower::ServiceExt;

const TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
/// A 1×1 transparent PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];

struct Report {
    failures: usize,
}

impl Report {
    fn line<T, D: Display>(
        &mut self,
        operation: &str,
        result: &Result<T, Error>,
        detail: impl Fn(&T) -> D,
    ) {
        match result {
            Ok(value) => println!("ok    {operation:<36} {}", detail(value)),
            Err(err) => {
                self.failures += 1;
                println!("FAIL  {operation:<36} {err}");
            }
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(0) => ExitCode::SUCCESS,
        Ok(failures) => {
            eprintln!("{failures} operation(s) failed");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<usize, Error> {
    let external =
        std::env::var("CLERK_API_URL").is_ok() && std::env::var("CLERK_SECRET_KEY").is_ok();
    let emulator = if external {
        None
    } else {
        let emulator = Emulator::start(Config::new().rate_limit(RateLimit::Off))
            .await
            .map_err(|e| Error::invalid_request(format!("cannot start the emulator: {e}")))?;
        Some(emulator)
    };
    let clerk = match &emulator {
        Some(emulator) => Clerk::builder()
            .base_url(emulator.base_url())
            .secret_key(clerk_emulator::DEFAULT_SECRET_KEY)
            .build()?,
        None => Clerk::builder().build()?,
    };
    println!("server: {}", clerk.base_url());
    let mut report = Report { failures: 0 };
    let users = clerk.users();
    let tag = unique_tag();

    // 1. Create: the user every other call works on.
    let created = users
        .create(
            CreateUser::new()
                .external_id(format!("all-ops-{tag}"))
                .first_name("Ada")
                .last_name("Lovelace")
                .email_address(format!("ada.{tag}@example.com"))
                .username(format!("ada_{tag}"))
                .web3_wallet(format!("0x{:0>40}", tag))
                .password("correct-horse-battery-staple")
                .totp_secret(TOTP_SECRET)
                .backup_codes(["backup-code-1", "backup-code-2"]),
        )
        .await;
    report.line("CreateUser", &created, |u| u.id.clone());
    let user = created?;
    let id = user.id.clone();
    let second = users
        .create(
            CreateUser::new()
                .external_id(format!("all-ops-2-{tag}"))
                .first_name("Grace")
                .email_address(format!("grace.{tag}@example.com")),
        )
        .await?;

    // What sign-in flows create, and the organization state the Users API reads.
    let invitee = format!("grace.{tag}@example.com");
    let extras = seed_extras(&clerk, &id, &invitee, emulator.is_some()).await?;

    let got = users.get(&id).await;
    report.line("GetUser", &got, |u| format!("{} {:?}", u.id, u.first_name));

    let filter = UserFilter::new().external_id(format!("all-ops-{tag}"));
    let listed = users
        .list(ListUsers::new().filter(filter.clone()).limit(10))
        .await;
    report.line("GetUserList", &listed, |page| {
        format!("{} user(s)", page.len())
    });

    let counted = users.count(CountUsers::new().filter(filter)).await;
    report.line("GetUsersCount", &counted, |n| format!("{n} user(s)"));

    let updated = users
        .update(UpdateUser::new(&id).first_name("Augusta Ada"))
        .await;
    report.line("UpdateUser", &updated, |u| {
        format!("first_name {:?}", u.first_name)
    });

    let mut patch = serde_json::Map::new();
    patch.insert("plan".into(), json!({"tier": "pro", "seats": 3}));
    let merged = users
        .update_metadata(UpdateUserMetadata::new(&id).public_metadata(patch))
        .await;
    report.line("UpdateUserMetadata", &merged, |u| {
        Value::Object(u.public_metadata.clone())
    });

    let verified = users
        .verify_password(&id, "correct-horse-battery-staple")
        .await;
    report.line("VerifyPassword", &verified, |v| {
        format!("verified {}", v.verified)
    });

    let code = clerk_emulator::totp::generate_totp(TOTP_SECRET, unix_secs()).unwrap_or_default();
    let totp = users.verify_totp(&id, code).await;
    report.line("VerifyTOTP", &totp, |v| {
        format!("verified {} ({:?})", v.verified, v.code_type)
    });

    let image = users
        .set_profile_image(SetProfileImage::new(&id, PNG, "image/png"))
        .await;
    report.line("SetUserProfileImage", &image, |u| {
        format!("has_image {:?}", u.has_image)
    });

    let no_image = users.delete_profile_image(&id).await;
    report.line("DeleteUserProfileImage", &no_image, |u| {
        format!("has_image {:?}", u.has_image)
    });

    let banned = users.ban(&id).await;
    report.line("BanUser", &banned, |u| format!("banned {:?}", u.banned));
    let unbanned = users.unban(&id).await;
    report.line("UnbanUser", &unbanned, |u| format!("banned {:?}", u.banned));

    let bulk_banned = users.ban_many([id.clone(), second.id.clone()]).await;
    report.line("UsersBan", &bulk_banned, |list| {
        format!("{} banned", list.len())
    });
    let bulk_unbanned = users.unban_many([id.clone(), second.id.clone()]).await;
    report.line("UsersUnban", &bulk_unbanned, |list| {
        format!("{} unbanned", list.len())
    });

    let locked = users.lock(&id).await;
    report.line("LockUser", &locked, |u| format!("locked {:?}", u.locked));
    let unlocked = users.unlock(&id).await;
    report.line("UnlockUser", &unlocked, |u| {
        format!("locked {:?}", u.locked)
    });

    let tokens = users
        .oauth_access_tokens(GetOAuthAccessTokens::new(&id, "oauth_google"))
        .await;
    report.line("GetOAuthAccessToken", &tokens, |t| {
        format!("{} token(s)", t.data.len())
    });

    let memberships = users
        .organization_memberships(GetOrganizationMemberships::new(&id))
        .await;
    report.line("UsersGetOrganizationMemberships", &memberships, |m| {
        format!("{} membership(s)", m.total_count)
    });
    let invitations = users
        .organization_invitations(GetOrganizationInvitations::new(&second.id))
        .await;
    report.line("UsersGetOrganizationInvitations", &invitations, |i| {
        format!("{} invitation(s)", i.total_count)
    });
    let instance = users
        .instance_organization_memberships(GetInstanceOrganizationMemberships::new().limit(10))
        .await;
    report.line("InstanceGetOrganizationMemberships", &instance, |m| {
        format!("{} membership(s) in the instance", m.total_count)
    });

    let backup = users.delete_backup_codes(&id).await;
    report.line("DeleteBackupCode", &backup, |r| r.user_id.clone());
    let totp_deleted = users.delete_totp(&id).await;
    report.line("DeleteTOTP", &totp_deleted, |r| r.user_id.clone());
    let mfa = users.disable_mfa(&id).await;
    report.line("DisableMFA", &mfa, |r| r.user_id.clone());

    let passkey = users.delete_passkey(&id, extras.passkey_id.as_str()).await;
    report.line("UserPasskeyDelete", &passkey, |d| {
        format!("deleted {:?}", d.deleted)
    });
    let wallet_id = user
        .web3_wallets
        .first()
        .map(|w| w.id.clone())
        .unwrap_or_default();
    let wallet = users.delete_web3_wallet(&id, wallet_id).await;
    report.line("UserWeb3WalletDelete", &wallet, |d| {
        format!("deleted {:?}", d.deleted)
    });
    let account = users
        .delete_external_account(&id, extras.external_account_id.as_str())
        .await;
    report.line("DeleteExternalAccount", &account, |d| {
        format!("deleted {:?}", d.deleted)
    });

    let mut plan = serde_json::Map::new();
    plan.insert("plan".into(), json!("team"));
    let replaced = users
        .replace_metadata(ReplaceUserMetadata::new(&id).public_metadata(plan))
        .await;
    report.line("ReplaceUserMetadata", &replaced, |u| {
        Value::Object(u.public_metadata.clone())
    });

    let compromised = users
        .set_password_compromised(SetPasswordCompromised::new(&id))
        .await;
    report.line("SetUserPasswordCompromised", &compromised, |u| {
        format!("password_enabled {:?}", u.password_enabled)
    });
    let restored = users.unset_password_compromised(&id).await;
    report.line("UnsetUserPasswordCompromised", &restored, |u| {
        format!("password_enabled {:?}", u.password_enabled)
    });
    let no_password = users.remove_password(RemovePassword::new(&id)).await;
    report.line("RemoveUserPassword", &no_password, |u| {
        format!("password_enabled {:?}", u.password_enabled)
    });

    let email = users
        .replace_email_address(ReplaceEmailAddress::new(
            &id,
            format!("augusta.{tag}@example.com"),
        ))
        .await;
    report.line("ReplaceUserEmailAddress", &email, |e| {
        e.email_address.clone()
    });
    let phone = users
        .replace_phone_number(ReplacePhoneNumber::new(&id, "+14155550142"))
        .await;
    report.line("ReplaceUserPhoneNumber", &phone, |p| p.phone_number.clone());

    let devices = users.trusted_devices(&id).await;
    report.line("ListUserTrustedDevices", &devices, |d| {
        format!("{} device(s)", d.total_count)
    });
    let device_id = devices
        .as_ref()
        .ok()
        .and_then(|d| d.data.first())
        .map_or_else(|| "td_none".to_owned(), |d| d.id.clone());
    let revoked = users.revoke_trusted_device(&id, device_id).await;
    report.line("RevokeUserTrustedDevice", &revoked, |d| {
        d.status.to_string()
    });

    let subscription = users.billing_subscription(&id).await;
    report.line("GetUserBillingSubscription", &subscription, |s| {
        format!("{} {}", s.status, s.subscription_items.len())
    });
    let adjusted = users
        .adjust_billing_credit_balance(
            AdjustBillingCreditBalance::increase(&id, 500, format!("all-ops-{tag}"))
                .note("all_operations"),
        )
        .await;
    report.line("AdjustUserBillingCreditBalance", &adjusted, |l| {
        l.amount.amount_formatted.clone()
    });
    let balance = users.billing_credit_balance(&id).await;
    report.line("GetUserBillingCreditBalance", &balance, |b| {
        b.balance
            .as_ref()
            .map_or_else(|| "none".to_owned(), |m| m.amount_formatted.clone())
    });

    let deleted = users.delete(&id).await;
    report.line("DeleteUser", &deleted, |d| {
        format!("deleted {:?}", d.deleted)
    });
    users.delete(&second.id).await?;

    if let Some(emulator) = emulator {
        emulator
            .shutdown()
            .await
            .map_err(|e| Error::invalid_request(format!("emulator shutdown: {e}")))?;
    }
    Ok(report.failures)
}

struct Extras {
    passkey_id: String,
    external_account_id: String,
}

/// Creates an organization with the user as a member and an invitation for
/// `invitee`; on the emulator also a passkey and an external account
/// (with an OAuth token), which only sign-in flows create on a real instance.
async fn seed_extras(
    clerk: &Clerk,
    user_id: &str,
    invitee: &str,
    emulator: bool,
) -> Result<Extras, Error> {
    let tag = unique_tag();
    let org = raw(
        clerk,
        "POST",
        "/organizations",
        json!({"name": format!("Acme {tag}"), "created_by": user_id}),
    )
    .await?;
    let org_id = org["id"].as_str().unwrap_or_default().to_owned();
    raw(
        clerk,
        "POST",
        &format!("/organizations/{org_id}/invitations"),
        json!({"email_address": invitee, "role": "org:member", "inviter_user_id": user_id}),
    )
    .await?;
    if !emulator {
        // A real instance has no way to make these from the Backend API: the deletes
        // below then report Clerk's answer for ids that do not exist.
        return Ok(Extras {
            passkey_id: "idn_none".into(),
            external_account_id: "eac_none".into(),
        });
    }
    let passkey = raw_at(
        clerk,
        &format!("/_emulator/users/{user_id}/passkeys"),
        json!({"name": "YubiKey"}),
    )
    .await?;
    let account = raw_at(
        clerk,
        &format!("/_emulator/users/{user_id}/external_accounts"),
        json!({"provider": "oauth_google", "email_address": format!("ada.{tag}@gmail.com"), "scopes": ["email"]}),
    )
    .await?;
    raw_at(
        clerk,
        &format!("/_emulator/users/{user_id}/trusted_devices"),
        json!({"platform": "ios", "app_identifier": "com.example.app", "name": "Ada's iPhone"}),
    )
    .await?;
    raw_at(
        clerk,
        &format!("/_emulator/users/{user_id}/billing_subscription"),
        json!({"plan": "Pro", "amount": 2000}),
    )
    .await?;
    Ok(Extras {
        passkey_id: passkey["id"].as_str().unwrap_or_default().to_owned(),
        external_account_id: account["id"].as_str().unwrap_or_default().to_owned(),
    })
}

/// A request outside the Users resource, sent through the client's own stack
/// (auth, retries, rate limit): the stack speaks plain `http::Request`s.
async fn raw(clerk: &Clerk, method: &str, path: &str, body: Value) -> Result<Value, Error> {
    let uri = clerk.base_url().join(path)?;
    send(clerk, method, uri, body).await
}

/// Same, for the emulator's control API, which lives outside `/v1`.
async fn raw_at(clerk: &Clerk, path: &str, body: Value) -> Result<Value, Error> {
    let base = clerk.base_url();
    let uri = format!("{}://{}{path}", base.scheme(), base.authority())
        .parse()
        .map_err(|e| Error::invalid_request(format!("bad uri: {e}")))?;
    send(clerk, "POST", uri, body).await
}

async fn send(clerk: &Clerk, method: &str, uri: http::Uri, body: Value) -> Result<Value, Error> {
    let request = http::Request::builder()
        .method(method)
        .uri(uri)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .map_err(|e| Error::invalid_request(e.to_string()))?;
    let response = clerk.service().clone().oneshot(request).await?;
    if !response.status().is_success() {
        return Err(Error::from_response(&response));
    }
    serde_json::from_slice(response.body().as_bytes())
        .map_err(|e| Error::decode(e, response.body().as_bytes()))
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn unique_tag() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}", nanos % 0xffff_ffff_ffff)
}
