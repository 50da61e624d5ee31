//! Live per-deployment and per-group routing state: in-flight counts, per-minute usage,
//! latency samples, success/failure windows and cooldowns.
//!
//! Each structure mirrors one of LiteLLM's cache keys (in-memory tier), with that key's TTL:
//!
//! | here | LiteLLM key | written by |
//! | --- | --- | --- |
//! | [`DeploymentState`] `busy` | `{group}_request_count:{id}` | `LeastBusyLoggingHandler` |
//! | `slots` | `MaxParallelRequestsLimit.in_flight` | `max_parallel_requests` |
//! | `successes` / `failures` | `{id}:successes` / `{id}:fails`, TTL 60 s | `track_deployment_metrics` |
//! | `v2_rpm` / `v2_tpm` | `{id}:{model}:rpm:{HH-MM}` (UTC), TTL 60 s | `LowestTPMLoggingHandler_v2` |
//! | `allowed_fails` | `deployment:{id}:allowed_fails[:{suffix}]`, TTL cooldown | cooldown handlers |
//! | `cooldown` | `deployment:{id}:cooldown` | `CooldownCache` |
//! | [`GroupState`] v1 maps | `{group}:tpm:{HH-MM}` / `{group}:rpm:{HH-MM}` (local), TTL 60 s | `LowestTPMLoggingHandler` |
//! | latency map | `{group}_map`, TTL 3600 s | `LowestLatencyLoggingHandler` |
//! | cost map | `cost_map:{group}`, TTL 600 s (cache default) | `LowestCostLoggingHandler` |
//!
//! The in-memory TTL rule applies throughout: the write that creates a key sets its expiry and
//! later writes do not move it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use indexmap::IndexMap;
use rustc_hash::FxBuildHasher;

/// An insertion-ordered dict keyed by deployment id, like the Python dicts LiteLLM caches.
pub(crate) type IdMap<V> = IndexMap<Arc<str>, V, FxBuildHasher>;

use crate::clock::{self, Clock, Minute, SystemClock, WallTime};
use crate::counter::{CooldownCell, Gauge, WindowCounter};
use crate::sync::{AtomicI64, Mutex, Ordering, lock};

/// Which LiteLLM strategy logger is registered, so which usage a success updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Tracking {
    /// simple-shuffle: no strategy logger.
    None,
    /// least-busy: in-flight counts.
    LeastBusy,
    /// latency-based-routing: the `{group}_map`.
    Latency,
    /// usage-based-routing: `{group}:tpm/rpm:{HH-MM}`.
    UsageV1,
    /// usage-based-routing-v2: `{id}:{model}:tpm/rpm:{HH-MM}`.
    UsageV2,
    /// cost-based-routing: `cost_map:{group}`.
    Cost,
}

/// TTLs and list sizes, LiteLLM's defaults unless changed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StateConfig {
    /// `RoutingArgs.ttl` of usage-based v1 and v2 (60 s).
    pub usage_ttl: Duration,
    /// `RoutingArgs.ttl` of latency-based routing (3600 s).
    pub latency_ttl: Duration,
    /// `RoutingArgs.max_latency_list_size` (10).
    pub max_latency_list_size: usize,
    /// TTL of the cost map: the in-memory cache's `default_ttl` (600 s).
    pub cost_ttl: Duration,
    /// TTL of the success/failure counters behind cooldowns (60 s).
    pub health_window: Duration,
}

impl Default for StateConfig {
    fn default() -> Self {
        Self {
            usage_ttl: Duration::from_secs(60),
            latency_ttl: Duration::from_secs(3600),
            max_latency_list_size: 10,
            cost_ttl: Duration::from_secs(600),
            health_window: Duration::from_secs(60),
        }
    }
}

/// What a successful call reports (`log_success_event`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Success {
    /// `usage.total_tokens` (0 when the response carried no usage).
    pub total_tokens: u64,
    /// `usage.completion_tokens` when the response had usage: latency is normalised per
    /// completion token when this is above 0.
    pub completion_tokens: Option<u64>,
    /// `end_time - start_time`, seconds.
    pub latency_secs: f64,
    /// For streams: `completion_start_time - start_time`, seconds.
    pub time_to_first_token_secs: Option<f64>,
}

/// The `key` of an allowed-fails counter: `deployment:{id}:allowed_fails[:{suffix}]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FailCounter {
    /// No suffix: the router-wide policy.
    Base,
    /// `:generic`: the deployment's own `allowed_fails`.
    Generic,
    /// `:{ExceptionClassName}`: the deployment's `allowed_fails_policy`.
    Exception(String),
}

