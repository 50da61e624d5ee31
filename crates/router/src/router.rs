//! The router: registry + live state + strategy + cooldown rules behind one value.

use std::sync::Arc;

use crate::clock::{Clock, Minute, SystemClock};
use crate::cooldown::{self, CooldownDecision, CooldownSettings, Failure};
use crate::deployment::{Deployment, Metric};
use crate::error::Result;
use crate::registry::{Member, ModelGroup, Registry, Snapshot};
use crate::rng::RouterRng;
use crate::state::{DeploymentState, RouterState, StateConfig, Success, Tracking};
use crate::strategy::{PickContext, Request, Strategy};

/// Router-wide settings.
#[derive(Debug, Clone)]
pub struct RouterSettings {
    /// `routing_strategy` (and its `routing_strategy_args`).
    pub strategy: Strategy,
    /// `cooldown_time`, `allowed_fails`, `allowed_fails_policy`, `disable_cooldowns`, ...
    pub cooldown: CooldownSettings,
    /// TTLs and list sizes of the live state.
    pub state: StateConfig,
    /// `default_max_parallel_requests`.
    pub default_max_parallel_requests: Option<i64>,
}

impl Default for RouterSettings {
    fn default() -> Self {
        Self {
            strategy: Strategy::SimpleShuffle,
            cooldown: CooldownSettings::default(),
            state: StateConfig::default(),
            default_max_parallel_requests: None,
        }
    }
}

/// The outcome of a pick. Not finding a deployment is an expected outcome, not an error.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Pick {
    /// Send the request here.
    Deployment(Arc<Deployment>),
    /// No model group has this name.
    UnknownGroup,
    /// Every deployment of the group is cooling down, blocked, or outside the requested
    /// `order` (LiteLLM's `RouterRateLimitError` before the strategy runs).
    NoHealthyDeployment {
        /// How many of the group's deployments are cooling down.
        cooling_down: usize,
    },
    /// The strategy found none within its tpm/rpm limits (LiteLLM's "No deployments
    /// available" from the strategy).
    NoneWithinLimits,
}

impl Pick {
    /// The picked deployment, if any.
    #[must_use]
    pub fn deployment(&self) -> Option<&Arc<Deployment>> {
        match self {
            Self::Deployment(d) => Some(d),
            _ => None,
        }
    }
}

/// Whether a picked deployment may take the call now (`pre_call_check` of usage-based v2, and
/// `max_parallel_requests`).
#[derive(Debug)]
#[non_exhaustive]
pub enum Admission {
    /// Go ahead; dropping the guard frees the `max_parallel_requests` slot.
    Admitted(SlotGuard),
    /// Over the deployment's rpm this minute (usage-based v2); LiteLLM raises a 429 and, on
    /// the async path, runs the cooldown rules (see [`Router::admit`]).
    OverRpm {
        /// The rpm limit.
        limit: f64,
        /// Requests counted this minute.
        current: u64,
    },
    /// Every `max_parallel_requests` slot is taken.
    MaxParallelReached {
        /// The limit in force.
        limit: i64,
    },
    /// No deployment has this id.
    UnknownDeployment,
}

/// Holds one `max_parallel_requests` slot until dropped.
#[derive(Debug)]
#[must_use = "dropping the guard frees the slot at once"]
pub struct SlotGuard {
    state: Option<Arc<DeploymentState>>,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            state.slots.decrement();
        }
    }
}

/// What [`Router::admit`] did besides answering, for the Redis-shared variant.
#[derive(Debug, Clone, Copy, Default)]
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) struct AdmitEffects {
    /// The UTC minute whose usage-based-v2 rpm counter counted the request.
    pub(crate) counted: Option<Minute>,
    /// What the cooldown rules made of a v2 refusal.
    pub(crate) cooldown: Option<CooldownDecision>,
}

