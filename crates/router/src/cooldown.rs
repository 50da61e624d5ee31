//! LiteLLM's cooldown rules (`router_utils/cooldown_handlers.py`), as a decision value.
//!
//! [`evaluate`] is `deployment_callback_on_failure` → `set_cooldown_deployments` →
//! `_should_run_cooldown_logic` → `_should_cooldown_deployment` →
//! `should_cooldown_based_on_allowed_fails_policy`, in that order, for one failed call.

use std::collections::HashSet;

use crate::clock::{self, Clock};
use crate::deployment::AllowedFailsPolicy;
use crate::registry::{Member, ModelGroup};
use crate::state::{FailCounter, RouterState};

/// `DEFAULT_COOLDOWN_TIME_SECONDS`.
pub const DEFAULT_COOLDOWN_TIME_SECONDS: f64 = 5.0;
/// `DEFAULT_FAILURE_THRESHOLD_PERCENT`: a failure rate above this cools a deployment down.
pub const DEFAULT_FAILURE_THRESHOLD_PERCENT: f64 = 0.5;
/// `DEFAULT_FAILURE_THRESHOLD_MINIMUM_REQUESTS`: the failure rate counts from this many
/// requests in the minute.
pub const DEFAULT_FAILURE_THRESHOLD_MINIMUM_REQUESTS: u64 = 5;
/// `SINGLE_DEPLOYMENT_TRAFFIC_FAILURE_THRESHOLD`: a group's only deployment is cooled down at
/// 100 % failures only from this many requests in the minute.
pub const SINGLE_DEPLOYMENT_TRAFFIC_FAILURE_THRESHOLD: u64 = 1000;
/// `litellm.allowed_fails`, the global default.
pub const DEFAULT_ALLOWED_FAILS: i64 = 3;

/// The LiteLLM exception family of a failure, which `allowed_fails_policy` is keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `BadRequestError` and its subclasses other than content policy (e.g.
    /// `ContextWindowExceededError`).
    BadRequest,
    /// `ContentPolicyViolationError` (a `BadRequestError`).
    ContentPolicyViolation,
    /// `AuthenticationError`.
    Authentication,
    /// `NotFoundError`.
    NotFound,
    /// `Timeout`.
    Timeout,
    /// `RateLimitError`.
    RateLimit,
    /// `InternalServerError`.
    InternalServer,
    /// `ServiceUnavailableError`.
    ServiceUnavailable,
    /// `BadGatewayError`.
    BadGateway,
    /// `CallerCredentialAuthenticationError` / `CallerCredentialRateLimitError`, or a failure
    /// of one caller's per-user provider session: never cools the deployment down.
    CallerScoped,
    /// `MalformedRequestFieldError` / `UnsupportedEndpointError`: refused before the call.
    RejectedBeforeCall,
    /// Anything else (`APIConnectionError`, `APIError`, ...).
    Other,
}

impl ErrorKind {
    /// The LiteLLM class name (`type(exception).__name__` for the base class of the family).
    #[must_use]
    pub fn class_name(self) -> &'static str {
        match self {
            Self::BadRequest => "BadRequestError",
            Self::ContentPolicyViolation => "ContentPolicyViolationError",
            Self::Authentication => "AuthenticationError",
            Self::NotFound => "NotFoundError",
            Self::Timeout => "Timeout",
            Self::RateLimit => "RateLimitError",
            Self::InternalServer => "InternalServerError",
            Self::ServiceUnavailable => "ServiceUnavailableError",
            Self::BadGateway => "BadGatewayError",
            Self::CallerScoped => "CallerCredentialAuthenticationError",
            Self::RejectedBeforeCall => "MalformedRequestFieldError",
            Self::Other => "APIError",
        }
    }

    /// The policy's entry for this family (`isinstance` walks up: a content-policy violation
    /// is also a bad request).
    #[must_use]
    pub fn allowed_fails_in(self, policy: &AllowedFailsPolicy) -> Option<i64> {
        match self {
            Self::ContentPolicyViolation => policy
                .ContentPolicyViolationErrorAllowedFails
                .or(policy.BadRequestErrorAllowedFails),
            Self::BadRequest => policy.BadRequestErrorAllowedFails,
            Self::Authentication => policy.AuthenticationErrorAllowedFails,
            Self::NotFound => policy.NotFoundErrorAllowedFails,
            Self::Timeout => policy.TimeoutErrorAllowedFails,
            Self::RateLimit => policy.RateLimitErrorAllowedFails,
            Self::InternalServer => policy.InternalServerErrorAllowedFails,
            Self::ServiceUnavailable => policy.ServiceUnavailableErrorAllowedFails,
            Self::BadGateway => policy.BadGatewayErrorAllowedFails,
            Self::CallerScoped | Self::RejectedBeforeCall | Self::Other => None,
        }
    }
}

