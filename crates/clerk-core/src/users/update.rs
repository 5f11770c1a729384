// Over 600 lines on purpose: the two PATCH request types of a user (UpdateUser, one documented
// builder method per field of the spec's body, and UpdateUserMetadata) share their wire helpers.
use std::fmt;

use http::Method;
use serde::{Deserialize, Deserializer, Serialize};

use super::redacted;
use crate::models::Metadata;
use crate::wire::{self, PathBuilder, Payload};
use crate::{
    ApiVersion, BaseUrl, ClerkRequest, ClerkResponse, Error, Operation, OperationInfo, RetryClass,
    User,
};

/// Keeps a JSON `null` apart from an absent key: absent is `None`, `null` is
/// `Some(None)`.
fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

fn double_timestamp<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<String>>, D::Error> {
    super::create::timestamp_text(deserializer).map(Some)
}

/// Setters for nullable fields: `Some(Some(value))` sends the value.
macro_rules! nullable_setters {
    ($($ty:ident: $($name:ident => $doc:literal),*;)*) => {$($(
        nullable_setters!(@one $ty $name $doc);
    )*)*};
    (@one string $name:ident $doc:literal) => {
        #[doc = concat!("Sets `", stringify!($name), "`: ", $doc, ".")]
        #[must_use]
        pub fn $name(mut self, value: impl Into<String>) -> Self {
            self.$name = Some(Some(value.into()));
            self
        }
    };
    (@one bool $name:ident $doc:literal) => {
        #[doc = concat!("Sets `", stringify!($name), "`: ", $doc, ".")]
        #[must_use]
        pub fn $name(mut self, value: bool) -> Self {
            self.$name = Some(Some(value));
            self
        }
    };
    (@one metadata $name:ident $doc:literal) => {
        #[doc = concat!("Replaces `", stringify!($name), "` wholesale: ", $doc, ".")]
        #[must_use]
        pub fn $name(mut self, value: Metadata) -> Self {
            self.$name = Some(Some(value));
            self
        }
    };
}

/// Setters that send an explicit `null`.
macro_rules! clearers {
    ($($clear:ident => $field:ident, $doc:literal;)*) => {$(
        #[doc = concat!("Sends `", stringify!($field), ": null`: ", $doc, ".")]
        #[must_use]
        pub fn $clear(mut self) -> Self {
            self.$field = Some(None);
            self
        }
    )*};
}

/// `PATCH /users/{user_id}`: changes a user. Only the fields set are sent.
///
/// Returns the updated [`User`]. Nullable fields are `Option<Option<T>>`: `None`
/// leaves the field out, `Some(None)` sends `null` (the `clear_*` methods), and
/// `Some(Some(v))` sends `v`. Clearing the username deletes it for good (only
/// allowed when usernames are optional and the user has another identifier).
///
/// The metadata fields here **replace** the stored metadata; to merge, use
/// [`UpdateUserMetadata`]. API version 2026-05-12 rejects them here: under it
/// [`check_api_version`](Operation::check_api_version) refuses the request and
/// points at [`UpdateUserMetadata`] and [`ReplaceUserMetadata`](super::ReplaceUserMetadata). Clerk limits
/// this endpoint to 10 requests per 10 s per user, so the request carries the
/// user id as its [`OperationInfo::per_user_limit_key`]. `Debug` redacts
/// passwords, digests, TOTP secrets and backup codes.
///
/// ```
/// # use clerk_core::{users::UpdateUser, BaseUrl, Operation};
/// let request = UpdateUser::new("user_1")
///     .first_name("Ada")
///     .clear_username()
///     .build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
/// assert_eq!(request.method(), "PATCH");
/// assert_eq!(&request.body().as_bytes()[..], br#"{"first_name":"Ada","username":null}"#);
/// # Ok::<(), clerk_core::Error>(())
/// ```
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct UpdateUser {
    #[serde(skip)]
    user_id: String,
    /// Your id for the user.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub external_id: Option<Option<String>>,
    /// First name.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub first_name: Option<Option<String>>,
    /// Last name.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub last_name: Option<Option<String>>,
    /// Locale.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub locale: Option<Option<String>>,
    /// A verified email address of the user to make primary.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub primary_email_address_id: Option<Option<String>>,
    /// Whether to email the old primary address about the change.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub notify_primary_email_address_changed: Option<Option<bool>>,
    /// A verified phone number of the user to make primary.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub primary_phone_number_id: Option<Option<String>>,
    /// A verified web3 wallet of the user to make primary.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub primary_web3_wallet_id: Option<Option<String>>,
    /// Username; `null` or `""` deletes it.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub username: Option<Option<String>>,
    /// An uploaded image to use as profile image.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub profile_image_id: Option<Option<String>>,
    /// New plain-text password.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub password: Option<Option<String>>,
    /// New password as a digest from another system.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_digest: Option<String>,
    /// Algorithm of `password_digest`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_hasher: Option<String>,
    /// Skips the password policy checks of a new password.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub skip_password_checks: Option<Option<bool>>,
    /// Signs the user out of their other sessions after a password change.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub sign_out_of_other_sessions: Option<Option<bool>>,
    /// A TOTP secret to enable TOTP with.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub totp_secret: Option<Option<String>>,
    /// Backup codes, plain or as bcrypt digests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_codes: Option<Vec<String>>,
    /// Public metadata (replaces; deprecated in favour of [`UpdateUserMetadata`]).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub public_metadata: Option<Option<Metadata>>,
    /// Private metadata (replaces; deprecated in favour of [`UpdateUserMetadata`]).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub private_metadata: Option<Option<Metadata>>,
    /// Unsafe metadata (replaces; deprecated in favour of [`UpdateUserMetadata`]).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub unsafe_metadata: Option<Option<Metadata>>,
    /// Whether the user may delete themselves from the frontend.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub delete_self_enabled: Option<Option<bool>>,
    /// Whether the user may create organizations from the frontend.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub create_organization_enabled: Option<Option<bool>>,
    /// When the user accepted the legal requirements (RFC 3339).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_timestamp"
    )]
    pub legal_accepted_at: Option<Option<String>>,
    /// Skips the legal-acceptance checks.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub skip_legal_checks: Option<Option<bool>>,
    /// How many organizations the user may create (0: unlimited).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub create_organizations_limit: Option<Option<i64>>,
    /// When the user signed up (RFC 3339).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_timestamp"
    )]
    pub created_at: Option<Option<String>>,
    /// Whether the user bypasses device trust checks at sign-in.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "double_option"
    )]
    pub bypass_client_trust: Option<Option<bool>>,
}

