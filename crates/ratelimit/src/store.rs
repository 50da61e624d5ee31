//! [`Store`]: the primitive state steps a backend provides, and [`Limiter`]: LiteLLM's v3
//! limiter written once over them.
//!
//! The shape is governor's `StateStore`: a small trait of atomic state operations, with the
//! algorithm on top of it written once. A backend implements [`Store`]; every [`Store`] is a
//! [`Limiter`] (a blanket implementation, so no backend can answer differently):
//!
//! * [`Store::count_request`] is one atomic step of `should_rate_limit` over plain keys (judge
//!   the counters as they are, count the request, take a parallel-request slot), answering a
//!   [`CountOutcome`]; [`Limiter::should_rate_limit`] plans the keys from the descriptors and
//!   turns the outcome into LiteLLM's response;
//! * [`Store::check_and_increment`] is pass 1 and pass 2 of the atomic check-and-increment
//!   over plain counters, answering an [`AtomicOutcome`];
//!   [`Limiter::atomic_check_and_increment_by_n`] and [`Limiter::reserve_tpm_tokens`] build
//!   the counters and the response;
//! * the settlement, release and read steps ([`Store::increment_tokens`],
//!   [`Store::release_slots`], [`Store::in_flight`], ...) have no rule of their own to share.
//!
//! [`MemoryStore`](crate::MemoryStore) runs each step under its scope locks with the
//! [`window`](crate::window) rules; [`RedisStore`](crate::RedisStore) runs one Lua script per
//! step. Both keep their own inherent methods with the names and signatures they always had
//! (synchronous for the memory store, `async` with a fail mode for Redis), delegating here.
//!
//! # Why `impl Future` in the trait
//!
//! Redis is asynchronous and the memory store is not. The steps return
//! `impl Future<Output = ...> + Send` (return-position `impl Trait` in traits), so a Redis step
//! is an ordinary `async` block and a memory step is [`std::future::ready`], with no boxing and
//! no runtime for the memory store: a [`Limiter`] operation over a store whose steps are all
//! ready is itself ready at its first poll, which is how the memory store's synchronous
//! methods run it. A separate synchronous trait would need the algorithm twice (once `async`);
//! a boxed `dyn Future` would allocate on every memory check.

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use smallvec::SmallVec;

use crate::descriptor::{CounterKind, Descriptor, ScopeId};
use crate::error::{Error, Result};
use crate::gauge::{SlotAcquisition, SlotId};
use crate::memory::{Admission, CheckOptions};
use crate::reservation::{TokenIncrement, TpmReservation, tpm_reservation_plan};
use crate::window::{
    AtomicMeta, Code, CounterRef, GaugeRef, Increment, ReservationWindow, Response, Status,
    WindowedCounters, atomic_metas, clamped_remaining, counter_limit, counter_status,
    counter_verdict, gauge_full, gauge_status, gauges, over_limit_response, windowed_counters,
};

/// One windowed counter of a [`CountStep`]: LiteLLM's `{key:value}:requests` or `:tokens`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountedKey<'a> {
    /// The scope's tag, `{key:value}`.
    pub scope: &'a str,
    /// Which counter.
    pub kind: CounterKind,
    /// The limit it is judged by, `None` when LiteLLM counts it without judging it.
    pub limit: Option<i64>,
}

/// One parallel-request gauge of a [`CountStep`]: LiteLLM's `{key:value}:max_parallel_requests`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GaugeKey<'a> {
    /// The scope's tag, `{key:value}`.
    pub scope: &'a str,
    /// Its `max_parallel_requests`.
    pub limit: i64,
}

