//! Stored records (also the `--state` snapshot format) and their Clerk JSON renderings.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Metadata objects are free-form JSON objects.
pub(crate) type Metadata = Map<String, Value>;

/// A user's metadata object, kept as its compact JSON text: it is written rarely and read
/// whole, and a parsed map costs a 632-byte B-tree node however few keys it holds (with
/// 1,000,000 users, ~0.6 GB for one small object each). Serialized as the object itself,
/// so responses and the state file are unchanged.
#[derive(Debug, Clone, Default)]
pub(crate) struct StoredMetadata(MetadataRepr);

#[derive(Debug, Clone, Default)]
enum MetadataRepr {
    #[default]
    Empty,
    /// Compact JSON text that parses back (checked when written).
    Text(Box<str>),
    /// An object too deep for serde_json to parse back from text: kept as it is.
    Parsed(Box<Metadata>),
}

impl StoredMetadata {
    pub(crate) fn new(map: &Metadata) -> Self {
        if map.is_empty() {
            return Self(MetadataRepr::Empty);
        }
        match serde_json::to_string(map) {
            Ok(text) if serde_json::from_str::<Metadata>(&text).is_ok() => {
                Self(MetadataRepr::Text(text.into_boxed_str()))
            }
            _ => Self(MetadataRepr::Parsed(Box::new(map.clone()))),
        }
    }

    /// The object.
    pub(crate) fn map(&self) -> Metadata {
        match &self.0 {
            MetadataRepr::Empty => Metadata::new(),
            // Written by `new` only once it was seen to parse back.
            MetadataRepr::Text(text) => serde_json::from_str(text).unwrap_or_default(),
            MetadataRepr::Parsed(map) => (**map).clone(),
        }
    }

    pub(crate) fn clear(&mut self) {
        self.0 = MetadataRepr::Empty;
    }

    /// Applies `f` to the object.
    pub(crate) fn update(&mut self, f: impl FnOnce(&mut Metadata)) {
        let mut map = self.map();
        f(&mut map);
        *self = Self::new(&map);
    }
}

impl Serialize for StoredMetadata {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            MetadataRepr::Parsed(map) => map.serialize(serializer),
            _ => self.map().serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for StoredMetadata {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Metadata::deserialize(deserializer).map(|map| Self::new(&map))
    }
}

