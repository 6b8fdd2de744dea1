//! Institutions' time zones: a UTC offset as the office writes it, and the offsets that
//! are real ones. (Setting an institution's zone is `directory::set_time_zone`: the
//! phones learn it from the directory.)

use chrono::FixedOffset;

/// Parses a UTC offset written `+08:00`, `-05:30` or `+8` into minutes east of UTC.
pub fn parse_offset(s: &str) -> Option<i32> {
    let s = s.trim();
    let s = s.strip_prefix("UTC").unwrap_or(s);
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    if h.is_empty() || h.len() > 2 || m.len() > 2 {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    if m >= 60 {
        return None;
    }
    let minutes = sign * (h * 60 + m);
    offset(minutes).map(|_| minutes)
}

/// The offset of `minutes` east of UTC, if it is a real one (within ±14 h).
pub fn offset(minutes: i32) -> Option<FixedOffset> {
    if minutes.abs() > 14 * 60 {
        return None;
    }
    FixedOffset::east_opt(minutes * 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn offsets_parse_within_fourteen_hours() {
        use super::parse_offset;
        assert_eq!(parse_offset("+08:00"), Some(480));
        assert_eq!(parse_offset("-05:30"), Some(-330));
        assert_eq!(parse_offset("+8"), Some(480));
        assert_eq!(parse_offset("UTC+9"), Some(540));
        for bad in ["08:00", "+15:00", "+08:60", "+", "", "+08:00:00", "+x"] {
            assert_eq!(parse_offset(bad), None, "{bad}");
        }
    }
}
