//! A small RFC 3339 / ISO 8601 reader, enough for filter values and date ranges.

/// Parses an ISO-8601 date or date-time into milliseconds since the Unix epoch.
///
/// Accepts `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.fff]]` with an optional `Z` or
/// `±HH:MM` offset (a space may replace the `T`; no offset means UTC). Returns
/// `None` for anything else, including out-of-range fields.
///
/// ```
/// use honeyhive_model::filter::parse_datetime_ms;
/// assert_eq!(parse_datetime_ms("1970-01-02T00:00:00Z"), Some(86_400_000.0));
/// assert_eq!(parse_datetime_ms("2024-01-01T01:00:00.5+01:00"), Some(1_704_067_200_500.0));
/// assert_eq!(parse_datetime_ms("yesterday"), None);
/// ```
pub fn parse_datetime_ms(s: &str) -> Option<f64> {
    let s = s.trim();
    if !s.is_ascii() || s.len() < 10 {
        return None;
    }
    let year: i64 = digits(s, 0, 4)?;
    let month: i64 = digits(s, 5, 2)?;
    let day: i64 = digits(s, 8, 2)?;
    if &s[4..5] != "-"
        || &s[7..8] != "-"
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
    {
        return None;
    }
    let mut ms = days_from_civil(year, month, day) as f64 * 86_400_000.0;
    let rest = &s[10..];
    if rest.is_empty() {
        return Some(ms);
    }
    let sep = rest.as_bytes()[0];
    if sep != b'T' && sep != b't' && sep != b' ' {
        return None;
    }
    let time = &rest[1..];
    let hour: i64 = digits(time, 0, 2)?;
    if time.get(2..3)? != ":" {
        return None;
    }
    let minute: i64 = digits(time, 3, 2)?;
    let mut idx = 5;
    let mut second = 0.0;
    if time.get(5..6) == Some(":") {
        let whole: i64 = digits(time, 6, 2)?;
        idx = 8;
        let mut frac = String::new();
        if time.get(8..9) == Some(".") {
            idx = 9;
            while let Some(c) = time.as_bytes().get(idx).filter(|c| c.is_ascii_digit()) {
                frac.push(*c as char);
                idx += 1;
            }
            if frac.is_empty() {
                return None;
            }
        }
        second = whole as f64
            + if frac.is_empty() {
                0.0
            } else {
                format!("0.{frac}").parse::<f64>().ok()?
            };
        if whole > 60 {
            return None;
        }
    }
    if hour > 23 || minute > 59 {
        return None;
    }
    let offset_minutes = match &time[idx..] {
        "" | "Z" | "z" => 0,
        tz => {
            let sign = match tz.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let tz = &tz[1..];
            let (h, m) = match tz.len() {
                5 if &tz[2..3] == ":" => (digits(tz, 0, 2)?, digits(tz, 3, 2)?),
                4 => (digits(tz, 0, 2)?, digits(tz, 2, 2)?),
                2 => (digits(tz, 0, 2)?, 0),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 60 + m)
        }
    };
    ms += ((hour * 60 + minute - offset_minutes) * 60_000) as f64 + second * 1000.0;
    Some(ms)
}

/// Formats milliseconds since the epoch as RFC 3339 UTC with milliseconds
/// (`1970-01-01T00:00:00.000Z`); the inverse of [`parse_datetime_ms`].
///
/// ```
/// use honeyhive_model::filter::{format_datetime_ms, parse_datetime_ms};
/// assert_eq!(format_datetime_ms(86_400_000.0), "1970-01-02T00:00:00.000Z");
/// assert_eq!(parse_datetime_ms(&format_datetime_ms(1_709_209_815_250.0)), Some(1_709_209_815_250.0));
/// ```
pub fn format_datetime_ms(ms: f64) -> String {
    let total_ms = if ms.is_finite() { ms.round() as i64 } else { 0 };
    let days = total_ms.div_euclid(86_400_000);
    let in_day = total_ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    let (h, m, s, milli) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn digits(s: &str, start: usize, len: usize) -> Option<i64> {
    let part = s.get(start..start + len)?;
    if !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    part.parse().ok()
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::parse_datetime_ms;

    #[test]
    fn known_instants() {
        assert_eq!(parse_datetime_ms("1970-01-01"), Some(0.0));
        assert_eq!(
            parse_datetime_ms("2000-03-01T00:00:00Z"),
            Some(951_868_800_000.0)
        );
        assert_eq!(
            parse_datetime_ms("2024-02-29T12:30:15.250Z"),
            Some(1_709_209_815_250.0)
        );
        assert_eq!(
            parse_datetime_ms("2024-02-29 12:30"),
            Some(1_709_209_800_000.0)
        );
        assert_eq!(
            parse_datetime_ms("2024-01-01T00:00:00-0130"),
            Some(1_704_072_600_000.0)
        );
    }

    #[test]
    fn formats_round_trip() {
        for ms in [
            0.0,
            951_868_800_000.0,
            1_709_209_815_250.0,
            -86_400_000.0,
            4_102_444_800_123.0,
        ] {
            assert_eq!(parse_datetime_ms(&super::format_datetime_ms(ms)), Some(ms));
        }
    }

    #[test]
    fn rejects_invalid() {
        for bad in [
            "",
            "2023-02-29",
            "2024-13-01",
            "2024-01-01T24:00",
            "2024-01-01X",
            "2024-01-01T10:00+5",
            "２０２４-01-01",
            "2024-01-01T10:00:00.",
        ] {
            assert_eq!(parse_datetime_ms(bad), None, "{bad}");
        }
    }
}
