//! Routing state shared on Redis (feature `redis`): cooldowns and usage-based-v2 counters, under
//! LiteLLM's keys and in LiteLLM's value formats, so that several routers, and LiteLLM proxies,
//! on one Redis skip the same cooled-down deployments and see the same usage.
//!
//! | state | key | value | write |
//! | --- | --- | --- | --- |
//! | cooldown | `deployment:{id}:cooldown` | LiteLLM's `CooldownCacheValue` dict, as `str()` or JSON | `SET key value EX int(cooldown_time)` |
//! | v2 tokens | `{id}:{model}:tpm:{HH-MM}` (UTC minute) | a number | `INCRBYFLOAT key tokens`, `EXPIRE key 60` |
//! | v2 requests | `{id}:{model}:rpm:{HH-MM}` (UTC minute) | a number | `INCRBYFLOAT key 1`, `EXPIRE key 60` |
//!
//! These are the commands LiteLLM 1.109.3 and 1.110.2 send (seen with `MONITOR`): a cooldown is
//! `SET` with `ex=int(ttl)`, so one shorter than 1 s never reaches Redis (`EX 0` is refused).
//! Its value is `str()` of the dict (Python's `repr`) on 1.109.3 and on 1.110.2's synchronous
//! `add_deployment_to_cooldown`, and `json.dumps` of it on 1.110.2's `acompletion` failure
//! path; `cooldown_time` keeps the configured number's type (an int by default). This module
//! writes the `str()` form with `cooldown_time` as a float, and reads every form. The usage-based-v2
//! counters go through the async increment pipeline: `INCRBYFLOAT` then `EXPIRE` with
//! `RoutingArgs.ttl` (60 s), the TTL refreshed by every write. Reads are `MGET`; LiteLLM decodes
//! each value with `json.loads`, falling back to `ast.literal_eval`, and so does this module.
//!
//! Nothing here runs inside [`Router::pick`]: picking stays synchronous and reads only local
//! state. Sharing is explicit and async:
//!
//! * [`Router::sync_from_redis`] reads a group's cooldowns and (for usage-based-v2) counters in
//!   one `MGET` and merges them into the local state. Call it before picking (per request, or
//!   on a short timer, as LiteLLM's own periodic Redis sync does).
//! * [`Router::on_failure_shared`], [`Router::on_success_shared`] and [`Router::admit_shared`]
//!   do what their local twins do, then write what changed (a cooldown, tokens, a request) to
//!   Redis. The local outcome stands even when Redis fails; the error comes back next to it in
//!   [`Published`].
//!
//! Merging follows LiteLLM's two-tier cache: a cooldown read from Redis is taken on only when
//! the deployment is not already cooling down locally, and is active while
//! `timestamp + cooldown_time > now` (`_corrected_active_cooldown`, on the wall clock). A counter
//! read from Redis (which includes this router's own writes) raises the local count, never
//! lowers it.

use std::time::Duration;

use fastllm_connpool::redis::{RedisPool, Value, cmd, pipe};
use serde_json::Value as Json;

use crate::clock::{self, Clock, Minute, WallTime};
use crate::cooldown::{CooldownDecision, Failure};
use crate::counter::{CooldownInfo, WindowCounter};
use crate::error::{BackendError, redis_failed, unexpected_reply};
use crate::litellm::keys;
use crate::litellm::pyrepr;
use crate::registry::Member;
use crate::router::{Admission, Router};
use crate::state::{Success, Tracking};

/// How many leading characters of the exception text a cooldown entry keeps: LiteLLM masks the
/// rest with `*` (`SensitiveDataMasker(visible_prefix=50, visible_suffix=0)`).
pub const EXCEPTION_VISIBLE_CHARS: usize = 50;

