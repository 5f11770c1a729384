//! Validation of create bodies before anything is sent: field names and types (clerk-core's
//! table of the `CreateUser` body), then Clerk's own rules from `clerk-rules` (the ones the
//! emulator applies): emails, E.164 phone numbers, usernames, web3 wallets, the password
//! policy, password hashers and digests, RFC 3339 timestamps, TOTP secrets and backup codes;
//! and identifiers used twice within the file. Every problem names its line and field.

use std::collections::HashMap;
use std::fmt;

use clerk_core::users::FieldKind;
use clerk_rules::digest::{SUPPORTED_HASHERS, validate_digest};
use clerk_rules::{Rejection, identifiers, password, timestamp, totp};
use serde_json::{Map, Value};

use crate::input::{field_kind, kind};

/// One problem with one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    /// 1-based line of the record.
    pub(crate) line: usize,
    /// The field (with an index for list items, `email_address[1]`), when the problem has one.
    pub(crate) field: Option<String>,
    /// What is wrong.
    pub(crate) message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "line {}: field `{field}`: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

/// Validates every record; returns the problems, in input order (the tests' way
/// in; `import` runs the [`Validator`] as it decodes each record).
#[cfg(test)]
pub(crate) fn validate(records: &[crate::input::Record]) -> Vec<Problem> {
    let mut validator = Validator::default();
    let mut problems = Vec::new();
    for record in records {
        validator.check(record.line, &record.body.to_map(), &mut problems);
    }
    problems
}

/// Checks records one at a time, remembering the identifiers seen so far, so a
/// caller that decodes each record once can validate it from that decoding.
#[derive(Debug, Default)]
pub(crate) struct Validator {
    /// identifier kind + normalised value → first line it appeared on
    seen: HashMap<(&'static str, String), usize>,
}

impl Validator {
    /// Checks the record on `line`; appends its problems to `problems`.
    pub(crate) fn check(
        &mut self,
        line: usize,
        body: &Map<String, Value>,
        problems: &mut Vec<Problem>,
    ) {
        let mut push = |field: Option<String>, message: String| {
            problems.push(Problem {
                line,
                field,
                message,
            });
        };
        let idents = identifiers(body);
        check_record(body, &idents, &mut push);
        for ident in idents {
            let key = (ident.kind, ident.key().to_owned());
            match self.seen.get(&key) {
                Some(first) if *first != line => push(
                    Some(ident.field),
                    format!(
                        "{} {:?} is already used by the record on line {first}",
                        key.0, key.1
                    ),
                ),
                Some(_) => push(
                    Some(ident.field),
                    format!("{} {:?} appears twice in this record", key.0, key.1),
                ),
                None => {
                    self.seen.insert(key, line);
                }
            }
        }
    }
}

/// One identifier of a record, checked by Clerk's rule for its kind.
struct Identifier<'a> {
    /// What it is, as the messages name it (`email address`).
    kind: &'static str,
    /// Where it is (`email_address[1]`).
    field: String,
    /// As written.
    raw: &'a str,
    /// Normalised as Clerk compares it, or why Clerk refuses it.
    checked: Result<String, Rejection>,
}

impl Identifier<'_> {
    /// The value uniqueness is judged on: the normalised one, or for a refused value the
    /// closest the rule would have made of it.
    fn key(&self) -> &str {
        match &self.checked {
            Ok(normalised) => normalised,
            Err(_) => self.raw,
        }
    }
}

/// One of Clerk's identifier rules: the normalised value, or why it is refused.
type Rule = fn(&str) -> Result<String, Rejection>;

/// Identifiers that must be unique within an instance (plus `external_id`, which the
/// importer uses as the record's key), each checked by its rule.
fn identifiers(body: &Map<String, Value>) -> Vec<Identifier<'_>> {
    let mut out = Vec::new();
    if let Some(Value::String(id)) = body.get("external_id") {
        out.push(Identifier {
            kind: "external_id",
            field: "external_id".to_owned(),
            raw: id,
            checked: Ok(id.clone()),
        });
    }
    if let Some(Value::String(name)) = body.get("username") {
        out.push(Identifier {
            kind: "username",
            field: "username".to_owned(),
            raw: name,
            checked: identifiers::username(name),
        });
    }
    let rules: [(&str, &'static str, Rule); 3] = [
        ("email_address", "email address", identifiers::email),
        ("phone_number", "phone number", identifiers::phone),
        ("web3_wallet", "web3 wallet", identifiers::web3_wallet),
    ];
    for (field, kind, rule) in rules {
        if let Some(Value::Array(items)) = body.get(field) {
            for (i, item) in items.iter().enumerate() {
                if let Value::String(s) = item {
                    out.push(Identifier {
                        kind,
                        field: format!("{field}[{i}]"),
                        raw: s,
                        checked: rule(s),
                    });
                }
            }
        }
    }
    out
}

