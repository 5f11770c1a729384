use std::fmt;

use http::Method;
use serde::{Deserialize, Deserializer, Serialize};

use super::fields::{self, FieldKind};
use super::redacted;
use crate::models::{IdentificationStatus, Metadata, null_as_default};
use crate::wire::{self, PathBuilder, Payload};
use crate::{
    BaseUrl, ClerkRequest, ClerkResponse, Error, Operation, OperationInfo, RetryClass, User,
};

/// Setters for optional scalar body fields, shared by the create and update bodies.
macro_rules! setters {
    (string: $($s:ident => $sdoc:literal),* ; bool: $($b:ident => $bdoc:literal),* $(,)?) => {
        $(
            #[doc = concat!("Sets `", stringify!($s), "`: ", $sdoc, ".")]
            #[must_use]
            pub fn $s(mut self, value: impl Into<String>) -> Self {
                self.$s = Some(value.into());
                self
            }
        )*
        $(
            #[doc = concat!("Sets `", stringify!($b), "`: ", $bdoc, ".")]
            #[must_use]
            pub fn $b(mut self, value: bool) -> Self {
                self.$b = Some(value);
                self
            }
        )*
    };
}

/// `POST /users`: creates a user. The body holds every field of the spec's
/// request schema; absent fields are left out.
///
/// Returns the new [`User`]. Which fields are required depends on the instance's
/// user model. Email addresses and phone numbers are created verified unless
/// given with [`IdentificationStatus::Reserved`]; the first of each list becomes
/// the primary one. `created_at` and `legal_accepted_at` travel as RFC 3339
/// strings: set them from Unix milliseconds with
/// [`created_at_unix_ms`](Self::created_at_unix_ms) or as text.
///
/// Not idempotent: a retry after an ambiguous failure can create a second user,
/// so the retry layer treats it with care ([`RetryClass::NotIdempotent`]). `Debug`
/// redacts passwords, digests, TOTP secrets and backup codes.
///
/// Deserializes from Clerk's own body (snake_case), so JSON Lines of creation
/// bodies can be replayed; [`CreateUser::from_json_strict`] also rejects unknown
/// fields.
///
/// ```
/// # use clerk_core::{users::CreateUser, BaseUrl, Operation};
/// let request = CreateUser::new()
///     .email_address("ada@example.com")
///     .first_name("Ada")
///     .password_digest("$2a$10$...")
///     .password_hasher("bcrypt")
///     .created_at_unix_ms(1_350_717_320_902)
///     .build_request(&BaseUrl::parse(BaseUrl::DEFAULT)?)?;
/// let body: serde_json::Value = serde_json::from_slice(request.body().as_bytes()).unwrap();
/// assert_eq!(body["created_at"], "2012-10-20T07:15:20.902Z");
/// assert_eq!(body["email_address"][0], "ada@example.com");
/// # Ok::<(), clerk_core::Error>(())
/// ```
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CreateUser {
    /// Your id for the user; unique across the instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// First name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Locale, such as `en-US`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Email addresses; the first is the primary one.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub email_address: Vec<String>,
    /// The state of each email address, parallel to `email_address`.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub email_address_identification_status: Vec<IdentificationStatus>,
    /// Phone numbers; the first is the primary one.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub phone_number: Vec<String>,
    /// The state of each phone number, parallel to `phone_number`.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub phone_number_identification_status: Vec<IdentificationStatus>,
    /// Web3 wallets; the first is the primary one.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub web3_wallet: Vec<String>,
    /// Username; unique across the instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Plain-text password (8 characters or more, not a known leaked one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// A password digest from another system; see `password_hasher`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_digest: Option<String>,
    /// The algorithm of `password_digest` (`bcrypt`, `argon2id`, `scrypt_firebase`…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_hasher: Option<String>,
    /// Skips the password policy checks (for migrations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_password_checks: Option<bool>,
    /// Allows creating the user without a password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_password_requirement: Option<bool>,
    /// A TOTP secret (30 s period, 6 digits, SHA1) to enable TOTP with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totp_secret: Option<String>,
    /// Backup codes, plain or as bcrypt digests.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub backup_codes: Vec<String>,
    /// Public metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_metadata: Option<Metadata>,
    /// Private metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_metadata: Option<Metadata>,
    /// Unsafe metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsafe_metadata: Option<Metadata>,
    /// Whether the user may delete themselves from the frontend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_self_enabled: Option<bool>,
    /// When the user accepted the legal requirements (RFC 3339).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "timestamp_text"
    )]
    pub legal_accepted_at: Option<String>,
    /// Skips the legal-acceptance checks (for migrations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_legal_checks: Option<bool>,
    /// Skips the identifier requirements of the instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_user_requirement: Option<bool>,
    /// Whether the user may create organizations from the frontend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_organization_enabled: Option<bool>,
    /// How many organizations the user may create (0: unlimited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_organizations_limit: Option<i64>,
    /// When the user signed up (RFC 3339), for migrations.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "timestamp_text"
    )]
    pub created_at: Option<String>,
    /// Whether the user bypasses device trust checks at sign-in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bypass_client_trust: Option<bool>,
    /// Creates the user banned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub banned: Option<bool>,
    /// Creates the user locked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locked: Option<bool>,
}

