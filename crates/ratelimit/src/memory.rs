//! [`MemoryStore`]: LiteLLM's v3 limiter, in process memory, safe to share between threads.
//!
//! Each scope `{key:value}` has one entry (a mutex around its window, counters and gauge) in a
//! concurrent map. A call locks every scope it touches, in sorted key order so that two calls
//! can never deadlock, and does its whole check-and-update under those locks: a
//! multi-descriptor call is atomic across keys. The answers are those of LiteLLM's
//! no-Redis path; where LiteLLM splits a call into steps that other requests may interleave
//! with, this store runs the steps back to back, which is one of the orders LiteLLM allows.

use std::convert::Infallible;
use std::future::{Future, ready};
use std::time::Duration;

use crate::clock::{Clock, MonotonicClock};
use crate::descriptor::{
    CounterKind, DEFAULT_WINDOW_SECS, Descriptor, MAX_WINDOW_SECS, validate_window,
};
use crate::error::{Error, Result};
use crate::gauge::{DEFAULT_SLOT_TTL, Registry, SlotAcquisition, SlotId, SlotIds};
use crate::keys::{KeyTtl, ScopeState};
use crate::map::KeyMap;
use crate::reservation::{TokenIncrement, TpmReservation};
use crate::store::{
    AtomicCounter, AtomicOutcome, Charged, CountOutcome, CountStep, CounterValues, Limiter, Store,
    any_counter_over, ready_now,
};
use crate::sync::{Arc, AtomicUsize, Mutex, MutexGuard, Ordering, lock};
use crate::window::{
    CounterState, Increment, ReservationWindow, Response, atomic_plan, gauge_full, limit_i64,
    now_int, sliding_window_step,
};

/// Store-wide settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The limiter's window (LiteLLM `LITELLM_RATE_LIMIT_WINDOW_SIZE`, default 60 s). The
    /// `should_rate_limit` path always uses this one, whatever a descriptor's own
    /// `window_size` says (LiteLLM passes `self.window_size` there); the atomic path uses the
    /// descriptor's window when it has one.
    pub window_size_secs: u64,
    /// How long a parallel-request slot counts before it is treated as leaked, and the TTL of
    /// the gauge key (LiteLLM `PARALLEL_REQUEST_SLOT_TTL_SECONDS`, 3600 s).
    pub slot_ttl: Duration,
    /// How keys expire (see [`KeyTtl`]).
    pub key_ttl: KeyTtl,
    /// Sweep idle entries after this many new scopes were added (or after as many as the
    /// store held at the last sweep, if more), so memory stays proportional to the scopes in
    /// use. `0` turns the automatic sweep off; [`MemoryStore::evict_idle`] always works.
    pub sweep_after_inserts: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            window_size_secs: DEFAULT_WINDOW_SECS,
            slot_ttl: DEFAULT_SLOT_TTL,
            key_ttl: KeyTtl::FollowClock,
            sweep_after_inserts: 1024,
        }
    }
}

impl Config {
    /// Check the settings.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for a window of 0 or more than [`MAX_WINDOW_SECS`], or a slot
    /// TTL of 0 or more than [`MAX_WINDOW_SECS`].
    pub fn validate(&self) -> Result<()> {
        validate_window("window_size_secs", Some(self.window_size_secs))?;
        if self.slot_ttl.is_zero() || self.slot_ttl > Duration::from_secs(MAX_WINDOW_SECS) {
            return Err(Error::invalid(
                "slot_ttl",
                format!(
                    "{:?} is not between 0 and {MAX_WINDOW_SECS} s",
                    self.slot_ttl
                ),
            ));
        }
        Ok(())
    }

    fn window(&self) -> Duration {
        Duration::from_secs(self.window_size_secs)
    }
}

/// Options of [`MemoryStore::should_rate_limit`], LiteLLM's keyword arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// Only read: nothing is counted and no slot is taken; a counter is over when one more
    /// request would exceed it, a gauge when it is full.
    pub read_only: bool,
    /// Ignore token limits (LiteLLM sets this when TPM is handled by a reservation).
    pub skip_tpm_check: bool,
    /// Neither check nor take parallel-request slots (a call inside a request that already
    /// holds one).
    pub skip_parallel_check: bool,
    /// The slot id to register on the gauges; one is generated when `None`.
    pub slot_id: Option<SlotId>,
}

/// The answer of [`MemoryStore::should_rate_limit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    /// LiteLLM's `RateLimitResponse`.
    pub response: Response,
    /// The parallel-request slot taken, if the request was admitted and has gauges. Release
    /// it with [`MemoryStore::release_slots`] when the request ends.
    pub slot: Option<SlotAcquisition>,
}

