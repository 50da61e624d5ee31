//! Answers recorded from LiteLLM 1.110.2's v3 limiter (no Redis), replayed against
//! `MemoryStore`.
//!
//! The `fake_time` traces drove `_PROXY_MaxParallelRequestsHandler_v3` with a fake
//! `time_provider`; they ran in milliseconds of real time, so LiteLLM's memory tier (which
//! expires keys by the real clock) never expired a key: the store runs with `KeyTtl::Never`.
//! The `real_time` traces ran LiteLLM with `LITELLM_RATE_LIMIT_WINDOW_SIZE=2` against the
//! real clock, where key expiry matters: the store runs with `KeyTtl::FollowClock` and a
//! fake clock set to the same fractional times. `ratelimit/litellm_golden.py` re-records them.

use std::time::Duration;

use fastllm_ratelimit::{
    CheckOptions, Config, CounterKind, Descriptor, FakeClock, Increment, KeyTtl, Limits,
    MemoryStore, Response, ScopeId, SlotAcquisition, TokenIncrement, settlement_increments,
};

fn fmt(r: &Response) -> String {
    let parts: Vec<String> = r
        .statuses
        .iter()
        .map(|s| {
            format!(
                "{} {} {}={} limit={} rem={}",
                s.code.as_str(),
                s.rate_limit_type.as_str(),
                s.descriptor_key(),
                s.descriptor_value().unwrap_or("-"),
                s.current_limit,
                s.limit_remaining
            )
        })
        .collect();
    let mut windows: Vec<String> = r
        .reservation_windows
        .iter()
        .map(|w| {
            format!(
                "{}={}:{}@{}",
                w.scope.key(),
                w.scope.value(),
                w.kind.as_str(),
                w.window_start
            )
        })
        .collect();
    windows.sort();
    let extra = if windows.is_empty() {
        String::new()
    } else {
        format!(" windows={}", windows.join(","))
    };
    format!("{} [{}]{extra}", r.overall.as_str(), parts.join("; "))
}

fn d(key: &str, value: &str, limits: Limits) -> Descriptor {
    Descriptor::new(key, value, limits).unwrap()
}

fn store(at: f64, key_ttl: KeyTtl, window: u64) -> (MemoryStore<FakeClock>, FakeClock) {
    let clock = FakeClock::new();
    clock.set(Duration::from_secs_f64(at));
    let config = Config {
        key_ttl,
        window_size_secs: window,
        ..Config::default()
    };
    (
        MemoryStore::with_config(config, clock.clone()).unwrap(),
        clock,
    )
}

fn at(clock: &FakeClock, t: f64) {
    clock.set(Duration::from_secs_f64(t));
}

fn opts() -> CheckOptions {
    CheckOptions::default()
}

fn slot(id: &str) -> CheckOptions {
    CheckOptions {
        slot_id: Some(id.into()),
        ..CheckOptions::default()
    }
}

fn count(s: &MemoryStore<FakeClock>, d: &Descriptor, kind: CounterKind) -> String {
    s.counter(d, kind).map_or("None".into(), |v| v.to_string())
}

#[test]
fn fake_time_single_descriptor_stays_over_until_its_key_expires() {
    let (s, c) = store(1000.25, KeyTtl::Never, 60);
    let k = [d("api_key", "k", Limits::new().requests(3))];
    let got: Vec<String> = (0..5)
        .map(|_| fmt(&s.should_rate_limit(&k, &opts()).response))
        .collect();
    assert_eq!(
        got,
        [
            "OK [OK requests api_key=k limit=3 rem=2]",
            "OK [OK requests api_key=k limit=3 rem=1]",
            "OK [OK requests api_key=k limit=3 rem=0]",
            "OVER_LIMIT [OVER_LIMIT requests api_key=k limit=3 rem=-1]",
            "OVER_LIMIT [OVER_LIMIT requests api_key=k limit=3 rem=-1]",
        ]
    );
    at(&c, 1060.5);
    assert_eq!(
        fmt(&s.should_rate_limit(&k, &opts()).response),
        "OVER_LIMIT [OVER_LIMIT requests api_key=k limit=3 rem=-1]"
    );
    assert_eq!(count(&s, &k[0], CounterKind::Requests), "4");
}

