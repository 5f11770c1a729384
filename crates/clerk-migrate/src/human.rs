//! Durations as people read them, in progress messages and end reports.

use std::time::Duration;

/// `850 ms` below a second, `25.3 s` below a minute, then `4 min 10 s`, `2 h 46 min`,
/// `3 d 4 h`: right for a sub-second wait as for a run of hours.
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 1.0 {
        return format!("{} ms", d.as_millis());
    }
    if secs < 60.0 {
        return format!("{secs:.1} s");
    }
    let total = secs.round() as u64;
    let (days, hours, mins, s) = (
        total / 86_400,
        total / 3600 % 24,
        total / 60 % 60,
        total % 60,
    );
    if days > 0 {
        format!("{days} d {hours} h")
    } else if hours > 0 {
        format!("{hours} h {mins} min")
    } else {
        format!("{mins} min {s} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_second_waits_are_in_milliseconds() {
        assert_eq!(duration(Duration::from_millis(400)), "400 ms");
        assert_eq!(duration(Duration::ZERO), "0 ms");
        assert_eq!(duration(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(duration(Duration::from_secs(250)), "4 min 10 s");
    }
}
