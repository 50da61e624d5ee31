//! [`RedisStore`]: LiteLLM's v3 limiter on a Redis shared with LiteLLM proxies.
//!
//! Every check is one Lua script call (one round trip, atomic across all the descriptors of the
//! request) on LiteLLM's keys: `{key:value}:window`, `{key:value}:requests`,
//! `{key:value}:tokens` and `{key:value}:max_parallel_requests`, with LiteLLM's value formats
//! and TTLs. A fleet of LiteLLM proxies and Rust services on one Redis therefore enforces one
//! shared limit. The decisions are made by the same pure functions as
//! [`MemoryStore`](crate::MemoryStore)'s, from the values the script returns.
//!
//! Time is the Redis server's clock (`TIME` inside the scripts), as LiteLLM's atomic and
//! parallel-slot scripts use; LiteLLM's `should_rate_limit` script takes the proxy's wall clock
//! instead. Both are UNIX seconds, so the window starts they write mean the same thing; the
//! server clock just keeps skew between hosts out of this store's windows.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use fastllm_connpool::redis::{RedisPool, Script, ScriptInvocation, cmd};

use crate::descriptor::{
    CounterKind, DEFAULT_WINDOW_SECS, Descriptor, MAX_WINDOW_SECS, validate_window,
};
use crate::error::{BackendError, Error, RateLimitBackendError, Result};
use crate::gauge::{DEFAULT_SLOT_TTL, SlotAcquisition, SlotId, SlotIds};
use crate::litellm::{ScopeKey, tagged_key};
use crate::memory::{Admission, CheckOptions};
use crate::reservation::{TokenIncrement, TpmReservation};
use crate::store::{
    AtomicCounter, AtomicOutcome, Charged, CountOutcome, CountStep, CounterValues, GaugeKey,
    Limiter, Store, any_counter_over,
};
use crate::window::{Code, Increment, ReservationWindow, Response, gauge_full};

static SHOULD_RATE_LIMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("lua/prelude.lua"),
        include_str!("lua/should_rate_limit.lua")
    ))
});
static ATOMIC_CHECK_AND_INCREMENT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("lua/prelude.lua"),
        include_str!("lua/atomic_check_and_increment.lua")
    ))
});
static INCREMENT_TOKENS: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/increment_tokens.lua")));
static INCREMENT_GUARDED: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/increment_guarded.lua")));
static RELEASE_SLOTS: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/release_slots.lua")));
static IN_FLIGHT: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/in_flight.lua")));

/// LiteLLM's `RATE_LIMIT_UNVERIFIABLE_MESSAGE`: the detail of the HTTP 503 its proxy returns
/// (`RateLimitUnverifiableError`) when `fail_closed_rate_limit_enforcement` is on and Redis
/// cannot verify the counters.
pub const RATE_LIMIT_UNVERIFIABLE_MESSAGE: &str = "Rate limit enforcement unavailable: request counters could not be verified against Redis, and \
     fail_closed_rate_limit_enforcement is enabled, so the request was rejected to avoid exceeding the \
     configured rate limit. Retry shortly.";

/// What a check does when Redis cannot answer it.
///
/// LiteLLM's `general_settings.fail_closed_rate_limit_enforcement`: off by default (fail open).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FailMode {
    /// Admit the request, and report the failure in the [`Checked`] answer's `error`. LiteLLM's
    /// default. (LiteLLM then enforces with its per-process memory mirror; this store admits.)
    #[default]
    Open,
    /// Refuse the request: the answer is `OVER_LIMIT` with no statuses, and
    /// the [`Checked`] answer's `error` holds the failure (LiteLLM raises
    /// `RateLimitUnverifiableError`, an HTTP 503 with [`RATE_LIMIT_UNVERIFIABLE_MESSAGE`]).
    Closed,
}

/// Settings of a [`RedisStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// The limiter's window in seconds (LiteLLM `LITELLM_RATE_LIMIT_WINDOW_SIZE`, default 60):
    /// the window of `should_rate_limit`, the TTL of its keys, and the default window of the
    /// atomic path. Every process sharing the Redis must use the same value.
    pub window_size_secs: u64,
    /// How long a parallel-request slot counts before it is treated as leaked, and the TTL of
    /// the gauge key, in seconds (LiteLLM `PARALLEL_REQUEST_SLOT_TTL_SECONDS`, 3600).
    pub slot_ttl_secs: u64,
    /// What a check does when Redis cannot answer.
    pub fail_mode: FailMode,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            window_size_secs: DEFAULT_WINDOW_SECS,
            slot_ttl_secs: DEFAULT_SLOT_TTL.as_secs(),
            fail_mode: FailMode::Open,
        }
    }
}