/// The in-memory v3 limiter. See the [crate docs](crate) for the semantics.
///
/// A [`Store`] whose steps run at once under the scope locks: its methods are
/// [`Limiter`]'s operations, run to completion without a runtime.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fastllm_ratelimit::{CheckOptions, Code, Config, Descriptor, FakeClock, Limits, MemoryStore};
///
/// let clock = FakeClock::at_secs(1_000);
/// let store = MemoryStore::with_config(Config::default(), clock.clone())?;
/// let key = [Descriptor::new("api_key", "k", Limits::new().requests(2))?];
/// let opts = CheckOptions::default();
/// assert!(store.should_rate_limit(&key, &opts).response.is_ok());
/// assert!(store.should_rate_limit(&key, &opts).response.is_ok());
/// assert_eq!(store.should_rate_limit(&key, &opts).response.overall, Code::OverLimit);
/// clock.advance(Duration::from_secs(61));
/// assert!(store.should_rate_limit(&key, &opts).response.is_ok());
/// # Ok::<(), fastllm_ratelimit::Error>(())
/// ```
pub struct MemoryStore<C: Clock = MonotonicClock> {
    clock: C,
    config: Config,
    map: KeyMap<Arc<Mutex<ScopeState>>>,
    slot_ids: SlotIds,
    inserts_since_sweep: AtomicUsize,
    sweep_at: AtomicUsize,
}

impl MemoryStore<MonotonicClock> {
    /// A store with LiteLLM's defaults and the process's monotonic clock.
    pub fn new() -> Self {
        Self::build(Config::default(), MonotonicClock::new())
    }
}

impl Default for MemoryStore<MonotonicClock> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Clock> std::fmt::Debug for MemoryStore<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("config", &self.config)
            .field("scopes", &self.map.len())
            .finish_non_exhaustive()
    }
}

/// The scopes a call holds locked, addressed by the caller's own indices.
struct Locked<'a, 'g> {
    guards: &'a mut [MutexGuard<'g, ScopeState>],
    /// Caller index -> guard index; `None` when there is a single guard.
    slot_of: Option<&'a [usize]>,
}

impl Locked<'_, '_> {
    fn state(&mut self, i: usize) -> &mut ScopeState {
        let g = self.slot_of.map_or(0, |s| s[i]);
        &mut self.guards[g]
    }
}

impl<C: Clock> MemoryStore<C> {
    /// A store with `config` and `clock`.
    ///
    /// # Errors
    ///
    /// As [`Config::validate`].
    pub fn with_config(config: Config, clock: C) -> Result<Self> {
        config.validate()?;
        Ok(Self::build(config, clock))
    }

    fn build(config: Config, clock: C) -> Self {
        let sweep = config.sweep_after_inserts;
        Self {
            clock,
            config,
            map: KeyMap::new(),
            slot_ids: SlotIds::new(),
            inserts_since_sweep: AtomicUsize::new(0),
            sweep_at: AtomicUsize::new(sweep),
        }
    }

    /// The store's settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The store's clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// Number of scopes currently held (live or not yet swept).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no scope is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A fresh slot id, unique within this store (and, with overwhelming probability, across
    /// processes): 32 hex digits, like the uuid hex LiteLLM uses.
    pub fn generate_slot_id(&self) -> SlotId {
        self.slot_ids.next_id()
    }

    fn entry(&self, scope: &str) -> Arc<Mutex<ScopeState>> {
        let (entry, inserted) = self
            .map
            .get_or_insert_with(scope, || Arc::new(Mutex::new(ScopeState::new_entry())));
        if inserted {
            self.note_insert();
        }
        entry
    }

    fn note_insert(&self) {
        if self.config.sweep_after_inserts == 0 {
            return;
        }
        let n = self.inserts_since_sweep.fetch_add(1, Ordering::AcqRel) + 1;
        if n >= self.sweep_at.load(Ordering::Acquire)
            && self
                .inserts_since_sweep
                .compare_exchange(n, 0, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            self.evict_idle();
            let next = self.config.sweep_after_inserts.max(self.map.len());
            self.sweep_at.store(next, Ordering::Release);
        }
    }

    /// Run `f` with every scope of `scopes` locked (in sorted order), and the time read
    /// under the locks. `f` addresses scopes by their index in `scopes`; repeated scopes
    /// share one state.
    fn with_scopes<R>(
        &self,
        scopes: &[&str],
        f: impl FnOnce(&mut Locked<'_, '_>, Duration) -> R,
    ) -> R {
        let single = scopes.windows(2).all(|w| w[0] == w[1]);
        if single {
            let key = scopes.first().copied().unwrap_or("");
            loop {
                if let Some(entry) = self.map.get(key) {
                    // The map's read guard keeps the entry from being evicted meanwhile.
                    let mut guard = lock(&entry);
                    guard.fresh = false;
                    let now = self.clock.now();
                    let mut locked = Locked {
                        guards: std::slice::from_mut(&mut guard),
                        slot_of: None,
                    };
                    return f(&mut locked, now);
                }
                drop(self.entry(key));
            }
        }
        let mut order: Vec<usize> = (0..scopes.len()).collect();
        order.sort_by(|&a, &b| scopes[a].cmp(scopes[b]));
        let mut unique: Vec<&str> = Vec::with_capacity(scopes.len());
        let mut slot_of = vec![0; scopes.len()];
        for &i in &order {
            if unique.last() != Some(&scopes[i]) {
                unique.push(scopes[i]);
            }
            slot_of[i] = unique.len() - 1;
        }
        loop {
            let entries: Vec<Arc<Mutex<ScopeState>>> =
                unique.iter().map(|s| self.entry(s)).collect();
            let mut guards: Vec<MutexGuard<'_, ScopeState>> =
                entries.iter().map(|e| lock(e)).collect();
            if guards.iter().any(|g| g.dead) {
                // Evicted between lookup and lock: look the scopes up again.
                continue;
            }
            for g in &mut guards {
                g.fresh = false;
            }
            let now = self.clock.now();
            let mut locked = Locked {
                guards: &mut guards,
                slot_of: Some(&slot_of),
            };
            return f(&mut locked, now);
        }
    }

