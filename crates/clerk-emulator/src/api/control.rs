//! The emulator's own control API under `/_emulator/` (never rate limited, never faulted).

use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, Request, StatusCode, header};
use serde_json::{Value, json};

use super::body::{JsonBody, Patch};
use super::route::segments;
use super::{JSON_LIMIT, authenticate, read_body};
use crate::app::App;
use crate::config::{FaultKind, FaultSpec, Latency};
use crate::error::{ApiError, ApiResult, json_bytes_response, json_response};
use crate::faults::Scripted;
use crate::ids::{new_id, random_hex};
use crate::model::{ExternalAccount, OAuthToken, Passkey};
use crate::render::{Ctx, external_account_view, user_json};
use crate::store::InstanceData;

/// The avatar served for users without a profile image.
const DEFAULT_AVATAR: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64" fill="#6c47ff"/></svg>"##;

pub(crate) async fn handle(app: Arc<App>, req: Request<Body>) -> Response {
    match handle_inner(app, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn handle_inner(app: Arc<App>, req: Request<Body>) -> ApiResult<Response> {
    let segs = segments(req.uri().path()).ok_or_else(ApiError::not_found)?;
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let method = req.method().clone();
    let (parts, body) = req.into_parts();
    let bytes = read_body(body, &parts.headers, JSON_LIMIT).await?;
    let ok = |v: Value| Ok(json_response(StatusCode::OK, &v));
    match (&method, &segs[1..]) {
        (&Method::GET, ["health"]) => ok(json!({ "ok": true })),
        (&Method::GET, ["stats"]) => ok(serde_json::to_value(app.stats()).unwrap_or_default()),
        (&Method::POST, ["reset"]) => {
            JsonBody::expect_empty(&bytes)?;
            app.reset();
            ok(json!({ "reset": true }))
        }
        (&Method::GET, ["faults"]) => ok(faults_json(&app)),
        (&Method::DELETE, ["faults"]) => {
            app.faults.clear();
            ok(faults_json(&app))
        }
        (&Method::POST, ["faults"]) => {
            set_faults(&app, &bytes)?;
            ok(faults_json(&app))
        }
        (&Method::GET, ["images", id]) => image(&app, id),
        (&Method::POST | &Method::PATCH, ["users", user_id, kind]) => {
            let inst = authenticate(&app, &parts.headers)?;
            let now = crate::time::now_ms();
            let mut data = inst.write();
            let body = JsonBody::parse(&bytes, None)?;
            let ctx = |data| Ctx {
                now,
                origin: &app.origin,
                data,
            };
            match (&method, *kind) {
                (&Method::POST, "external_accounts") => {
                    let id = add_external_account(&mut data, user_id, body, now)?;
                    let u = data.users.get(*user_id).ok_or_else(ApiError::not_found)?;
                    let a = u
                        .external_accounts
                        .iter()
                        .find(|a| a.id == id)
                        .ok_or_else(ApiError::not_found)?;
                    ok(serde_json::to_value(external_account_view(a)).unwrap_or_default())
                }
                (&Method::POST, "passkeys") => {
                    let id = add_passkey(&mut data, user_id, body, now)?;
                    ok(json!({ "id": id, "user_id": user_id }))
                }
                (&Method::PATCH, "activity") => {
                    set_activity(&mut data, user_id, body)?;
                    let u = data.users.get(*user_id).ok_or_else(ApiError::not_found)?;
                    Ok(json_bytes_response(
                        StatusCode::OK,
                        user_json(u, ctx(&data)),
                    ))
                }
                _ => Err(ApiError::not_found()),
            }
        }
        _ => Err(ApiError::not_found()),
    }
}

fn faults_json(app: &App) -> Value {
    let (spec, next, latency) = app.faults.describe();
    json!({
        "spec": spec.to_string(),
        "probabilities": FaultKind::ALL.iter().map(|k| (k.as_str().to_owned(), json!(spec.probability(*k)))).collect::<serde_json::Map<_, _>>(),
        "latency_ms": latency.map(|l| json!({ "min": l.min.as_millis() as u64, "max": l.max.as_millis() as u64 })),
        "next": next,
    })
}

/// `POST /_emulator/faults`: see the crate docs for the body.
fn set_faults(app: &App, bytes: &[u8]) -> ApiResult<()> {
    const KEYS: &[&str] = &[
        "spec",
        "5xx",
        "reset",
        "lost_response",
        "429",
        "latency_ms",
        "next",
        "clear_next",
    ];
    let body = JsonBody::parse(bytes, Some(KEYS))?;
    let mut spec = match body.opt_string("spec")? {
        Some(s) => s
            .parse::<FaultSpec>()
            .map_err(|e| ApiError::invalid_param("spec", e))?,
        None => app.faults.spec(),
    };
    for kind in FaultKind::ALL {
        let key = kind.as_str();
        let p = match body_number(&body, key)? {
            Some(p) => p,
            None => continue,
        };
        spec = spec
            .with(kind, p)
            .map_err(|e| ApiError::invalid_param(key, e))?;
    }
    let latency = if body.has("latency_ms") {
        match body.object("latency_ms")? {
            Patch::Set(m) => {
                let get = |k: &str| m.get(k).and_then(Value::as_u64);
                let (Some(min), Some(max)) = (get("min"), get("max")) else {
                    return Err(ApiError::invalid_param(
                        "latency_ms",
                        "expected {\"min\": ms, \"max\": ms}",
                    ));
                };
                if min > max {
                    return Err(ApiError::invalid_param(
                        "latency_ms",
                        "min must not exceed max",
                    ));
                }
                Some(Some(Latency {
                    min: std::time::Duration::from_millis(min),
                    max: std::time::Duration::from_millis(max),
                }))
            }
            _ => Some(None),
        }
    } else {
        None
    };
    let next: Vec<Scripted> = match body.raw("next").cloned() {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => serde_json::from_value(v).map_err(|e| ApiError::invalid_param("next", e))?,
    };
    for entry in &next {
        entry
            .to_fault()
            .map_err(|e| ApiError::invalid_param("next", e))?;
    }
    let clear = body.opt_bool("clear_next")?.unwrap_or(false);
    if clear {
        let (s, _, l) = app.faults.describe();
        app.faults.clear();
        app.faults.set_spec(s);
        app.faults.set_latency(l);
    }
    app.faults.set_spec(spec);
    if let Some(l) = latency {
        app.faults.set_latency(l);
    }
    app.faults.push(next);
    Ok(())
}

fn body_number(body: &JsonBody, key: &str) -> ApiResult<Option<f64>> {
    match body.raw(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| ApiError::invalid_param(key, "expected a probability between 0 and 1")),
    }
}

fn image(app: &App, id: &str) -> ApiResult<Response> {
    let found = if id == "default" {
        Some((
            "image/svg+xml".to_owned(),
            DEFAULT_AVATAR.as_bytes().to_vec(),
        ))
    } else {
        app.instances.iter().find_map(|i| {
            i.read()
                .images
                .get(id)
                .map(|img| (img.content_type.clone(), img.bytes.clone()))
        })
    };
    let (ct, bytes) = found.ok_or_else(ApiError::not_found)?;
    let mut res = Response::new(Body::from(bytes));
    if let Ok(v) = HeaderValue::from_str(&ct) {
        res.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    Ok(res)
}

fn valid_provider(p: &str) -> bool {
    let rest = p.strip_prefix("oauth_").unwrap_or("");
    let rest = rest
        .strip_prefix("custom_")
        .or_else(|| rest.strip_prefix("token_"))
        .unwrap_or(rest);
    !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_lowercase())
}

const EXTERNAL_ACCOUNT_FIELDS: &[&str] = &[
    "provider",
    "provider_user_id",
    "email_address",
    "first_name",
    "last_name",
    "username",
    "phone_number",
    "image_url",
    "approved_scopes",
    "label",
    "public_metadata",
    "token",
    "token_secret",
    "id_token",
    "scopes",
    "expires_at",
];

/// Attaches an external account (and its OAuth access token) to a user, as a sign-in would.
pub(crate) fn add_external_account(
    data: &mut InstanceData,
    user_id: &str,
    body: JsonBody,
    now: i64,
) -> ApiResult<String> {
    body.check_keys(EXTERNAL_ACCOUNT_FIELDS)?;
    let provider = body.required_string("provider")?;
    let provider = if provider.starts_with("oauth_") {
        provider
    } else {
        format!("oauth_{provider}")
    };
    if !valid_provider(&provider) {
        return Err(ApiError::invalid_param(
            "provider",
            "expected a provider such as oauth_google",
        ));
    }
    let user = data.users.get(user_id).ok_or_else(ApiError::not_found)?;
    let s = |k: &str| body.opt_string(k);
    let scopes = body.string_list("scopes")?;
    let token = match body.string("token")? {
        Patch::Null => None,
        Patch::Set(t) => Some(t),
        Patch::Absent => Some(format!("oauth_token_{}", random_hex(16))),
    };
    let expires_at = body.int("expires_at")?.into_option();
    let account = ExternalAccount {
        id: new_id("eac"),
        identification_id: new_id("idn"),
        provider_user_id: s("provider_user_id")?.unwrap_or_else(|| random_hex(10)),
        approved_scopes: s("approved_scopes")?
            .or_else(|| scopes.as_ref().map(|v| v.join(" ")))
            .unwrap_or_else(|| "email profile".into()),
        email_address: s("email_address")?
            .or_else(|| user.primary_email().map(str::to_owned))
            .unwrap_or_default(),
        first_name: s("first_name")?
            .or_else(|| user.first_name.clone())
            .unwrap_or_default(),
        last_name: s("last_name")?
            .or_else(|| user.last_name.clone())
            .unwrap_or_default(),
        image_url: s("image_url")?,
        username: s("username")?,
        phone_number: s("phone_number")?,
        public_metadata: body
            .object("public_metadata")?
            .into_option()
            .unwrap_or_default(),
        label: s("label")?,
        created_at: now,
        updated_at: now,
        token: token.map(|token| OAuthToken {
            token,
            token_secret: None,
            id_token: None,
            scopes: scopes.clone(),
            expires_at,
        }),
        provider,
    };
    let mut account = account;
    if let Some(t) = account.token.as_mut() {
        t.token_secret = s("token_secret")?;
        t.id_token = s("id_token")?;
    }
    let id = account.id.clone();
    data.modify_user(user_id, |u| {
        u.external_accounts.push(account);
        u.updated_at = now;
    });
    Ok(id)
}

/// Registers a passkey on a user.
pub(crate) fn add_passkey(
    data: &mut InstanceData,
    user_id: &str,
    body: JsonBody,
    now: i64,
) -> ApiResult<String> {
    body.check_keys(&["name", "last_used_at"])?;
    let name = body.opt_string("name")?.unwrap_or_else(|| "Passkey".into());
    let last_used_at = body.int("last_used_at")?.into_option().unwrap_or(now);
    let id = new_id("idn");
    let pk = Passkey {
        id: id.clone(),
        name,
        last_used_at,
        created_at: now,
    };
    data.modify_user(user_id, |u| {
        u.passkeys.push(pk);
        u.updated_at = now;
    })
    .ok_or_else(ApiError::not_found)?;
    Ok(id)
}

/// Sets sign-in activity timestamps (Unix ms), which only sign-ins would change on Clerk.
pub(crate) fn set_activity(
    data: &mut InstanceData,
    user_id: &str,
    body: JsonBody,
) -> ApiResult<()> {
    body.check_keys(&["last_sign_in_at", "last_active_at"])?;
    let sign_in = body.int("last_sign_in_at")?;
    let active = body.int("last_active_at")?;
    data.modify_user(user_id, |u| {
        for (field, patch) in [
            (&mut u.last_sign_in_at, sign_in),
            (&mut u.last_active_at, active),
        ] {
            match patch {
                Patch::Set(v) => *field = Some(v),
                Patch::Null => *field = None,
                Patch::Absent => {}
            }
        }
    })
    .ok_or_else(ApiError::not_found)
}