/// One failed call, as the cooldown rules see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Failure<'a> {
    /// `exception.status_code`; `None` when the exception has none (LiteLLM's `""`).
    pub status: Option<u16>,
    /// The exception family.
    pub kind: ErrorKind,
    /// `type(exception).__name__` when it is a subclass of the family's class (e.g.
    /// `ContextWindowExceededError`); names the per-type allowed-fails counter.
    pub class_name: Option<&'a str>,
    /// `str(exception)`: a message containing `APIConnectionError` never cools down.
    pub message: &'a str,
    /// The `Retry-After` the provider sent, seconds.
    pub retry_after_secs: Option<f64>,
    /// The model group the caller asked for (for the fallback check).
    pub requested_group: Option<&'a str>,
}

impl<'a> Failure<'a> {
    /// A failure with this status and family, no message, no `Retry-After`.
    #[must_use]
    pub fn new(status: Option<u16>, kind: ErrorKind) -> Self {
        Self {
            status,
            kind,
            class_name: None,
            message: "",
            retry_after_secs: None,
            requested_group: None,
        }
    }
}

/// Router-wide cooldown settings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CooldownSettings {
    /// `Router(cooldown_time=...)`; unset or `0` means [`DEFAULT_COOLDOWN_TIME_SECONDS`].
    pub cooldown_time: Option<f64>,
    /// `Router(allowed_fails=...)` when passed; otherwise the global default applies and the
    /// failure-rate rules are used instead of counting.
    pub allowed_fails: Option<i64>,
    /// `Router(allowed_fails_policy=...)`.
    pub allowed_fails_policy: Option<AllowedFailsPolicy>,
    /// `Router(disable_cooldowns=True)`.
    pub disable_cooldowns: bool,
    /// `provider_default_deployment_ids`: never cooled down.
    pub exempt_ids: HashSet<String>,
    /// Model groups that have a fallback group configured (`_has_fallback_group`).
    pub groups_with_fallbacks: HashSet<String>,
}

impl CooldownSettings {
    /// `_core_cooldown_time`: `cooldown_time or DEFAULT_COOLDOWN_TIME_SECONDS`.
    #[must_use]
    pub fn cooldown_time(&self) -> f64 {
        match self.cooldown_time {
            Some(t) if t != 0.0 && !t.is_nan() => t,
            _ => DEFAULT_COOLDOWN_TIME_SECONDS,
        }
    }

    fn router_allowed_fails(&self) -> i64 {
        self.allowed_fails.unwrap_or(DEFAULT_ALLOWED_FAILS)
    }

    fn allowed_fails_for(&self, kind: ErrorKind) -> Option<i64> {
        self.allowed_fails_policy
            .as_ref()
            .and_then(|policy| kind.allowed_fails_in(policy))
    }
}

/// Why the cooldown rules were not run for a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// The deployment id is not in the registry.
    UnknownDeployment,
    /// A caller-scoped credential or session failed, not the deployment.
    CallerScoped,
    /// LiteLLM refused the request before calling the deployment.
    RejectedBeforeCall,
    /// The cooldown time in force is 0.
    ZeroCooldownTime,
    /// `disable_cooldowns` is set.
    Disabled,
    /// `_is_cooldown_required` is false for this status (most 4xx, no status, connection
    /// errors) and no deployment policy names the exception.
    NotRequired,
    /// The deployment is in `provider_default_deployment_ids`.
    Exempt,
}