/// LiteLLM's cooldown entry, `CooldownCacheValue`, as stored under `deployment:{id}:cooldown`.
///
/// # Examples
///
/// ```
/// use fastllm_router::{CooldownValue, WallTime};
///
/// let wall = WallTime { unix_millis: 1_715_936_400_250, utc_offset_secs: 0 };
/// let value = CooldownValue::new("litellm.RateLimitError: slow down", Some(429), 5.0, wall);
/// assert_eq!(
///     value.to_litellm_string(),
///     "{'exception_received': 'litellm.RateLimitError: slow down', 'status_code': '429', \
///      'timestamp': 1715936400.25, 'cooldown_time': 5.0}",
/// );
/// assert_eq!(value.redis_ttl_secs(), Some(5));
/// assert!(value.is_active_at(1_715_936_405.0));
/// assert!(!value.is_active_at(1_715_936_405.25));
/// assert_eq!(CooldownValue::parse(&value.to_litellm_string()), Some(value));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CooldownValue {
    /// `str(exception)`, masked after [`EXCEPTION_VISIBLE_CHARS`] characters.
    pub exception_received: String,
    /// The status code as text (`"500"` when the error had none).
    pub status_code: String,
    /// When it was written: Unix seconds (`time.time()`).
    pub timestamp: f64,
    /// How long it lasts, seconds.
    pub cooldown_time: f64,
}

impl CooldownValue {
    /// The entry LiteLLM writes for `exception` (its `str()`) with `status` at `wall`, for
    /// `cooldown_time` seconds. No status counts as 500 (`cast_exception_status_to_int`).
    #[must_use]
    pub fn new(exception: &str, status: Option<u16>, cooldown_time: f64, wall: WallTime) -> Self {
        Self {
            exception_received: mask_exception(exception),
            status_code: status.unwrap_or(500).to_string(),
            timestamp: unix_secs(wall),
            cooldown_time,
        }
    }

    /// The entry for a failure the cooldown rules cooled down for `cooldown_time` seconds.
    #[must_use]
    pub fn from_failure(failure: &Failure<'_>, cooldown_time: f64, wall: WallTime) -> Self {
        Self::new(failure.message, failure.status, cooldown_time, wall)
    }

    /// Seconds left at `now_unix_secs`: `timestamp + cooldown_time - now`.
    #[must_use]
    pub fn remaining_secs(&self, now_unix_secs: f64) -> f64 {
        self.timestamp + self.cooldown_time - now_unix_secs
    }

    /// Whether the deployment is cooling down at `now_unix_secs` (some time remains).
    #[must_use]
    pub fn is_active_at(&self, now_unix_secs: f64) -> bool {
        self.remaining_secs(now_unix_secs) > 0.0
    }

    /// The key's expiry in Redis: `int(cooldown_time)` seconds, as LiteLLM's `get_ttl` makes it.
    /// `None` below one second (LiteLLM's `SET ... EX 0` is refused, so such a cooldown stays
    /// in the writer's memory only) and for values Redis cannot take.
    #[must_use]
    pub fn redis_ttl_secs(&self) -> Option<u64> {
        let secs = self.cooldown_time.trunc();
        // Redis refuses expiries whose milliseconds overflow an i64.
        (secs >= 1.0 && secs <= (i64::MAX / 1000) as f64).then_some(secs as u64)
    }

    /// The text LiteLLM stores: `str()` of the dict, keys in LiteLLM's order.
    #[must_use]
    pub fn to_litellm_string(&self) -> String {
        let mut out = String::with_capacity(96 + self.exception_received.len());
        out.push_str("{'exception_received': ");
        pyrepr::repr_str(&self.exception_received, &mut out);
        out.push_str(", 'status_code': ");
        pyrepr::repr_str(&self.status_code, &mut out);
        out.push_str(", 'timestamp': ");
        pyrepr::float_repr(self.timestamp, &mut out);
        out.push_str(", 'cooldown_time': ");
        pyrepr::float_repr(self.cooldown_time, &mut out);
        out.push('}');
        out
    }