/// What [`Store::count_request`] does, atomically across every key:
///
/// 1. read every counter; if one is over its limit (`value > limit`, or `value + 1 > limit`
///    when `read_only`), answer [`CountOutcome::AlreadyOver`] and write nothing;
/// 2. unless `read_only`, add 1 to every counter in order (a scope whose window expired
///    restarts at the store's `int(now)` with both counters at 0), and answer
///    [`CountOutcome::CountedOver`] if one is now over (the counts stay);
/// 3. count each gauge's live slots; when `read_only` answer [`CountOutcome::Passed`] with
///    them; else answer [`CountOutcome::GaugeFull`] for the first full one
///    ([`gauge_full`]), or register one slot (`slot_id`, or a fresh one) on every gauge.
///
/// The keys are borrowed: [`Limiter::should_rate_limit`] lists them on its stack for the usual
/// few descriptors, so a check allocates no list of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountStep<'a> {
    /// The windowed counters, in LiteLLM's order.
    pub counters: &'a [CountedKey<'a>],
    /// The gauges, in descriptor order (empty when the parallel check is skipped).
    pub gauges: &'a [GaugeKey<'a>],
    /// Only read: nothing is counted and no slot is taken.
    pub read_only: bool,
    /// The slot id to register; the store generates one when `None`.
    pub slot_id: Option<&'a SlotId>,
}

/// How many counters a check keeps inline before it allocates. Small on purpose: the lists
/// live in the check's future, which is moved whole, so a larger inline array costs more in
/// copies than the allocation it saves.
const INLINE: usize = 4;

/// How many gauges a check keeps inline (one per descriptor with `max_parallel_requests`).
const INLINE_GAUGES: usize = 2;

/// The values of a [`CountStep`]'s counters, parallel to [`CountStep::counters`] (`None`: no
/// such key). A slice of `Option<i64>` (through `Deref`) that holds the usual few values
/// without allocating.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CounterValues(SmallVec<[Option<i64>; INLINE]>);

impl CounterValues {
    /// No values (a step without counters).
    pub fn new() -> Self {
        Self::default()
    }
}

impl Deref for CounterValues {
    type Target = [Option<i64>];

    fn deref(&self) -> &[Option<i64>] {
        &self.0
    }
}

impl DerefMut for CounterValues {
    fn deref_mut(&mut self) -> &mut [Option<i64>] {
        &mut self.0
    }
}

impl FromIterator<Option<i64>> for CounterValues {
    fn from_iter<I: IntoIterator<Item = Option<i64>>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl From<&[Option<i64>]> for CounterValues {
    fn from(values: &[Option<i64>]) -> Self {
        Self(SmallVec::from_slice(values))
    }
}

impl From<Vec<Option<i64>>> for CounterValues {
    fn from(values: Vec<Option<i64>>) -> Self {
        Self(SmallVec::from_vec(values))
    }
}

/// The answer of [`Store::count_request`]. `values` are parallel to [`CountStep::counters`]
/// (`None`: no such key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CountOutcome {
    /// A counter was already over: the values before the call; nothing was written.
    AlreadyOver(CounterValues),
    /// Every counter was counted and one is now over: the values after; no gauge was touched.
    CountedOver(CounterValues),
    /// Counted, but gauge `gauge` (an index into [`CountStep::gauges`]) is full with
    /// `in_flight` slots; no slot was taken.
    GaugeFull {
        /// The counters' values after counting.
        values: CounterValues,
        /// Which gauge refused.
        gauge: usize,
        /// Its live slots.
        in_flight: i64,
    },
    /// Admitted (or, read only, not over): the values (after counting, or as read) and each
    /// gauge's live slots (after taking the slot, or as read).
    Passed {
        /// The counters' values.
        values: CounterValues,
        /// One count per gauge.
        in_flight: Vec<i64>,
        /// The slot registered on every gauge; `None` when read only or without gauges.
        slot_id: Option<SlotId>,
    },
}

/// One counter of [`Store::check_and_increment`]: LiteLLM's `AtomicCounterMeta`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AtomicCounter<'a> {
    /// The scope's tag, `{key:value}`.
    pub scope: &'a str,
    /// Which counter.
    pub kind: CounterKind,
    /// Its limit.
    pub limit: i64,
    /// The amount to add (`>= 0`; 0 still checks `count >= limit`).
    pub increment: i64,
    /// The scope's window, also the counter key's TTL.
    pub window_size_secs: u64,
}

/// The answer of [`Store::check_and_increment`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AtomicOutcome {
    /// Counter `index` refused its increment at `current`; nothing was written.
    Refused {
        /// Index into the step's counters.
        index: usize,
        /// The count it was judged at (0 when its window had expired).
        current: i64,
    },
    /// Every counter was charged: per counter, its new count and the start of the window it
    /// was charged in.
    Applied(Vec<Charged>),
}