    /// LiteLLM's `should_rate_limit` on the in-memory path: count one request on every
    /// windowed counter, then take a parallel-request slot on every gauge
    /// ([`Limiter::should_rate_limit`] over this store's locked step).
    ///
    /// In order, as LiteLLM does it:
    /// 1. if any counter is already over its limit (`count > limit`, or `count + 1 > limit`
    ///    when read-only), refuse without counting;
    /// 2. add 1 to every counter (restarting expired windows at `int(now)` with the store's
    ///    window), then refuse if any is now over; the counts stay, as in LiteLLM;
    /// 3. refuse if any gauge is full, else register the slot on all of them.
    ///
    /// Statuses: one per counter (requests then tokens, per descriptor), then one per gauge
    /// (only the full one on refusal). With `skip_tpm_check`, token limits are ignored.
    pub fn should_rate_limit(
        &self,
        descriptors: &[Descriptor],
        options: &CheckOptions,
    ) -> Admission {
        infallible(ready_now(Limiter::should_rate_limit(
            self,
            descriptors,
            options,
        )))
    }

    /// [`Store::count_request`] under the locks of every scope the step touches.
    fn count_locked(&self, step: &CountStep<'_>) -> CountOutcome {
        let n = step.counters.len();
        if n == 0 && step.gauges.is_empty() {
            return CountOutcome::Passed {
                values: CounterValues::new(),
                in_flight: Vec::new(),
                slot_id: None,
            };
        }
        // Counters first, then gauges: the index of each in the lock set.
        let all =
            || (step.counters.iter().map(|c| c.scope)).chain(step.gauges.iter().map(|g| g.scope));
        let first = all().next().unwrap_or("");
        // One scope (the common case) needs no list.
        let several: Vec<&str> = if all().all(|s| s == first) {
            Vec::new()
        } else {
            all().collect()
        };
        let scopes = if several.is_empty() {
            std::slice::from_ref(&first)
        } else {
            &several[..]
        };
        let mode = self.config.key_ttl;
        let window = self.config.window();
        let slot_ttl = self.config.slot_ttl;
        self.with_scopes(scopes, |locked, now| {
            let now_s = now_int(now);
            // 1. Refuse, counting nothing, if a counter is already over.
            let mut values: CounterValues = (0..n)
                .map(|i| {
                    let kind = step.counters[i].kind;
                    locked.state(i).counter(kind).get(now, mode).copied()
                })
                .collect();
            if any_counter_over(step.counters, &values, step.read_only) {
                return CountOutcome::AlreadyOver(values);
            }
            // 2. Count the request on every counter, then judge the new values.
            if !step.read_only {
                for (i, c) in step.counters.iter().enumerate() {
                    let st = locked.state(i);
                    let start = st.window.get(now, mode).copied();
                    let count = st.counter(c.kind).get(now, mode).copied();
                    let (reset, start, count) = sliding_window_step(
                        start,
                        count,
                        now_s,
                        limit_i64(self.config.window_size_secs),
                    );
                    if reset {
                        st.requests.set(now, mode, 0, window);
                        st.tokens.set(now, mode, 0, window);
                        st.window.set(now, mode, start, window);
                    }
                    st.counter_mut(c.kind).set(now, mode, count, window);
                    values[i] = Some(count);
                }
                if any_counter_over(step.counters, &values, false) {
                    return CountOutcome::CountedOver(values);
                }
            }
            // 3. The concurrency gauges.
            let mut in_flight: Vec<i64> = (0..step.gauges.len())
                .map(|j| {
                    locked
                        .state(n + j)
                        .gauge
                        .get(now, mode)
                        .map_or(0, |r| r.in_flight(now, slot_ttl))
                })
                .collect();
            if step.read_only || step.gauges.is_empty() {
                return CountOutcome::Passed {
                    values,
                    in_flight,
                    slot_id: None,
                };
            }
            let full =
                (step.gauges.iter().zip(&in_flight)).position(|(g, &c)| gauge_full(c, g.limit));
            if let Some(j) = full {
                return CountOutcome::GaugeFull {
                    values,
                    gauge: j,
                    in_flight: in_flight[j],
                };
            }
            let slot_id = step
                .slot_id
                .cloned()
                .unwrap_or_else(|| self.generate_slot_id());
            for (j, count) in in_flight.iter_mut().enumerate() {
                locked
                    .state(n + j)
                    .gauge
                    .get_or_create(now, mode, slot_ttl)
                    .prune_and_insert(&slot_id, now, slot_ttl);
                *count = count.saturating_add(1);
            }
            CountOutcome::Passed {
                values,
                in_flight,
                slot_id: Some(slot_id),
            }
        })
    }