    /// Reads a stored entry the way LiteLLM does: JSON (`json.dumps`, LiteLLM's async writes)
    /// or a Python literal (`str()`, its sync writes). `timestamp` and `cooldown_time` must be
    /// numbers; a missing `exception_received` or `status_code` reads as empty, and a numeric
    /// status code as its text. `None` for anything else.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let value = serde_json::from_str::<Json>(text)
            .ok()
            .or_else(|| pyrepr::py_literal(text))?;
        let Json::Object(map) = value else {
            return None;
        };
        let text_field = |name: &str| match map.get(name) {
            None | Some(Json::Null) => Some(String::new()),
            Some(Json::String(s)) => Some(s.clone()),
            Some(Json::Number(n)) => Some(n.to_string()),
            Some(_) => None,
        };
        Some(Self {
            exception_received: text_field("exception_received")?,
            status_code: text_field("status_code")?,
            timestamp: map.get("timestamp")?.as_f64()?,
            cooldown_time: map.get("cooldown_time")?.as_f64()?,
        })
    }

    /// The status as a number; 500 when the text is not one.
    fn status(&self) -> u16 {
        self.status_code.trim().parse().unwrap_or(500)
    }
}

/// `SensitiveDataMasker(visible_prefix=50, visible_suffix=0, mask_char="*",
/// mask_short_values=False).mask_value`: short texts as they are, longer ones cut to their
/// first 50 characters (code points) followed by one `*` per character cut.
fn mask_exception(text: &str) -> String {
    match text.char_indices().nth(EXCEPTION_VISIBLE_CHARS) {
        None => text.to_owned(),
        Some((cut, _)) => {
            let hidden = text[cut..].chars().count();
            let mut out = String::with_capacity(cut + hidden);
            out.push_str(&text[..cut]);
            out.extend(std::iter::repeat_n('*', hidden));
            out
        }
    }
}

fn unix_secs(wall: WallTime) -> f64 {
    // Millisecond timestamps are exact in an f64 for the next 285 000 years.
    wall.unix_millis as f64 / 1000.0
}

/// A counter's value as Redis returns it (`INCRBY`/`INCRBYFLOAT` text, or an integer reply):
/// a whole number of tokens or requests, fractions dropped, negatives as 0.
fn count_of(value: &Value) -> Option<u64> {
    match value {
        Value::Int(i) => Some(u64::try_from(*i).unwrap_or(0)),
        Value::Double(f) => float_count(*f),
        Value::BulkString(bytes) => count_text(std::str::from_utf8(bytes).ok()?),
        Value::SimpleString(s) => count_text(s),
        _ => None,
    }
}

fn count_text(text: &str) -> Option<u64> {
    let text = text.trim();
    match text.parse::<i64>() {
        Ok(i) => Some(u64::try_from(i).unwrap_or(0)),
        Err(_) => float_count(text.parse().ok()?),
    }
}

fn float_count(f: f64) -> Option<u64> {
    // `as` saturates; negatives become 0.
    f.is_finite().then(|| f.max(0.0) as u64)
}

/// A handle on the Redis that routers share: LiteLLM's cooldown and usage keys, over a
/// [`fastllm_connpool`] pool. Cheap to clone (the pool is shared).
///
/// The methods here are the raw reads and writes; [`Router::sync_from_redis`] and the
/// `*_shared` methods of [`Router`] use them to keep a router's local state in step.
///
/// # Examples
///
/// ```no_run
/// use fastllm_connpool::PoolConfig;
/// use fastllm_connpool::redis::RedisPool;
/// use fastllm_router::{CooldownValue, RedisState, WallTime};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let redis = RedisState::new(RedisPool::from_url("redis://127.0.0.1:6379/0", PoolConfig::default())?);
/// let wall = WallTime { unix_millis: 1_715_936_400_000, utc_offset_secs: 0 };
/// let value = CooldownValue::new("litellm.RateLimitError: slow down", Some(429), 5.0, wall);
/// assert!(redis.write_cooldown("azure-eu", &value).await?);
/// let active = redis.active_cooldowns(&["azure-eu", "openai"], 1_715_936_401.0).await?;
/// assert_eq!(active, vec![("azure-eu".to_owned(), value)]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RedisState {
    pool: RedisPool,
}

