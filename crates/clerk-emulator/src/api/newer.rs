//! The handlers of the operations added after the first 27 (see [`crate::domain::newer`]).

use axum::response::Response;
use serde_json::json;

use super::{Call, ok, ok_value, user_response};
use crate::body::JsonBody;
use crate::domain::{newer, users};
use crate::error::{ApiError, ApiResult};
use crate::op::Op;
use crate::render::{
    credit_balance_json, email_view, ledger_json, phone_view, subscription_json,
    trusted_device_json,
};

/// `POST /users/{id}/password/set_compromised` and `…/unset_compromised`.
pub(crate) fn password_compromised(call: &Call, bytes: &[u8]) -> ApiResult<Response> {
    let set = call.op == Op::SetUserPasswordCompromised;
    if set {
        let body = JsonBody::parse(bytes, Some(&["revoke_all_sessions"]))?;
        // No sessions are emulated: revoking them changes nothing observable.
        body.opt_bool("revoke_all_sessions")?;
    } else {
        JsonBody::expect_empty(bytes)?;
    }
    let mut data = call.inst.write();
    newer::set_password_compromised(&mut data, call.param(0), set, call.now)?;
    user_response(call, &data, call.param(0))
}

/// `POST /users/{id}/remove_password`.
pub(crate) fn remove_password(call: &Call, bytes: &[u8]) -> ApiResult<Response> {
    let body = JsonBody::parse(bytes, Some(&["sign_out_of_other_sessions"]))?;
    body.opt_bool("sign_out_of_other_sessions")?;
    let mut data = call.inst.write();
    newer::remove_password(&mut data, call.param(0), call.now)?;
    user_response(call, &data, call.param(0))
}

/// `PUT /users/{id}/metadata`.
pub(crate) fn replace_metadata(call: &Call, bytes: &[u8]) -> ApiResult<Response> {
    let body = JsonBody::parse(bytes, Some(users::METADATA_FIELDS))?;
    let mut data = call.inst.write();
    users::replace_metadata(&mut data, call.param(0), &body, call.now)?;
    user_response(call, &data, call.param(0))
}

/// `PUT /users/{id}/email_address` and `PUT /users/{id}/phone_number`.
pub(crate) fn replace_identifier(call: &Call, bytes: &[u8]) -> ApiResult<Response> {
    let mut data = call.inst.write();
    let user_id = call.param(0);
    if call.op == Op::ReplaceUserEmailAddress {
        let body = JsonBody::parse(
            bytes,
            Some(&[
                "email_address",
                "identification_status",
                "notify_primary_email_address_changed",
            ]),
        )?;
        let id = newer::replace_email(&mut data, user_id, &body, call.now)?;
        let user = data.users.get(user_id).ok_or_else(ApiError::not_found)?;
        let email = user.emails.iter().find(|e| e.id == id);
        let email = email.ok_or_else(ApiError::not_found)?;
        ok(serde_json::to_vec(&email_view(email)).unwrap_or_default())
    } else {
        let body = JsonBody::parse(bytes, Some(&["phone_number", "identification_status"]))?;
        let id = newer::replace_phone(&mut data, user_id, &body, call.now)?;
        let user = data.users.get(user_id).ok_or_else(ApiError::not_found)?;
        let phone = user.phones.iter().find(|p| p.id == id);
        let phone = phone.ok_or_else(ApiError::not_found)?;
        ok(serde_json::to_vec(&phone_view(phone)).unwrap_or_default())
    }
}

/// `GET /users/{id}/trusted_devices`: the active ones.
pub(crate) fn trusted_devices(call: &Call, bytes: &[u8]) -> ApiResult<Response> {
    JsonBody::expect_empty(bytes)?;
    let data = call.inst.read();
    let user = data
        .users
        .get(call.param(0))
        .ok_or_else(ApiError::not_found)?;
    let active: Vec<_> = user
        .extras
        .trusted_devices
        .iter()
        .filter(|d| d.revoked_at.is_none())
        .map(trusted_device_json)
        .collect();
    ok_value(&json!({ "total_count": active.len(), "data": active }))
}

/// `DELETE /users/{id}/trusted_devices/{trusted_device_id}`.
pub(crate) fn revoke_trusted_device(call: &Call, bytes: &[u8]) -> ApiResult<Response> {
    JsonBody::expect_empty(bytes)?;
    let mut data = call.inst.write();
    let device = newer::revoke_trusted_device(&mut data, call.param(0), call.param(1), call.now)?;
    ok_value(&trusted_device_json(&device))
}

/// `GET /users/{id}/billing/subscription`: 404 for a user without one.
pub(crate) fn subscription(call: &Call, bytes: &[u8]) -> ApiResult<Response> {
    JsonBody::expect_empty(bytes)?;
    let data = call.inst.read();
    let user = data
        .users
        .get(call.param(0))
        .ok_or_else(ApiError::not_found)?;
    let subscription = user.extras.subscription.as_ref();
    let subscription = subscription.ok_or_else(ApiError::not_found)?;
    let legacy = call.version.as_deref().is_some_and(|v| v < "2025-11-10");
    ok_value(&subscription_json(user, subscription, legacy))
}

/// `GET` and `POST /users/{id}/billing/credits`.
pub(crate) fn credits(call: &Call, bytes: &[u8]) -> ApiResult<Response> {
    if call.op == Op::GetUserBillingCreditBalance {
        JsonBody::expect_empty(bytes)?;
        let data = call.inst.read();
        let user = data
            .users
            .get(call.param(0))
            .ok_or_else(ApiError::not_found)?;
        return ok_value(&credit_balance_json(user));
    }
    const FIELDS: &[&str] = &["amount", "action", "currency", "idempotency_key", "note"];
    let body = JsonBody::parse(bytes, Some(FIELDS))?;
    let mut data = call.inst.write();
    let entry = newer::adjust_credits(&mut data, call.param(0), &body, call.now)?;
    let user = data
        .users
        .get(call.param(0))
        .ok_or_else(ApiError::not_found)?;
    ok_value(&ledger_json(user, &entry))
}
