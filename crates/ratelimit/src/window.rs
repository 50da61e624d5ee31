//! The fixed-window rules of LiteLLM's v3 limiter, with no storage.
//!
//! Each rule is a pure function over plain inputs (counter values, limits, `now` in whole
//! seconds) that allocates nothing. [`MemoryStore`](crate::MemoryStore),
//! [`RedisStore`](crate::RedisStore)'s mirror and the `fastllm_litellm` bindings (which read
//! LiteLLM's own state) all decide with them. The names follow
//! `litellm/proxy/hooks/parallel_request_limiter_v3.py` (LiteLLM 1.110):
//!
//! * [`window_expired`]: a window is anchored at the first request that finds no live window,
//!   and it has expired once `now_int - window_start >= window_size`
//!   (`_in_memory_cache_sliding_window`, `_atomic_check_and_increment_in_memory`; despite the
//!   name it is a fixed window); [`sliding_window_step`] is one counter's step of it;
//! * [`windowed_counters`] is `_collect_windowed_keys_and_gauges`: the counters of a call and
//!   the descriptor whose limits judge each (the last windowed one of its scope);
//! * [`judge_counters`] / [`counter_verdict`] is `is_cache_list_over_limit`: a counter is
//!   over when `value + pending > limit`, where `pending` is 1 for a read-only check and 0
//!   after an increment, and `limit_remaining = limit - value` is *not* clamped (it can be
//!   `-1`);
//! * [`atomic_step`] is one counter of pass 1 of `_atomic_check_and_increment_in_memory`:
//!   all counters are validated against the state before the call, the first one over its
//!   limit rejects the whole call with only its own status, otherwise every counter is
//!   applied and `limit_remaining = max(0, limit - new)` ([`clamped_remaining`]);
//! * [`gauge_full`]: a parallel-request gauge refuses at `in_flight >= limit`.

use std::sync::Arc;

use crate::descriptor::{CounterKind, Descriptor, ScopeId};
use crate::store::AtomicCounter;

/// A status or response code: LiteLLM's `"OK"` / `"OVER_LIMIT"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Code {
    /// Within the limit.
    #[default]
    Ok,
    /// Over the limit.
    OverLimit,
}

impl Code {
    /// LiteLLM's spelling: `"OK"` or `"OVER_LIMIT"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Ok => "OK",
            Code::OverLimit => "OVER_LIMIT",
        }
    }
}

/// What a status limits: LiteLLM's `rate_limit_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateLimitType {
    /// `"requests"`: a windowed request counter.
    Requests,
    /// `"tokens"`: a windowed token counter.
    Tokens,
    /// `"max_parallel_requests"`: the concurrency gauge.
    MaxParallelRequests,
}

impl RateLimitType {
    /// LiteLLM's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RateLimitType::Requests => "requests",
            RateLimitType::Tokens => "tokens",
            RateLimitType::MaxParallelRequests => "max_parallel_requests",
        }
    }
}

impl From<CounterKind> for RateLimitType {
    fn from(kind: CounterKind) -> Self {
        match kind {
            CounterKind::Requests => RateLimitType::Requests,
            CounterKind::Tokens => RateLimitType::Tokens,
        }
    }
}

/// One limit's verdict: LiteLLM's `RateLimitStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Status {
    /// `OK` or `OVER_LIMIT`.
    pub code: Code,
    /// The limit that was applied.
    pub current_limit: i64,
    /// What is left. On the `should_rate_limit` path this is `limit - count` and can be
    /// negative; on the atomic and gauge paths it is clamped at 0, as in LiteLLM.
    pub limit_remaining: i64,
    /// Which counter or gauge.
    pub rate_limit_type: RateLimitType,
    /// The descriptor the status is about.
    pub scope: Arc<ScopeId>,
}

impl Status {
    /// LiteLLM's `descriptor_key`.
    pub fn descriptor_key(&self) -> &str {
        self.scope.key()
    }

    /// LiteLLM's `descriptor_value`: `None` on gauge statuses, which LiteLLM builds without it.
    pub fn descriptor_value(&self) -> Option<&str> {
        (self.rate_limit_type != RateLimitType::MaxParallelRequests).then(|| self.scope.value())
    }
}

