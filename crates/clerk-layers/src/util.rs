//! Small helpers shared by the layers.

use std::time::Duration;

use http::HeaderMap;

/// `Retry-After` in seconds (Clerk sends whole seconds; a fraction is kept).
/// HTTP dates and nonsense are ignored.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let secs: f64 = value.parse().ok()?;
    (secs.is_finite() && (0.0..1e9).contains(&secs)).then(|| Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_seconds_and_ignores_the_rest() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        for (value, expected) in [
            ("7", Some(Duration::from_secs(7))),
            (" 1.5 ", Some(Duration::from_millis(1500))),
            ("Wed, 21 Oct 2015 07:28:00 GMT", None),
            ("-1", None),
            ("NaN", None),
            ("1e30", None),
        ] {
            headers.insert(http::header::RETRY_AFTER, value.parse().unwrap());
            assert_eq!(retry_after(&headers), expected, "{value}");
        }
    }
}