/// How long a `POST /users/{id}/lock` lasts: Clerk's default lockout duration (1 hour).
pub(crate) const LOCKOUT_SECS: i64 = 3600;
/// Clerk's default "maximum sign-in attempts" before a lockout.
pub(crate) const MAX_ATTEMPTS: i64 = 100;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Email {
    pub(crate) id: String,
    pub(crate) email_address: String,
    pub(crate) reserved: bool,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Phone {
    pub(crate) id: String,
    pub(crate) phone_number: String,
    pub(crate) reserved: bool,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Wallet {
    pub(crate) id: String,
    pub(crate) web3_wallet: String,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Passkey {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) last_used_at: i64,
    pub(crate) created_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ExternalAccount {
    pub(crate) id: String,
    pub(crate) identification_id: String,
    pub(crate) provider: String,
    pub(crate) provider_user_id: String,
    pub(crate) approved_scopes: String,
    pub(crate) email_address: String,
    pub(crate) first_name: String,
    pub(crate) last_name: String,
    pub(crate) image_url: Option<String>,
    pub(crate) username: Option<String>,
    pub(crate) phone_number: Option<String>,
    pub(crate) public_metadata: Metadata,
    pub(crate) label: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    /// OAuth access token Clerk holds for this account (sign-in flows create it).
    pub(crate) token: Option<OAuthToken>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct OAuthToken {
    pub(crate) token: String,
    pub(crate) token_secret: Option<String>,
    pub(crate) id_token: Option<String>,
    pub(crate) scopes: Option<Vec<String>>,
    pub(crate) expires_at: Option<i64>,
}

/// A stored password: plain passwords are kept as a fast salted hash, imported digests as given.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Password {
    Plain { hash: String },
    Digest { hasher: String, digest: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct User {
    pub(crate) id: String,
    /// Insertion order, the tie-break of every ordering.
    pub(crate) seq: u64,
    pub(crate) external_id: Option<String>,
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) username: Option<String>,
    pub(crate) locale: Option<String>,
    pub(crate) emails: Vec<Email>,
    pub(crate) phones: Vec<Phone>,
    pub(crate) wallets: Vec<Wallet>,
    pub(crate) passkeys: Vec<Passkey>,
    pub(crate) external_accounts: Vec<ExternalAccount>,
    pub(crate) primary_email_address_id: Option<String>,
    pub(crate) primary_phone_number_id: Option<String>,
    pub(crate) primary_web3_wallet_id: Option<String>,
    pub(crate) image_id: Option<String>,
    pub(crate) public_metadata: StoredMetadata,
    pub(crate) private_metadata: StoredMetadata,
    pub(crate) unsafe_metadata: StoredMetadata,
    pub(crate) password: Option<Password>,
    pub(crate) password_last_updated_at: Option<i64>,
    pub(crate) totp_secret: Option<String>,
    pub(crate) backup_codes: Vec<String>,
    pub(crate) mfa_enabled_at: Option<i64>,
    pub(crate) mfa_disabled_at: Option<i64>,
    pub(crate) last_sign_in_at: Option<i64>,
    pub(crate) last_active_at: Option<i64>,
    pub(crate) legal_accepted_at: Option<i64>,
    pub(crate) banned: bool,
    /// Unix ms until which the user is locked; `Some(i64::MAX)` never expires.
    pub(crate) locked_until: Option<i64>,
    pub(crate) delete_self_enabled: bool,
    pub(crate) create_organization_enabled: bool,
    pub(crate) create_organizations_limit: Option<i64>,
    pub(crate) bypass_client_trust: bool,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    /// State of the newer operations (absent from older state files).
    #[serde(default)]
    pub(crate) extras: UserExtras,
}

/// What the password-compromised, trusted-device and billing operations keep on a user.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct UserExtras {
    /// Set by `POST …/password/set_compromised`; cleared by unset, removal or a new password.
    #[serde(default)]
    pub(crate) password_compromised: bool,
    #[serde(default)]
    pub(crate) trusted_devices: Vec<TrustedDevice>,
    /// Boxed: most users have none, and inline it would add 248 bytes to every user.
    #[serde(default)]
    pub(crate) subscription: Option<Box<Subscription>>,
    /// The credit ledger, oldest first; the balance is its sum.
    #[serde(default)]
    pub(crate) credit_ledger: Vec<CreditEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TrustedDevice {
    pub(crate) id: String,
    pub(crate) platform: String,
    pub(crate) app_identifier: String,
    pub(crate) name: Option<String>,
    pub(crate) revoked_at: Option<i64>,
    pub(crate) last_used_at: Option<i64>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

/// A billing subscription with one plan (what the seed file and the control API set).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Subscription {
    pub(crate) id: String,
    pub(crate) item_id: String,
    pub(crate) payer_id: String,
    pub(crate) status: String,
    pub(crate) plan_id: String,
    pub(crate) plan_name: String,
    pub(crate) plan_slug: String,
    /// Monthly fee in cents.
    pub(crate) amount: i64,
    pub(crate) currency: String,
    pub(crate) period: String,
    pub(crate) period_start: i64,
    pub(crate) period_end: i64,
    pub(crate) created_at: i64,
}

/// One credit adjustment; `amount` is signed (a decrease is negative).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CreditEntry {
    pub(crate) id: String,
    pub(crate) idempotency_key: String,
    pub(crate) amount: i64,
    pub(crate) currency: String,
    pub(crate) note: Option<String>,
    pub(crate) created_at: i64,
}

impl User {
    pub(crate) fn is_locked(&self, now: i64) -> bool {
        self.locked_until.is_some_and(|t| t > now)
    }

    pub(crate) fn primary_email(&self) -> Option<&str> {
        let id = self.primary_email_address_id.as_deref()?;
        self.emails
            .iter()
            .find(|e| e.id == id)
            .map(|e| e.email_address.as_str())
    }

    pub(crate) fn primary_phone(&self) -> Option<&str> {
        let id = self.primary_phone_number_id.as_deref()?;
        self.phones
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.phone_number.as_str())
    }

    pub(crate) fn primary_wallet(&self) -> Option<&str> {
        let id = self.primary_web3_wallet_id.as_deref()?;
        self.wallets
            .iter()
            .find(|w| w.id == id)
            .map(|w| w.web3_wallet.as_str())
    }

    /// The identifier Clerk shows in `public_user_data.identifier`.
    pub(crate) fn identifier(&self) -> Option<String> {
        self.primary_email()
            .or(self.primary_phone())
            .or(self.username.as_deref())
            .or(self.primary_wallet())
            .map(str::to_owned)
    }

    pub(crate) fn has_identifier_besides_username(&self) -> bool {
        !self.emails.is_empty() || !self.phones.is_empty() || !self.wallets.is_empty()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Image {
    pub(crate) content_type: String,
    /// Base64 in the snapshot so the state file stays JSON.
    #[serde(with = "b64")]
    pub(crate) bytes: Vec<u8>,
}

mod b64 {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Organization {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) slug: String,
    pub(crate) created_by: Option<String>,
    pub(crate) public_metadata: Metadata,
    pub(crate) private_metadata: Metadata,
    pub(crate) max_allowed_memberships: i64,
    pub(crate) role_set_key: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Membership {
    pub(crate) id: String,
    pub(crate) organization_id: String,
    pub(crate) user_id: String,
    pub(crate) role: String,
    pub(crate) public_metadata: Metadata,
    pub(crate) private_metadata: Metadata,
    pub(crate) seq: u64,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Invitation {
    pub(crate) id: String,
    pub(crate) organization_id: String,
    pub(crate) email_address: String,
    pub(crate) role: String,
    pub(crate) inviter_id: Option<String>,
    pub(crate) status: String,
    pub(crate) public_metadata: Metadata,
    pub(crate) private_metadata: Metadata,
    pub(crate) redirect_url: Option<String>,
    pub(crate) expires_at: Option<i64>,
    pub(crate) seq: u64,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

impl Invitation {
    /// `pending` past its expiry reads as `expired`, as Clerk reports it.
    pub(crate) fn effective_status(&self, now: i64) -> &str {
        if self.status == "pending" && self.expires_at.is_some_and(|t| t <= now) {
            "expired"
        } else {
            &self.status
        }
    }
}

/// Display name and permissions of Clerk's default organization roles.
pub(crate) fn role_info(role: &str) -> (String, Vec<&'static str>) {
    match role {
        "org:admin" | "admin" => (
            "Admin".into(),
            vec![
                "org:sys_profile:manage",
                "org:sys_profile:delete",
                "org:sys_memberships:read",
                "org:sys_memberships:manage",
                "org:sys_domains:read",
                "org:sys_domains:manage",
            ],
        ),
        "org:member" | "basic_member" => ("Member".into(), vec!["org:sys_memberships:read"]),
        other => {
            let name = other.strip_prefix("org:").unwrap_or(other);
            let mut chars = name.chars();
            let pretty = chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default();
            (pretty, Vec::new())
        }
    }
}

pub(crate) fn is_admin_role(role: &str) -> bool {
    matches!(role, "org:admin" | "admin")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> Metadata {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("an object"),
        }
    }

    #[test]
    fn stored_metadata_gives_back_and_serializes_the_same_object() {
        let map = object(json!({"plan": "pro", "n": 7, "nested": {"a": [1, null, "x"]}}));
        let stored = StoredMetadata::new(&map);
        assert_eq!(stored.map(), map);
        assert_eq!(
            serde_json::to_string(&stored).unwrap(),
            serde_json::to_string(&map).unwrap()
        );
        let back: StoredMetadata =
            serde_json::from_str(&serde_json::to_string(&map).unwrap()).unwrap();
        assert_eq!(back.map(), map);
        let empty = StoredMetadata::new(&Metadata::new());
        assert_eq!(serde_json::to_string(&empty).unwrap(), "{}");
        let mut updated = stored;
        updated.update(|m| {
            m.remove("nested");
        });
        assert_eq!(updated.map(), object(json!({"plan": "pro", "n": 7})));
        updated.clear();
        assert!(updated.map().is_empty());
    }

    #[test]
    fn metadata_too_deep_to_parse_back_is_kept_whole() {
        let mut deep = json!("leaf");
        for _ in 0..200 {
            deep = json!({ "d": deep });
        }
        let map = object(deep);
        let stored = StoredMetadata::new(&map);
        assert_eq!(stored.map(), map, "not silently emptied");
        assert_eq!(
            serde_json::to_string(&stored).unwrap(),
            serde_json::to_string(&map).unwrap()
        );
    }
}
