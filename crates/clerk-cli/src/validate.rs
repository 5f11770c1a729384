// Over 600 lines only with its unit tests (the code is ~380).
//! Validation of create bodies before anything is sent: field names and types (clerk-core's
//! table of the `CreateUser` body), then Clerk's own rules from `clerk-rules` (the ones the
//! emulator applies): emails, E.164 phone numbers, usernames, web3 wallets, the password
//! policy, password hashers and digests, RFC 3339 timestamps, TOTP secrets and backup codes;
//! and identifiers used twice within the file; the bounds and forbidden characters of the
//! text fields (`clerk_rules::limits`: NUL and control characters, 256-character names…).
//! Every problem names its line and field, and quotes a value only as a short, escaped
//! [`excerpt`].

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use clerk_core::users::FieldKind;
use clerk_rules::digest::{SUPPORTED_HASHERS, validate_digest};
use clerk_rules::{Rejection, identifiers, limits, password, timestamp, totp};
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

/// The problems of a file, in line order: all of them counted, the first
/// [`ProblemLog::KEPT`] by line kept (a file of a million bad records is reported
/// in bounded memory; nobody reads past the first thousands).
#[derive(Debug, Default)]
pub(crate) struct ProblemLog {
    /// Max-heap on (line, arrival): the kept ones are the lowest.
    kept: std::collections::BinaryHeap<(usize, u64, ProblemText)>,
    total: u64,
}

/// A problem without its line (the heap's key holds it).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ProblemText {
    field: Option<String>,
    message: String,
}

impl ProblemLog {
    /// Problems kept, at most.
    pub(crate) const KEPT: usize = 10_000;

    /// Adds a problem.
    pub(crate) fn push(&mut self, problem: Problem) {
        let seq = self.total;
        self.total += 1;
        if self.kept.len() >= Self::KEPT
            && self
                .kept
                .peek()
                .is_some_and(|(line, ..)| *line <= problem.line)
        {
            return;
        }
        self.kept.push((
            problem.line,
            seq,
            ProblemText {
                field: problem.field,
                message: problem.message,
            },
        ));
        if self.kept.len() > Self::KEPT {
            self.kept.pop();
        }
    }

    /// Problems found (kept or not).
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// The kept problems, by line (in the order found within a line).
    pub(crate) fn into_sorted(self) -> Vec<Problem> {
        self.kept
            .into_sorted_vec()
            .into_iter()
            .map(|(line, _, text)| Problem {
                line,
                field: text.field,
                message: text.message,
            })
            .collect()
    }
}

/// Validates every record; returns the problems, in input order (the tests' way
/// in; `import` streams its files through [`crate::check::check_file`], which runs
/// the [`Validator`] on each record and the file-wide uniqueness check).
#[cfg(test)]
pub(crate) fn validate(records: &[crate::input::Record]) -> Vec<Problem> {
    let dir = std::env::temp_dir();
    let raw = records.iter().enumerate().map(|(i, r)| {
        Ok(crate::records::RawRecord {
            offset: i as u64,
            line: r.line,
            body: Ok(r.body.to_map()),
        })
    });
    let reread = |offset: u64| Ok(records.get(offset as usize).map(|r| r.body.to_map()));
    let checked = crate::check::check(raw, &dir, clerk_migrate::shard::Shard::ALL, reread)
        .expect("in-memory records");
    checked.problems.into_sorted()
}

/// One identifier a record claims: no other record of the file may claim it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Claim {
    /// What it is, as the messages name it (`email address`), or `identity` (the
    /// journal key of a record without identifiers).
    pub(crate) kind: &'static str,
    /// The value compared: normalised as Clerk compares it.
    pub(crate) key: String,
    /// Where it is (`email_address[1]`); `None` for the identity.
    pub(crate) field: Option<String>,
    /// Its position among the record's claims (the same on every read of the record).
    pub(crate) slot: u32,
}

/// The slot of a record's identity claim.
pub(crate) const IDENTITY_SLOT: u32 = u32::MAX;

