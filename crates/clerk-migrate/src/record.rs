//! A record to migrate: its body (compact JSON text), its stable key, and how it
//! can be found on the server ([`Lookup`]).

use clerk_core::User;
use clerk_tower::users::UserFilter;
use serde_json::{Map, Value};

/// A record's body kept as compact JSON text: a million records cost about their
/// text, where a million decoded maps cost gigabytes. Decoded when looked at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Body(Box<str>);

impl Body {
    /// Encodes a body.
    pub fn from_map(map: Map<String, Value>) -> Self {
        // Encoding a map of JSON values cannot fail.
        Self(Value::Object(map).to_string().into_boxed_str())
    }

    /// The body as a map.
    pub fn to_map(&self) -> Map<String, Value> {
        match serde_json::from_str(&self.0) {
            Ok(Value::Object(map)) => map,
            // Only `from_map` makes bodies, so they are always JSON objects.
            _ => Map::new(),
        }
    }

    /// The body as JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How a record can be found on the server.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Lookup {
    /// By `external_id` (exact).
    ExternalId(String),
    /// By the first email address (lowercase).
    Email(String),
    /// By the first phone number.
    Phone(String),
    /// By username (lowercase).
    Username(String),
    /// Nothing to look it up by: created without reconciliation.
    None,
}

impl Lookup {
    /// The best lookup for a create body.
    pub fn for_body(body: &Map<String, Value>) -> Self {
        let first = |f: &str| {
            body.get(f)
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .and_then(Value::as_str)
        };
        if let Some(id) = body.get("external_id").and_then(Value::as_str) {
            Self::ExternalId(id.to_owned())
        } else if let Some(email) = first("email_address") {
            Self::Email(email.to_lowercase())
        } else if let Some(phone) = first("phone_number") {
            Self::Phone(phone.to_owned())
        } else if let Some(name) = body.get("username").and_then(Value::as_str) {
            Self::Username(name.to_lowercase())
        } else {
            Self::None
        }
    }

    pub(crate) fn kind(&self) -> u8 {
        match self {
            Self::ExternalId(_) => 0,
            Self::Email(_) => 1,
            Self::Phone(_) => 2,
            Self::Username(_) => 3,
            Self::None => 4,
        }
    }

    /// A filter matching any of `values` (all of this lookup's kind).
    pub(crate) fn filter(kind: u8, values: &[String]) -> UserFilter {
        let f = UserFilter::new();
        match kind {
            // A leading `+`/`-` would read as include/exclude: `+` makes it a literal include.
            0 => f.external_ids(values.iter().map(|v| {
                if v.starts_with(['+', '-']) {
                    format!("+{v}")
                } else {
                    v.clone()
                }
            })),
            1 => f.email_addresses(values.iter().cloned()),
            2 => f.phone_numbers(values.iter().cloned()),
            _ => f.usernames(values.iter().cloned()),
        }
    }

    /// The values of this lookup's kind that `user` carries.
    pub(crate) fn values_of(kind: u8, user: &User) -> Vec<String> {
        match kind {
            0 => user.external_id.iter().cloned().collect(),
            1 => user
                .email_addresses
                .iter()
                .map(|e| e.email_address.to_lowercase())
                .collect(),
            2 => user
                .phone_numbers
                .iter()
                .map(|p| p.phone_number.clone())
                .collect(),
            _ => user.username.iter().map(|u| u.to_lowercase()).collect(),
        }
    }

    /// The value looked up, if any.
    pub fn value(&self) -> Option<&str> {
        match self {
            Self::ExternalId(v) | Self::Email(v) | Self::Phone(v) | Self::Username(v) => Some(v),
            Self::None => None,
        }
    }
}

/// The stable key of a record: its `external_id`, else its first email address
/// (lowercase), else a hash of the whole body.
pub fn record_key(body: &Map<String, Value>) -> String {
    if let Some(Value::String(id)) = body.get("external_id") {
        return id.clone();
    }
    if let Some(email) = body
        .get("email_address")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str)
    {
        return email.to_lowercase();
    }
    // serde_json's map is ordered by key, so this text is canonical.
    let text = Value::Object(body.clone()).to_string();
    format!("h:{:016x}", stable_hash(text.as_bytes()))
}

/// FNV-1a: stable across runs, platforms and versions (record keys and shards depend on it).
pub(crate) fn stable_hash(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn lookups_prefer_the_external_id() {
        assert_eq!(
            Lookup::for_body(&m(json!({"external_id":"e","email_address":["A@x.io"]}))),
            Lookup::ExternalId("e".into())
        );
        assert_eq!(
            Lookup::for_body(&m(json!({"email_address":["A@x.io"]}))),
            Lookup::Email("a@x.io".into())
        );
        assert_eq!(
            Lookup::for_body(&m(json!({"phone_number":["+14155550100"]}))),
            Lookup::Phone("+14155550100".into())
        );
        assert_eq!(
            Lookup::for_body(&m(json!({"username":"Ann_1"}))),
            Lookup::Username("ann_1".into())
        );
        assert_eq!(
            Lookup::for_body(&m(json!({"first_name":"A"}))),
            Lookup::None
        );
    }

    #[test]
    fn keys_prefer_external_id_then_email_then_a_hash() {
        assert_eq!(
            record_key(&m(
                json!({"external_id": "x1", "email_address": ["A@x.io"]})
            )),
            "x1"
        );
        assert_eq!(
            record_key(&m(json!({"email_address": ["A@x.io"]}))),
            "a@x.io"
        );
        let a = record_key(&m(json!({"username": "ann", "first_name": "A"})));
        let b = record_key(&m(json!({"first_name": "A", "username": "ann"})));
        assert_eq!(a, b);
        assert!(a.starts_with("h:"));
        assert_ne!(a, record_key(&m(json!({"username": "bob"}))));
    }
}