#[test]
fn fake_time_window_boundary_and_read_only() {
    let (s, c) = store(2000.0, KeyTtl::Never, 60);
    let k = [d("api_key", "k", Limits::new().requests(3))];
    for _ in 0..3 {
        assert!(s.should_rate_limit(&k, &opts()).response.is_ok());
    }
    at(&c, 2059.9);
    let over = "OVER_LIMIT [OVER_LIMIT requests api_key=k limit=3 rem=-1]";
    assert_eq!(fmt(&s.should_rate_limit(&k, &opts()).response), over);
    at(&c, 2060.0);
    assert_eq!(fmt(&s.should_rate_limit(&k, &opts()).response), over);
    let ro = CheckOptions {
        read_only: true,
        ..opts()
    };
    assert_eq!(fmt(&s.should_rate_limit(&k, &ro).response), over);
}

#[test]
fn fake_time_several_descriptors_are_counted_one_by_one() {
    let (s, _c) = store(3000.0, KeyTtl::Never, 60);
    let ds = [
        d("api_key", "k", Limits::new().requests(2).tokens(100)),
        d("team", "t", Limits::new().requests(5)),
        d("user", "u", Limits::new().tokens(1)),
    ];
    let got: Vec<String> = (0..3)
        .map(|_| fmt(&s.should_rate_limit(&ds, &opts()).response))
        .collect();
    assert_eq!(
        got,
        [
            "OK [OK requests api_key=k limit=2 rem=1; OK tokens api_key=k limit=100 rem=99; OK requests team=t limit=5 rem=4; OK tokens user=u limit=1 rem=0]",
            "OVER_LIMIT [OK requests api_key=k limit=2 rem=0; OK tokens api_key=k limit=100 rem=98; OK requests team=t limit=5 rem=3; OVER_LIMIT tokens user=u limit=1 rem=-1]",
            "OVER_LIMIT [OK requests api_key=k limit=2 rem=0; OK tokens api_key=k limit=100 rem=98; OK requests team=t limit=5 rem=3; OVER_LIMIT tokens user=u limit=1 rem=-1]",
        ]
    );
    assert_eq!(count(&s, &ds[1], CounterKind::Requests), "2");
    let skip = CheckOptions {
        skip_tpm_check: true,
        ..opts()
    };
    assert_eq!(
        fmt(&s.should_rate_limit(&ds, &skip).response),
        "OVER_LIMIT [OVER_LIMIT requests api_key=k limit=2 rem=-1; OK requests team=t limit=5 rem=2]"
    );
}

#[test]
fn fake_time_repeated_scope_uses_the_last_descriptors_limits() {
    let (s, _c) = store(4000.0, KeyTtl::Never, 60);
    let ds = [
        d("model_per_key", "k:m", Limits::new().requests(5).tokens(50)),
        d("model_per_key", "k:m", Limits::new().requests(2)),
    ];
    assert_eq!(
        fmt(&s.should_rate_limit(&ds, &opts()).response),
        "OK [OK requests model_per_key=k:m limit=2 rem=1; OK requests model_per_key=k:m limit=2 rem=0]"
    );
    assert_eq!(
        fmt(&s.should_rate_limit(&ds, &opts()).response),
        "OVER_LIMIT [OVER_LIMIT requests model_per_key=k:m limit=2 rem=-1; OVER_LIMIT requests model_per_key=k:m limit=2 rem=-2]"
    );
    assert_eq!(count(&s, &ds[0], CounterKind::Requests), "4");
    assert_eq!(count(&s, &ds[0], CounterKind::Tokens), "2");
}