impl RedisState {
    /// A handle on the Redis behind `pool`. Connects on first use.
    #[must_use]
    pub fn new(pool: RedisPool) -> Self {
        Self { pool }
    }

    /// The pool.
    #[must_use]
    pub fn pool(&self) -> &RedisPool {
        &self.pool
    }

    /// Writes `value` as deployment `id`'s cooldown: `SET deployment:{id}:cooldown <value> EX
    /// int(cooldown_time)`. Returns `false`, writing nothing, when the cooldown is too short
    /// for a Redis expiry (see [`CooldownValue::redis_ttl_secs`]), as LiteLLM's write fails then.
    ///
    /// # Errors
    ///
    /// [`BackendError::Redis`] when Redis cannot be reached or refuses the command.
    pub async fn write_cooldown(
        &self,
        id: &str,
        value: &CooldownValue,
    ) -> Result<bool, BackendError> {
        const OPERATION: &str = "write_cooldown";
        let Some(ttl) = value.redis_ttl_secs() else {
            return Ok(false);
        };
        let mut conn = self
            .pool
            .get()
            .await
            .map_err(|e| redis_failed(OPERATION, e))?;
        conn.query::<()>(
            cmd("SET")
                .arg(keys::cooldown(id))
                .arg(value.to_litellm_string())
                .arg("EX")
                .arg(ttl),
        )
        .await
        .map_err(|e| redis_failed(OPERATION, e))?;
        Ok(true)
    }

    /// The stored cooldown entries of `ids`, in order (one `MGET`), expired ones included;
    /// `None` where there is no key, or its value is not a cooldown entry (LiteLLM skips those
    /// too).
    ///
    /// # Errors
    ///
    /// [`BackendError::Redis`] when Redis cannot be reached or refuses the command.
    pub async fn read_cooldowns<S: AsRef<str>>(
        &self,
        ids: &[S],
    ) -> Result<Vec<Option<CooldownValue>>, BackendError> {
        let keys: Vec<String> = ids.iter().map(|id| keys::cooldown(id.as_ref())).collect();
        let raw = self.mget("read_cooldowns", &keys).await?;
        Ok(raw
            .iter()
            .map(|v| v.as_deref().and_then(parse_cooldown))
            .collect())
    }

    /// The cooldowns of `ids` active at `now_unix_secs`, in `ids` order, with their entries
    /// (`CooldownCache.async_get_active_cooldowns`).
    ///
    /// # Errors
    ///
    /// As [`RedisState::read_cooldowns`].
    pub async fn active_cooldowns<S: AsRef<str>>(
        &self,
        ids: &[S],
        now_unix_secs: f64,
    ) -> Result<Vec<(String, CooldownValue)>, BackendError> {
        let values = self.read_cooldowns(ids).await?;
        Ok(ids
            .iter()
            .zip(values)
            .filter_map(|(id, value)| {
                let value = value?;
                value
                    .is_active_at(now_unix_secs)
                    .then(|| (id.as_ref().to_owned(), value))
            })
            .collect())
    }

    /// Adds `by` to the counter under `key` and sets its expiry to `ttl` (whole seconds), in
    /// one transaction: `INCRBYFLOAT key by`, `EXPIRE key ttl`. Returns the new total.
    ///
    /// Build `key` with [`keys::v2_tpm`] or [`keys::v2_rpm`].
    ///
    /// # Errors
    ///
    /// [`BackendError::Redis`] when Redis cannot be reached or refuses the command (the key holds
    /// something that is not a number); [`BackendError::Reply`] when the total is not a number.
    pub async fn increment_usage(
        &self,
        key: &str,
        by: u64,
        ttl: Duration,
    ) -> Result<u64, BackendError> {
        const OPERATION: &str = "increment_usage";
        let mut conn = self
            .pool
            .get()
            .await
            .map_err(|e| redis_failed(OPERATION, e))?;
        let (total, _expire): (Value, Value) = conn
            .query_pipeline(
                pipe()
                    .atomic()
                    .cmd("INCRBYFLOAT")
                    .arg(key)
                    .arg(by)
                    .cmd("EXPIRE")
                    .arg(key)
                    .arg(ttl.as_secs()),
            )
            .await
            .map_err(|e| redis_failed(OPERATION, e))?;
        count_of(&total)
            .ok_or_else(|| unexpected_reply(OPERATION, format!("INCRBYFLOAT returned {total:?}")))
    }

