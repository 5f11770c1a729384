//! Who may use the control API (`/_emulator/`): it resets instances and injects faults, so a
//! web page the developer happens to visit must not reach it.
//!
//! * **Content type.** `POST`, `PUT` and `PATCH` need `Content-Type: application/json`: a
//!   cross-site form or `fetch` can only send `text/plain`, form or multipart bodies without a
//!   CORS preflight, which the emulator never grants.
//! * **Origin.** A request with an `Origin` header (browsers send it) must come from the
//!   emulator's own origin; `Sec-Fetch-Site`, when present, must be `same-origin` or `none`.
//! * **Host.** The `Host` must be a loopback address, `localhost`, the address the emulator
//!   listens on (any address when it listens on all of them), or a name given with
//!   `--control-host`. DNS rebinding points a name the attacker owns at 127.0.0.1, so its
//!   requests carry that name, never an IP literal.
//! * **Token.** With `--control-token`, every control request but `GET health` and
//!   `GET images/…` (which `<img>` tags load) needs the `Emulator-Control-Token` header,
//!   compared in constant time. The token is never logged nor echoed.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use http::{HeaderMap, Method, StatusCode, header};
use subtle::ConstantTimeEq as _;

use crate::error::{ApiError, ApiResult};

/// The header carrying the control token.
pub(crate) const TOKEN_HEADER: &str = "emulator-control-token";

/// The control API's access rules for one running emulator.
#[derive(Clone)]
pub(crate) struct ControlAccess {
    token: Option<String>,
    /// Extra host names (`--control-host`), lowercase.
    hosts: Vec<String>,
    listen: SocketAddr,
}

impl fmt::Debug for ControlAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ControlAccess")
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("hosts", &self.hosts)
            .field("listen", &self.listen)
            .finish()
    }
}

fn forbidden(code: &'static str, long: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, code, "Forbidden", long)
}

impl ControlAccess {
    /// `listen` is the bound address (its port is the one the emulator's origin has).
    pub(crate) fn new(token: Option<String>, hosts: &[String], listen: SocketAddr) -> Self {
        Self {
            token,
            hosts: hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
            listen,
        }
    }

    /// Refuses a control request that breaks one of the module's rules.
    pub(crate) fn check(
        &self,
        method: &Method,
        segs: &[&str],
        headers: &HeaderMap,
    ) -> ApiResult<()> {
        if let Some(host) = headers.get(header::HOST) {
            let allowed = host
                .to_str()
                .ok()
                .and_then(split_authority)
                .is_some_and(|(host, _)| self.host_allowed(&host));
            if !allowed {
                return Err(forbidden(
                    "host_invalid",
                    "The control API answers only requests addressed to a loopback address, \
                     localhost, the listen address or a --control-host name.",
                ));
            }
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let own = origin.to_str().ok().is_some_and(|o| self.is_own_origin(o));
            if !own {
                return Err(forbidden(
                    "origin_invalid",
                    "The control API does not take cross-origin requests.",
                ));
            }
        }
        if let Some(site) = headers.get("sec-fetch-site")
            && !matches!(site.as_bytes(), b"same-origin" | b"none")
        {
            return Err(forbidden(
                "origin_invalid",
                "The control API does not take cross-site requests.",
            ));
        }
        let public = *method == Method::GET && matches!(segs, ["health"] | ["images", _]);
        if let (Some(token), false) = (&self.token, public) {
            let given = headers
                .get(TOKEN_HEADER)
                .map(|v| v.as_bytes())
                .unwrap_or_default();
            if !bool::from(given.ct_eq(token.as_bytes())) {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "control_token_invalid",
                    "Unauthorized request",
                    "The control API needs the Emulator-Control-Token header with the emulator's \
                     --control-token.",
                ));
            }
        }
        if matches!(*method, Method::POST | Method::PUT | Method::PATCH) && !is_json(headers) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Unsupported media type",
                "Control API requests with a body need Content-Type: application/json.",
            ));
        }
        Ok(())
    }

    fn host_allowed(&self, host: &str) -> bool {
        match host.parse::<IpAddr>() {
            Ok(ip) => {
                ip.is_loopback() || self.listen.ip().is_unspecified() || ip == self.listen.ip()
            }
            Err(_) => {
                host == "localhost"
                    || host.ends_with(".localhost")
                    || self.hosts.iter().any(|h| h == host)
            }
        }
    }

    /// `http://HOST:PORT` with an allowed host and the emulator's port.
    fn is_own_origin(&self, origin: &str) -> bool {
        let Some(authority) = origin.strip_prefix("http://") else {
            return false;
        };
        match split_authority(authority) {
            Some((host, port)) => {
                port.unwrap_or(80) == self.listen.port() && self.host_allowed(&host)
            }
            None => false,
        }
    }
}