/// One counter charged by [`Store::check_and_increment`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charged {
    /// The counter's new value.
    pub count: i64,
    /// The window it was charged in.
    pub window_start: i64,
}

/// The primitive state steps of LiteLLM's v3 limiter. Each method is one atomic step on a
/// backend's keys; [`Limiter`] builds the limiter's operations from them.
///
/// `Error` is what a backend reports when a step cannot run:
/// [`Infallible`](std::convert::Infallible) in memory, [`BackendError`](crate::BackendError)
/// on Redis.
pub trait Store: Send + Sync {
    /// Why a step could not run.
    type Error: Send;

    /// The limiter's window: the window of [`Store::count_request`], and the window of an
    /// atomic counter whose descriptor has none.
    fn window_size_secs(&self) -> u64;

    /// `should_rate_limit`'s step: see [`CountStep`].
    fn count_request(
        &self,
        step: &CountStep<'_>,
    ) -> impl Future<Output = std::result::Result<CountOutcome, Self::Error>> + Send;

    /// `atomic_check_and_increment_by_n`'s step: add each counter's increment if every counter
    /// stays within its limit ([`atomic_step`](crate::window::atomic_step)), otherwise change
    /// nothing and name the first one that refuses.
    fn check_and_increment(
        &self,
        counters: &[AtomicCounter<'_>],
    ) -> impl Future<Output = std::result::Result<AtomicOutcome, Self::Error>> + Send;

    /// Add to token counters whatever window is open (LiteLLM's plain `CounterIncrement`s, as
    /// used to settle or refund a TPM reservation). A missing counter starts from 0 and may go
    /// negative.
    fn increment_tokens(
        &self,
        increments: &[TokenIncrement],
    ) -> impl Future<Output = std::result::Result<(), Self::Error>> + Send;

    /// Add `amount` to the counter of `window`'s scope only if `window` is still the scope's
    /// open window. Returns whether it was applied.
    fn increment_tokens_guarded(
        &self,
        window: &ReservationWindow,
        amount: i64,
    ) -> impl Future<Output = std::result::Result<bool, Self::Error>> + Send;

    /// Remove a slot's id from each of its gauges (an unknown or released id changes nothing);
    /// each gauge's remaining slots.
    fn release_slots(
        &self,
        slot: &SlotAcquisition,
    ) -> impl Future<Output = std::result::Result<Vec<i64>, Self::Error>> + Send;

    /// The live slots of a scope's gauge.
    fn in_flight(
        &self,
        scope: &str,
    ) -> impl Future<Output = std::result::Result<i64, Self::Error>> + Send;

    /// The value of a scope's counter, `None` if absent.
    fn counter(
        &self,
        scope: &str,
        kind: CounterKind,
    ) -> impl Future<Output = std::result::Result<Option<i64>, Self::Error>> + Send;

    /// The start of a scope's open window, `None` if absent.
    fn window_start(
        &self,
        scope: &str,
    ) -> impl Future<Output = std::result::Result<Option<i64>, Self::Error>> + Send;
}

/// LiteLLM's v3 limiter over any [`Store`]: each operation is written once here. Implemented
/// for every [`Store`].
pub trait Limiter: Store {
    /// LiteLLM's `should_rate_limit`: count one request on every windowed counter, then take a
    /// parallel-request slot on every gauge, in one [`Store::count_request`] step.
    ///
    /// Statuses: one per judged counter (requests then tokens, per descriptor; a counter is
    /// judged by its scope's last windowed descriptor), then one per gauge (only the full one
    /// on refusal). With `skip_tpm_check`, token limits are ignored; with
    /// `skip_parallel_check`, the gauges.
    fn should_rate_limit(
        &self,
        descriptors: &[Descriptor],
        options: &CheckOptions,
    ) -> impl Future<Output = std::result::Result<Admission, Self::Error>> + Send {
        async move {
            let call = Call {
                descriptors,
                options,
            };
            let keys = count_keys(&call);
            let step = keys.step();
            if step.counters.is_empty() && step.gauges.is_empty() {
                return Ok(Admission {
                    response: Response::ok(),
                    slot: None,
                });
            }
            let outcome = self.count_request(&step).await?;
            Ok(count_response(&call, outcome))
        }
    }

