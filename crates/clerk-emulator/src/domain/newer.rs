//! The operations added after the first 27: password compromise and removal, replacing
//! the email address or phone number, trusted devices and billing (subscription, credits).

use crate::body::JsonBody;
use crate::domain::identifiers::{identifier_exists, normalize_email, normalize_phone};
use crate::error::{ApiError, ApiResult};
use crate::ids::new_id;
use crate::model::{CreditEntry, Email, Phone, Subscription, TrustedDevice};
use crate::store::{IdentKind, InstanceData};

fn no_password() -> ApiError {
    ApiError::bad_request(
        "password_not_set",
        "The user does not have a password set.",
        "The user does not have a password set.",
    )
}

/// `set_compromised` (`true`) and `unset_compromised` (`false`). Marking a user without a
/// password is refused; unmarking one is a no-op.
pub(crate) fn set_password_compromised(
    data: &mut InstanceData,
    user_id: &str,
    compromised: bool,
    now: i64,
) -> ApiResult<()> {
    let has_password = data
        .users
        .get(user_id)
        .ok_or_else(ApiError::not_found)?
        .password
        .is_some();
    if compromised && !has_password {
        return Err(no_password());
    }
    data.modify_user(user_id, |u| {
        if u.extras.password_compromised != compromised {
            u.extras.password_compromised = compromised;
            u.updated_at = now;
        }
    });
    Ok(())
}

/// `remove_password`: a user without one comes back unchanged.
pub(crate) fn remove_password(data: &mut InstanceData, user_id: &str, now: i64) -> ApiResult<()> {
    data.modify_user(user_id, |u| {
        if u.password.take().is_some() {
            u.password_last_updated_at = None;
            u.extras.password_compromised = false;
            u.updated_at = now;
        }
    })
    .ok_or_else(ApiError::not_found)
}

/// What the `identification_status` of a replacement means: (reserved, verified).
fn replacement_status(body: &JsonBody) -> ApiResult<bool> {
    match body.opt_string("identification_status")?.as_deref() {
        None | Some("verified") => Ok(false),
        Some("reserved") | Some("unverified") => Ok(true),
        Some(other) => Err(ApiError::value_invalid(
            "identification_status",
            format!("{other:?} is not one of verified, reserved, unverified"),
        )),
    }
}

/// `PUT /users/{id}/email_address`: every address replaced by one, primary unless it is
/// created reserved or unverified. Refused while an address is linked to an external account.
pub(crate) fn replace_email(
    data: &mut InstanceData,
    user_id: &str,
    body: &JsonBody,
    now: i64,
) -> ApiResult<String> {
    let address = normalize_email(&body.required_string("email_address")?)?;
    let unverified = replacement_status(body)?;
    body.opt_bool("notify_primary_email_address_changed")?;
    let user = data.users.get(user_id).ok_or_else(ApiError::not_found)?;
    if !user.external_accounts.is_empty() {
        return Err(ApiError::unprocessable(
            "identification_linked_to_external_account",
            "This email address is linked to a connected account.",
            "Remove the connected account before replacing the email address.",
        ));
    }
    if data
        .ident_owner(IdentKind::Email, &address)
        .is_some_and(|o| o != user_id)
    {
        return Err(identifier_exists(IdentKind::Email));
    }
    let id = new_id("idn");
    let email = Email {
        id: id.clone(),
        email_address: address,
        reserved: unverified,
        created_at: now,
        updated_at: now,
    };
    data.modify_user(user_id, |u| {
        u.emails = vec![email];
        u.primary_email_address_id = (!unverified).then(|| id.clone());
        u.updated_at = now;
    });
    Ok(id)
}

/// `PUT /users/{id}/phone_number`: every number replaced by one, never a second factor
/// (replacing a number that was one disables the user's MFA).
pub(crate) fn replace_phone(
    data: &mut InstanceData,
    user_id: &str,
    body: &JsonBody,
    now: i64,
) -> ApiResult<String> {
    let number = normalize_phone(&body.required_string("phone_number")?)?;
    let unverified = replacement_status(body)?;
    data.users.get(user_id).ok_or_else(ApiError::not_found)?;
    if data
        .ident_owner(IdentKind::Phone, &number)
        .is_some_and(|o| o != user_id)
    {
        return Err(identifier_exists(IdentKind::Phone));
    }
    let id = new_id("idn");
    let phone = Phone {
        id: id.clone(),
        phone_number: number,
        reserved: unverified,
        created_at: now,
        updated_at: now,
    };
    data.modify_user(user_id, |u| {
        u.phones = vec![phone];
        u.primary_phone_number_id = (!unverified).then(|| id.clone());
        u.updated_at = now;
    });
    Ok(id)
}

