//! Routers sharing cooldowns and usage on a real `redis-server` on loopback, one throwaway server
//! per test (`fastllm_tests::RedisServer`: `$REDIS_SERVER`, else `redis-server` on
//! `PATH`; without one these tests fail, they never skip).
//!
//! * `two_routers_share_cooldowns`: A cools a deployment down after a 429; B, after a sync,
//!   never picks it until it ends; a router started later takes it on too, and nobody does
//!   once it is over. `cooldown_ends_in_real_time` runs the same with the system clock and a
//!   1 s cooldown, the Redis key expiring.
//! * `two_routers_share_usage`: usage-based-v2 tokens and requests recorded by one router steer
//!   the other's picks and admissions, and an rpm refusal's cooldown reaches the first.
//! * `values_are_litellms`: the exact bytes, keys and TTLs LiteLLM writes;
//!   `reads_what_litellm_wrote`: entries written the way LiteLLM's sync (`str()`) and async
//!   (`json.dumps`) paths write them are taken on.
//! * `redis_down_keeps_routing`: with Redis gone the local outcome stands and the error is
//!   reported; everything works again once it is back.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fastllm_connpool::PoolConfig;
use fastllm_connpool::redis::{FromRedisValue, RedisPool, cmd};
use fastllm_router::litellm::keys;
use fastllm_router::strategy::Strategy;
use fastllm_router::{
    Admission, BackendError, Clock, CooldownDecision, CooldownReason, CooldownSettings,
    CooldownValue, Deployment, ErrorKind, Failure, FakeClock, RedisState, Router, RouterSettings,
    StdRouterRng, Success, SystemClock,
};
use fastllm_tests::RedisServer;
use fastllm_tests::router::picked_ids;

/// Every test gets this long, start to end.
const TEST_LIMIT: Duration = Duration::from_secs(60);

async fn bounded<F: std::future::Future<Output = ()>>(test: F) {
    tokio::time::timeout(TEST_LIMIT, test)
        .await
        .expect("test exceeded its time limit");
}

/// One pool per router, as two processes would have.
fn redis_state(server: &RedisServer) -> RedisState {
    let config = PoolConfig::default()
        .with_max_size(2)
        .with_connect_timeout(Duration::from_millis(300))
        .with_command_timeout(Duration::from_millis(500))
        .with_wait_timeout(Duration::from_secs(2));
    RedisState::new(RedisPool::from_url(&server.url(), config).expect("pool"))
}

async fn raw<T: FromRedisValue>(redis: &RedisState, command: &fastllm_connpool::redis::Cmd) -> T {
    let mut conn = redis.pool().get().await.expect("checkout");
    conn.query(command).await.expect("redis command")
}

fn dep(id: &str, group: &str) -> Deployment {
    Deployment::builder(id, group, format!("openai/{id}"))
        .build()
        .unwrap()
}

fn router(
    deployments: Vec<Deployment>,
    settings: RouterSettings,
    clock: Arc<dyn Clock>,
) -> Router<Arc<dyn Clock>> {
    Router::with_clock(deployments, settings, clock).unwrap()
}

/// 2024-05-17 09:04:00 UTC: Unix 1715936640, usage keys end in `09-04`.
fn clock() -> Arc<FakeClock> {
    Arc::new(FakeClock::at_utc(2024, 5, 17, 9, 4, 0))
}

fn cooldown_secs(secs: f64) -> RouterSettings {
    RouterSettings {
        cooldown: CooldownSettings {
            cooldown_time: Some(secs),
            ..CooldownSettings::default()
        },
        ..RouterSettings::default()
    }
}

fn usage_v2() -> RouterSettings {
    RouterSettings {
        strategy: Strategy::UsageBasedV2,
        ..RouterSettings::default()
    }
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).to_owned()).collect()
}

