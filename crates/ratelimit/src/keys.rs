//! The state LiteLLM's memory tier holds for one scope, with its key-expiry rules.
//!
//! LiteLLM keeps each of a scope's keys (`{k:v}:window`, `:requests`, `:tokens`,
//! `:max_parallel_requests`) in an in-memory cache with a TTL. Two details of that cache
//! shape the answers, and are reproduced here:
//!
//! * a key's expiry is set when the key is created (or rewritten after it expired) and is
//!   **not** pushed back by later writes (`InMemoryCache.allow_ttl_override` in 1.109.3;
//!   1.110's native memory tier behaves the same, checked by probing `set_local`);
//! * a key is live while `now <= expires_at` and reads as absent after that.
//!
//! So a window whose key was written at `t0` disappears at `t0 + window` even if the window
//! logic restarted it a fraction of a second earlier: LiteLLM then restarts the window once
//! more (so up to twice the limit can be admitted within about a second), and a counter left
//! over its limit keeps refusing until its own key expires. Both are observable in LiteLLM
//! with a real clock and happen here the same way when the store's [`KeyTtl`] is
//! [`KeyTtl::FollowClock`].

use std::time::Duration;

use crate::descriptor::CounterKind;
use crate::gauge::Registry;

/// How the store expires keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KeyTtl {
    /// Keys expire by the store's clock, as LiteLLM's memory tier expires them by the real
    /// clock. This is what a live proxy does.
    #[default]
    FollowClock,
    /// Keys never expire. This matches LiteLLM driven by a fake `time_provider` in a test that
    /// runs in well under a window of real time: its cache then never expires anything. Idle
    /// entries are never evicted in this mode.
    Never,
}

/// One key: a value (absent when `None`) and when it expires.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Key<T> {
    value: Option<T>,
    expires_at: Duration,
}

impl<T> Key<T> {
    pub(crate) fn is_live(&self, now: Duration, mode: KeyTtl) -> bool {
        self.value.is_some() && !(mode == KeyTtl::FollowClock && now > self.expires_at)
    }

    pub(crate) fn get(&self, now: Duration, mode: KeyTtl) -> Option<&T> {
        if self.is_live(now, mode) {
            self.value.as_ref()
        } else {
            None
        }
    }

    /// Write `value`; the expiry moves to `now + ttl` only if the key was not live.
    pub(crate) fn set(&mut self, now: Duration, mode: KeyTtl, value: T, ttl: Duration) {
        if !self.is_live(now, mode) {
            self.expires_at = now.saturating_add(ttl);
        }
        self.value = Some(value);
    }

    /// The live value, mutably; a dead key is recreated from `T::default()` with a fresh expiry.
    pub(crate) fn get_or_create(&mut self, now: Duration, mode: KeyTtl, ttl: Duration) -> &mut T
    where
        T: Default,
    {
        if !self.is_live(now, mode) {
            self.expires_at = now.saturating_add(ttl);
            self.value = Some(T::default());
        }
        self.value.get_or_insert_with(T::default)
    }

    /// The live value, mutably, without touching the expiry.
    pub(crate) fn get_mut(&mut self, now: Duration, mode: KeyTtl) -> Option<&mut T> {
        if self.is_live(now, mode) {
            self.value.as_mut()
        } else {
            None
        }
    }
}

/// Everything stored for one scope `{key:value}`.
#[derive(Debug, Default)]
pub(crate) struct ScopeState {
    /// Set when the entry was evicted from the map: a holder must look the scope up again.
    pub(crate) dead: bool,
    /// Inserted but not locked yet: never idle, so a sweep cannot take an entry away from the
    /// call that is about to use it.
    pub(crate) fresh: bool,
    pub(crate) window: Key<i64>,
    pub(crate) requests: Key<i64>,
    pub(crate) tokens: Key<i64>,
    pub(crate) gauge: Key<Registry>,
}

impl ScopeState {
    pub(crate) fn new_entry() -> Self {
        Self {
            fresh: true,
            ..Self::default()
        }
    }

    pub(crate) fn counter(&self, kind: CounterKind) -> &Key<i64> {
        match kind {
            CounterKind::Requests => &self.requests,
            CounterKind::Tokens => &self.tokens,
        }
    }

    pub(crate) fn counter_mut(&mut self, kind: CounterKind) -> &mut Key<i64> {
        match kind {
            CounterKind::Requests => &mut self.requests,
            CounterKind::Tokens => &mut self.tokens,
        }
    }

    /// No live key: the entry answers exactly like an absent one and can be dropped.
    pub(crate) fn is_idle(&self, now: Duration, mode: KeyTtl) -> bool {
        !self.fresh
            && !self.window.is_live(now, mode)
            && !self.requests.is_live(now, mode)
            && !self.tokens.is_live(now, mode)
            && !self.gauge.is_live(now, mode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_fixed_at_creation() {
        let s = Duration::from_secs;
        let mut k = Key::default();
        k.set(s(10), KeyTtl::FollowClock, 1, s(5));
        k.set(s(14), KeyTtl::FollowClock, 2, s(5));
        assert_eq!(k.get(s(15), KeyTtl::FollowClock), Some(&2));
        assert_eq!(
            k.get(s(15) + Duration::from_nanos(1), KeyTtl::FollowClock),
            None
        );
        assert_eq!(k.get(s(1000), KeyTtl::Never), Some(&2));
        k.set(s(16), KeyTtl::FollowClock, 3, s(5));
        assert_eq!(k.get(s(21), KeyTtl::FollowClock), Some(&3));
    }
}