/// Enrols a trusted device (control API and seed file; only mobile sign-ins do on Clerk).
pub(crate) fn add_trusted_device(
    data: &mut InstanceData,
    user_id: &str,
    body: JsonBody,
    now: i64,
) -> ApiResult<String> {
    body.check_keys(&["platform", "app_identifier", "name", "last_used_at"])?;
    let platform = body.opt_string("platform")?.unwrap_or_else(|| "ios".into());
    if !matches!(platform.as_str(), "ios" | "android") {
        return Err(ApiError::value_invalid(
            "platform",
            "must be ios or android",
        ));
    }
    let app_identifier = body
        .opt_string("app_identifier")?
        .unwrap_or_else(|| "com.example.app".into());
    let device = TrustedDevice {
        id: new_id("td"),
        platform,
        app_identifier,
        name: body.opt_string("name")?,
        revoked_at: None,
        last_used_at: body.int("last_used_at")?.into_option(),
        created_at: now,
        updated_at: now,
    };
    let id = device.id.clone();
    data.modify_user(user_id, |u| u.extras.trusted_devices.push(device))
        .ok_or_else(ApiError::not_found)?;
    Ok(id)
}

/// `DELETE /users/{id}/trusted_devices/{device}`: an active device becomes revoked (a
/// revoked or unknown one is a 404, as it is no longer listed).
pub(crate) fn revoke_trusted_device(
    data: &mut InstanceData,
    user_id: &str,
    device_id: &str,
    now: i64,
) -> ApiResult<TrustedDevice> {
    data.modify_user(user_id, |u| {
        let d = u
            .extras
            .trusted_devices
            .iter_mut()
            .find(|d| d.id == device_id && d.revoked_at.is_none())?;
        d.revoked_at = Some(now);
        d.updated_at = now;
        Some(d.clone())
    })
    .flatten()
    .ok_or_else(ApiError::not_found)
}

/// Gives a user a billing subscription (control API and seed file).
pub(crate) fn set_subscription(
    data: &mut InstanceData,
    user_id: &str,
    body: JsonBody,
    now: i64,
) -> ApiResult<()> {
    body.check_keys(&["plan", "amount", "currency", "status", "period"])?;
    let plan_name = body.opt_string("plan")?.unwrap_or_else(|| "Pro".into());
    let amount = body.int("amount")?.into_option().unwrap_or(2000);
    if amount < 0 {
        return Err(ApiError::value_invalid("amount", "must not be negative"));
    }
    let status = body
        .opt_string("status")?
        .unwrap_or_else(|| "active".into());
    const STATUSES: &[&str] = &[
        "active",
        "past_due",
        "canceled",
        "ended",
        "abandoned",
        "incomplete",
    ];
    if !STATUSES.contains(&status.as_str()) {
        return Err(ApiError::value_invalid("status", STATUSES.join(", ")));
    }
    let period = body.opt_string("period")?.unwrap_or_else(|| "month".into());
    if !matches!(period.as_str(), "month" | "annual") {
        return Err(ApiError::value_invalid("period", "must be month or annual"));
    }
    let days: i64 = if period == "month" { 30 } else { 365 };
    let slug: String = plan_name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let subscription = Subscription {
        id: new_id("csub"),
        item_id: new_id("csubi"),
        payer_id: new_id("cpayer"),
        status,
        plan_id: new_id("cplan"),
        plan_name,
        plan_slug: slug,
        amount,
        currency: body.opt_string("currency")?.unwrap_or_else(|| "USD".into()),
        period,
        period_start: now,
        period_end: now + days * 86_400_000,
        created_at: now,
    };
    data.modify_user(user_id, |u| {
        u.extras.subscription = Some(Box::new(subscription))
    })
    .ok_or_else(ApiError::not_found)
}

/// `POST /users/{id}/billing/credits`: one ledger entry per idempotency key; a key seen
/// before returns its first entry and changes nothing.
pub(crate) fn adjust_credits(
    data: &mut InstanceData,
    user_id: &str,
    body: &JsonBody,
    now: i64,
) -> ApiResult<CreditEntry> {
    let amount = match body.int("amount")? {
        crate::body::Patch::Set(n) => n,
        _ => return Err(ApiError::missing_param("amount")),
    };
    if amount <= 0 {
        return Err(ApiError::value_invalid(
            "amount",
            "must be greater than zero",
        ));
    }
    let sign = match body.required_string("action")?.as_str() {
        "increase" => 1,
        "decrease" => -1,
        other => {
            return Err(ApiError::value_invalid(
                "action",
                format!("{other:?} is not one of increase, decrease"),
            ));
        }
    };
    let key = body.required_string("idempotency_key")?;
    if key.is_empty() {
        return Err(ApiError::value_invalid(
            "idempotency_key",
            "must not be empty",
        ));
    }
    let currency = body
        .opt_string("currency")?
        .unwrap_or_else(|| "USD".into())
        .to_uppercase();
    let note = body.opt_string("note")?;
    let user = data.users.get(user_id).ok_or_else(ApiError::not_found)?;
    if let Some(first) = user
        .extras
        .credit_ledger
        .iter()
        .find(|e| e.idempotency_key == key)
    {
        return Ok(first.clone());
    }
    let entry = CreditEntry {
        id: new_id("ccl"),
        idempotency_key: key,
        amount: sign * amount,
        currency,
        note,
        created_at: now,
    };
    data.modify_user(user_id, |u| u.extras.credit_ledger.push(entry.clone()));
    Ok(entry)
}