/// `expected …` when `value` is not of `kind`; list items are reported one by one.
fn type_problem(
    field: &str,
    kind_of: FieldKind,
    value: &Value,
    push: &mut impl FnMut(Option<String>, String),
) -> bool {
    let expected = match kind_of {
        FieldKind::String => (value.is_string() || value.is_null())
            .then_some(())
            .ok_or("a string"),
        FieldKind::StringList => match value {
            Value::Array(items) => match items.iter().position(|v| !v.is_string()) {
                None => Ok(()),
                Some(i) => {
                    push(
                        Some(format!("{field}[{i}]")),
                        format!("expected a string, found {}", kind(&items[i])),
                    );
                    return true;
                }
            },
            _ => Err("an array of strings"),
        },
        FieldKind::Bool => (value.is_boolean() || value.is_null())
            .then_some(())
            .ok_or("true, false or null"),
        FieldKind::Integer => (value.is_i64() || value.is_null())
            .then_some(())
            .ok_or("an integer"),
        FieldKind::Object => value.is_object().then_some(()).ok_or("a JSON object"),
        // A kind clerk-core adds later: its value goes to the server unchecked.
        _ => Ok(()),
    };
    match expected {
        Ok(()) => false,
        Err(what) => {
            push(
                Some(field.to_owned()),
                format!("expected {what}, found {}", kind(value)),
            );
            true
        }
    }
}