/// Which rule cooled a deployment down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CooldownReason {
    /// A 429 in a group with more than one deployment.
    RateLimited,
    /// Every request this minute failed, with at least
    /// [`SINGLE_DEPLOYMENT_TRAFFIC_FAILURE_THRESHOLD`] of them.
    AllFailed,
    /// More than half of at least five requests this minute failed (multi-deployment groups).
    FailureRate,
    /// A status LiteLLM does not retry (`should_retry` is false: e.g. 401, 404).
    NotRetryable,
    /// More fails than `allowed_fails` (or the policy's entry) within the cooldown window.
    AllowedFailsExceeded,
}

/// What a failure does to its deployment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CooldownDecision {
    /// The cooldown rules did not run.
    Skipped(SkipReason),
    /// They ran; the deployment stays in rotation.
    Healthy,
    /// The deployment is cooling down for `secs` seconds.
    CooledDown {
        /// How long.
        secs: f64,
        /// Which rule.
        reason: CooldownReason,
    },
}

impl CooldownDecision {
    /// Whether the deployment was put in cooldown.
    #[must_use]
    pub fn is_cooldown(&self) -> bool {
        matches!(self, Self::CooledDown { .. })
    }
}

/// `_is_cooldown_required`.
#[must_use]
pub fn is_cooldown_required(status: Option<u16>, message: &str) -> bool {
    if message.contains("APIConnectionError") {
        return false;
    }
    let Some(status) = status else {
        return false;
    };
    if (400..500).contains(&status) {
        matches!(status, 429 | 401 | 402 | 408 | 404)
    } else {
        true
    }
}

/// `litellm.should_retry(status_code)`.
#[must_use]
pub fn should_retry(status: u16) -> bool {
    matches!(status, 408 | 409 | 429) || status >= 500
}

/// Applies LiteLLM's rules to one failure of `member` (in `group`): counts it, decides, and on
/// a cooldown writes it to the deployment's state.
///
/// The failure counter of the deployment is incremented first, as
/// `deployment_callback_on_failure` does, whatever the decision.
pub fn evaluate(
    state: &RouterState<impl Clock>,
    settings: &CooldownSettings,
    group: Option<&ModelGroup>,
    member: Option<&Member>,
    failure: &Failure<'_>,
) -> CooldownDecision {
    let (Some(group), Some(member)) = (group, member) else {
        return CooldownDecision::Skipped(SkipReason::UnknownDeployment);
    };
    let deployment = &member.deployment;
    state.record_failure(
        group.name(),
        deployment.id(),
        &member.state,
        failure.kind == ErrorKind::Timeout,
    );

    // Cooldown time: deployment config > Retry-After header > router default.
    let time_to_cooldown = match (deployment.cooldown_time(), failure.retry_after_secs) {
        (Some(t), _) if t >= 0.0 => t,
        (_, Some(t)) if t >= 0.0 => t,
        _ => settings.cooldown_time(),
    };

    set_cooldown(state, settings, group, member, failure, time_to_cooldown)
}

/// `set_cooldown_deployments`: runs `_should_run_cooldown_logic`, then
/// `_should_cooldown_deployment`, and on a cooldown writes it for `time_to_cooldown` seconds.
/// Unlike [`evaluate`] it does not count the failure.
pub fn set_cooldown(
    state: &RouterState<impl Clock>,
    settings: &CooldownSettings,
    group: &ModelGroup,
    member: &Member,
    failure: &Failure<'_>,
    time_to_cooldown: f64,
) -> CooldownDecision {
    let deployment = &member.deployment;
    // _should_run_cooldown_logic
    let skip = match failure.kind {
        ErrorKind::CallerScoped => Some(SkipReason::CallerScoped),
        ErrorKind::RejectedBeforeCall => Some(SkipReason::RejectedBeforeCall),
        _ if time_to_cooldown.abs() <= 1e-9 => Some(SkipReason::ZeroCooldownTime),
        _ if settings.disable_cooldowns => Some(SkipReason::Disabled),
        _ if !is_cooldown_required(failure.status, failure.message)
            && deployment
                .allowed_fails_policy()
                .and_then(|p| failure.kind.allowed_fails_in(p))
                .is_none() =>
        {
            Some(SkipReason::NotRequired)
        }
        _ if settings.exempt_ids.contains(deployment.id()) => Some(SkipReason::Exempt),
        _ => None,
    };
    if let Some(reason) = skip {
        return CooldownDecision::Skipped(reason);
    }

    match should_cool_down(state, settings, group, member, failure) {
        Some(reason) => {
            let now = state.now_nanos();
            // cast_exception_status_to_int: no status becomes 500.
            let status = failure.status.unwrap_or(500);
            member.state.cooldown.add(
                now,
                clock::secs_to_nanos(time_to_cooldown),
                status,
                time_to_cooldown,
                state.last_cooldown_scan(),
            );
            CooldownDecision::CooledDown {
                secs: time_to_cooldown,
                reason,
            }
        }
        None => CooldownDecision::Healthy,
    }
}