/// The window a reservation was charged in: LiteLLM's `ReservationWindowIdentity`
/// `(counter, window_start, "local")`, used to settle a reservation only while its window is
/// still the open one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReservationWindow {
    /// The descriptor charged.
    pub scope: Arc<ScopeId>,
    /// The counter that was charged.
    pub kind: CounterKind,
    /// The start (integer seconds) of the window that was charged.
    pub window_start: i64,
}

/// A limiter's answer: LiteLLM's `RateLimitResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    /// `OVER_LIMIT` if the request is refused.
    pub overall: Code,
    /// One status per counter or gauge that was checked (only the offending one when an
    /// atomic or gauge check refuses).
    pub statuses: Vec<Status>,
    /// On an admitted atomic check-and-increment, the window each counter was charged in
    /// (LiteLLM's `reservation_windows`); empty everywhere else.
    pub reservation_windows: Vec<ReservationWindow>,
}

impl Response {
    /// An admitted response with no statuses.
    pub fn ok() -> Self {
        Self::default()
    }

    /// Whether the request is admitted.
    pub fn is_ok(&self) -> bool {
        self.overall == Code::Ok
    }
}

/// Whether the window starting at `window_start` has expired at `now_secs`:
/// `window_start is None or now_int - window_start >= window_size`, exact for every `i64`
/// (as Python's unbounded ints compare).
pub fn window_expired(window_start: Option<i64>, now_secs: i64, window_size_secs: i64) -> bool {
    match window_start {
        None => true,
        Some(start) => i128::from(now_secs) - i128::from(start) >= i128::from(window_size_secs),
    }
}

/// One windowed counter judged as `is_cache_list_over_limit` judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// `value + pending > limit`, where `pending` is 1 for a read-only check and 0 after an
    /// increment; an absent counter is never over.
    pub over: bool,
    /// `limit - value`, not clamped (it can be negative); `limit` for an absent counter.
    pub remaining: i64,
}

/// The verdict on one windowed counter holding `value` (`None`: no such key) under `limit`.
pub fn counter_verdict(value: Option<i64>, limit: i64, read_only: bool) -> Verdict {
    let pending = i64::from(read_only);
    Verdict {
        over: value.is_some_and(|v| v.saturating_add(pending) > limit),
        remaining: value.map_or(limit, |v| limit.saturating_sub(v)),
    }
}

/// What is left under `limit` at `count`, clamped at 0: the `limit_remaining` of gauge
/// statuses and of the atomic check-and-increment.
pub fn clamped_remaining(limit: i64, count: i64) -> i64 {
    limit.saturating_sub(count).max(0)
}

/// Whether a parallel-request gauge with `in_flight` live slots refuses one more request:
/// LiteLLM's `in_flight >= limit` (read-only) and `in_flight + 1 > limit` (acquire), which
/// are the same test on Python's ints.
pub fn gauge_full(in_flight: i64, limit: i64) -> bool {
    in_flight >= limit
}

/// `int(now)` for a clock reading.
pub(crate) fn now_int(now: std::time::Duration) -> i64 {
    i64::try_from(now.as_secs()).unwrap_or(i64::MAX)
}

/// A limit as an `i64` (descriptors are validated to fit).
pub(crate) fn limit_i64(limit: u64) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// One windowed counter in a `should_rate_limit` call: which descriptor it came from and
/// which kind. LiteLLM's `RateLimitCounter` in the `counters` list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterRef {
    /// Index of the descriptor in the call's descriptor list.
    pub descriptor: usize,
    /// Requests or tokens.
    pub kind: CounterKind,
    /// Index of the descriptor whose limits judge this counter: the last descriptor with the
    /// same `(key, value)` that has any windowed limit (LiteLLM's `key_metadata` dict is
    /// overwritten per scope).
    pub metadata: usize,
}

/// One concurrency gauge in a `should_rate_limit` call (LiteLLM's `ParallelRequestGauge`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GaugeRef {
    /// Index of the descriptor in the call's descriptor list.
    pub descriptor: usize,
    /// Its `max_parallel_requests`.
    pub limit: i64,
}