fn check_record(
    body: &Map<String, Value>,
    idents: &[Identifier<'_>],
    push: &mut impl FnMut(Option<String>, String),
) {
    let mut types_ok = true;
    for (field, value) in body {
        match field_kind(field) {
            Some(kind_of) => types_ok &= !type_problem(field, kind_of, value, push),
            None => push(
                Some(field.clone()),
                "unknown field (not part of Clerk's CreateUser body)".into(),
            ),
        }
    }
    if !types_ok {
        return;
    }
    let text = |f: &str| body.get(f).and_then(Value::as_str);
    let list = |f: &str| -> Vec<&str> {
        body.get(f)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    };
    let flag = |f: &str| body.get(f).and_then(Value::as_bool).unwrap_or(false);

    for ident in idents {
        if let Err(rejection) = &ident.checked {
            push(
                Some(ident.field.clone()),
                format!(
                    "{}: {:?}",
                    rejection.reason().trim_end_matches('.'),
                    ident.raw
                ),
            );
        }
    }
    for (ids, statuses) in [
        ("email_address", "email_address_identification_status"),
        ("phone_number", "phone_number_identification_status"),
    ] {
        if !body.contains_key(statuses) {
            continue;
        }
        let (n, s) = (list(ids).len(), list(statuses));
        if s.len() != n {
            push(
                Some(statuses.into()),
                format!(
                    "has {} entries for {n} `{ids}` values: one per value is required",
                    s.len()
                ),
            );
        }
        for (i, status) in s.iter().enumerate() {
            if !matches!(*status, "verified" | "reserved") {
                push(
                    Some(format!("{statuses}[{i}]")),
                    format!("expected `verified` or `reserved`, found {status:?}"),
                );
            }
        }
    }
    match (text("password_hasher"), text("password_digest")) {
        (Some(hasher), Some(digest)) => {
            if !SUPPORTED_HASHERS.contains(&hasher) {
                push(
                    Some("password_hasher".into()),
                    format!(
                        "unknown hasher {hasher:?}; Clerk accepts: {}",
                        SUPPORTED_HASHERS.join(", ")
                    ),
                );
            } else if let Err(err) = validate_digest(hasher, digest) {
                // The message names the hasher and the problem, never the digest.
                push(Some("password_digest".into()), err.message().to_owned());
            }
            if text("password").is_some() {
                push(
                    Some("password".into()),
                    "give either `password` or `password_digest`, not both".into(),
                );
            }
        }
        (Some(_), None) => push(
            Some("password_digest".into()),
            "missing: `password_hasher` needs a `password_digest`".into(),
        ),
        (None, Some(_)) => push(
            Some("password_hasher".into()),
            "missing: `password_digest` needs a `password_hasher`".into(),
        ),
        (None, None) => {}
    }
    if let Some(plain) = text("password")
        && !flag("skip_password_checks")
        && let Err(rejection) = password::check_length(plain)
    {
        // Breached passwords are the server's to judge (see clerk_rules::password). The
        // rule's reason never repeats the password, and neither does this.
        push(
            Some("password".into()),
            format!(
                "{} (set skip_password_checks to import it anyway)",
                rejection.reason()
            ),
        );
    }
    for field in ["created_at", "legal_accepted_at"] {
        if let Some(value) = text(field)
            && timestamp::rfc3339_unix_ms(value).is_none()
        {
            push(
                Some(field.into()),
                format!("not an RFC 3339 timestamp such as 2012-10-20T07:15:20.902Z: {value:?}"),
            );
        }
    }
    if let Some(secret) = text("totp_secret")
        && let Err(rejection) = totp::check_secret(secret)
    {
        push(Some("totp_secret".into()), rejection.reason().to_owned());
    }
    if let Err(rejection) = totp::check_backup_codes(&list("backup_codes")) {
        push(Some("backup_codes".into()), rejection.reason().to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Record;
    use serde_json::json;

    fn record(line: usize, v: Value) -> Record {
        let body = match v {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        Record {
            index: line,
            line,
            body: crate::input::Body::from_map(body),
        }
    }

    fn problems(v: Value) -> Vec<Problem> {
        validate(&[record(3, v)])
    }

    fn fields(ps: &[Problem]) -> Vec<&str> {
        ps.iter().filter_map(|p| p.field.as_deref()).collect()
    }

    #[test]
    fn a_good_record_has_no_problem() {
        let ps = problems(json!({
            "external_id": "u1", "email_address": ["ada@example.com"], "phone_number": ["+14155550100"],
            "first_name": "Ada", "password": "correct horse", "created_at": "2012-10-20T07:15:20.902Z",
            "legal_accepted_at": "2020-01-01T00:00:00+02:00", "public_metadata": {"plan": "pro"},
            "password_hasher": null, "skip_legal_checks": true, "create_organizations_limit": 3,
            "web3_wallet": ["0x0123456789abcdef0123456789abcdef01234567"], "totp_secret": "JBSWY3DPEHPK3PXP"
        }));
        assert_eq!(ps, []);
    }

    #[test]
    fn problems_name_the_line_and_the_field() {
        let ps = problems(json!({
            "email_address": ["ok@example.com", "not-an-email"], "phone_number": ["4155550100"],
            "first_name": 7, "colour": "red", "created_at": "yesterday", "password": "short"
        }));
        assert!(ps.iter().all(|p| p.line == 3));
        let f = fields(&ps);
        assert!(f.contains(&"first_name") && f.contains(&"colour"), "{ps:?}");
        // Type errors stop the value checks, so a second pass shows the rest.
        let ps = problems(json!({
            "email_address": ["ok@example.com", "not-an-email"], "phone_number": ["4155550100"],
            "created_at": "yesterday", "password": "short"
        }));
        let f = fields(&ps);
        assert_eq!(
            f,
            [
                "email_address[1]",
                "phone_number[0]",
                "password",
                "created_at"
            ],
            "{ps:?}"
        );
        let shown = ps[0].to_string();
        assert!(
            shown.starts_with("line 3: field `email_address[1]`"),
            "{shown}"
        );
        assert!(
            !ps.iter().any(|p| p.message.contains("short\"")),
            "the password is never echoed"
        );
    }

    #[test]
    fn hashers_and_digests_are_checked() {
        let ps = problems(json!({"password_hasher": "rot13", "password_digest": "x"}));
        assert_eq!(fields(&ps), ["password_hasher"]);
        let ps =
            problems(json!({"password_hasher": "bcrypt", "password_digest": "$2b$10$tooshort"}));
        assert_eq!(fields(&ps), ["password_digest"]);
        assert!(!ps[0].message.contains("tooshort"), "{}", ps[0].message);
        let ps = problems(
            json!({"password_hasher": "md5", "password_digest": "5f4dcc3b5aa765d61d8327deb882cf99"}),
        );
        assert_eq!(ps, []);
        let ps = problems(json!({"password_digest": "5f4dcc3b5aa765d61d8327deb882cf99"}));
        assert_eq!(fields(&ps), ["password_hasher"]);
    }

    #[test]
    fn identifiers_used_twice_in_the_file_are_reported_with_both_lines() {
        let records = [
            record(
                1,
                json!({"external_id": "a", "email_address": ["Ada@Example.com"]}),
            ),
            record(
                2,
                json!({"external_id": "b", "email_address": ["ada@example.com"], "username": "bobby"}),
            ),
            record(5, json!({"external_id": "a", "username": "BOBBY"})),
        ];
        let ps = validate(&records);
        let shown: Vec<String> = ps.iter().map(ToString::to_string).collect();
        assert_eq!(ps.len(), 3, "{shown:?}");
        assert!(
            shown[0].starts_with("line 2: field `email_address[0]`") && shown[0].contains("line 1")
        );
        assert!(
            shown
                .iter()
                .any(|s| s.starts_with("line 5: field `external_id`") && s.contains("line 1"))
        );
        assert!(
            shown
                .iter()
                .any(|s| s.starts_with("line 5: field `username`") && s.contains("line 2"))
        );
    }

    #[test]
    fn identification_status_lists_run_parallel() {
        let ps = problems(
            json!({"email_address": ["a@x.io", "b@x.io"], "email_address_identification_status": ["verified", "maybe"]}),
        );
        assert_eq!(fields(&ps), ["email_address_identification_status[1]"]);
        let ps = problems(
            json!({"email_address": ["a@x.io"], "email_address_identification_status": []}),
        );
        assert_eq!(fields(&ps), ["email_address_identification_status"]);
    }

    #[test]
    fn the_rules_are_clerks_not_a_looser_copy() {
        // Each of these passed the CLI's own checks and was then refused by the server.
        for (body, field) in [
            (json!({"phone_number": ["+12"]}), "phone_number[0]"),
            (json!({"phone_number": ["+123456"]}), "phone_number[0]"),
            (json!({"created_at": "2023-02-30T00:00:00Z"}), "created_at"),
            (
                json!({"legal_accepted_at": "2023-02-29T12:00:00Z"}),
                "legal_accepted_at",
            ),
            (json!({"username": "ab"}), "username"),
            (json!({"username": "bad name!"}), "username"),
            (json!({"password": "short"}), "password"),
            (json!({"password": "x".repeat(73)}), "password"),
            (json!({"totp_secret": "MZX"}), "totp_secret"),
            (json!({"backup_codes": ["ok", " "]}), "backup_codes"),
            (json!({"email_address": ["a@x_y.com"]}), "email_address[0]"),
        ] {
            assert_eq!(fields(&problems(body.clone())), [field], "{body}");
        }
        // …and these are Clerk's, so they pass.
        let ps = problems(json!({
            "phone_number": ["+6834002"], "created_at": "2024-02-29T00:00:00Z",
            "username": "Ada_L", "password": "password123",
            "totp_secret": "mzxw6ytboi", "email_address": [" ada@example.com"]
        }));
        assert_eq!(ps, []);
    }

    #[test]
    fn identifiers_are_compared_as_clerk_normalises_them() {
        let records = [
            record(
                1,
                json!({"email_address": ["ada@example.com"], "username": "Ada_L"}),
            ),
            record(2, json!({"email_address": [" ADA@example.com "]})),
            record(3, json!({"username": "ada_l"})),
        ];
        let shown: Vec<String> = validate(&records).iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert!(
            shown[0].starts_with("line 2: field `email_address[0]`"),
            "{shown:?}"
        );
        assert!(
            shown[1].starts_with("line 3: field `username`"),
            "{shown:?}"
        );
    }

    #[test]
    fn messages_name_the_rule_and_never_the_password() {
        let ps = problems(json!({"phone_number": ["555-0100"], "password": "letmein"}));
        let shown: Vec<String> = ps.iter().map(ToString::to_string).collect();
        assert!(
            shown[0].contains("E.164") && shown[0].contains("\"555-0100\""),
            "{shown:?}"
        );
        assert!(shown[1].contains("8 characters"), "{shown:?}");
        assert!(!shown.iter().any(|s| s.contains("letmein")), "{shown:?}");
    }
}
