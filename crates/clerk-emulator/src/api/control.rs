//! The emulator's own control API under `/_emulator/` (never rate limited, never faulted).

use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, Request, StatusCode, header};
use serde_json::{Value, json};

use super::route::segments;
use super::{JSON_LIMIT, authenticate, read_body};
use crate::app::App;
use crate::body::{JsonBody, Patch};
use crate::config::{FaultKind, FaultSpec, Latency};
use crate::domain::accounts::{add_external_account, add_passkey, set_activity};
use crate::domain::newer::{add_trusted_device, set_subscription};
use crate::error::{ApiError, ApiResult, json_bytes_response, json_response};
use crate::faults::Scripted;
use crate::render::{
    Ctx, external_account_view, subscription_json, trusted_device_json, user_json,
};

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
    app.control.check(&method, &segs[1..], req.headers())?;
    let (parts, body) = req.into_parts();
    let bytes = read_body(body, &parts.headers, JSON_LIMIT).await?;
    // Where a body is expected, an empty one is an error, not `{}`.
    let needs_body = matches!(
        (&method, &segs[1..]),
        (&Method::POST, ["faults"]) | (&Method::POST | &Method::PATCH, ["users", _, _])
    );
    if needs_body && bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "request_body_invalid",
            "Request body invalid",
            "The request body is invalid: expected a JSON object.",
        ));
    }
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
                (&Method::POST, "trusted_devices") => {
                    let id = add_trusted_device(&mut data, user_id, body, now)?;
                    let u = data.users.get(*user_id).ok_or_else(ApiError::not_found)?;
                    let d = u.extras.trusted_devices.iter().find(|d| d.id == id);
                    ok(d.map(trusted_device_json).ok_or_else(ApiError::not_found)?)
                }
                (&Method::POST, "billing_subscription") => {
                    set_subscription(&mut data, user_id, body, now)?;
                    let u = data.users.get(*user_id).ok_or_else(ApiError::not_found)?;
                    let s = u
                        .extras
                        .subscription
                        .as_ref()
                        .ok_or_else(ApiError::not_found)?;
                    ok(subscription_json(u, s, false))
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
        "slow_apply",
        "bad_body",
        "wrong_object",
        "slow_apply_ms",
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
    if let Some(ms) = body_number(&body, "slow_apply_ms")? {
        spec = spec.with_slow_apply_delay(std::time::Duration::from_millis(ms.max(0.0) as u64));
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
            .to_fault(std::time::Duration::ZERO)
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
    // Uploaded bytes of any type are served from the control API's origin: never as a page
    // that could run script there.
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(res)
}
