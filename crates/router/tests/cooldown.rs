//! LiteLLM's cooldown rules, case by case. Each expectation is worked out by hand from
//! `router_utils/cooldown_handlers.py` (1.109.3); the function deciding it is named per test.

use std::sync::Arc;
use std::time::Duration;

use fastllm_router::strategy::{Request, Strategy};
use fastllm_router::{
    AllowedFailsPolicy, CooldownDecision, CooldownReason, CooldownSettings, Deployment, ErrorKind,
    Failure, FakeClock, Pick, Router, RouterSettings, SkipReason, StdRouterRng,
};

fn router(
    deployments: Vec<Deployment>,
    cooldown: CooldownSettings,
) -> (Arc<FakeClock>, Router<Arc<FakeClock>>) {
    let clock = Arc::new(FakeClock::at_utc(2024, 5, 17, 9, 4, 0));
    let settings = RouterSettings {
        cooldown,
        ..RouterSettings::default()
    };
    let router = Router::with_clock(deployments, settings, clock.clone()).unwrap();
    (clock, router)
}

fn dep(id: &str, group: &str) -> Deployment {
    Deployment::builder(id, group, format!("openai/{id}"))
        .build()
        .unwrap()
}

fn two() -> Vec<Deployment> {
    vec![dep("a", "g"), dep("b", "g")]
}

fn fail(status: Option<u16>, kind: ErrorKind) -> Failure<'static> {
    Failure::new(status, kind)
}

fn cooled(secs: f64, reason: CooldownReason) -> CooldownDecision {
    CooldownDecision::CooledDown { secs, reason }
}

#[test]
fn rate_limit_in_multi_deployment_group() {
    // _should_cooldown_deployment base case: 429 and not single-deployment -> cooldown for
    // DEFAULT_COOLDOWN_TIME_SECONDS (5).
    let (clock, r) = router(two(), CooldownSettings::default());
    let d = r.on_failure("a", &fail(Some(429), ErrorKind::RateLimit));
    assert_eq!(d, cooled(5.0, CooldownReason::RateLimited));
    let mut rng = StdRouterRng::seeded(1);
    for _ in 0..50 {
        let pick = r.pick("g", &Request::default(), &mut rng);
        assert_eq!(pick.deployment().unwrap().id(), "b");
    }
    clock.advance(Duration::from_millis(4999));
    assert!(r.is_cooling_down("a"));
    clock.advance(Duration::from_millis(1));
    assert!(!r.is_cooling_down("a"));
}

#[test]
fn rate_limit_in_single_deployment_group_is_retried() {
    // Single deployment: the 429 rule and the failure-rate rule do not apply, and
    // should_retry(429) is true -> no cooldown.
    let (_, r) = router(vec![dep("a", "g")], CooldownSettings::default());
    assert_eq!(
        r.on_failure("a", &fail(Some(429), ErrorKind::RateLimit)),
        CooldownDecision::Healthy
    );
    // 402 on a single deployment without any policy: never (the explicit 402 early return).
    assert_eq!(
        r.on_failure("a", &fail(Some(402), ErrorKind::BadRequest)),
        CooldownDecision::Healthy
    );
}

#[test]
fn non_retryable_statuses_cool_down_even_alone() {
    // _is_cooldown_required(401) is true; should_retry(401) is false -> cooldown.
    let (_, r) = router(vec![dep("a", "g")], CooldownSettings::default());
    assert_eq!(
        r.on_failure("a", &fail(Some(401), ErrorKind::Authentication)),
        cooled(5.0, CooldownReason::NotRetryable)
    );
    let mut rng = StdRouterRng::seeded(1);
    assert!(matches!(
        r.pick("g", &Request::default(), &mut rng),
        Pick::NoHealthyDeployment { cooling_down: 1 }
    ));
}