    /// [`should_rate_limit`](Self::should_rate_limit) with default options, returning a guard
    /// that releases the parallel-request slot (if any) when dropped, or the refusal.
    ///
    /// # Errors
    ///
    /// None in the [`Error`] sense: `Err` carries the `OVER_LIMIT` response.
    pub fn admit(
        &self,
        descriptors: &[Descriptor],
    ) -> std::result::Result<SlotGuard<'_, C>, Response> {
        let admission = self.should_rate_limit(descriptors, &CheckOptions::default());
        if admission.response.is_ok() {
            Ok(SlotGuard {
                store: self,
                response: admission.response,
                slot: admission.slot,
            })
        } else {
            Err(admission.response)
        }
    }

    /// Give back a slot (LiteLLM's `_release_parallel_request_slots_in_memory`): remove its
    /// id from each of its gauges. Releasing an unknown or already released slot does nothing.
    pub fn release_slots(&self, slot: &SlotAcquisition) {
        infallible(ready_now(Store::release_slots(self, slot)));
    }

    /// Parallel requests in flight on a scope (slots younger than the slot TTL).
    pub fn in_flight(&self, descriptor: &Descriptor) -> i64 {
        infallible(ready_now(Store::in_flight(self, descriptor.scope())))
    }

    /// The live value of a scope's counter (LiteLLM's `{key:value}:requests` / `:tokens`),
    /// `None` if absent or expired. Reading never creates the scope.
    pub fn counter(&self, descriptor: &Descriptor, kind: CounterKind) -> Option<i64> {
        infallible(ready_now(Store::counter(self, descriptor.scope(), kind)))
    }

    /// The live start (integer seconds) of a scope's window, `None` if absent or expired.
    pub fn window_start(&self, descriptor: &Descriptor) -> Option<i64> {
        infallible(ready_now(Store::window_start(self, descriptor.scope())))
    }

    fn read_scope<R>(
        &self,
        scope: &str,
        f: impl FnOnce(&ScopeState, Duration, KeyTtl) -> R,
    ) -> Option<R> {
        let entry = self.map.get(scope)?;
        let st = lock(&entry);
        Some(f(&st, self.clock.now(), self.config.key_ttl))
    }

    /// LiteLLM's `atomic_check_and_increment_by_n` on the in-memory path
    /// ([`Limiter::atomic_check_and_increment_by_n`]): add `increments[i]` to descriptor
    /// `i`'s counters if **every** counter stays within its limit, otherwise change nothing.
    ///
    /// Each descriptor's window is its own `window_size` (or the store's). Counters without a
    /// limit, or with a negative increment, are left out; a zero increment is still checked
    /// (`count >= limit` is over). Refused: one status, the first counter over its limit.
    /// Admitted: one status per counter, `limit_remaining = max(0, limit - new)`, and the
    /// windows charged in `reservation_windows`. Every counter is checked against the counts
    /// before the call, a scope given twice included.
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`] when the two slices differ in length.
    pub fn atomic_check_and_increment_by_n(
        &self,
        descriptors: &[Descriptor],
        increments: &[Increment],
    ) -> Result<Response> {
        ready_now(Limiter::atomic_check_and_increment_by_n(
            self,
            descriptors,
            increments,
        ))
        .map(infallible)
    }

    /// [`Store::check_and_increment`] under the locks of every scope of `counters`.
    fn check_and_increment_locked(&self, counters: &[AtomicCounter<'_>]) -> AtomicOutcome {
        if counters.is_empty() {
            return AtomicOutcome::Applied(Vec::new());
        }
        let scopes: Vec<&str> = counters.iter().map(|c| c.scope).collect();
        let mode = self.config.key_ttl;
        self.with_scopes(&scopes, |locked, now| {
            let now_s = now_int(now);
            let states: Vec<CounterState> = counters
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let st = locked.state(i);
                    CounterState {
                        window_start: st.window.get(now, mode).copied(),
                        count: st.counter(c.kind).get(now, mode).copied(),
                    }
                })
                .collect();
            let writes = match atomic_plan(counters, &states, now_s) {
                Ok(writes) => writes,
                Err((index, current)) => return AtomicOutcome::Refused { index, current },
            };
            // Expired scopes restart with both counters at 0; the last window size given for
            // a scope wins, as with LiteLLM's dict.
            let mut resets: Vec<(usize, u64)> = Vec::new();
            for (i, (c, w)) in counters.iter().zip(&writes).enumerate() {
                if !w.window_expired {
                    continue;
                }
                match resets.iter_mut().find(|(j, _)| scopes[*j] == scopes[i]) {
                    Some(r) => r.1 = c.window_size_secs,
                    None => resets.push((i, c.window_size_secs)),
                }
            }
            for &(i, secs) in &resets {
                let st = locked.state(i);
                let ttl = Duration::from_secs(secs);
                st.requests.set(now, mode, 0, ttl);
                st.tokens.set(now, mode, 0, ttl);
            }
            for (i, (c, w)) in counters.iter().zip(&writes).enumerate() {
                let st = locked.state(i);
                let ttl = Duration::from_secs(c.window_size_secs);
                if w.window_expired {
                    st.window.set(now, mode, now_s, ttl);
                }
                st.counter_mut(c.kind).set(now, mode, w.new_count, ttl);
            }
            AtomicOutcome::Applied(
                writes
                    .iter()
                    .map(|w| Charged {
                        count: w.new_count,
                        window_start: w.window_start,
                    })
                    .collect(),
            )
        })
    }

    /// LiteLLM's `reserve_tpm_tokens` ([`Limiter::reserve_tpm_tokens`]): atomically charge
    /// `estimated_tokens` to the token counter of every descriptor with a token limit (except
    /// project ITPM/OTPM descriptors), or `scope_estimates`' amount for a descriptor key
    /// listed there.
    ///
    /// LiteLLM's pre-call hook floors the estimate at 1 before calling this; this function
    /// takes the amount as given.
    ///
    /// # Examples
    ///
    /// ```
    /// use fastllm_ratelimit::{CounterKind, Descriptor, Limits, MemoryStore};
    ///
    /// let store = MemoryStore::new();
    /// let key = [Descriptor::new("api_key", "k", Limits::new().tokens(1_000))?];
    /// let r = store.reserve_tpm_tokens(&key, 800, &[]);
    /// assert!(r.is_ok());
    /// assert!(!store.reserve_tpm_tokens(&key, 300, &[]).is_ok()); // 800 + 300 > 1000
    /// store.increment_tokens(&r.settlement(150)); // the call used 150 tokens
    /// assert_eq!(store.counter(&key[0], CounterKind::Tokens), Some(150));
    /// # Ok::<(), fastllm_ratelimit::Error>(())
    /// ```
    pub fn reserve_tpm_tokens(
        &self,
        descriptors: &[Descriptor],
        estimated_tokens: i64,
        scope_estimates: &[(&str, i64)],
    ) -> TpmReservation {
        infallible(ready_now(Limiter::reserve_tpm_tokens(
            self,
            descriptors,
            estimated_tokens,
            scope_estimates,
        )))
    }

    /// Add to token counters whatever window is open (LiteLLM's plain `CounterIncrement`s,
    /// as used to settle or refund a TPM reservation). A missing counter starts from 0 and
    /// may go negative.
    pub fn increment_tokens(&self, increments: &[TokenIncrement]) {
        infallible(ready_now(Store::increment_tokens(self, increments)));
    }

    /// Add `amount` to the token counter of `window`'s scope only if `window` is still the
    /// scope's open window (LiteLLM's `_apply_local_window_guarded_token_increments`).
    /// Returns whether it was applied.
    pub fn increment_tokens_guarded(&self, window: &ReservationWindow, amount: i64) -> bool {
        infallible(ready_now(Store::increment_tokens_guarded(
            self, window, amount,
        )))
    }

    /// Drop every scope none of whose keys is live any more (such a scope answers exactly as
    /// an absent one). Scopes locked by a call in progress are kept. Returns how many were
    /// dropped. With [`KeyTtl::Never`] only scopes that never held a key are dropped.
    pub fn evict_idle(&self) -> usize {
        let mode = self.config.key_ttl;
        let now = self.clock.now();
        let mut evicted = 0;
        self.map.retain(|entry| {
            let Ok(mut st) = entry.try_lock() else {
                return true;
            };
            if st.is_idle(now, mode) {
                st.dead = true;
                evicted += 1;
                false
            } else {
                true
            }
        });
        evicted
    }
}

