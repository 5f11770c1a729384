// Over 600 lines only with its unit tests (the code is ~500): the one opaque error type
// and the parsing of Clerk's error bodies belong together.
//! The one error type of the client, and Clerk's error body.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use crate::body::Body;

/// A boxed error, as tower middleware passes them around.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// How many bytes of a non-JSON error body are kept for the error message.
const EXCERPT_LEN: usize = 512;

/// One entry of a Clerk error body.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClerkError {
    /// Short, human-readable message.
    #[serde(default)]
    pub message: String,
    /// Longer explanation.
    #[serde(default)]
    pub long_message: Option<String>,
    /// Machine-readable code, such as `resource_not_found` or `form_identifier_exists`.
    #[serde(default)]
    pub code: String,
    /// Extra data; for form errors `{"param_name": "email_address"}` and the like.
    #[serde(default)]
    pub meta: Option<serde_json::Value>,
}

impl ClerkError {
    /// A new error entry (used by tests and by custom services that answer in Clerk's shape).
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            long_message: None,
            code: code.into(),
            meta: None,
        }
    }

    /// The `meta.param_name` of a form error, when present.
    pub fn param_name(&self) -> Option<&str> {
        self.meta.as_ref()?.get("param_name")?.as_str()
    }
}

/// Clerk's error body (`ClerkErrors` in the spec).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClerkErrors {
    /// The errors; at least one in a well-formed body.
    #[serde(default)]
    pub errors: Vec<ClerkError>,
    /// Extra data about the failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<serde_json::Value>,
    /// Clerk's trace id, for support requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clerk_trace_id: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// The server answered with a non-success status.
    Api,
    /// No connection could be made: the request was never sent.
    Connect,
    /// The connection failed after it was made: the request may have been sent.
    Transport,
    /// A deadline passed.
    Timeout,
    /// A success body did not match the model.
    Decode,
    /// The response body was larger than the configured cap.
    BodyTooLarge,
    /// The request could not be built from the given input, or the client is misconfigured.
    InvalidRequest,
    /// The client held the request back: Clerk asked to wait longer than allowed.
    RateLimited,
}

/// The error of every Clerk operation and of every layer of the stack.
///
/// An opaque type in the style of `hyper::Error` and `reqwest::Error`: ask it what
/// happened with the `is_*` predicates and read the details with the accessors.
///
/// ```
/// # use clerk_core::Error;
/// fn explain(err: &Error) -> String {
///     if err.is_not_found() {
///         "no such user".into()
///     } else if let Some(wait) = err.retry_after() {
///         format!("rate limited, retry in {wait:?}")
///     } else if err.is_outcome_unknown() {
///         "the request may or may not have been applied: check before resending".into()
///     } else {
///         err.to_string()
///     }
/// }
/// ```
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: Kind,
    message: Option<Cow<'static, str>>,
    source: Option<BoxError>,
    status: Option<StatusCode>,
    clerk_errors: Vec<ClerkError>,
    trace_id: Option<String>,
    retry_after: Option<Duration>,
    body_excerpt: Option<String>,
    outcome_unknown: bool,
    applied_earlier: bool,
}

impl Error {
    fn new(kind: Kind) -> Self {
        Self {
            inner: Box::new(Inner {
                kind,
                message: None,
                source: None,
                status: None,
                clerk_errors: Vec::new(),
                trace_id: None,
                retry_after: None,
                body_excerpt: None,
                outcome_unknown: false,
                applied_earlier: false,
            }),
        }
    }

    fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.inner.source = Some(source.into());
        self
    }

    fn with_message(mut self, message: impl Into<Cow<'static, str>>) -> Self {
        self.inner.message = Some(message.into());
        self
    }

    /// An error for a non-success response: parses Clerk's error body when it is
    /// one, keeps an excerpt of it otherwise, and reads `Retry-After` and the trace id.
    /// A response carrying [`AppliedEarlier`](crate::AppliedEarlier) gives an error
    /// for which [`Error::is_applied_earlier`] holds.
    pub fn from_response(response: &http::Response<Body>) -> Self {
        let mut err = Self::from_parts(
            response.status(),
            response.headers(),
            response.body().as_bytes(),
        );
        err.inner.applied_earlier = response
            .extensions()
            .get::<crate::AppliedEarlier>()
            .is_some();
        err
    }

    /// Same as [`Error::from_response`], from the pieces of a response.
    pub fn from_parts(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Self {
        let mut err = Self::new(Kind::Api);
        err.inner.status = Some(status);
        err.inner.retry_after = retry_after(headers);
        match serde_json::from_slice::<ClerkErrors>(body) {
            Ok(parsed) if !parsed.errors.is_empty() => {
                err.inner.clerk_errors = parsed.errors;
                err.inner.trace_id = parsed.clerk_trace_id;
            }
            _ => err.inner.body_excerpt = excerpt(body),
        }
        if err.inner.trace_id.is_none() {
            err.inner.trace_id = header_trace_id(headers).map(str::to_owned);
        }
        err
    }

    /// No connection could be made (refused, DNS failure, TLS handshake failure,
    /// connect timeout): the request was provably not sent.
    pub fn connect(source: impl Into<BoxError>) -> Self {
        Self::new(Kind::Connect).with_source(source)
    }

    /// The connection failed once it was made (reset, closed before the response):
    /// the server may have applied the request.
    pub fn transport(source: impl Into<BoxError>) -> Self {
        Self::new(Kind::Transport).with_source(source)
    }

    /// A deadline passed after `after`.
    pub fn timeout(after: Duration) -> Self {
        Self::new(Kind::Timeout).with_message(format!("timed out after {after:?}"))
    }

    /// A success body that does not decode into the expected model.
    pub fn decode(source: impl Into<BoxError>, body: &[u8]) -> Self {
        let mut err = Self::new(Kind::Decode).with_source(source);
        err.inner.body_excerpt = excerpt(body);
        err
    }

    /// The response body exceeded `limit` bytes.
    pub fn body_too_large(limit: usize) -> Self {
        Self::new(Kind::BodyTooLarge)
            .with_message(format!("response body larger than the {limit} byte cap"))
    }

    /// Bad input or configuration, found before anything was sent.
    pub fn invalid_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Kind::InvalidRequest).with_message(message)
    }

    /// The client did not send the request because the server asked to wait
    /// `retry_after`, longer than the caller allows.
    pub fn rate_limited(retry_after: Duration) -> Self {
        let mut err = Self::new(Kind::RateLimited).with_message(format!(
            "rate limited by Clerk: retry after {retry_after:?}"
        ));
        err.inner.status = Some(StatusCode::TOO_MANY_REQUESTS);
        err.inner.retry_after = Some(retry_after);
        err
    }

    /// Turns a boxed error from a foreign layer back into an `Error` (unchanged when
    /// it already is one; a transport error otherwise).
    pub fn from_boxed(err: BoxError) -> Self {
        match err.downcast::<Self>() {
            Ok(err) => *err,
            Err(other) => Self::transport(other),
        }
    }

    /// Marks the error as one after which the outcome of a non-idempotent request
    /// (a user creation) is unknown: it may have been applied. Set by the retry layer.
    #[must_use]
    pub fn into_outcome_unknown(mut self) -> Self {
        self.inner.outcome_unknown = true;
        self
    }

    /// Marks the error as the answer to a resend that found the thing gone after
    /// an earlier attempt may have removed it (see [`Error::is_applied_earlier`]).
    /// Set by the retry layer on a `404` error (it marks a `404` response with
    /// [`AppliedEarlier`](crate::AppliedEarlier) instead).
    #[must_use]
    pub fn into_applied_earlier(mut self) -> Self {
        self.inner.applied_earlier = true;
        self
    }

    /// The HTTP status, for errors answered by the server (and `429` for
    /// [`Error::is_rate_limited`] errors raised by the client itself).
    pub fn status(&self) -> Option<StatusCode> {
        self.inner.status
    }

    /// The errors of Clerk's error body; empty when the body was not one.
    pub fn clerk_errors(&self) -> &[ClerkError] {
        &self.inner.clerk_errors
    }

    /// Whether any of the Clerk errors has this `code`.
    pub fn has_code(&self, code: &str) -> bool {
        self.inner.clerk_errors.iter().any(|e| e.code == code)
    }

    /// Clerk's trace id: the body's `clerk_trace_id`, else the `Clerk-Trace-Id` or
    /// `cf-ray` response header.
    pub fn trace_id(&self) -> Option<&str> {
        self.inner.trace_id.as_deref()
    }

    /// How long Clerk asked to wait (`Retry-After`), when it did.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// The start of a body that was not a Clerk error document (HTML from a proxy,
    /// plain text), or of a success body that failed to decode.
    pub fn body_excerpt(&self) -> Option<&str> {
        self.inner.body_excerpt.as_deref()
    }

    /// A 429 from the server, or a request the client held back because of one.
    pub fn is_rate_limited(&self) -> bool {
        self.inner.kind == Kind::RateLimited
            || self.inner.status == Some(StatusCode::TOO_MANY_REQUESTS)
    }

    /// A 404.
    pub fn is_not_found(&self) -> bool {
        self.inner.kind == Kind::Api && self.inner.status == Some(StatusCode::NOT_FOUND)
    }

    /// The server answered with a non-success status.
    pub fn is_status(&self) -> bool {
        self.inner.kind == Kind::Api
    }

    /// A 5xx from the server.
    pub fn is_server_error(&self) -> bool {
        self.is_status() && self.inner.status.is_some_and(|s| s.is_server_error())
    }

    /// A deadline passed (per attempt or for the whole operation).
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == Kind::Timeout
    }

    /// A network failure: no connection ([`Error::is_connect`]) or a broken one.
    pub fn is_transport(&self) -> bool {
        matches!(self.inner.kind, Kind::Connect | Kind::Transport)
    }

    /// No connection could be made, so the request was not sent.
    pub fn is_connect(&self) -> bool {
        self.inner.kind == Kind::Connect
    }

    /// A success body did not decode into the model.
    pub fn is_decode(&self) -> bool {
        self.inner.kind == Kind::Decode
    }

    /// The response body exceeded the size cap.
    pub fn is_body_too_large(&self) -> bool {
        self.inner.kind == Kind::BodyTooLarge
    }

    /// The request could not be built from the input (or the client is misconfigured).
    pub fn is_invalid_request(&self) -> bool {
        self.inner.kind == Kind::InvalidRequest
    }

    /// The request may have been applied by the server even though it failed (a
    /// timeout, a reset or a 5xx after a user creation was sent). Check the server's
    /// state before sending it again.
    pub fn is_outcome_unknown(&self) -> bool {
        self.inner.outcome_unknown
    }

    /// The server answered `404` to a resend of a call that removes one thing by id
    /// (a user, a passkey, a web3 wallet, an external account, a trusted device),
    /// after an earlier attempt of the same call that may have been applied (its
    /// answer was lost: a reset, a timeout, a 5xx): the thing is gone, most likely
    /// removed by that earlier attempt ([`Applied::of_resend`](crate::Applied::of_resend)).
    /// [`Error::is_not_found`] holds too, since that is what the server said.
    ///
    /// `Clerk::execute` turns this error into the success the lost answer would
    /// have been for the deletes that return a [`DeletedObject`](crate::DeletedObject)
    /// (marked [`DeletedObject::applied_earlier`](crate::DeletedObject::applied_earlier));
    /// the trusted-device revoke, whose answer is the device, stays this error.
    pub fn is_applied_earlier(&self) -> bool {
        self.inner.applied_earlier
    }

    /// Whether the server may have applied the request ([`Applied::of_error`](crate::Applied::of_error)):
    /// the one rule the retry layer, the client and the importer follow.
    pub fn applied(&self) -> crate::Applied {
        crate::Applied::of_error(self)
    }

    /// A short, low-cardinality name of what went wrong, for metrics and the
    /// `error.type` trace field: the status code for server answers, else one of
    /// `connect`, `transport`, `timeout`, `decode`, `body_too_large`,
    /// `invalid_request`, `rate_limited`.
    pub fn error_type(&self) -> Cow<'static, str> {
        match self.inner.kind {
            Kind::Api => match self.inner.status {
                Some(status) => Cow::Owned(status.as_u16().to_string()),
                None => Cow::Borrowed("api"),
            },
            Kind::Connect => Cow::Borrowed("connect"),
            Kind::Transport => Cow::Borrowed("transport"),
            Kind::Timeout => Cow::Borrowed("timeout"),
            Kind::Decode => Cow::Borrowed("decode"),
            Kind::BodyTooLarge => Cow::Borrowed("body_too_large"),
            Kind::InvalidRequest => Cow::Borrowed("invalid_request"),
            Kind::RateLimited => Cow::Borrowed("rate_limited"),
        }
    }
}