#[test]
fn not_required_statuses_are_skipped() {
    // _is_cooldown_required: most 4xx, no status, and "APIConnectionError" messages -> False.
    let (_, r) = router(two(), CooldownSettings::default());
    let skipped = CooldownDecision::Skipped(SkipReason::NotRequired);
    assert_eq!(
        r.on_failure("a", &fail(Some(400), ErrorKind::BadRequest)),
        skipped
    );
    assert_eq!(
        r.on_failure("a", &fail(Some(422), ErrorKind::Other)),
        skipped
    );
    assert_eq!(r.on_failure("a", &fail(None, ErrorKind::Other)), skipped);
    let conn = Failure {
        message: "litellm.APIConnectionError: connection reset",
        ..fail(Some(500), ErrorKind::Other)
    };
    assert_eq!(r.on_failure("a", &conn), skipped);
    assert_eq!(
        r.on_failure("a", &fail(Some(429), ErrorKind::CallerScoped)),
        CooldownDecision::Skipped(SkipReason::CallerScoped)
    );
    assert_eq!(
        r.on_failure("zzz", &fail(Some(429), ErrorKind::RateLimit)),
        CooldownDecision::Skipped(SkipReason::UnknownDeployment)
    );
}

#[test]
fn failure_rate_over_half_with_five_requests() {
    // Base case: percent_fails > 0.5 and total >= 5 in a multi-deployment group.
    let (_, r) = router(two(), CooldownSettings::default());
    r.on_success("a", &Default::default());
    r.on_success("a", &Default::default());
    let f = fail(Some(500), ErrorKind::InternalServer);
    assert_eq!(r.on_failure("a", &f), CooldownDecision::Healthy); // 1/3
    assert_eq!(r.on_failure("a", &f), CooldownDecision::Healthy); // 2/4
    assert_eq!(
        r.on_failure("a", &f),
        cooled(5.0, CooldownReason::FailureRate)
    ); // 3/5
}

#[test]
fn failure_rate_exactly_half_is_not_enough() {
    let (_, r) = router(two(), CooldownSettings::default());
    for _ in 0..3 {
        r.on_success("a", &Default::default());
    }
    let f = fail(Some(503), ErrorKind::ServiceUnavailable);
    for _ in 0..3 {
        assert_eq!(r.on_failure("a", &f), CooldownDecision::Healthy); // ends at 3/6 = 0.5
    }
}

#[test]
fn single_deployment_cools_only_at_all_failed_with_traffic() {
    // percent_fails == 1.0 and total >= SINGLE_DEPLOYMENT_TRAFFIC_FAILURE_THRESHOLD (1000).
    let (clock, r) = router(vec![dep("a", "g")], CooldownSettings::default());
    let f = fail(Some(500), ErrorKind::InternalServer);
    for _ in 0..999 {
        assert_eq!(r.on_failure("a", &f), CooldownDecision::Healthy);
    }
    assert_eq!(
        r.on_failure("a", &f),
        cooled(5.0, CooldownReason::AllFailed)
    );
    // The failure window is 60 s from its first failure: after it, counting starts over.
    clock.advance(Duration::from_secs(61));
    assert_eq!(r.on_failure("a", &f), CooldownDecision::Healthy);
}

#[test]
fn router_allowed_fails_counts_within_cooldown_window() {
    // Router(allowed_fails=1): should_cooldown_based_on_allowed_fails_policy, counter
    // `deployment:{id}:allowed_fails` with TTL cooldown_time; cooldown when fails > 1.
    let settings = CooldownSettings {
        allowed_fails: Some(1),
        ..CooldownSettings::default()
    };
    let (clock, r) = router(two(), settings);
    let f = fail(Some(429), ErrorKind::RateLimit);
    assert_eq!(r.on_failure("a", &f), CooldownDecision::Healthy);
    clock.advance(Duration::from_secs(6)); // the 5 s counter expired
    assert_eq!(r.on_failure("a", &f), CooldownDecision::Healthy);
    assert_eq!(
        r.on_failure("a", &f),
        cooled(5.0, CooldownReason::AllowedFailsExceeded)
    );
}