impl UpdateUser {
    /// The body's field names, as the spec spells them.
    pub const FIELDS: &'static [&'static str] = &[
        "external_id",
        "first_name",
        "last_name",
        "locale",
        "primary_email_address_id",
        "notify_primary_email_address_changed",
        "primary_phone_number_id",
        "primary_web3_wallet_id",
        "username",
        "profile_image_id",
        "password",
        "password_digest",
        "password_hasher",
        "skip_password_checks",
        "sign_out_of_other_sessions",
        "totp_secret",
        "backup_codes",
        "public_metadata",
        "private_metadata",
        "unsafe_metadata",
        "delete_self_enabled",
        "create_organization_enabled",
        "legal_accepted_at",
        "skip_legal_checks",
        "create_organizations_limit",
        "created_at",
        "bypass_client_trust",
    ];

    /// An update of `user_id` that changes nothing yet (sends `{}`).
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

    /// Points the update at `user_id` (for bodies decoded from JSON, which carry no id).
    #[must_use]
    pub fn with_user_id(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = user_id.into();
        self
    }

    nullable_setters! {
        string:
            external_id => "your id for the user",
            first_name => "first name",
            last_name => "last name",
            locale => "locale, such as `en-US`",
            primary_email_address_id => "the verified email address to make primary",
            primary_phone_number_id => "the verified phone number to make primary",
            primary_web3_wallet_id => "the verified web3 wallet to make primary",
            username => "username",
            profile_image_id => "an uploaded image to use as profile image",
            password => "new plain-text password",
            totp_secret => "TOTP secret to enable TOTP with";
        bool:
            notify_primary_email_address_changed => "email the old primary address about the change",
            skip_password_checks => "skip the password policy checks",
            sign_out_of_other_sessions => "sign the user out elsewhere after a password change",
            delete_self_enabled => "whether the user may delete themselves",
            create_organization_enabled => "whether the user may create organizations",
            skip_legal_checks => "skip the legal-acceptance checks",
            bypass_client_trust => "bypass device trust checks at sign-in";
        metadata:
            public_metadata => "deprecated, merge with `UpdateUserMetadata` instead",
            private_metadata => "deprecated, merge with `UpdateUserMetadata` instead",
            unsafe_metadata => "deprecated, merge with `UpdateUserMetadata` instead";
    }

    clearers! {
        clear_external_id => external_id, "removes the external id";
        clear_first_name => first_name, "removes the first name";
        clear_last_name => last_name, "removes the last name";
        clear_locale => locale, "removes the locale";
        clear_username => username, "deletes the username for good";
        clear_create_organizations_limit => create_organizations_limit, "back to the instance default";
    }

    /// Sets a new password as a digest from another system (with
    /// [`password_hasher`](Self::password_hasher)).
    #[must_use]
    pub fn password_digest(mut self, digest: impl Into<String>) -> Self {
        self.password_digest = Some(digest.into());
        self
    }

    /// Sets the algorithm of the password digest (`bcrypt`, `argon2id`…).
    #[must_use]
    pub fn password_hasher(mut self, hasher: impl Into<String>) -> Self {
        self.password_hasher = Some(hasher.into());
        self
    }

    /// Sets the backup codes (plain or bcrypt digests).
    #[must_use]
    pub fn backup_codes<I>(mut self, codes: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.backup_codes = Some(codes.into_iter().map(Into::into).collect());
        self
    }

    /// Sets how many organizations the user may create (0: unlimited).
    #[must_use]
    pub fn create_organizations_limit(mut self, limit: i64) -> Self {
        self.create_organizations_limit = Some(Some(limit));
        self
    }

    /// Sets the sign-up time as RFC 3339 text, sent as given.
    #[must_use]
    pub fn created_at(mut self, rfc3339: impl Into<String>) -> Self {
        self.created_at = Some(Some(rfc3339.into()));
        self
    }

    /// Sets the sign-up time from Unix milliseconds.
    #[must_use]
    pub fn created_at_unix_ms(mut self, ms: i64) -> Self {
        self.created_at = Some(Some(wire::rfc3339_from_unix_ms(ms)));
        self
    }

    /// Sets the legal-acceptance time as RFC 3339 text, sent as given.
    #[must_use]
    pub fn legal_accepted_at(mut self, rfc3339: impl Into<String>) -> Self {
        self.legal_accepted_at = Some(Some(rfc3339.into()));
        self
    }

    /// Sets the legal-acceptance time from Unix milliseconds.
    #[must_use]
    pub fn legal_accepted_at_unix_ms(mut self, ms: i64) -> Self {
        self.legal_accepted_at = Some(Some(wire::rfc3339_from_unix_ms(ms)));
        self
    }
}