/// A memory step never fails.
fn infallible<T>(result: std::result::Result<T, Infallible>) -> T {
    match result {
        Ok(value) => value,
        Err(never) => match never {},
    }
}

/// Each step runs at once under the store's locks and answers a [`ready`] future.
impl<C: Clock> Store for MemoryStore<C> {
    type Error = Infallible;

    fn window_size_secs(&self) -> u64 {
        self.config.window_size_secs
    }

    fn count_request(
        &self,
        step: &CountStep<'_>,
    ) -> impl Future<Output = std::result::Result<CountOutcome, Infallible>> + Send {
        ready(Ok(self.count_locked(step)))
    }

    fn check_and_increment(
        &self,
        counters: &[AtomicCounter<'_>],
    ) -> impl Future<Output = std::result::Result<AtomicOutcome, Infallible>> + Send {
        ready(Ok(self.check_and_increment_locked(counters)))
    }

    fn increment_tokens(
        &self,
        increments: &[TokenIncrement],
    ) -> impl Future<Output = std::result::Result<(), Infallible>> + Send {
        let mode = self.config.key_ttl;
        let ttl = self.config.window();
        for inc in increments {
            self.with_scopes(&[inc.scope.tag()], |locked, now| {
                let st = locked.state(0);
                let current = st.tokens.get(now, mode).copied().unwrap_or(0);
                st.tokens
                    .set(now, mode, current.saturating_add(inc.amount), ttl);
            });
        }
        ready(Ok(()))
    }

    fn increment_tokens_guarded(
        &self,
        window: &ReservationWindow,
        amount: i64,
    ) -> impl Future<Output = std::result::Result<bool, Infallible>> + Send {
        let mode = self.config.key_ttl;
        let ttl = self.config.window();
        let applied = self.map.get(window.scope.tag()).is_some_and(|entry| {
            let mut st = lock(&entry);
            let now = self.clock.now();
            if st.window.get(now, mode).copied() != Some(window.window_start) {
                return false;
            }
            let counter = st.counter_mut(window.kind);
            let current = counter.get(now, mode).copied().unwrap_or(0);
            counter.set(now, mode, current.saturating_add(amount), ttl);
            true
        });
        ready(Ok(applied))
    }

    fn release_slots(
        &self,
        slot: &SlotAcquisition,
    ) -> impl Future<Output = std::result::Result<Vec<i64>, Infallible>> + Send {
        let mode = self.config.key_ttl;
        let slot_ttl = self.config.slot_ttl;
        let remaining = slot
            .scopes
            .iter()
            .map(|scope| {
                let Some(entry) = self.map.get(scope) else {
                    return 0;
                };
                let mut st = lock(&entry);
                let now = self.clock.now();
                st.gauge.get_mut(now, mode).map_or(0, |registry| {
                    registry.remove(&slot.slot_id);
                    registry.in_flight(now, slot_ttl)
                })
            })
            .collect();
        ready(Ok(remaining))
    }

    fn in_flight(
        &self,
        scope: &str,
    ) -> impl Future<Output = std::result::Result<i64, Infallible>> + Send {
        let slot_ttl = self.config.slot_ttl;
        let n = self
            .read_scope(scope, |st, now, mode| {
                st.gauge
                    .get(now, mode)
                    .map_or(0, |r: &Registry| r.in_flight(now, slot_ttl))
            })
            .unwrap_or(0);
        ready(Ok(n))
    }

    fn counter(
        &self,
        scope: &str,
        kind: CounterKind,
    ) -> impl Future<Output = std::result::Result<Option<i64>, Infallible>> + Send {
        let value = self
            .read_scope(scope, |st, now, mode| {
                st.counter(kind).get(now, mode).copied()
            })
            .flatten();
        ready(Ok(value))
    }

    fn window_start(
        &self,
        scope: &str,
    ) -> impl Future<Output = std::result::Result<Option<i64>, Infallible>> + Send {
        let value = self
            .read_scope(scope, |st, now, mode| st.window.get(now, mode).copied())
            .flatten();
        ready(Ok(value))
    }
}

/// An admitted request's parallel-request slot; released when dropped.
#[must_use = "dropping the guard releases the slot at once"]
pub struct SlotGuard<'s, C: Clock> {
    store: &'s MemoryStore<C>,
    response: Response,
    slot: Option<SlotAcquisition>,
}

