//! `RedisStore` against a real `redis-server` on loopback, one throwaway server per test.
//!
//! The server binary is `$REDIS_SERVER` if set, else `redis-server` on `PATH`. Without one these
//! tests fail (they never skip): install it with `apt-get install redis-server`.
//!
//! * `same_answers_as_memory_store_on_random_traces`: random traces (one and several
//!   descriptors, rpm / tpm / parallel slots, read-only and skip options, atomic increments,
//!   TPM reservations settled later, window-guarded increments) give the same responses,
//!   remaining counts, counters and in-flight counts as `MemoryStore`, within one window;
//!   `litellm_answers_on_redis` and `window_restarts_by_server_time` pin a few answers by hand;
//! * `two_stores_share_one_limit`: two stores (two pools) on one Redis admit exactly the limit
//!   together under concurrent load, for requests, token reservations and parallel slots;
//! * `redis_killed_mid_load_then_restarted`: fail open admits, fail closed refuses with
//!   LiteLLM's message, nothing panics, and the same stores work again once Redis is back;
//! * `keys_and_values_are_litellms`: the exact keys, values and TTLs LiteLLM writes;
//!   `reads_what_litellm_wrote`: values written the way LiteLLM's scripts write them are read
//!   and enforced;
//! * `shared_limit_with_litellm`: LiteLLM's own limiter (1.109.3, or 1.110.2) and this store,
//!   interleaved on one Redis, admit exactly the limit together. The LiteLLM half runs only
//!   when `LITELLM_PYTHON` names a Python with LiteLLM and fastapi, orjson, backoff and redis
//!   installed (CI's LiteLLM venvs are built later by the Makefile, so it cannot be assumed
//!   here); without it a second Rust store stands in for LiteLLM, and the test says so.

use std::error::Error as _;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fastllm_connpool::PoolConfig;
use fastllm_connpool::redis::{RedisPool, cmd};
use fastllm_ratelimit::{
    Admission, BackendError, CheckOptions, Code, Config, CounterKind, Decision, Descriptor,
    FailMode, FakeClock, Increment, KeyTtl, Limits, MemoryStore, RATE_LIMIT_UNVERIFIABLE_MESSAGE,
    RateLimitType, RedisConfig, RedisStore, Response, SlotAcquisition, SlotId, TpmReservation,
    Verdict,
};
use fastllm_tests::{LiteLlmScript, RedisServer, error_chain};

/// Every test gets this long, start to end.
const TEST_LIMIT: Duration = Duration::from_secs(120);
/// A window no test outlives: answers are compared within one window.
const LONG_WINDOW: u64 = 3600;

// ---------------------------------------------------------------------------------------------
// Harness (the server itself is `fastllm_tests::RedisServer`)
// ---------------------------------------------------------------------------------------------

fn pool_config() -> PoolConfig {
    PoolConfig::default()
        .with_max_size(4)
        .with_connect_timeout(Duration::from_millis(300))
        .with_command_timeout(Duration::from_millis(500))
        .with_wait_timeout(Duration::from_secs(2))
}

fn store(server: &RedisServer, config: RedisConfig) -> RedisStore {
    let pool = RedisPool::from_url(&server.url(), pool_config()).expect("pool");
    RedisStore::new(pool, config).expect("valid config")
}

fn long_window() -> RedisConfig {
    RedisConfig {
        window_size_secs: LONG_WINDOW,
        ..RedisConfig::default()
    }
}

fn d(key: &str, value: &str, limits: Limits) -> Descriptor {
    Descriptor::new(key, value, limits).expect("valid descriptor")
}

async fn bounded<F: std::future::Future<Output = ()>>(test: F) {
    tokio::time::timeout(TEST_LIMIT, test)
        .await
        .expect("test exceeded its time limit");
}

/// A raw command on a fresh pooled connection.
async fn redis<T: fastllm_connpool::redis::FromRedisValue>(
    pool: &RedisPool,
    command: &fastllm_connpool::redis::Cmd,
) -> T {
    let mut conn = pool.get().await.expect("checkout");
    conn.query(command).await.expect("redis command")
}

async fn server_time(pool: &RedisPool) -> i64 {
    let (secs, _micros): (i64, i64) = redis(pool, &cmd("TIME")).await;
    secs
}

/// Window starts differ between the stores (fake clock vs the Redis server's): drop them.
fn without_window_starts(mut response: Response) -> Response {
    for w in &mut response.reservation_windows {
        w.window_start = 0;
    }
    response
}

fn reservation_without_window_starts(mut r: TpmReservation) -> TpmReservation {
    r.response = without_window_starts(r.response);
    r
}

// ---------------------------------------------------------------------------------------------
// Same answers as MemoryStore
// ---------------------------------------------------------------------------------------------

/// xorshift64*: deterministic traces without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
}

/// Limits of at least 1: with a limit of 0 LiteLLM's memory path and its Redis path differ on
/// a read-only check of a counter the other counter's window restart cleared (0 in memory, no
/// key on Redis), and each store follows its own LiteLLM path.
fn random_limits(rng: &mut Rng) -> Limits {
    let mut limits = Limits::new();
    if rng.chance(80) {
        limits = limits.requests(1 + rng.below(6));
    }
    if rng.chance(60) {
        limits = limits.tokens(1 + rng.below(60));
    }
    if rng.chance(40) {
        limits = limits.max_parallel(1 + rng.below(3));
    }
    match rng.below(3) {
        0 => limits,
        1 => limits.window_secs(LONG_WINDOW),
        _ => limits.window_secs(2 * LONG_WINDOW),
    }
}

#[derive(Debug, Default)]
struct Coverage {
    admitted: usize,
    read_only: usize,
    over_limit: usize,
    gauge_full: usize,
    multi: usize,
    released: usize,
    atomic: [usize; 2],
    reserved: [usize; 2],
    settled: usize,
    guarded: [usize; 2],
}

