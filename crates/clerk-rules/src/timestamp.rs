//! RFC 3339 date-times, as `created_at` and `legal_accepted_at` travel in request bodies
//! (`2012-10-20T07:15:20.902Z`, `2012-10-20T09:15:20+02:00`). The `time` crate's RFC 3339
//! parser does the work, so impossible dates (`2023-02-30`, `2023-02-29`) are refused.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The Unix time in milliseconds of an RFC 3339 date-time (sub-millisecond digits are cut
/// off toward the past), or `None` when it is not one.
pub fn rfc3339_unix_ms(value: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(value, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000_000)).ok()
}

#[cfg(test)]
mod tests {
    use super::rfc3339_unix_ms;

    #[test]
    fn parses_rfc3339_and_refuses_impossible_dates() {
        assert_eq!(rfc3339_unix_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            rfc3339_unix_ms("2012-10-20T07:15:20.902Z"),
            Some(1_350_717_320_902)
        );
        assert_eq!(
            rfc3339_unix_ms("2012-10-20T09:15:20.902+02:00"),
            Some(1_350_717_320_902)
        );
        assert_eq!(
            rfc3339_unix_ms("2024-02-29T00:00:00.5Z"),
            Some(1_709_164_800_500)
        );
        assert_eq!(
            rfc3339_unix_ms("2012-10-20t07:15:20.123456-07:00"),
            rfc3339_unix_ms("2012-10-20T14:15:20.123Z")
        );
        assert_eq!(rfc3339_unix_ms("1969-12-31T23:59:59.9999Z"), Some(-1));
        for bad in [
            "",
            "2012-10-20",
            "2012-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2023-02-30T00:00:00Z",
            "2023-04-31T00:00:00Z",
            "2012-10-20T24:00:00Z",
            "2012-10-20T07:15:20",
            "x012-10-20T07:15:20Z",
            "2012-10-20T07:15:20.Z",
            "ünïcode-10-20T07:15:20Z",
        ] {
            assert_eq!(rfc3339_unix_ms(bad), None, "{bad}");
        }
    }
}