impl RedisConfig {
    /// Check the settings.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for a window or slot TTL of 0 or more than
    /// [`MAX_WINDOW_SECS`].
    pub fn validate(&self) -> Result<()> {
        validate_window("window_size_secs", Some(self.window_size_secs))?;
        if self.slot_ttl_secs == 0 || self.slot_ttl_secs > MAX_WINDOW_SECS {
            return Err(Error::invalid(
                "slot_ttl_secs",
                format!(
                    "{} s is not between 1 and {MAX_WINDOW_SECS} s",
                    self.slot_ttl_secs
                ),
            ));
        }
        Ok(())
    }
}

/// Why a [`RedisStore`] answer was not verified against Redis, and what the
/// [`FailMode`] made of it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", if *.fail_mode == FailMode::Closed { RATE_LIMIT_UNVERIFIABLE_MESSAGE } else { "rate limit not verified against Redis; admitted (fail open)" })]
pub struct Unverified {
    /// The mode that decided: [`FailMode::Open`] admitted, [`FailMode::Closed`] refused.
    pub fail_mode: FailMode,
    /// What went wrong.
    #[source]
    pub error: BackendError,
}

impl Unverified {
    /// Whether the request was refused because of the failure (fail closed).
    pub fn refused(&self) -> bool {
        self.fail_mode == FailMode::Closed
    }
}

/// How a [`RedisStore`] check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Admitted: verified against Redis, or Redis failed and the store fails open.
    Admitted,
    /// Refused by a limit (LiteLLM answers HTTP 429).
    OverLimit,
    /// Refused because Redis could not verify the limits and the store fails closed
    /// (LiteLLM answers HTTP 503, `RateLimitUnverifiableError`).
    Unverifiable,
}

/// An answer of a [`RedisStore`] check: the value, and in `error` why Redis could not be asked.
///
/// `value` is the answer. When Redis failed it is the [`FailMode`]'s: an empty `OK` (open) or
/// an empty `OVER_LIMIT` (closed), with nothing counted or reserved and no slot held, and
/// `error` holds the [`Unverified`] failure. The wrapper is `fastllm-connpool`'s, shared with
/// the router's Redis state; [`Verdict`] reads it.
pub type Checked<T> = fastllm_connpool::Reported<T, Unverified>;

/// What a [`Checked`] answer says.
pub trait Verdict {
    /// Whether Redis answered.
    fn is_verified(&self) -> bool;

    /// How the check ended.
    fn decision(&self) -> Decision;

    /// Whether the request may go ahead.
    fn is_admitted(&self) -> bool {
        self.decision() == Decision::Admitted
    }
}

fn decision_of<T>(checked: &Checked<T>, ok: bool) -> Decision {
    match &checked.error {
        Some(u) if u.refused() => Decision::Unverifiable,
        _ if ok => Decision::Admitted,
        _ => Decision::OverLimit,
    }
}

impl Verdict for Checked<Admission> {
    fn is_verified(&self) -> bool {
        self.backend_ok()
    }

    fn decision(&self) -> Decision {
        decision_of(self, self.value.response.is_ok())
    }
}

impl Verdict for Checked<Response> {
    fn is_verified(&self) -> bool {
        self.backend_ok()
    }

    fn decision(&self) -> Decision {
        decision_of(self, self.value.is_ok())
    }
}

impl Verdict for Checked<TpmReservation> {
    fn is_verified(&self) -> bool {
        self.backend_ok()
    }

    fn decision(&self) -> Decision {
        decision_of(self, self.value.is_ok())
    }
}

/// LiteLLM's v3 limiter on Redis, sharing its keys with LiteLLM proxies. See the
/// [crate docs](crate) for the keys, the scripts and the fail modes.
///
/// Cheap to clone (the pool is shared); every method is `async` and needs a tokio runtime, as
/// the pool does. A [`Store`] whose steps are one script call each: its checks are
/// [`Limiter`]'s operations, with the [`FailMode`] answering when Redis cannot.
///
/// # Examples
///
/// ```no_run
/// use fastllm_connpool::PoolConfig;
/// use fastllm_connpool::redis::RedisPool;
/// use fastllm_ratelimit::{
///     CheckOptions, Decision, Descriptor, Limits, RedisConfig, RedisStore, Verdict,
/// };
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = RedisPool::from_url("redis://127.0.0.1:6379/0", PoolConfig::default())?;
/// let store = RedisStore::new(pool, RedisConfig::default())?;
/// let key = [Descriptor::new("api_key", "hashed-key", Limits::new().requests(100).max_parallel(4))?];
///
/// let checked = store.should_rate_limit(&key, &CheckOptions::default()).await;
/// match checked.decision() {
///     Decision::Admitted => {
///         // ... serve the request, then give the parallel-request slot back:
///         if let Some(slot) = &checked.value.slot {
///             store.release_slots(slot).await?;
///         }
///     }
///     Decision::OverLimit => { /* 429, with checked.value.response's statuses */ }
///     Decision::Unverifiable => { /* 503: Redis down and the store fails closed */ }
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    pool: RedisPool,
    config: RedisConfig,
    slots: Arc<SlotIds>,
    mirror: Option<Arc<Mirror>>,
}