#[test]
fn router_allowed_fails_on_lone_deployment_needs_a_policy_entry() {
    // Not base case, lone deployment, allowed_fails_for(exception) is None -> no cooldown.
    let settings = CooldownSettings {
        allowed_fails: Some(0),
        ..CooldownSettings::default()
    };
    let (_, r) = router(vec![dep("a", "g")], settings.clone());
    assert_eq!(
        r.on_failure("a", &fail(Some(429), ErrorKind::RateLimit)),
        CooldownDecision::Healthy
    );
    // With a policy entry for the exception it counts: 1 > 0.
    let with_policy = CooldownSettings {
        allowed_fails_policy: Some(AllowedFailsPolicy {
            RateLimitErrorAllowedFails: Some(0),
            ..AllowedFailsPolicy::default()
        }),
        ..settings
    };
    let (_, r) = router(vec![dep("a", "g")], with_policy);
    assert_eq!(
        r.on_failure("a", &fail(Some(429), ErrorKind::RateLimit)),
        cooled(5.0, CooldownReason::AllowedFailsExceeded)
    );
}

#[test]
fn lone_deployment_with_fallbacks_is_not_lone() {
    // _has_fallback_group: a single deployment whose group has fallbacks counts fails.
    let settings = CooldownSettings {
        allowed_fails: Some(0),
        groups_with_fallbacks: ["g".to_owned()].into(),
        ..CooldownSettings::default()
    };
    let (_, r) = router(vec![dep("a", "g")], settings);
    let f = Failure {
        requested_group: Some("g"),
        ..fail(Some(429), ErrorKind::RateLimit)
    };
    assert_eq!(
        r.on_failure("a", &f),
        cooled(5.0, CooldownReason::AllowedFailsExceeded)
    );
}

#[test]
fn deployment_policy_overrides_and_opts_in_4xx() {
    // _has_explicit_allowed_fails_policy_for_exception: a deployment-level policy entry for
    // BadRequestError makes a 400 eligible; the counter is `...:allowed_fails:BadRequestError`.
    let policy = AllowedFailsPolicy {
        BadRequestErrorAllowedFails: Some(1),
        ..AllowedFailsPolicy::default()
    };
    let d = Deployment::builder("a", "g", "m")
        .allowed_fails_policy(policy)
        .cooldown_time(30.0)
        .build()
        .unwrap();
    let (_, r) = router(vec![d, dep("b", "g")], CooldownSettings::default());
    let f = fail(Some(400), ErrorKind::BadRequest);
    assert_eq!(r.on_failure("a", &f), CooldownDecision::Healthy);
    // Deployment cooldown_time (30) wins over the router default.
    assert_eq!(
        r.on_failure("a", &f),
        cooled(30.0, CooldownReason::AllowedFailsExceeded)
    );
    // A content-policy violation is a BadRequestError too (isinstance), and has its own counter.
    let cp = Failure {
        class_name: Some("ContentPolicyViolationError"),
        ..fail(Some(400), ErrorKind::ContentPolicyViolation)
    };
    assert_eq!(r.on_failure("a", &cp), CooldownDecision::Healthy);
}

#[test]
fn deployment_generic_allowed_fails_defers_on_lone_deployment() {
    // _should_cooldown_based_on_deployment_policy: no policy entry, lone deployment and a
    // generic allowed_fails -> False.
    let d = Deployment::builder("a", "g", "m")
        .allowed_fails(0)
        .build()
        .unwrap();
    let (_, r) = router(vec![d], CooldownSettings::default());
    assert_eq!(
        r.on_failure("a", &fail(Some(500), ErrorKind::InternalServer)),
        CooldownDecision::Healthy
    );
    let d = Deployment::builder("a", "g", "m")
        .allowed_fails(0)
        .build()
        .unwrap();
    let (_, r) = router(vec![d, dep("b", "g")], CooldownSettings::default());
    assert_eq!(
        r.on_failure("a", &fail(Some(500), ErrorKind::InternalServer)),
        cooled(5.0, CooldownReason::AllowedFailsExceeded)
    );
}