/// `_should_cooldown_deployment`.
fn should_cool_down(
    state: &RouterState<impl Clock>,
    settings: &CooldownSettings,
    group: &ModelGroup,
    member: &Member,
    failure: &Failure<'_>,
) -> Option<CooldownReason> {
    let deployment = &member.deployment;
    let single = group.is_single_deployment();
    let lone = single
        && !failure
            .requested_group
            .is_some_and(|g| settings.groups_with_fallbacks.contains(g));
    let status = failure.status.unwrap_or(500);
    let dep_policy = deployment.allowed_fails_policy();
    let dep_allowed_fails = deployment.allowed_fails();
    let from_dep_policy = dep_policy.and_then(|p| failure.kind.allowed_fails_in(p));
    let router_policy_value = settings.allowed_fails_for(failure.kind);

    if single && status == 402 && from_dep_policy.is_none() && router_policy_value.is_none() {
        return None;
    }

    let exceeded = |override_fails: Option<i64>, override_ttl: Option<f64>, key: FailCounter| {
        // should_cooldown_based_on_allowed_fails_policy
        let allowed = override_fails
            .or(router_policy_value)
            .unwrap_or_else(|| settings.router_allowed_fails());
        let ttl = override_ttl.unwrap_or_else(|| settings.cooldown_time());
        let counter = member.state.fail_counter(&key);
        let fails = counter.increment(0, state.now_nanos(), clock::secs_to_nanos(ttl), 1);
        // Counts stay far below i64::MAX.
        (fails as i64 > allowed).then_some(CooldownReason::AllowedFailsExceeded)
    };

    // Deployment-level policy first; it overrides the router's.
    if dep_policy.is_some() || dep_allowed_fails.is_some() {
        if from_dep_policy.is_none()
            && lone
            && (dep_allowed_fails.is_some() || router_policy_value.is_none())
        {
            return None;
        }
        let (override_fails, key) = match (from_dep_policy, dep_allowed_fails) {
            (Some(n), _) => (
                Some(n),
                FailCounter::Exception(
                    failure
                        .class_name
                        .unwrap_or_else(|| failure.kind.class_name())
                        .to_owned(),
                ),
            ),
            (None, Some(n)) => (Some(n), FailCounter::Generic),
            (None, None) => (None, FailCounter::Base),
        };
        return exceeded(override_fails, deployment.cooldown_time(), key);
    }

    // Base case: no allowed-fails configuration on the router.
    if settings.allowed_fails_policy.is_none() && settings.allowed_fails.is_none() {
        let now = state.now_nanos();
        let successes = member.state.successes.get(0, now);
        let fails = member.state.failures.get(0, now);
        let total = successes + fails;
        let percent_fails = if total > 0 {
            fails as f64 / total as f64
        } else {
            0.0
        };
        return if status == 429 && !single {
            Some(CooldownReason::RateLimited)
        } else if percent_fails == 1.0 && total >= SINGLE_DEPLOYMENT_TRAFFIC_FAILURE_THRESHOLD {
            Some(CooldownReason::AllFailed)
        } else if percent_fails > DEFAULT_FAILURE_THRESHOLD_PERCENT
            && total >= DEFAULT_FAILURE_THRESHOLD_MINIMUM_REQUESTS
            && !single
        {
            Some(CooldownReason::FailureRate)
        } else if !should_retry(status) {
            Some(CooldownReason::NotRetryable)
        } else {
            None
        };
    }

    if lone && router_policy_value.is_none() {
        return None;
    }
    exceeded(None, None, FailCounter::Base)
}
