//! `POST /users/{id}/profile_image`: the one multipart endpoint.

use axum::body::Body;
use axum::extract::{FromRequest, Multipart};
use axum::response::Response;
use http::{Request, StatusCode};

use super::{Call, IMAGE_LIMIT, user_response};
use crate::domain::user_actions;
use crate::error::{ApiError, ApiResult};
use crate::ids::new_id;
use crate::model::Image;

/// `POST /users/{id}/profile_image`: a multipart body whose `file` part is the image.
pub(crate) async fn set_profile_image(call: Call, req: Request<Body>) -> ApiResult<Response> {
    let bad = |long: &str| {
        ApiError::bad_request("form_param_missing", "missing data", long.to_owned())
            .with_param("file")
    };
    let is_multipart = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !is_multipart {
        return Err(ApiError::bad_request(
            "form_param_format_invalid",
            "is invalid",
            "SetUserProfileImage expects a multipart/form-data body with a `file` part.",
        ));
    }
    let multipart_error = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::payload_too_large(IMAGE_LIMIT)
        } else {
            ApiError::bad_request(
                "form_param_format_invalid",
                "is invalid",
                format!("Invalid multipart body: {}", e.body_text()),
            )
        }
    };
    let mut multipart = Multipart::from_request(req, &()).await.map_err(|e| {
        ApiError::bad_request(
            "form_param_format_invalid",
            "is invalid",
            format!("Invalid multipart body: {}", e.body_text()),
        )
    })?;
    let mut file = None;
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        if field.name() == Some("file") {
            let content_type = field
                .content_type()
                .unwrap_or("application/octet-stream")
                .to_owned();
            let bytes = field.bytes().await.map_err(multipart_error)?;
            file = Some((content_type, bytes));
        } else {
            // Drain unknown parts so the stream moves on.
            let _ = field.bytes().await.map_err(multipart_error)?;
        }
    }
    let (content_type, bytes) =
        file.ok_or_else(|| bad("The multipart body has no `file` part."))?;
    if bytes.is_empty() {
        return Err(bad("The `file` part is empty."));
    }
    let image_id = new_id("img");
    let mut data = call.inst.write();
    let image = Image {
        content_type,
        bytes: bytes.to_vec(),
    };
    user_actions::set_profile_image(&mut data, call.param(0), image_id, image, call.now)?;
    user_response(&call, &data, call.param(0))
}
