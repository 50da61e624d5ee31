//! The routing strategies: which healthy deployment of a group serves a request.
//!
//! Each strategy is a port of LiteLLM 1.109.3's, function by function; the module of each names
//! the LiteLLM function it mirrors. They receive the already-filtered healthy deployments (not
//! cooling down, not blocked, lowest `order`) and return one of them, or `None` when none is
//! within its limits.

pub mod cost;
pub mod latency;
pub mod least_busy;
pub mod simple_shuffle;
pub mod usage_v1;
pub mod usage_v2;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::clock::{Clock, SystemClock, WallTime};
use crate::error::{Error, Result};
use crate::registry::{Member, ModelGroup};
use crate::rng::RouterRng;
use crate::state::{IdMap, RouterState, Tracking};

use cost::CostMap;
use latency::LatencyArgs;

/// What the strategies need to know about one request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Request<'a> {
    /// `token_counter(messages, input)`: the prompt's tokens, for the tpm checks (0 if unknown).
    pub input_tokens: u64,
    /// `stream=True`: latency-based routing ranks by time to first token.
    pub stream: bool,
    /// `_router_weights`: per-request weights for simple-shuffle.
    pub weights: Option<&'a RouterWeights>,
    /// `_target_order`: only deployments with this `order`.
    pub target_order: Option<f64>,
}

/// The routing strategy, with its arguments.
#[derive(Clone)]
#[non_exhaustive]
pub enum Strategy {
    /// `simple-shuffle` (the default): weighted random by request weights, `weight`, `rpm`,
    /// `tpm`, else uniform.
    SimpleShuffle,
    /// `least-busy`: fewest requests in flight.
    LeastBusy,
    /// `latency-based-routing`: lowest average latency (time to first token for streams).
    LatencyBased(LatencyArgs),
    /// `usage-based-routing`: lowest tokens this minute, within tpm/rpm.
    UsageBasedV1,
    /// `usage-based-routing-v2`: lowest tokens this minute, within tpm/rpm, random among ties.
    UsageBasedV2,
    /// `cost-based-routing`: cheapest per token, within tpm/rpm.
    CostBased(Arc<dyn CostMap>),
}

impl fmt::Debug for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SimpleShuffle => f.write_str("SimpleShuffle"),
            Self::LeastBusy => f.write_str("LeastBusy"),
            Self::LatencyBased(args) => f.debug_tuple("LatencyBased").field(args).finish(),
            Self::UsageBasedV1 => f.write_str("UsageBasedV1"),
            Self::UsageBasedV2 => f.write_str("UsageBasedV2"),
            Self::CostBased(_) => f.write_str("CostBased(..)"),
        }
    }
}

impl Strategy {
    /// LiteLLM's name for it (`routing_strategy`).
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::SimpleShuffle => "simple-shuffle",
            Self::LeastBusy => "least-busy",
            Self::LatencyBased(_) => "latency-based-routing",
            Self::UsageBasedV1 => "usage-based-routing",
            Self::UsageBasedV2 => "usage-based-routing-v2",
            Self::CostBased(_) => "cost-based-routing",
        }
    }

    /// Which usage its LiteLLM logger records.
    #[must_use]
    pub fn tracking(&self) -> Tracking {
        match self {
            Self::SimpleShuffle => Tracking::None,
            Self::LeastBusy => Tracking::LeastBusy,
            Self::LatencyBased(_) => Tracking::Latency,
            Self::UsageBasedV1 => Tracking::UsageV1,
            Self::UsageBasedV2 => Tracking::UsageV2,
            Self::CostBased(_) => Tracking::Cost,
        }
    }

    /// Picks among `healthy` (members of `group`).
    pub fn pick<'a>(
        &self,
        ctx: &PickContext<'_, impl Clock>,
        healthy: &[&'a Member],
        rng: &mut (impl RouterRng + ?Sized),
    ) -> Option<&'a Member> {
        if healthy.is_empty() {
            return None;
        }
        match self {
            Self::SimpleShuffle => {
                simple_shuffle::pick(ctx.group.name(), healthy, ctx.request.weights, rng)
            }
            Self::LeastBusy => least_busy::pick(healthy),
            Self::LatencyBased(args) => latency::pick(ctx, args, healthy, rng),
            Self::UsageBasedV1 => usage_v1::pick(ctx, healthy),
            Self::UsageBasedV2 => usage_v2::pick(ctx, healthy, rng),
            Self::CostBased(map) => cost::pick(ctx, &**map, healthy),
        }
    }
}