    /// LiteLLM's `atomic_check_and_increment_by_n`: add `increments[i]` to descriptor `i`'s
    /// counters if **every** counter stays within its limit, otherwise change nothing.
    ///
    /// Each descriptor's window is its own `window_size` (or the store's). Counters without a
    /// limit, or with a negative increment, are left out; a zero increment is still checked
    /// (`count >= limit` is over). Refused: one status, the first counter over its limit,
    /// `limit_remaining = max(0, limit - count)`. Admitted: one status per counter,
    /// `limit_remaining = max(0, limit - new)`, and the windows charged in
    /// `reservation_windows`.
    ///
    /// # Errors
    ///
    /// The outer [`Error::LengthMismatch`] when the two slices differ in length (nothing is
    /// asked of the store); the inner error when the store's step failed.
    fn atomic_check_and_increment_by_n(
        &self,
        descriptors: &[Descriptor],
        increments: &[Increment],
    ) -> impl Future<Output = Result<std::result::Result<Response, Self::Error>>> + Send {
        async move {
            if descriptors.len() != increments.len() {
                return Err(Error::LengthMismatch {
                    descriptors: descriptors.len(),
                    increments: increments.len(),
                });
            }
            Ok(atomic(self, descriptors, increments).await)
        }
    }

    /// LiteLLM's `reserve_tpm_tokens`: atomically charge `estimated_tokens` to the token
    /// counter of every descriptor with a token limit (except project ITPM/OTPM descriptors),
    /// or `scope_estimates`' amount for a descriptor key listed there.
    ///
    /// LiteLLM's pre-call hook floors the estimate at 1 before calling this; this function
    /// takes the amount as given. A refused reservation holds nothing (no scopes, 0 tokens).
    fn reserve_tpm_tokens(
        &self,
        descriptors: &[Descriptor],
        estimated_tokens: i64,
        scope_estimates: &[(&str, i64)],
    ) -> impl Future<Output = std::result::Result<TpmReservation, Self::Error>> + Send {
        async move {
            let (tpm, increments) =
                tpm_reservation_plan(descriptors, estimated_tokens, scope_estimates);
            let nothing = |response| TpmReservation {
                response,
                scopes: Vec::new(),
                reserved_tokens: 0,
            };
            if tpm.is_empty() {
                return Ok(nothing(Response::ok()));
            }
            // The plan builds exactly one increment per descriptor.
            let response = atomic(self, &tpm, &increments).await?;
            if !response.is_ok() {
                return Ok(nothing(response));
            }
            let mut scopes: Vec<Arc<ScopeId>> = Vec::new();
            for d in &tpm {
                if !scopes
                    .iter()
                    .any(|s| s.key() == d.key() && s.value() == d.value())
                {
                    scopes.push(d.id().clone());
                }
            }
            Ok(TpmReservation {
                response,
                scopes,
                reserved_tokens: estimated_tokens,
            })
        }
    }
}

impl<S: Store + ?Sized> Limiter for S {}

/// The atomic check-and-increment once the lengths are known to match.
async fn atomic<S: Store + ?Sized>(
    store: &S,
    descriptors: &[Descriptor],
    increments: &[Increment],
) -> std::result::Result<Response, S::Error> {
    let metas = atomic_metas(descriptors, increments, store.window_size_secs());
    if metas.is_empty() {
        return Ok(Response::ok());
    }
    let outcome = store
        .check_and_increment(&atomic_counters(descriptors, &metas))
        .await?;
    Ok(atomic_response(descriptors, &metas, outcome))
}

/// The step's counters for `metas`, inline for the usual few.
pub(crate) fn atomic_counters<'a>(
    descriptors: &'a [Descriptor],
    metas: &[AtomicMeta],
) -> SmallVec<[AtomicCounter<'a>; INLINE]> {
    let mut counters = SmallVec::new();
    for m in metas {
        counters.push(AtomicCounter {
            scope: descriptors[m.descriptor].scope(),
            kind: m.kind,
            limit: m.limit,
            increment: m.increment,
            window_size_secs: m.window_size_secs,
        });
    }
    counters
}