#[test]
fn fake_time_atomic_check_and_increment_is_all_or_nothing() {
    let (s, c) = store(5000.0, KeyTtl::Never, 60);
    let ds = [
        d("api_key", "k", Limits::new().tokens(100)),
        d(
            "team",
            "t",
            Limits::new().requests(3).tokens(150).window_secs(10),
        ),
    ];
    let run = |inc: [Increment; 2]| fmt(&s.atomic_check_and_increment_by_n(&ds, &inc).unwrap());
    assert_eq!(
        run([
            Increment::tokens(60),
            Increment {
                requests: 1,
                tokens: 60
            }
        ]),
        "OK [OK tokens api_key=k limit=100 rem=40; OK requests team=t limit=3 rem=2; OK tokens team=t limit=150 rem=90] windows=api_key=k:tokens@5000,team=t:requests@5000,team=t:tokens@5000"
    );
    assert_eq!(
        run([Increment::tokens(50), Increment::tokens(50)]),
        "OVER_LIMIT [OVER_LIMIT tokens api_key=k limit=100 rem=40]"
    );
    assert_eq!(count(&s, &ds[0], CounterKind::Tokens), "60");
    assert_eq!(count(&s, &ds[1], CounterKind::Tokens), "60");
    assert_eq!(
        run([
            Increment::tokens(40),
            Increment {
                requests: -1,
                tokens: 0
            }
        ]),
        "OK [OK tokens api_key=k limit=100 rem=0; OK tokens team=t limit=150 rem=90] windows=api_key=k:tokens@5000,team=t:tokens@5000"
    );
    at(&c, 5010.0);
    assert_eq!(
        run([
            Increment::tokens(0),
            Increment {
                requests: 3,
                tokens: 90
            }
        ]),
        "OVER_LIMIT [OVER_LIMIT tokens api_key=k limit=100 rem=0]"
    );
    assert_eq!(count(&s, &ds[1], CounterKind::Requests), "1");
    assert_eq!(
        run([Increment::tokens(0), Increment::requests(0)]),
        "OVER_LIMIT [OVER_LIMIT tokens api_key=k limit=100 rem=0]"
    );
}

#[test]
fn fake_time_tpm_reservation_and_settlement() {
    let (s, _c) = store(6000.0, KeyTtl::Never, 60);
    let ds = [
        d("api_key", "k", Limits::new().requests(10).tokens(1000)),
        d("model_per_project_itpm", "p:m", Limits::new().tokens(5)),
        d("team", "t", Limits::new().tokens(700)),
    ];
    let r = s.reserve_tpm_tokens(&ds, 400, &[]);
    assert_eq!(
        fmt(&r.response),
        "OK [OK tokens api_key=k limit=1000 rem=600; OK tokens team=t limit=700 rem=300] windows=api_key=k:tokens@6000,team=t:tokens@6000"
    );
    let refused = s.reserve_tpm_tokens(&ds, 400, &[]);
    assert_eq!(
        fmt(&refused.response),
        "OVER_LIMIT [OVER_LIMIT tokens team=t limit=700 rem=300]"
    );
    assert!(refused.scopes.is_empty());
    let scope = |k: &str, v: &str| std::sync::Arc::new(ScopeId::new(k, v));
    let targets = [
        scope("api_key", "k"),
        scope("team", "t"),
        scope("user", "u"),
    ];
    let ops: Vec<TokenIncrement> =
        settlement_increments(&targets, &r.scopes, 150, r.reserved_tokens);
    s.increment_tokens(&ops);
    let user = d("user", "u", Limits::new());
    assert_eq!(count(&s, &ds[0], CounterKind::Tokens), "150");
    assert_eq!(count(&s, &ds[2], CounterKind::Tokens), "150");
    assert_eq!(count(&s, &user, CounterKind::Tokens), "150");
    assert_eq!(
        fmt(&s.reserve_tpm_tokens(&ds, 400, &[]).response),
        "OK [OK tokens api_key=k limit=1000 rem=450; OK tokens team=t limit=700 rem=150] windows=api_key=k:tokens@6000,team=t:tokens@6000"
    );
}