/// What the windowed rules read of one descriptor of a call. [`Descriptor`] implements it;
/// a binding that parses LiteLLM's descriptor dicts itself implements it over its own type,
/// so the same rules decide for both.
pub trait WindowedLimits {
    /// The descriptor's limit for one windowed counter kind, if it sets one.
    fn limit_of(&self, kind: CounterKind) -> Option<i64>;

    /// Whether two descriptors name the same scope (the key of LiteLLM's per-scope
    /// metadata dict).
    fn same_scope(&self, other: &Self) -> bool;
}

impl WindowedLimits for Descriptor {
    fn limit_of(&self, kind: CounterKind) -> Option<i64> {
        self.limit(kind).map(limit_i64)
    }

    fn same_scope(&self, other: &Self) -> bool {
        self.key() == other.key() && self.value() == other.value()
    }
}

/// The windowed counters of a `should_rate_limit` call, in order (per descriptor `requests`
/// then `tokens`), without allocating.
pub fn windowed_counters<D: WindowedLimits>(
    descriptors: &[D],
    skip_tpm_check: bool,
) -> WindowedCounters<'_, D> {
    WindowedCounters {
        descriptors,
        skip_tpm_check,
        next: 0,
    }
}

/// Iterator returned by [`windowed_counters`].
#[derive(Debug)]
pub struct WindowedCounters<'a, D> {
    descriptors: &'a [D],
    skip_tpm_check: bool,
    /// `2 * descriptor index + (0 for requests, 1 for tokens)` of the next candidate.
    next: usize,
}

impl<D> Clone for WindowedCounters<'_, D> {
    fn clone(&self) -> Self {
        Self {
            descriptors: self.descriptors,
            skip_tpm_check: self.skip_tpm_check,
            next: self.next,
        }
    }
}

/// The limit a counter of `kind` is judged by on descriptor `d`, with token limits ignored
/// under `skip_tpm_check`.
fn limit_for<D: WindowedLimits>(d: &D, kind: CounterKind, skip_tpm_check: bool) -> Option<i64> {
    match kind {
        CounterKind::Tokens if skip_tpm_check => None,
        kind => d.limit_of(kind),
    }
}

impl<D: WindowedLimits> WindowedCounters<'_, D> {
    fn has(&self, d: &D, kind: CounterKind) -> bool {
        limit_for(d, kind, self.skip_tpm_check).is_some()
    }
}

impl<D: WindowedLimits> Iterator for WindowedCounters<'_, D> {
    type Item = CounterRef;

    fn next(&mut self) -> Option<CounterRef> {
        while self.next < 2 * self.descriptors.len() {
            let (i, kind) = (self.next / 2, CounterKind::ALL[self.next % 2]);
            self.next += 1;
            let d = &self.descriptors[i];
            if !self.has(d, kind) {
                continue;
            }
            // The metadata of a scope is the last descriptor of that scope with windowed limits.
            let metadata = if self.descriptors.len() == 1 {
                i
            } else {
                self.descriptors
                    .iter()
                    .rposition(|o| {
                        o.same_scope(d)
                            && (self.has(o, CounterKind::Requests)
                                || self.has(o, CounterKind::Tokens))
                    })
                    .unwrap_or(i)
            };
            return Some(CounterRef {
                descriptor: i,
                kind,
                metadata,
            });
        }
        None
    }
}

/// The gauges of a `should_rate_limit` call, in descriptor order.
pub(crate) fn gauges(descriptors: &[Descriptor]) -> impl Iterator<Item = GaugeRef> + '_ {
    descriptors.iter().enumerate().filter_map(|(i, d)| {
        d.max_parallel_requests().map(|limit| GaugeRef {
            descriptor: i,
            limit: limit_i64(limit),
        })
    })
}

/// The limit `counter` is judged by: its metadata descriptor's limit of its kind, or `None`
/// when that descriptor has none (LiteLLM skips the counter).
pub fn counter_limit<D: WindowedLimits>(
    descriptors: &[D],
    counter: CounterRef,
    skip_tpm_check: bool,
) -> Option<i64> {
    limit_for(&descriptors[counter.metadata], counter.kind, skip_tpm_check)
}