impl<C: Clock> SlotGuard<'_, C> {
    /// The admitted response (for headers).
    pub fn response(&self) -> &Response {
        &self.response
    }

    /// The slot held, if the request had gauges.
    pub fn slot(&self) -> Option<&SlotAcquisition> {
        self.slot.as_ref()
    }

    /// Release now (same as dropping).
    pub fn release(self) {}
}

impl<C: Clock> Drop for SlotGuard<'_, C> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            self.store.release_slots(&slot);
        }
    }
}

impl<C: Clock> std::fmt::Debug for SlotGuard<'_, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlotGuard")
            .field("response", &self.response)
            .field("slot", &self.slot)
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::clock::FakeClock;
    use crate::descriptor::Limits;

    fn d(key: &str, value: &str, limits: Limits) -> Descriptor {
        Descriptor::new(key, value, limits).unwrap()
    }

    #[test]
    fn sweeping_on_every_insert_terminates_and_keeps_counts() {
        let clock = FakeClock::at_secs(50);
        let config = Config {
            sweep_after_inserts: 1,
            ..Config::default()
        };
        let s = MemoryStore::with_config(config, clock.clone()).unwrap();
        for i in 0..100 {
            let k = [d("user", &format!("u{i}"), Limits::new().requests(1))];
            assert!(
                s.should_rate_limit(&k, &CheckOptions::default())
                    .response
                    .is_ok()
            );
            assert!(
                !s.should_rate_limit(&k, &CheckOptions::default())
                    .response
                    .is_ok()
            );
        }
        assert_eq!(s.len(), 100);
        clock.advance(Duration::from_secs(61));
        assert_eq!(s.evict_idle(), 100);
        assert!(s.is_empty());
    }

    #[test]
    fn eviction_keeps_scopes_with_live_keys() {
        let clock = FakeClock::at_secs(0);
        let s = MemoryStore::with_config(Config::default(), clock.clone()).unwrap();
        let short = [d("api_key", "a", Limits::new().requests(5))];
        let gauge = [d("api_key", "b", Limits::new().max_parallel(5))];
        s.should_rate_limit(&short, &CheckOptions::default());
        let held = s
            .should_rate_limit(&gauge, &CheckOptions::default())
            .slot
            .unwrap();
        clock.advance(Duration::from_secs(61));
        assert_eq!(s.evict_idle(), 1);
        assert_eq!(s.in_flight(&gauge[0]), 1);
        s.release_slots(&held);
        assert_eq!(s.in_flight(&gauge[0]), 0);
        // The gauge key itself lives for the slot TTL from its creation.
        assert_eq!(s.evict_idle(), 0);
        clock.advance(Duration::from_secs(3600));
        assert_eq!(s.evict_idle(), 1);
    }

    #[test]
    fn misuse_is_an_error() {
        let s = MemoryStore::new();
        let k = [d("api_key", "a", Limits::new().tokens(5))];
        assert_eq!(
            s.atomic_check_and_increment_by_n(&k, &[]),
            Err(Error::LengthMismatch {
                descriptors: 1,
                increments: 0
            })
        );
        let bad = Config {
            window_size_secs: 0,
            ..Config::default()
        };
        assert!(MemoryStore::with_config(bad, MonotonicClock::new()).is_err());
        let bad = Config {
            slot_ttl: Duration::ZERO,
            ..Config::default()
        };
        assert!(MemoryStore::with_config(bad, MonotonicClock::new()).is_err());
    }

    #[test]
    fn guarded_settlement_applies_only_in_the_reserved_window() {
        let clock = FakeClock::at_secs(10);
        let s = MemoryStore::with_config(Config::default(), clock.clone()).unwrap();
        let k = [d(
            "model_per_project_otpm",
            "p:m",
            Limits::new().tokens(100),
        )];
        let r = s
            .atomic_check_and_increment_by_n(&k, &[Increment::tokens(30)])
            .unwrap();
        let window = r.reservation_windows[0].clone();
        assert!(s.increment_tokens_guarded(&window, -10));
        assert_eq!(s.counter(&k[0], CounterKind::Tokens), Some(20));
        clock.advance(Duration::from_secs(60));
        s.atomic_check_and_increment_by_n(&k, &[Increment::tokens(5)])
            .unwrap();
        assert!(!s.increment_tokens_guarded(&window, -20));
        assert_eq!(s.counter(&k[0], CounterKind::Tokens), Some(5));
    }

    #[test]
    fn read_only_checks_count_nothing() {
        let s = MemoryStore::new();
        let k = [d("api_key", "a", Limits::new().requests(1).max_parallel(1))];
        let ro = CheckOptions {
            read_only: true,
            ..CheckOptions::default()
        };
        for _ in 0..3 {
            let a = s.should_rate_limit(&k, &ro);
            assert!(a.response.is_ok());
            assert!(a.slot.is_none());
        }
        assert_eq!(s.counter(&k[0], CounterKind::Requests), None);
        let guard = s.admit(&k).unwrap();
        assert_eq!(s.in_flight(&k[0]), 1);
        assert!(!s.should_rate_limit(&k, &ro).response.is_ok());
        guard.release();
        assert_eq!(s.in_flight(&k[0]), 0);
    }
}