/// The identifiers `body` claims, each once, in a stable order; `twice` gets the
/// ones the record itself repeats.
pub(crate) fn claims(
    body: &Map<String, Value>,
    mut twice: impl FnMut(&Identifier<'_>),
) -> Vec<Claim> {
    let idents = identifiers(&Tracked::of(body));
    let mut out = Vec::new();
    each_claim(&idents, &mut twice, |ident, slot| {
        out.push(Claim {
            kind: ident.kind,
            key: ident.key().to_owned(),
            field: Some(ident.field()),
            slot,
        });
    });
    out
}

/// Calls `claim` with each identifier of `idents` claimed once, and its slot (its
/// position in `idents`); `twice` gets the ones repeated within the record. Nothing
/// is allocated: a record has a handful of identifiers, compared pairwise.
fn each_claim<'i, 'a>(
    idents: &'i [Identifier<'a>],
    mut twice: impl FnMut(&'i Identifier<'a>),
    mut claim: impl FnMut(&'i Identifier<'a>, u32),
) {
    for (slot, ident) in idents.iter().enumerate() {
        // A refused value is a problem already; it claims nothing (it may be 50 MB).
        if ident.checked.is_err() {
            continue;
        }
        let key = ident.key();
        let earlier = idents[..slot]
            .iter()
            .any(|e| e.checked.is_ok() && e.kind == ident.kind && e.key() == key);
        if earlier {
            twice(ident);
            continue;
        }
        claim(ident, u32::try_from(slot).unwrap_or(IDENTITY_SLOT - 1));
    }
}

/// The identifiers a checked record claims (borrowed from it): the file-wide
/// uniqueness check's input.
pub(crate) struct Claims<'a> {
    idents: Vec<Identifier<'a>>,
    /// Every field of the record is of a kind the type check knows (see
    /// [`Claims::deserializes`]).
    typed: bool,
}

impl Claims<'_> {
    /// Whether the record, having no problem, is known to deserialize into a
    /// `CreateUser`: every field's value passed the type check of its kind, and
    /// every kind the check knows deserializes (a test holds clerk-core's field table
    /// to that). A field of a kind clerk-core adds later is not vouched for: the
    /// caller deserializes such a record to see.
    pub(crate) fn deserializes(&self) -> bool {
        self.typed
    }

    /// Each claim once: its kind, normalised value and slot.
    pub(crate) fn each(&self, mut claim: impl FnMut(&'static str, &str, u32)) {
        each_claim(
            &self.idents,
            |_| {},
            |ident, slot| {
                claim(ident.kind, ident.key(), slot);
            },
        );
    }
}

/// Checks records one at a time. Identifiers used twice *within the file* are found
/// by the caller from the [`Claims`] each check returns (a file-wide check in bounded
/// memory); the ones a record repeats itself are problems here.
#[derive(Debug, Default)]
pub(crate) struct Validator;

impl Validator {
    /// Checks the record on `line`; appends its problems to `problems` and returns
    /// the identifiers it claims.
    pub(crate) fn check<'a>(
        &mut self,
        line: usize,
        body: &'a Map<String, Value>,
        problems: &mut Vec<Problem>,
    ) -> Claims<'a> {
        let mut push = |field: Option<String>, message: String| {
            problems.push(Problem {
                line,
                field,
                message,
            });
        };
        let tracked = Tracked::of(body);
        let idents = identifiers(&tracked);
        let typed = check_record(body, &tracked, &idents, &mut push);
        each_claim(
            &idents,
            |ident| {
                push(
                    Some(ident.field()),
                    format!(
                        "{} {} appears twice in this record",
                        ident.kind,
                        excerpt(ident.key())
                    ),
                );
            },
            |_, _| {},
        );
        Claims { idents, typed }
    }
}

/// Most characters of a value quoted in a problem.
const EXCERPT_CHARS: usize = 40;

/// `value` as a problem quotes it: escaped as Rust writes strings (an escape as `\u{1b}`,
/// a NUL as `\u{0}`) and cut to [`EXCERPT_CHARS`] characters with its full size, so a
/// 50 MB name costs one short line.
pub(crate) fn excerpt(value: &str) -> String {
    let mut out = String::with_capacity(EXCERPT_CHARS + 24);
    out.push('"');
    let mut chars = value.char_indices();
    for (_, c) in chars.by_ref().take(EXCERPT_CHARS) {
        if c == '\0' {
            // `\0` followed by digits would read as an octal escape.
            out.push_str("\\u{0}");
        } else {
            out.extend(c.escape_debug());
        }
    }
    out.push('"');
    if chars.next().is_some() {
        let _ = write!(out, "… ({} bytes)", value.len());
    }
    out
}

