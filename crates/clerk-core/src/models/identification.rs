use serde::{Deserialize, Serialize};

use super::null_as_default;
use super::{EnterpriseProtocol, Metadata, ObjectType, Verification};

/// An email address of a user.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct EmailAddress {
    /// Identification id (`idn_…`).
    #[serde(deserialize_with = "null_as_default")]
    pub id: String,
    /// Always [`ObjectType::EmailAddress`].
    #[serde(deserialize_with = "null_as_default")]
    pub object: ObjectType,
    /// The address.
    #[serde(deserialize_with = "null_as_default")]
    pub email_address: String,
    /// Reserved: unverified but usable for sign-in, and claimable by no other user.
    #[serde(deserialize_with = "null_as_default")]
    pub reserved: bool,
    /// How the address was verified.
    pub verification: Option<Verification>,
    /// External accounts this address came from.
    #[serde(deserialize_with = "null_as_default")]
    pub linked_to: Vec<IdentificationLink>,
    /// Whether the domain matches an active enterprise connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matches_sso_connection: Option<bool>,
    /// Creation time (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub created_at: i64,
    /// Last update (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub updated_at: i64,
}

/// A phone number of a user.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct PhoneNumber {
    /// Identification id (`idn_…`).
    #[serde(deserialize_with = "null_as_default")]
    pub id: String,
    /// Always [`ObjectType::PhoneNumber`].
    #[serde(deserialize_with = "null_as_default")]
    pub object: ObjectType,
    /// The number, in E.164 form.
    #[serde(deserialize_with = "null_as_default")]
    pub phone_number: String,
    /// Used only as a second factor.
    #[serde(deserialize_with = "null_as_default")]
    pub reserved_for_second_factor: bool,
    /// The default second factor of the user.
    #[serde(deserialize_with = "null_as_default")]
    pub default_second_factor: bool,
    /// Reserved: unverified but usable for sign-in, and claimable by no other user.
    #[serde(deserialize_with = "null_as_default")]
    pub reserved: bool,
    /// How the number was verified.
    pub verification: Option<Verification>,
    /// External accounts this number came from.
    #[serde(deserialize_with = "null_as_default")]
    pub linked_to: Vec<IdentificationLink>,
    /// Backup codes tied to this number, when any.
    pub backup_codes: Option<Vec<String>>,
    /// Creation time (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub created_at: i64,
    /// Last update (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub updated_at: i64,
}

/// A web3 wallet of a user.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Web3Wallet {
    /// Identification id (`idn_…`).
    #[serde(deserialize_with = "null_as_default")]
    pub id: String,
    /// Always [`ObjectType::Web3Wallet`].
    #[serde(deserialize_with = "null_as_default")]
    pub object: ObjectType,
    /// The wallet address.
    #[serde(deserialize_with = "null_as_default")]
    pub web3_wallet: String,
    /// How the wallet was verified.
    pub verification: Option<Verification>,
    /// Creation time (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub created_at: i64,
    /// Last update (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub updated_at: i64,
}

/// A passkey of a user.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Passkey {
    /// Identification id (`idn_…`), the id `DeletePasskey` takes.
    #[serde(deserialize_with = "null_as_default")]
    pub id: String,
    /// Always [`ObjectType::Passkey`].
    #[serde(deserialize_with = "null_as_default")]
    pub object: ObjectType,
    /// The name the user gave it.
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// Last use (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub last_used_at: i64,
    /// The passkey verification.
    pub verification: Option<Verification>,
}

/// A link from an identification to the external account it came from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct IdentificationLink {
    /// The provider strategy, such as `oauth_google`.
    #[serde(rename = "type", deserialize_with = "null_as_default")]
    pub kind: String,
    /// The id of the linked object.
    #[serde(deserialize_with = "null_as_default")]
    pub id: String,
}

/// An OAuth account linked to a user (`ExternalAccountWithVerification` in the spec).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ExternalAccount {
    /// [`ObjectType::ExternalAccount`], or a legacy `google_account`/`facebook_account`.
    #[serde(deserialize_with = "null_as_default")]
    pub object: ObjectType,
    /// The external account id (`eac_…`), the id `DeleteExternalAccount` takes.
    /// Legacy objects carry an `idn_…` here and the `eac_…` in
    /// [`ExternalAccount::external_account_id`].
    #[serde(deserialize_with = "null_as_default")]
    pub id: String,
    /// The provider, such as `oauth_google`.
    #[serde(deserialize_with = "null_as_default")]
    pub provider: String,
    /// The identification id (`idn_…`) of the account.
    #[serde(deserialize_with = "null_as_default")]
    pub identification_id: String,
    /// The user's id at the provider.
    #[serde(deserialize_with = "null_as_default")]
    pub provider_user_id: String,
    /// Space-separated scopes the user granted.
    #[serde(deserialize_with = "null_as_default")]
    pub approved_scopes: String,
    /// The email address the provider gave.
    #[serde(deserialize_with = "null_as_default")]
    pub email_address: String,
    /// Whether the provider said the email was verified (`None`: unknown).
    pub email_address_verified: Option<bool>,
    /// First name at the provider.
    #[serde(deserialize_with = "null_as_default")]
    pub first_name: String,
    /// Last name at the provider.
    #[serde(deserialize_with = "null_as_default")]
    pub last_name: String,
    /// Deprecated: use [`ExternalAccount::image_url`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
    /// Profile image at the provider.
    pub image_url: Option<String>,
    /// Username at the provider.
    pub username: Option<String>,
    /// Phone number at the provider.
    pub phone_number: Option<String>,
    /// Metadata of the account.
    #[serde(deserialize_with = "null_as_default")]
    pub public_metadata: Metadata,
    /// A label for the account.
    pub label: Option<String>,
    /// Creation time (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub created_at: i64,
    /// Last update (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub updated_at: i64,
    /// The OAuth verification.
    pub verification: Option<Verification>,
    /// The `eac_…` id of legacy `google_account`/`facebook_account` objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_account_id: Option<String>,
}

