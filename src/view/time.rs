//! Timestamps as people read them: a UTC calendar date and time.

use crate::dissect::Timestamp;

/// Formats as `2026-11-21 13:40:00.123456789 UTC`.
pub fn utc_string(ts: Timestamp) -> String {
    let days = ts.secs.div_euclid(86_400);
    let secs_of_day = ts.secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:09} UTC",
        secs_of_day / 3600,
        secs_of_day / 60 % 60,
        secs_of_day % 60,
        ts.nanos
    )
}

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month, day),
/// counting in 400-year eras of 146 097 days.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        let at = |secs| utc_string(Timestamp { secs, nanos: 5 });
        assert_eq!(at(0), "1970-01-01 00:00:00.000000005 UTC");
        assert_eq!(at(951_782_400), "2000-02-29 00:00:00.000000005 UTC");
        assert_eq!(at(1_795_268_096), "2026-11-21 13:34:56.000000005 UTC");
        assert_eq!(at(-1), "1969-12-31 23:59:59.000000005 UTC");
    }

    #[test]
    fn absurd_timestamps_do_not_panic() {
        let _ = utc_string(Timestamp {
            secs: i64::MAX / 2,
            nanos: 0,
        });
        let _ = utc_string(Timestamp {
            secs: i64::MIN / 2,
            nanos: 0,
        });
    }
}