/// LiteLLM's deployment selection, with identical rules.
///
/// # Examples
///
/// ```
/// use fastllm_router::strategy::Request;
/// use fastllm_router::{Deployment, Pick, Router, RouterSettings, StdRouterRng};
///
/// let router = Router::new(
///     vec![
///         Deployment::builder("a", "gpt-4o", "azure/gpt-4o").weight(1.0).build()?,
///         Deployment::builder("b", "gpt-4o", "openai/gpt-4o").weight(3.0).build()?,
///     ],
///     RouterSettings::default(),
/// )?;
/// let mut rng = StdRouterRng::seeded(7);
/// match router.pick("gpt-4o", &Request::default(), &mut rng) {
///     Pick::Deployment(d) => assert!(["a", "b"].contains(&d.id())),
///     other => panic!("{other:?}"),
/// }
/// assert!(matches!(router.pick("nope", &Request::default(), &mut rng), Pick::UnknownGroup));
/// # Ok::<(), fastllm_router::Error>(())
/// ```
#[derive(Debug)]
pub struct Router<C: Clock = SystemClock> {
    registry: Registry,
    state: RouterState<C>,
    settings: RouterSettings,
}

impl Router {
    /// A router over `deployments` with the system clock.
    ///
    /// # Errors
    ///
    /// [`crate::Error::DuplicateId`] when two deployments share an id.
    pub fn new(deployments: Vec<Deployment>, settings: RouterSettings) -> Result<Self> {
        Self::with_clock(deployments, settings, SystemClock::new())
    }
}

impl<C: Clock> Router<C> {
    /// A router reading time from `clock`.
    ///
    /// # Errors
    ///
    /// As [`Router::new`].
    pub fn with_clock(
        deployments: Vec<Deployment>,
        settings: RouterSettings,
        clock: C,
    ) -> Result<Self> {
        let state = RouterState::new(clock, settings.strategy.tracking(), settings.state);
        let registry = Registry::new();
        registry.replace(deployments, &state)?;
        Ok(Self {
            registry,
            state,
            settings,
        })
    }

    /// Replaces the configuration atomically; live state carries over by id.
    ///
    /// # Errors
    ///
    /// [`crate::Error::DuplicateId`]; the old configuration then stays.
    pub fn replace(&self, deployments: Vec<Deployment>) -> Result<()> {
        self.registry.replace(deployments, &self.state)
    }

    /// The registry.
    #[must_use]
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The live state.
    #[must_use]
    pub fn state(&self) -> &RouterState<C> {
        &self.state
    }

    /// The settings.
    #[must_use]
    pub fn settings(&self) -> &RouterSettings {
        &self.settings
    }

    /// The deployments of `group` a strategy may choose from now: not cooling down, not
    /// blocked, and of the lowest `order` (or `request.target_order`), in configuration order.
    /// `None` for an unknown group.
    #[must_use]
    pub fn healthy(&self, group: &str, request: &Request<'_>) -> Option<Vec<Arc<Deployment>>> {
        let snapshot = self.registry.load();
        let group = snapshot.group(group)?;
        let now = self.state.now_nanos();
        let (healthy, _) = self.filter(group, request, now);
        Some(healthy.iter().map(|m| Arc::clone(&m.deployment)).collect())
    }

