//! JSON body and query-string parsing with Clerk errors for every failure.

use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::model::Metadata;

/// A field of a PATCH body: absent, explicitly `null`, or a value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Patch<T> {
    Absent,
    Null,
    Set(T),
}

impl<T> Patch<T> {
    pub(crate) fn into_option(self) -> Option<T> {
        match self {
            Patch::Set(v) => Some(v),
            _ => None,
        }
    }
}

/// A JSON object body.
#[derive(Debug, Default)]
pub(crate) struct JsonBody {
    map: Map<String, Value>,
}

fn malformed(why: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(
        "request_body_invalid",
        "Request body invalid",
        format!(
            "The request body is invalid: {why}. Please consult the API documentation for more information."
        ),
    )
}

impl JsonBody {
    /// Parses a body that must be an object (empty body and `null` read as `{}`). With
    /// `allowed = Some(..)`, any other key is a 422 `form_param_unknown`.
    pub(crate) fn parse(bytes: &[u8], allowed: Option<&[&str]>) -> ApiResult<Self> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        let value: Value = serde_json::from_slice(bytes).map_err(malformed)?;
        let map = match value {
            Value::Null => Map::new(),
            Value::Object(m) => m,
            _ => return Err(malformed("expected a JSON object")),
        };
        let body = Self { map };
        if let Some(allowed) = allowed {
            body.check_keys(allowed)?;
        }
        Ok(body)
    }

    pub(crate) fn from_map(map: Map<String, Value>) -> Self {
        Self { map }
    }

    /// Bodyless operations accept an empty body, `{}` or `null`, nothing else.
    pub(crate) fn expect_empty(bytes: &[u8]) -> ApiResult<()> {
        let body = Self::parse(bytes, Some(&[]))?;
        debug_assert!(body.map.is_empty());
        Ok(())
    }

    pub(crate) fn raw(&self, key: &str) -> Option<&Value> {
        self.map.get(key)
    }

    /// 422 `form_param_unknown` for any key outside `allowed`.
    pub(crate) fn check_keys(&self, allowed: &[&str]) -> ApiResult<()> {
        let mut keys: Vec<&String> = self.map.keys().collect();
        keys.sort();
        match keys.into_iter().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(ApiError::unknown_param(k)),
            None => Ok(()),
        }
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    fn get(&self, key: &str) -> Patch<&Value> {
        match self.map.get(key) {
            None => Patch::Absent,
            Some(Value::Null) => Patch::Null,
            Some(v) => Patch::Set(v),
        }
    }

    pub(crate) fn string(&self, key: &str) -> ApiResult<Patch<String>> {
        Ok(match self.get(key) {
            Patch::Absent => Patch::Absent,
            Patch::Null => Patch::Null,
            Patch::Set(Value::String(s)) => Patch::Set(s.clone()),
            Patch::Set(_) => return Err(ApiError::invalid_param(key, "expected a string")),
        })
    }

    pub(crate) fn opt_string(&self, key: &str) -> ApiResult<Option<String>> {
        self.string(key).map(Patch::into_option)
    }

    pub(crate) fn required_string(&self, key: &str) -> ApiResult<String> {
        self.opt_string(key)?
            .ok_or_else(|| ApiError::missing_param(key))
    }

    pub(crate) fn opt_bool(&self, key: &str) -> ApiResult<Option<bool>> {
        match self.get(key) {
            Patch::Absent | Patch::Null => Ok(None),
            Patch::Set(Value::Bool(b)) => Ok(Some(*b)),
            Patch::Set(_) => Err(ApiError::invalid_param(key, "expected a boolean")),
        }
    }

    pub(crate) fn int(&self, key: &str) -> ApiResult<Patch<i64>> {
        Ok(match self.get(key) {
            Patch::Absent => Patch::Absent,
            Patch::Null => Patch::Null,
            Patch::Set(v) => match v.as_i64() {
                Some(n) => Patch::Set(n),
                None => return Err(ApiError::invalid_param(key, "expected an integer")),
            },
        })
    }

    pub(crate) fn string_list(&self, key: &str) -> ApiResult<Option<Vec<String>>> {
        match self.get(key) {
            Patch::Absent | Patch::Null => Ok(None),
            Patch::Set(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(ApiError::invalid_param(key, "expected an array of strings")),
                })
                .collect::<ApiResult<Vec<_>>>()
                .map(Some),
            Patch::Set(_) => Err(ApiError::invalid_param(key, "expected an array of strings")),
        }
    }

    pub(crate) fn object(&self, key: &str) -> ApiResult<Patch<Metadata>> {
        Ok(match self.get(key) {
            Patch::Absent => Patch::Absent,
            Patch::Null => Patch::Null,
            Patch::Set(Value::Object(m)) => Patch::Set(m.clone()),
            Patch::Set(_) => return Err(ApiError::invalid_param(key, "expected a JSON object")),
        })
    }

    /// An RFC 3339 timestamp field, as Unix ms.
    pub(crate) fn timestamp(&self, key: &str) -> ApiResult<Patch<i64>> {
        Ok(match self.string(key)? {
            Patch::Absent => Patch::Absent,
            Patch::Null => Patch::Null,
            Patch::Set(s) => match clerk_rules::timestamp::rfc3339_unix_ms(&s) {
                Some(ms) => Patch::Set(ms),
                None => {
                    return Err(ApiError::invalid_param(
                        key,
                        "expected an RFC 3339 date-time such as 2012-10-20T07:15:20.902Z",
                    ));
                }
            },
        })
    }
}