/// Clerk's trace id from a response's headers: `Clerk-Trace-Id`, else Cloudflare's
/// `cf-ray` (what Clerk's own SDKs read).
pub fn header_trace_id(headers: &HeaderMap) -> Option<&str> {
    ["clerk-trace-id", "cf-ray"]
        .iter()
        .find_map(|name| headers.get(*name)?.to_str().ok())
}

/// The `Retry-After` header in seconds. Clerk sends whole seconds; a fraction is
/// kept. HTTP dates, negative values and nonsense give `None`.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    // Clerk sends whole seconds; tolerate a fraction rather than drop the hint.
    let secs: f64 = value.parse().ok()?;
    (0.0..1e9)
        .contains(&secs)
        .then(|| Duration::from_secs_f64(secs))
}

fn excerpt(body: &[u8]) -> Option<String> {
    if body.is_empty() {
        return None;
    }
    let cut = &body[..body.len().min(EXCERPT_LEN)];
    let text: String = String::from_utf8_lossy(cut)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if body.len() > EXCERPT_LEN {
        Some(format!("{text}…"))
    } else {
        Some(text)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("clerk::Error");
        d.field("kind", &self.inner.kind);
        if let Some(message) = &self.inner.message {
            d.field("message", message);
        }
        if let Some(status) = self.inner.status {
            d.field("status", &status.as_u16());
        }
        if !self.inner.clerk_errors.is_empty() {
            d.field("clerk_errors", &self.inner.clerk_errors);
        }
        if let Some(trace_id) = &self.inner.trace_id {
            d.field("trace_id", trace_id);
        }
        if let Some(retry_after) = self.inner.retry_after {
            d.field("retry_after", &retry_after);
        }
        if let Some(body) = &self.inner.body_excerpt {
            d.field("body_excerpt", body);
        }
        if self.inner.outcome_unknown {
            d.field("outcome_unknown", &true);
        }
        if self.inner.applied_earlier {
            d.field("applied_earlier", &true);
        }
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.inner.kind {
            Kind::Api => {
                match self.inner.status {
                    Some(status) => write!(f, "Clerk API error {status}")?,
                    None => f.write_str("Clerk API error")?,
                }
                if let Some(first) = self.inner.clerk_errors.first() {
                    write!(f, ": {}: {}", first.code, first.message)?;
                    if let Some(long) = first
                        .long_message
                        .as_deref()
                        .filter(|l| *l != first.message)
                    {
                        write!(f, " ({long})")?;
                    }
                    if self.inner.clerk_errors.len() > 1 {
                        write!(f, " and {} more", self.inner.clerk_errors.len() - 1)?;
                    }
                } else if let Some(body) = &self.inner.body_excerpt {
                    write!(f, ": {body}")?;
                }
                if let Some(retry_after) = self.inner.retry_after {
                    write!(f, "; retry after {}s", retry_after.as_secs_f64())?;
                }
                if let Some(trace_id) = &self.inner.trace_id {
                    write!(f, " [trace {trace_id}]")?;
                }
            }
            Kind::Connect => f.write_str("could not connect to the Clerk API")?,
            Kind::Transport => f.write_str("connection to the Clerk API failed")?,
            Kind::Decode => f.write_str("could not decode the Clerk API response")?,
            Kind::Timeout | Kind::BodyTooLarge | Kind::InvalidRequest | Kind::RateLimited => {}
        }
        if let Some(message) = &self.inner.message {
            if self.inner.kind == Kind::Api {
                write!(f, ": {message}")?;
            } else {
                f.write_str(message)?;
            }
        }
        if matches!(
            self.inner.kind,
            Kind::Connect | Kind::Transport | Kind::Decode
        ) && let Some(source) = &self.inner.source
        {
            write!(f, ": {source}")?;
        }
        if self.inner.outcome_unknown {
            f.write_str(" (the request may have been applied: outcome unknown)")?;
        }
        if self.inner.applied_earlier {
            f.write_str(" (on a resend: an earlier attempt whose answer was lost removed it)")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_ref()
            .map(|s| &**s as &(dyn std::error::Error + 'static))
    }
}

impl From<std::convert::Infallible> for Error {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)], body: &'static str) -> http::Response<Body> {
        let mut builder = http::Response::builder().status(status);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::from(body)).unwrap()
    }

    #[test]
    fn parses_a_real_clerk_error_body() {
        let err = Error::from_response(&response(
            422,
            &[("content-type", "application/json")],
            r#"{"errors":[{"message":"That email address is taken. Please try another.","long_message":"That email address is taken. Please try another.","code":"form_identifier_exists","meta":{"param_name":"email_address"}}],"clerk_trace_id":"abc123"}"#,
        ));
        assert!(err.is_status());
        assert_eq!(err.status(), Some(StatusCode::UNPROCESSABLE_ENTITY));
        assert!(err.has_code("form_identifier_exists"));
        assert_eq!(err.clerk_errors()[0].param_name(), Some("email_address"));
        assert_eq!(err.trace_id(), Some("abc123"));
        assert!(!err.is_rate_limited() && !err.is_not_found());
        let shown = err.to_string();
        assert!(
            shown.contains("422") && shown.contains("form_identifier_exists"),
            "{shown}"
        );
    }

    #[test]
    fn reads_retry_after_on_429() {
        let err = Error::from_response(&response(
            429,
            &[("retry-after", "7"), ("clerk-trace-id", "t-1")],
            r#"{"errors":[{"message":"Too many requests","long_message":"Too many requests, retry later","code":"too_many_requests"}]}"#,
        ));
        assert!(err.is_rate_limited());
        assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(err.trace_id(), Some("t-1"));
        assert_eq!(err.error_type(), "429");
    }

    #[test]
    fn html_plain_and_empty_bodies_still_explain_themselves() {
        let html = Error::from_response(&response(
            502,
            &[("cf-ray", "8f00-AMS")],
            "<html>\n<head><title>502 Bad Gateway</title></head>\n</html>",
        ));
        assert!(html.is_server_error());
        assert_eq!(html.trace_id(), Some("8f00-AMS"));
        assert!(html.body_excerpt().unwrap().contains("502 Bad Gateway"));
        assert!(html.to_string().contains("502 Bad Gateway"));

        let plain = Error::from_response(&response(503, &[], "upstream connect error"));
        assert_eq!(plain.body_excerpt(), Some("upstream connect error"));

        let empty = Error::from_response(&response(404, &[], ""));
        assert!(empty.is_not_found());
        assert_eq!(empty.body_excerpt(), None);
        assert!(empty.clerk_errors().is_empty());

        let truncated = Error::from_response(&response(500, &[], r#"{"errors":[{"message":"x","#));
        assert!(truncated.clerk_errors().is_empty());
        assert!(truncated.body_excerpt().is_some());
    }

    #[test]
    fn long_bodies_are_cut() {
        let body: &'static str = Box::leak("x".repeat(10_000).into_boxed_str());
        let err = Error::from_response(&response(500, &[], body));
        assert!(err.body_excerpt().unwrap().chars().count() <= EXCERPT_LEN + 1);
    }

    #[test]
    fn retry_after_keeps_fractions() {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, " 1.5 ".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(1500)));
    }

    #[test]
    fn bad_retry_after_values_are_ignored() {
        for value in [
            "soon",
            "-1",
            "NaN",
            "inf",
            "1e30",
            "Wed, 21 Oct 2015 07:28:00 GMT",
        ] {
            let err = Error::from_response(&response(429, &[("retry-after", value)], ""));
            assert_eq!(err.retry_after(), None, "{value}");
            assert!(err.is_rate_limited());
        }
    }

    #[test]
    fn predicates_match_their_constructors() {
        assert!(Error::connect("refused").is_connect());
        assert!(Error::connect("refused").is_transport());
        assert!(!Error::transport("reset").is_connect());
        assert!(Error::timeout(Duration::from_secs(1)).is_timeout());
        assert!(Error::decode("bad", b"{}").is_decode());
        assert!(Error::body_too_large(10).is_body_too_large());
        assert!(Error::invalid_request("x").is_invalid_request());
        let held = Error::rate_limited(Duration::from_secs(90));
        assert!(held.is_rate_limited());
        assert_eq!(held.retry_after(), Some(Duration::from_secs(90)));
        let unknown = Error::transport("reset").into_outcome_unknown();
        assert!(unknown.is_outcome_unknown());
        assert!(unknown.to_string().contains("outcome unknown"));
        let boxed: BoxError = Box::new(Error::timeout(Duration::from_secs(2)));
        assert!(Error::from_boxed(boxed).is_timeout());
    }
}
