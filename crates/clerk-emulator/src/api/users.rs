//! The handlers of the user record itself: list, count, create, get, update, delete, ban,
//! lock, metadata and the bulk bans. The rules live in [`crate::domain`].

use axum::response::Response;
use serde_json::{Value, json};

use super::{Call, ok_value, user_response, users_array};
use crate::body::JsonBody;
use crate::domain::user_actions::{self, StatusChange};
use crate::domain::{search, users};
use crate::error::{ApiError, ApiResult};
use crate::model::User;
use crate::op::Op;
use crate::render::deleted_object;

/// `GET /users`.
pub(crate) fn list(call: &Call) -> ApiResult<Response> {
    let data = call.inst.read();
    let page = search::list(&call.query, &data)?;
    users_array(call, &data, &page)
}

/// `GET /users/count`.
pub(crate) fn count(call: &Call) -> ApiResult<Response> {
    let data = call.inst.read();
    let n = search::count(&call.query, &data)?;
    ok_value(&json!({ "object": "total_count", "total_count": n }))
}

/// `POST /users`.
pub(crate) fn create(call: &Call, bytes: &[u8]) -> ApiResult<Response> {
    let body = JsonBody::parse(bytes, Some(users::CREATE_FIELDS))?;
    let mut data = call.inst.write();
    let id = users::create_user(&mut data, &body, call.now, None)?;
    user_response(call, &data, &id)
}

/// `GET /users/{id}`.
pub(crate) fn get(call: &Call, bytes: &[u8]) -> ApiResult<Response> {
    JsonBody::expect_empty(bytes)?;
    let data = call.inst.read();
    user_response(call, &data, call.param(0))
}

/// `PATCH /users/{id}`.
pub(crate) fn update(call: &Call, bytes: &[u8]) -> ApiResult<Response> {
    let body = JsonBody::parse(bytes, Some(users::UPDATE_FIELDS))?;
    if call.version.as_deref() == Some("2026-05-12") {
        // That version moved metadata writes to the metadata endpoints.
        if let Some(k) = users::METADATA_FIELDS.iter().find(|k| body.has(k)) {
            return Err(ApiError::unknown_param(k));
        }
    }
    let mut data = call.inst.write();
    users::update_user(&mut data, call.param(0), &body, call.now)?;
    user_response(call, &data, call.param(0))
}

/// `PATCH /users/{id}/metadata`.
pub(crate) fn update_metadata(call: &Call, bytes: &[u8]) -> ApiResult<Response> {
    let body = JsonBody::parse(bytes, Some(users::METADATA_FIELDS))?;
    let mut data = call.inst.write();
    users::update_metadata(&mut data, call.param(0), &body, call.now)?;
    user_response(call, &data, call.param(0))
}

/// `DELETE /users/{id}`: the deleted object, with the `external_id` it had.
pub(crate) fn delete(call: &Call, bytes: &[u8]) -> ApiResult<Response> {
    JsonBody::expect_empty(bytes)?;
    let mut data = call.inst.write();
    let u = user_actions::delete_user(&mut data, call.param(0))?;
    let mut v = deleted_object("user", &u.id);
    if let (Some(ext), Some(obj)) = (u.external_id, v.as_object_mut()) {
        obj.insert("external_id".into(), Value::String(ext));
    }
    ok_value(&v)
}

/// `POST /users/{id}/ban|unban|lock|unlock` and `DELETE /users/{id}/profile_image`.
pub(crate) fn change_status(call: &Call, bytes: &[u8]) -> ApiResult<Response> {
    JsonBody::expect_empty(bytes)?;
    let change = match call.op {
        Op::BanUser => StatusChange::Ban,
        Op::UnbanUser => StatusChange::Unban,
        Op::LockUser => StatusChange::Lock,
        Op::UnlockUser => StatusChange::Unlock,
        _ => StatusChange::RemoveProfileImage,
    };
    let mut data = call.inst.write();
    user_actions::change_status(&mut data, call.param(0), change, call.now)?;
    user_response(call, &data, call.param(0))
}

/// `POST /users/ban` and `POST /users/unban`: the users found, as a bare array.
pub(crate) fn ban_many(call: &Call, bytes: &[u8]) -> ApiResult<Response> {
    // The spec leaves this body open (no additionalProperties: false).
    let body = JsonBody::parse(bytes, None)?;
    let mut data = call.inst.write();
    let done = user_actions::ban_many(&mut data, &body, call.op == Op::UsersBan, call.now)?;
    let users: Vec<&User> = done
        .iter()
        .filter_map(|id| data.users.get(id).map(|u| &**u))
        .collect();
    users_array(call, &data, &users)
}