/// LiteLLM's response to an [`AtomicOutcome`] (`_build_atomic_response`): refused, the
/// offending counter's status only, `limit_remaining = max(0, limit - current)`; applied, one
/// status per counter and one reservation window per (counter, window).
pub(crate) fn atomic_response(
    descriptors: &[Descriptor],
    metas: &[AtomicMeta],
    outcome: AtomicOutcome,
) -> Response {
    match outcome {
        AtomicOutcome::Refused { index, current } => {
            let meta = &metas[index];
            Response {
                overall: Code::OverLimit,
                statuses: vec![Status {
                    code: Code::OverLimit,
                    current_limit: meta.limit,
                    limit_remaining: clamped_remaining(meta.limit, current),
                    rate_limit_type: meta.kind.into(),
                    scope: descriptors[meta.descriptor].id().clone(),
                }],
                reservation_windows: Vec::new(),
            }
        }
        AtomicOutcome::Applied(charged) => {
            let mut response = Response {
                overall: Code::Ok,
                statuses: Vec::with_capacity(metas.len()),
                reservation_windows: Vec::with_capacity(metas.len()),
            };
            for (meta, c) in metas.iter().zip(&charged) {
                let d = &descriptors[meta.descriptor];
                response.statuses.push(Status {
                    code: Code::Ok,
                    current_limit: meta.limit,
                    limit_remaining: clamped_remaining(meta.limit, c.count),
                    rate_limit_type: meta.kind.into(),
                    scope: d.id().clone(),
                });
                let identity = ReservationWindow {
                    scope: d.id().clone(),
                    kind: meta.kind,
                    window_start: c.window_start,
                };
                // LiteLLM returns a frozenset: one identity per (counter, window).
                if !response.reservation_windows.contains(&identity) {
                    response.reservation_windows.push(identity);
                }
            }
            response
        }
    }
}

/// A `should_rate_limit` call: its counters and gauges (LiteLLM's
/// `_collect_windowed_keys_and_gauges`), listed again wherever they are needed rather than
/// collected.
pub(crate) struct Call<'a> {
    pub(crate) descriptors: &'a [Descriptor],
    pub(crate) options: &'a CheckOptions,
}

impl<'a> Call<'a> {
    /// The windowed counters, per descriptor `requests` then `tokens`.
    fn counters(&self) -> WindowedCounters<'a, Descriptor> {
        windowed_counters(self.descriptors, self.options.skip_tpm_check)
    }

    /// The gauges, in descriptor order; none with `skip_parallel_check`.
    fn gauges(&self) -> impl Iterator<Item = GaugeRef> + 'a {
        let skip = self.options.skip_parallel_check;
        gauges(self.descriptors).filter(move |_| !skip)
    }

    fn gauge(&self, j: usize) -> GaugeRef {
        self.gauges()
            .nth(j)
            .expect("a store answers about one of the call's gauges")
    }
}

/// The keys of a `should_rate_limit` call, listed inline for the usual few descriptors.
pub(crate) struct CountKeys<'a> {
    counters: SmallVec<[CountedKey<'a>; INLINE]>,
    gauges: SmallVec<[GaugeKey<'a>; INLINE_GAUGES]>,
    read_only: bool,
    slot_id: Option<&'a SlotId>,
}

impl CountKeys<'_> {
    /// The step over these keys.
    pub(crate) fn step(&self) -> CountStep<'_> {
        CountStep {
            counters: &self.counters,
            gauges: &self.gauges,
            read_only: self.read_only,
            slot_id: self.slot_id,
        }
    }
}

/// The keys of a `should_rate_limit` call.
pub(crate) fn count_keys<'a>(call: &Call<'a>) -> CountKeys<'a> {
    let descriptors = call.descriptors;
    // Pushed one by one: `SmallVec`'s `collect` costs more than the pushes for so few keys.
    let mut keys = CountKeys {
        counters: SmallVec::new(),
        gauges: SmallVec::new(),
        read_only: call.options.read_only,
        slot_id: call.options.slot_id.as_ref(),
    };
    for c in call.counters() {
        keys.counters.push(CountedKey {
            scope: descriptors[c.descriptor].scope(),
            kind: c.kind,
            limit: counter_limit(descriptors, c, call.options.skip_tpm_check),
        });
    }
    for g in call.gauges() {
        keys.gauges.push(GaugeKey {
            scope: descriptors[g.descriptor].scope(),
            limit: g.limit,
        });
    }
    keys
}

