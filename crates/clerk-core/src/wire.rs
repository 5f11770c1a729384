//! Wire encoding shared by the request types: path segments, query strings,
//! bodies, and response decoding.

use std::any::Any;
use std::fmt::{self, Write as _};

use bytes::Bytes;
use http::Method;
use http::header::{CONTENT_TYPE, HeaderValue};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::models::ObjectType;
use crate::{BaseUrl, Body, ClerkRequest, ClerkResponse, Error, OperationInfo, User};

/// Everything but the RFC 3986 unreserved characters (`A-Za-z0-9-._~`) is
/// encoded, in path segments and in query keys and values alike: `/`, `?`, `#`
/// and `%` can never change which endpoint a request reaches, and `+` travels as
/// `%2B` (a raw `+` in a query decodes as a space).
const STRICT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Builds a path relative to the API prefix, one segment at a time.
pub(crate) struct PathBuilder {
    buf: String,
}

impl PathBuilder {
    /// A path starting with the literal segment `first`.
    pub(crate) fn new(first: &'static str) -> Self {
        let mut buf = String::with_capacity(64);
        buf.push('/');
        buf.push_str(first);
        Self { buf }
    }

    /// Appends a literal segment.
    pub(crate) fn lit(mut self, segment: &'static str) -> Self {
        self.buf.push('/');
        self.buf.push_str(segment);
        self
    }

    /// Appends a caller-supplied id as one percent-encoded segment. An empty id,
    /// `.` or `..` is refused: each would address another endpoint.
    pub(crate) fn id(mut self, name: &'static str, value: &str) -> Result<Self, Error> {
        check_id(name, value)?;
        self.buf.push('/');
        self.buf.extend(utf8_percent_encode(value, STRICT));
        Ok(self)
    }

    pub(crate) fn finish(self) -> String {
        self.buf
    }
}

/// Refuses an id that cannot be Clerk's (`clerk_rules::limits::object_id`): empty, `.` or
/// `..` (each would address another endpoint as a path segment), longer than any id Clerk
/// issues, or holding a control character.
pub(crate) fn check_id(name: &'static str, value: &str) -> Result<(), Error> {
    clerk_rules::limits::object_id(name, value).map_err(refused)
}

/// Refuses a body text field over its bound or holding a character Clerk cannot store
/// (`clerk_rules::limits::check`).
pub(crate) fn check_text(field: &'static str, value: Option<&str>) -> Result<(), Error> {
    match value {
        Some(value) => clerk_rules::limits::check(field, value).map_err(refused),
        None => Ok(()),
    }
}

/// A rule's rejection as the error of a request that was not sent. It names the field and
/// the reason, never the value (a 50 MB name, a password).
pub(crate) fn refused(rejection: clerk_rules::Rejection) -> Error {
    Error::invalid_request(format!(
        "`{}` {} ({}): nothing was sent",
        rejection.field(),
        rejection.reason(),
        rejection.code()
    ))
}

/// Builds a query string in the order parameters are added.
#[derive(Default)]
pub(crate) struct Query {
    buf: String,
}

impl Query {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// One `key=value` pair.
    pub(crate) fn push(&mut self, key: &str, value: &str) {
        self.buf.push(if self.buf.is_empty() { '?' } else { '&' });
        self.buf.extend(utf8_percent_encode(key, STRICT));
        self.buf.push('=');
        self.buf.extend(utf8_percent_encode(value, STRICT));
    }

    /// A pair for a value that renders without reserved characters (numbers, booleans).
    pub(crate) fn push_display(&mut self, key: &str, value: impl fmt::Display) {
        self.buf.push(if self.buf.is_empty() { '?' } else { '&' });
        self.buf.push_str(key);
        self.buf.push('=');
        // Integers and booleans never need encoding.
        let _ = write!(self.buf, "{value}");
    }