#[test]
fn fake_time_parallel_request_gauges() {
    let (s, c) = store(7000.0, KeyTtl::Never, 60);
    let ds = [
        d("api_key", "k", Limits::new().requests(100).max_parallel(2)),
        d("team", "t", Limits::new().max_parallel(3)),
    ];
    let a = s.should_rate_limit(&ds, &slot("a"));
    assert_eq!(
        fmt(&a.response),
        "OK [OK requests api_key=k limit=100 rem=99; OK max_parallel_requests api_key=- limit=2 rem=1; OK max_parallel_requests team=- limit=3 rem=2]"
    );
    assert_eq!(
        fmt(&s.should_rate_limit(&ds, &slot("b")).response),
        "OK [OK requests api_key=k limit=100 rem=98; OK max_parallel_requests api_key=- limit=2 rem=0; OK max_parallel_requests team=- limit=3 rem=1]"
    );
    assert_eq!(
        fmt(&s.should_rate_limit(&ds, &slot("c")).response),
        "OVER_LIMIT [OK requests api_key=k limit=100 rem=97; OVER_LIMIT max_parallel_requests api_key=- limit=2 rem=0]"
    );
    let ro = CheckOptions {
        read_only: true,
        ..opts()
    };
    assert_eq!(
        fmt(&s.should_rate_limit(&ds, &ro).response),
        "OVER_LIMIT [OK requests api_key=k limit=100 rem=97; OVER_LIMIT max_parallel_requests api_key=- limit=2 rem=0; OK max_parallel_requests team=- limit=3 rem=1]"
    );
    let held: SlotAcquisition = a.slot.unwrap();
    s.release_slots(&held);
    s.release_slots(&held);
    assert_eq!(
        fmt(&s.should_rate_limit(&ds, &slot("d")).response),
        "OK [OK requests api_key=k limit=100 rem=96; OK max_parallel_requests api_key=- limit=2 rem=0; OK max_parallel_requests team=- limit=3 rem=1]"
    );
    at(&c, 7000.0 + 3600.5);
    assert_eq!(
        fmt(&s.should_rate_limit(&ds, &slot("e")).response),
        "OK [OK requests api_key=k limit=100 rem=99; OK max_parallel_requests api_key=- limit=2 rem=1; OK max_parallel_requests team=- limit=3 rem=2]"
    );
    let skip = CheckOptions {
        skip_parallel_check: true,
        ..opts()
    };
    assert_eq!(
        fmt(&s.should_rate_limit(&ds, &skip).response),
        "OK [OK requests api_key=k limit=100 rem=98]"
    );
}

/// LiteLLM, real clock, 2 s window, limit 3: requests at base+0.851 (x3), +2.05, +2.501,
/// +2.971 (x4). The window restarted at +2.05, but its key kept the expiry set at +0.851, so
/// at +2.971 the window restarted again: 5 requests were admitted within one second.
#[test]
fn real_time_window_restarts_twice_when_its_key_expires() {
    let base = 1_795_846_000.0;
    let (s, c) = store(base + 0.851, KeyTtl::FollowClock, 2);
    let k = [d("api_key", "k", Limits::new().requests(3))];
    let mut got = Vec::new();
    let mut go = |t: f64| {
        at(&c, base + t);
        let r = s.should_rate_limit(&k, &opts()).response;
        got.push(format!(
            "{} {}",
            r.overall.as_str(),
            r.statuses[0].limit_remaining
        ));
    };
    for t in [0.851, 0.851, 0.851, 2.05, 2.501, 2.971, 2.971, 2.971, 2.971] {
        go(t);
    }
    assert_eq!(
        got,
        [
            "OK 2",
            "OK 1",
            "OK 0",
            "OK 2",
            "OK 1",
            "OK 2",
            "OK 1",
            "OK 0",
            "OVER_LIMIT -1"
        ]
    );
}