/// Step 1 of [`CountStep`]: whether a judged counter holding `values` is over
/// ([`counter_verdict`]).
pub(crate) fn any_counter_over(
    counters: &[CountedKey<'_>],
    values: &[Option<i64>],
    read_only: bool,
) -> bool {
    counters.iter().zip(values).any(|(c, &v)| {
        c.limit
            .is_some_and(|l| counter_verdict(v, l, read_only).over)
    })
}

/// The windowed statuses for counts read after counting (`pending` 0).
fn counted_statuses(
    descriptors: &[Descriptor],
    counters: impl Iterator<Item = CounterRef>,
    values: &[Option<i64>],
    skip_tpm: bool,
) -> Response {
    let mut response = Response {
        statuses: Vec::with_capacity(values.len() + 1),
        ..Response::default()
    };
    for (c, v) in counters.zip(values) {
        if let Some(status) = counter_status(descriptors, c, *v, false, skip_tpm) {
            if status.code == Code::OverLimit {
                response.overall = Code::OverLimit;
            }
            response.statuses.push(status);
        }
    }
    response
}

/// LiteLLM's response to a [`CountOutcome`].
pub(crate) fn count_response(call: &Call<'_>, outcome: CountOutcome) -> Admission {
    let descriptors = call.descriptors;
    let options = call.options;
    let skip_tpm = options.skip_tpm_check;
    let refuse = |mut response: Response| {
        response.overall = Code::OverLimit;
        Admission {
            response,
            slot: None,
        }
    };
    let status = |g: GaugeRef, in_flight: i64, code: Code| {
        gauge_status(&descriptors[g.descriptor], g.limit, in_flight, code)
    };
    match outcome {
        CountOutcome::AlreadyOver(values) => refuse(over_limit_response(
            descriptors,
            call.counters(),
            &values,
            options.read_only,
            skip_tpm,
        )),
        CountOutcome::CountedOver(values) => refuse(counted_statuses(
            descriptors,
            call.counters(),
            &values,
            skip_tpm,
        )),
        CountOutcome::GaugeFull {
            values,
            gauge: j,
            in_flight,
        } => {
            let mut response = counted_statuses(descriptors, call.counters(), &values, skip_tpm);
            response
                .statuses
                .push(status(call.gauge(j), in_flight, Code::OverLimit));
            refuse(response)
        }
        CountOutcome::Passed {
            values,
            in_flight,
            slot_id,
        } => {
            if options.read_only {
                let mut response =
                    over_limit_response(descriptors, call.counters(), &values, true, skip_tpm);
                if !in_flight.is_empty() {
                    // The gauge phase's verdict is the overall one, as in LiteLLM.
                    let mut over = false;
                    for (g, &n) in call.gauges().zip(&in_flight) {
                        let code = if gauge_full(n, g.limit) {
                            Code::OverLimit
                        } else {
                            Code::Ok
                        };
                        over |= code == Code::OverLimit;
                        response.statuses.push(status(g, n, code));
                    }
                    response.overall = if over { Code::OverLimit } else { Code::Ok };
                }
                return Admission {
                    response,
                    slot: None,
                };
            }
            let mut response = counted_statuses(descriptors, call.counters(), &values, skip_tpm);
            response.overall = Code::Ok;
            let Some(slot_id) = slot_id.filter(|_| !in_flight.is_empty()) else {
                return Admission {
                    response,
                    slot: None,
                };
            };
            let mut scopes = Vec::with_capacity(in_flight.len());
            for (g, &n) in call.gauges().zip(&in_flight) {
                response.statuses.push(status(g, n, Code::Ok));
                scopes.push(Arc::from(descriptors[g.descriptor].scope()));
            }
            Admission {
                response,
                slot: Some(SlotAcquisition { slot_id, scopes }),
            }
        }
    }
}

/// The value of a future whose every step is already ready (the memory store's: each step
/// is a [`std::future::ready`]).
///
/// # Panics
///
/// If the future is pending at its first poll, which no memory-store operation is.
#[inline(always)]
pub(crate) fn ready_now<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match std::pin::pin!(future).poll(&mut cx) {
        Poll::Ready(value) => value,
        Poll::Pending => unreachable!("a memory-store step is always ready"),
    }
}