/// Live state of one deployment.
#[derive(Debug, Default)]
pub struct DeploymentState {
    pub(crate) busy: Gauge,
    pub(crate) slots: Gauge,
    pub(crate) successes: WindowCounter,
    pub(crate) failures: WindowCounter,
    pub(crate) v2_rpm: WindowCounter,
    pub(crate) v2_tpm: WindowCounter,
    pub(crate) allowed_fails: Mutex<Vec<(FailCounter, Arc<WindowCounter>)>>,
    pub(crate) cooldown: CooldownCell,
}

impl DeploymentState {
    /// Least-busy's in-flight count.
    #[must_use]
    pub fn in_flight(&self) -> u64 {
        self.busy.get()
    }

    /// Slots of `max_parallel_requests` in use.
    #[must_use]
    pub fn slots_in_use(&self) -> u64 {
        self.slots.get()
    }

    pub(crate) fn fail_counter(&self, key: &FailCounter) -> Arc<WindowCounter> {
        let mut counters = lock(&self.allowed_fails);
        if let Some((_, counter)) = counters.iter().find(|(k, _)| k == key) {
            return Arc::clone(counter);
        }
        let counter = Arc::new(WindowCounter::new());
        counters.push((key.clone(), Arc::clone(&counter)));
        counter
    }
}

/// A dict under one cache key, keeping insertion order as Python's dict does.
#[derive(Debug, Default)]
pub(crate) struct KeyedMap<V> {
    present: bool,
    label: i64,
    expires: i64,
    pub(crate) entries: IdMap<V>,
}

impl<V> KeyedMap<V> {
    /// `get_cache(key)` at `now` for key `label`: the live dict, or `None` (and the stale one
    /// evicted).
    pub(crate) fn live(&mut self, label: i64, now: i64) -> Option<&mut IdMap<V>> {
        if self.present && (self.label != label || now > self.expires) {
            self.present = false;
            self.entries.clear();
        }
        self.present.then_some(&mut self.entries)
    }

    /// `set_cache(key, dict, ttl)`, after the caller updated the dict: creates the key if it was
    /// absent.
    pub(crate) fn touch(&mut self, label: i64, now: i64, ttl: i64) {
        if !self.present {
            self.present = true;
            self.label = label;
            self.expires = now.saturating_add(ttl);
        }
    }

    /// The dict to update for a write at `now` (an absent key starts empty).
    pub(crate) fn for_write(&mut self, label: i64, now: i64) -> &mut IdMap<V> {
        if self.live(label, now).is_none() {
            self.entries.clear();
        }
        &mut self.entries
    }
}

/// One deployment's entry in the latency map.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct LatencyEntry {
    pub(crate) latency: VecDeque<f64>,
    pub(crate) ttft: VecDeque<f64>,
    pub(crate) minute: Option<(Minute, u64, u64)>,
}

impl LatencyEntry {
    /// The entry a pick adds for a deployment not yet in the map: `latency_normalized: [0]`.
    pub(crate) fn unused(minute: Minute) -> Self {
        Self {
            latency: VecDeque::from([0.0]),
            ttft: VecDeque::new(),
            minute: Some((minute, 0, 0)),
        }
    }
}

/// `(tpm, rpm)` in `minute`, or zero.
pub(crate) fn minute_usage(entry: Option<(Minute, u64, u64)>, minute: Minute) -> (u64, u64) {
    match entry {
        Some((m, tpm, rpm)) if m == minute => (tpm, rpm),
        _ => (0, 0),
    }
}

fn add_minute_usage(slot: &mut Option<(Minute, u64, u64)>, minute: Minute, tokens: u64) {
    let (tpm, rpm) = minute_usage(*slot, minute);
    *slot = Some((minute, tpm.saturating_add(tokens), rpm.saturating_add(1)));
}

/// Push onto a LiteLLM latency list: append below `max`, else drop the oldest and append.
fn push_sample(list: &mut VecDeque<f64>, value: f64, max: usize) {
    if list.len() >= max {
        list.pop_front();
    }
    list.push_back(value);
}

/// v1's two dicts.
#[derive(Debug, Default)]
pub(crate) struct V1Usage {
    pub(crate) tpm: KeyedMap<u64>,
    pub(crate) rpm: KeyedMap<u64>,
}

