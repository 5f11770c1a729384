//! Validation of create bodies before anything is sent: field names and types,
//! emails, E.164 phone numbers, password hashers and digests, timestamps, and
//! identifiers used twice within the file. Every problem names its line and field.

use std::collections::HashMap;
use std::fmt;

use clerk_emulator::passwords::{SUPPORTED_HASHERS, validate_digest};
use serde_json::{Map, Value};

use crate::input::{BOOL_FIELDS, INT_FIELDS, LIST_FIELDS, OBJECT_FIELDS, STRING_FIELDS, kind};

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

/// Clerk's minimum password length without `skip_password_checks`.
const MIN_PASSWORD_LEN: usize = 8;

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
        check_record(body, &mut push);
        for (kind, field, value) in identifiers(body) {
            match self.seen.get(&(kind, value.clone())) {
                Some(first) if *first != line => push(
                    Some(field),
                    format!("{kind} {value:?} is already used by the record on line {first}"),
                ),
                Some(_) => push(
                    Some(field),
                    format!("{kind} {value:?} appears twice in this record"),
                ),
                None => {
                    self.seen.insert((kind, value), line);
                }
            }
        }
    }
}

/// Identifiers that must be unique within an instance (plus `external_id`, which
/// the importer uses as the record's key), normalised as Clerk compares them.
fn identifiers(body: &Map<String, Value>) -> Vec<(&'static str, String, String)> {
    let mut out = Vec::new();
    if let Some(Value::String(id)) = body.get("external_id") {
        out.push(("external_id", "external_id".to_owned(), id.clone()));
    }
    if let Some(Value::String(name)) = body.get("username") {
        out.push(("username", "username".to_owned(), name.to_lowercase()));
    }
    for (field, kind, lower) in [
        ("email_address", "email address", true),
        ("phone_number", "phone number", false),
        ("web3_wallet", "web3 wallet", true),
    ] {
        if let Some(Value::Array(items)) = body.get(field) {
            for (i, item) in items.iter().enumerate() {
                if let Value::String(s) = item {
                    let value = if lower { s.to_lowercase() } else { s.clone() };
                    out.push((kind, format!("{field}[{i}]"), value));
                }
            }
        }
    }
    out
}