/// Everything a strategy reads besides the candidates.
#[derive(Debug)]
pub struct PickContext<'a, C: Clock = SystemClock> {
    /// The group being routed.
    pub group: &'a ModelGroup,
    /// Live state.
    pub state: &'a RouterState<C>,
    /// The request.
    pub request: &'a Request<'a>,
    /// Monotonic now, nanoseconds.
    pub now: i64,
    /// Wall-clock now.
    pub wall: WallTime,
}

/// Per-request weights (`_router_weights`): model group → deployment id → weight.
///
/// Validated as LiteLLM's `validate_router_weights` does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RouterWeights {
    groups: HashMap<String, HashMap<String, f64>>,
}

impl RouterWeights {
    /// Parses and validates `{"group": {"deployment-id": weight}}`: names non-blank strings,
    /// weights finite numbers `>= 0` (not booleans), and each non-empty group with at least one
    /// positive weight.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] where LiteLLM raises a validation error.
    pub fn from_json(value: &Value) -> Result<Self> {
        let blank = |s: &str| s.chars().all(char::is_whitespace);
        let Value::Object(groups) = value else {
            return Err(Error::invalid("_router_weights", "must be an object"));
        };
        let mut out = HashMap::with_capacity(groups.len());
        for (group, weights) in groups {
            let path = format!("_router_weights.{group}");
            if blank(group) {
                return Err(Error::invalid(path, "group name must not be blank"));
            }
            let Value::Object(weights) = weights else {
                return Err(Error::invalid(path, "must be an object"));
            };
            let mut parsed = HashMap::with_capacity(weights.len());
            for (id, w) in weights {
                let wpath = format!("{path}.{id}");
                if blank(id) {
                    return Err(Error::invalid(wpath, "deployment id must not be blank"));
                }
                let Some(w) = w.as_f64().filter(|_| w.is_number()) else {
                    return Err(Error::invalid(wpath, "must be a number"));
                };
                if !w.is_finite() || w < 0.0 {
                    return Err(Error::invalid(wpath, "must be a finite number >= 0"));
                }
                parsed.insert(id.clone(), w);
            }
            if !parsed.is_empty() && !parsed.values().any(|w| *w > 0.0) {
                return Err(Error::invalid(
                    path,
                    "each nonempty weights group must contain at least one positive weight",
                ));
            }
            out.insert(group.clone(), parsed);
        }
        Ok(Self { groups: out })
    }

    /// Weights for one group.
    #[must_use]
    pub fn group(&self, name: &str) -> Option<&HashMap<String, f64>> {
        self.groups.get(name)
    }
}

/// Python's `sum()` of floats on 3.11: a plain left fold from 0.
pub(crate) fn py_sum(values: impl IntoIterator<Item = f64>) -> f64 {
    values.into_iter().fold(0.0, |acc, v| acc + v)
}

/// `limit` (`None`: unlimited) as the float LiteLLM compares against.
fn or_inf(limit: Option<f64>) -> f64 {
    limit.unwrap_or(f64::INFINITY)
}

/// One candidate's usage this minute and its limits, as the usage-based, latency-based and
/// cost-based strategies compare them (as Python floats; `None` limits are unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Usage {
    /// Tokens used this minute.
    pub tpm: f64,
    /// Requests made this minute; `None` when no count was stored.
    pub rpm: Option<f64>,
    /// The deployment's tokens-per-minute limit.
    pub tpm_limit: Option<f64>,
    /// The deployment's requests-per-minute limit.
    pub rpm_limit: Option<f64>,
}

impl Usage {
    /// usage-based v1 and v2 (`LowestTPMLoggingHandler{,_v2}`): within its limits unless
    /// `tpm + input_tokens > tpm limit`, or a stored `rpm + 1 >= rpm limit`.
    #[must_use]
    pub fn within_limits(&self, input_tokens: f64) -> bool {
        !(self.tpm + input_tokens > or_inf(self.tpm_limit)
            || self
                .rpm
                .is_some_and(|rpm| rpm + 1.0 >= or_inf(self.rpm_limit)))
    }

    /// latency-based and cost-based (limits read as `a or b or float("inf")`, so a zero limit
    /// is no limit): within its limits unless `tpm + input_tokens > tpm limit` or
    /// `rpm + 1 > rpm limit` (an absent rpm counts as 0).
    #[must_use]
    pub fn within_minute_limits(&self, input_tokens: f64) -> bool {
        let open = |limit: Option<f64>| or_inf(limit.filter(|v| *v != 0.0));
        !(self.tpm + input_tokens > open(self.tpm_limit)
            || self.rpm.unwrap_or(0.0) + 1.0 > open(self.rpm_limit))
    }
}