#[test]
fn cooldown_time_sources() {
    // deployment_callback_on_failure: deployment cooldown_time (>= 0) > Retry-After (>= 0) >
    // router cooldown_time (0 means the default 5).
    let settings = CooldownSettings {
        cooldown_time: Some(0.0),
        ..CooldownSettings::default()
    };
    let (_, r) = router(two(), settings);
    let with_header = Failure {
        retry_after_secs: Some(30.0),
        ..fail(Some(429), ErrorKind::RateLimit)
    };
    assert_eq!(
        r.on_failure("a", &with_header),
        cooled(30.0, CooldownReason::RateLimited)
    );
    assert_eq!(
        r.on_failure("b", &fail(Some(429), ErrorKind::RateLimit)),
        cooled(5.0, CooldownReason::RateLimited)
    );

    let zero = Deployment::builder("z", "h", "m")
        .cooldown_time(0.0)
        .build()
        .unwrap();
    let (_, r) = router(vec![zero, dep("y", "h")], CooldownSettings::default());
    assert_eq!(
        r.on_failure("z", &with_header),
        CooldownDecision::Skipped(SkipReason::ZeroCooldownTime)
    );
}

#[test]
fn disabled_and_exempt() {
    let (_, r) = router(
        two(),
        CooldownSettings {
            disable_cooldowns: true,
            ..CooldownSettings::default()
        },
    );
    assert_eq!(
        r.on_failure("a", &fail(Some(429), ErrorKind::RateLimit)),
        CooldownDecision::Skipped(SkipReason::Disabled)
    );
    let (_, r) = router(
        two(),
        CooldownSettings {
            exempt_ids: ["a".to_owned()].into(),
            ..CooldownSettings::default()
        },
    );
    assert_eq!(
        r.on_failure("a", &fail(Some(429), ErrorKind::RateLimit)),
        CooldownDecision::Skipped(SkipReason::Exempt)
    );
}

#[test]
fn recooling_keeps_the_first_ttl() {
    // CooldownCache.add_deployment_to_cooldown: set_cache keeps an unexpired TTL.
    let (clock, r) = router(two(), CooldownSettings::default());
    let short = fail(Some(429), ErrorKind::RateLimit);
    r.on_failure("a", &short);
    clock.advance(Duration::from_secs(1));
    let long = Failure {
        retry_after_secs: Some(60.0),
        ..short
    };
    assert_eq!(
        r.on_failure("a", &long),
        cooled(60.0, CooldownReason::RateLimited)
    );
    clock.advance(Duration::from_millis(4001));
    assert!(
        !r.is_cooling_down("a"),
        "the first write's 5 s TTL still bounds it"
    );
}

#[test]
fn v2_admission_counts_rpm_before_the_call() {
    // LowestTPMLoggingHandler_v2.async_pre_call_check: refuse when the local count already
    // reached rpm; else count it and refuse when the new count exceeds rpm. The refusal then
    // runs set_cooldown_deployments with a 429.
    let clock = Arc::new(FakeClock::at_utc(2024, 5, 17, 9, 4, 0));
    let settings = RouterSettings {
        strategy: Strategy::UsageBasedV2,
        ..RouterSettings::default()
    };
    let a = Deployment::builder("a", "g", "m").rpm(2).build().unwrap();
    let r = Router::with_clock(vec![a, dep("b", "g")], settings, clock.clone()).unwrap();
    assert!(matches!(
        r.admit("a"),
        fastllm_router::Admission::Admitted(_)
    ));
    assert!(matches!(
        r.admit("a"),
        fastllm_router::Admission::Admitted(_)
    ));
    match r.admit("a") {
        fastllm_router::Admission::OverRpm { limit, current } => {
            assert_eq!((limit, current), (2.0, 2));
        }
        other => panic!("{other:?}"),
    }
    assert!(r.is_cooling_down("a"));
}

#[test]
fn max_parallel_requests_slots() {
    let a = Deployment::builder("a", "g", "m")
        .max_parallel_requests(1)
        .build()
        .unwrap();
    let (_, r) = router(vec![a], CooldownSettings::default());
    let first = r.admit("a");
    assert!(matches!(first, fastllm_router::Admission::Admitted(_)));
    assert!(matches!(
        r.admit("a"),
        fastllm_router::Admission::MaxParallelReached { limit: 1 }
    ));
    drop(first);
    assert!(matches!(
        r.admit("a"),
        fastllm_router::Admission::Admitted(_)
    ));
}