/// Loom models of the store's synchronisation: the per-scope mutexes taken in sorted order,
/// the evicted-entry retry, the sweep trigger (an atomic counter and a compare-exchange) and
/// the slot-id counter. The scope map is the loom shim's `RwLock<HashMap>` here instead of
/// dashmap, so the models run the store's real code. Run with
/// `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p fastllm-ratelimit --release --no-default-features --lib`.
#[cfg(all(test, loom))]
mod loom_tests {
    use std::time::Duration;

    use loom::sync::Arc;
    use loom::thread;

    use super::*;
    use crate::clock::FakeClock;
    use crate::descriptor::Limits;
    use crate::sync::model;

    fn store(config: Config) -> Arc<MemoryStore<FakeClock>> {
        Arc::new(MemoryStore::with_config(config, FakeClock::at_secs(100)).unwrap())
    }

    #[test]
    fn one_key_limit_one_admits_exactly_one() {
        model(|| {
            let s = store(Config::default());
            let d = Descriptor::new("api_key", "k", Limits::new().requests(1)).unwrap();
            let t = {
                let (s, d) = (s.clone(), d.clone());
                thread::spawn(move || {
                    s.should_rate_limit(&[d], &CheckOptions::default())
                        .response
                        .is_ok()
                })
            };
            let mine = s
                .should_rate_limit(std::slice::from_ref(&d), &CheckOptions::default())
                .response
                .is_ok();
            let theirs = t.join().unwrap();
            assert!(
                mine ^ theirs,
                "exactly one of two requests fits a limit of 1"
            );
            assert_eq!(s.counter(&d, CounterKind::Requests), Some(2));
        });
    }