/// Python's `min(items, key=...)` and `sorted(items, key=...)[0]`: the key of the first item
/// with the lowest value (compared with `<`, so the first of equals). Stops at the first `Err`,
/// which a caller gathering its inputs from fallible reads passes through.
///
/// # Errors
///
/// The first `Err` among `items`.
pub fn first_lowest<K, T: PartialOrd, E>(
    items: impl IntoIterator<Item = Result<(K, T), E>>,
) -> Result<Option<K>, E> {
    let mut best: Option<(K, T)> = None;
    for item in items {
        let (key, value) = item?;
        if best.as_ref().is_none_or(|(_, lowest)| value < *lowest) {
            best = Some((key, value));
        }
    }
    Ok(best.map(|(key, _)| key))
}

/// Python's ordering of two floats in `sort`/`sorted`: by `<`, equal when neither is less (so
/// `-0.0` and `0.0` keep their order in a stable sort).
#[must_use]
pub fn python_order(a: f64, b: f64) -> std::cmp::Ordering {
    a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal)
}

/// The value of an infallible gather.
pub(crate) fn infallible<T>(result: std::result::Result<T, std::convert::Infallible>) -> T {
    match result {
        Ok(value) => value,
        Err(never) => match never {},
    }
}

/// The cached dict a strategy walks, lined up with the healthy members.
///
/// LiteLLM adds each healthy deployment missing from the dict (`all_deployments[id] = ...`);
/// when the dict came from the cache (`persisted`), those additions stay in it. Returns, for
/// each entry position, the healthy member with that id (LiteLLM's
/// `for m in healthy: if item == id: _deployment = m`), or `None` for entries of deployments
/// that are not healthy now. Without a cached dict the walk is over `healthy` itself, in order,
/// and nothing is stored.
pub(crate) fn align<'a, V>(
    persisted: Option<&mut IdMap<V>>,
    healthy: &[&'a Member],
    missing: impl Fn() -> V,
) -> Vec<Option<&'a Member>> {
    let Some(entries) = persisted else {
        return healthy.iter().copied().map(Some).collect();
    };
    let mut aligned: Vec<Option<&'a Member>> = vec![None; entries.len()];
    for member in healthy {
        let id = member.deployment.id();
        let index = match entries.get_index_of(id) {
            Some(index) => index,
            None => entries.insert_full(Arc::from(id), missing()).0,
        };
        if index >= aligned.len() {
            aligned.resize(index + 1, None);
        }
        aligned[index] = Some(member);
    }
    aligned
}

#[cfg(all(test, not(loom)))]
pub(crate) mod test_support {
    use std::sync::Arc;

    use crate::clock::FakeClock;
    use crate::deployment::Deployment;
    use crate::registry::{Member, Registry, Snapshot};
    use crate::state::{RouterState, StateConfig, Success, Tracking};
    use crate::strategy::{PickContext, Request};

    pub(crate) struct Fixture {
        pub clock: Arc<FakeClock>,
        pub state: RouterState<Arc<FakeClock>>,
        pub snapshot: Arc<Snapshot>,
    }

    impl Fixture {
        pub(crate) fn new(tracking: Tracking, deployments: Vec<Deployment>) -> Self {
            let clock = Arc::new(FakeClock::at_utc(2024, 5, 17, 9, 4, 0));
            let state = RouterState::new(clock.clone(), tracking, StateConfig::default());
            let registry = Registry::new();
            registry.replace(deployments, &state).unwrap();
            Self {
                clock,
                state,
                snapshot: registry.load_full(),
            }
        }

        pub(crate) fn members(&self, group: &str) -> Vec<&Member> {
            self.snapshot
                .group(group)
                .unwrap()
                .members()
                .iter()
                .collect()
        }

        pub(crate) fn member(&self, id: &str) -> &Member {
            self.snapshot.member(id).unwrap().1
        }

        /// The context of a pick in group `g`, now.
        pub(crate) fn ctx<'a>(
            &'a self,
            request: &'a Request<'a>,
        ) -> PickContext<'a, Arc<FakeClock>> {
            PickContext {
                group: self.snapshot.group("g").unwrap(),
                state: &self.state,
                request,
                now: self.state.now_nanos(),
                wall: self.state.wall(),
            }
        }

        /// Records a success of `id` (group `g`) that used `tokens` tokens.
        pub(crate) fn record_tokens(&self, id: &str, tokens: u64) {
            self.state.record_success(
                "g",
                id,
                &self.member(id).state,
                &Success {
                    total_tokens: tokens,
                    ..Success::default()
                },
            );
        }
    }

    pub(crate) fn dep(id: &str) -> crate::deployment::DeploymentBuilder {
        Deployment::builder(id, "g", format!("openai/{id}"))
    }
}