/// Live state of one model group.
#[derive(Debug, Default)]
pub struct GroupState {
    pub(crate) v1: Mutex<V1Usage>,
    pub(crate) latency: Mutex<KeyedMap<LatencyEntry>>,
    pub(crate) cost: Mutex<KeyedMap<Option<(Minute, u64, u64)>>>,
}

/// All live routing state, keyed by deployment id and model group name.
///
/// Entries outlive configuration changes, as LiteLLM's cache entries do: a deployment removed
/// and added back finds its cooldown and usage where it left them.
pub struct RouterState<C: Clock = SystemClock> {
    clock: C,
    config: StateConfig,
    tracking: Tracking,
    deployments: DashMap<Arc<str>, Arc<DeploymentState>>,
    groups: DashMap<Arc<str>, Arc<GroupState>>,
    last_cooldown_scan: AtomicI64,
}

impl<C: Clock> std::fmt::Debug for RouterState<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterState")
            .field("config", &self.config)
            .field("tracking", &self.tracking)
            .field("deployments", &self.deployments.len())
            .field("groups", &self.groups.len())
            .finish_non_exhaustive()
    }
}

impl<C: Clock> RouterState<C> {
    /// Empty state reading time from `clock`, recording what `tracking`'s logger records.
    #[must_use]
    pub fn new(clock: C, tracking: Tracking, config: StateConfig) -> Self {
        Self {
            clock,
            config,
            tracking,
            deployments: DashMap::new(),
            groups: DashMap::new(),
            last_cooldown_scan: AtomicI64::new(i64::MIN),
        }
    }

    /// The clock.
    #[must_use]
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// TTLs and sizes in force.
    #[must_use]
    pub fn config(&self) -> &StateConfig {
        &self.config
    }

    /// The usage this state records.
    #[must_use]
    pub fn tracking(&self) -> Tracking {
        self.tracking
    }

    /// The state of deployment `id`, created on first use.
    #[must_use]
    pub fn deployment(&self, id: &str) -> Arc<DeploymentState> {
        if let Some(state) = self.deployments.get(id) {
            return Arc::clone(&state);
        }
        Arc::clone(
            &self
                .deployments
                .entry(Arc::from(id))
                .or_insert_with(|| Arc::new(DeploymentState::default())),
        )
    }

    /// The state of model group `name`, created on first use.
    #[must_use]
    pub fn group(&self, name: &str) -> Arc<GroupState> {
        if let Some(state) = self.groups.get(name) {
            return Arc::clone(&state);
        }
        Arc::clone(
            &self
                .groups
                .entry(Arc::from(name))
                .or_insert_with(|| Arc::new(GroupState::default())),
        )
    }

    pub(crate) fn now_nanos(&self) -> i64 {
        clock::nanos(self.clock.now())
    }

    pub(crate) fn wall(&self) -> WallTime {
        self.clock.wall()
    }

    /// Notes that a pick read the cooldown list at `now` (LiteLLM reads every deployment's
    /// entry on each pick, and that read deletes spent entries).
    pub(crate) fn note_cooldown_scan(&self, now: i64) {
        if self.last_cooldown_scan.load(Ordering::Relaxed) < now {
            self.last_cooldown_scan.fetch_max(now, Ordering::Relaxed);
        }
    }

    pub(crate) fn last_cooldown_scan(&self) -> i64 {
        self.last_cooldown_scan.load(Ordering::Relaxed)
    }

    /// The call is about to go out (`log_pre_api_call`): least-busy counts it in flight.
    pub fn request_started(&self, deployment: &DeploymentState) {
        if self.tracking == Tracking::LeastBusy {
            deployment.busy.increment();
        }
    }

    /// The call finished, either way: least-busy's count goes down (not below zero).
    pub fn request_finished(&self, deployment: &DeploymentState) {
        if self.tracking == Tracking::LeastBusy {
            deployment.busy.decrement();
        }
    }

    /// Records a success of deployment `id` in model group `group`: the success counter behind
    /// cooldowns, and the usage the registered strategy logger records.
    pub fn record_success(
        &self,
        group: &str,
        id: &str,
        deployment: &DeploymentState,
        success: &Success,
    ) {
        let now = self.now_nanos();
        let window = clock::secs_to_nanos(self.config.health_window.as_secs_f64());
        deployment.successes.increment(0, now, window, 1);
        match self.tracking {
            Tracking::None | Tracking::LeastBusy => {}
            Tracking::UsageV1 => self.v1_success(group, id, success.total_tokens, now),
            Tracking::UsageV2 => {
                let minute = self.wall().utc_minute();
                let ttl = clock::secs_to_nanos(self.config.usage_ttl.as_secs_f64());
                deployment
                    .v2_tpm
                    .increment(minute.0, now, ttl, success.total_tokens);
            }
            Tracking::Latency => self.latency_success(group, id, success, now),
            Tracking::Cost => self.cost_success(group, id, success.total_tokens, now),
        }
    }