impl CreateUser {
    /// The body's fields as the spec spells them, each with its JSON type.
    pub const FIELD_KINDS: &'static [(&'static str, FieldKind)] = &Self::FIELD_TABLE;

    /// The body's field names, as the spec spells them.
    pub const FIELDS: &'static [&'static str] = &fields::names(&Self::FIELD_TABLE);

    const FIELD_TABLE: [(&'static str, FieldKind); 30] = [
        ("external_id", FieldKind::String),
        ("first_name", FieldKind::String),
        ("last_name", FieldKind::String),
        ("locale", FieldKind::String),
        ("email_address", FieldKind::StringList),
        ("email_address_identification_status", FieldKind::StringList),
        ("phone_number", FieldKind::StringList),
        ("phone_number_identification_status", FieldKind::StringList),
        ("web3_wallet", FieldKind::StringList),
        ("username", FieldKind::String),
        ("password", FieldKind::String),
        ("password_digest", FieldKind::String),
        ("password_hasher", FieldKind::String),
        ("skip_password_checks", FieldKind::Bool),
        ("skip_password_requirement", FieldKind::Bool),
        ("totp_secret", FieldKind::String),
        ("backup_codes", FieldKind::StringList),
        ("public_metadata", FieldKind::Object),
        ("private_metadata", FieldKind::Object),
        ("unsafe_metadata", FieldKind::Object),
        ("delete_self_enabled", FieldKind::Bool),
        ("legal_accepted_at", FieldKind::String),
        ("skip_legal_checks", FieldKind::Bool),
        ("skip_user_requirement", FieldKind::Bool),
        ("create_organization_enabled", FieldKind::Bool),
        ("create_organizations_limit", FieldKind::Integer),
        ("created_at", FieldKind::String),
        ("bypass_client_trust", FieldKind::Bool),
        ("banned", FieldKind::Bool),
        ("locked", FieldKind::Bool),
    ];

    /// An empty body: every field left to the server.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes a creation body and rejects any field the API does not know, naming
    /// it (`unknown field "emial_address"`), so a typo in an import file fails
    /// loudly instead of being dropped. Timestamps may be RFC 3339 strings or Unix
    /// milliseconds.
    pub fn from_json_strict(json: &str) -> Result<Self, String> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| format!("invalid JSON: {e}"))?;
        let Some(object) = value.as_object() else {
            return Err("a user creation body must be a JSON object".to_owned());
        };
        if let Some(unknown) = object.keys().find(|k| !Self::FIELDS.contains(&k.as_str())) {
            return Err(format!(
                "unknown field {unknown:?}; expected one of: {}",
                Self::FIELDS.join(", ")
            ));
        }
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    setters! {
        string:
            external_id => "your id for the user",
            first_name => "first name",
            last_name => "last name",
            locale => "locale, such as `en-US`",
            username => "username",
            password => "plain-text password",
            password_digest => "digest of the password from another system",
            password_hasher => "algorithm of the digest (`bcrypt`, `argon2id`…)",
            totp_secret => "TOTP secret to enable TOTP with";
        bool:
            skip_password_checks => "skip the password policy checks",
            skip_password_requirement => "allow a user without a password",
            delete_self_enabled => "whether the user may delete themselves",
            skip_legal_checks => "skip the legal-acceptance checks",
            skip_user_requirement => "skip the identifier requirements",
            create_organization_enabled => "whether the user may create organizations",
            bypass_client_trust => "bypass device trust checks at sign-in",
            banned => "create the user banned",
            locked => "create the user locked",
    }

    /// Adds an email address (created verified). Repeatable; the first is primary.
    #[must_use]
    pub fn email_address(mut self, email: impl Into<String>) -> Self {
        self.email_address.push(email.into());
        if !self.email_address_identification_status.is_empty() {
            self.email_address_identification_status
                .push(IdentificationStatus::Verified);
        }
        self
    }

    /// Adds an email address created in the given state.
    #[must_use]
    pub fn email_address_with_status(
        mut self,
        email: impl Into<String>,
        status: IdentificationStatus,
    ) -> Self {
        let before = self.email_address.len();
        self.email_address_identification_status
            .resize(before, IdentificationStatus::Verified);
        self.email_address.push(email.into());
        self.email_address_identification_status.push(status);
        self
    }

    /// Adds a phone number (created verified). Repeatable; the first is primary.
    #[must_use]
    pub fn phone_number(mut self, phone: impl Into<String>) -> Self {
        self.phone_number.push(phone.into());
        if !self.phone_number_identification_status.is_empty() {
            self.phone_number_identification_status
                .push(IdentificationStatus::Verified);
        }
        self
    }

    /// Adds a phone number created in the given state.
    #[must_use]
    pub fn phone_number_with_status(
        mut self,
        phone: impl Into<String>,
        status: IdentificationStatus,
    ) -> Self {
        let before = self.phone_number.len();
        self.phone_number_identification_status
            .resize(before, IdentificationStatus::Verified);
        self.phone_number.push(phone.into());
        self.phone_number_identification_status.push(status);
        self
    }

    /// Adds a web3 wallet. Repeatable; the first is primary.
    #[must_use]
    pub fn web3_wallet(mut self, wallet: impl Into<String>) -> Self {
        self.web3_wallet.push(wallet.into());
        self
    }

    /// Sets the backup codes (plain or bcrypt digests).
    #[must_use]
    pub fn backup_codes<I>(mut self, codes: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.backup_codes = codes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the public metadata.
    #[must_use]
    pub fn public_metadata(mut self, metadata: Metadata) -> Self {
        self.public_metadata = Some(metadata);
        self
    }

    /// Sets the private metadata.
    #[must_use]
    pub fn private_metadata(mut self, metadata: Metadata) -> Self {
        self.private_metadata = Some(metadata);
        self
    }

    /// Sets the unsafe metadata.
    #[must_use]
    pub fn unsafe_metadata(mut self, metadata: Metadata) -> Self {
        self.unsafe_metadata = Some(metadata);
        self
    }

    /// Sets how many organizations the user may create (0: unlimited).
    #[must_use]
    pub fn create_organizations_limit(mut self, limit: i64) -> Self {
        self.create_organizations_limit = Some(limit);
        self
    }

    /// Sets the sign-up time as RFC 3339 text (`2012-10-20T07:15:20.902Z`), sent as given.
    #[must_use]
    pub fn created_at(mut self, rfc3339: impl Into<String>) -> Self {
        self.created_at = Some(rfc3339.into());
        self
    }

    /// Sets the sign-up time from Unix milliseconds.
    #[must_use]
    pub fn created_at_unix_ms(mut self, ms: i64) -> Self {
        self.created_at = Some(wire::rfc3339_from_unix_ms(ms));
        self
    }

    /// Sets the legal-acceptance time as RFC 3339 text, sent as given.
    #[must_use]
    pub fn legal_accepted_at(mut self, rfc3339: impl Into<String>) -> Self {
        self.legal_accepted_at = Some(rfc3339.into());
        self
    }

    /// Sets the legal-acceptance time from Unix milliseconds.
    #[must_use]
    pub fn legal_accepted_at_unix_ms(mut self, ms: i64) -> Self {
        self.legal_accepted_at = Some(wire::rfc3339_from_unix_ms(ms));
        self
    }
}