    pub(crate) fn opt_str(&mut self, key: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.push(key, value);
        }
    }

    pub(crate) fn opt_display(&mut self, key: &str, value: Option<impl fmt::Display>) {
        if let Some(value) = value {
            self.push_display(key, value);
        }
    }

    /// An array parameter: the key repeated once per value.
    pub(crate) fn each(&mut self, key: &str, values: &[String]) {
        for value in values {
            self.push(key, value);
        }
    }

    /// The query string with its leading `?`, or an empty string.
    pub(crate) fn as_str(&self) -> &str {
        &self.buf
    }
}

/// Checks a `limit` against the spec's bounds (1 to 500).
pub(crate) fn check_limit(limit: Option<u32>) -> Result<(), Error> {
    match limit {
        Some(l) if !(1..=500).contains(&l) => Err(Error::invalid_request(format!(
            "`limit` must be between 1 and 500, got {l}"
        ))),
        _ => Ok(()),
    }
}

/// The body of a request and its media type.
pub(crate) struct Payload {
    content_type: HeaderValue,
    bytes: Bytes,
}

impl Payload {
    /// A JSON body.
    pub(crate) fn json(value: &impl Serialize) -> Result<Self, Error> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| Error::invalid_request(format!("cannot encode the JSON body: {e}")))?;
        Ok(Self {
            content_type: HeaderValue::from_static("application/json"),
            bytes: bytes.into(),
        })
    }
}

/// Assembles the request: method, absolute URI, body and its content type, and
/// the operation info in the extensions. No other header: the stack adds
/// authorization, version and user agent.
pub(crate) fn request(
    method: Method,
    base: &BaseUrl,
    path_and_query: &str,
    payload: Option<Payload>,
    info: OperationInfo,
) -> Result<ClerkRequest, Error> {
    let uri = base.join(path_and_query)?;
    let mut builder = http::Request::builder().method(method).uri(uri);
    let body = match payload {
        Some(payload) => {
            builder = builder.header(CONTENT_TYPE, payload.content_type);
            Body::from(payload.bytes)
        }
        None => Body::empty(),
    };
    let mut request = builder
        .body(body)
        .map_err(|e| Error::invalid_request(format!("cannot build the request: {e}")))?;
    request.extensions_mut().insert(info);
    Ok(request)
}

/// Decodes a JSON success body into `T`, or turns a non-success response into
/// the error.
///
/// A [`User`] (alone or in a list) must be one: `object: "user"` and a non-empty
/// `id`. A misrouted proxy's `{"object":"total_count"}` decodes into a `User`
/// full of defaults, and taking it for the created user would lose the record.
pub(crate) fn parse_json<T: DeserializeOwned + 'static>(
    response: ClerkResponse,
) -> Result<T, Error> {
    if !response.status().is_success() {
        return Err(Error::from_response(&response));
    }
    let body = response.into_body().into_bytes();
    let value: T = decode(&body).map_err(|e| Error::decode(e, &body))?;
    check_users(&value, &body)?;
    Ok(value)
}

/// Refuses a [`User`] (alone or in a list) that is not one.
fn check_users<T: 'static>(value: &T, body: &[u8]) -> Result<(), Error> {
    let any: &dyn Any = value;
    let users = match (any.downcast_ref::<User>(), any.downcast_ref::<Vec<User>>()) {
        (Some(user), _) => std::slice::from_ref(user),
        (None, Some(users)) => users.as_slice(),
        (None, None) => &[],
    };
    if let Some(bad) = users
        .iter()
        .find(|u| u.object != ObjectType::User || u.id.is_empty())
    {
        let what = format!(
            "expected a user (object \"user\" with an id), got object {:?} with id {:?}",
            bad.object.as_str(),
            bad.id
        );
        return Err(Error::decode(what, body));
    }
    Ok(())
}

