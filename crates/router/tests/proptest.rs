//! Properties: a pick never returns a cooled-down or over-limit deployment; weights are
//! respected; a configuration swap never exposes a half-built registry.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use fastllm_router::litellm::PyRandom;
use fastllm_router::strategy::cost::NoCostMap;
use fastllm_router::strategy::latency::LatencyArgs;
use fastllm_router::strategy::{Request, Strategy as RoutingStrategy};
use fastllm_router::{
    CooldownSettings, Deployment, ErrorKind, Failure, FakeClock, Metric, Pick, Registry, Router,
    RouterSettings, RouterState, StateConfig, StdRouterRng, Success, Tracking,
};
use proptest::prelude::*;

fn strategies() -> Vec<RoutingStrategy> {
    vec![
        RoutingStrategy::SimpleShuffle,
        RoutingStrategy::LeastBusy,
        RoutingStrategy::LatencyBased(LatencyArgs {
            lowest_latency_buffer: 0.5,
            ttft_percentile: None,
        }),
        RoutingStrategy::UsageBasedV1,
        RoutingStrategy::UsageBasedV2,
        RoutingStrategy::CostBased(Arc::new(NoCostMap)),
    ]
}

#[derive(Debug, Clone)]
struct Spec {
    rpm: Option<i64>,
    tpm: Option<i64>,
    weight: Option<f64>,
    cooled: bool,
    successes: u64,
    tokens: u64,
}

fn spec() -> impl proptest::strategy::Strategy<Value = Spec> {
    (
        proptest::option::of(1i64..6),
        proptest::option::of(1i64..400),
        proptest::option::of(0.0f64..10.0),
        any::<bool>(),
        0u64..6,
        0u64..120,
    )
        .prop_map(|(rpm, tpm, weight, cooled, successes, tokens)| Spec {
            rpm,
            tpm,
            weight,
            cooled,
            successes,
            tokens,
        })
}