    /// The counters under `keys`, in order (one `MGET`); `None` where there is no key or its
    /// value is not a number.
    ///
    /// # Errors
    ///
    /// [`BackendError::Redis`] when Redis cannot be reached or refuses the command.
    pub async fn read_usage<S: AsRef<str>>(
        &self,
        keys: &[S],
    ) -> Result<Vec<Option<u64>>, BackendError> {
        let keys: Vec<&str> = keys.iter().map(AsRef::as_ref).collect();
        let raw = self.mget("read_usage", &keys).await?;
        Ok(raw
            .iter()
            .map(|v| v.as_deref().and_then(count_bytes))
            .collect())
    }

    async fn mget<S: AsRef<str>>(
        &self,
        operation: &'static str,
        keys: &[S],
    ) -> Result<Vec<Option<Vec<u8>>>, BackendError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut command = cmd("MGET");
        for key in keys {
            command.arg(key.as_ref());
        }
        let mut conn = self
            .pool
            .get()
            .await
            .map_err(|e| redis_failed(operation, e))?;
        let values: Vec<Option<Vec<u8>>> = conn
            .query(&command)
            .await
            .map_err(|e| redis_failed(operation, e))?;
        if values.len() != keys.len() {
            return Err(unexpected_reply(
                operation,
                format!(
                    "MGET of {} keys returned {} values",
                    keys.len(),
                    values.len()
                ),
            ));
        }
        Ok(values)
    }
}

fn parse_cooldown(bytes: &[u8]) -> Option<CooldownValue> {
    CooldownValue::parse(std::str::from_utf8(bytes).ok()?)
}

fn count_bytes(bytes: &[u8]) -> Option<u64> {
    count_text(std::str::from_utf8(bytes).ok()?)
}

/// A local outcome, and in `error` why writing it to Redis failed, if it did.
///
/// The shared calls ([`Router::on_failure_shared`], ...) change the local state first, as their
/// local twins do, and that stands whatever Redis does: like LiteLLM, a router keeps routing
/// when Redis is down. [`Reported::backend_ok`](fastllm_connpool::Reported::backend_ok) says
/// whether Redis has everything the call changed;
/// [`Reported::into_result`](fastllm_connpool::Reported::into_result) gives the value or the
/// error (dropping the value: for an [`Admission`] that frees its slot). The wrapper is
/// `fastllm-connpool`'s, shared with the rate limiter's Redis store.
pub type Published<T> = fastllm_connpool::Reported<T, BackendError>;

/// What [`Router::sync_from_redis`] merged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Synced {
    /// Cooldowns taken on from Redis (active there, not yet here).
    pub cooldowns_adopted: usize,
    /// Usage counters found in Redis and merged into the local ones.
    pub counters_read: usize,
    /// Values that were neither a cooldown entry nor a number, and were skipped.
    pub unreadable: usize,
}