/// Same as [`parse_json`] for a JSON array of items (a page of users): when one
/// item does not decode, the error names it (its index and id), so one bad user is
/// found rather than sinking the page without a trace.
pub(crate) fn parse_list<T: DeserializeOwned + 'static>(
    response: ClerkResponse,
) -> Result<Vec<T>, Error> {
    if !response.status().is_success() {
        return Err(Error::from_response(&response));
    }
    let body = response.into_body().into_bytes();
    let items: Vec<T> = decode(&body).map_err(|e| match locate_bad_item::<T>(&body) {
        Some(which) => Error::decode(format!("{which}: {e}"), &body),
        None => Error::decode(e, &body),
    })?;
    check_users(&items, &body)?;
    Ok(items)
}

/// Which item of a JSON array fails to decode as `T` (`item 3 of 500 (id "user_x")`).
fn locate_bad_item<T: DeserializeOwned>(body: &[u8]) -> Option<String> {
    let items: Vec<serde_json::Value> = decode(body).ok()?;
    let total = items.len();
    items.into_iter().enumerate().find_map(|(index, item)| {
        let id = item.get("id").and_then(|id| id.as_str()).map(str::to_owned);
        serde_json::from_value::<T>(item).err().map(|_| match id {
            Some(id) => format!("item {index} of {total} (id {id:?})"),
            None => format!("item {index} of {total}"),
        })
    })
}

/// The deepest nesting of JSON arrays and objects a response body may have.
///
/// Clerk accepts request bodies nested up to 128 levels (metadata included), and
/// a response holds them one or two levels deeper (a page of users is an array of
/// them); serde_json's default limit of 128 would refuse those. Bodies up to this
/// depth decode; deeper ones fail with [`Error::is_decode`] instead of growing the
/// stack without bound.
pub const MAX_RESPONSE_DEPTH: usize = 256;

/// Decodes JSON, accepting nesting up to [`MAX_RESPONSE_DEPTH`]. The fast path is
/// serde_json's own (limit 128); only a body it refuses for depth is measured and,
/// if within the bound, decoded again without serde_json's limit.
pub(crate) fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, serde_json::Error> {
    // One UTF-8 check over the whole body, then the `&str` reader: serde_json's
    // slice reader checks every string on its own, which costs ~20 % more per user
    // (`cargo bench -p clerk-core --bench decode`). Not UTF-8: the slice reader says where.
    let Ok(text) = std::str::from_utf8(body) else {
        return serde_json::from_slice(body);
    };
    match serde_json::from_str(text) {
        Err(e) if e.is_syntax() && e.to_string().starts_with("recursion limit exceeded") => {
            if clerk_rules::nesting::depth(body) > MAX_RESPONSE_DEPTH {
                return Err(e);
            }
            let mut de = serde_json::Deserializer::from_str(text);
            de.disable_recursion_limit();
            let value = T::deserialize(&mut de)?;
            de.end()?;
            Ok(value)
        }
        other => other,
    }
}

/// Same as [`parse_json`] for outputs that are JSON objects: serde would also
/// accept an array for a struct, and a list where one object was expected means
/// the wrong endpoint answered.
pub(crate) fn parse_object<T: DeserializeOwned + 'static>(
    response: ClerkResponse,
) -> Result<T, Error> {
    if response.status().is_success() {
        let body = response.body().as_bytes();
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        if first != Some(&b'{') {
            return Err(Error::decode("expected a JSON object", body));
        }
    }
    parse_json(response)
}