    #[test]
    fn opposite_key_orders_neither_deadlock_nor_split() {
        model(|| {
            let s = store(Config::default());
            let a = Descriptor::new("api_key", "a", Limits::new().tokens(1)).unwrap();
            let b = Descriptor::new("team", "b", Limits::new().tokens(1)).unwrap();
            let inc = [Increment::tokens(1), Increment::tokens(1)];
            let t = {
                let (s, a, b) = (s.clone(), a.clone(), b.clone());
                thread::spawn(move || {
                    s.atomic_check_and_increment_by_n(&[b, a], &inc)
                        .unwrap()
                        .is_ok()
                })
            };
            let mine = s
                .atomic_check_and_increment_by_n(&[a.clone(), b.clone()], &inc)
                .unwrap()
                .is_ok();
            let theirs = t.join().unwrap();
            assert!(mine ^ theirs);
            assert_eq!(s.counter(&a, CounterKind::Tokens), Some(1));
            assert_eq!(s.counter(&b, CounterKind::Tokens), Some(1));
        });
    }

    #[test]
    fn eviction_racing_a_multi_key_update_loses_nothing() {
        model(|| {
            let config = Config {
                window_size_secs: 1,
                sweep_after_inserts: 0,
                ..Config::default()
            };
            let clock = FakeClock::at_secs(100);
            let s = Arc::new(MemoryStore::with_config(config, clock.clone()).unwrap());
            let a = Descriptor::new("api_key", "a", Limits::new().tokens(5)).unwrap();
            let b = Descriptor::new("team", "b", Limits::new().tokens(5)).unwrap();
            let both = [a.clone(), b.clone()];
            let inc = [Increment::tokens(1), Increment::tokens(1)];
            s.atomic_check_and_increment_by_n(&both, &inc).unwrap();
            // Every key of both scopes has expired: the entries are idle and evictable.
            clock.advance(Duration::from_secs(3));
            let sweeper = {
                let s = s.clone();
                thread::spawn(move || s.evict_idle())
            };
            assert!(
                s.atomic_check_and_increment_by_n(&both, &inc)
                    .unwrap()
                    .is_ok()
            );
            sweeper.join().unwrap();
            assert_eq!(s.counter(&a, CounterKind::Tokens), Some(1));
            assert_eq!(s.counter(&b, CounterKind::Tokens), Some(1));
        });
    }

    #[test]
    fn automatic_sweep_with_concurrent_inserts() {
        model(|| {
            let s = store(Config {
                sweep_after_inserts: 1,
                ..Config::default()
            });
            let a = Descriptor::new("user", "a", Limits::new().requests(3)).unwrap();
            let b = Descriptor::new("user", "b", Limits::new().requests(3)).unwrap();
            let t = {
                let (s, b) = (s.clone(), b.clone());
                thread::spawn(move || {
                    s.should_rate_limit(&[b], &CheckOptions::default())
                        .response
                        .is_ok()
                })
            };
            assert!(
                s.should_rate_limit(std::slice::from_ref(&a), &CheckOptions::default())
                    .response
                    .is_ok()
            );
            assert!(t.join().unwrap());
            assert_eq!(s.counter(&a, CounterKind::Requests), Some(1));
            assert_eq!(s.counter(&b, CounterKind::Requests), Some(1));
        });
    }

    #[test]
    fn one_parallel_slot_is_held_by_one_request_at_a_time() {
        model(|| {
            let s = store(Config::default());
            let d = Descriptor::new("api_key", "k", Limits::new().max_parallel(1)).unwrap();
            let t = {
                let (s, d) = (s.clone(), d.clone());
                thread::spawn(move || {
                    let admitted = s.admit(std::slice::from_ref(&d));
                    let ok = admitted.is_ok();
                    drop(admitted);
                    ok
                })
            };
            let mine = s.admit(std::slice::from_ref(&d));
            let mine_ok = mine.is_ok();
            drop(mine);
            let theirs = t.join().unwrap();
            assert!(mine_ok || theirs);
            assert_eq!(s.in_flight(&d), 0);
        });
    }

    #[test]
    fn generated_slot_ids_are_unique() {
        model(|| {
            let s = store(Config::default());
            let t = {
                let s = s.clone();
                thread::spawn(move || s.generate_slot_id())
            };
            let mine = s.generate_slot_id();
            assert_ne!(mine, t.join().unwrap());
        });
    }
}
