use std::fmt;

use http::Method;
use serde::Serialize;

use crate::wire::{self, PathBuilder, Payload};
use crate::{
    BaseUrl, ClerkRequest, ClerkResponse, Error, Operation, OperationInfo, RetryClass,
    VerifyPasswordResponse, VerifyTotpResponse,
};

/// `POST /users/{user_id}/verify_password`: checks a password. Body
/// `{"password": "..."}`.
///
/// Returns [`VerifyPasswordResponse`] (`verified: true`) when it matches. A wrong
/// password is an error with status 422, a user without a password 400. `Debug`
/// never shows the password.
///
/// ```
/// # use clerk_core::{users::VerifyPassword, BaseUrl, Operation};
/// let request = VerifyPassword::new("user_1", "hunter2")
///     .build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
/// assert_eq!(request.uri().path(), "/v1/users/user_1/verify_password");
/// assert!(!format!("{request:?}").contains("hunter2"));
/// # Ok::<(), clerk_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct VerifyPassword {
    user_id: String,
    password: String,
}

impl VerifyPassword {
    /// Checks `password` for the user `user_id`.
    pub fn new(user_id: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            password: password.into(),
        }
    }

    /// The user id.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }
}

impl fmt::Debug for VerifyPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyPassword")
            .field("user_id", &self.user_id)
            .field("password", &"<redacted>")
            .finish()
    }
}

#[derive(Serialize)]
struct PasswordBody<'a> {
    password: &'a str,
}

impl Operation for VerifyPassword {
    type Output = VerifyPasswordResponse;

    fn info(&self) -> OperationInfo {
        OperationInfo::new(
            "VerifyPassword",
            "/users/{user_id}/verify_password",
            // Each attempt counts toward lockout (a password) or consumes a backup code.
            RetryClass::NotIdempotent,
        )
    }

    fn build_request(&self, base: &BaseUrl) -> Result<ClerkRequest, Error> {
        let path = PathBuilder::new("users")
            .id("user_id", &self.user_id)?
            .lit("verify_password")
            .finish();
        let body = Payload::json(&PasswordBody {
            password: &self.password,
        })?;
        wire::request(Method::POST, base, &path, Some(body), self.info())
    }

    fn parse_response(&self, response: ClerkResponse) -> Result<Self::Output, Error> {
        wire::parse_object(response)
    }
}

/// `POST /users/{user_id}/verify_totp`: checks a TOTP code or a backup code.
/// Body `{"code": "..."}`.
///
/// Returns [`VerifyTotpResponse`] with the kind of code that matched; a backup
/// code is used up. A wrong code is an error with status 422. `Debug` never shows
/// the code.
///
/// ```
/// # use clerk_core::{users::VerifyTotp, BaseUrl, Operation};
/// let request = VerifyTotp::new("user_1", "123456")
///     .build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
/// assert_eq!(&request.body().as_bytes()[..], br#"{"code":"123456"}"#);
/// # Ok::<(), clerk_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct VerifyTotp {
    user_id: String,
    code: String,
}

impl VerifyTotp {
    /// Checks `code` for the user `user_id`.
    pub fn new(user_id: impl Into<String>, code: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            code: code.into(),
        }
    }

    /// The user id.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }
}

impl fmt::Debug for VerifyTotp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyTotp")
            .field("user_id", &self.user_id)
            .field("code", &"<redacted>")
            .finish()
    }
}

#[derive(Serialize)]
struct CodeBody<'a> {
    code: &'a str,
}

impl Operation for VerifyTotp {
    type Output = VerifyTotpResponse;

    fn info(&self) -> OperationInfo {
        OperationInfo::new(
            "VerifyTOTP",
            "/users/{user_id}/verify_totp",
            // Each attempt counts toward lockout (a password) or consumes a backup code.
            RetryClass::NotIdempotent,
        )
    }

    fn build_request(&self, base: &BaseUrl) -> Result<ClerkRequest, Error> {
        let path = PathBuilder::new("users")
            .id("user_id", &self.user_id)?
            .lit("verify_totp")
            .finish();
        let body = Payload::json(&CodeBody { code: &self.code })?;
        wire::request(Method::POST, base, &path, Some(body), self.info())
    }

    fn parse_response(&self, response: ClerkResponse) -> Result<Self::Output, Error> {
        wire::parse_object(response)
    }
}