/// Reads an RFC 3339 string as is, and Unix milliseconds as RFC 3339.
pub(super) fn timestamp_text<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        Rfc3339(String),
        UnixMs(i64),
    }
    Ok(match Option::<Text>::deserialize(deserializer)? {
        None => None,
        Some(Text::Rfc3339(s)) => Some(s),
        Some(Text::UnixMs(ms)) => Some(wire::rfc3339_from_unix_ms(ms)),
    })
}

impl CreateUser {
    /// Refuses text fields over their bounds or holding NUL or control characters.
    fn check_text(&self) -> Result<(), Error> {
        for (field, value) in [
            ("external_id", &self.external_id),
            ("first_name", &self.first_name),
            ("last_name", &self.last_name),
            ("locale", &self.locale),
            ("username", &self.username),
        ] {
            wire::check_text(field, value.as_deref())?;
        }
        for (field, values) in [
            ("email_address", &self.email_address),
            ("phone_number", &self.phone_number),
            ("web3_wallet", &self.web3_wallet),
        ] {
            for value in values {
                wire::check_text(field, Some(value))?;
            }
        }
        Ok(())
    }
}

/// Refuses identification-status lists that do not run parallel to their values.
fn check_parallel(
    field: &'static str,
    values: usize,
    statuses: &[IdentificationStatus],
) -> Result<(), Error> {
    if !statuses.is_empty() && statuses.len() != values {
        return Err(Error::invalid_request(format!(
            "`{field}_identification_status` has {} entries for {values} `{field}` values",
            statuses.len()
        )));
    }
    Ok(())
}

