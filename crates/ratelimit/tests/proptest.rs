//! Property tests: limits hold, reservations are all-or-nothing, gauges never leak, and
//! sweeping idle scopes never changes an answer.

use std::collections::HashMap;
use std::time::Duration;

use fastllm_ratelimit::{
    CheckOptions, Config, CounterKind, Descriptor, FakeClock, Increment, KeyTtl, Limits,
    MemoryStore, SlotAcquisition,
};
use proptest::prelude::*;

/// A pool of scopes with fixed limits; each test call picks some of them.
fn pool() -> Vec<Descriptor> {
    vec![
        Descriptor::new(
            "api_key",
            "a",
            Limits::new().requests(3).tokens(100).max_parallel(2),
        )
        .unwrap(),
        Descriptor::new(
            "team",
            "t",
            Limits::new().requests(5).tokens(250).window_secs(7),
        )
        .unwrap(),
        Descriptor::new("user", "u", Limits::new().requests(1).max_parallel(1)).unwrap(),
        Descriptor::new(
            "model_per_key",
            "a:m",
            Limits::new().tokens(40).max_parallel(3).window_secs(3),
        )
        .unwrap(),
    ]
}

fn store(key_ttl: KeyTtl, window: u64) -> (MemoryStore<FakeClock>, FakeClock) {
    let clock = FakeClock::at_secs(10_000);
    let config = Config {
        key_ttl,
        window_size_secs: window,
        sweep_after_inserts: 0,
        ..Config::default()
    };
    (
        MemoryStore::with_config(config, clock.clone()).unwrap(),
        clock,
    )
}

#[derive(Debug, Clone)]
enum Op {
    Advance(u64),
    Check(Vec<usize>, bool),
    Atomic(Vec<(usize, i64, i64)>),
    Release(usize),
    Settle(usize, i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u64..2500).prop_map(Op::Advance),
        (prop::collection::vec(0usize..4, 1..4), any::<bool>())
            .prop_map(|(d, skip)| Op::Check(d, skip)),
        prop::collection::vec((0usize..4, -1i64..3, -5i64..60), 1..4).prop_map(Op::Atomic),
        (0usize..8).prop_map(Op::Release),
        (0usize..4, -30i64..30).prop_map(|(d, n)| Op::Settle(d, n)),
    ]
}

