//! Wall-clock readings and calendar minutes.

/// A wall-clock reading: Unix time and the local offset from UTC at that instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallTime {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub unix_millis: i64,
    /// Local time minus UTC, in seconds (what Python's `datetime.now()` adds to UTC).
    pub utc_offset_secs: i32,
}

impl WallTime {
    /// The local minute, as Python's `datetime.now()` sees it.
    #[must_use]
    pub fn local_minute(&self) -> Minute {
        Minute::from_unix_secs(self.unix_millis.div_euclid(1000) + i64::from(self.utc_offset_secs))
    }

    /// The UTC minute, as `datetime.now(timezone.utc)` sees it.
    #[must_use]
    pub fn utc_minute(&self) -> Minute {
        Minute::from_unix_secs(self.unix_millis.div_euclid(1000))
    }
}

/// A calendar minute in some time zone: minutes since 1970-01-01 00:00 of that zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Minute(pub i64);

impl Minute {
    fn from_unix_secs(secs: i64) -> Self {
        Self(secs.div_euclid(60))
    }

    /// Hour and minute of the day.
    #[must_use]
    pub fn hour_minute(self) -> (u32, u32) {
        let of_day = self.0.rem_euclid(1440);
        // Both fit: of_day < 1440.
        ((of_day / 60) as u32, (of_day % 60) as u32)
    }

    /// Year, month (1-12) and day (1-31), proleptic Gregorian.
    #[must_use]
    pub fn date(self) -> (i64, u32, u32) {
        civil_from_days(self.0.div_euclid(1440))
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // d in 1..=31 and m in 1..=12 by construction.
    (y, m as u32, d as u32)
}

/// (year, month, day), proleptic Gregorian, to days since 1970-01-01.
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in [-800_000, -1, 0, 1, 59, 60, 365, 11_016, 19_860, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_860), (2024, 5, 17));
    }

    #[test]
    fn minutes_of_a_wall_time() {
        // 2024-02-29 23:59:30 UTC; local UTC+1 is 2024-03-01 00:59.
        let wall = WallTime {
            unix_millis: (days_from_civil(2024, 2, 29) * 86_400 + 23 * 3600 + 59 * 60 + 30) * 1000,
            utc_offset_secs: 3600,
        };
        assert_eq!(wall.utc_minute().hour_minute(), (23, 59));
        assert_eq!(wall.utc_minute().date(), (2024, 2, 29));
        assert_eq!(wall.local_minute().hour_minute(), (0, 59));
        assert_eq!(wall.local_minute().date(), (2024, 3, 1));
    }

    #[test]
    fn before_the_epoch() {
        let wall = WallTime {
            unix_millis: -1,
            utc_offset_secs: 0,
        };
        assert_eq!(wall.utc_minute(), Minute(-1));
        assert_eq!(wall.utc_minute().hour_minute(), (23, 59));
        assert_eq!(wall.utc_minute().date(), (1969, 12, 31));
    }
}