/// The fields the checks read, found in one pass over a record: a lookup is then a
/// few length comparisons instead of a string-compared walk of the record's map per
/// field (there were about twenty per record).
const TRACKED: [&str; 18] = [
    "external_id",
    "username",
    "email_address",
    "phone_number",
    "web3_wallet",
    "first_name",
    "last_name",
    "locale",
    "email_address_identification_status",
    "phone_number_identification_status",
    "password_hasher",
    "password_digest",
    "password",
    "skip_password_checks",
    "created_at",
    "legal_accepted_at",
    "totp_secret",
    "backup_codes",
];

/// A record's values of the [`TRACKED`] fields.
struct Tracked<'a>([Option<&'a Value>; TRACKED.len()]);

impl<'a> Tracked<'a> {
    fn of(body: &'a Map<String, Value>) -> Self {
        let mut values = [None; TRACKED.len()];
        for (field, value) in body {
            if let Some(i) = TRACKED.iter().position(|t| *t == field) {
                values[i] = Some(value);
            }
        }
        Self(values)
    }

    fn get(&self, field: &str) -> Option<&'a Value> {
        let i = TRACKED.iter().position(|t| *t == field);
        debug_assert!(i.is_some(), "{field} is not tracked");
        i.and_then(|i| self.0[i])
    }
}

/// One identifier of a record, checked by Clerk's rule for its kind.
pub(crate) struct Identifier<'a> {
    /// What it is, as the messages name it (`email address`).
    kind: &'static str,
    /// The field it is in, and its index there for a list (`email_address`, 1).
    name: &'static str,
    index: Option<usize>,
    /// As written.
    raw: &'a str,
    /// Normalised as Clerk compares it, or why Clerk refuses it.
    checked: Result<Cow<'a, str>, Rejection>,
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

    /// Where it is (`email_address[1]`): built only for a message.
    fn field(&self) -> String {
        match self.index {
            Some(i) => format!("{}[{i}]", self.name),
            None => self.name.to_owned(),
        }
    }
}

/// One of Clerk's identifier rules: the normalised value, or why it is refused.
type Rule = fn(&str) -> Result<String, Rejection>;

