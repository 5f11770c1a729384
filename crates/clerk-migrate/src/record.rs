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
    /// By the first web3 wallet (lowercase).
    Web3Wallet(String),
    /// Nothing to look it up by: such a record cannot be reconciled, so it is
    /// imported at most once, not exactly once.
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
        } else if let Some(wallet) = first("web3_wallet") {
            Self::Web3Wallet(wallet.to_lowercase())
        } else {
            Self::None
        }
    }

    /// Every lookup a create body offers, best first (the 422
    /// `form_identifier_exists` case looks for whoever holds any of them).
    pub fn all_for_body(body: &Map<String, Value>) -> Vec<Self> {
        let mut all = Vec::new();
        if let Some(id) = body.get("external_id").and_then(Value::as_str) {
            all.push(Self::ExternalId(id.to_owned()));
        }
        let list = |f: &str| {
            body.get(f)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        all.extend(
            list("email_address")
                .into_iter()
                .map(|v| Self::Email(v.to_lowercase())),
        );
        all.extend(
            list("phone_number")
                .into_iter()
                .map(|v| Self::Phone(v.to_owned())),
        );
        if let Some(name) = body.get("username").and_then(Value::as_str) {
            all.push(Self::Username(name.to_lowercase()));
        }
        all.extend(
            list("web3_wallet")
                .into_iter()
                .map(|v| Self::Web3Wallet(v.to_lowercase())),
        );
        all
    }

    /// The record's identity in the checkpoint journal: the lookup kind and value
    /// (`x:crm-42`, `e:ada@example.com`, `p:…`, `u:…`, `w:…`), else `h:` and a hash of
    /// the whole body. Independent of the record's position, so a fixed, reordered or
    /// appended input resumes where it stopped.
    pub fn identity(&self, body: &Map<String, Value>) -> String {
        match self {
            Self::ExternalId(v) => format!("x:{v}"),
            Self::Email(v) => format!("e:{v}"),
            Self::Phone(v) => format!("p:{v}"),
            Self::Username(v) => format!("u:{v}"),
            Self::Web3Wallet(v) => format!("w:{v}"),
            Self::None => format!("h:{:016x}", fingerprint(body)),
        }
    }

    pub(crate) fn kind(&self) -> u8 {
        match self {
            Self::ExternalId(_) => 0,
            Self::Email(_) => 1,
            Self::Phone(_) => 2,
            Self::Username(_) => 3,
            Self::Web3Wallet(_) => 4,
            Self::None => 5,
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
            4 => f.web3_wallets(values.iter().cloned()),
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
            4 => user
                .web3_wallets
                .iter()
                .map(|w| w.web3_wallet.to_lowercase())
                .collect(),
            _ => user.username.iter().map(|u| u.to_lowercase()).collect(),
        }
    }

    /// Bytes this value adds to a list URL (`&email_address=` and the value,
    /// percent-encoded): lookups are chunked to keep URLs under
    /// [`MAX_LOOKUP_URL`].
    pub(crate) fn encoded_len(value: &str) -> usize {
        let encoded: usize = value
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    1
                } else {
                    3
                }
            })
            .sum();
        // The longest parameter name (`email_address`), `&`, `=`, and a `+` prefix.
        encoded + 20
    }

    /// The value looked up, if any.
    pub fn value(&self) -> Option<&str> {
        match self {
            Self::ExternalId(v)
            | Self::Email(v)
            | Self::Phone(v)
            | Self::Username(v)
            | Self::Web3Wallet(v) => Some(v),
            Self::None => None,
        }
    }
}

/// A record's identity ([`Lookup::identity`] of its best lookup): the journal's key
/// and what `--shard` splits by.
pub fn record_key(body: &Map<String, Value>) -> String {
    Lookup::for_body(body).identity(body)
}

/// Longest lookup URL sent: proxies in front of Clerk refuse URLs over 8 KB.
pub const MAX_LOOKUP_URL: usize = 7_000;

/// A hash of the whole body (canonical: serde_json's map is ordered by key). Kept in
/// the journal so a record edited between runs can be told apart.
pub fn fingerprint(body: &Map<String, Value>) -> u64 {
    stable_hash(Value::Object(body.clone()).to_string().as_bytes())
}

/// Whether `user` is the user this record describes: every identifier of the record
/// is on the user (external id, emails, phones, username, web3 wallets). Returns
/// the fields that differ; empty means it agrees.
pub fn disagreements(body: &Map<String, Value>, user: &User) -> Vec<&'static str> {
    let mut differ = Vec::new();
    if let Some(id) = body.get("external_id").and_then(Value::as_str)
        && user.external_id.as_deref() != Some(id)
    {
        differ.push("external_id");
    }
    let list = |f: &str| {
        body.get(f)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_lowercase)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let emails: Vec<String> = user
        .email_addresses
        .iter()
        .map(|e| e.email_address.to_lowercase())
        .collect();
    if list("email_address").iter().any(|e| !emails.contains(e)) {
        differ.push("email_address");
    }
    let phones: Vec<String> = user
        .phone_numbers
        .iter()
        .map(|p| p.phone_number.to_lowercase())
        .collect();
    if list("phone_number").iter().any(|p| !phones.contains(p)) {
        differ.push("phone_number");
    }
    if let Some(name) = body.get("username").and_then(Value::as_str)
        && user.username.as_deref().map(str::to_lowercase) != Some(name.to_lowercase())
    {
        differ.push("username");
    }
    let wallets: Vec<String> = user
        .web3_wallets
        .iter()
        .map(|w| w.web3_wallet.to_lowercase())
        .collect();
    if list("web3_wallet").iter().any(|w| !wallets.contains(w)) {
        differ.push("web3_wallet");
    }
    differ
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
    fn identities_are_the_lookup_key_else_a_content_hash() {
        let body = m(json!({"external_id": "x1", "email_address": ["A@x.io"], "first_name": "A"}));
        let edited =
            m(json!({"external_id": "x1", "email_address": ["A@x.io"], "first_name": "B"}));
        let id = |b: &Map<String, Value>| Lookup::for_body(b).identity(b);
        assert_eq!(id(&body), "x:x1");
        assert_eq!(id(&edited), "x:x1", "editing a field keeps the identity");
        assert_eq!(id(&m(json!({"email_address": ["A@x.io"]}))), "e:a@x.io");
        let a = id(&m(json!({"first_name": "A", "last_name": "B"})));
        let b = id(&m(json!({"last_name": "B", "first_name": "A"})));
        assert_eq!(a, b);
        assert!(a.starts_with("h:"));
    }

    #[test]
    fn agreement_is_on_every_identifier() {
        let user: User = serde_json::from_value(json!({
            "id": "user_1", "object": "user", "external_id": "x1",
            "email_addresses": [{"email_address": "a@x.io"}], "username": "ann"
        }))
        .unwrap();
        assert!(
            disagreements(
                &m(json!({"external_id": "x1", "email_address": ["A@x.io"]})),
                &user
            )
            .is_empty()
        );
        assert_eq!(
            disagreements(
                &m(json!({"external_id": "x1", "email_address": ["b@x.io"], "username": "bob"})),
                &user
            ),
            ["email_address", "username"]
        );
        assert_eq!(
            disagreements(&m(json!({"external_id": "x2"})), &user),
            ["external_id"]
        );
    }

    #[test]
    fn encoded_lengths_count_percent_escapes() {
        assert_eq!(Lookup::encoded_len("abc"), 23);
        assert_eq!(Lookup::encoded_len("a@b"), 25);
    }
}