/// A SAML account linked to a user.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SamlAccount {
    /// SAML account id.
    #[serde(deserialize_with = "null_as_default")]
    pub id: String,
    /// Always [`ObjectType::SamlAccount`].
    #[serde(deserialize_with = "null_as_default")]
    pub object: ObjectType,
    /// The identity provider.
    #[serde(deserialize_with = "null_as_default")]
    pub provider: String,
    /// Whether the account is active.
    #[serde(deserialize_with = "null_as_default")]
    pub active: bool,
    /// The email address of the account.
    #[serde(deserialize_with = "null_as_default")]
    pub email_address: String,
    /// First name from the identity provider.
    pub first_name: Option<String>,
    /// Last name from the identity provider.
    pub last_name: Option<String>,
    /// The user's id at the identity provider.
    pub provider_user_id: Option<String>,
    /// Last authentication (Unix ms).
    pub last_authenticated_at: Option<i64>,
    /// Metadata of the account.
    #[serde(deserialize_with = "null_as_default")]
    pub public_metadata: Metadata,
    /// The SAML verification.
    pub verification: Option<Verification>,
    /// The connection the account signs in through.
    pub saml_connection: Option<SamlAccountConnection>,
}

/// The SAML connection of a [`SamlAccount`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SamlAccountConnection {
    /// Connection id.
    #[serde(deserialize_with = "null_as_default")]
    pub id: String,
    /// Connection name.
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// Deprecated: use [`SamlAccountConnection::domains`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The email domains of the connection.
    #[serde(deserialize_with = "null_as_default")]
    pub domains: Vec<String>,
    /// Whether the connection is active.
    #[serde(deserialize_with = "null_as_default")]
    pub active: bool,
    /// The identity provider.
    #[serde(deserialize_with = "null_as_default")]
    pub provider: String,
    /// Whether user attributes are synced on each sign-in.
    #[serde(deserialize_with = "null_as_default")]
    pub sync_user_attributes: bool,
    /// Whether subdomains of the domains are allowed.
    #[serde(deserialize_with = "null_as_default")]
    pub allow_subdomains: bool,
    /// Whether IdP-initiated flows are allowed.
    #[serde(deserialize_with = "null_as_default")]
    pub allow_idp_initiated: bool,
    /// Whether users of the connection may add other identifications.
    #[serde(deserialize_with = "null_as_default")]
    pub disable_additional_identifications: bool,
    /// Creation time (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub created_at: i64,
    /// Last update (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub updated_at: i64,
}

/// An enterprise (SAML or OIDC) account linked to a user.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct EnterpriseAccount {
    /// Enterprise account id.
    #[serde(deserialize_with = "null_as_default")]
    pub id: String,
    /// Always [`ObjectType::EnterpriseAccount`].
    #[serde(deserialize_with = "null_as_default")]
    pub object: ObjectType,
    /// The protocol used to sign in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<EnterpriseProtocol>,
    /// The identity provider.
    #[serde(deserialize_with = "null_as_default")]
    pub provider: String,
    /// Whether the account is active.
    #[serde(deserialize_with = "null_as_default")]
    pub active: bool,
    /// The email address of the account.
    #[serde(deserialize_with = "null_as_default")]
    pub email_address: String,
    /// First name from the identity provider.
    pub first_name: Option<String>,
    /// Last name from the identity provider.
    pub last_name: Option<String>,
    /// The user's id at the identity provider.
    pub provider_user_id: Option<String>,
    /// The id of the enterprise connection.
    pub enterprise_connection_id: Option<String>,
    /// Metadata of the account.
    #[serde(deserialize_with = "null_as_default")]
    pub public_metadata: Metadata,
    /// The verification.
    pub verification: Option<Verification>,
    /// The connection the account signs in through.
    pub enterprise_connection: Option<EnterpriseAccountConnection>,
    /// Last authentication (Unix ms).
    pub last_authenticated_at: Option<i64>,
}

/// The connection of an [`EnterpriseAccount`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct EnterpriseAccountConnection {
    /// Connection id.
    #[serde(deserialize_with = "null_as_default")]
    pub id: String,
    /// `saml` or `oauth`.
    #[serde(deserialize_with = "null_as_default")]
    pub protocol: String,
    /// The identity provider.
    #[serde(deserialize_with = "null_as_default")]
    pub provider: String,
    /// Connection name.
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// Public URL of the provider's logo.
    pub logo_public_url: Option<String>,
    /// Deprecated: use [`EnterpriseAccountConnection::domains`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The email domains of the connection.
    #[serde(deserialize_with = "null_as_default")]
    pub domains: Vec<String>,
    /// Whether the connection is active.
    #[serde(deserialize_with = "null_as_default")]
    pub active: bool,
    /// Whether user attributes are synced on each sign-in.
    #[serde(deserialize_with = "null_as_default")]
    pub sync_user_attributes: bool,
    /// Whether subdomains of the domains are allowed.
    #[serde(deserialize_with = "null_as_default")]
    pub allow_subdomains: bool,
    /// Whether IdP-initiated flows are allowed.
    #[serde(deserialize_with = "null_as_default")]
    pub allow_idp_initiated: bool,
    /// Whether users of the connection may add other identifications.
    #[serde(deserialize_with = "null_as_default")]
    pub disable_additional_identifications: bool,
    /// Creation time (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub created_at: i64,
    /// Last update (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub updated_at: i64,
}
