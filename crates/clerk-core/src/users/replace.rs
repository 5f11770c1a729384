//! The `PUT` operations: replacing metadata, the email address, the phone number.

use http::Method;
use serde::{Deserialize, Serialize};

use crate::models::{IdentificationStatus, Metadata};
use crate::wire::{self, PathBuilder, Payload};
use crate::{
    BaseUrl, ClerkRequest, ClerkResponse, EmailAddress, Error, Operation, OperationInfo,
    PhoneNumber, RetryClass, User,
};

/// `PUT /users/{user_id}/metadata`: replaces metadata fields wholesale.
///
/// Returns the updated [`User`].
///
/// Each metadata kind given **replaces** the stored object entirely (its old
/// keys are gone); kinds left unset are not touched. To merge instead, use
/// [`UpdateUserMetadata`](super::UpdateUserMetadata). This is also the way to
/// replace metadata under API version 2026-05-12, where `UpdateUser` no longer
/// takes it. Clerk counts it toward the per-user update limit (10 per 10 s per
/// user, shared with `PATCH /users/{user_id}` and `PATCH …/metadata`), so the
/// request carries the user id as its [`OperationInfo::per_user_limit_key`].
///
/// ```
/// # use clerk_core::{users::ReplaceUserMetadata, BaseUrl, Operation};
/// let plan = serde_json::json!({"plan": "pro"});
/// let op = ReplaceUserMetadata::new("user_1").public_metadata(plan.as_object().cloned().unwrap_or_default());
/// let request = op.build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
/// assert_eq!((request.method().as_str(), request.uri().path()), ("PUT", "/v1/users/user_1/metadata"));
/// assert_eq!(&request.body().as_bytes()[..], br#"{"public_metadata":{"plan":"pro"}}"#);
/// assert_eq!(op.info().per_user_limit_key.as_deref(), Some("user_1"));
/// # Ok::<(), clerk_core::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ReplaceUserMetadata {
    #[serde(skip)]
    user_id: String,
    /// Replaces the public metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_metadata: Option<Metadata>,
    /// Replaces the private metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_metadata: Option<Metadata>,
    /// Replaces the unsafe metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsafe_metadata: Option<Metadata>,
}

impl ReplaceUserMetadata {
    /// The body's field names, as the spec spells them.
    pub const FIELDS: &'static [&'static str] =
        &["public_metadata", "private_metadata", "unsafe_metadata"];

    /// A replacement of the metadata of `user_id` that changes nothing yet.
    pub fn new(user_id: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            ..Self::default()
        }
    }

    /// The user id.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// Points the replacement at `user_id` (for bodies decoded from JSON).
    #[must_use]
    pub fn with_user_id(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = user_id.into();
        self
    }

    /// Replaces the public metadata with `value`.
    #[must_use]
    pub fn public_metadata(mut self, value: Metadata) -> Self {
        self.public_metadata = Some(value);
        self
    }

    /// Replaces the private metadata with `value`.
    #[must_use]
    pub fn private_metadata(mut self, value: Metadata) -> Self {
        self.private_metadata = Some(value);
        self
    }

    /// Replaces the unsafe metadata with `value`.
    #[must_use]
    pub fn unsafe_metadata(mut self, value: Metadata) -> Self {
        self.unsafe_metadata = Some(value);
        self
    }
}

impl Operation for ReplaceUserMetadata {
    type Output = User;

    fn info(&self) -> OperationInfo {
        OperationInfo::new(
            "ReplaceUserMetadata",
            "/users/{user_id}/metadata",
            RetryClass::Idempotent,
        )
        .with_per_user_limit_key(self.user_id.clone())
    }

    fn build_request(&self, base: &BaseUrl) -> Result<ClerkRequest, Error> {
        let path = PathBuilder::new("users")
            .id("user_id", &self.user_id)?
            .lit("metadata")
            .finish();
        let body = Payload::json(self)?;
        wire::request(Method::PUT, base, &path, Some(body), self.info())
    }

    fn parse_response(&self, response: ClerkResponse) -> Result<Self::Output, Error> {
        wire::parse_object(response)
    }
}