/// Requests and tokens this minute as each strategy counts them (`requests`: what v2's
/// `admit` counted; the others count successes).
fn within_limits(
    strategy: &RoutingStrategy,
    d: &Deployment,
    s: &Spec,
    requests: u64,
    input_tokens: u64,
) -> bool {
    let tokens = (s.successes * s.tokens) as f64;
    let counted = requests;
    let requests = requests as f64;
    match strategy {
        RoutingStrategy::UsageBasedV1 | RoutingStrategy::UsageBasedV2 => {
            let tpm = d.limit_first_set(Metric::Tpm).unwrap_or(f64::INFINITY);
            let rpm = d.limit_first_set(Metric::Rpm).unwrap_or(f64::INFINITY);
            // v1 counts requests on success; v2 counts them in admit(), once per success here.
            let rpm_ok = counted == 0 || requests + 1.0 < rpm;
            tokens + input_tokens as f64 <= tpm && rpm_ok
        }
        RoutingStrategy::LatencyBased(_) | RoutingStrategy::CostBased(_) => {
            let tpm = d.limit_truthy(Metric::Tpm).unwrap_or(f64::INFINITY);
            let rpm = d.limit_truthy(Metric::Rpm).unwrap_or(f64::INFINITY);
            tokens + input_tokens as f64 <= tpm && requests + 1.0 <= rpm
        }
        _ => true,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn never_cooled_down_or_over_limit(specs in proptest::collection::vec(spec(), 1..7), input_tokens in 0u64..50, seed in any::<u64>()) {
        for strategy in strategies() {
            let clock = Arc::new(FakeClock::at_utc(2024, 5, 17, 9, 4, 0));
            let deployments: Vec<Deployment> = specs.iter().enumerate().map(|(i, s)| {
                let mut b = Deployment::builder(format!("d{i}"), "g", format!("openai/m{i}"));
                if let Some(rpm) = s.rpm { b = b.rpm(rpm); }
                if let Some(tpm) = s.tpm { b = b.tpm(tpm); }
                if let Some(w) = s.weight { b = b.weight(w); }
                b.build().unwrap()
            }).collect();
            let settings = RouterSettings { strategy: strategy.clone(), ..RouterSettings::default() };
            let router = Router::with_clock(deployments.clone(), settings, clock.clone()).unwrap();
            let mut requests = vec![0u64; specs.len()];
            for (i, s) in specs.iter().enumerate() {
                let id = format!("d{i}");
                requests[i] = s.successes;
                if matches!(strategy, RoutingStrategy::UsageBasedV2) {
                    requests[i] = 0;
                }
                for _ in 0..s.successes {
                    if matches!(strategy, RoutingStrategy::UsageBasedV2) {
                        // pre_call_check counts the request unless the count already reached rpm.
                        match router.admit(&id) {
                            fastllm_router::Admission::Admitted(_) => requests[i] += 1,
                            fastllm_router::Admission::OverRpm { limit, current } if current as f64 > limit => requests[i] += 1,
                            _ => {}
                        }
                    }
                    router.on_request_start(&id);
                    router.on_success(&id, &Success { total_tokens: s.tokens, latency_secs: 0.5, ..Success::default() });
                }
                if s.cooled {
                    router.on_failure(&id, &Failure::new(Some(401), ErrorKind::Authentication));
                    prop_assert!(router.is_cooling_down(&id));
                }
            }
            // A refused v2 admission is a 429, which may have cooled a deployment down too.
            let cooled: Vec<bool> = (0..specs.len()).map(|i| router.is_cooling_down(&format!("d{i}"))).collect();
            for (s, c) in specs.iter().zip(&cooled) {
                prop_assert!(!s.cooled || *c);
            }
            let mut rng = StdRouterRng::seeded(seed);
            let request = Request { input_tokens, ..Request::default() };
            for _ in 0..8 {
                match router.pick("g", &request, &mut rng) {
                    Pick::Deployment(d) => {
                        let i: usize = d.id()[1..].parse().unwrap();
                        prop_assert!(!cooled[i], "{} picked {} while cooling down", strategy.name(), d.id());
                        prop_assert!(within_limits(&strategy, &d, &specs[i], requests[i], input_tokens), "{} picked {} over its limits", strategy.name(), d.id());
                    }
                    Pick::NoHealthyDeployment { cooling_down } => {
                        prop_assert_eq!(cooling_down, cooled.iter().filter(|c| **c).count());
                        prop_assert!(cooled.iter().all(|c| *c));
                    }
                    Pick::NoneWithinLimits => {
                        prop_assert!((0..specs.len()).all(|i| cooled[i] || !within_limits(&strategy, &deployments[i], &specs[i], requests[i], input_tokens)),
                            "{}: a deployment was within limits", strategy.name());
                    }
                    other => prop_assert!(false, "{other:?}"),
                }
            }
        }
    }

    #[test]
    fn parser_never_panics(value in arbitrary_json()) {
        let _ = fastllm_router::litellm::parse_model_list(&value);
        let _ = fastllm_router::litellm::parse_deployment(&value);
        let _ = fastllm_router::strategy::RouterWeights::from_json(&value);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// `simple_shuffle::pick_index` (the rule the Python patch runs over LiteLLM's own
    /// deployments) draws exactly what the router's simple-shuffle pick draws over the same
    /// deployments from the same CPython random state, and never a deployment whose weight
    /// in the deciding set is zero.
    #[test]
    fn pick_index_is_the_router_pick(
        weights in proptest::collection::vec((proptest::option::of(0.0f64..5.0), proptest::option::of(0i64..50), proptest::option::of(0i64..50)), 1..12),
        seed in any::<u32>(),
    ) {
        let deployments: Vec<Deployment> = weights
            .iter()
            .enumerate()
            .map(|(i, (w, rpm, tpm))| {
                let mut b = Deployment::builder(format!("d{i}"), "g", format!("openai/m{i}"));
                if let Some(w) = w { b = b.weight(*w); }
                if let Some(r) = rpm { b = b.rpm(*r); }
                if let Some(t) = tpm { b = b.tpm(*t); }
                b.build().unwrap()
            })
            .collect();
        let router = Router::new(deployments, RouterSettings::default()).unwrap();
        let sets: [Vec<f64>; 3] = [
            weights.iter().map(|(w, _, _)| w.unwrap_or(0.0)).collect(),
            weights.iter().map(|(_, r, _)| r.map_or(0.0, |v| v as f64)).collect(),
            weights.iter().map(|(_, _, t)| t.map_or(0.0, |v| v as f64)).collect(),
        ];
        let mut ours = PyRandom::new(i128::from(seed));
        let mut theirs = PyRandom::new(i128::from(seed));
        let mut buf = Vec::new();
        for _ in 0..20 {
            let i = fastllm_router::strategy::simple_shuffle::pick_index(
                weights.len(), sets.iter().map(Vec::as_slice), &mut buf, &mut ours,
            ).unwrap();
            let picked = router.pick("g", &Request::default(), &mut theirs);
            prop_assert_eq!(picked.deployment().map(|d| d.id().to_owned()), Some(format!("d{i}")));
            if let Some(deciding) = sets.iter().find(|set| set.iter().any(|w| *w > 0.0)) {
                prop_assert!(deciding[i] > 0.0);
            }
        }
    }
}

fn arbitrary_json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use serde_json::{Value, json};
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        prop_oneof![
            Just("model".to_owned()),
            Just("model_name".to_owned()),
            Just("litellm_params".to_owned()),
            Just("model_info".to_owned()),
            Just("id".to_owned()),
            Just("rpm".to_owned()),
            Just("os.environ/X".to_owned()),
            Just(" 1_0 ".to_owned()),
            "[a-z:_ .0-9-]{0,6}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec(
                (
                    prop_oneof![
                        Just("model".to_owned()),
                        Just("model_name".to_owned()),
                        Just("litellm_params".to_owned()),
                        Just("model_info".to_owned()),
                        Just("id".to_owned()),
                        Just("rpm".to_owned()),
                        Just("tpm".to_owned()),
                        Just("weight".to_owned()),
                        Just("tags".to_owned()),
                        Just("order".to_owned()),
                        Just("allowed_fails_policy".to_owned()),
                        "[a-z]{1,4}",
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Pearson's chi-square of `counts` against probabilities `p`.
fn chi_square(counts: &[u64], p: &[f64]) -> f64 {
    let n: u64 = counts.iter().sum();
    counts
        .iter()
        .zip(p)
        .map(|(c, p)| {
            let expected = n as f64 * p;
            (*c as f64 - expected).powi(2) / expected
        })
        .sum()
}

#[test]
fn weights_are_respected() {
    // 0.999 quantiles of chi-square with 3 degrees of freedom.
    const CRITICAL_DF3: f64 = 16.266;
    let picks = 20_000;
    let weights = [1.0, 2.0, 3.0, 4.0];
    let p: Vec<f64> = weights.iter().map(|w| w / 10.0).collect();
    for (label, build) in [
        (
            "weight",
            (|b: fastllm_router::DeploymentBuilder, w: f64| b.weight(w)) as fn(_, f64) -> _,
        ),
        ("rpm", |b, w| b.rpm(w as i64 * 100)),
        ("tpm", |b, w| b.tpm(w as i64 * 1000)),
    ] {
        let deployments = weights
            .iter()
            .enumerate()
            .map(|(i, w)| {
                build(Deployment::builder(format!("d{i}"), "g", "m"), *w)
                    .build()
                    .unwrap()
            })
            .collect();
        let router = Router::new(deployments, RouterSettings::default()).unwrap();
        for rng in [
            &mut StdRouterRng::seeded(20_240_517) as &mut dyn fastllm_router::RouterRng,
            &mut PyRandom::new(42),
        ] {
            let mut counts = [0u64; 4];
            for _ in 0..picks {
                let d = router.pick("g", &Request::default(), rng);
                let i: usize = d.deployment().unwrap().id()[1..].parse().unwrap();
                counts[i] += 1;
            }
            let stat = chi_square(&counts, &p);
            assert!(
                stat < CRITICAL_DF3,
                "{label}: chi-square {stat} with counts {counts:?}"
            );
        }
    }
    // Uniform with no weights at all.
    let router = Router::new(
        (0..4)
            .map(|i| {
                Deployment::builder(format!("d{i}"), "g", "m")
                    .build()
                    .unwrap()
            })
            .collect(),
        RouterSettings::default(),
    )
    .unwrap();
    let mut rng = StdRouterRng::seeded(7);
    let mut counts = [0u64; 4];
    for _ in 0..picks {
        let d = router.pick("g", &Request::default(), &mut rng);
        counts[d.deployment().unwrap().id()[1..].parse::<usize>().unwrap()] += 1;
    }
    assert!(chi_square(&counts, &[0.25; 4]) < CRITICAL_DF3, "{counts:?}");
}

#[test]
fn request_weights_are_respected() {
    const CRITICAL_DF2: f64 = 13.816;
    let router = Router::new(
        (0..3)
            .map(|i| {
                Deployment::builder(format!("d{i}"), "g", "m")
                    .weight(100.0)
                    .build()
                    .unwrap()
            })
            .collect(),
        RouterSettings::default(),
    )
    .unwrap();
    let w = fastllm_router::strategy::RouterWeights::from_json(
        &serde_json::json!({"g": {"d0": 5, "d1": 3, "d2": 2}}),
    )
    .unwrap();
    let request = Request {
        weights: Some(&w),
        ..Request::default()
    };
    let mut rng = StdRouterRng::seeded(99);
    let mut counts = [0u64; 3];
    for _ in 0..20_000 {
        let d = router.pick("g", &request, &mut rng);
        counts[d.deployment().unwrap().id()[1..].parse::<usize>().unwrap()] += 1;
    }
    let stat = chi_square(&counts, &[0.5, 0.3, 0.2]);
    assert!(stat < CRITICAL_DF2, "chi-square {stat}, {counts:?}");
}

fn config(prefix: &str, n: usize) -> Vec<Deployment> {
    (0..n)
        .map(|i| {
            let group = if i % 2 == 0 { "even" } else { "odd" };
            Deployment::builder(format!("{prefix}{i}"), group, format!("openai/{prefix}"))
                .rpm(n as i64)
                .build()
                .unwrap()
        })
        .collect()
}

#[test]
fn config_swap_is_atomic() {
    let clock = Arc::new(FakeClock::at_utc(2024, 5, 17, 9, 4, 0));
    let state = Arc::new(RouterState::new(
        clock,
        Tracking::None,
        StateConfig::default(),
    ));
    let registry = Arc::new(Registry::new());
    registry.replace(config("a", 6), &state).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    // The writer starts only once every reader runs, and every reader checks at
    // least one snapshot after the writer stops, however the threads are scheduled.
    let start = Arc::new(Barrier::new(4));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (registry, stop, start) =
                (Arc::clone(&registry), Arc::clone(&stop), Arc::clone(&start));
            thread::spawn(move || {
                let mut seen = HashMap::new();
                start.wait();
                loop {
                    let last = stop.load(Ordering::Acquire);
                    let snap = registry.load();
                    // Every deployment of one snapshot comes from the same configuration.
                    let prefix = if snap.member("a0").is_some() {
                        "a"
                    } else {
                        "b"
                    };
                    let n = if prefix == "a" { 6 } else { 40 };
                    assert_eq!(snap.len(), n);
                    let even = snap.group("even").unwrap();
                    let odd = snap.group("odd").unwrap();
                    assert_eq!(even.members().len() + odd.members().len(), n);
                    for m in even.members().iter().chain(odd.members()) {
                        assert!(m.deployment.id().starts_with(prefix), "mixed snapshot");
                        assert_eq!(m.deployment.rpm(), Some(n as i64));
                        assert!(snap.member(m.deployment.id()).is_some());
                    }
                    *seen.entry(prefix).or_insert(0u64) += 1;
                    if last {
                        break;
                    }
                }
                seen
            })
        })
        .collect();
    start.wait();
    for i in 0..400 {
        let next = if i % 2 == 0 {
            config("b", 40)
        } else {
            config("a", 6)
        };
        registry.replace(next, &state).unwrap();
    }
    stop.store(true, Ordering::Release);
    let mut total = 0;
    for reader in readers {
        total += reader.join().unwrap().values().sum::<u64>();
    }
    assert!(total >= 3, "every reader checks at least one snapshot");
    assert_eq!(registry.load().version(), 401);
    // A refused configuration leaves the current one in place.
    let mut dup = config("c", 2);
    dup.push(Deployment::builder("c0", "even", "m").build().unwrap());
    assert!(registry.replace(dup, &state).is_err());
    assert_eq!(registry.load().version(), 401);
}

#[test]
fn cooldown_state_survives_a_swap() {
    let clock = Arc::new(FakeClock::at_utc(2024, 5, 17, 9, 4, 0));
    let r = Router::with_clock(
        config("a", 4),
        RouterSettings {
            cooldown: CooldownSettings::default(),
            ..RouterSettings::default()
        },
        clock,
    )
    .unwrap();
    r.on_failure("a0", &Failure::new(Some(401), ErrorKind::Authentication));
    r.replace(config("a", 6)).unwrap();
    assert!(r.is_cooling_down("a0"));
}