/// LiteLLM's `is_cache_list_over_limit`, without allocating: judges each counter's value
/// (`None` = no such key) and hands `(counter, limit, verdict)` to `status` for every counter
/// whose metadata descriptor has a limit of its kind (the others are skipped, as in
/// LiteLLM). Returns whether any counter is over.
pub fn judge_counters<D: WindowedLimits>(
    descriptors: &[D],
    counters: impl IntoIterator<Item = CounterRef>,
    values: impl IntoIterator<Item = Option<i64>>,
    read_only: bool,
    skip_tpm_check: bool,
    mut status: impl FnMut(CounterRef, i64, Verdict),
) -> bool {
    let mut over = false;
    for (counter, value) in counters.into_iter().zip(values) {
        if let Some(limit) = counter_limit(descriptors, counter, skip_tpm_check) {
            let verdict = counter_verdict(value, limit, read_only);
            over |= verdict.over;
            status(counter, limit, verdict);
        }
    }
    over
}

/// The status of one counter holding `value` (`None` = no key), or `None` when the
/// counter's metadata descriptor has no limit of its kind (LiteLLM skips it).
pub(crate) fn counter_status(
    descriptors: &[Descriptor],
    counter: CounterRef,
    value: Option<i64>,
    read_only: bool,
    skip_tpm_check: bool,
) -> Option<Status> {
    let limit = counter_limit(descriptors, counter, skip_tpm_check)?;
    Some(windowed_status(
        descriptors,
        counter,
        limit,
        counter_verdict(value, limit, read_only),
    ))
}

fn windowed_status(
    descriptors: &[Descriptor],
    counter: CounterRef,
    limit: i64,
    verdict: Verdict,
) -> Status {
    Status {
        code: if verdict.over {
            Code::OverLimit
        } else {
            Code::Ok
        },
        current_limit: limit,
        limit_remaining: verdict.remaining,
        rate_limit_type: counter.kind.into(),
        scope: descriptors[counter.metadata].id().clone(),
    }
}

/// LiteLLM's `is_cache_list_over_limit`: judge each counter's value (`None` = no such key).
///
/// A counter whose metadata descriptor has no limit of its kind is skipped (no status), as
/// in LiteLLM.
pub(crate) fn over_limit_response(
    descriptors: &[Descriptor],
    counters: impl IntoIterator<Item = CounterRef>,
    values: &[Option<i64>],
    read_only: bool,
    skip_tpm_check: bool,
) -> Response {
    let mut statuses = Vec::with_capacity(values.len());
    let over = judge_counters(
        descriptors,
        counters,
        values.iter().copied(),
        read_only,
        skip_tpm_check,
        |counter, limit, verdict| {
            statuses.push(windowed_status(descriptors, counter, limit, verdict));
        },
    );
    Response {
        overall: if over { Code::OverLimit } else { Code::Ok },
        statuses,
        ..Response::default()
    }
}

/// One step of the fixed window for a single counter (LiteLLM's in-memory "sliding window"
/// used by `should_rate_limit`): returns `(reset, window_start, new_count)`.
///
/// When the window has expired the scope's window restarts at `now_secs` and the counter
/// becomes 1 (the caller also zeroes the sibling counter); otherwise the counter goes up by 1.
pub fn sliding_window_step(
    window_start: Option<i64>,
    count: Option<i64>,
    now_secs: i64,
    window_size_secs: i64,
) -> (bool, i64, i64) {
    match window_start {
        Some(start) if !window_expired(Some(start), now_secs, window_size_secs) => {
            (false, start, count.unwrap_or(0).saturating_add(1))
        }
        _ => (true, now_secs, 1),
    }
}

/// An increment request for one descriptor in
/// [`MemoryStore::atomic_check_and_increment_by_n`](crate::MemoryStore::atomic_check_and_increment_by_n):
/// LiteLLM's `{"requests": n, "tokens": m}` dict, with absent keys as 0.
///
/// A negative amount leaves that counter out of the call entirely; a zero amount still checks
/// it (`current >= limit` is then over).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Increment {
    /// Amount for the request counter.
    pub requests: i64,
    /// Amount for the token counter.
    pub tokens: i64,
}