    /// Records a failure: the failure counter behind cooldowns, and for latency-based routing a
    /// timeout's 1000 s penalty sample (`async_log_failure_event`).
    pub fn record_failure(
        &self,
        group: &str,
        id: &str,
        deployment: &DeploymentState,
        timeout: bool,
    ) {
        let now = self.now_nanos();
        let window = clock::secs_to_nanos(self.config.health_window.as_secs_f64());
        deployment.failures.increment(0, now, window, 1);
        if timeout && self.tracking == Tracking::Latency {
            let group_state = self.group(group);
            let mut map = lock(&group_state.latency);
            let entries = map.for_write(0, now);
            let entry = entries.entry(Arc::from(id)).or_default();
            push_sample(
                &mut entry.latency,
                1000.0,
                self.config.max_latency_list_size,
            );
            let ttl = clock::secs_to_nanos(self.config.latency_ttl.as_secs_f64());
            map.touch(0, now, ttl);
        }
    }

    /// Successes of deployment in its current 60 s window.
    #[must_use]
    pub fn successes_this_minute(&self, deployment: &DeploymentState) -> u64 {
        deployment.successes.get(0, self.now_nanos())
    }

    /// Failures of deployment in its current 60 s window.
    #[must_use]
    pub fn failures_this_minute(&self, deployment: &DeploymentState) -> u64 {
        deployment.failures.get(0, self.now_nanos())
    }

    fn v1_success(&self, group: &str, id: &str, tokens: u64, now: i64) {
        let minute = self.wall().local_minute();
        let ttl = clock::secs_to_nanos(self.config.usage_ttl.as_secs_f64());
        let group_state = self.group(group);
        let mut v1 = lock(&group_state.v1);
        let tpm = v1.tpm.for_write(minute.0, now);
        *tpm.entry(Arc::from(id)).or_insert(0) += tokens;
        v1.tpm.touch(minute.0, now, ttl);
        let rpm = v1.rpm.for_write(minute.0, now);
        *rpm.entry(Arc::from(id)).or_insert(0) += 1;
        v1.rpm.touch(minute.0, now, ttl);
    }

    fn latency_success(&self, group: &str, id: &str, success: &Success, now: i64) {
        let minute = self.wall().local_minute();
        let value = match success.completion_tokens {
            // safe_divide_seconds: None when the denominator is <= 0.
            Some(tokens) if tokens > 0 => success.latency_secs / tokens as f64,
            _ => success.latency_secs,
        };
        let max = self.config.max_latency_list_size;
        let group_state = self.group(group);
        let mut map = lock(&group_state.latency);
        let entries = map.for_write(0, now);
        let entry = entries.entry(Arc::from(id)).or_default();
        push_sample(&mut entry.latency, value, max);
        if let Some(ttft) = success.time_to_first_token_secs {
            push_sample(&mut entry.ttft, ttft, max);
        }
        add_minute_usage(&mut entry.minute, minute, success.total_tokens);
        let ttl = clock::secs_to_nanos(self.config.latency_ttl.as_secs_f64());
        map.touch(0, now, ttl);
    }

    fn cost_success(&self, group: &str, id: &str, tokens: u64, now: i64) {
        let minute = self.wall().local_minute();
        let group_state = self.group(group);
        let mut map = lock(&group_state.cost);
        let entries = map.for_write(0, now);
        add_minute_usage(entries.entry(Arc::from(id)).or_default(), minute, tokens);
        let ttl = clock::secs_to_nanos(self.config.cost_ttl.as_secs_f64());
        map.touch(0, now, ttl);
    }

    /// The latency samples of `id` in `group` (`latency_normalized`), oldest first.
    #[must_use]
    pub fn latency_samples(&self, group: &str, id: &str) -> Vec<f64> {
        let group_state = self.group(group);
        let mut map = lock(&group_state.latency);
        let now = self.now_nanos();
        map.live(0, now)
            .and_then(|entries| entries.get(id))
            .map(|e| e.latency.iter().copied().collect())
            .unwrap_or_default()
    }

