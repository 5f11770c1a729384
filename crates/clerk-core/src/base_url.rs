//! The API base URL (`https://api.clerk.com/v1` by default).

use std::fmt;
use std::net::IpAddr;

use http::Uri;
use http::uri::{Authority, Scheme};

use crate::Error;

/// Where the Backend API lives: scheme, host and path prefix.
///
/// Accepts the origin with or without the `/v1` prefix: `https://api.clerk.com`,
/// `https://api.clerk.com/v1` and `https://api.clerk.com/v1/` are the same base.
/// Another prefix (a proxy that mounts the API under `/clerk/v1`) is kept as given.
#[derive(Clone, PartialEq, Eq)]
pub struct BaseUrl {
    scheme: Scheme,
    authority: Authority,
    prefix: String,
}

impl BaseUrl {
    /// Clerk's production endpoint.
    pub const DEFAULT: &'static str = "https://api.clerk.com/v1";

    /// Parses a base URL. Only `http` and `https` are accepted, with a host, and
    /// without a query or fragment.
    ///
    /// Errors never quote the URL whole: credentials (`user:secret@`), the query
    /// and the fragment are left out (see [`BaseUrl::redacted`]).
    pub fn parse(url: &str) -> Result<Self, Error> {
        let raw = url;
        let url = &Self::redacted(raw);
        let uri: Uri = raw
            .trim()
            .parse()
            .map_err(|e| Error::invalid_request(format!("invalid base URL {url:?}: {e}")))?;
        let scheme = uri
            .scheme()
            .cloned()
            .ok_or_else(|| Error::invalid_request(format!("base URL {url:?} has no scheme")))?;
        if scheme != Scheme::HTTP && scheme != Scheme::HTTPS {
            return Err(Error::invalid_request(format!(
                "base URL {url:?} must use http or https"
            )));
        }
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| Error::invalid_request(format!("base URL {url:?} has no host")))?;
        if authority.as_str().contains('@') {
            return Err(Error::invalid_request(
                "base URL must not carry credentials; pass the secret key separately",
            ));
        }
        if uri.query().is_some() {
            return Err(Error::invalid_request(format!(
                "base URL {url:?} must not have a query"
            )));
        }
        let path = uri.path().trim_end_matches('/');
        let prefix = if path.is_empty() {
            "/v1".to_owned()
        } else {
            path.to_owned()
        };
        Ok(Self {
            scheme,
            authority,
            prefix,
        })
    }

    /// `url` fit to quote in a message: any `user:secret@` becomes `***@`, a query
    /// or fragment becomes `?…`, and it is cut to 200 characters. Works on strings
    /// that do not parse, since those are the ones error messages quote.
    pub fn redacted(url: &str) -> String {
        let url = url.trim();
        let (scheme, rest) = match url.find("://") {
            Some(i) => url.split_at(i + 3),
            None => ("", url),
        };
        let mut rest = match rest.find(['?', '#']) {
            Some(i) => format!("{}?…", &rest[..i]),
            None => rest.to_owned(),
        };
        // Everything up to the last `@` may be credentials, whatever else is broken.
        if let Some(at) = rest.rfind('@') {
            rest.replace_range(..at, "***");
        }
        let mut shown = format!("{scheme}{rest}");
        if let Some((cut, _)) = shown.char_indices().nth(200) {
            shown.truncate(cut);
            shown.push('…');
        }
        shown
    }

    /// The scheme (`http` or `https`).
    pub fn scheme(&self) -> &Scheme {
        &self.scheme
    }

    /// Host and port.
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// The host name (no port, no brackets for IPv6).
    pub fn host(&self) -> &str {
        let host = self.authority.host();
        host.strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
    }

    /// The path prefix, without a trailing slash (`/v1`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether the host is a loopback address (`localhost`, `127.0.0.0/8`, `::1`):
    /// the only hosts plain `http` is allowed to.
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(self.host())
    }

    /// The absolute URI of `path_and_query` (which starts with `/`, relative to the
    /// prefix: `/users/user_1?x=y`).
    pub fn join(&self, path_and_query: &str) -> Result<Uri, Error> {
        let full = format!(
            "{}://{}{}{}",
            self.scheme, self.authority, self.prefix, path_and_query
        );
        full.parse()
            .map_err(|e| Error::invalid_request(format!("cannot build request URI: {e}")))
    }
}

/// Whether `host` (no brackets) names the loopback interface.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Default for BaseUrl {
    fn default() -> Self {
        Self {
            scheme: Scheme::HTTPS,
            authority: Authority::from_static("api.clerk.com"),
            prefix: "/v1".to_owned(),
        }
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}{}", self.scheme, self.authority, self.prefix)
    }
}

impl fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BaseUrl({self})")
    }
}

impl std::str::FromStr for BaseUrl {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_with_or_without_v1_is_the_same_base() {
        let a = BaseUrl::parse("https://api.clerk.com").unwrap();
        let b = BaseUrl::parse("https://api.clerk.com/v1/").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, BaseUrl::default());
        assert_eq!(a.to_string(), "https://api.clerk.com/v1");
        assert_eq!(
            a.join("/users/u%2F1?limit=2").unwrap().to_string(),
            "https://api.clerk.com/v1/users/u%2F1?limit=2"
        );
    }

    #[test]
    fn loopback_detection() {
        for url in [
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:9/v1",
        ] {
            assert!(BaseUrl::parse(url).unwrap().is_loopback(), "{url}");
        }
        for url in [
            "http://10.0.0.1",
            "http://example.com",
            "http://127.0.0.1.nip.io",
        ] {
            assert!(!BaseUrl::parse(url).unwrap().is_loopback(), "{url}");
        }
    }

    #[test]
    fn errors_never_quote_credentials_or_queries() {
        for url in [
            "https://u:sk_live_SECRET@ho st/v1",
            "https://u:sk_live_SECRET@x",
            "http s://u:sk_live_SECRET@x/v1",
            "u:sk_live_SECRET@x",
            "ftp://u:sk_live_SECRET@x",
            "https://x/v1?key=sk_live_SECRET",
            "https://x/v1#sk_live_SECRET",
            "https://a@b:sk_live_SECRET@x/v1",
            "https://u:sk_live_SECRET@[::1/v1",
        ] {
            let shown = match BaseUrl::parse(url) {
                Ok(base) => format!("{base} {base:?}"),
                Err(err) => format!("{err} {err:?}"),
            };
            assert!(!shown.contains("SECRET"), "{url}: {shown}");
        }
        assert_eq!(
            BaseUrl::redacted("https://u:p@h:1/v1?q#f"),
            "https://***@h:1/v1?…"
        );
        assert_eq!(
            BaseUrl::redacted("http://127.0.0.1:8080/v1"),
            "http://127.0.0.1:8080/v1"
        );
        assert!(BaseUrl::redacted(&"x".repeat(10_000)).chars().count() <= 201);
    }

    #[test]
    fn rejects_what_is_not_a_base_url() {
        for url in [
            "api.clerk.com",
            "ftp://x",
            "https://u:sk_live_1@x",
            "https://x/v1?a=b",
            "",
        ] {
            assert!(BaseUrl::parse(url).is_err(), "{url}");
        }
    }
}