fn rate_limited(message: &str) -> Failure<'_> {
    Failure {
        message,
        ..Failure::new(Some(429), ErrorKind::RateLimit)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_routers_share_cooldowns() {
    bounded(async {
        let server = RedisServer::start();
        let (redis_a, redis_b, redis_c) = (
            redis_state(&server),
            redis_state(&server),
            redis_state(&server),
        );
        // Both processes read the same (fake) time; Redis expiries run on real time, and the
        // default 5 s cooldown leaves them plenty while the fake clock is moved instead.
        let clock = clock();
        let group = || vec![dep("azure-eu", "g"), dep("openai", "g")];
        let a = router(group(), RouterSettings::default(), clock.clone());
        let b = router(group(), RouterSettings::default(), clock.clone());
        let mut rng = StdRouterRng::seeded(1);
        b.sync_from_redis(&redis_b, "g").await.unwrap();
        assert_eq!(
            picked_ids(&b, "g", 100, &mut rng),
            set(&["azure-eu", "openai"])
        );

        let shared = a
            .on_failure_shared(
                &redis_a,
                "openai",
                &rate_limited("litellm.RateLimitError: 429"),
            )
            .await;
        assert!(shared.backend_ok(), "{:?}", shared.error);
        assert_eq!(
            shared.value,
            CooldownDecision::CooledDown {
                secs: 5.0,
                reason: CooldownReason::RateLimited
            }
        );

        let synced = b.sync_from_redis(&redis_b, "g").await.unwrap();
        assert_eq!(synced.cooldowns_adopted, 1);
        assert!(b.is_cooling_down("openai"));
        assert_eq!(picked_ids(&b, "g", 200, &mut rng), set(&["azure-eu"]));
        let synced = b.sync_from_redis(&redis_b, "g").await.unwrap();
        assert_eq!(synced.cooldowns_adopted, 0, "already cooling down here");

        clock.advance(Duration::from_millis(2500));
        // A router started now (say a third process) takes on what is left of it.
        let c = router(group(), RouterSettings::default(), clock.clone());
        let synced = c.sync_from_redis(&redis_c, "g").await.unwrap();
        assert_eq!(synced.cooldowns_adopted, 1);
        assert_eq!(picked_ids(&c, "g", 200, &mut rng), set(&["azure-eu"]));

        clock.advance(Duration::from_millis(2499));
        for r in [&a, &b, &c] {
            assert!(r.is_cooling_down("openai"));
        }
        assert_eq!(picked_ids(&b, "g", 100, &mut rng), set(&["azure-eu"]));
        clock.advance(Duration::from_millis(1));
        // timestamp + cooldown_time == now: over, here and in what Redis still holds.
        for (r, redis) in [(&a, &redis_a), (&b, &redis_b), (&c, &redis_c)] {
            let synced = r.sync_from_redis(redis, "g").await.unwrap();
            assert_eq!(synced.cooldowns_adopted, 0);
            assert!(!r.is_cooling_down("openai"));
            assert_eq!(
                picked_ids(r, "g", 100, &mut rng),
                set(&["azure-eu", "openai"])
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooldown_ends_in_real_time() {
    bounded(async {
        let server = RedisServer::start();
        let (redis_a, redis_b) = (redis_state(&server), redis_state(&server));
        let group = || vec![dep("azure-eu", "g"), dep("openai", "g")];
        let a = router(group(), cooldown_secs(1.0), Arc::new(SystemClock::new()));
        let b = router(group(), cooldown_secs(1.0), Arc::new(SystemClock::new()));
        let mut rng = StdRouterRng::seeded(2);

        let shared = a
            .on_failure_shared(&redis_a, "openai", &rate_limited("429"))
            .await;
        // After both the local entry and the Redis key were written.
        let written = Instant::now();
        assert!(shared.value.is_cooldown() && shared.backend_ok());
        assert_eq!(
            b.sync_from_redis(&redis_b, "g")
                .await
                .unwrap()
                .cooldowns_adopted,
            1
        );
        assert_eq!(picked_ids(&b, "g", 100, &mut rng), set(&["azure-eu"]));

        // Both the local entry and the Redis key (EX 1) run out one second after they were
        // written.
        tokio::time::sleep(Duration::from_millis(1050).saturating_sub(written.elapsed())).await;
        let key = keys::cooldown("openai");
        let exists: i64 = raw(&redis_b, cmd("EXISTS").arg(&key)).await;
        assert_eq!(exists, 0, "the key expired in Redis");
        assert!(!b.is_cooling_down("openai"));
        assert_eq!(
            b.sync_from_redis(&redis_b, "g")
                .await
                .unwrap()
                .cooldowns_adopted,
            0
        );
        assert_eq!(
            picked_ids(&b, "g", 100, &mut rng),
            set(&["azure-eu", "openai"])
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_routers_share_usage() {
    bounded(async {
        let server = RedisServer::start();
        let (redis_a, redis_b) = (redis_state(&server), redis_state(&server));
        let clock = clock();
        let deployments = || {
            vec![
                dep("a", "g"),
                dep("b", "g"),
                Deployment::builder("c", "h", "openai/c")
                    .rpm(2)
                    .build()
                    .unwrap(),
                dep("d", "h"),
            ]
        };
        let ra = router(deployments(), usage_v2(), clock.clone());
        let rb = router(deployments(), usage_v2(), clock.clone());
        let mut rng = StdRouterRng::seeded(3);
        let success = |tokens| Success {
            total_tokens: tokens,
            ..Success::default()
        };

        // Tokens: A's success on "a" makes B prefer "b", and the other way round.
        assert_eq!(picked_ids(&rb, "g", 100, &mut rng), set(&["a", "b"]));
        ra.on_success_shared(&redis_a, "a", &success(100))
            .await
            .into_result()
            .unwrap();
        let synced = rb.sync_from_redis(&redis_b, "g").await.unwrap();
        assert_eq!(synced.counters_read, 1);
        assert_eq!(picked_ids(&rb, "g", 100, &mut rng), set(&["b"]));
        rb.on_success_shared(&redis_b, "b", &success(150))
            .await
            .into_result()
            .unwrap();
        ra.sync_from_redis(&redis_a, "g").await.unwrap();
        assert_eq!(picked_ids(&ra, "g", 100, &mut rng), set(&["a"]));
        // Both add to one shared counter.
        rb.on_success_shared(&redis_b, "a", &success(20))
            .await
            .into_result()
            .unwrap();
        let tpm_a = keys::v2_tpm("a", "openai/a", clock.wall().utc_minute());
        assert_eq!(tpm_a, "a:openai/a:tpm:09-04");
        let total: String = raw(&redis_a, cmd("GET").arg(&tpm_a)).await;
        assert_eq!(total, "120");
        ra.sync_from_redis(&redis_a, "g").await.unwrap();
        assert_eq!(
            picked_ids(&ra, "g", 100, &mut rng),
            set(&["a"]),
            "120 < 150"
        );

        // Requests: A admits two calls to "c" (rpm 2); B then skips it and refuses it.
        for _ in 0..2 {
            let admitted = ra.admit_shared(&redis_a, "c").await.into_result().unwrap();
            assert!(matches!(admitted, Admission::Admitted(_)));
        }
        let rpm_c = keys::v2_rpm("c", "openai/c", clock.wall().utc_minute());
        let count: String = raw(&redis_b, cmd("GET").arg(&rpm_c)).await;
        assert_eq!(count, "2");
        assert_eq!(
            picked_ids(&rb, "h", 50, &mut rng),
            set(&["c", "d"]),
            "before a sync"
        );
        rb.sync_from_redis(&redis_b, "h").await.unwrap();
        assert_eq!(
            picked_ids(&rb, "h", 100, &mut rng),
            set(&["d"]),
            "2 + 1 >= rpm 2"
        );
        let refused = rb.admit_shared(&redis_b, "c").await;
        assert!(refused.backend_ok(), "{:?}", refused.error);
        assert!(
            matches!(refused.value, Admission::OverRpm { limit, current: 2 } if limit == 2.0),
            "{:?}",
            refused.value
        );
        // The refusal cooled "c" down (a 429 in a group of two); A takes that on as well.
        assert!(rb.is_cooling_down("c"));
        assert_eq!(
            ra.sync_from_redis(&redis_a, "h")
                .await
                .unwrap()
                .cooldowns_adopted,
            1
        );
        assert!(ra.is_cooling_down("c"));
        let stored: String = raw(&redis_a, cmd("GET").arg(keys::cooldown("c"))).await;
        let stored = CooldownValue::parse(&stored).unwrap();
        // str(RateLimitError) is "litellm.RateLimitError: Deployment over defined rpm
        // limit=2. current usage=2", masked after 50 characters.
        assert_eq!(
            stored.exception_received,
            format!(
                "litellm.RateLimitError: Deployment over defined rp{}",
                "*".repeat(26)
            )
        );
        assert_eq!(
            (stored.status_code.as_str(), stored.cooldown_time),
            ("429", 5.0)
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_are_litellms() {
    bounded(async {
        let server = RedisServer::start();
        let redis = redis_state(&server);
        let clock = clock();
        let settings = RouterSettings {
            strategy: Strategy::UsageBasedV2,
            ..cooldown_secs(1.0)
        };
        let r = router(vec![dep("a", "g"), dep("b", "g")], settings, clock.clone());

        let shared = r
            .on_failure_shared(
                &redis,
                "a",
                &rate_limited("litellm.RateLimitError: slow down"),
            )
            .await;
        assert!(shared.value.is_cooldown() && shared.backend_ok());
        let key = "deployment:a:cooldown";
        let stored: String = raw(&redis, cmd("GET").arg(key)).await;
        // CooldownCache.add_deployment_to_cooldown -> RedisCache.set_cache: str(value), EX int(ttl).
        assert_eq!(
            stored,
            "{'exception_received': 'litellm.RateLimitError: slow down', 'status_code': '429', \
             'timestamp': 1715936640.0, 'cooldown_time': 1.0}"
        );
        let value = CooldownValue::parse(&stored).unwrap();
        assert_eq!(value.timestamp, 1_715_936_640.0);
        assert_eq!(value.cooldown_time, 1.0);
        let ttl: i64 = raw(&redis, cmd("TTL").arg(key)).await;
        let pttl: i64 = raw(&redis, cmd("PTTL").arg(key)).await;
        assert_eq!(ttl, 1);
        assert!(0 < pttl && pttl <= 1000, "{pttl}");

        // A long exception text is masked after 50 characters, as LiteLLM does.
        clock.advance(Duration::from_secs(2));
        let long = format!("litellm.RateLimitError: {}", "y".repeat(40));
        assert!(
            r.on_failure_shared(&redis, "a", &rate_limited(&long))
                .await
                .backend_ok()
        );
        let stored: String = raw(&redis, cmd("GET").arg(key)).await;
        let value = CooldownValue::parse(&stored).unwrap();
        assert_eq!(
            value.exception_received,
            format!(
                "litellm.RateLimitError: {}{}",
                "y".repeat(26),
                "*".repeat(14)
            )
        );

        // Under a second: LiteLLM's SET ... EX 0 is refused, so nothing reaches Redis.
        let short = RouterSettings {
            strategy: Strategy::UsageBasedV2,
            ..cooldown_secs(0.5)
        };
        let r2 = router(vec![dep("a", "g"), dep("b", "g")], short, clock.clone());
        let shared = r2.on_failure_shared(&redis, "b", &rate_limited("x")).await;
        assert!(shared.value.is_cooldown() && shared.backend_ok());
        assert!(r2.is_cooling_down("b"));
        let exists: i64 = raw(&redis, cmd("EXISTS").arg(keys::cooldown("b"))).await;
        assert_eq!(exists, 0);

        // Usage: INCRBYFLOAT then EXPIRE 60 on `{id}:{model}:tpm:{HH-MM}` / `...:rpm:...`.
        r.on_success_shared(
            &redis,
            "b",
            &Success {
                total_tokens: 42,
                ..Success::default()
            },
        )
        .await
        .into_result()
        .unwrap();
        let _ = r.admit_shared(&redis, "b").await.into_result().unwrap();
        for (key, want) in [
            ("b:openai/b:tpm:09-04", "42"),
            ("b:openai/b:rpm:09-04", "1"),
        ] {
            let value: String = raw(&redis, cmd("GET").arg(key)).await;
            let ttl: i64 = raw(&redis, cmd("TTL").arg(key)).await;
            assert_eq!(value, want, "{key}");
            assert!(0 < ttl && ttl <= 60, "{key}: {ttl}");
        }
        let counts = redis
            .read_usage(&["b:openai/b:tpm:09-04", "b:openai/b:rpm:09-04", "nope"])
            .await
            .unwrap();
        assert_eq!(counts, [Some(42), Some(1), None]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_what_litellm_wrote() {
    bounded(async {
        let server = RedisServer::start();
        let redis = redis_state(&server);
        let clock = clock();
        let now = 1_715_936_640.0_f64;
        // Sync path (`str(value)`, the bytes LiteLLM 1.109.3 and 1.110.2 SET) and async path
        // (`json.dumps(value)`), both written 0.75 s ago for 5 s; one long over; one garbage.
        let entries = [
            (
                "a",
                "{'exception_received': 'litellm.RateLimitError: slow down \
                 xxxxxxxxxxxxxxxx**********************************************', \
                 'status_code': '429', 'timestamp': 1715936639.25, 'cooldown_time': 5.0}",
            ),
            (
                "b",
                r#"{"exception_received": "litellm.AuthenticationError: it's \"bad\"", "status_code": "401", "timestamp": 1715936639.25, "cooldown_time": 5.0}"#,
            ),
            (
                "c",
                "{'exception_received': '', 'status_code': '500', 'timestamp': 1715936580.0, \
                 'cooldown_time': 5.0}",
            ),
            ("d", "not a cooldown"),
        ];
        for (id, value) in &entries {
            let () = raw(&redis, cmd("SET").arg(keys::cooldown(id)).arg(value).arg("EX").arg(60))
                .await;
        }
        // A counter LiteLLM's sync path made with INCRBY, one its async path made with
        // INCRBYFLOAT.
        let () = raw(&redis, cmd("INCRBY").arg("e:openai/e:tpm:09-04").arg(250)).await;
        let _: String = raw(&redis, cmd("INCRBYFLOAT").arg("f:openai/f:tpm:09-04").arg(300)).await;

        let group: Vec<Deployment> = ["a", "b", "c", "d", "e", "f", "g"]
            .iter()
            .map(|id| dep(id, "grp"))
            .collect();
        let r = router(group, usage_v2(), clock.clone());
        let synced = r.sync_from_redis(&redis, "grp").await.unwrap();
        assert_eq!(
            (synced.cooldowns_adopted, synced.counters_read, synced.unreadable),
            (2, 2, 1)
        );
        for (id, cooling) in [("a", true), ("b", true), ("c", false), ("d", false)] {
            assert_eq!(r.is_cooling_down(id), cooling, "{id}");
        }
        let mut rng = StdRouterRng::seeded(4);
        assert_eq!(picked_ids(&r, "grp", 200, &mut rng), set(&["c", "d", "g"]));
        clock.advance(Duration::from_millis(4249));
        assert!(r.is_cooling_down("a") && r.is_cooling_down("b"));
        clock.advance(Duration::from_millis(1));
        assert!(!r.is_cooling_down("a") && !r.is_cooling_down("b"));

        let active = redis
            .active_cooldowns(&["a", "b", "c", "d", "zz"], now)
            .await
            .unwrap();
        let ids: Vec<&str> = active.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(active[1].1.exception_received, r#"litellm.AuthenticationError: it's "bad""#);
        assert_eq!(active[1].1.status_code, "401");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_keeps_routing() {
    bounded(async {
        let mut server = RedisServer::start();
        let redis = redis_state(&server);
        let clock = clock();
        let r = router(
            vec![dep("a", "g"), dep("b", "g")],
            usage_v2(),
            clock.clone(),
        );
        r.sync_from_redis(&redis, "g").await.unwrap();
        server.kill();

        let shared = r.on_failure_shared(&redis, "a", &rate_limited("429")).await;
        assert!(shared.value.is_cooldown(), "decided and applied locally");
        assert!(matches!(
            shared.error,
            Some(BackendError::Redis {
                operation: "write_cooldown",
                ..
            })
        ));
        assert!(r.is_cooling_down("a"));
        let err = r.sync_from_redis(&redis, "g").await.unwrap_err();
        assert!(
            matches!(
                err,
                BackendError::Redis {
                    operation: "sync",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(std::error::Error::source(&err).is_some());
        let admitted = r.admit_shared(&redis, "b").await;
        assert!(matches!(admitted.value, Admission::Admitted(_)));
        assert!(admitted.error.is_some());
        let mut rng = StdRouterRng::seeded(5);
        assert_eq!(picked_ids(&r, "g", 50, &mut rng), set(&["b"]));

        server.restart();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match r.sync_from_redis(&redis, "g").await {
                Ok(_) => break,
                Err(e) => assert!(Instant::now() < deadline, "Redis did not come back: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        clock.advance(Duration::from_secs(5));
        let shared = r.on_failure_shared(&redis, "b", &rate_limited("429")).await;
        assert!(shared.backend_ok(), "{:?}", shared.error);
    })
    .await;
}
