//! The `/v1` API: routing, version and key checks, rate limits, then the operation handlers.

pub(crate) mod control;
pub(crate) mod control_guard;
mod newer;
mod orgs;
mod profile_image;
pub(crate) mod route;
mod user_resources;
mod users;
mod verify;

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Request, StatusCode, header};
use serde_json::Value;

use crate::app::{App, Instance};
use crate::body::Query;
use crate::error::{ApiError, ApiResult, json_bytes_response, json_response};
use crate::model::User;
use crate::op::Op;
use crate::render::{Ctx, user_json, user_view};
use crate::store::InstanceData;

/// JSON bodies are capped at 1 MiB.
pub(crate) const JSON_LIMIT: usize = 1 << 20;
/// Profile images are capped at 10 MiB.
pub(crate) const IMAGE_LIMIT: usize = 10 << 20;

/// `Clerk-API-Version` values with a published spec.
pub(crate) const API_VERSIONS: &[&str] = &[
    "2021-02-05",
    "2024-10-01",
    "2025-03-12",
    "2025-04-10",
    "2025-11-10",
    "2026-05-12",
];

/// Everything a handler needs about one authenticated request.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) app: Arc<App>,
    pub(crate) inst: Arc<Instance>,
    pub(crate) op: Op,
    pub(crate) params: Vec<String>,
    pub(crate) query: Query,
    pub(crate) version: Option<String>,
    pub(crate) now: i64,
}

impl Call {
    pub(crate) fn param(&self, i: usize) -> &str {
        self.params.get(i).map_or("", String::as_str)
    }
}

fn api_version(headers: &HeaderMap, query: &Query) -> ApiResult<Option<String>> {
    let invalid = |v: &str| {
        ApiError::bad_request(
            "api_version_invalid",
            "Invalid API version",
            format!(
                "The requested API version {v:?} is invalid. Supported versions: {}.",
                API_VERSIONS.join(", ")
            ),
        )
    };
    let mut values = headers.get_all("clerk-api-version").iter();
    let header_value = match (values.next(), values.next()) {
        (None, _) => None,
        (Some(v), None) => Some(
            v.to_str()
                .map_err(|_| invalid("(non-ASCII)"))?
                .trim()
                .to_owned(),
        ),
        (Some(_), Some(_)) => return Err(invalid("(sent more than once)")),
    };
    let query_values = query.all("__clerk_api_version");
    let version = match (header_value, query_values.as_slice()) {
        (Some(h), []) => Some(h),
        (None, []) => None,
        (None, [q]) => Some((*q).to_owned()),
        _ => {
            return Err(ApiError::bad_request(
                "api_version_invalid",
                "Invalid API version",
                "Choose only one way to set the API version: the Clerk-API-Version header or the __clerk_api_version query parameter.",
            ));
        }
    };
    match version {
        Some(v) if !API_VERSIONS.contains(&v.as_str()) => Err(invalid(&v)),
        v => Ok(v),
    }
}

/// The instance of the `Authorization: Bearer <key>` header.
pub(crate) fn authenticate(app: &App, headers: &HeaderMap) -> ApiResult<Arc<Instance>> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(ApiError::unauthorized)?;
    let (scheme, key) = value
        .trim()
        .split_once(' ')
        .ok_or_else(ApiError::unauthorized)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::unauthorized());
    }
    app.instance(key.trim())
        .cloned()
        .ok_or_else(ApiError::unauthorized)
}

/// Reads a whole body up to `limit` bytes (413 beyond).
pub(crate) async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> ApiResult<bytes::Bytes> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::payload_too_large(limit));
    }
    // A read error is either the cap (chunked bodies) or a client that went away; the answer
    // only matters in the first case.
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::payload_too_large(limit))
}

/// Serves one `/v1/...` request.
pub(crate) async fn serve_v1(app: Arc<App>, req: Request<Body>) -> Response {
    match handle_v1(app, req).await {
        Ok(res) => res,
        Err(e) => e.into_response(),
    }
}

/// The routing result, computed once by the connection service and handed down.
#[derive(Debug, Clone)]
pub(crate) struct Routed(pub(crate) Result<(Op, Vec<String>), route::RouteError>);