impl fmt::Debug for UpdateUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpdateUser")
            .field("user_id", &self.user_id)
            .field("external_id", &self.external_id)
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("locale", &self.locale)
            .field("primary_email_address_id", &self.primary_email_address_id)
            .field(
                "notify_primary_email_address_changed",
                &self.notify_primary_email_address_changed,
            )
            .field("primary_phone_number_id", &self.primary_phone_number_id)
            .field("primary_web3_wallet_id", &self.primary_web3_wallet_id)
            .field("username", &self.username)
            .field("profile_image_id", &self.profile_image_id)
            .field("password", &redacted(&self.password))
            .field("password_digest", &redacted(&self.password_digest))
            .field("password_hasher", &self.password_hasher)
            .field("skip_password_checks", &self.skip_password_checks)
            .field(
                "sign_out_of_other_sessions",
                &self.sign_out_of_other_sessions,
            )
            .field("totp_secret", &redacted(&self.totp_secret))
            .field("backup_codes", &redacted(&self.backup_codes))
            .field("public_metadata", &self.public_metadata)
            .field("private_metadata", &self.private_metadata)
            .field("unsafe_metadata", &self.unsafe_metadata)
            .field("delete_self_enabled", &self.delete_self_enabled)
            .field(
                "create_organization_enabled",
                &self.create_organization_enabled,
            )
            .field("legal_accepted_at", &self.legal_accepted_at)
            .field("skip_legal_checks", &self.skip_legal_checks)
            .field(
                "create_organizations_limit",
                &self.create_organizations_limit,
            )
            .field("created_at", &self.created_at)
            .field("bypass_client_trust", &self.bypass_client_trust)
            .finish()
    }
}

impl Operation for UpdateUser {
    type Output = User;

    fn info(&self) -> OperationInfo {
        OperationInfo::new("UpdateUser", "/users/{user_id}", RetryClass::Idempotent)
            .with_per_user_limit_key(self.user_id.clone())
    }