impl Increment {
    /// `{"requests": n}`.
    pub fn requests(n: i64) -> Self {
        Self {
            requests: n,
            tokens: 0,
        }
    }

    /// `{"tokens": n}`.
    pub fn tokens(n: i64) -> Self {
        Self {
            requests: 0,
            tokens: n,
        }
    }

    /// The amount for one kind.
    pub fn get(self, kind: CounterKind) -> i64 {
        match kind {
            CounterKind::Requests => self.requests,
            CounterKind::Tokens => self.tokens,
        }
    }
}

/// One counter of an atomic check-and-increment: LiteLLM's `AtomicCounterMeta`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AtomicMeta {
    /// Index of the descriptor in the call's descriptor list.
    pub descriptor: usize,
    /// Requests or tokens.
    pub kind: CounterKind,
    /// The limit.
    pub limit: i64,
    /// The amount to add (>= 0).
    pub increment: i64,
    /// The descriptor's window (or the store default), also the counter key's TTL.
    pub window_size_secs: u64,
}

/// LiteLLM's `_build_descriptor_atomic_payload` for every descriptor, flattened: counters with
/// no limit, or with a negative increment, are left out.
pub(crate) fn atomic_metas(
    descriptors: &[Descriptor],
    increments: &[Increment],
    default_window_secs: u64,
) -> Vec<AtomicMeta> {
    let mut metas = Vec::with_capacity(descriptors.len() * 2);
    for (i, (d, inc)) in descriptors.iter().zip(increments).enumerate() {
        let window = d.window_size_secs().unwrap_or(default_window_secs);
        for kind in CounterKind::ALL {
            let amount = inc.get(kind);
            let Some(limit) = d.limit(kind) else { continue };
            if amount < 0 {
                continue;
            }
            metas.push(AtomicMeta {
                descriptor: i,
                kind,
                limit: limit_i64(limit),
                increment: amount,
                window_size_secs: window,
            });
        }
    }
    metas
}

/// A counter's state before an atomic call: its scope's window start and its own value
/// (`None` = no live key).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CounterState {
    /// The scope's window start.
    pub window_start: Option<i64>,
    /// The counter's value.
    pub count: Option<i64>,
}

/// What pass 2 writes for one counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AtomicWrite {
    /// The window had expired: reset the scope (both counters to 0), set its window start.
    pub window_expired: bool,
    /// The window the counter is charged in.
    pub window_start: i64,
    /// The counter's new value.
    pub new_count: i64,
}

/// One counter of `_atomic_check_and_increment_in_memory`'s pass 1: `Err(current)` (the
/// count it was judged at) when it refuses `increment`, else what pass 2 writes.
///
/// `count` is only read when the window is still open. A positive increment is over when
/// `current + increment > limit`; a zero increment when `current >= limit`.
pub fn atomic_step(
    state: CounterState,
    now_secs: i64,
    window_size_secs: i64,
    increment: i64,
    limit: i64,
) -> Result<AtomicWrite, i64> {
    let expired = window_expired(state.window_start, now_secs, window_size_secs);
    let current = if expired { 0 } else { state.count.unwrap_or(0) };
    let over = if increment > 0 {
        current.saturating_add(increment) > limit
    } else {
        current >= limit
    };
    if over {
        return Err(current);
    }
    Ok(AtomicWrite {
        window_expired: expired,
        window_start: match state.window_start {
            Some(start) if !expired => start,
            _ => now_secs,
        },
        new_count: if expired {
            increment
        } else {
            current.saturating_add(increment)
        },
    })
}

