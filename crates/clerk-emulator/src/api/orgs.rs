//! The organization handlers: `POST /organizations`, `POST /organizations/{id}/memberships`,
//! `POST /organizations/{id}/invitations` and `GET /organization_memberships`.

use axum::response::Response;
use serde_json::json;

use super::{Call, ctx, ok};
use crate::body::JsonBody;
use crate::domain::orgs;
use crate::error::{ApiError, ApiResult};
use crate::render::{invitation_view, membership_view, organization_view};

/// `POST /organizations`.
pub(crate) fn create(call: &Call, bytes: &[u8]) -> ApiResult<Response> {
    let body = JsonBody::parse(bytes, Some(orgs::ORG_FIELDS))?;
    let mut data = call.inst.write();
    let id = orgs::create_org(&mut data, &body, call.now, None)?;
    let org = data.orgs.get(&id).ok_or_else(ApiError::not_found)?;
    ok(serde_json::to_vec(&organization_view(org, ctx(call, &data))).unwrap_or_default())
}

/// `POST /organizations/{id}/memberships`.
pub(crate) fn create_membership(call: &Call, bytes: &[u8]) -> ApiResult<Response> {
    let body = JsonBody::parse(bytes, Some(orgs::MEMBERSHIP_FIELDS))?;
    let mut data = call.inst.write();
    let id = orgs::create_membership(&mut data, call.param(0), &body, call.now)?;
    let m = data.memberships.get(&id).ok_or_else(ApiError::not_found)?;
    ok(serde_json::to_vec(&membership_view(m, ctx(call, &data), true)).unwrap_or_default())
}

/// `POST /organizations/{id}/invitations`.
pub(crate) fn create_invitation(call: &Call, bytes: &[u8]) -> ApiResult<Response> {
    let body = JsonBody::parse(bytes, Some(orgs::INVITATION_FIELDS))?;
    let mut data = call.inst.write();
    let id = orgs::create_invitation(&mut data, call.param(0), &body, call.now)?;
    let i = data.invitations.get(&id).ok_or_else(ApiError::not_found)?;
    ok(serde_json::to_vec(&invitation_view(i, ctx(call, &data), false)).unwrap_or_default())
}

/// `GET /organization_memberships`: every membership of the instance.
pub(crate) fn instance_memberships(call: &Call, bytes: &[u8]) -> ApiResult<Response> {
    JsonBody::expect_empty(bytes)?;
    let data = call.inst.read();
    let (mems, total) = orgs::instance_memberships(&call.query, &data)?;
    let c = ctx(call, &data);
    let page: Vec<_> = mems
        .into_iter()
        .filter_map(|m| membership_view(m, c, true))
        .collect();
    ok(serde_json::to_vec(&json!({ "data": page, "total_count": total })).unwrap_or_default())
}