/// `count` descriptors from `pool`, with repeats only if `repeats`.
fn pick(rng: &mut Rng, pool: &[Descriptor], count: usize, repeats: bool) -> Vec<Descriptor> {
    let mut out: Vec<Descriptor> = Vec::new();
    while out.len() < count {
        let candidate = &pool[rng.below(pool.len() as u64) as usize];
        if repeats || !out.iter().any(|d| d.scope() == candidate.scope()) {
            out.push(candidate.clone());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_answers_as_memory_store_on_random_traces() {
    const TRACES: u64 = 30;
    const OPS: usize = 60;
    let server = RedisServer::start();
    bounded(async {
        let redis_store = store(&server, long_window());
        let keys = ["api_key", "team", "user", "model_per_key"];
        // What the traces covered, so a generator change cannot quietly stop testing a path.
        let mut seen = Coverage::default();
        for trace in 1..=TRACES {
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ trace.wrapping_mul(0x1000_0000_01b3));
            let config = Config {
                window_size_secs: LONG_WINDOW,
                key_ttl: KeyTtl::Never,
                ..Config::default()
            };
            // A frozen clock: every answer is given within one window on both stores.
            let memory = MemoryStore::with_config(config, FakeClock::at_secs(1_000_000)).unwrap();
            let mut pool: Vec<Descriptor> = keys
                .iter()
                .enumerate()
                .map(|(i, k)| d(k, &format!("trace{trace}-{i}"), random_limits(&mut rng)))
                .collect();
            let mut held: Vec<SlotAcquisition> = Vec::new();
            let mut reservations: Vec<(TpmReservation, TpmReservation)> = Vec::new();
            for op in 0..OPS {
                let here = format!("trace {trace} op {op}");
                if rng.chance(10) {
                    let i = rng.below(pool.len() as u64) as usize;
                    pool[i] = pool[i].with_limits(random_limits(&mut rng)).unwrap();
                }
                match rng.below(100) {
                    // should_rate_limit, one to three descriptors (repeats allowed).
                    0..=49 => {
                        let count = 1 + rng.below(3) as usize;
                        let repeats = rng.chance(15);
                        let ds = pick(&mut rng, &pool, count, repeats);
                        let options = CheckOptions {
                            read_only: rng.chance(15),
                            skip_tpm_check: rng.chance(20),
                            skip_parallel_check: rng.chance(10),
                            slot_id: Some(SlotId::new(format!("slot-{trace}-{op}"))),
                        };
                        let expected = memory.should_rate_limit(&ds, &options);
                        let got = redis_store.should_rate_limit(&ds, &options).await;
                        assert!(got.is_verified(), "{here}: {:?}", got.error);
                        assert_eq!(got.value, expected, "{here}: {ds:?} {options:?}");
                        let decision = if expected.response.is_ok() {
                            Decision::Admitted
                        } else {
                            Decision::OverLimit
                        };
                        assert_eq!(got.decision(), decision, "{here}");
                        let gauge_refused = expected.response.statuses.last().is_some_and(|st| {
                            st.code == Code::OverLimit
                                && st.rate_limit_type == RateLimitType::MaxParallelRequests
                        });
                        match (expected.response.is_ok(), options.read_only, gauge_refused) {
                            (true, false, _) => seen.admitted += 1,
                            (true, true, _) => seen.read_only += 1,
                            (false, _, true) => seen.gauge_full += 1,
                            (false, _, false) => seen.over_limit += 1,
                        }
                        seen.multi += usize::from(ds.len() > 1);
                        if let Admission {
                            slot: Some(slot), ..
                        } = expected
                        {
                            held.push(slot);
                        }
                    }
                    // Release a held slot.
                    50..=59 => {
                        if !held.is_empty() {
                            let slot = held.swap_remove(rng.below(held.len() as u64) as usize);
                            memory.release_slots(&slot);
                            redis_store.release_slots(&slot).await.unwrap();
                            seen.released += 1;
                        }
                    }
                    // Atomic check-and-increment on distinct scopes.
                    60..=69 => {
                        let count = 1 + rng.below(3) as usize;
                        let ds = pick(&mut rng, &pool, count, false);
                        let increments: Vec<Increment> = ds
                            .iter()
                            .map(|_| Increment {
                                requests: rng.range(-1, 3),
                                tokens: rng.range(-1, 25),
                            })
                            .collect();
                        let expected = memory
                            .atomic_check_and_increment_by_n(&ds, &increments)
                            .unwrap();
                        let expected_ok = expected.is_ok();
                        let got = redis_store
                            .atomic_check_and_increment_by_n(&ds, &increments)
                            .await
                            .unwrap();
                        assert!(got.is_verified(), "{here}: {:?}", got.error);
                        assert_eq!(
                            without_window_starts(got.value),
                            without_window_starts(expected),
                            "{here}: {ds:?} {increments:?}"
                        );
                        seen.atomic[usize::from(expected_ok)] += 1;
                    }
                    // Reserve tokens.
                    70..=84 => {
                        let count = 1 + rng.below(3) as usize;
                        let ds = pick(&mut rng, &pool, count, false);
                        let estimate = rng.range(0, 25);
                        let team_estimate = rng.range(0, 10);
                        let scope_estimates: &[(&str, i64)] = if rng.chance(20) {
                            &[("team", team_estimate)]
                        } else {
                            &[]
                        };
                        let expected = memory.reserve_tpm_tokens(&ds, estimate, scope_estimates);
                        let got = redis_store
                            .reserve_tpm_tokens(&ds, estimate, scope_estimates)
                            .await;
                        assert!(got.is_verified(), "{here}: {:?}", got.error);
                        assert_eq!(
                            reservation_without_window_starts(got.value.clone()),
                            reservation_without_window_starts(expected.clone()),
                            "{here}: {ds:?} estimate {estimate}"
                        );
                        seen.reserved[usize::from(expected.is_ok())] += 1;
                        if expected.is_ok() && !expected.scopes.is_empty() {
                            reservations.push((expected, got.value));
                        }
                    }
                    // Settle a reservation with the real usage (0 refunds it).
                    85..=94 => {
                        if !reservations.is_empty() {
                            let i = rng.below(reservations.len() as u64) as usize;
                            let (mem_r, redis_r) = reservations.swap_remove(i);
                            let actual = rng.range(0, 40);
                            memory.increment_tokens(&mem_r.settlement(actual));
                            redis_store
                                .increment_tokens(&redis_r.settlement(actual))
                                .await
                                .unwrap();
                            seen.settled += 1;
                        }
                    }
                    // A window-guarded adjustment of a reservation.
                    _ => {
                        if let Some((mem_r, redis_r)) = reservations.first() {
                            let amount = rng.range(-5, 5);
                            let stale = rng.chance(40);
                            let mut mem_w = mem_r.windows()[0].clone();
                            let mut redis_w = redis_r.windows()[0].clone();
                            if stale {
                                mem_w.window_start -= 1;
                                redis_w.window_start -= 1;
                            }
                            let expected = memory.increment_tokens_guarded(&mem_w, amount);
                            let got = redis_store
                                .increment_tokens_guarded(&redis_w, amount)
                                .await
                                .unwrap();
                            assert_eq!(got, expected, "{here}");
                            assert_eq!(got, !stale, "{here}");
                            seen.guarded[usize::from(got)] += 1;
                        }
                    }
                }
                // The stored state agrees too (a counter cleared by a window restart is 0 in
                // memory and has no key on Redis, as in LiteLLM).
                for desc in &pool {
                    for kind in CounterKind::ALL {
                        assert_eq!(
                            redis_store.counter(desc, kind).await.unwrap().unwrap_or(0),
                            memory.counter(desc, kind).unwrap_or(0),
                            "{here}: {} {kind:?}",
                            desc.scope()
                        );
                    }
                    assert_eq!(
                        redis_store.in_flight(desc).await.unwrap(),
                        memory.in_flight(desc),
                        "{here}: in flight on {}",
                        desc.scope()
                    );
                }
            }
        }
        println!("random traces: {seen:?}");
        for (what, n) in [
            ("admitted", seen.admitted),
            ("read only", seen.read_only),
            ("over a windowed limit", seen.over_limit),
            ("refused by a full gauge", seen.gauge_full),
            ("several descriptors", seen.multi),
            ("slot releases", seen.released),
            ("atomic refusals", seen.atomic[0]),
            ("atomic admissions", seen.atomic[1]),
            ("reservation refusals", seen.reserved[0]),
            ("reservations", seen.reserved[1]),
            ("settlements", seen.settled),
            ("stale guarded increments", seen.guarded[0]),
            ("guarded increments", seen.guarded[1]),
        ] {
            assert!(n >= 5, "the traces covered {what} only {n} times: {seen:?}");
        }
    })
    .await;
}

/// Cases picked by hand: over-limit with negative `limit_remaining`, the pre-check that stops
/// counting, a repeated scope judged by its last descriptor, refusal by a full gauge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn litellm_answers_on_redis() {
    let server = RedisServer::start();
    bounded(async {
        let s = store(&server, RedisConfig::default());
        let opts = CheckOptions::default();
        let key = [d("api_key", "k", Limits::new().requests(2).tokens(100))];
        let mut remaining = Vec::new();
        for _ in 0..4 {
            let r = s.should_rate_limit(&key, &opts).await;
            remaining.push((
                r.value.response.overall,
                r.value.response.statuses[0].limit_remaining,
            ));
        }
        assert_eq!(
            remaining,
            [
                (Code::Ok, 1),
                (Code::Ok, 0),
                (Code::OverLimit, -1),
                (Code::OverLimit, -1)
            ]
        );
        // The fourth was refused before counting: the counter stopped at limit + 1.
        assert_eq!(
            s.counter(&key[0], CounterKind::Requests).await.unwrap(),
            Some(3)
        );
        assert_eq!(
            s.counter(&key[0], CounterKind::Tokens).await.unwrap(),
            Some(3)
        );

        // A repeated scope: counted twice, judged by the last copy's limits.
        let twice = [
            d("model_per_key", "k:m", Limits::new().requests(5).tokens(50)),
            d("model_per_key", "k:m", Limits::new().requests(2)),
        ];
        let r = s.should_rate_limit(&twice, &opts).await.value.response;
        assert_eq!(r.overall, Code::Ok);
        assert_eq!(r.statuses.len(), 2);
        assert!(r.statuses.iter().all(|st| st.current_limit == 2));
        let r = s.should_rate_limit(&twice, &opts).await.value.response;
        assert_eq!(r.overall, Code::OverLimit);

        // A full gauge refuses with the windowed statuses and the full gauge's alone.
        let gauge = [
            d("api_key", "g", Limits::new().requests(10).max_parallel(1)),
            d("team", "g", Limits::new().max_parallel(5)),
        ];
        let first = s.should_rate_limit(&gauge, &opts).await;
        assert!(first.is_admitted());
        let slot = first.value.slot.clone().expect("slot");
        assert_eq!(slot.scopes.len(), 2);
        let second = s.should_rate_limit(&gauge, &opts).await.value;
        assert_eq!(second.response.overall, Code::OverLimit);
        assert!(second.slot.is_none());
        let last = second.response.statuses.last().unwrap();
        assert_eq!(last.descriptor_key(), "api_key");
        assert_eq!(last.descriptor_value(), None);
        assert_eq!((last.current_limit, last.limit_remaining), (1, 0));
        assert_eq!(s.release_slots(&slot).await.unwrap(), vec![0, 0]);
        assert_eq!(s.release_slots(&slot).await.unwrap(), vec![0, 0]);
        assert!(s.should_rate_limit(&gauge, &opts).await.is_admitted());

        assert!(
            s.atomic_check_and_increment_by_n(&key, &[])
                .await
                .is_err_and(|e| matches!(e, fastllm_ratelimit::Error::LengthMismatch { .. }))
        );
    })
    .await;
}

/// The window restarts on the Redis server's clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_restarts_by_server_time() {
    let server = RedisServer::start();
    bounded(async {
        let s = store(
            &server,
            RedisConfig {
                window_size_secs: 1,
                ..RedisConfig::default()
            },
        );
        let key = [d("api_key", "w", Limits::new().requests(1))];
        let opts = CheckOptions::default();
        // Start right after a second boundary so the two checks share a window.
        let start = server_time(s.pool()).await;
        while server_time(s.pool()).await == start {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(s.should_rate_limit(&key, &opts).await.is_admitted());
        assert!(!s.should_rate_limit(&key, &opts).await.is_admitted());
        let opened = s.window_start(&key[0]).await.unwrap().unwrap();
        // The over-limit counter outlives the window by under a second (its key's TTL), then
        // the window restarts at the server's time.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if s.should_rate_limit(&key, &opts).await.is_admitted() {
                break;
            }
            assert!(Instant::now() < deadline, "window never restarted");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(s.window_start(&key[0]).await.unwrap().unwrap() > opened);
        assert_eq!(
            s.counter(&key[0], CounterKind::Requests).await.unwrap(),
            Some(1)
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// One limit, two stores
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_share_one_limit() {
    const TASKS: usize = 8;
    const PER_TASK: usize = 40;
    let server = RedisServer::start();
    bounded(async {
        let stores = [store(&server, long_window()), store(&server, long_window())];

        // Requests: 320 attempts across both stores on a limit of 100.
        for limit in [1u64, 37, 100] {
            let key = Arc::new(vec![
                d(
                    "api_key",
                    &format!("shared-{limit}"),
                    Limits::new().requests(limit),
                ),
                d("team", "shared", Limits::new().requests(1 << 40)),
            ]);
            let admitted = Arc::new(AtomicUsize::new(0));
            let tasks: Vec<_> = (0..TASKS)
                .map(|t| {
                    let (s, key, admitted) = (stores[t % 2].clone(), key.clone(), admitted.clone());
                    tokio::spawn(async move {
                        for _ in 0..PER_TASK {
                            let r = s.should_rate_limit(&key, &CheckOptions::default()).await;
                            assert!(r.is_verified(), "{:?}", r.error);
                            if r.is_admitted() {
                                admitted.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.expect("task panicked");
            }
            assert_eq!(
                admitted.load(Ordering::SeqCst),
                limit as usize,
                "limit {limit}"
            );
            // Once over, checks are refused before counting: the counter stops at limit + 1.
            assert_eq!(
                stores[0]
                    .counter(&key[0], CounterKind::Requests)
                    .await
                    .unwrap(),
                Some(limit as i64 + 1)
            );
        }

        // Token reservations: 1000 tokens, 30 per reservation: exactly 33 fit.
        let team = Arc::new(vec![d("team", "tpm", Limits::new().tokens(1000))]);
        let reserved = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let (s, team, reserved) = (stores[t % 2].clone(), team.clone(), reserved.clone());
                tokio::spawn(async move {
                    for _ in 0..10 {
                        let r = s.reserve_tpm_tokens(&team, 30, &[]).await;
                        assert!(r.is_verified());
                        if r.is_admitted() {
                            reserved.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task panicked");
        }
        assert_eq!(reserved.load(Ordering::SeqCst), 33);
        assert_eq!(
            stores[1]
                .counter(&team[0], CounterKind::Tokens)
                .await
                .unwrap(),
            Some(990)
        );

        // Parallel slots: never more than 3 held at once, across both stores.
        let gauge = Arc::new(vec![d(
            "api_key",
            "parallel",
            Limits::new().max_parallel(3),
        )]);
        let holding = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let served = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let s = stores[t % 2].clone();
                let (gauge, holding, peak, served) =
                    (gauge.clone(), holding.clone(), peak.clone(), served.clone());
                tokio::spawn(async move {
                    for _ in 0..15 {
                        let r = s.should_rate_limit(&gauge, &CheckOptions::default()).await;
                        assert!(r.is_verified());
                        let Some(slot) = r.value.slot else { continue };
                        let now = holding.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        served.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(3)).await;
                        holding.fetch_sub(1, Ordering::SeqCst);
                        s.release_slots(&slot).await.expect("release");
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task panicked");
        }
        let peak = peak.load(Ordering::SeqCst);
        assert!((1..=3).contains(&peak), "peak {peak}");
        assert!(served.load(Ordering::SeqCst) >= 3);
        assert_eq!(stores[0].in_flight(&gauge[0]).await.unwrap(), 0);
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct Tally {
    verified: AtomicUsize,
    open_admitted: AtomicUsize,
    closed_refused: AtomicUsize,
}

/// Checks one outcome against the store's fail mode; panics (failing the test) otherwise.
fn tally(tally: &Tally, mode: FailMode, checked: &fastllm_ratelimit::Checked<Admission>) {
    match (&checked.error, mode) {
        (None, _) => {
            tally.verified.fetch_add(1, Ordering::SeqCst);
        }
        (Some(u), FailMode::Open) => {
            assert!(!u.refused());
            assert_eq!(checked.decision(), Decision::Admitted);
            assert!(checked.value.response.is_ok());
            assert!(checked.value.slot.is_none());
            tally.open_admitted.fetch_add(1, Ordering::SeqCst);
        }
        (Some(u), FailMode::Closed) => {
            assert!(u.refused());
            assert_eq!(checked.decision(), Decision::Unverifiable);
            assert!(!checked.is_admitted());
            assert_eq!(checked.value.response.overall, Code::OverLimit);
            assert!(checked.value.response.statuses.is_empty());
            assert_eq!(u.to_string(), RATE_LIMIT_UNVERIFIABLE_MESSAGE);
            tally.closed_refused.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The failure is the pool's `Unavailable` or `Timeout`, with the driver's error under it.
fn assert_backend_down(err: &BackendError) {
    let pool_error = err.pool_error().expect("a pool error");
    assert!(
        matches!(
            pool_error,
            fastllm_connpool::Error::Unavailable { .. } | fastllm_connpool::Error::Timeout { .. }
        ),
        "{pool_error:?}"
    );
    let text = error_chain(err);
    assert!(text.starts_with("rate-limit "), "{text}");
    assert!(err.source().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_mid_load_then_restarted() {
    let mut server = RedisServer::start();
    let open = store(&server, long_window());
    let closed = store(
        &server,
        RedisConfig {
            fail_mode: FailMode::Closed,
            ..long_window()
        },
    );
    let key = Arc::new(vec![d(
        "api_key",
        "fault",
        Limits::new().requests(1 << 40).max_parallel(1 << 20),
    )]);
    let tallies = Arc::new([Tally::default(), Tally::default()]);
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .map(|t| {
            let (s, mode) = if t % 2 == 0 {
                (open.clone(), FailMode::Open)
            } else {
                (closed.clone(), FailMode::Closed)
            };
            let (key, tallies, stop) = (key.clone(), tallies.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let checked = s.should_rate_limit(&key, &CheckOptions::default()).await;
                    tally(&tallies[t % 2], mode, &checked);
                    if let Some(slot) = &checked.value.slot {
                        // May fail while Redis is down; the slot then expires by its TTL.
                        let _ = s.release_slots(slot).await;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            })
        })
        .collect();

    let wait_for = |what: &'static str, f: Box<dyn Fn() -> bool + Send>| async move {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    bounded(async {
        let t = tallies.clone();
        wait_for(
            "verified checks",
            Box::new(move || t.iter().all(|t| t.verified.load(Ordering::SeqCst) >= 5)),
        )
        .await;

        server.kill();
        let t = tallies.clone();
        wait_for(
            "fail-open admissions and fail-closed refusals",
            Box::new(move || {
                t[0].open_admitted.load(Ordering::SeqCst) >= 5
                    && t[1].closed_refused.load(Ordering::SeqCst) >= 5
            }),
        )
        .await;

        // While Redis is down, every operation answers (quickly) instead of panicking or hanging.
        let started = Instant::now();
        let checked = open.should_rate_limit(&key, &CheckOptions::default()).await;
        assert_eq!(checked.decision(), Decision::Admitted);
        let unverified = checked.error.expect("not verified");
        assert_eq!(unverified.fail_mode, FailMode::Open);
        assert_backend_down(&unverified.error);
        assert_eq!(unverified.error.operation(), "should_rate_limit");
        assert!(error_chain(&unverified).contains("redis at redis://127.0.0.1:"));

        let checked = closed
            .should_rate_limit(&key, &CheckOptions::default())
            .await;
        assert_eq!(checked.decision(), Decision::Unverifiable);
        assert_backend_down(&checked.error.expect("not verified").error);

        let tpm = [d("team", "fault", Limits::new().tokens(100))];
        let r = open.reserve_tpm_tokens(&tpm, 10, &[]).await;
        assert_eq!(r.decision(), Decision::Admitted);
        assert!(r.value.scopes.is_empty() && r.value.settlement(50).is_empty());
        let r = closed.reserve_tpm_tokens(&tpm, 10, &[]).await;
        assert_eq!(r.decision(), Decision::Unverifiable);
        let r = closed
            .atomic_check_and_increment_by_n(&tpm, &[Increment::tokens(1)])
            .await
            .unwrap();
        assert_eq!(r.decision(), Decision::Unverifiable);
        let slot = SlotAcquisition {
            slot_id: SlotId::new("gone"),
            scopes: vec![Arc::from(key[0].scope())],
        };
        assert_backend_down(&open.release_slots(&slot).await.unwrap_err());
        assert_backend_down(
            &open
                .counter(&key[0], CounterKind::Requests)
                .await
                .unwrap_err(),
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );

        server.restart();
        // The same stores, not rebuilt, answer from Redis again.
        let before: Vec<usize> = tallies
            .iter()
            .map(|t| t.verified.load(Ordering::SeqCst))
            .collect();
        let t = tallies.clone();
        wait_for(
            "recovery",
            Box::new(move || {
                t.iter()
                    .zip(&before)
                    .all(|(t, b)| t.verified.load(Ordering::SeqCst) >= b + 5)
            }),
        )
        .await;
        stop.store(true, Ordering::SeqCst);
        for task in load {
            task.await.expect("a load task panicked");
        }

        // Limits are enforced again (the restarted server has no data: counts start over).
        for s in [&open, &closed] {
            let fresh = [d("api_key", "after-restart", Limits::new().requests(3))];
            let mut admitted = 0;
            for _ in 0..5 {
                let r = s.should_rate_limit(&fresh, &CheckOptions::default()).await;
                assert!(r.is_verified());
                admitted += usize::from(r.is_admitted());
            }
            assert_eq!(admitted, 3);
            let _: i64 = redis(s.pool(), cmd("DEL").arg("{api_key:after-restart}:requests")).await;
            let _: i64 = redis(s.pool(), cmd("DEL").arg("{api_key:after-restart}:window")).await;
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// LiteLLM's keys
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_values_are_litellms() {
    let server = RedisServer::start();
    bounded(async {
        let s = store(&server, RedisConfig::default());
        let pool = s.pool();
        let key = [d(
            "api_key",
            "abc",
            Limits::new().requests(10).tokens(1000).max_parallel(5),
        )];
        let t0 = server_time(pool).await;
        let checked = s.should_rate_limit(&key, &CheckOptions::default()).await;
        let t1 = server_time(pool).await;
        assert!(checked.is_admitted());
        let slot = checked.value.slot.expect("slot");

        let mut keys: Vec<String> = redis(pool, cmd("KEYS").arg("*")).await;
        keys.sort();
        assert_eq!(
            keys,
            [
                "{api_key:abc}:max_parallel_requests",
                "{api_key:abc}:requests",
                "{api_key:abc}:tokens",
                "{api_key:abc}:window",
            ]
        );
        let window: String = redis(pool, cmd("GET").arg("{api_key:abc}:window")).await;
        let start: i64 = window.parse().expect("window start is a decimal integer");
        assert!((t0..=t1).contains(&start), "{start} not in {t0}..={t1}");
        for (k, v) in [
            ("{api_key:abc}:requests", "1"),
            ("{api_key:abc}:tokens", "1"),
        ] {
            let got: String = redis(pool, cmd("GET").arg(k)).await;
            assert_eq!(got, v, "{k}");
        }
        for k in [
            "{api_key:abc}:window",
            "{api_key:abc}:requests",
            "{api_key:abc}:tokens",
        ] {
            let ttl: i64 = redis(pool, cmd("TTL").arg(k)).await;
            assert!((58..=60).contains(&ttl), "{k} ttl {ttl}");
        }
        let kind: String =
            redis(pool, cmd("TYPE").arg("{api_key:abc}:max_parallel_requests")).await;
        assert_eq!(kind, "zset");
        let members: Vec<(String, i64)> = redis(
            pool,
            cmd("ZRANGE")
                .arg("{api_key:abc}:max_parallel_requests")
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES"),
        )
        .await;
        assert_eq!(members.len(), 1);
        assert_eq!(members[0].0, slot.slot_id.as_str());
        assert_eq!(slot.slot_id.as_str().len(), 32, "uuid-hex sized");
        assert!((t0..=t1).contains(&members[0].1));
        let ttl: i64 = redis(pool, cmd("TTL").arg("{api_key:abc}:max_parallel_requests")).await;
        assert!((3598..=3600).contains(&ttl), "gauge ttl {ttl}");

        // A reservation on a descriptor with its own window: TTL = that window.
        let team = [d("team", "t", Limits::new().tokens(100).window_secs(30))];
        let r = s.reserve_tpm_tokens(&team, 40, &[]).await;
        assert!(r.is_admitted());
        assert!((t0..=t1 + 5).contains(&r.value.windows()[0].window_start));
        let tokens: String = redis(pool, cmd("GET").arg("{team:t}:tokens")).await;
        assert_eq!(tokens, "40");
        let ttl: i64 = redis(pool, cmd("TTL").arg("{team:t}:tokens")).await;
        assert!((28..=30).contains(&ttl), "ttl {ttl}");
        let ttl: i64 = redis(pool, cmd("TTL").arg("{team:t}:window")).await;
        assert!((28..=30).contains(&ttl), "ttl {ttl}");
        // Settled with the real usage (INCRBYFLOAT, as LiteLLM: the stored text stays an integer).
        s.increment_tokens(&r.value.settlement(25)).await.unwrap();
        let tokens: String = redis(pool, cmd("GET").arg("{team:t}:tokens")).await;
        assert_eq!(tokens, "25");

        // Releasing the slot empties the sorted set (Redis then drops the key).
        assert_eq!(s.release_slots(&slot).await.unwrap(), vec![0]);
        let mut keys: Vec<String> = redis(pool, cmd("KEYS").arg("*")).await;
        keys.sort();
        assert_eq!(
            keys,
            [
                "{api_key:abc}:requests",
                "{api_key:abc}:tokens",
                "{api_key:abc}:window",
                "{team:t}:tokens",
                "{team:t}:window",
            ]
        );
    })
    .await;
}

/// Values written the way LiteLLM's scripts write them are read and enforced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_what_litellm_wrote() {
    let server = RedisServer::start();
    bounded(async {
        let s = store(&server, RedisConfig::default());
        let pool = s.pool();
        let now = server_time(pool).await;
        // LiteLLM's batch script: SET window tostring(now), counters as integers, both EXPIRE.
        let _: () = redis(
            pool,
            cmd("SET")
                .arg("{api_key:x}:window")
                .arg(now.to_string())
                .arg("EX")
                .arg(60),
        )
        .await;
        let _: () = redis(
            pool,
            cmd("SET")
                .arg("{api_key:x}:requests")
                .arg("7")
                .arg("EX")
                .arg(60),
        )
        .await;
        // Its token increment script: INCRBYFLOAT.
        let _: String = redis(pool, cmd("INCRBYFLOAT").arg("{api_key:x}:tokens").arg(12)).await;
        // Its parallel acquire script: a uuid hex scored by TIME.
        let _: i64 = redis(
            pool,
            cmd("ZADD")
                .arg("{api_key:x}:max_parallel_requests")
                .arg(now)
                .arg("0123456789abcdef0123456789abcdef"),
        )
        .await;

        let key = [d(
            "api_key",
            "x",
            Limits::new().requests(8).tokens(20).max_parallel(2),
        )];
        assert_eq!(s.window_start(&key[0]).await.unwrap(), Some(now));
        assert_eq!(s.in_flight(&key[0]).await.unwrap(), 1);
        let r = s.should_rate_limit(&key, &CheckOptions::default()).await;
        assert!(r.is_admitted());
        let remaining: Vec<i64> = r
            .value
            .response
            .statuses
            .iter()
            .map(|st| st.limit_remaining)
            .collect();
        assert_eq!(remaining, [0, 7, 0]); // requests 8/8, tokens 13/20, slots 2/2
        let r = s.should_rate_limit(&key, &CheckOptions::default()).await;
        assert_eq!(r.decision(), Decision::OverLimit);

        // A key of another type is a backend error, not a panic or a silent pass.
        let _: () = redis(pool, cmd("SET").arg("{user:y}:window").arg("not-a-number")).await;
        let bad = [d("user", "y", Limits::new().requests(1))];
        let r = s.should_rate_limit(&bad, &CheckOptions::default()).await;
        assert_eq!(r.decision(), Decision::Admitted);
        let err = r.error.expect("script error").error;
        assert!(
            error_chain(&err).contains("does not hold a number"),
            "{}",
            error_chain(&err)
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Interop with LiteLLM itself
// ---------------------------------------------------------------------------------------------

/// What LiteLLM's half reported.
struct LiteLlmRun {
    version: String,
    admitted: usize,
}

/// Pulls `"name": value` out of the script's one-line JSON.
fn json_field<'a>(line: &'a str, name: &str) -> &'a str {
    let start = line
        .find(&format!("\"{name}\": "))
        .unwrap_or_else(|| panic!("no {name} in {line}"))
        + name.len()
        + 4;
    line[start..]
        .split([',', '}'])
        .next()
        .unwrap_or_default()
        .trim()
        .trim_matches('"')
}

/// Starts `ratelimit/redis_interop.py` under `python`, waits until LiteLLM is ready, then runs
/// `rust_half` while LiteLLM runs its checks.
async fn with_litellm<F, Fut>(
    python: &std::path::Path,
    server: &RedisServer,
    args: &[String],
    rust_half: F,
) -> (LiteLlmRun, (usize, Vec<SlotAcquisition>))
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = (usize, Vec<SlotAcquisition>)>,
{
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/ratelimit/redis_interop.py");
    let mut child = LiteLlmScript::spawn(
        Command::new(python)
            .arg(script)
            .args(args)
            .env("REDIS_URL", server.url())
            .env("LITELLM_RATE_LIMIT_WINDOW_SIZE", LONG_WINDOW.to_string())
            .stdin(Stdio::piped())
            .stderr(Stdio::inherit()),
    )
    .expect("start the LiteLLM interop script");
    let ready = child.next_line(Duration::from_secs(90), "READY").await;
    assert_eq!(ready.as_deref(), Some("READY"), "LiteLLM did not start");
    let stdin = child.stdin();
    stdin.write_all(b"go\n").expect("signal LiteLLM");
    stdin.flush().expect("signal LiteLLM");
    let rust_admitted = rust_half().await;
    let line = child
        .next_line(Duration::from_secs(60), "result")
        .await
        .expect("LiteLLM printed no result");
    let status = child.wait().expect("wait for LiteLLM");
    assert!(status.success(), "LiteLLM interop script failed: {status}");
    let run = LiteLlmRun {
        version: json_field(&line, "litellm").to_owned(),
        admitted: json_field(&line, "admitted")
            .parse()
            .expect("admitted count"),
    };
    (run, rust_admitted)
}

/// Lanes and pause of both sides of the interop run (as in `redis_interop.py`).
const LANES: usize = 4;
const PAUSE: Duration = Duration::from_millis(8);

/// What one side of the interop run does, `n` times.
#[derive(Clone, Copy)]
enum Calls {
    /// `should_rate_limit`, releasing no slot.
    Check,
    /// `reserve_tpm_tokens` of this many tokens.
    Reserve(i64),
}

/// `n` calls on one store, in `LANES` concurrent lanes pausing `PAUSE` between calls. Returns
/// how many were admitted and the slots they hold.
async fn rust_checks(
    s: &RedisStore,
    descriptors: Vec<Descriptor>,
    n: usize,
    calls: Calls,
) -> (usize, Vec<SlotAcquisition>) {
    let descriptors = Arc::new(descriptors);
    let lanes: Vec<_> = (0..LANES)
        .map(|first| {
            let (s, descriptors) = (s.clone(), descriptors.clone());
            tokio::spawn(async move {
                let mut admitted = 0;
                let mut slots = Vec::new();
                for _ in (first..n).step_by(LANES) {
                    let ok = match calls {
                        Calls::Reserve(estimate) => {
                            let r = s.reserve_tpm_tokens(&descriptors, estimate, &[]).await;
                            assert!(r.is_verified(), "{:?}", r.error);
                            r.is_admitted()
                        }
                        Calls::Check => {
                            let r = s
                                .should_rate_limit(&descriptors, &CheckOptions::default())
                                .await;
                            assert!(r.is_verified(), "{:?}", r.error);
                            slots.extend(r.value.slot.clone());
                            r.is_admitted()
                        }
                    };
                    admitted += usize::from(ok);
                    tokio::time::sleep(PAUSE).await;
                }
                (admitted, slots)
            })
        })
        .collect();
    let mut admitted = 0;
    let mut slots = Vec::new();
    for lane in lanes {
        let (a, s) = lane.await.expect("lane panicked");
        admitted += a;
        slots.extend(s);
    }
    (admitted, slots)
}

/// LiteLLM's own limiter and this store, on one Redis, enforce one limit: requests counted by
/// LiteLLM's batch rate limiter script and by this store's script on the same keys, and token
/// reservations by both atomic scripts, admit exactly the limit together.
///
/// The LiteLLM half needs `LITELLM_PYTHON`: a Python with litellm==1.109.3 and fastapi,
/// orjson, backoff and redis (here `/tmp/envs/v109/bin/python`, or a venv the Makefile builds),
/// or several such Pythons separated like `PATH` (1.110.2 works too). CI builds the LiteLLM
/// venvs after the Rust tests, so this test cannot require one: without `LITELLM_PYTHON` a
/// second `RedisStore` plays LiteLLM's part, and the test prints that LiteLLM did not run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_limit_with_litellm() {
    const N: usize = 60;
    const RPM: u64 = 80;
    const TPM: u64 = 2000;
    const ESTIMATE: i64 = 30;
    const FITS: usize = (TPM / ESTIMATE as u64) as usize;
    const SLOTS: u64 = 50;
    let server = RedisServer::start();
    bounded(async {
        let ours = store(&server, long_window());
        let Some(pythons) = std::env::var_os("LITELLM_PYTHON") else {
            println!(
                "interop: LITELLM_PYTHON is unset, so LiteLLM's half did NOT run; a second \
                 RedisStore stands in for it"
            );
            let theirs = store(&server, long_window());
            let rpm = vec![d("api_key", "interop", Limits::new().requests(RPM))];
            let tpm = vec![d("team", "interop", Limits::new().tokens(TPM))];
            let ((a, _), (b, _)) = tokio::join!(
                rust_checks(&ours, rpm.clone(), N, Calls::Check),
                rust_checks(&theirs, rpm.clone(), N, Calls::Check)
            );
            assert_eq!(a + b, RPM as usize);
            let ((a, _), (b, _)) = tokio::join!(
                rust_checks(&ours, tpm.clone(), N, Calls::Reserve(ESTIMATE)),
                rust_checks(&theirs, tpm.clone(), N, Calls::Reserve(ESTIMATE))
            );
            assert_eq!(a + b, FITS);
            let slots = vec![d("user", "interop", Limits::new().max_parallel(SLOTS))];
            let ((a, mine), (b, _)) = tokio::join!(
                rust_checks(&ours, slots.clone(), N, Calls::Check),
                rust_checks(&theirs, slots.clone(), N, Calls::Check)
            );
            assert_eq!(a + b, SLOTS as usize);
            for slot in &mine {
                ours.release_slots(slot).await.unwrap();
            }
            assert_eq!(ours.in_flight(&slots[0]).await.unwrap(), b as i64);
            return;
        };

        for (run, python) in std::env::split_paths(&pythons).enumerate() {
            // Fresh keys for each LiteLLM.
            let value = format!("interop-{run}");
            let rpm = vec![d("api_key", &value, Limits::new().requests(RPM))];
            let tpm = vec![d("team", &value, Limits::new().tokens(TPM))];
            let slots = vec![d("user", &value, Limits::new().max_parallel(SLOTS))];
            let args = |mode: &str, limit: u64, estimate: i64| {
                [
                    mode.to_owned(),
                    N.to_string(),
                    limit.to_string(),
                    value.clone(),
                    estimate.to_string(),
                    PAUSE.as_millis().to_string(),
                ]
            };

            let (litellm, (rust, _)) = with_litellm(&python, &server, &args("rpm", RPM, 1), || {
                rust_checks(&ours, rpm.clone(), N, Calls::Check)
            })
            .await;
            println!(
                "interop (requests): LiteLLM {} admitted {}, fastllm admitted {}, together {} \
                 of {} attempts on a limit of {RPM}",
                litellm.version,
                litellm.admitted,
                rust,
                litellm.admitted + rust,
                2 * N
            );
            assert!(
                ["1.109.3", "1.110.2"].contains(&litellm.version.as_str()),
                "{} runs LiteLLM {}, not a supported line",
                python.display(),
                litellm.version
            );
            assert_eq!(litellm.admitted + rust, RPM as usize);
            if litellm.admitted == 0 || rust == 0 {
                println!(
                    "interop: note: one side took every admission (the runs barely overlapped)"
                );
            }

            let (litellm, (rust, _)) =
                with_litellm(&python, &server, &args("tpm", TPM, ESTIMATE), || {
                    rust_checks(&ours, tpm.clone(), N, Calls::Reserve(ESTIMATE))
                })
                .await;
            println!(
                "interop (token reservations): LiteLLM {} reserved {}, fastllm reserved {}, \
                 together {} of {} attempts; {FITS} x {ESTIMATE} tokens fit in {TPM}",
                litellm.version,
                litellm.admitted,
                rust,
                litellm.admitted + rust,
                2 * N
            );
            assert_eq!(litellm.admitted + rust, FITS);
            assert_eq!(
                ours.counter(&tpm[0], CounterKind::Tokens).await.unwrap(),
                Some(FITS as i64 * ESTIMATE)
            );
            // Parallel slots: both sides acquire on one sorted set and release nothing during
            // the run; exactly the limit is held, and once this store releases its own slots,
            // LiteLLM's are what is left.
            let (litellm, (rust, mine)) =
                with_litellm(&python, &server, &args("parallel", SLOTS, 1), || {
                    rust_checks(&ours, slots.clone(), N, Calls::Check)
                })
                .await;
            println!(
                "interop (parallel slots): LiteLLM {} holds {}, fastllm holds {}, together {} \
                 of {} attempts on {SLOTS} slots",
                litellm.version,
                litellm.admitted,
                rust,
                litellm.admitted + rust,
                2 * N
            );
            assert_eq!(litellm.admitted + rust, SLOTS as usize);
            assert_eq!(ours.in_flight(&slots[0]).await.unwrap(), SLOTS as i64);
            for slot in &mine {
                assert_eq!(slot.slot_id.as_str().len(), 32);
                ours.release_slots(slot).await.unwrap();
            }
            assert_eq!(
                ours.in_flight(&slots[0]).await.unwrap(),
                litellm.admitted as i64
            );

            println!(
                "interop: the LiteLLM {} half RAN and agreed ({})",
                litellm.version,
                python.display()
            );
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// LiteLLM's per-process mirror
// ---------------------------------------------------------------------------------------------

/// `with_litellm_mirror`: a TPM reservation does not reach the mirror, so a pre-check that
/// refuses answers with the counts the last check read back (as one LiteLLM process does),
/// where the plain store answers with Redis's own counts. Both refuse the same request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn litellm_mirror_prechecks_on_the_last_counts_read() {
    let server = RedisServer::start();
    bounded(async {
        let plain = store(&server, long_window());
        let mirrored = store(&server, long_window()).with_litellm_mirror();
        let tokens_remaining = |r: &Response| {
            r.statuses
                .iter()
                .find(|s| s.rate_limit_type == RateLimitType::Tokens)
                .map(|s| s.limit_remaining)
        };
        let mut answers = Vec::new();
        for (s, value) in [(&plain, "plain"), (&mirrored, "mirrored")] {
            let req = [d("api_key", value, Limits::new().requests(1).tokens(5))];
            let first = s.should_rate_limit(&req, &CheckOptions::default()).await;
            assert_eq!(first.decision(), Decision::Admitted);
            // Counted on Redis, then over: requests 2/1, tokens 2/5.
            let second = s.should_rate_limit(&req, &CheckOptions::default()).await;
            assert_eq!(second.decision(), Decision::OverLimit);
            assert_eq!(tokens_remaining(&second.value.response), Some(3));
            // Tokens 5/5 on Redis.
            let reserved = s.reserve_tpm_tokens(&req, 3, &[]).await;
            assert!(reserved.value.response.overall == Code::Ok, "{reserved:?}");
            let third = s.should_rate_limit(&req, &CheckOptions::default()).await;
            assert_eq!(third.decision(), Decision::OverLimit);
            answers.push(tokens_remaining(&third.value.response));
        }
        // Plain: Redis's 5 tokens. Mirrored: the 2 the second check read back.
        assert_eq!(answers, [Some(0), Some(3)]);
    })
    .await;
}

/// With the mirror full for a gauge, the windowed counters are still counted on Redis and no
/// slot is taken, as LiteLLM's gauge pre-check runs after its counting script.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn litellm_mirror_gauge_precheck_counts_the_window_first() {
    let server = RedisServer::start();
    bounded(async {
        let s = store(&server, long_window()).with_litellm_mirror();
        let req = [d("user", "g", Limits::new().requests(100).max_parallel(1))];
        let first = s.should_rate_limit(&req, &CheckOptions::default()).await;
        assert_eq!(first.decision(), Decision::Admitted);
        let slot = first.value.slot.clone().expect("a slot");
        let second = s.should_rate_limit(&req, &CheckOptions::default()).await;
        assert_eq!(second.decision(), Decision::OverLimit);
        let statuses = &second.value.response.statuses;
        assert_eq!(
            statuses.len(),
            2,
            "the windowed status, then the full gauge"
        );
        assert_eq!(
            statuses[0].limit_remaining, 98,
            "the refused request was counted"
        );
        assert_eq!(
            statuses[1].rate_limit_type,
            RateLimitType::MaxParallelRequests
        );
        assert_eq!(statuses[1].code, Code::OverLimit);
        assert!(second.value.slot.is_none());
        // Releasing updates the mirror: the next request gets the slot.
        assert_eq!(s.release_slots(&slot).await.expect("release"), vec![0]);
        let third = s.should_rate_limit(&req, &CheckOptions::default()).await;
        assert_eq!(third.decision(), Decision::Admitted);
    })
    .await;
}