/// Pass 1 of `_atomic_check_and_increment_in_memory`: validate every counter against the
/// state before the call (`states` is parallel to `counters`; see [`atomic_step`]). The first
/// counter that refuses gives `Err((its index, the count it was judged at))`; otherwise the
/// values pass 2 writes, one per counter.
pub(crate) fn atomic_plan(
    counters: &[AtomicCounter<'_>],
    states: &[CounterState],
    now_secs: i64,
) -> Result<Vec<AtomicWrite>, (usize, i64)> {
    counters
        .iter()
        .zip(states)
        .enumerate()
        .map(|(i, (c, state))| {
            let window = limit_i64(c.window_size_secs);
            atomic_step(*state, now_secs, window, c.increment, c.limit)
                .map_err(|current| (i, current))
        })
        .collect()
}

/// A gauge's status (LiteLLM's `_gauge_status`): `limit_remaining = max(0, limit - in_flight)`
/// and no `descriptor_value`.
pub(crate) fn gauge_status(
    descriptor: &Descriptor,
    limit: i64,
    in_flight: i64,
    code: Code,
) -> Status {
    Status {
        code,
        current_limit: limit,
        limit_remaining: clamped_remaining(limit, in_flight),
        rate_limit_type: RateLimitType::MaxParallelRequests,
        scope: descriptor.id().clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::descriptor::Limits;
    use crate::store::{AtomicOutcome, Charged, atomic_counters, atomic_response};

    fn d(key: &str, value: &str, limits: Limits) -> Descriptor {
        Descriptor::new(key, value, limits).unwrap()
    }

    #[test]
    fn expiry_is_at_start_plus_window() {
        assert!(window_expired(None, 0, 60));
        assert!(!window_expired(Some(100), 159, 60));
        assert!(window_expired(Some(100), 160, 60));
        assert_eq!(
            sliding_window_step(Some(100), Some(4), 159, 60),
            (false, 100, 5)
        );
        assert_eq!(
            sliding_window_step(Some(100), Some(4), 160, 60),
            (true, 160, 1)
        );
        assert_eq!(
            sliding_window_step(Some(100), None, 101, 60),
            (false, 100, 1)
        );
    }

    #[test]
    fn over_limit_uses_last_metadata_and_unclamped_remaining() {
        let ds = vec![
            d("api_key", "k", Limits::new().requests(5).tokens(50)),
            d("api_key", "k", Limits::new().requests(2)),
        ];
        let counters: Vec<CounterRef> = windowed_counters(&ds, false).collect();
        assert_eq!(counters.len(), 3);
        assert!(counters.iter().all(|c| c.metadata == 1));
        let r = over_limit_response(&ds, counters, &[Some(3), Some(7), Some(3)], false, false);
        // The tokens counter is judged by descriptor 1, which has no token limit: skipped.
        assert_eq!(r.statuses.len(), 2);
        assert_eq!(r.overall, Code::OverLimit);
        assert_eq!(r.statuses[0].limit_remaining, -1);
        assert_eq!(r.statuses[0].current_limit, 2);
    }

    #[test]
    fn atomic_zero_increment_is_over_at_limit() {
        let ds = vec![d("team", "t", Limits::new().requests(2).tokens(10))];
        let metas = atomic_metas(&ds, &[Increment::tokens(4)], 60);
        assert_eq!(metas.len(), 2);
        let st = CounterState {
            window_start: Some(0),
            count: Some(2),
        };
        match atomic_plan(&atomic_counters(&ds, &metas), &[st, st], 1) {
            Err((index, current)) => {
                let r = atomic_response(&ds, &metas, AtomicOutcome::Refused { index, current });
                assert_eq!(r.statuses.len(), 1);
                assert_eq!(r.statuses[0].rate_limit_type, RateLimitType::Requests);
                assert_eq!(r.statuses[0].limit_remaining, 0);
            }
            other => panic!("expected over limit, got {other:?}"),
        }
        let metas = atomic_metas(
            &ds,
            &[Increment {
                requests: -1,
                tokens: 4,
            }],
            60,
        );
        assert_eq!(metas.len(), 1);
        match atomic_plan(&atomic_counters(&ds, &metas), &[st], 1) {
            Ok(w) => {
                assert_eq!(w[0].new_count, 6);
                let charged = w
                    .iter()
                    .map(|w| Charged {
                        count: w.new_count,
                        window_start: w.window_start,
                    })
                    .collect();
                let r = atomic_response(&ds, &metas, AtomicOutcome::Applied(charged));
                assert_eq!(r.statuses[0].limit_remaining, 4);
                assert_eq!(r.reservation_windows[0].window_start, 0);
            }
            other => panic!("expected apply, got {other:?}"),
        }
    }
}