/// Formats Unix milliseconds as an RFC 3339 UTC timestamp with milliseconds
/// (`2012-10-20T07:15:20.902Z`).
pub(crate) fn rfc3339_from_unix_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let second_of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day), after
/// Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A `multipart/form-data` body with one file part.
pub(crate) fn multipart_file(
    field: &str,
    filename: &str,
    content_type: &str,
    data: &[u8],
) -> Result<Payload, Error> {
    if content_type.is_empty()
        || !content_type.bytes().all(|b| (0x20..0x7f).contains(&b))
        || content_type.parse::<HeaderValue>().is_err()
    {
        return Err(Error::invalid_request(format!(
            "invalid content type {content_type:?} for the uploaded file"
        )));
    }
    // Quotes and line breaks would end the quoted filename; encode them the way
    // browsers do.
    let mut safe_name = String::with_capacity(filename.len());
    for c in filename.chars() {
        match c {
            '"' => safe_name.push_str("%22"),
            '\\' => safe_name.push_str("%5C"),
            '\r' => safe_name.push_str("%0D"),
            '\n' => safe_name.push_str("%0A"),
            c if c.is_control() => {}
            c => safe_name.push(c),
        }
    }
    let boundary = pick_boundary(data);
    let mut body = Vec::with_capacity(data.len() + 256);
    body.extend_from_slice(b"--");
    body.extend_from_slice(boundary.as_bytes());
    body.extend_from_slice(b"\r\nContent-Disposition: form-data; name=\"");
    body.extend_from_slice(field.as_bytes());
    body.extend_from_slice(b"\"; filename=\"");
    body.extend_from_slice(safe_name.as_bytes());
    body.extend_from_slice(b"\"\r\nContent-Type: ");
    body.extend_from_slice(content_type.as_bytes());
    body.extend_from_slice(b"\r\n\r\n");
    body.extend_from_slice(data);
    body.extend_from_slice(b"\r\n--");
    body.extend_from_slice(boundary.as_bytes());
    body.extend_from_slice(b"--\r\n");
    let header = format!("multipart/form-data; boundary={boundary}");
    let content_type = HeaderValue::try_from(header)
        .map_err(|e| Error::invalid_request(format!("invalid multipart header: {e}")))?;
    Ok(Payload {
        content_type,
        bytes: body.into(),
    })
}

/// A boundary derived from the data (so the same request always encodes the
/// same way) that does not occur in it.
fn pick_boundary(data: &[u8]) -> String {
    pick_boundary_from(fnv1a(0xcbf2_9ce4_8422_2325, data), data)
}

fn pick_boundary_from(mut seed: u64, data: &[u8]) -> String {
    loop {
        let boundary = candidate(seed);
        if !contains(data, boundary.as_bytes()) {
            return boundary;
        }
        seed = fnv1a(seed, boundary.as_bytes());
    }
}

fn candidate(seed: u64) -> String {
    format!("clerk-tower-{:016x}{:016x}", seed, fnv1a(seed, b"boundary"))
}

fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formatting() {
        assert_eq!(rfc3339_from_unix_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339_from_unix_ms(1_350_717_320_902),
            "2012-10-20T07:15:20.902Z"
        );
        assert_eq!(
            rfc3339_from_unix_ms(951_782_400_000),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(rfc3339_from_unix_ms(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            rfc3339_from_unix_ms(253_402_300_799_999),
            "9999-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn rfc3339_matches_a_day_by_day_walk() {
        // Walk every day from 1900 to 2100 and compare with a naive calendar.
        let mut days: i64 = -25_567; // 1900-01-01
        for year in 1900..2100i64 {
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
            let lengths = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ];
            for (m, len) in lengths.iter().enumerate() {
                for d in 1..=*len {
                    let expected = format!("{year:04}-{:02}-{d:02}T00:00:00.000Z", m + 1);
                    assert_eq!(rfc3339_from_unix_ms(days * 86_400_000), expected);
                    days += 1;
                }
            }
        }
    }

    #[test]
    fn boundary_never_occurs_in_the_data() {
        let data = b"hello".to_vec();
        assert_eq!(pick_boundary(&data), pick_boundary(&data), "deterministic");
        // Data holding the first candidate (and the second) makes it pick a third.
        let seed = 42;
        let first = candidate(seed);
        let second = candidate(fnv1a(seed, first.as_bytes()));
        let hostile = format!("xx{first}yy--{second}--").into_bytes();
        let picked = pick_boundary_from(seed, &hostile);
        assert_ne!(picked, first);
        assert_ne!(picked, second);
        assert!(!contains(&hostile, picked.as_bytes()));
    }
}
