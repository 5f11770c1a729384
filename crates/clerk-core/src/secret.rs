//! The Clerk secret key, kept out of every `Debug`, `Display`, log and error.

use std::fmt;
use std::sync::Arc;

/// Which kind of Clerk instance a secret key belongs to.
///
/// Clerk's rate limits depend on it: 1000 requests per 10 s for production
/// instances, 100 per 10 s for development instances.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InstanceType {
    /// `sk_live_…` (or the legacy `live_…`).
    Production,
    /// `sk_test_…` (or the legacy `test_…`).
    Development,
}

/// A Clerk secret key (`sk_live_…` or `sk_test_…`).
///
/// `Debug` and `Display` print only the prefix (`sk_live_…`, redacted), so a key
/// inside a client, a builder, a request or an error never reaches a log. Use
/// [`SecretKey::expose`] at the single place that writes the `Authorization` header.
/// Cloning is cheap.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey {
    key: Arc<str>,
}

impl SecretKey {
    /// Wraps a secret key. Surrounding white space (a trailing newline from a
    /// file or an environment variable) is removed.
    pub fn new(key: impl AsRef<str>) -> Self {
        Self {
            key: Arc::from(key.as_ref().trim()),
        }
    }

    /// The key itself. Only the auth layer should call this.
    pub fn expose(&self) -> &str {
        &self.key
    }

    /// The instance type, from the key's prefix; `None` for an unknown prefix.
    pub fn instance_type(&self) -> Option<InstanceType> {
        let key = self.expose();
        if key.starts_with("sk_live_") || key.starts_with("live_") {
            Some(InstanceType::Production)
        } else if key.starts_with("sk_test_") || key.starts_with("test_") {
            Some(InstanceType::Development)
        } else {
            None
        }
    }

    /// Whether the key is empty (after trimming).
    pub fn is_empty(&self) -> bool {
        self.key.is_empty()
    }

    fn redacted_prefix(&self) -> &'static str {
        match self.instance_type() {
            Some(InstanceType::Production) => "sk_live_",
            Some(InstanceType::Development) => "sk_test_",
            None => "",
        }
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({}…redacted)", self.redacted_prefix())
    }
}

impl fmt::Display for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}…redacted", self.redacted_prefix())
    }
}

impl From<&str> for SecretKey {
    fn from(key: &str) -> Self {
        Self::new(key)
    }
}

impl From<String> for SecretKey {
    fn from(key: String) -> Self {
        Self::new(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_key() {
        let key = SecretKey::new("sk_live_abcdefSECRET123\n");
        for shown in [format!("{key:?}"), format!("{key}"), format!("{key:#?}")] {
            assert!(!shown.contains("SECRET"), "{shown}");
            assert!(!shown.contains("abcdef"), "{shown}");
        }
        assert_eq!(key.expose(), "sk_live_abcdefSECRET123");
    }

    #[test]
    fn instance_type_follows_the_prefix() {
        assert_eq!(
            SecretKey::new("sk_live_x").instance_type(),
            Some(InstanceType::Production)
        );
        assert_eq!(
            SecretKey::new("sk_test_x").instance_type(),
            Some(InstanceType::Development)
        );
        assert_eq!(
            SecretKey::new("test_x").instance_type(),
            Some(InstanceType::Development)
        );
        assert_eq!(SecretKey::new("pk_test_x").instance_type(), None);
    }
}
