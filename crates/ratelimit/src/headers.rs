//! The response headers and the 429 LiteLLM derives from a [`Response`].
//!
//! * Success: `_merge_ratelimit_statuses_into_additional_headers` adds, per status,
//!   `x-ratelimit-{descriptor_key}-remaining-{rate_limit_type}` (= `limit_remaining`) and
//!   `x-ratelimit-{descriptor_key}-limit-{rate_limit_type}` (= `current_limit`). Statuses that
//!   share a descriptor key and type overwrite each other; the later one wins, in the place
//!   the first one took (Python dict semantics).
//! * Refusal: `_handle_rate_limit_error` raises a 429 for the first `OVER_LIMIT` status with
//!   `retry-after: <window_size>` (the limiter's configured window, not the time left),
//!   `rate_limit_type`, and `reset_at`, which is `now + window_size` formatted as
//!   `%Y-%m-%d %H:%M:%S UTC` (again not the real window end).
//!
//! Both take wall-clock time only to *display* it; the limits never read it.

use crate::descriptor::Descriptor;
use crate::window::{Code, Response, Status};

/// The `x-ratelimit-*` headers for `statuses`, in insertion order.
///
/// # Examples
///
/// ```
/// use fastllm_ratelimit::{ratelimit_headers, Descriptor, Limits, MemoryStore, CheckOptions};
///
/// let store = MemoryStore::new();
/// let d = Descriptor::new("api_key", "k", Limits::new().requests(10))?;
/// let admission = store.should_rate_limit(&[d], &CheckOptions::default());
/// assert_eq!(
///     ratelimit_headers(&admission.response.statuses),
///     vec![
///         ("x-ratelimit-api_key-remaining-requests".to_string(), 9),
///         ("x-ratelimit-api_key-limit-requests".to_string(), 10),
///     ]
/// );
/// # Ok::<(), fastllm_ratelimit::Error>(())
/// ```
pub fn ratelimit_headers(statuses: &[Status]) -> Vec<(String, i64)> {
    let mut headers: Vec<(String, i64)> = Vec::with_capacity(statuses.len() * 2);
    let mut put = |name: String, value: i64| match headers.iter_mut().find(|(n, _)| *n == name) {
        Some(slot) => slot.1 = value,
        None => headers.push((name, value)),
    };
    for s in statuses {
        let (key, kind) = (s.descriptor_key(), s.rate_limit_type.as_str());
        put(
            format!("x-ratelimit-{key}-remaining-{kind}"),
            s.limit_remaining,
        );
        put(format!("x-ratelimit-{key}-limit-{kind}"), s.current_limit);
    }
    headers
}

/// The 429 LiteLLM raises for a refused [`Response`] (`ProxyRateLimitError`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The error detail message.
    pub detail: String,
    /// The `retry-after` header: the configured window size in seconds.
    pub retry_after: String,
    /// The `rate_limit_type` header: `requests`, `tokens` or `max_parallel_requests`.
    pub rate_limit_type: &'static str,
    /// The `reset_at` header: `now + window_size`, `%Y-%m-%d %H:%M:%S UTC`.
    pub reset_at: String,
    /// The offending status's descriptor key.
    pub descriptor_key: String,
    /// The matching descriptor's value, or `"unknown"`.
    pub descriptor_value: String,
}

/// LiteLLM's `_handle_rate_limit_error` for `response`: `None` when no status is over.
///
/// `now_unix_secs` is the wall-clock time (UNIX seconds) used only for `reset_at`;
/// `window_size_secs` is the limiter's configured window (`LITELLM_RATE_LIMIT_WINDOW_SIZE`).
/// The descriptor value shown is the first descriptor with the status's key (and value, when
/// the status has one); `"unknown"` if none matches.
pub fn rejection(
    response: &Response,
    descriptors: &[Descriptor],
    now_unix_secs: f64,
    window_size_secs: u64,
) -> Option<Rejection> {
    let status = response
        .statuses
        .iter()
        .find(|s| s.code == Code::OverLimit)?;
    let key = status.descriptor_key();
    let value = descriptors
        .iter()
        .find(|d| d.key() == key && status.descriptor_value().is_none_or(|v| d.value() == v))
        .map_or_else(|| "unknown".to_string(), |d| d.value().to_string());
    let reset_at = format_utc(now_unix_secs + window_size_secs as f64);
    let kind = status.rate_limit_type.as_str();
    Some(Rejection {
        detail: format!(
            "Rate limit exceeded for {key}: {value}. Limit type: {kind}. Current limit: {}, \
             Remaining: {}. Limit resets at: {reset_at}",
            status.current_limit,
            status.limit_remaining.max(0),
        ),
        retry_after: window_size_secs.to_string(),
        rate_limit_type: kind,
        reset_at,
        descriptor_key: key.to_string(),
        descriptor_value: value,
    })
}

/// `datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")`:
/// microseconds are rounded half-to-even first, then the seconds are shown truncated.
pub fn format_utc(unix_secs: f64) -> String {
    let mut secs = unix_secs.floor();
    let micros = ((unix_secs - secs) * 1e6).round_ties_even();
    if micros >= 1e6 {
        secs += 1.0;
    }
    // Seconds since 1970 fit an i64 for any date chrono-free Python can print.
    let secs = secs as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::descriptor::ScopeId;
    use crate::window::RateLimitType;
    use std::sync::Arc;

    #[test]
    fn utc_formatting() {
        assert_eq!(format_utc(0.0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_utc(1_795_846_011.9), "2026-11-28 06:06:51 UTC");
        assert_eq!(format_utc(951_782_400.0), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_utc(59.999_999_7), "1970-01-01 00:01:00 UTC");
        assert_eq!(format_utc(59.999_999_2), "1970-01-01 00:00:59 UTC");
    }

    #[test]
    fn later_statuses_overwrite_in_place() {
        let s = |remaining, value: &str| Status {
            code: Code::Ok,
            current_limit: 10,
            limit_remaining: remaining,
            rate_limit_type: RateLimitType::Tokens,
            scope: Arc::new(ScopeId::new("tag", value)),
        };
        let h = ratelimit_headers(&[s(5, "a"), s(2, "b")]);
        assert_eq!(
            h,
            vec![
                ("x-ratelimit-tag-remaining-tokens".into(), 2),
                ("x-ratelimit-tag-limit-tokens".into(), 10)
            ]
        );
    }
}
