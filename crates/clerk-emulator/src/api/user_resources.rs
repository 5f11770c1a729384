//! The handlers of a user's sub-resources: OAuth tokens, organization memberships and
//! invitations, second factors, passkeys, web3 wallets and external accounts.

use axum::response::Response;
use serde_json::json;

use super::{Call, ctx, ok, ok_value};
use crate::body::JsonBody;
use crate::domain::user_actions::{self, MfaRemoval, SubResource};
use crate::error::{ApiError, ApiResult};
use crate::op::Op;
use crate::render::{deleted_object, token_view};

/// `GET /users/{id}/oauth_access_tokens/{provider}`: a bare array, or `{data, total_count}`
/// with `paginated=true`.
pub(crate) fn oauth_tokens(call: &Call, body: &[u8]) -> ApiResult<Response> {
    JsonBody::expect_empty(body)?;
    let paginated = call.query.boolean("paginated")?.unwrap_or(false);
    let (limit, offset) = call.query.page()?;
    let provider = call.param(1);
    let provider = if provider.starts_with("oauth_") {
        provider.to_owned()
    } else {
        format!("oauth_{provider}")
    };
    let data = call.inst.read();
    let u = data
        .users
        .get(call.param(0))
        .ok_or_else(ApiError::not_found)?;
    let all: Vec<_> = u
        .external_accounts
        .iter()
        .filter(|a| a.provider == provider)
        .filter_map(token_view)
        .collect();
    let total = all.len();
    let page: Vec<_> = all.into_iter().skip(offset).take(limit).collect();
    let bytes = if paginated {
        serde_json::to_vec(&json!({ "data": page, "total_count": total }))
    } else {
        serde_json::to_vec(&page)
    };
    ok(bytes.unwrap_or_default())
}

/// `GET /users/{id}/organization_memberships`.
pub(crate) fn memberships(call: &Call, body: &[u8]) -> ApiResult<Response> {
    JsonBody::expect_empty(body)?;
    let (limit, offset) = call.query.page()?;
    let data = call.inst.read();
    if !data.users.contains_key(call.param(0)) {
        return Err(ApiError::not_found());
    }
    let c = ctx(call, &data);
    let all: Vec<_> = data
        .memberships_of(call.param(0))
        .filter_map(|m| crate::render::membership_view(m, c, true))
        .collect();
    let total = all.len();
    let page: Vec<_> = all.into_iter().skip(offset).take(limit).collect();
    ok(serde_json::to_vec(&json!({ "data": page, "total_count": total })).unwrap_or_default())
}

/// `GET /users/{id}/organization_invitations`: the invitations to any of its email addresses.
pub(crate) fn invitations(call: &Call, body: &[u8]) -> ApiResult<Response> {
    JsonBody::expect_empty(body)?;
    let (limit, offset) = call.query.page()?;
    let status = call.query.first("status");
    if let Some(s) = status
        && !["pending", "accepted", "revoked", "expired"].contains(&s)
    {
        return Err(ApiError::value_invalid(
            "status",
            "must be one of pending, accepted, revoked, expired",
        ));
    }
    let data = call.inst.read();
    let u = data
        .users
        .get(call.param(0))
        .ok_or_else(ApiError::not_found)?;
    let emails: Vec<&str> = u.emails.iter().map(|e| e.email_address.as_str()).collect();
    let mut invs: Vec<_> = data
        .invitations
        .values()
        .filter(|i| emails.contains(&i.email_address.as_str()))
        .filter(|i| status.is_none_or(|s| i.effective_status(call.now) == s))
        .collect();
    invs.sort_by_key(|i| std::cmp::Reverse(i.seq));
    let total = invs.len();
    let c = ctx(call, &data);
    let page: Vec<_> = invs
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|i| crate::render::invitation_view(i, c, true))
        .collect();
    ok(serde_json::to_vec(&json!({ "data": page, "total_count": total })).unwrap_or_default())
}

/// `DELETE /users/{id}/mfa`, `/backup_code` and `/totp`.
pub(crate) fn remove_mfa(call: &Call, bytes: &[u8]) -> ApiResult<Response> {
    JsonBody::expect_empty(bytes)?;
    let removal = match call.op {
        Op::DeleteBackupCode => MfaRemoval::BackupCodes,
        Op::DeleteTOTP => MfaRemoval::Totp,
        _ => MfaRemoval::All,
    };
    let mut data = call.inst.write();
    user_actions::remove_mfa(&mut data, call.param(0), removal, call.now)?;
    ok_value(&json!({ "user_id": call.param(0) }))
}

/// `DELETE /users/{id}/passkeys/{id}`, `/web3_wallets/{id}` and `/external_accounts/{id}`.
pub(crate) fn delete_sub_resource(call: &Call, bytes: &[u8]) -> ApiResult<Response> {
    JsonBody::expect_empty(bytes)?;
    let kind = match call.op {
        Op::UserPasskeyDelete => SubResource::Passkey,
        Op::UserWeb3WalletDelete => SubResource::Web3Wallet,
        _ => SubResource::ExternalAccount,
    };
    let sub = call.param(1);
    let mut data = call.inst.write();
    user_actions::delete_sub_resource(&mut data, call.param(0), kind, sub, call.now)?;
    ok_value(&deleted_object(kind.object(), sub))
}
