//! LiteLLM's spelling and storage rules, kept apart from the limiter's plain API.
//!
//! * The key schema of LiteLLM's v3 limiter: every key of a scope starts with its Redis
//!   Cluster hash tag `{key:value}` and ends in one of four suffixes ([`ScopeKey`]).
//! * The expiry rules of 1.110's in-memory rate-limit handle (`set_local`), which differ
//!   from the memory tier's rules in [`KeyTtl`](crate::KeyTtl): a write with a TTL moves the
//!   expiry, a write without one keeps it ([`local_expiry`], [`local_live`]), and that
//!   handle's [`keyspace`].

pub mod keyspace;

use std::ops::Add;
use std::time::Duration;

use crate::descriptor::CounterKind;

/// One of the four keys LiteLLM's v3 limiter keeps for a scope: its window start, its two
/// windowed counters and its parallel-request gauge.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ScopeKey {
    /// `{key:value}:window`, the window start (integer seconds).
    Window,
    /// `{key:value}:requests`, the request counter.
    Requests,
    /// `{key:value}:tokens`, the token counter.
    Tokens,
    /// `{key:value}:max_parallel_requests`, the in-flight slots.
    Gauge,
}

impl ScopeKey {
    /// LiteLLM's suffix for this key (also its `RateLimitWindow/Counter/Gauge.suffix`).
    pub fn suffix(self) -> &'static str {
        match self {
            ScopeKey::Window => "window",
            ScopeKey::Requests => CounterKind::Requests.as_str(),
            ScopeKey::Tokens => CounterKind::Tokens.as_str(),
            ScopeKey::Gauge => "max_parallel_requests",
        }
    }

    /// The key a suffix names, or `None` for a suffix LiteLLM does not write.
    pub fn parse(suffix: &str) -> Option<Self> {
        [
            ScopeKey::Window,
            ScopeKey::Requests,
            ScopeKey::Tokens,
            ScopeKey::Gauge,
        ]
        .into_iter()
        .find(|k| k.suffix() == suffix)
    }
}

impl From<CounterKind> for ScopeKey {
    fn from(kind: CounterKind) -> Self {
        match kind {
            CounterKind::Requests => ScopeKey::Requests,
            CounterKind::Tokens => ScopeKey::Tokens,
        }
    }
}

/// The Redis Cluster hash tag shared by every key of a scope: `{key:value}`.
///
/// All keys of one descriptor therefore land in one cluster slot. Note that, as in LiteLLM,
/// `("a:b", "c")` and `("a", "b:c")` render to the same tag and so share counters.
pub fn scope_tag(key: &str, value: &str) -> String {
    let mut s = String::with_capacity(key.len() + value.len() + 3);
    s.push('{');
    s.push_str(key);
    s.push(':');
    s.push_str(value);
    s.push('}');
    s
}

/// The key of one of a scope's values, from the scope's tag: `{key:value}:<suffix>`.
pub fn tagged_key(tag: &str, key: ScopeKey) -> String {
    let suffix = key.suffix();
    let mut s = String::with_capacity(tag.len() + 1 + suffix.len());
    s.push_str(tag);
    s.push(':');
    s.push_str(suffix);
    s
}

/// The key holding a scope's window start (integer seconds, as a string): `{key:value}:window`.
pub fn window_key(key: &str, value: &str) -> String {
    tagged_key(&scope_tag(key, value), ScopeKey::Window)
}

/// The key of a windowed counter: `{key:value}:requests` or `{key:value}:tokens`.
pub fn counter_key(key: &str, value: &str, kind: CounterKind) -> String {
    tagged_key(&scope_tag(key, value), kind.into())
}

/// The key of a scope's max-parallel-requests gauge (a sorted set of slot ids scored by
/// acquire time in Redis): `{key:value}:max_parallel_requests`.
pub fn gauge_key(key: &str, value: &str) -> String {
    tagged_key(&scope_tag(key, value), ScopeKey::Gauge)
}

/// Whether an entry of 1.110's in-memory handle that expires at `expires` (`None`: never)
/// is still live at `now`.
pub fn local_live<I: PartialOrd>(expires: Option<I>, now: I) -> bool {
    expires.is_none_or(|at| at > now)
}

/// The expiry an entry of 1.110's in-memory handle has after `set_local(entry, value, ttl)`.
///
/// `live` is the expiry of the entry before the write if it is live (`Some(None)`: live and
/// never expiring), `None` if there is no live entry. A positive TTL replaces the expiry; no
/// TTL keeps a live entry's expiry (a new entry then never expires); a TTL of zero updates a
/// live entry in place and stores nothing new. Returns `None` when the write stores nothing
/// (the entry is then gone), else `Some(new expiry)`.
pub fn local_expiry<I: Copy + Add<Duration, Output = I>>(
    live: Option<Option<I>>,
    ttl: Option<Duration>,
    now: I,
) -> Option<Option<I>> {
    match ttl {
        Some(ttl) if !ttl.is_zero() => Some(Some(now + ttl)),
        None => Some(live.flatten()),
        Some(_) => live,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_litellm_schema() {
        assert_eq!(scope_tag("api_key", "abc"), "{api_key:abc}");
        assert_eq!(window_key("api_key", "abc"), "{api_key:abc}:window");
        assert_eq!(
            counter_key("team", "t1", CounterKind::Requests),
            "{team:t1}:requests"
        );
        assert_eq!(
            counter_key("team", "t1", CounterKind::Tokens),
            "{team:t1}:tokens"
        );
        assert_eq!(
            gauge_key("model_per_key", "k:gpt-4"),
            "{model_per_key:k:gpt-4}:max_parallel_requests"
        );
        for key in [
            ScopeKey::Window,
            ScopeKey::Requests,
            ScopeKey::Tokens,
            ScopeKey::Gauge,
        ] {
            assert_eq!(ScopeKey::parse(key.suffix()), Some(key));
        }
        assert_eq!(ScopeKey::parse("Window"), None);
    }

    #[test]
    fn local_handle_ttl_rules() {
        let s = Duration::from_secs;
        // A positive TTL replaces whatever was there.
        assert_eq!(
            local_expiry(Some(Some(s(5))), Some(s(10)), s(1)),
            Some(Some(s(11)))
        );
        assert_eq!(local_expiry(None, Some(s(10)), s(1)), Some(Some(s(11))));
        // No TTL keeps a live entry's expiry; a new entry never expires.
        assert_eq!(local_expiry(Some(Some(s(5))), None, s(1)), Some(Some(s(5))));
        assert_eq!(local_expiry::<Duration>(None, None, s(1)), Some(None));
        // A zero TTL updates a live entry in place, and stores nothing new.
        assert_eq!(
            local_expiry(Some(Some(s(5))), Some(s(0)), s(1)),
            Some(Some(s(5)))
        );
        assert_eq!(local_expiry::<Duration>(None, Some(s(0)), s(1)), None);
        assert!(local_live(Some(s(5)), s(4)));
        assert!(!local_live(Some(s(5)), s(5)));
        assert!(local_live::<Duration>(None, s(5)));
    }
}