fn check_record(body: &Map<String, Value>, push: &mut impl FnMut(Option<String>, String)) {
    let mut types_ok = true;
    for (field, value) in body {
        let f = field.as_str();
        let expected = if STRING_FIELDS.contains(&f) {
            (value.is_string() || value.is_null())
                .then_some(())
                .ok_or("a string")
        } else if LIST_FIELDS.contains(&f) {
            match value {
                Value::Array(items) => match items.iter().position(|v| !v.is_string()) {
                    None => Ok(()),
                    Some(i) => {
                        push(
                            Some(format!("{f}[{i}]")),
                            format!("expected a string, found {}", kind(&items[i])),
                        );
                        types_ok = false;
                        continue;
                    }
                },
                _ => Err("an array of strings"),
            }
        } else if BOOL_FIELDS.contains(&f) {
            (value.is_boolean() || value.is_null())
                .then_some(())
                .ok_or("true, false or null")
        } else if INT_FIELDS.contains(&f) {
            (value.is_i64() || value.is_null())
                .then_some(())
                .ok_or("an integer")
        } else if OBJECT_FIELDS.contains(&f) {
            value.is_object().then_some(()).ok_or("a JSON object")
        } else {
            push(
                Some(field.clone()),
                "unknown field (not part of Clerk's CreateUser body)".into(),
            );
            continue;
        };
        if let Err(what) = expected {
            push(
                Some(field.clone()),
                format!("expected {what}, found {}", kind(value)),
            );
            types_ok = false;
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

    for (i, email) in list("email_address").iter().enumerate() {
        if let Err(why) = check_email(email) {
            push(
                Some(format!("email_address[{i}]")),
                format!("{why}: {email:?}"),
            );
        }
    }
    for (i, phone) in list("phone_number").iter().enumerate() {
        if !is_e164(phone) {
            push(
                Some(format!("phone_number[{i}]")),
                format!(
                    "not an E.164 phone number (`+` then 2 to 15 digits, e.g. +14155550100): {phone:?}"
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
    for (i, wallet) in list("web3_wallet").iter().enumerate() {
        let hex = wallet.strip_prefix("0x").unwrap_or("");
        if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            push(
                Some(format!("web3_wallet[{i}]")),
                format!("not an Ethereum address (0x and 40 hex digits): {wallet:?}"),
            );
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
    if let Some(password) = text("password")
        && !flag("skip_password_checks")
        && password.chars().count() < MIN_PASSWORD_LEN
    {
        // Never echo the password itself.
        push(
            Some("password".into()),
            format!(
                "shorter than {MIN_PASSWORD_LEN} characters (set skip_password_checks to import it anyway)"
            ),
        );
    }
    for field in ["created_at", "legal_accepted_at"] {
        if let Some(value) = text(field)
            && !is_rfc3339(value)
        {
            push(
                Some(field.into()),
                format!("not an RFC 3339 timestamp such as 2012-10-20T07:15:20.902Z: {value:?}"),
            );
        }
    }
    if let Some(secret) = text("totp_secret") {
        let clean: String = secret.chars().filter(|c| !c.is_whitespace()).collect();
        if clean.is_empty()
            || !clean.trim_end_matches('=').chars().all(|c| {
                c.is_ascii_uppercase() || ('2'..='7').contains(&c) || c.is_ascii_lowercase()
            })
        {
            push(Some("totp_secret".into()), "not a base32 secret".into());
        }
    }
}

/// A practical email check: one `@`, a non-empty local part, a dotted domain, no
/// spaces or control characters, within RFC 5321 lengths.
pub(crate) fn check_email(email: &str) -> Result<(), &'static str> {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err("not an email address (no `@`)");
    };
    if local.is_empty() || local.len() > 64 {
        return Err("not an email address (bad local part)");
    }
    if email.len() > 254 {
        return Err("email address longer than 254 characters");
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) || local.contains('@') {
        return Err("not an email address (spaces or a second `@`)");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2
        || labels
            .iter()
            .any(|l| l.is_empty() || l.len() > 63 || l.starts_with('-') || l.ends_with('-'))
        || !domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
    {
        return Err("not an email address (bad domain)");
    }
    Ok(())
}

/// `+`, a non-zero digit, then up to 14 more digits.
pub(crate) fn is_e164(phone: &str) -> bool {
    let Some(digits) = phone.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, with plausible ranges.
pub(crate) fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let num = |r: std::ops::Range<usize>| {
        s.get(r)
            .and_then(|t| t.parse::<u32>().ok())
            .unwrap_or(u32::MAX)
    };
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
    {
        return false;
    }
    if !matches!(b[10], b'T' | b't' | b' ')
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    if !(1..=12).contains(&num(5..7))
        || !(1..=31).contains(&num(8..10))
        || num(11..13) > 23
        || num(14..16) > 59
        || num(17..19) > 60
    {
        return false;
    }
    let mut at = 19;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        if at == start {
            return false;
        }
    }
    match &b[at..] {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()),
        _ => false,
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
    fn small_checkers() {
        for good in ["a@b.co", "first.last+tag@sub.example.org"] {
            assert_eq!(check_email(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "@x.com",
            "a@",
            "a@b",
            "a b@x.com",
            "a@-x.com",
            "a@x..com",
        ] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
        assert!(is_e164("+14155550100") && is_e164("+447911123456"));
        assert!(
            !is_e164("14155550100")
                && !is_e164("+0123")
                && !is_e164("+1")
                && !is_e164("+1234567890123456")
                && !is_e164("+1-415")
        );
        assert!(
            is_rfc3339("2012-10-20T07:15:20Z") && is_rfc3339("2012-10-20t07:15:20.123456-07:00")
        );
        for bad in [
            "2012-10-20",
            "2012-13-20T07:15:20Z",
            "2012-10-20T07:15:20",
            "2012-10-20T07:15:20.Z",
            "ünïcode-10-20T07:15:20Z",
        ] {
            assert!(!is_rfc3339(bad), "{bad}");
        }
    }
}