    /// The time-to-first-token samples of `id` in `group`, oldest first.
    #[must_use]
    pub fn ttft_samples(&self, group: &str, id: &str) -> Vec<f64> {
        let group_state = self.group(group);
        let mut map = lock(&group_state.latency);
        let now = self.now_nanos();
        map.live(0, now)
            .and_then(|entries| entries.get(id))
            .map(|e| e.ttft.iter().copied().collect())
            .unwrap_or_default()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::clock::FakeClock;
    use crate::litellm::keys;

    fn state(tracking: Tracking) -> (Arc<FakeClock>, RouterState<Arc<FakeClock>>) {
        let clock = Arc::new(FakeClock::at_utc(2024, 5, 17, 9, 4, 0));
        let state = RouterState::new(clock.clone(), tracking, StateConfig::default());
        (clock, state)
    }

    #[test]
    fn keys_are_litellms() {
        let m = FakeClock::at_utc(2024, 5, 17, 9, 4, 0).wall().utc_minute();
        assert_eq!(
            keys::v2_tpm("id1", "azure/gpt-4o", m),
            "id1:azure/gpt-4o:tpm:09-04"
        );
        assert_eq!(keys::v1_rpm("gpt-4o", m), "gpt-4o:rpm:09-04");
        assert_eq!(keys::least_busy("g", "a"), "g_request_count:a");
        assert_eq!(keys::cooldown("a"), "deployment:a:cooldown");
    }

    #[test]
    fn latency_list_keeps_last_ten() {
        // LowestLatencyLoggingHandler.log_success_event: append below max_latency_list_size,
        // else drop the oldest.
        let (_, s) = state(Tracking::Latency);
        let d = s.deployment("a");
        for i in 0..12 {
            let success = Success {
                latency_secs: f64::from(i),
                time_to_first_token_secs: Some(f64::from(i) / 10.0),
                ..Success::default()
            };
            s.record_success("g", "a", &d, &success);
        }
        let samples = s.latency_samples("g", "a");
        assert_eq!(samples, (2..12).map(f64::from).collect::<Vec<_>>());
        assert_eq!(s.ttft_samples("g", "a").len(), 10);
    }

    #[test]
    fn latency_normalised_per_completion_token() {
        let (_, s) = state(Tracking::Latency);
        let d = s.deployment("a");
        let success = Success {
            latency_secs: 2.0,
            completion_tokens: Some(4),
            total_tokens: 10,
            ..Success::default()
        };
        s.record_success("g", "a", &d, &success);
        let zero = Success {
            latency_secs: 3.0,
            completion_tokens: Some(0),
            ..Success::default()
        };
        s.record_success("g", "a", &d, &zero);
        assert_eq!(s.latency_samples("g", "a"), [0.5, 3.0]);
    }

    #[test]
    fn latency_map_expires_whole_after_ttl() {
        let (clock, s) = state(Tracking::Latency);
        let d = s.deployment("a");
        s.record_success(
            "g",
            "a",
            &d,
            &Success {
                latency_secs: 1.0,
                ..Success::default()
            },
        );
        clock.advance(Duration::from_secs(3599));
        s.record_success(
            "g",
            "a",
            &d,
            &Success {
                latency_secs: 2.0,
                ..Success::default()
            },
        );
        assert_eq!(s.latency_samples("g", "a"), [1.0, 2.0]);
        clock.advance(Duration::from_secs(2));
        assert!(
            s.latency_samples("g", "a").is_empty(),
            "TTL set by the first write"
        );
    }

    #[test]
    fn health_counters_window() {
        let (clock, s) = state(Tracking::None);
        let d = s.deployment("a");
        s.record_failure("g", "a", &d, false);
        clock.advance(Duration::from_secs(30));
        s.record_success("g", "a", &d, &Success::default());
        s.record_failure("g", "a", &d, false);
        assert_eq!(s.failures_this_minute(&d), 2);
        assert_eq!(s.successes_this_minute(&d), 1);
        clock.advance(Duration::from_secs(31));
        assert_eq!(
            s.failures_this_minute(&d),
            0,
            "window opened by the first failure"
        );
        assert_eq!(s.successes_this_minute(&d), 1);
    }

    #[test]
    fn least_busy_counts_only_when_tracking() {
        let (_, s) = state(Tracking::LeastBusy);
        let d = s.deployment("a");
        s.request_started(&d);
        s.request_started(&d);
        s.request_finished(&d);
        assert_eq!(d.in_flight(), 1);
        let (_, other) = state(Tracking::None);
        let d2 = other.deployment("a");
        other.request_started(&d2);
        assert_eq!(d2.in_flight(), 0);
    }
}