/// `PUT /users/{user_id}/email_address`: replaces all of the user's email
/// addresses with one primary address.
///
/// Returns the new [`EmailAddress`]. It is created verified unless
/// [`identification_status`](Self::identification_status) says `reserved`
/// (unverified, usable for sign-in, claimable by no one else) or `unverified`
/// (neither — it can lock the user out). Clerk refuses it while an address is
/// linked to a connected account.
///
/// ```
/// # use clerk_core::{users::ReplaceEmailAddress, models::IdentificationStatus, BaseUrl, Operation};
/// let request = ReplaceEmailAddress::new("user_1", "ada@example.com")
///     .identification_status(IdentificationStatus::Reserved)
///     .build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
/// assert_eq!((request.method().as_str(), request.uri().path()), ("PUT", "/v1/users/user_1/email_address"));
/// assert_eq!(
///     &request.body().as_bytes()[..],
///     br#"{"email_address":"ada@example.com","identification_status":"reserved"}"#
/// );
/// # Ok::<(), clerk_core::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ReplaceEmailAddress {
    #[serde(skip)]
    user_id: String,
    /// The new address.
    pub email_address: String,
    /// `verified` (Clerk's default), `reserved` or `unverified`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identification_status: Option<IdentificationStatus>,
    /// Whether to notify the previous primary address of the change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_primary_email_address_changed: Option<bool>,
}

impl ReplaceEmailAddress {
    /// Replaces the addresses of `user_id` with `email_address`.
    pub fn new(user_id: impl Into<String>, email_address: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            email_address: email_address.into(),
            ..Self::default()
        }
    }

    /// The user id.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// The state the new address is created in.
    #[must_use]
    pub fn identification_status(mut self, status: IdentificationStatus) -> Self {
        self.identification_status = Some(status);
        self
    }

    /// Emails the previous primary address about the change.
    #[must_use]
    pub fn notify_primary_email_address_changed(mut self, notify: bool) -> Self {
        self.notify_primary_email_address_changed = Some(notify);
        self
    }
}

impl Operation for ReplaceEmailAddress {
    type Output = EmailAddress;

    fn info(&self) -> OperationInfo {
        OperationInfo::new(
            "ReplaceUserEmailAddress",
            "/users/{user_id}/email_address",
            RetryClass::Idempotent,
        )
    }

    fn build_request(&self, base: &BaseUrl) -> Result<ClerkRequest, Error> {
        if self.email_address.trim().is_empty() {
            return Err(Error::invalid_request("`email_address` must not be empty"));
        }
        wire::check_text("email_address", Some(&self.email_address))?;
        let path = PathBuilder::new("users")
            .id("user_id", &self.user_id)?
            .lit("email_address")
            .finish();
        let body = Payload::json(self)?;
        wire::request(Method::PUT, base, &path, Some(body), self.info())
    }

    fn parse_response(&self, response: ClerkResponse) -> Result<Self::Output, Error> {
        wire::parse_object(response)
    }
}

/// `PUT /users/{user_id}/phone_number`: replaces all of the user's phone numbers
/// with one primary number (E.164).
///
/// Returns the new [`PhoneNumber`], verified unless
/// [`identification_status`](Self::identification_status) says otherwise, and
/// never reserved for second factor: replacing a number that was disables the
/// user's MFA.
///
/// ```
/// # use clerk_core::{users::ReplacePhoneNumber, BaseUrl, Operation};
/// let request = ReplacePhoneNumber::new("user_1", "+14155550100")
///     .build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
/// assert_eq!(request.uri().path(), "/v1/users/user_1/phone_number");
/// assert_eq!(&request.body().as_bytes()[..], br#"{"phone_number":"+14155550100"}"#);
/// # Ok::<(), clerk_core::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ReplacePhoneNumber {
    #[serde(skip)]
    user_id: String,
    /// The new number, E.164.
    pub phone_number: String,
    /// `verified` (Clerk's default), `reserved` or `unverified`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identification_status: Option<IdentificationStatus>,
}

impl ReplacePhoneNumber {
    /// Replaces the numbers of `user_id` with `phone_number`.
    pub fn new(user_id: impl Into<String>, phone_number: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            phone_number: phone_number.into(),
            identification_status: None,
        }
    }

    /// The user id.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// The state the new number is created in.
    #[must_use]
    pub fn identification_status(mut self, status: IdentificationStatus) -> Self {
        self.identification_status = Some(status);
        self
    }
}

impl Operation for ReplacePhoneNumber {
    type Output = PhoneNumber;

    fn info(&self) -> OperationInfo {
        OperationInfo::new(
            "ReplaceUserPhoneNumber",
            "/users/{user_id}/phone_number",
            RetryClass::Idempotent,
        )
    }

    fn build_request(&self, base: &BaseUrl) -> Result<ClerkRequest, Error> {
        if self.phone_number.trim().is_empty() {
            return Err(Error::invalid_request("`phone_number` must not be empty"));
        }
        wire::check_text("phone_number", Some(&self.phone_number))?;
        let path = PathBuilder::new("users")
            .id("user_id", &self.user_id)?
            .lit("phone_number")
            .finish();
        let body = Payload::json(self)?;
        wire::request(Method::PUT, base, &path, Some(body), self.info())
    }

    fn parse_response(&self, response: ClerkResponse) -> Result<Self::Output, Error> {
        wire::parse_object(response)
    }
}