/// Runs a trace, returning a transcript of every answer.
fn run(trace: &[Op], key_ttl: KeyTtl, evict_every_op: bool) -> Vec<String> {
    let (s, clock) = store(key_ttl, 5);
    let pool = pool();
    let mut held: Vec<SlotAcquisition> = Vec::new();
    let mut out = Vec::new();
    for op in trace {
        match op {
            Op::Advance(ms) => clock.advance(Duration::from_millis(*ms)),
            Op::Check(ix, skip_tpm) => {
                let ds: Vec<Descriptor> = ix.iter().map(|&i| pool[i].clone()).collect();
                let opts = CheckOptions {
                    skip_tpm_check: *skip_tpm,
                    ..CheckOptions::default()
                };
                let a = s.should_rate_limit(&ds, &opts);
                out.push(format!("{:?}", a.response));
                held.extend(a.slot);
            }
            Op::Atomic(parts) => {
                let ds: Vec<Descriptor> = parts.iter().map(|p| pool[p.0].clone()).collect();
                let inc: Vec<Increment> = parts
                    .iter()
                    .map(|p| Increment {
                        requests: p.1,
                        tokens: p.2,
                    })
                    .collect();
                out.push(format!(
                    "{:?}",
                    s.atomic_check_and_increment_by_n(&ds, &inc).unwrap()
                ));
            }
            Op::Release(i) => {
                if !held.is_empty() {
                    let slot = held.remove(i % held.len());
                    s.release_slots(&slot);
                }
            }
            Op::Settle(i, n) => {
                let d = &pool[*i];
                s.increment_tokens(&[fastllm_ratelimit::TokenIncrement {
                    scope: d.id().clone(),
                    amount: *n,
                }]);
            }
        }
        if evict_every_op {
            s.evict_idle();
        }
        for d in &pool {
            out.push(format!(
                "{:?}/{:?}/{:?}/{}",
                s.window_start(d),
                s.counter(d, CounterKind::Requests),
                s.counter(d, CounterKind::Tokens),
                s.in_flight(d)
            ));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// With keys that never expire (pure fixed windows), no scope admits more requests in one
    /// window than its limit, on either path.
    #[test]
    fn admitted_within_limit_per_window(trace in prop::collection::vec(op(), 1..80)) {
        let (s, clock) = store(KeyTtl::Never, 5);
        let pool = pool();
        // (scope, window start) -> requests admitted
        let mut admitted: HashMap<(String, i64), i64> = HashMap::new();
        let mut held = Vec::new();
        for op in &trace {
            match op {
                Op::Advance(ms) => clock.advance(Duration::from_millis(*ms)),
                Op::Check(ix, skip) => {
                    let ds: Vec<Descriptor> = ix.iter().map(|&i| pool[i].clone()).collect();
                    let opts = CheckOptions { skip_tpm_check: *skip, ..CheckOptions::default() };
                    let a = s.should_rate_limit(&ds, &opts);
                    if a.response.is_ok() {
                        for d in ds.iter().filter(|d| d.requests_per_unit().is_some()) {
                            let start = s.window_start(d).expect("a counted request opened a window");
                            *admitted.entry((d.scope().to_string(), start)).or_default() += 1;
                        }
                    }
                    held.extend(a.slot);
                }
                Op::Atomic(parts) => {
                    let ds: Vec<Descriptor> = parts.iter().map(|p| pool[p.0].clone()).collect();
                    let inc: Vec<Increment> = parts.iter().map(|p| Increment { requests: p.1, tokens: p.2 }).collect();
                    let r = s.atomic_check_and_increment_by_n(&ds, &inc).unwrap();
                    if r.is_ok() {
                        for st in &r.statuses {
                            prop_assert!(st.limit_remaining >= 0);
                        }
                    }
                    for d in &pool {
                        // The atomic path never takes a counter above its limit; the
                        // should_rate_limit path counts a request once per copy of a
                        // descriptor (up to 3 here) before judging, so it can end up to 3 over.
                        if let (Some(limit), Some(v)) = (d.tokens_per_unit(), s.counter(d, CounterKind::Tokens)) {
                            prop_assert!(v <= limit as i64 + 3, "{} tokens {v} > {limit} + 3", d.scope());
                        }
                    }
                }
                Op::Release(i) => {
                    if !held.is_empty() {
                        let slot: SlotAcquisition = held.remove(i % held.len());
                        s.release_slots(&slot);
                    }
                }
                Op::Settle(..) => {}
            }
        }
        for ((scope, start), n) in admitted {
            let d = pool.iter().find(|d| d.scope() == scope).unwrap();
            prop_assert!(n <= d.requests_per_unit().unwrap() as i64, "{scope}@{start}: {n} admitted");
        }
    }

    /// A refused reservation changes no counter; an admitted one adds the estimate to every
    /// charged counter and never takes one over its limit.
    #[test]
    fn reservation_is_all_or_nothing(
        steps in prop::collection::vec((prop::collection::vec(0usize..4, 1..4), 0i64..120, 0u64..4000), 1..40),
        key_ttl in prop_oneof![Just(KeyTtl::Never), Just(KeyTtl::FollowClock)],
    ) {
        let (s, clock) = store(key_ttl, 5);
        let pool = pool();
        for (ix, estimate, advance) in steps {
            clock.advance(Duration::from_millis(advance));
            let ds: Vec<Descriptor> = ix.iter().map(|&i| pool[i].clone()).collect();
            let before: Vec<Option<i64>> = pool.iter().map(|d| s.counter(d, CounterKind::Tokens)).collect();
            let windows: Vec<Option<i64>> = pool.iter().map(|d| s.window_start(d)).collect();
            let r = s.reserve_tpm_tokens(&ds, estimate, &[]);
            let after: Vec<Option<i64>> = pool.iter().map(|d| s.counter(d, CounterKind::Tokens)).collect();
            if r.is_ok() {
                for (i, d) in pool.iter().enumerate() {
                    let charged = ds.iter().any(|x| x.scope() == d.scope()) && d.tokens_per_unit().is_some();
                    if charged {
                        let v = after[i].unwrap();
                        prop_assert!(v <= d.tokens_per_unit().unwrap() as i64);
                        let same_window = s.window_start(d) == windows[i];
                        if same_window {
                            prop_assert_eq!(v, before[i].unwrap_or(0) + estimate);
                        } else {
                            prop_assert_eq!(v, estimate);
                        }
                    } else {
                        prop_assert_eq!(after[i], before[i]);
                    }
                }
            } else {
                prop_assert_eq!(&after, &before);
                prop_assert_eq!(r.reserved_tokens, 0);
                prop_assert!(r.scopes.is_empty());
            }
        }
    }

    /// In-flight counts equal the slots held, never exceed the limit, and drop to zero once
    /// every slot is released, or once the slot TTL has passed.
    #[test]
    fn gauge_never_leaks(
        ops in prop::collection::vec((any::<bool>(), prop::collection::vec(0usize..4, 1..3), 0usize..8), 1..60),
        leak in any::<bool>(),
    ) {
        let (s, clock) = store(KeyTtl::FollowClock, 5);
        let pool = pool();
        let mut held: Vec<SlotAcquisition> = Vec::new();
        for (acquire, ix, pick) in ops {
            clock.advance(Duration::from_millis(250));
            if acquire {
                let ds: Vec<Descriptor> = ix.iter().map(|&i| pool[i].clone()).collect();
                let opts = CheckOptions { skip_tpm_check: true, ..CheckOptions::default() };
                held.extend(s.should_rate_limit(&ds, &opts).slot);
            } else if !held.is_empty() {
                let slot = held.remove(pick % held.len());
                s.release_slots(&slot);
                s.release_slots(&slot); // a second release frees nothing
            }
            for d in &pool {
                let n = s.in_flight(d);
                let expected = held.iter().filter(|h| h.scopes.iter().any(|x| &**x == d.scope())).count() as i64;
                prop_assert_eq!(n, expected);
                if let Some(limit) = d.max_parallel_requests() {
                    prop_assert!(n <= limit as i64);
                }
            }
        }
        if leak {
            clock.advance(Duration::from_secs(3601));
        } else {
            for slot in held.drain(..) {
                s.release_slots(&slot);
            }
        }
        for d in &pool {
            prop_assert_eq!(s.in_flight(d), 0);
        }
    }

    /// Dropping idle scopes is invisible: the same trace gives the same answers and state
    /// with a sweep after every operation.
    #[test]
    fn eviction_never_changes_answers(trace in prop::collection::vec(op(), 1..80)) {
        prop_assert_eq!(run(&trace, KeyTtl::FollowClock, false), run(&trace, KeyTtl::FollowClock, true));
    }
}
