//! How LiteLLM spells a calendar minute in its keys.

use crate::clock::Minute;

/// LiteLLM's spellings of a [`Minute`]: the `strftime` formats its router keys its per-minute
/// state by.
///
/// # Examples
///
/// ```
/// use fastllm_router::litellm::MinuteLabels;
/// use fastllm_router::{Clock, FakeClock};
///
/// let minute = FakeClock::at_utc(2024, 5, 17, 9, 5, 30).wall().utc_minute();
/// assert_eq!(minute.hh_mm(), "09-05");
/// assert_eq!(minute.precise(), "2024-05-17-09-05");
/// ```
pub trait MinuteLabels {
    /// `strftime("%H-%M")`: the suffix of LiteLLM's usage keys, e.g. `09-05`.
    fn hh_mm(self) -> String;

    /// `f"{%Y-%m-%d}-{%H}-{%M}"`: the minute key inside LiteLLM's latency and cost maps.
    fn precise(self) -> String;
}

impl MinuteLabels for Minute {
    fn hh_mm(self) -> String {
        let (h, m) = self.hour_minute();
        format!("{h:02}-{m:02}")
    }

    fn precise(self) -> String {
        let (y, mo, d) = self.date();
        let (h, m) = self.hour_minute();
        format!("{y:04}-{mo:02}-{d:02}-{h:02}-{m:02}")
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::clock::{Clock, FakeClock};

    #[test]
    fn labels_match_strftime() {
        // 2024-02-29 23:59:30 UTC; local UTC+1 is 2024-03-01 00:59.
        let clock = FakeClock::at_utc(2024, 2, 29, 23, 59, 30);
        clock.set_utc_offset(3600);
        let wall = clock.wall();
        assert_eq!(wall.utc_minute().hh_mm(), "23-59");
        assert_eq!(wall.utc_minute().precise(), "2024-02-29-23-59");
        assert_eq!(wall.local_minute().hh_mm(), "00-59");
        assert_eq!(wall.local_minute().precise(), "2024-03-01-00-59");
    }

    #[test]
    fn negative_offsets_and_pre_epoch() {
        let clock = FakeClock::at_utc(1970, 1, 1, 0, 30, 0);
        clock.set_utc_offset(-3600);
        assert_eq!(clock.wall().local_minute().precise(), "1969-12-31-23-30");
    }
}