/// Identifiers that must be unique within an instance (plus `external_id`, which the
/// importer uses as the record's key), each checked by its rule.
fn identifiers<'a>(body: &Tracked<'a>) -> Vec<Identifier<'a>> {
    let mut out = Vec::with_capacity(4);
    if let Some(Value::String(id)) = body.get("external_id") {
        out.push(Identifier {
            kind: "external_id",
            name: "external_id",
            index: None,
            raw: id,
            checked: limits::external_id(id).map(|()| Cow::Borrowed(id.as_str())),
        });
    }
    if let Some(Value::String(name)) = body.get("username") {
        out.push(Identifier {
            kind: "username",
            name: "username",
            index: None,
            raw: name,
            checked: identifiers::username(name).map(Cow::Owned),
        });
    }
    let rules: [(&'static str, &'static str, Rule); 3] = [
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
                        name: field,
                        index: Some(i),
                        raw: s,
                        checked: rule(s).map(Cow::Owned),
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

/// Pushes the record's problems; returns whether every field is of a kind the type
/// check knows.
fn check_record(
    body: &Map<String, Value>,
    tracked: &Tracked<'_>,
    idents: &[Identifier<'_>],
    push: &mut impl FnMut(Option<String>, String),
) -> bool {
    let (mut types_ok, mut typed) = (true, true);
    for (field, value) in body {
        match field_kind(field) {
            Some(kind_of) => {
                typed &= matches!(
                    kind_of,
                    FieldKind::String
                        | FieldKind::StringList
                        | FieldKind::Bool
                        | FieldKind::Integer
                        | FieldKind::Object
                );
                types_ok &= !type_problem(field, kind_of, value, push);
            }
            None => push(
                Some(if field.len() > EXCERPT_CHARS {
                    excerpt(field)
                } else {
                    field.clone()
                }),
                "unknown field (not part of Clerk's CreateUser body)".into(),
            ),
        }
    }
    if !types_ok {
        return typed;
    }
    let body = tracked;
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
                Some(ident.field()),
                format!(
                    "{}: {}",
                    rejection.reason().trim_end_matches('.'),
                    excerpt(ident.raw)
                ),
            );
        }
    }
    for field in ["first_name", "last_name", "locale"] {
        if let Some(value) = text(field)
            && let Err(rejection) = limits::check(field, value)
        {
            push(
                Some(field.into()),
                format!("{}: {}", rejection.reason(), excerpt(value)),
            );
        }
    }
    for (ids, statuses) in [
        ("email_address", "email_address_identification_status"),
        ("phone_number", "phone_number_identification_status"),
    ] {
        if body.get(statuses).is_none() {
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
                    format!(
                        "expected `verified` or `reserved`, found {}",
                        excerpt(status)
                    ),
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
                        "unknown hasher {}; Clerk accepts: {}",
                        excerpt(hasher),
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
                format!(
                    "not an RFC 3339 timestamp such as 2012-10-20T07:15:20.902Z: {}",
                    excerpt(value)
                ),
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
    typed
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
    fn text_fields_are_bounded_and_hold_no_nul_and_values_are_quoted_short() {
        let huge = "n".repeat(5 << 20);
        let ps = problems(json!({
            "external_id": "crm\u{0}42", "first_name": huge, "last_name": "Love\u{0}lace",
            "locale": "en\u{1b}[2J", "email_address": [format!("{huge}@example.com")],
        }));
        assert_eq!(
            fields(&ps),
            [
                "external_id",
                "email_address[0]",
                "first_name",
                "last_name",
                "locale"
            ],
            "{ps:?}"
        );
        for p in &ps {
            let shown = p.to_string();
            assert!(
                shown.len() < 200,
                "{} bytes: {}",
                shown.len(),
                &shown[..200]
            );
            assert!(
                !shown.contains('\0') && !shown.contains('\u{1b}'),
                "{shown}"
            );
        }
        let shown: Vec<String> = ps.iter().map(ToString::to_string).collect();
        assert!(
            shown[0].contains("NUL") && shown[0].contains(r#""crm\u{0}42""#),
            "{shown:?}"
        );
        assert!(
            shown[2].contains("256 characters") && shown[2].contains("(5242880 bytes)"),
            "{shown:?}"
        );
        // At the bounds: no problem.
        let ps = problems(json!({"first_name": "é".repeat(256), "external_id": "x".repeat(1024)}));
        assert_eq!(ps, []);
    }

    #[test]
    fn excerpts_are_escaped_and_cut() {
        assert_eq!(excerpt("ada"), r#""ada""#);
        assert_eq!(excerpt("a\0b\u{1b}"), r#""a\u{0}b\u{1b}""#);
        let cut = excerpt(&"é".repeat(1000));
        assert!(
            cut.ends_with("… (2000 bytes)") && cut.chars().count() < 70,
            "{cut}"
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

    /// The check skips deserializing a `CreateUser` from a record it found no problem
    /// with: every value of every field that passes the type check of the field's kind
    /// must deserialize. Fails when clerk-core gives a field a Rust type stricter than
    /// its kind (a `u32` behind `Integer`, an enum without a catch-all…).
    #[test]
    fn every_value_the_type_check_passes_deserializes_into_a_create_user() {
        use clerk_tower::users::CreateUser;
        use serde::Deserialize;
        let samples = |kind: FieldKind| -> Vec<Value> {
            match kind {
                FieldKind::String => vec![json!("x"), json!(""), json!("not a date"), Value::Null],
                FieldKind::StringList => vec![json!([]), json!(["x", "verified", "bogus"])],
                FieldKind::Bool => vec![json!(true), json!(false), Value::Null],
                FieldKind::Integer => vec![json!(i64::MIN), json!(0), json!(i64::MAX), Value::Null],
                FieldKind::Object => vec![json!({}), json!({"a": [1, {"b": null}]})],
                _ => vec![],
            }
        };
        let mut checked = 0;
        for (field, kind) in CreateUser::FIELD_KINDS {
            for value in samples(*kind) {
                let mut problems = Vec::new();
                let rejected =
                    type_problem(field, *kind, &value, &mut |f, m| problems.push((f, m)));
                assert!(
                    !rejected,
                    "{field}: {value} fails its own kind's check: {problems:?}"
                );
                let body = json!({ *field: value.clone() });
                let claims_typed = {
                    let map = body.as_object().unwrap();
                    Validator.check(1, map, &mut Vec::new()).deserializes()
                };
                assert!(claims_typed, "{field}: {kind:?} is vouched for");
                if let Err(err) = CreateUser::deserialize(&body) {
                    panic!("{field} = {value} passes the type check but not CreateUser: {err}");
                }
                checked += 1;
            }
        }
        assert!(checked > 60, "{checked}");
    }
}