impl<C: Clock> Router<C> {
    /// Reads `group`'s shared state from Redis, in one `MGET`, and merges it into this router:
    /// each deployment's cooldown entry (taken on when active and none is active locally) and,
    /// under usage-based-v2 routing, its tpm and rpm counters for the current UTC minute
    /// (raising the local counts). Nothing happens for an unknown group.
    ///
    /// [`Router::pick`] then skips the deployments another router cooled down, and the usage
    /// strategies see the usage others recorded.
    ///
    /// # Errors
    ///
    /// [`BackendError::Redis`] when Redis cannot be reached or refuses the command; the local
    /// state is then unchanged.
    pub async fn sync_from_redis(
        &self,
        redis: &RedisState,
        group: &str,
    ) -> Result<Synced, BackendError> {
        let members: Vec<Member> = match self.registry().load().group(group) {
            Some(group) => group.members().to_vec(),
            None => return Ok(Synced::default()),
        };
        let minute = self.state().wall().utc_minute();
        let usage = self.state().tracking() == Tracking::UsageV2;
        let mut keys = Vec::with_capacity(members.len() * if usage { 3 } else { 1 });
        keys.extend(members.iter().map(|m| keys::cooldown(m.deployment.id())));
        if usage {
            for key in [keys::v2_tpm, keys::v2_rpm] {
                keys.extend(
                    members
                        .iter()
                        .map(|m| key(m.deployment.id(), m.deployment.model(), minute)),
                );
            }
        }
        let values = redis.mget("sync", &keys).await?;

        // Remaining times count from after the round trip.
        let now = self.state().now_nanos();
        let now_unix = unix_secs(self.state().wall());
        let mut synced = Synced::default();
        let (cooldowns, counters) = values.split_at(members.len());
        for (member, raw) in members.iter().zip(cooldowns) {
            let Some(raw) = raw else { continue };
            let Some(value) = parse_cooldown(raw) else {
                synced.unreadable += 1;
                continue;
            };
            let remaining = value.remaining_secs(now_unix);
            if remaining <= 0.0 {
                continue;
            }
            let ends = now.saturating_add(clock::secs_to_nanos(remaining));
            let info = CooldownInfo {
                status: value.status(),
                cooldown_secs: value.cooldown_time,
                started_nanos: ends.saturating_sub(clock::secs_to_nanos(value.cooldown_time)),
            };
            if member.state.cooldown.adopt(now, ends, info) {
                synced.cooldowns_adopted += 1;
            }
        }
        if usage {
            let (tpm, rpm) = counters.split_at(members.len());
            for (member, (tpm, rpm)) in members.iter().zip(tpm.iter().zip(rpm)) {
                for (raw, counter) in [(tpm, &member.state.v2_tpm), (rpm, &member.state.v2_rpm)] {
                    let Some(raw) = raw else { continue };
                    match count_bytes(raw) {
                        Some(count) => {
                            if self.raise_usage(counter, minute, count) {
                                synced.counters_read += 1;
                            }
                        }
                        None => synced.unreadable += 1,
                    }
                }
            }
        }
        Ok(synced)
    }

    /// [`Router::on_failure`], then, when the rules cooled the deployment down, the same
    /// cooldown written to Redis in LiteLLM's format ([`RedisState::write_cooldown`]; one
    /// shorter than a second stays local, as in LiteLLM).
    pub async fn on_failure_shared(
        &self,
        redis: &RedisState,
        id: &str,
        failure: &Failure<'_>,
    ) -> Published<CooldownDecision> {
        let decision = self.on_failure(id, failure);
        let error = match decision {
            CooldownDecision::CooledDown { secs, .. } => {
                let value = CooldownValue::from_failure(failure, secs, self.state().wall());
                redis.write_cooldown(id, &value).await.err()
            }
            _ => None,
        };
        Published::new(decision, error)
    }

    /// [`Router::on_success`], then, under usage-based-v2 routing, the tokens added to the
    /// deployment's shared tpm counter for this UTC minute (`async_log_success_event`); the
    /// local counter is raised to the shared total.
    pub async fn on_success_shared(
        &self,
        redis: &RedisState,
        id: &str,
        success: &Success,
    ) -> Published<()> {
        let minute = self.state().wall().utc_minute();
        self.on_success(id, success);
        let error = match self.v2_member(id) {
            Some(member) => self
                .publish_usage(redis, &member, Usage::Tokens, minute, success.total_tokens)
                .await
                .err(),
            None => None,
        };
        Published::new((), error)
    }