async fn handle_v1(app: Arc<App>, mut req: Request<Body>) -> ApiResult<Response> {
    let routed = match req.extensions_mut().remove::<Routed>() {
        Some(Routed(r)) => r,
        None => route::route(req.method(), req.uri().path()),
    };
    // Like Clerk, an unknown path or a method the path does not have is a 404.
    let (op, params) = routed.map_err(|_| ApiError::not_found())?;
    let query = Query::parse(req.uri().query());
    let version = api_version(req.headers(), &query)?;
    // An operation newer than the version asked for does not exist there: 404, like an
    // unknown path. No version at all gets the newest behaviour.
    if let (Some(since), Some(v)) = (op.since_version(), version.as_deref())
        && v < since
    {
        return Err(ApiError::not_found());
    }
    let inst = authenticate(&app, req.headers())?;
    inst.requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let per_user = op
        .is_per_user_limited()
        .then(|| params.first().map(String::as_str))
        .flatten();
    let admitted = inst.limiter().check(Instant::now(), op.name(), per_user);
    if let Err(secs) = admitted {
        app.counters
            .rate_limited
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return Err(ApiError::too_many_requests(secs));
    }
    // A `slow_apply` fault: admitted on arrival, applied late.
    if let Some(crate::faults::ApplyAfter(after)) = req.extensions_mut().remove() {
        tokio::time::sleep(after).await;
    }
    let call = Call {
        app,
        inst,
        op,
        params,
        query,
        version,
        now: crate::time::now_ms(),
    };
    if op == Op::SetUserProfileImage {
        return profile_image::set_profile_image(call, req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = read_body(body, &parts.headers, JSON_LIMIT).await?;
    let call = &call;
    match op {
        Op::GetUserList => users::list(call),
        Op::GetUsersCount => users::count(call),
        Op::CreateUser => users::create(call, &bytes),
        Op::GetUser => users::get(call, &bytes),
        Op::UpdateUser => users::update(call, &bytes),
        Op::DeleteUser => users::delete(call, &bytes),
        Op::BanUser
        | Op::UnbanUser
        | Op::LockUser
        | Op::UnlockUser
        | Op::DeleteUserProfileImage => users::change_status(call, &bytes),
        Op::UsersBan | Op::UsersUnban => users::ban_many(call, &bytes),
        Op::UpdateUserMetadata => users::update_metadata(call, &bytes),
        Op::GetOAuthAccessToken => user_resources::oauth_tokens(call, &bytes),
        Op::UsersGetOrganizationMemberships => user_resources::memberships(call, &bytes),
        Op::UsersGetOrganizationInvitations => user_resources::invitations(call, &bytes),
        Op::DisableMFA | Op::DeleteBackupCode | Op::DeleteTOTP => {
            user_resources::remove_mfa(call, &bytes)
        }
        Op::UserPasskeyDelete | Op::UserWeb3WalletDelete | Op::DeleteExternalAccount => {
            user_resources::delete_sub_resource(call, &bytes)
        }
        Op::VerifyPassword => verify::verify_password(call, &bytes).await,
        Op::VerifyTOTP => verify::verify_totp(call, &bytes).await,
        Op::SetUserProfileImage => Err(ApiError::not_found()),
        Op::CreateOrganization => orgs::create(call, &bytes),
        Op::CreateOrganizationMembership => orgs::create_membership(call, &bytes),
        Op::CreateOrganizationInvitation => orgs::create_invitation(call, &bytes),
        Op::InstanceGetOrganizationMemberships => orgs::instance_memberships(call, &bytes),
        Op::SetUserPasswordCompromised | Op::UnsetUserPasswordCompromised => {
            newer::password_compromised(call, &bytes)
        }
        Op::RemoveUserPassword => newer::remove_password(call, &bytes),
        Op::ReplaceUserMetadata => newer::replace_metadata(call, &bytes),
        Op::ReplaceUserEmailAddress | Op::ReplaceUserPhoneNumber => {
            newer::replace_identifier(call, &bytes)
        }
        Op::ListUserTrustedDevices => newer::trusted_devices(call, &bytes),
        Op::RevokeUserTrustedDevice => newer::revoke_trusted_device(call, &bytes),
        Op::GetUserBillingSubscription => newer::subscription(call, &bytes),
        Op::GetUserBillingCreditBalance | Op::AdjustUserBillingCreditBalance => {
            newer::credits(call, &bytes)
        }
    }
}

fn ok(bytes: Vec<u8>) -> ApiResult<Response> {
    Ok(json_bytes_response(StatusCode::OK, bytes))
}

fn ok_value(v: &Value) -> ApiResult<Response> {
    Ok(json_response(StatusCode::OK, v))
}

fn ctx<'a>(call: &'a Call, data: &'a InstanceData) -> Ctx<'a> {
    Ctx {
        now: call.now,
        origin: &call.app.origin,
        data,
    }
}

/// The user `id` as the API renders it (404 when it is gone).
fn user_response(call: &Call, data: &InstanceData, id: &str) -> ApiResult<Response> {
    let u = data.users.get(id).ok_or_else(ApiError::not_found)?;
    ok(user_json(u, ctx(call, data)))
}

/// Users as a bare JSON array, as `GET /users` and the bulk bans answer.
fn users_array(call: &Call, data: &InstanceData, users: &[&User]) -> ApiResult<Response> {
    let c = ctx(call, data);
    let views: Vec<_> = users.iter().map(|u| user_view(u, c)).collect();
    ok(serde_json::to_vec(&views).unwrap_or_default())
}