/// `host[:port]` or `[v6][:port]`: the host (lowercase, without brackets and trailing dot)
/// and the port. `None` when malformed.
fn split_authority(authority: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => Some(p.parse::<u16>().ok()?),
        None => None,
    };
    if host.is_empty() || authority.contains(['/', '@', ' ']) {
        return None;
    }
    Some((host.trim_end_matches('.').to_ascii_lowercase(), port))
}

/// `application/json`, parameters (`; charset=utf-8`) allowed.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn hosts_and_origins() {
        let loopback = ControlAccess::new(
            None,
            &["Emulator".into()],
            "127.0.0.1:8080".parse().unwrap(),
        );
        let all = ControlAccess::new(None, &[], "0.0.0.0:8080".parse().unwrap());
        for ok in [
            "127.0.0.1:8080",
            "localhost",
            "LOCALHOST.:8080",
            "[::1]:8080",
            "emulator:8080",
            "app.localhost",
        ] {
            assert!(
                split_authority(ok).is_some_and(|(h, _)| loopback.host_allowed(&h)),
                "{ok}"
            );
        }
        for bad in [
            "evil.example:8080",
            "10.0.0.5:8080",
            "127.0.0.1.evil.example",
            "a@127.0.0.1",
            "",
            ":80",
        ] {
            assert!(
                !split_authority(bad).is_some_and(|(h, _)| loopback.host_allowed(&h)),
                "{bad}"
            );
        }
        assert!(all.host_allowed("10.0.0.5"));
        assert!(!all.host_allowed("evil.example"));
        assert!(loopback.is_own_origin("http://localhost:8080"));
        assert!(loopback.is_own_origin("http://127.0.0.1:8080"));
        for bad in [
            "null",
            "http://localhost:3000",
            "https://localhost:8080",
            "http://evil.example:8080",
            "http://localhost",
        ] {
            assert!(!loopback.is_own_origin(bad), "{bad}");
        }
    }

    #[test]
    fn content_type_and_token() {
        let guard = ControlAccess::new(
            Some("tok-123456789".into()),
            &[],
            "127.0.0.1:8080".parse().unwrap(),
        );
        let json = [
            ("content-type", "application/json; charset=utf-8"),
            (TOKEN_HEADER, "tok-123456789"),
        ];
        assert!(
            guard
                .check(&Method::POST, &["reset"], &headers(&json))
                .is_ok()
        );
        let plain = headers(&[
            ("content-type", "text/plain"),
            (TOKEN_HEADER, "tok-123456789"),
        ]);
        assert_eq!(
            guard
                .check(&Method::POST, &["reset"], &plain)
                .unwrap_err()
                .status,
            415
        );
        let wrong = headers(&[
            ("content-type", "application/json"),
            (TOKEN_HEADER, "tok-12345678"),
        ]);
        let err = guard.check(&Method::POST, &["reset"], &wrong).unwrap_err();
        assert_eq!(
            (err.status.as_u16(), err.code),
            (401, "control_token_invalid")
        );
        assert!(!format!("{err:?}{guard:?}").contains("tok-123456789"));
        assert!(
            guard
                .check(&Method::GET, &["health"], &HeaderMap::new())
                .is_ok()
        );
        assert!(
            guard
                .check(&Method::GET, &["images", "x"], &HeaderMap::new())
                .is_ok()
        );
        assert!(
            guard
                .check(&Method::GET, &["stats"], &HeaderMap::new())
                .is_err()
        );
    }
}