    /// [`Router::admit`], then what it changed written to Redis: under usage-based-v2 routing
    /// the request counted in the deployment's shared rpm counter (`pre_call_check`), and the
    /// cooldown a refusal caused, with LiteLLM's message (`Deployment over defined rpm
    /// limit=...`). The local rpm counter is raised to the shared total.
    ///
    /// The admission itself is decided on the local counts, as LiteLLM decides on its memory
    /// tier; call [`Router::sync_from_redis`] first to bring them up to date.
    pub async fn admit_shared(&self, redis: &RedisState, id: &str) -> Published<Admission> {
        let (admission, effects) = self.admit_with_effects(id);
        let mut error = None;
        if let Some(minute) = effects.counted {
            if let Some(member) = self.v2_member(id) {
                error = self
                    .publish_usage(redis, &member, Usage::Requests, minute, 1)
                    .await
                    .err();
            }
        }
        if let (
            Some(CooldownDecision::CooledDown { secs, .. }),
            Admission::OverRpm { limit, current },
        ) = (effects.cooldown, &admission)
        {
            let message = format!(
                "litellm.RateLimitError: Deployment over defined rpm limit={}. current usage={current}",
                py_number(*limit)
            );
            let value = CooldownValue::new(&message, Some(429), secs, self.state().wall());
            if let Err(e) = redis.write_cooldown(id, &value).await {
                error.get_or_insert(e);
            }
        }
        Published::new(admission, error)
    }

    /// The member `id` when this router tracks usage-based-v2 usage.
    fn v2_member(&self, id: &str) -> Option<Member> {
        if self.state().tracking() != Tracking::UsageV2 {
            return None;
        }
        self.registry().load().member(id).map(|(_, m)| m.clone())
    }

    async fn publish_usage(
        &self,
        redis: &RedisState,
        member: &Member,
        usage: Usage,
        minute: Minute,
        by: u64,
    ) -> Result<(), BackendError> {
        let d = &member.deployment;
        let (key, counter) = match usage {
            Usage::Tokens => (
                keys::v2_tpm(d.id(), d.model(), minute),
                &member.state.v2_tpm,
            ),
            Usage::Requests => (
                keys::v2_rpm(d.id(), d.model(), minute),
                &member.state.v2_rpm,
            ),
        };
        let ttl = self.settings().state.usage_ttl;
        let total = redis.increment_usage(&key, by, ttl).await?;
        self.raise_usage(counter, minute, total);
        Ok(())
    }

    /// Raises `counter` to a shared `count` read for `minute`, unless the minute has turned
    /// since (the count belongs to a key no longer read). Returns whether it was merged.
    fn raise_usage(&self, counter: &WindowCounter, minute: Minute, count: u64) -> bool {
        if self.state().wall().utc_minute() != minute {
            return false;
        }
        let ttl = clock::secs_to_nanos(self.settings().state.usage_ttl.as_secs_f64());
        counter.raise_to(minute.0, self.state().now_nanos(), ttl, count);
        true
    }
}

/// Which usage-based-v2 counter.
#[derive(Debug, Clone, Copy)]
enum Usage {
    /// `{id}:{model}:tpm:{HH-MM}`.
    Tokens,
    /// `{id}:{model}:rpm:{HH-MM}`.
    Requests,
}