    fn filter<'g>(
        &self,
        group: &'g ModelGroup,
        request: &Request<'_>,
        now: i64,
    ) -> (Vec<&'g Member>, usize) {
        self.state.note_cooldown_scan(now);
        let mut cooling_down = 0;
        let mut healthy: Vec<&Member> = Vec::with_capacity(group.members().len());
        for member in group.members() {
            if member.state.cooldown.is_active(now) {
                cooling_down += 1;
            } else if !member.deployment.blocked() {
                healthy.push(member);
            }
        }
        // get_order_filtered_deployments
        let target = request.target_order.or_else(|| {
            healthy
                .iter()
                .filter_map(|m| m.deployment.order())
                .fold(None, |min: Option<f64>, o| {
                    Some(min.map_or(o, |m| m.min(o)))
                })
        });
        if let Some(target) = target {
            healthy.retain(|m| m.deployment.order() == Some(target));
        }
        (healthy, cooling_down)
    }

    /// Picks a deployment of `group` for `request`, drawing randomness from `rng`.
    pub fn pick(
        &self,
        group: &str,
        request: &Request<'_>,
        rng: &mut (impl RouterRng + ?Sized),
    ) -> Pick {
        let snapshot = self.registry.load();
        self.pick_in(&snapshot, group, request, rng)
    }

    fn pick_in(
        &self,
        snapshot: &Snapshot,
        group: &str,
        request: &Request<'_>,
        rng: &mut (impl RouterRng + ?Sized),
    ) -> Pick {
        let Some(group) = snapshot.group(group) else {
            return Pick::UnknownGroup;
        };
        let now = self.state.now_nanos();
        let (healthy, cooling_down) = self.filter(group, request, now);
        if healthy.is_empty() {
            return Pick::NoHealthyDeployment { cooling_down };
        }
        let ctx = PickContext {
            group,
            state: &self.state,
            request,
            now,
            wall: self.state.wall(),
        };
        match self.settings.strategy.pick(&ctx, &healthy, rng) {
            Some(member) => Pick::Deployment(Arc::clone(&member.deployment)),
            None => Pick::NoneWithinLimits,
        }
    }

    /// Checks a picked deployment just before the call: for usage-based v2, counts the request
    /// against the deployment's rpm (`pre_call_check`: refused when the count already reached
    /// the limit, or when counting it goes over); then takes a `max_parallel_requests` slot.
    ///
    /// When v2 refuses, LiteLLM's async path also runs the cooldown rules for a 429 with the
    /// router's cooldown time; this does the same and counts nothing else.
    pub fn admit(&self, id: &str) -> Admission {
        self.admit_with_effects(id).0
    }

    /// [`Router::admit`], and what it changed besides the answer.
    pub(crate) fn admit_with_effects(&self, id: &str) -> (Admission, AdmitEffects) {
        let mut effects = AdmitEffects::default();
        let snapshot = self.registry.load();
        let Some((group, member)) = snapshot.member(id) else {
            return (Admission::UnknownDeployment, effects);
        };
        let d = &member.deployment;
        if self.state.tracking() == Tracking::UsageV2 {
            let now = self.state.now_nanos();
            let minute = self.state.wall().utc_minute();
            let limit = d.limit_first_set(Metric::Rpm).unwrap_or(f64::INFINITY);
            let ttl = crate::clock::secs_to_nanos(self.settings.state.usage_ttl.as_secs_f64());
            let over = match member.state.v2_rpm.get_opt(minute.0, now) {
                Some(local) if local as f64 >= limit => Some(local),
                _ => {
                    let result = member.state.v2_rpm.increment(minute.0, now, ttl, 1);
                    effects.counted = Some(minute);
                    (result as f64 > limit).then_some(result)
                }
            };
            if let Some(current) = over {
                let failure = Failure::new(Some(429), cooldown::ErrorKind::RateLimit);
                effects.cooldown = Some(cooldown::set_cooldown(
                    &self.state,
                    &self.settings.cooldown,
                    group,
                    member,
                    &failure,
                    self.settings.cooldown.cooldown_time(),
                ));
                return (Admission::OverRpm { limit, current }, effects);
            }
        }
        let admission =
            match d.effective_max_parallel_requests(self.settings.default_max_parallel_requests) {
                Some(limit) => {
                    if member.state.slots.try_increment_below(limit) {
                        Admission::Admitted(SlotGuard {
                            state: Some(Arc::clone(&member.state)),
                        })
                    } else {
                        Admission::MaxParallelReached { limit }
                    }
                }
                None => Admission::Admitted(SlotGuard { state: None }),
            };
        (admission, effects)
    }

    /// The call to `id` is going out (least-busy counts it in flight).
    pub fn on_request_start(&self, id: &str) {
        if let Some((_, member)) = self.registry.load().member(id) {
            self.state.request_started(&member.state);
        }
    }

    /// The call to `id` succeeded.
    pub fn on_success(&self, id: &str, success: &Success) {
        if let Some((group, member)) = self.registry.load().member(id) {
            self.state.request_finished(&member.state);
            self.state
                .record_success(group.name(), id, &member.state, success);
        }
    }

    /// The call to `id` failed: counts it and applies the cooldown rules.
    pub fn on_failure(&self, id: &str, failure: &Failure<'_>) -> CooldownDecision {
        let snapshot = self.registry.load();
        let found = snapshot.member(id);
        if let Some((_, member)) = found {
            self.state.request_finished(&member.state);
        }
        cooldown::evaluate(
            &self.state,
            &self.settings.cooldown,
            found.map(|(g, _)| g),
            found.map(|(_, m)| m),
            failure,
        )
    }

    /// Whether `id` is cooling down now.
    #[must_use]
    pub fn is_cooling_down(&self, id: &str) -> bool {
        let now = self.state.now_nanos();
        self.registry
            .load()
            .member(id)
            .is_some_and(|(_, m)| m.state.cooldown.is_active(now))
    }
}
