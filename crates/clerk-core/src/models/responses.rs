use std::fmt;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::null_as_default;
use super::{Metadata, ObjectType, TotpCodeType};

/// What a delete returns.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct DeletedObject {
    /// The kind of the deleted object (`user` for a deleted user).
    #[serde(deserialize_with = "null_as_default")]
    pub object: ObjectType,
    /// Its id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Its slug, for objects that have one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    /// Whether it was deleted.
    #[serde(deserialize_with = "null_as_default")]
    pub deleted: bool,
    /// The external id of a deleted user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// `true` when no server sent this object: a resend of the delete found the
    /// object gone (`404`) after an earlier attempt whose answer was lost, which
    /// removed it (or someone else did in between: the server cannot tell them
    /// apart; [`Error::is_applied_earlier`](crate::Error::is_applied_earlier));
    /// [`Operation::output_if_applied_earlier`](crate::Operation::output_if_applied_earlier)
    /// made it, with `object`, `id` and `deleted: true` (no `external_id`). Never
    /// on the wire.
    #[serde(skip)]
    pub applied_earlier: bool,
}

impl DeletedObject {
    /// What the lost answer of a delete of `object` `id` would have said:
    /// `deleted: true`, marked [`applied_earlier`](Self::applied_earlier).
    pub fn removed_earlier(object: ObjectType, id: impl Into<String>) -> Self {
        Self {
            object,
            id: Some(id.into()),
            deleted: true,
            applied_earlier: true,
            ..Self::default()
        }
    }
}

/// What `GET /users/count` returns.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct TotalCount {
    /// Always [`ObjectType::TotalCount`].
    #[serde(deserialize_with = "null_as_default")]
    pub object: ObjectType,
    /// How many users match the filters.
    #[serde(deserialize_with = "null_as_default")]
    pub total_count: i64,
}

/// What a successful password check returns. A wrong password is an error (422),
/// never `verified: false`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct VerifyPasswordResponse {
    /// Whether the password matched.
    #[serde(deserialize_with = "null_as_default")]
    pub verified: bool,
}

/// What a successful TOTP or backup-code check returns. A wrong code is an error
/// (422), never `verified: false`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct VerifyTotpResponse {
    /// Whether the code matched.
    #[serde(deserialize_with = "null_as_default")]
    pub verified: bool,
    /// Which kind of code matched; a backup code is used up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_type: Option<TotpCodeType>,
}

/// What the MFA, TOTP and backup-code deletes return.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct UserIdResponse {
    /// The user the change applied to.
    #[serde(deserialize_with = "null_as_default")]
    pub user_id: String,
}

/// An OAuth access token of a user. `Debug` redacts the token, its secret and
/// the ID token.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct OAuthAccessToken {
    /// Always [`ObjectType::OauthAccessToken`].
    #[serde(deserialize_with = "null_as_default")]
    pub object: ObjectType,
    /// The external account the token belongs to.
    #[serde(deserialize_with = "null_as_default")]
    pub external_account_id: String,
    /// The user's id at the provider.
    #[serde(deserialize_with = "null_as_default")]
    pub provider_user_id: String,
    /// The access token.
    #[serde(deserialize_with = "null_as_default")]
    pub token: String,
    /// Expiry (Unix ms).
    pub expires_at: Option<i64>,
    /// The provider, such as `oauth_google`.
    #[serde(deserialize_with = "null_as_default")]
    pub provider: String,
    /// Metadata of the external account.
    #[serde(deserialize_with = "null_as_default")]
    pub public_metadata: Metadata,
    /// A label for the account.
    pub label: Option<String>,
    /// Scopes of the token (OAuth 2.0 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// The OIDC ID token, when the provider gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// The token secret (OAuth 1.0 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_secret: Option<String>,
}

impl fmt::Debug for OAuthAccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |present: bool| if present { "<redacted>" } else { "<none>" };
        f.debug_struct("OAuthAccessToken")
            .field("object", &self.object)
            .field("external_account_id", &self.external_account_id)
            .field("provider_user_id", &self.provider_user_id)
            .field("token", &redacted(true))
            .field("expires_at", &self.expires_at)
            .field("provider", &self.provider)
            .field("public_metadata", &self.public_metadata)
            .field("label", &self.label)
            .field("scopes", &self.scopes)
            .field("id_token", &redacted(self.id_token.is_some()))
            .field("token_secret", &redacted(self.token_secret.is_some()))
            .finish()
    }
}

/// The OAuth access tokens of a user for one provider.
///
/// The server answers with a bare array, or with `{data, total_count}` when the
/// request asked for `paginated=true`; both decode into this type
/// (`total_count` is `None` for the bare array).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct OAuthAccessTokens {
    /// The tokens.
    pub data: Vec<OAuthAccessToken>,
    /// How many tokens there are in total, when the server said.
    pub total_count: Option<i64>,
}

impl Serialize for OAuthAccessTokens {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.total_count {
            None => self.data.serialize(serializer),
            Some(total) => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("data", &self.data)?;
                map.serialize_entry("total_count", &total)?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for OAuthAccessTokens {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TokensVisitor;

        impl<'de> Visitor<'de> for TokensVisitor {
            type Value = OAuthAccessTokens;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of OAuth access tokens or {data, total_count}")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut data = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(token) = seq.next_element()? {
                    data.push(token);
                }
                Ok(OAuthAccessTokens {
                    data,
                    total_count: None,
                })
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut data: Option<Vec<OAuthAccessToken>> = None;
                let mut total_count = None;
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match key.as_ref() {
                        "data" => data = Some(map.next_value::<Option<_>>()?.unwrap_or_default()),
                        "total_count" => total_count = map.next_value()?,
                        _ => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(OAuthAccessTokens {
                    data: data.ok_or_else(|| de::Error::missing_field("data"))?,
                    total_count,
                })
            }
        }

        deserializer.deserialize_any(TokensVisitor)
    }
}
