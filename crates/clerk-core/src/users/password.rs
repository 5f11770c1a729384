//! The password operations with a body: marking it compromised, removing it.

use http::Method;
use serde::Serialize;

use crate::wire::{self, PathBuilder, Payload};
use crate::{
    BaseUrl, ClerkRequest, ClerkResponse, Error, Operation, OperationInfo, RetryClass, User,
};

/// `POST /users/{user_id}/password/set_compromised`: marks the user's password
/// compromised, so their next sign-in asks for a reset. API version 2025-11-10 or
/// later ([`check_api_version`](Operation::check_api_version) refuses older ones).
///
/// Returns the [`User`]. Sending it twice has the same effect as once.
///
/// ```
/// # use clerk_core::{users::SetPasswordCompromised, BaseUrl, Operation};
/// let request = SetPasswordCompromised::new("user_1")
///     .revoke_all_sessions(true)
///     .build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
/// assert_eq!(request.uri().path(), "/v1/users/user_1/password/set_compromised");
/// assert_eq!(&request.body().as_bytes()[..], br#"{"revoke_all_sessions":true}"#);
/// # Ok::<(), clerk_core::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SetPasswordCompromised {
    #[serde(skip)]
    user_id: String,
    /// Whether to sign the user out of every session too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoke_all_sessions: Option<bool>,
}

impl SetPasswordCompromised {
    /// Marks the password of `user_id` compromised (sends `{}`).
    pub fn new(user_id: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            revoke_all_sessions: None,
        }
    }

    /// The user id.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// Also revokes every session of the user.
    #[must_use]
    pub fn revoke_all_sessions(mut self, revoke: bool) -> Self {
        self.revoke_all_sessions = Some(revoke);
        self
    }
}

impl Operation for SetPasswordCompromised {
    type Output = User;

    fn info(&self) -> OperationInfo {
        OperationInfo::new(
            "SetUserPasswordCompromised",
            "/users/{user_id}/password/set_compromised",
            RetryClass::Idempotent,
        )
    }

    fn build_request(&self, base: &BaseUrl) -> Result<ClerkRequest, Error> {
        let path = PathBuilder::new("users")
            .id("user_id", &self.user_id)?
            .lit("password")
            .lit("set_compromised")
            .finish();
        let body = Payload::json(self)?;
        wire::request(Method::POST, base, &path, Some(body), self.info())
    }

    fn parse_response(&self, response: ClerkResponse) -> Result<Self::Output, Error> {
        wire::parse_object(response)
    }
}

/// `POST /users/{user_id}/remove_password`: removes the user's password, without
/// asking for it and even when the user has no other way to sign in. A user
/// without a password comes back unchanged.
///
/// Returns the [`User`] (`password_enabled: false`). Existing sessions stay
/// unless [`sign_out_of_other_sessions`](Self::sign_out_of_other_sessions).
///
/// ```
/// # use clerk_core::{users::RemovePassword, BaseUrl, Operation};
/// let request = RemovePassword::new("user_1")
///     .sign_out_of_other_sessions(true)
///     .build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
/// assert_eq!(request.uri().path(), "/v1/users/user_1/remove_password");
/// assert_eq!(&request.body().as_bytes()[..], br#"{"sign_out_of_other_sessions":true}"#);
/// # Ok::<(), clerk_core::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RemovePassword {
    #[serde(skip)]
    user_id: String,
    /// Whether to revoke the sessions active when the request is processed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign_out_of_other_sessions: Option<bool>,
}

impl RemovePassword {
    /// Removes the password of `user_id` (sends `{}`).
    pub fn new(user_id: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            sign_out_of_other_sessions: None,
        }
    }

    /// The user id.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// Also revokes the user's active sessions.
    #[must_use]
    pub fn sign_out_of_other_sessions(mut self, sign_out: bool) -> Self {
        self.sign_out_of_other_sessions = Some(sign_out);
        self
    }
}

impl Operation for RemovePassword {
    type Output = User;

    fn info(&self) -> OperationInfo {
        OperationInfo::new(
            "RemoveUserPassword",
            "/users/{user_id}/remove_password",
            RetryClass::Idempotent,
        )
    }

    fn build_request(&self, base: &BaseUrl) -> Result<ClerkRequest, Error> {
        let path = PathBuilder::new("users")
            .id("user_id", &self.user_id)?
            .lit("remove_password")
            .finish();
        let body = Payload::json(self)?;
        wire::request(Method::POST, base, &path, Some(body), self.info())
    }

    fn parse_response(&self, response: ClerkResponse) -> Result<Self::Output, Error> {
        wire::parse_object(response)
    }
}
