use serde::{Deserialize, Serialize};

use super::null_as_default;
use super::{ObjectType, TrustedDevicePlatform, TrustedDeviceStatus};

/// A device a user enrolled as trusted (a mobile app holding a device key).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct TrustedDevice {
    /// Always [`ObjectType::TrustedDevice`].
    #[serde(deserialize_with = "null_as_default")]
    pub object: ObjectType,
    /// Its id, the one `RevokeTrustedDevice` takes.
    #[serde(deserialize_with = "null_as_default")]
    pub id: String,
    /// `ios` or `android`.
    #[serde(deserialize_with = "null_as_default")]
    pub platform: TrustedDevicePlatform,
    /// The app that enrolled it (bundle id or package name).
    #[serde(deserialize_with = "null_as_default")]
    pub app_identifier: String,
    /// The name the device reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The signature algorithm of the device key (`ES256`).
    #[serde(deserialize_with = "null_as_default")]
    pub algorithm: String,
    /// `active` or `revoked`.
    #[serde(deserialize_with = "null_as_default")]
    pub status: TrustedDeviceStatus,
    /// Enrolment (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub created_at: i64,
    /// Last update (Unix ms).
    #[serde(deserialize_with = "null_as_default")]
    pub updated_at: i64,
    /// Last use (Unix ms), if ever used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<i64>,
    /// Revocation (Unix ms), once revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
}

/// What `GET /users/{user_id}/trusted_devices` returns: the active devices.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct TrustedDevices {
    /// The devices.
    #[serde(deserialize_with = "null_as_default")]
    pub data: Vec<TrustedDevice>,
    /// How many there are.
    #[serde(deserialize_with = "null_as_default")]
    pub total_count: i64,
}