/// LiteLLM's per-process memory mirror of the Redis counts (see
/// [`RedisStore::with_litellm_mirror`]): the last count each script returned, per key, with
/// LiteLLM's TTLs (the window for counters, the slot TTL for gauges).
#[derive(Default)]
struct Mirror {
    values: Mutex<MirrorValues>,
}

#[derive(Default)]
struct MirrorValues {
    entries: HashMap<String, (i64, Instant)>,
    /// The size at which the next sweep of expired entries runs: [`MIRROR_SWEEP_AT`], or
    /// twice what a sweep left, so a mirror of live entries is not rescanned on every write.
    sweep_at: usize,
}

impl Mirror {
    fn lock(&self) -> std::sync::MutexGuard<'_, MirrorValues> {
        // Each entry is replaced whole, so a panic elsewhere cannot leave one torn.
        self.values.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, key: &str) -> Option<i64> {
        let now = Instant::now();
        let mut values = self.lock();
        match values.entries.get(key) {
            Some(&(value, expires)) if expires > now => Some(value),
            Some(_) => {
                values.entries.remove(key);
                None
            }
            None => None,
        }
    }

    fn set(&self, entries: impl IntoIterator<Item = (String, i64)>, ttl: Duration) {
        let now = Instant::now();
        let mut values = self.lock();
        if values.entries.len() > values.sweep_at.max(MIRROR_SWEEP_AT) {
            values.entries.retain(|_, (_, expires)| *expires > now);
            values.sweep_at = values.entries.len() * 2;
        }
        for (key, value) in entries {
            values.entries.insert(key, (value, now + ttl));
        }
    }
}