/// A decoded query string (`+` decodes to a space; clients send `%2B`).
#[derive(Debug, Default)]
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        Self {
            pairs: raw
                .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default(),
        }
    }

    pub(crate) fn all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Array filters take up to 100 values.
    pub(crate) fn list(&self, key: &str) -> ApiResult<Vec<&str>> {
        let v = self.all(key);
        if v.len() > 100 {
            return Err(ApiError::value_invalid(key, "accepts at most 100 values"));
        }
        Ok(v)
    }

    /// The first value (Clerk uses only the first `order_by`).
    pub(crate) fn first(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn int(&self, key: &str) -> ApiResult<Option<i64>> {
        match self.first(key) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| ApiError::invalid_param(key, "expected an integer")),
        }
    }

    pub(crate) fn boolean(&self, key: &str) -> ApiResult<Option<bool>> {
        match self.first(key) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(ApiError::invalid_param(key, "expected true or false")),
        }
    }

    /// `limit` (1..=500, default 10) and `offset` (>= 0, default 0).
    pub(crate) fn page(&self) -> ApiResult<(usize, usize)> {
        let limit = self.int("limit")?.unwrap_or(10);
        if !(1..=500).contains(&limit) {
            return Err(ApiError::value_invalid(
                "limit",
                "must be between 1 and 500",
            ));
        }
        let offset = self.int("offset")?.unwrap_or(0);
        if offset < 0 {
            return Err(ApiError::value_invalid(
                "offset",
                "must be greater than or equal to 0",
            ));
        }
        Ok((
            usize::try_from(limit).unwrap_or(10),
            usize::try_from(offset).unwrap_or(usize::MAX),
        ))
    }
}

/// Deep merge for UpdateUserMetadata: objects merge recursively, `null` deletes a key at any
/// depth, anything else (arrays included) replaces.
pub(crate) fn deep_merge(target: &mut Metadata, patch: Metadata) {
    for (k, v) in patch {
        match v {
            Value::Null => {
                target.remove(&k);
            }
            Value::Object(p) => match target.get_mut(&k) {
                Some(Value::Object(t)) => deep_merge(t, p),
                _ => {
                    let mut fresh = Metadata::new();
                    deep_merge(&mut fresh, p);
                    target.insert(k, Value::Object(fresh));
                }
            },
            other => {
                target.insert(k, other);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deep_merge_deletes_nulls_at_any_depth() {
        let mut t = json!({"a": {"b": 1, "c": {"d": 2, "e": 3}}, "keep": [1, 2], "gone": true})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let p = json!({"a": {"c": {"d": null, "f": 4}}, "keep": [3], "gone": null, "new": {"x": null, "y": 1}})
            .as_object()
            .cloned()
            .unwrap_or_default();
        deep_merge(&mut t, p);
        assert_eq!(
            Value::Object(t),
            json!({"a": {"b": 1, "c": {"e": 3, "f": 4}}, "keep": [3], "new": {"y": 1}})
        );
    }

    #[test]
    fn bodies_reject_unknown_keys_and_non_objects() {
        assert!(JsonBody::parse(b"", Some(&[])).is_ok());
        assert!(JsonBody::parse(b"null", Some(&[])).is_ok());
        assert!(JsonBody::parse(b" {} ", Some(&[])).is_ok());
        assert_eq!(
            JsonBody::parse(b"{\"x\":1}", Some(&["y"]))
                .map(|_| ())
                .unwrap_err()
                .code,
            "form_param_unknown"
        );
        assert_eq!(
            JsonBody::parse(b"[1]", None).map(|_| ()).unwrap_err().code,
            "request_body_invalid"
        );
        assert_eq!(
            JsonBody::parse(b"{", None).map(|_| ()).unwrap_err().code,
            "request_body_invalid"
        );
    }
}