    /// Under 2026-05-12 and later, refuses a body with metadata: Clerk rejects it.
    fn check_api_version(&self, version: ApiVersion) -> Result<(), Error> {
        if version.accepts_metadata_on_user_update() {
            return Ok(());
        }
        let sent: Vec<&str> = [
            ("public_metadata", self.public_metadata.is_some()),
            ("private_metadata", self.private_metadata.is_some()),
            ("unsafe_metadata", self.unsafe_metadata.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect();
        if sent.is_empty() {
            return Ok(());
        }
        Err(Error::invalid_request(format!(
            "Clerk API version {version} no longer accepts {} on PATCH /users/{{user_id}}: \
             use update_metadata (UpdateUserMetadata, merges) or replace_metadata \
             (ReplaceUserMetadata, replaces each given field)",
            sent.join(", ")
        )))
    }

    fn build_request(&self, base: &BaseUrl) -> Result<ClerkRequest, Error> {
        let path = PathBuilder::new("users")
            .id("user_id", &self.user_id)?
            .finish();
        for (field, value) in [
            ("external_id", &self.external_id),
            ("first_name", &self.first_name),
            ("last_name", &self.last_name),
            ("locale", &self.locale),
            ("primary_email_address_id", &self.primary_email_address_id),
            ("primary_phone_number_id", &self.primary_phone_number_id),
            ("primary_web3_wallet_id", &self.primary_web3_wallet_id),
            ("profile_image_id", &self.profile_image_id),
        ] {
            // `null` and `""` clear a field; an id is only judged when one is set.
            match value.as_ref().and_then(Option::as_deref) {
                Some("") => {}
                set => wire::check_text(field, set)?,
            }
        }
        // `null` or `""` deletes the username.
        if let Some(Some(name)) = &self.username
            && !name.is_empty()
        {
            wire::check_text("username", Some(name))?;
        }
        let body = Payload::json(self)?;
        wire::request(Method::PATCH, base, &path, Some(body), self.info())
    }

    fn parse_response(&self, response: ClerkResponse) -> Result<Self::Output, Error> {
        wire::parse_object(response)
    }
}

/// `PATCH /users/{user_id}/metadata`: merges metadata into a user's.
///
/// Returns the updated [`User`].
///
/// Merge semantics: each given metadata object is **deep-merged** into the
/// stored one. Nested objects merge key by key, recursively; any other value
/// (string, number, array) replaces the stored value at that key; a key set to
/// `null` is **deleted**, at any depth. Metadata kinds left unset are not
/// touched. To replace a metadata object wholesale, use [`UpdateUser`] instead.
/// Clerk limits this endpoint to 10 requests per 10 s per user (shared with
/// `PATCH /users/{user_id}`); the request carries the user id as its
/// [`OperationInfo::per_user_limit_key`].
///
/// ```
/// # use clerk_core::{users::UpdateUserMetadata, BaseUrl, Operation};
/// let patch = serde_json::json!({"plan": "pro", "trial": null});
/// let request = UpdateUserMetadata::new("user_1")
///     .public_metadata(patch.as_object().cloned().unwrap_or_default())
///     .build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
/// assert_eq!(request.uri().path(), "/v1/users/user_1/metadata");
/// assert_eq!(
///     &request.body().as_bytes()[..],
///     br#"{"public_metadata":{"plan":"pro","trial":null}}"#
/// );
/// # Ok::<(), clerk_core::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct UpdateUserMetadata {
    #[serde(skip)]
    user_id: String,
    /// Merged into the public metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_metadata: Option<Metadata>,
    /// Merged into the private metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_metadata: Option<Metadata>,
    /// Merged into the unsafe metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsafe_metadata: Option<Metadata>,
}

impl UpdateUserMetadata {
    /// The body's field names, as the spec spells them.
    pub const FIELDS: &'static [&'static str] =
        &["public_metadata", "private_metadata", "unsafe_metadata"];

    /// A merge into the metadata of `user_id` that changes nothing yet.
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

    /// Points the merge at `user_id` (for bodies decoded from JSON).
    #[must_use]
    pub fn with_user_id(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = user_id.into();
        self
    }

    /// Deep-merges `patch` into the public metadata (`null` values delete keys).
    #[must_use]
    pub fn public_metadata(mut self, patch: Metadata) -> Self {
        self.public_metadata = Some(patch);
        self
    }

    /// Deep-merges `patch` into the private metadata (`null` values delete keys).
    #[must_use]
    pub fn private_metadata(mut self, patch: Metadata) -> Self {
        self.private_metadata = Some(patch);
        self
    }

    /// Deep-merges `patch` into the unsafe metadata (`null` values delete keys).
    #[must_use]
    pub fn unsafe_metadata(mut self, patch: Metadata) -> Self {
        self.unsafe_metadata = Some(patch);
        self
    }
}

impl Operation for UpdateUserMetadata {
    type Output = User;

    fn info(&self) -> OperationInfo {
        OperationInfo::new(
            "UpdateUserMetadata",
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
        wire::request(Method::PATCH, base, &path, Some(body), self.info())
    }

    fn parse_response(&self, response: ClerkResponse) -> Result<Self::Output, Error> {
        wire::parse_object(response)
    }
}