impl fmt::Debug for CreateUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backup_codes = (!self.backup_codes.is_empty()).then_some(());
        f.debug_struct("CreateUser")
            .field("external_id", &self.external_id)
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("locale", &self.locale)
            .field("email_address", &self.email_address)
            .field(
                "email_address_identification_status",
                &self.email_address_identification_status,
            )
            .field("phone_number", &self.phone_number)
            .field(
                "phone_number_identification_status",
                &self.phone_number_identification_status,
            )
            .field("web3_wallet", &self.web3_wallet)
            .field("username", &self.username)
            .field("password", &redacted(&self.password))
            .field("password_digest", &redacted(&self.password_digest))
            .field("password_hasher", &self.password_hasher)
            .field("skip_password_checks", &self.skip_password_checks)
            .field("skip_password_requirement", &self.skip_password_requirement)
            .field("totp_secret", &redacted(&self.totp_secret))
            .field("backup_codes", &redacted(&backup_codes))
            .field("public_metadata", &self.public_metadata)
            .field("private_metadata", &self.private_metadata)
            .field("unsafe_metadata", &self.unsafe_metadata)
            .field("delete_self_enabled", &self.delete_self_enabled)
            .field("legal_accepted_at", &self.legal_accepted_at)
            .field("skip_legal_checks", &self.skip_legal_checks)
            .field("skip_user_requirement", &self.skip_user_requirement)
            .field(
                "create_organization_enabled",
                &self.create_organization_enabled,
            )
            .field(
                "create_organizations_limit",
                &self.create_organizations_limit,
            )
            .field("created_at", &self.created_at)
            .field("bypass_client_trust", &self.bypass_client_trust)
            .field("banned", &self.banned)
            .field("locked", &self.locked)
            .finish()
    }
}

impl Operation for CreateUser {
    type Output = User;

    fn info(&self) -> OperationInfo {
        OperationInfo::new("CreateUser", "/users", RetryClass::NotIdempotent)
    }

    fn build_request(&self, base: &BaseUrl) -> Result<ClerkRequest, Error> {
        check_parallel(
            "email_address",
            self.email_address.len(),
            &self.email_address_identification_status,
        )?;
        check_parallel(
            "phone_number",
            self.phone_number.len(),
            &self.phone_number_identification_status,
        )?;
        self.check_text()?;
        let path = PathBuilder::new("users").finish();
        let body = Payload::json(self)?;
        wire::request(Method::POST, base, &path, Some(body), self.info())
    }

    fn parse_response(&self, response: ClerkResponse) -> Result<Self::Output, Error> {
        wire::parse_object(response)
    }
}
