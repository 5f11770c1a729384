use serde::{Deserialize, Serialize};

use super::null_as_default;
use super::{
    EmailAddress, EnterpriseAccount, ExternalAccount, Metadata, ObjectType, OrganizationMembership,
    Passkey, PhoneNumber, SamlAccount, Web3Wallet,
};

/// A user of a Clerk instance: every property of the spec's `User` schema.
///
/// ```
/// # use clerk_core::User;
/// let user: User = serde_json::from_str(r#"{"id":"user_1","object":"user","banned":false}"#)?;
/// assert_eq!(user.id, "user_1");
/// assert!(user.email_addresses.is_empty());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct User {
    /// User id (`user_…`).
    #[serde(deserialize_with = "null_as_default")]
    pub id: String,
    /// Always [`ObjectType::User`].
    #[serde(deserialize_with = "null_as_default")]
    pub object: ObjectType,
    /// The id of the user in your own systems.
    pub external_id: Option<String>,
    /// Id of the primary [`EmailAddress`].
    pub primary_email_address_id: Option<String>,
    /// Id of the primary [`PhoneNumber`].
    pub primary_phone_number_id: Option<String>,
    /// Id of the primary [`Web3Wallet`].
    pub primary_web3_wallet_id: Option<String>,
    /// Username.
    pub username: Option<String>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Locale, such as `en-US`.
    pub locale: Option<String>,
    /// Deprecated: use [`User::image_url`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_image_url: Option<String>,
    /// Profile image URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// Whether the user uploaded a profile image.
    #[serde(deserialize_with = "null_as_default")]
    pub has_image: bool,
    /// Readable from the frontend and the backend, writable from the backend.
    #[serde(deserialize_with = "null_as_default")]
    pub public_metadata: Metadata,
    /// Readable and writable from the backend only (`null` decodes as empty).
    #[serde(deserialize_with = "null_as_default")]
    pub private_metadata: Metadata,
    /// Readable and writable from the frontend: not trustworthy.
    #[serde(deserialize_with = "null_as_default")]
    pub unsafe_metadata: Metadata,
    /// Email addresses.
    #[serde(deserialize_with = "null_as_default")]
    pub email_addresses: Vec<EmailAddress>,
    /// Phone numbers.
    #[serde(deserialize_with = "null_as_default")]
    pub phone_numbers: Vec<PhoneNumber>,
    /// Web3 wallets.
    #[serde(deserialize_with = "null_as_default")]
    pub web3_wallets: Vec<Web3Wallet>,
    /// Passkeys.
    #[serde(deserialize_with = "null_as_default")]
    pub passkeys: Vec<Passkey>,
    /// Whether the user has a password.
    #[serde(deserialize_with = "null_as_default")]
    pub password_enabled: bool,
    /// Whether any second factor is enabled.
    #[serde(deserialize_with = "null_as_default")]
    pub two_factor_enabled: bool,
    /// Whether TOTP is enabled.
    #[serde(deserialize_with = "null_as_default")]
    pub totp_enabled: bool,
    /// Whether backup codes are enabled.
    #[serde(deserialize_with = "null_as_default")]
    pub backup_code_enabled: bool,
    /// When MFA was last enabled (Unix ms); kept when MFA is disabled.
    pub mfa_enabled_at: Option<i64>,
    /// When MFA was last disabled (Unix ms); kept when MFA is enabled again.
    pub mfa_disabled_at: Option<i64>,
    /// When the password was last changed (Unix ms).
    pub password_last_updated_at: Option<i64>,
    /// OAuth accounts.
    #[serde(deserialize_with = "null_as_default")]
    pub external_accounts: Vec<ExternalAccount>,
    /// SAML accounts.
    #[serde(deserialize_with = "null_as_default")]
    pub saml_accounts: Vec<SamlAccount>,
    /// Enterprise accounts.
    #[serde(deserialize_with = "null_as_default")]
    pub enterprise_accounts: Vec<EnterpriseAccount>,
    /// Organization memberships, when the server includes them.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub organization_memberships: Vec<OrganizationMembership>,
    /// Last sign-in (Unix ms).
    pub last_sign_in_at: Option<i64>,
    /// Banned users cannot sign in.
    #[serde(deserialize_with = "null_as_default")]
    pub banned: bool,
    /// Locked users cannot sign in until the lock expires.
    #[serde(deserialize_with = "null_as_default")]
    pub locked: bool,
    /// Deprovisioned by a directory; cannot sign in.
    #[serde(deserialize_with = "null_as_default")]
    pub deprovisioned: bool,
    /// Seconds until the lock expires; `None` on a locked user means never.
    pub lockout_expires_in_seconds: Option<i64>,
    /// Verification attempts left before a lock; `None` when lockout is off.
    pub verification_attempts_remaining: Option<i64>,
    /// Last update (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub updated_at: i64,
    /// Creation time (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub created_at: i64,
    /// Whether the user may delete themselves from the frontend.
    #[serde(deserialize_with = "null_as_default")]
    pub delete_self_enabled: bool,
    /// Whether the user may create organizations from the frontend.
    #[serde(deserialize_with = "null_as_default")]
    pub create_organization_enabled: bool,
    /// How many organizations the user may create (0: unlimited).
    pub create_organizations_limit: Option<i64>,
    /// Latest session activity (Unix ms, day precision).
    pub last_active_at: Option<i64>,
    /// When the user accepted the legal requirements (Unix ms).
    pub legal_accepted_at: Option<i64>,
    /// Whether the user bypasses device trust checks at sign-in.
    #[serde(deserialize_with = "null_as_default")]
    pub bypass_client_trust: bool,
    /// Directory (SCIM) data; normally only on webhooks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scim: Option<ScimUserMetadata>,
}

impl User {
    /// The primary email address, when the user has one.
    pub fn primary_email_address(&self) -> Option<&EmailAddress> {
        let id = self.primary_email_address_id.as_deref()?;
        self.email_addresses.iter().find(|e| e.id == id)
    }

    /// The primary phone number, when the user has one.
    pub fn primary_phone_number(&self) -> Option<&PhoneNumber> {
        let id = self.primary_phone_number_id.as_deref()?;
        self.phone_numbers.iter().find(|p| p.id == id)
    }

    /// The primary web3 wallet, when the user has one.
    pub fn primary_web3_wallet(&self) -> Option<&Web3Wallet> {
        let id = self.primary_web3_wallet_id.as_deref()?;
        self.web3_wallets.iter().find(|w| w.id == id)
    }
}

/// How a user is linked to a directory (`SCIMUserMetadata`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ScimUserMetadata {
    /// The directory the user is provisioned from.
    #[serde(deserialize_with = "null_as_default")]
    pub directory_id: String,
    /// Whether the directory is enabled (omitted by the server when false).
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub directory_enabled: bool,
    /// The user's id in the directory.
    pub external_id: Option<String>,
}
