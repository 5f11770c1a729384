//! Clerk's error shape: `{"errors":[{"message","long_message","code","meta"?}],"clerk_trace_id"}`.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};

/// One Clerk API error answer (status + a single `ClerkError`).
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) long_message: String,
    pub(crate) meta: Option<Value>,
    pub(crate) retry_after: Option<u64>,
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
        long_message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            long_message: long_message.into(),
            meta: None,
            retry_after: None,
        }
    }

    pub(crate) fn with_param(mut self, param: &str) -> Self {
        self.meta = Some(json!({ "param_name": param }));
        self
    }

    pub(crate) fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "resource_not_found",
            "not found",
            "Resource not found",
        )
    }

    pub(crate) fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication_invalid",
            "Unauthorized request",
            "The provided Clerk Secret Key is invalid. Make sure that your Clerk Secret Key is correct.",
        )
    }

    pub(crate) fn unknown_param(param: &str) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "form_param_unknown",
            "is unknown",
            format!("{param} is not a valid parameter for this request."),
        )
        .with_param(param)
    }

    pub(crate) fn invalid_param(param: &str, why: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "form_param_format_invalid",
            "is invalid",
            format!("{param} is invalid: {why}"),
        )
        .with_param(param)
    }

    pub(crate) fn value_invalid(param: &str, why: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "form_param_value_invalid",
            "is invalid",
            format!("{param} {why}"),
        )
        .with_param(param)
    }

    pub(crate) fn missing_param(param: &str) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "form_param_missing",
            "missing data",
            format!("{param} must be included."),
        )
        .with_param(param)
    }

    pub(crate) fn bad_request(code: &'static str, message: &str, long: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message, long)
    }

    pub(crate) fn unprocessable(
        code: &'static str,
        message: &str,
        long: impl Into<String>,
    ) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message, long)
    }

    pub(crate) fn too_many_requests(retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "Too Many Requests",
            format!("Too many requests, retry later. Retry after {retry_after_secs} seconds."),
        );
        e.retry_after = Some(retry_after_secs);
        e
    }

    pub(crate) fn server_error(status: StatusCode) -> Self {
        let (code, msg) = match status.as_u16() {
            502 => ("bad_gateway", "Bad gateway"),
            503 => ("service_unavailable", "Service unavailable"),
            504 => ("gateway_timeout", "Gateway timeout"),
            _ => ("internal_clerk_error", "Oops, an unexpected error occurred"),
        };
        Self::new(
            status,
            code,
            msg,
            "There was an internal error on our servers. We've been notified and are working on fixing it.",
        )
    }

    pub(crate) fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_body_too_large",
            "request body too large",
            format!("The request body exceeds the maximum allowed size of {limit} bytes."),
        )
    }

    /// A body that did not arrive within `--body-timeout`.
    pub(crate) fn request_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "Request timeout",
            "The request body was not received in time; the connection is closed.",
        )
    }

    pub(crate) fn body_json(&self) -> Value {
        let mut err = json!({
            "message": self.message,
            "long_message": self.long_message,
            "code": self.code,
        });
        if let (Some(meta), Some(obj)) = (&self.meta, err.as_object_mut()) {
            obj.insert("meta".into(), meta.clone());
        }
        json!({ "errors": [err], "clerk_trace_id": crate::ids::random_hex(16) })
    }
}

/// `Content-Type: application/json`, exactly, as @clerk/backend compares it byte for byte.
pub(crate) fn json_bytes_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

pub(crate) fn json_response(status: StatusCode, value: &Value) -> Response {
    json_bytes_response(status, serde_json::to_vec(value).unwrap_or_default())
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = json_response(self.status, &self.body_json());
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}