/// A limit as Python prints the configured number: `2` for a whole number, else `repr(float)`.
fn py_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        let mut out = String::new();
        pyrepr::float_repr(x, &mut out);
        out
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn wall(unix_millis: i64) -> WallTime {
        WallTime {
            unix_millis,
            utc_offset_secs: 0,
        }
    }

    #[test]
    fn litellm_bytes() {
        // LiteLLM 1.109.3 and 1.110.2, Router(redis_host=...).cooldown_cache
        // .add_deployment_to_cooldown(model_id="c0", original_exception=RateLimitError(
        // message="slow down " + "x" * 60 + " é", llm_provider="openai", model="gpt-4o"),
        // exception_status=429, cooldown_time=2.5), seen with MONITOR:
        //   SET deployment:c0:cooldown "{...}" EX 2
        let litellm = "{'exception_received': 'litellm.RateLimitError: slow down \
                       xxxxxxxxxxxxxxxx**********************************************', \
                       'status_code': '429', 'timestamp': 1795872996.8592248, 'cooldown_time': 2.5}";
        let message = format!("litellm.RateLimitError: slow down {} é", "x".repeat(60));
        let mut ours = CooldownValue::new(&message, Some(429), 2.5, wall(1_795_872_996_859));
        assert_eq!(ours.redis_ttl_secs(), Some(2));
        // Our wall clock has milliseconds; with LiteLLM's microseconds the text is the same.
        ours.timestamp = 1_795_872_996.859_224_8;
        assert_eq!(ours.to_litellm_string(), litellm);
        assert_eq!(CooldownValue::parse(litellm), Some(ours));
    }

    #[test]
    fn masks_like_litellm() {
        assert_eq!(mask_exception(""), "");
        let fifty = "é".repeat(50);
        assert_eq!(mask_exception(&fifty), fifty, "short values stay readable");
        assert_eq!(
            mask_exception(&format!("{fifty}ab€")),
            format!("{fifty}***")
        );
    }

    #[test]
    fn json_timestamps_read_exactly() {
        // A timestamp LiteLLM 1.110 stored with `json.dumps`: the value read must be the f64
        // Python wrote, to the last bit, so the crate writes back the same text.
        for stamp in [
            "1795888678.5734417",
            "1795888678.5734415",
            "1715936400.1234567",
        ] {
            let json = format!(
                r#"{{"exception_received": "x", "status_code": "429", "timestamp": {stamp}, "cooldown_time": 3}}"#
            );
            let value = CooldownValue::parse(&json).unwrap();
            assert_eq!(
                value.timestamp.to_bits(),
                stamp.parse::<f64>().unwrap().to_bits()
            );
            assert!(
                value
                    .to_litellm_string()
                    .contains(&format!("'timestamp': {stamp},"))
            );
        }
    }

    #[test]
    fn parses_json_and_python() {
        let json = r#"{"exception_received": "it's", "status_code": "401", "timestamp": 100.5, "cooldown_time": 5}"#;
        let value = CooldownValue::parse(json).unwrap();
        assert_eq!(value.exception_received, "it's");
        assert_eq!(value.status(), 401);
        assert_eq!(value.cooldown_time, 5.0);
        assert!(value.is_active_at(105.4));
        assert!(!value.is_active_at(105.5), "remaining <= 0 is over");
        let python = "{'status_code': 429, 'timestamp': 1, 'cooldown_time': 0.5}";
        let value = CooldownValue::parse(python).unwrap();
        assert_eq!(
            (
                value.status_code.as_str(),
                value.exception_received.as_str()
            ),
            ("429", "")
        );
        assert_eq!(
            value.redis_ttl_secs(),
            None,
            "EX 0: LiteLLM never stores it"
        );
        for bad in [
            "",
            "[1]",
            "{'timestamp': 1}",
            "{'timestamp': '1', 'cooldown_time': 1}",
            "5",
        ] {
            assert_eq!(CooldownValue::parse(bad), None, "{bad}");
        }
        let mut nan = CooldownValue::new("", None, f64::NAN, wall(0));
        assert_eq!(nan.redis_ttl_secs(), None);
        assert_eq!(nan.status_code, "500");
        nan.cooldown_time = 1e300;
        assert_eq!(nan.redis_ttl_secs(), None);
    }

    #[test]
    fn counts() {
        assert_eq!(count_text("130"), Some(130));
        assert_eq!(count_text("130.75"), Some(130));
        assert_eq!(count_text("-3"), Some(0));
        assert_eq!(count_text("1e3"), Some(1000));
        assert_eq!(count_text("{}"), None);
        assert_eq!(count_of(&Value::Int(7)), Some(7));
        assert_eq!(count_of(&Value::Double(2.5)), Some(2));
        assert_eq!(count_of(&Value::Nil), None);
        assert_eq!(py_number(2.0), "2");
        assert_eq!(py_number(2.5), "2.5");
    }
}