/// The mirror drops its expired entries once it holds more than this many (or twice what
/// its last sweep kept).
const MIRROR_SWEEP_AT: usize = 65_536;

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.pool.manager().url())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store on `pool` with `config`. No connection is opened until the first call.
    ///
    /// # Errors
    ///
    /// As [`RedisConfig::validate`].
    pub fn new(pool: RedisPool, config: RedisConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            pool,
            config,
            slots: Arc::new(SlotIds::new()),
            mirror: None,
        })
    }

    /// This store, answering exactly as one LiteLLM proxy process would, including its
    /// per-process memory mirror of the Redis counts.
    ///
    /// LiteLLM's v3 limiter pre-checks a request against the counts its own earlier checks
    /// read back from Redis (kept for the window; gauges for the slot TTL), refusing without
    /// touching Redis when that mirror is already over; only then does it run the scripts,
    /// which count without a pre-check of their own. Its TPM reservations do not update the
    /// mirror. Without this mode the store pre-checks against Redis itself, which refuses the
    /// same requests when one process owns the keys but, across processes, sees the others'
    /// counts at once. Use this mode where answers must match LiteLLM's, as in the
    /// `fastllm_litellm` patch.
    #[must_use]
    pub fn with_litellm_mirror(mut self) -> Self {
        self.mirror = Some(Arc::new(Mirror::default()));
        self
    }

    /// The store's settings.
    pub fn config(&self) -> &RedisConfig {
        &self.config
    }

    /// The connection pool (for its status and metrics).
    pub fn pool(&self) -> &RedisPool {
        &self.pool
    }

    /// A fresh slot id: 32 hex digits like LiteLLM's `uuid4().hex`, unique within this store
    /// and, with overwhelming probability, across processes.
    pub fn generate_slot_id(&self) -> SlotId {
        self.slots.next_id()
    }

    async fn invoke<T: fastllm_connpool::redis::FromRedisValue>(
        &self,
        operation: &'static str,
        invocation: &ScriptInvocation<'_>,
    ) -> std::result::Result<T, BackendError> {
        let mut conn = self
            .pool
            .get()
            .await
            .map_err(|e| BackendError::redis(operation, e.into()))?;
        conn.invoke_script(invocation)
            .await
            .map_err(|e| BackendError::redis(operation, e))
    }

    fn fail<T>(&self, error: BackendError, open: T, closed: T) -> Checked<T> {
        let fail_mode = self.config.fail_mode;
        Checked {
            value: match fail_mode {
                FailMode::Open => open,
                FailMode::Closed => closed,
            },
            error: Some(Unverified { fail_mode, error }),
        }
    }

    /// A Redis answer as a [`Checked`]: the value, or the [`FailMode`]'s `open` / `closed`
    /// answer with the failure.
    fn checked<T>(
        &self,
        result: std::result::Result<T, BackendError>,
        open: T,
        closed: T,
    ) -> Checked<T> {
        match result {
            Ok(value) => Checked::ok(value),
            Err(error) => self.fail(error, open, closed),
        }
    }

    /// LiteLLM's `should_rate_limit` on Redis, for all `descriptors` in one atomic script call
    /// ([`Limiter::should_rate_limit`] over this store's script).
    ///
    /// The same steps and answers as [`MemoryStore::should_rate_limit`](crate::MemoryStore::should_rate_limit),
    /// on the shared keys:
    /// 1. if a counter is already over its limit (`count > limit`, or `count + 1 > limit` when
    ///    read-only), refuse without counting (LiteLLM does this against its local mirror of
    ///    the Redis counts; here it is done against Redis itself);
    /// 2. add 1 to every windowed counter (LiteLLM's batch rate limiter script: an expired
    ///    window restarts at the server's `TIME`, clearing both counters of its scope), then
    ///    refuse if any is over; the counts stay, as in LiteLLM;
    /// 3. take a slot on every `max_parallel_requests` gauge, or refuse if one is full
    ///    (LiteLLM's parallel acquire script). Release it with
    ///    [`release_slots`](Self::release_slots).
    ///
    /// When Redis cannot answer, the [`FailMode`] decides and the [`Checked`] answer's `error`
    /// says why.
    pub async fn should_rate_limit(
        &self,
        descriptors: &[Descriptor],
        options: &CheckOptions,
    ) -> Checked<Admission> {
        let result = Limiter::should_rate_limit(self, descriptors, options).await;
        self.checked(
            result,
            Admission {
                response: Response::ok(),
                slot: None,
            },
            Admission {
                response: over_limit_without_statuses(),
                slot: None,
            },
        )
    }

    /// [`Store::count_request`]: LiteLLM's pre-checks on the mirror (when there is one), then
    /// the `should_rate_limit` script.
    async fn count_on_redis(
        &self,
        step: &CountStep<'_>,
    ) -> std::result::Result<CountOutcome, BackendError> {
        // LiteLLM's pre-checks on its memory mirror: the counters (all at once), and, before
        // the gauge script, each gauge in turn.
        let mut mirrored_full_gauge = None;
        let mirror = self.mirror.as_deref();
        if let Some(mirror) = mirror {
            let values: CounterValues = step
                .counters
                .iter()
                .map(|c| mirror.get(&tagged_key(c.scope, c.kind.into())))
                .collect();
            if any_counter_over(step.counters, &values, step.read_only) {
                return Ok(CountOutcome::AlreadyOver(values));
            }
            // A read-only check counts the gauges on Redis, past the mirror.
            let gauges_to_precheck = if step.read_only { &[][..] } else { step.gauges };
            for (j, g) in gauges_to_precheck.iter().enumerate() {
                let in_flight = mirror
                    .get(&tagged_key(g.scope, ScopeKey::Gauge))
                    .unwrap_or(0)
                    .max(0);
                if gauge_full(in_flight, g.limit) {
                    mirrored_full_gauge = Some((j, in_flight));
                    break;
                }
            }
            if let Some((gauge, in_flight)) = mirrored_full_gauge {
                if step.counters.is_empty() {
                    return Ok(CountOutcome::GaugeFull {
                        values: CounterValues::new(),
                        gauge,
                        in_flight,
                    });
                }
            }
        }
        // After a refusal on the mirror, the counters are still counted on Redis; no gauge
        // script runs.
        let gauges = if mirrored_full_gauge.is_some() {
            &[][..]
        } else {
            step.gauges
        };
        let slot_id = match (step.slot_id, step.read_only || gauges.is_empty()) {
            (_, true) => None,
            (Some(id), false) => Some(id.clone()),
            (None, false) => Some(self.generate_slot_id()),
        };
        let mut invocation = SHOULD_RATE_LIMIT.prepare_invoke();
        for c in step.counters {
            invocation
                .key(tagged_key(c.scope, ScopeKey::Window))
                .key(tagged_key(c.scope, c.kind.into()));
        }
        for g in gauges {
            invocation.key(tagged_key(g.scope, ScopeKey::Gauge));
        }
        invocation
            .arg(if step.read_only { "1" } else { "0" })
            .arg(self.config.window_size_secs)
            .arg(step.counters.len())
            .arg(gauges.len())
            .arg(self.config.slot_ttl_secs)
            .arg(slot_id.as_ref().map_or("", SlotId::as_str))
            .arg(if mirror.is_some() { "1" } else { "0" }); // read-only judges on Redis anyway
        for c in step.counters {
            invocation.arg(c.limit.unwrap_or(-1));
        }
        for g in gauges {
            invocation.arg(g.limit);
        }
        const OP: &str = "should_rate_limit";
        let reply: Vec<Option<i64>> = self.invoke(OP, &invocation).await?;
        let mut outcome = parse_count_reply(
            step.counters.len(),
            gauges.len(),
            step.read_only,
            &reply,
            slot_id,
        )
        .map_err(|detail| BackendError::reply(OP, detail))?;
        if let Some(mirror) = mirror.filter(|_| !step.read_only) {
            self.update_mirror(mirror, step, gauges, &reply);
            if let (Some((gauge, in_flight)), CountOutcome::Passed { values, .. }) =
                (mirrored_full_gauge, &mut outcome)
            {
                // LiteLLM's gauge pre-check refused: the windowed statuses, then that gauge.
                outcome = CountOutcome::GaugeFull {
                    values: std::mem::take(values),
                    gauge,
                    in_flight,
                };
            }
        }
        Ok(outcome)
    }

    /// After a counting script: the counts it returned (and, when it took the slots, each
    /// gauge's in-flight count) go to the mirror, as LiteLLM writes them to its memory.
    fn update_mirror(
        &self,
        mirror: &Mirror,
        step: &CountStep<'_>,
        gauges: &[GaugeKey<'_>],
        reply: &[Option<i64>],
    ) {
        let n = step.counters.len();
        let code = reply.first().copied().flatten();
        if matches!(code, Some(0 | 2 | 3)) {
            let counts = step
                .counters
                .iter()
                .zip(reply.iter().skip(1))
                .filter_map(|(c, v)| v.map(|v| (tagged_key(c.scope, c.kind.into()), v)));
            mirror.set(counts, Duration::from_secs(self.config.window_size_secs));
        }
        if code == Some(0) && !gauges.is_empty() {
            let in_flight = gauges
                .iter()
                .zip(reply.iter().skip(n + 1))
                .map(|(g, v)| (tagged_key(g.scope, ScopeKey::Gauge), v.unwrap_or(0)));
            mirror.set(in_flight, Duration::from_secs(self.config.slot_ttl_secs));
        }
    }

    /// Give back a parallel-request slot (LiteLLM's parallel release script): remove its id from
    /// each of its gauges, in one call. Releasing an unknown or already released slot does
    /// nothing. Returns each gauge's remaining in-flight count.
    ///
    /// # Errors
    ///
    /// [`BackendError`] when Redis cannot be reached; the slot then frees itself after the slot
    /// TTL (LiteLLM logs the failure and releases it in its memory mirror only).
    pub async fn release_slots(
        &self,
        slot: &SlotAcquisition,
    ) -> std::result::Result<Vec<i64>, BackendError> {
        Store::release_slots(self, slot).await
    }

    /// LiteLLM's `atomic_check_and_increment_by_n` on Redis
    /// ([`Limiter::atomic_check_and_increment_by_n`]): add `increments[i]` to descriptor `i`'s
    /// counters if **every** counter stays within its limit, otherwise change nothing; one
    /// atomic script call for all descriptors.
    ///
    /// Each descriptor's window is its own `window_size` (or the store's), which is also its
    /// counters' TTL. Counters without a limit, or with a negative increment, are left out; a
    /// zero increment is still checked (`count >= limit` is over). Refused: one status, the
    /// first counter over its limit, `limit_remaining = max(0, limit - count)`. Admitted: one
    /// status per counter, `limit_remaining = max(0, limit - new)`, and the windows charged in
    /// `reservation_windows` (window starts are UNIX seconds of the Redis server).
    ///
    /// A scope given twice is checked in order, each copy against the counts the earlier ones
    /// leave, as LiteLLM's one-call-per-descriptor Redis path does (the memory store checks
    /// every copy against the counts before the call).
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`] when the two slices differ in length. Redis failures are not
    /// errors: the [`FailMode`] answers and the [`Checked`] answer's `error` says why.
    pub async fn atomic_check_and_increment_by_n(
        &self,
        descriptors: &[Descriptor],
        increments: &[Increment],
    ) -> Result<Checked<Response>> {
        let result =
            Limiter::atomic_check_and_increment_by_n(self, descriptors, increments).await?;
        Ok(self.checked(result, Response::ok(), over_limit_without_statuses()))
    }

    /// [`Store::check_and_increment`]: the atomic check-and-increment script.
    async fn check_and_increment_on_redis(
        &self,
        counters: &[AtomicCounter<'_>],
    ) -> std::result::Result<AtomicOutcome, BackendError> {
        let mut invocation = ATOMIC_CHECK_AND_INCREMENT.prepare_invoke();
        for c in counters {
            invocation
                .key(tagged_key(c.scope, ScopeKey::Window))
                .key(tagged_key(c.scope, c.kind.into()))
                .arg(c.limit)
                .arg(c.increment)
                .arg(c.window_size_secs)
                .arg(c.window_size_secs);
        }
        const OP: &str = "atomic_check_and_increment_by_n";
        let reply: Vec<Option<i64>> = self.invoke(OP, &invocation).await?;
        parse_atomic_reply(counters.len(), &reply).map_err(|detail| BackendError::reply(OP, detail))
    }

    /// LiteLLM's `reserve_tpm_tokens` on Redis ([`Limiter::reserve_tpm_tokens`]): atomically
    /// charge `estimated_tokens` to the token counter of every descriptor with a token limit
    /// (except project ITPM/OTPM descriptors), or `scope_estimates`' amount for a descriptor
    /// key listed there.
    ///
    /// Settle it once the usage is known with [`increment_tokens`](Self::increment_tokens)
    /// and [`TpmReservation::settlement`]. When Redis fails nothing is reserved (the
    /// reservation has no scopes, so its settlement is empty) and the [`FailMode`] answers.
    pub async fn reserve_tpm_tokens(
        &self,
        descriptors: &[Descriptor],
        estimated_tokens: i64,
        scope_estimates: &[(&str, i64)],
    ) -> Checked<TpmReservation> {
        let result =
            Limiter::reserve_tpm_tokens(self, descriptors, estimated_tokens, scope_estimates).await;
        let nothing = |response| TpmReservation {
            response,
            scopes: Vec::new(),
            reserved_tokens: 0,
        };
        self.checked(
            result,
            nothing(Response::ok()),
            nothing(over_limit_without_statuses()),
        )
    }

    /// Add to token counters whatever window is open, in one call (LiteLLM's token increment
    /// script, as used to settle or refund a TPM reservation): `INCRBYFLOAT`, and a key with no
    /// TTL gets the store's window. A missing counter starts from 0 and may go negative.
    ///
    /// # Errors
    ///
    /// [`BackendError`] when Redis cannot be reached (nothing is applied then; LiteLLM falls
    /// back to a plain increment pipeline, which would fail the same way).
    pub async fn increment_tokens(
        &self,
        increments: &[TokenIncrement],
    ) -> std::result::Result<(), BackendError> {
        Store::increment_tokens(self, increments).await
    }

    /// Add `amount` to the counter of `window`'s scope only if `window` is still the scope's
    /// open window (LiteLLM's window-guarded token increment script). Returns whether it was
    /// applied.
    ///
    /// # Errors
    ///
    /// [`BackendError`] when Redis cannot be reached.
    pub async fn increment_tokens_guarded(
        &self,
        window: &ReservationWindow,
        amount: i64,
    ) -> std::result::Result<bool, BackendError> {
        Store::increment_tokens_guarded(self, window, amount).await
    }

    /// Parallel requests in flight on a scope: slots younger than the slot TTL, by the server's
    /// clock (LiteLLM's parallel count script, which also drops the expired ones).
    ///
    /// # Errors
    ///
    /// [`BackendError`] when Redis cannot be reached.
    pub async fn in_flight(
        &self,
        descriptor: &Descriptor,
    ) -> std::result::Result<i64, BackendError> {
        Store::in_flight(self, descriptor.scope()).await
    }

    /// The value of a scope's counter (`{key:value}:requests` / `:tokens`), `None` if absent.
    ///
    /// # Errors
    ///
    /// [`BackendError`] when Redis cannot be reached or the key does not hold a number.
    pub async fn counter(
        &self,
        descriptor: &Descriptor,
        kind: CounterKind,
    ) -> std::result::Result<Option<i64>, BackendError> {
        Store::counter(self, descriptor.scope(), kind).await
    }

    /// The start (UNIX seconds) of a scope's window (`{key:value}:window`), `None` if absent.
    ///
    /// # Errors
    ///
    /// [`BackendError`] when Redis cannot be reached or the key does not hold a number.
    pub async fn window_start(
        &self,
        descriptor: &Descriptor,
    ) -> std::result::Result<Option<i64>, BackendError> {
        Store::window_start(self, descriptor.scope()).await
    }

    async fn get_number(
        &self,
        operation: &'static str,
        key: String,
    ) -> std::result::Result<Option<i64>, BackendError> {
        let mut conn = self
            .pool
            .get()
            .await
            .map_err(|e| BackendError::redis(operation, e.into()))?;
        let raw: Option<String> = conn
            .query(cmd("GET").arg(&key))
            .await
            .map_err(|e| BackendError::redis(operation, e))?;
        raw.map(|text| {
            parse_number(&text).ok_or_else(|| {
                BackendError::reply(operation, format!("{key} holds {text:?}, not a number"))
            })
        })
        .transpose()
    }
}

/// Each step is one Lua script call (one round trip, atomic on the server).
impl Store for RedisStore {
    type Error = BackendError;

    fn window_size_secs(&self) -> u64 {
        self.config.window_size_secs
    }

    async fn count_request(
        &self,
        step: &CountStep<'_>,
    ) -> std::result::Result<CountOutcome, BackendError> {
        self.count_on_redis(step).await
    }

    async fn check_and_increment(
        &self,
        counters: &[AtomicCounter<'_>],
    ) -> std::result::Result<AtomicOutcome, BackendError> {
        self.check_and_increment_on_redis(counters).await
    }

    async fn increment_tokens(
        &self,
        increments: &[TokenIncrement],
    ) -> std::result::Result<(), BackendError> {
        if increments.is_empty() {
            return Ok(());
        }
        let mut invocation = INCREMENT_TOKENS.prepare_invoke();
        for inc in increments {
            invocation
                .key(tagged_key(inc.scope.tag(), ScopeKey::Tokens))
                .arg(inc.amount)
                .arg(self.config.window_size_secs);
        }
        let _: Vec<Option<i64>> = self.invoke("increment_tokens", &invocation).await?;
        Ok(())
    }

    async fn increment_tokens_guarded(
        &self,
        window: &ReservationWindow,
        amount: i64,
    ) -> std::result::Result<bool, BackendError> {
        let tag = window.scope.tag();
        let mut invocation = INCREMENT_GUARDED.prepare_invoke();
        invocation
            .key(tagged_key(tag, ScopeKey::Window))
            .key(tagged_key(tag, window.kind.into()))
            .arg(window.window_start.to_string())
            .arg(amount)
            .arg(self.config.window_size_secs);
        const OP: &str = "increment_tokens_guarded";
        let reply: Vec<Option<i64>> = self.invoke(OP, &invocation).await?;
        match reply.first() {
            Some(Some(applied)) => Ok(*applied == 1),
            _ => Err(BackendError::reply(OP, format!("{reply:?}"))),
        }
    }

    async fn release_slots(
        &self,
        slot: &SlotAcquisition,
    ) -> std::result::Result<Vec<i64>, BackendError> {
        if slot.scopes.is_empty() {
            return Ok(Vec::new());
        }
        let mut invocation = RELEASE_SLOTS.prepare_invoke();
        for scope in &slot.scopes {
            invocation
                .key(tagged_key(scope, ScopeKey::Gauge))
                .arg(slot.slot_id.as_str());
        }
        let remaining: Vec<i64> = self.invoke("release_slots", &invocation).await?;
        if let Some(mirror) = &self.mirror {
            // LiteLLM mirrors each gauge's remaining count.
            let entries = slot
                .scopes
                .iter()
                .zip(&remaining)
                .map(|(scope, n)| (tagged_key(scope, ScopeKey::Gauge), (*n).max(0)));
            mirror.set(entries, Duration::from_secs(self.config.slot_ttl_secs));
        }
        Ok(remaining)
    }

    async fn in_flight(&self, scope: &str) -> std::result::Result<i64, BackendError> {
        let mut invocation = IN_FLIGHT.prepare_invoke();
        invocation
            .key(tagged_key(scope, ScopeKey::Gauge))
            .arg(self.config.slot_ttl_secs);
        const OP: &str = "in_flight";
        let reply: Vec<i64> = self.invoke(OP, &invocation).await?;
        reply
            .first()
            .copied()
            .ok_or_else(|| BackendError::reply(OP, "empty reply"))
    }

    async fn counter(
        &self,
        scope: &str,
        kind: CounterKind,
    ) -> std::result::Result<Option<i64>, BackendError> {
        self.get_number("counter", tagged_key(scope, kind.into()))
            .await
    }

    async fn window_start(&self, scope: &str) -> std::result::Result<Option<i64>, BackendError> {
        self.get_number("window_start", tagged_key(scope, ScopeKey::Window))
            .await
    }
}

/// A stored number as LiteLLM writes it: an integer, or a float from `INCRBYFLOAT`
/// (truncated, as Redis truncates a Lua number in a reply).
fn parse_number(text: &str) -> Option<i64> {
    text.parse::<i64>().ok().or_else(|| {
        let f = text.parse::<f64>().ok()?;
        // Saturating float-to-int cast: the value is a counter, far inside i64.
        f.is_finite().then_some(f as i64)
    })
}

fn over_limit_without_statuses() -> Response {
    Response {
        overall: Code::OverLimit,
        ..Response::default()
    }
}

/// The `should_rate_limit` script's reply (for `n` counters and `g` gauges) as a
/// [`CountOutcome`]; `slot_id` is the one the script registered when it could take slots.
fn parse_count_reply(
    n: usize,
    g: usize,
    read_only: bool,
    reply: &[Option<i64>],
    slot_id: Option<SlotId>,
) -> std::result::Result<CountOutcome, String> {
    let code = reply.first().copied().flatten();
    let values = reply
        .get(1..=n)
        .ok_or_else(|| format!("{} values for {n} counters", reply.len()))?
        .into();
    let extra = &reply[n + 1..];
    match code {
        // Already over: the counts before the call, nothing counted.
        Some(1) => Ok(CountOutcome::AlreadyOver(values)),
        // Counted, and a counter is over.
        Some(2) => Ok(CountOutcome::CountedOver(values)),
        // Counted, but gauge j (1-based) is full.
        Some(3) => {
            let (Some(Some(j)), Some(Some(in_flight))) = (extra.first(), extra.get(1)) else {
                return Err(format!("gauge refusal without index and count: {reply:?}"));
            };
            let gauge = usize::try_from(*j)
                .ok()
                .and_then(|j| j.checked_sub(1))
                .filter(|&j| j < g)
                .ok_or_else(|| format!("gauge index {j} out of 1..={g}"))?;
            Ok(CountOutcome::GaugeFull {
                values,
                gauge,
                in_flight: *in_flight,
            })
        }
        Some(0) => {
            if extra.len() != g {
                return Err(format!("{} gauge counts for {g} gauges", extra.len()));
            }
            let in_flight: Vec<i64> = extra.iter().map(|v| v.unwrap_or(0)).collect();
            let slot_id = if read_only || g == 0 {
                None
            } else {
                Some(slot_id.ok_or("admitted with gauges but no slot id")?)
            };
            Ok(CountOutcome::Passed {
                values,
                in_flight,
                slot_id,
            })
        }
        other => Err(format!("unknown reply code {other:?}")),
    }
}

/// The atomic script's reply (for `n` counters) as an [`AtomicOutcome`].
fn parse_atomic_reply(
    n: usize,
    reply: &[Option<i64>],
) -> std::result::Result<AtomicOutcome, String> {
    let number = |i: usize| {
        reply
            .get(i)
            .copied()
            .flatten()
            .ok_or_else(|| format!("no number at {i} in {reply:?}"))
    };
    match number(0)? {
        1 => {
            let index = usize::try_from(number(1)?)
                .ok()
                .and_then(|i| i.checked_sub(1))
                .filter(|&i| i < n)
                .ok_or_else(|| format!("counter index out of range in {reply:?}"))?;
            // The script also returns the limit it judged by, which is the counter's own.
            let (current, _limit) = (number(2)?, number(3)?);
            Ok(AtomicOutcome::Refused { index, current })
        }
        0 => (0..n)
            .map(|i| {
                Ok(Charged {
                    count: number(1 + 2 * i)?,
                    window_start: number(2 + 2 * i)?,
                })
            })
            .collect::<std::result::Result<Vec<_>, String>>()
            .map(AtomicOutcome::Applied),
        other => Err(format!("unknown reply code {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::descriptor::Limits;
    use crate::store::{Call, atomic_response, count_keys, count_response};
    use crate::window::{AtomicMeta, atomic_metas};

    /// The `should_rate_limit` script's reply as the limiter's answer.
    fn decode_check(
        descriptors: &[Descriptor],
        options: &CheckOptions,
        reply: &[Option<i64>],
        slot_id: Option<SlotId>,
    ) -> std::result::Result<Admission, String> {
        let call = Call {
            descriptors,
            options,
        };
        let keys = count_keys(&call);
        let step = keys.step();
        let outcome = parse_count_reply(
            step.counters.len(),
            step.gauges.len(),
            options.read_only,
            reply,
            slot_id,
        )?;
        Ok(count_response(&call, outcome))
    }

    /// The atomic script's reply as the limiter's answer.
    fn decode_atomic(
        descriptors: &[Descriptor],
        metas: &[AtomicMeta],
        reply: &[Option<i64>],
    ) -> std::result::Result<Response, String> {
        let outcome = parse_atomic_reply(metas.len(), reply)?;
        Ok(atomic_response(descriptors, metas, outcome))
    }

    fn d(key: &str, value: &str, limits: Limits) -> Descriptor {
        Descriptor::new(key, value, limits).unwrap()
    }

    #[test]
    fn numbers_read_like_litellm_writes_them() {
        assert_eq!(parse_number("1795848152"), Some(1_795_848_152));
        assert_eq!(parse_number("-3"), Some(-3));
        assert_eq!(parse_number("2.5"), Some(2));
        assert_eq!(parse_number("abc"), None);
        assert_eq!(parse_number("inf"), None);
    }

    #[test]
    fn config_is_validated() {
        assert!(RedisConfig::default().validate().is_ok());
        let zero_window = RedisConfig {
            window_size_secs: 0,
            ..RedisConfig::default()
        };
        assert!(zero_window.validate().is_err());
        let zero_ttl = RedisConfig {
            slot_ttl_secs: 0,
            ..RedisConfig::default()
        };
        assert!(zero_ttl.validate().is_err());
    }

    #[test]
    fn malformed_replies_are_errors_not_panics() {
        let ds = [d("api_key", "k", Limits::new().requests(3).max_parallel(2))];
        let opts = CheckOptions::default();
        for reply in [
            vec![],
            vec![Some(0)],
            vec![Some(0), Some(1)],
            vec![Some(3), Some(1), Some(9), Some(1)],
            vec![Some(3), Some(1)],
            vec![Some(7), Some(1), Some(1)],
            vec![None, Some(1), Some(1)],
        ] {
            assert!(
                decode_check(&ds, &opts, &reply, Some("s".into())).is_err(),
                "{reply:?}"
            );
        }
        let ok = decode_check(&ds, &opts, &[Some(0), Some(1), Some(1)], Some("s".into())).unwrap();
        assert!(ok.response.is_ok());
        assert_eq!(ok.response.statuses.len(), 2);
        let metas = atomic_metas(&ds, &[Increment::requests(1)], 60);
        for reply in [
            vec![],
            vec![Some(1), Some(5), Some(0), Some(1)],
            vec![Some(0)],
        ] {
            assert!(decode_atomic(&ds, &metas, &reply).is_err(), "{reply:?}");
        }
    }
}