/// LiteLLM, real clock, 2 s window, limit 3, a request every 50 ms from base+11.9: the
/// counter left at 4 keeps refusing past the window's logical end (+13.0) until its key
/// expires at about +13.9.
#[test]
fn real_time_over_limit_counter_refuses_until_its_key_expires() {
    let base = 1_795_846_000.0;
    let (s, c) = store(base + 11.9, KeyTtl::FollowClock, 2);
    let k = [d("api_key", "k", Limits::new().requests(3))];
    let mut t = 11.9;
    let mut first_ok_after_over = None;
    let mut admitted = 0;
    while t < 14.02 {
        at(&c, base + t);
        let r = s.should_rate_limit(&k, &opts()).response;
        if r.is_ok() {
            admitted += 1;
            if admitted == 4 {
                first_ok_after_over = Some(t);
            }
        }
        t += 0.05;
    }
    let reopened = first_ok_after_over.expect("the window reopens");
    assert!(reopened > 13.9 && reopened < 14.0, "reopened at {reopened}");
}

/// Headers and the 429 LiteLLM derived from two calls on the same descriptors
/// (`_merge_ratelimit_statuses_into_additional_headers`, `_handle_rate_limit_error`), with its
/// `time_provider` at UNIX time 1795846011.9.
#[test]
fn fake_time_headers_and_rejection() {
    let (s, _c) = store(1_795_846_011.9, KeyTtl::Never, 60);
    let ds = [
        d("api_key", "k", Limits::new().requests(1).max_parallel(5)),
        d("tag", "a", Limits::new().tokens(10)),
        d("tag", "b", Limits::new().tokens(20)),
    ];
    let first = s.should_rate_limit(&ds, &slot("s")).response;
    let headers = fastllm_ratelimit::ratelimit_headers(&first.statuses);
    let expected: Vec<(String, i64)> = [
        ("x-ratelimit-api_key-remaining-requests", 0),
        ("x-ratelimit-api_key-limit-requests", 1),
        ("x-ratelimit-tag-remaining-tokens", 19),
        ("x-ratelimit-tag-limit-tokens", 20),
        ("x-ratelimit-api_key-remaining-max_parallel_requests", 4),
        ("x-ratelimit-api_key-limit-max_parallel_requests", 5),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), *v))
    .collect();
    assert_eq!(headers, expected);

    let second = s.should_rate_limit(&ds, &slot("s2")).response;
    let r = fastllm_ratelimit::rejection(&second, &ds, 1_795_846_011.9, 60).unwrap();
    assert_eq!(
        r.detail,
        "Rate limit exceeded for api_key: k. Limit type: requests. Current limit: 1, Remaining: 0. \
         Limit resets at: 2026-11-28 06:07:51 UTC"
    );
    assert_eq!(
        (
            r.retry_after.as_str(),
            r.rate_limit_type,
            r.reset_at.as_str()
        ),
        ("60", "requests", "2026-11-28 06:07:51 UTC")
    );

    let closed = [d("api_key", "k", Limits::new().max_parallel(0))];
    let third = s.should_rate_limit(&closed, &slot("s3")).response;
    let r = fastllm_ratelimit::rejection(&third, &closed, 1_795_846_011.9, 60).unwrap();
    assert_eq!(
        r.detail,
        "Rate limit exceeded for api_key: k. Limit type: max_parallel_requests. Current limit: 0, \
         Remaining: 0. Limit resets at: 2026-11-28 06:07:51 UTC"
    );
    assert_eq!(r.rate_limit_type, "max_parallel_requests");
    assert!(fastllm_ratelimit::rejection(&first, &ds, 0.0, 60).is_none());
}
