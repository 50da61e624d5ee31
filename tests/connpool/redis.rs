//! The Redis pool against a real `redis-server` on loopback, one throwaway server per test.
//!
//! The server binary is `$REDIS_SERVER` if set, else `redis-server` on `PATH`. Without one these
//! tests fail (they never skip): install it with `apt-get install redis-server`.

use std::error::Error as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fastllm_connpool::redis::{AsyncCommands, RedisPool, Script, cmd, pipe};
use fastllm_connpool::{Error, Object, Operation, PoolConfig, PoolError};
use fastllm_tests::{RedisServer, error_chain};

/// Every test gets this long, start to end.
const TEST_LIMIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Harness (the server itself is `fastllm_tests::RedisServer`)
// ---------------------------------------------------------------------------------------------

fn config() -> PoolConfig {
    PoolConfig::default()
        .with_max_size(4)
        .with_connect_timeout(Duration::from_millis(500))
        .with_command_timeout(Duration::from_millis(500))
        .with_wait_timeout(Duration::from_secs(2))
}

async fn bounded<F: std::future::Future<Output = ()>>(test: F) {
    tokio::time::timeout(TEST_LIMIT, test)
        .await
        .expect("test exceeded its time limit");
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_set_script_and_pipeline() {
    let server = RedisServer::start();
    bounded(async {
        let pool = RedisPool::from_url(&server.url(), config()).unwrap();
        let mut conn = pool.get().await.unwrap();

        conn.query::<()>(cmd("SET").arg("greeting").arg("hello"))
            .await
            .unwrap();
        let value: String = conn.query(cmd("GET").arg("greeting")).await.unwrap();
        assert_eq!(value, "hello");
        let missing: Option<String> = conn.query(cmd("GET").arg("nope")).await.unwrap();
        assert_eq!(missing, None);

        // The driver's command API works on the pooled connection too.
        let () = conn.set("n", 41).await.unwrap();
        let n: i64 = conn.incr("n", 1).await.unwrap();
        assert_eq!(n, 42);

        let incr_by = Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])");
        let total: i64 = conn
            .invoke_script(incr_by.key("hits").arg(5))
            .await
            .unwrap();
        assert_eq!(total, 5);

        let (a, b): (i64, i64) = conn
            .query_pipeline(pipe().atomic().incr("p", 1).incr("p", 2))
            .await
            .unwrap();
        assert_eq!((a, b), (1, 3));

        // A server-side error is `Error::Redis` and leaves the connection usable.
        let err = conn
            .query::<i64>(cmd("INCR").arg("greeting"))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Redis(_)), "{err:?}");
        assert!(!conn.is_broken());
        let id = Object::id(&conn);
        drop(conn);

        // Same connection comes back, data is visible from it.
        let mut again = pool.get().await.unwrap();
        assert_eq!(Object::id(&again), id);
        let value: String = again.query(cmd("GET").arg("greeting")).await.unwrap();
        assert_eq!(value, "hello");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_size_bound_under_50_tasks() {
    let server = RedisServer::start();
    bounded(async {
        const MAX: usize = 5;
        let pool = RedisPool::from_url(
            &server.url(),
            config()
                .with_max_size(MAX)
                .with_wait_timeout(Duration::from_secs(20)),
        )
        .unwrap();
        let in_use = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let (pool, in_use, peak) = (pool.clone(), in_use.clone(), peak.clone());
                tokio::spawn(async move {
                    let mut conn = pool.get().await.expect("checkout");
                    let now = in_use.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    let _: i64 = conn.query(cmd("INCR").arg("counter")).await.expect("INCR");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    in_use.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task panicked");
        }

        assert!(peak.load(Ordering::SeqCst) <= MAX);
        let status = pool.status();
        assert!(status.size <= MAX, "{status:?}");
        let metrics = pool.metrics();
        assert!(metrics.created <= MAX as u64, "{metrics:?}");
        assert_eq!(metrics.checkouts, 50);

        let mut conn = pool.get().await.unwrap();
        let counter: i64 = conn.query(cmd("GET").arg("counter")).await.unwrap();
        assert_eq!(counter, 50);
        // The server agrees: no more client connections than the pool's bound.
        let info: String = conn.query(cmd("INFO").arg("clients")).await.unwrap();
        let connected: usize = info
            .lines()
            .find_map(|line| line.strip_prefix("connected_clients:"))
            .and_then(|n| n.trim().parse().ok())
            .expect("connected_clients in INFO");
        assert!(connected <= MAX, "{connected} server-side clients");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_happened() {
    let server = RedisServer::start();
    bounded(async {
        let pool = RedisPool::from_url(
            &server.url(),
            config()
                .with_max_size(2)
                .with_wait_timeout(Duration::from_millis(100)),
        )
        .unwrap();
        for _ in 0..3 {
            let mut conn = pool.get().await.unwrap();
            let _: String = conn.query(&cmd("PING")).await.unwrap();
        }
        let m = pool.metrics();
        assert_eq!((m.created, m.recycled, m.checkouts), (1, 2, 3), "{m:?}");

        let a = pool.get().await.unwrap();
        let b = pool.get().await.unwrap();
        assert_eq!(pool.metrics().created, 2);
        assert_eq!(pool.status().available, 0);

        // Full: the third checkout times out.
        let err = pool.get().await.unwrap_err();
        assert!(
            matches!(
                err,
                PoolError::Timeout {
                    operation: Operation::Checkout,
                    ..
                }
            ),
            "{err:?}"
        );
        drop((a, b));

        // A connection that timed out is dropped on return, not recycled.
        let mut slow = pool.get().await.unwrap();
        let _ = slow
            .query::<()>(cmd("DEBUG").arg("SLEEP").arg("0.8"))
            .await
            .unwrap_err();
        drop(slow);
        tokio::time::sleep(Duration::from_millis(700)).await;

        let m = pool.metrics();
        assert_eq!(m.timeouts, 1, "{m:?}");
        assert_eq!(m.errors, 0, "{m:?}");
        assert_eq!(m.checkouts, 6, "{m:?}");
        // Created: the first connection and `b`. Recycled: sequential 2 and 3, `a`, `slow`.
        assert_eq!(
            (m.created, m.recycled, m.recycle_failures),
            (2, 4, 0),
            "{m:?}"
        );

        // FIFO: the healthy idle connection comes out first, then the broken one, which is
        // dropped and replaced.
        let _first = pool.get().await.unwrap();
        let _second = pool.get().await.unwrap();
        let m = pool.metrics();
        assert_eq!(m.recycle_failures, 1, "the broken one was dropped: {m:?}");
        assert_eq!(m.created, 3, "{m:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_port_is_unavailable_quickly() {
    bounded(async {
        // A port bound but never listened on: connections to it are refused, and no other
        // test's server can take it meanwhile (a merely free port could be, and then reset).
        let reserved = tokio::net::TcpSocket::new_v4().unwrap();
        reserved.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let port = reserved.local_addr().unwrap().port();
        let url = format!("redis://:hunter2@127.0.0.1:{port}/0");
        let connect_timeout = Duration::from_millis(500);
        let pool =
            RedisPool::from_url(&url, config().with_connect_timeout(connect_timeout)).unwrap();

        let started = Instant::now();
        let err: Error = pool.get().await.unwrap_err().into();
        let elapsed = started.elapsed();
        assert!(
            elapsed < connect_timeout + Duration::from_millis(500),
            "took {elapsed:?}"
        );
        let Error::Unavailable { url: shown, source } = &err else {
            panic!("expected Unavailable, got {err:?}");
        };
        assert_eq!(shown, &format!("redis://:***@127.0.0.1:{port}/0"));
        assert!(source.is_connection_refusal(), "{source:?}");
        let text = error_chain(&err);
        assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!format!("{err:?} {pool:?}").contains("hunter2"));
        assert_eq!(pool.metrics().errors, 1);
        assert_eq!(pool.status().size, 0);
        drop(reserved);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_is_used_and_never_shown() {
    let server = RedisServer::start_with_password("s3cr3t-pw");
    bounded(async {
        let pool = RedisPool::from_url(&server.url(), config()).unwrap();
        let mut conn = pool.get().await.unwrap();
        let pong: String = conn.query(&cmd("PING")).await.unwrap();
        assert_eq!(pong, "PONG");
        assert!(!format!("{conn:?}").contains("s3cr3t-pw"));

        let wrong = format!("redis://:wrong-pw@127.0.0.1:{}/0", server.port());
        let pool = RedisPool::from_url(&wrong, config()).unwrap();
        let err: Error = pool.get().await.unwrap_err().into();
        assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
        let text = format!("{} / {err:?}", error_chain(&err));
        assert!(!text.contains("wrong-pw"), "{text}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_then_restarted_pool_recovers() {
    let mut server = RedisServer::start();
    bounded(async {
        for recycle_check in [true, false] {
            let pool =
                RedisPool::from_url(&server.url(), config().with_recycle_check(recycle_check))
                    .unwrap();
            let mut held = pool.get().await.unwrap();
            held.query::<()>(cmd("SET").arg("k").arg("v"))
                .await
                .unwrap();
            drop(pool.get().await.unwrap()); // one idle connection too
            assert!(pool.status().size >= 1);

            server.kill();

            // In use: the next command fails with a clear error, no panic.
            let err = held.query::<String>(cmd("GET").arg("k")).await.unwrap_err();
            assert!(
                matches!(err, Error::Unavailable { .. }),
                "recycle_check={recycle_check}: {err:?}"
            );
            assert!(held.is_broken());
            drop(held);

            // While down, checkouts fail (or hand out an idle connection whose first command
            // fails, when the recycle check is off); never a panic or a hang.
            for _ in 0..3 {
                match pool.get().await {
                    Ok(mut conn) => {
                        assert!(!recycle_check, "a checked connection was handed out");
                        assert!(conn.query::<String>(&cmd("PING")).await.is_err());
                    }
                    Err(err) => {
                        let err = Error::from(err);
                        assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
                    }
                }
            }

            server.restart();

            // The same pool, not rebuilt, works again: broken connections were dropped and
            // new ones opened. Allow a few tries for connections that broke while down.
            let deadline = Instant::now() + Duration::from_secs(10);
            let pong = loop {
                if let Ok(mut conn) = pool.get().await {
                    if let Ok(pong) = conn.query::<String>(&cmd("PING")).await {
                        break pong;
                    }
                }
                assert!(Instant::now() < deadline, "pool did not recover");
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            assert_eq!(pong, "PONG");
            let mut conn = pool.get().await.unwrap();
            conn.query::<()>(cmd("SET").arg("k").arg("again"))
                .await
                .unwrap();
            let value: String = conn.query(cmd("GET").arg("k")).await.unwrap();
            assert_eq!(value, "again");

            let m = pool.metrics();
            assert!(m.created >= 2, "{m:?}");
            assert!(m.errors >= 1 || !recycle_check, "{m:?}");
            assert!(pool.status().size <= 4);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_server_gives_timeout_not_a_hang() {
    let server = RedisServer::start();
    bounded(async {
        let command_timeout = Duration::from_millis(200);
        let pool = RedisPool::from_url(
            &server.url(),
            config()
                .with_max_size(2)
                .with_command_timeout(command_timeout),
        )
        .unwrap();
        // Both connections are opened first: a new connection's handshake would wait out the
        // sleep too (and fail on the connect timeout).
        let mut conn = pool.get().await.unwrap();
        let mut other = pool.get().await.unwrap();
        let hung_id = Object::id(&conn);

        // `DEBUG SLEEP 2` blocks the whole server for two seconds.
        let started = Instant::now();
        let err = conn
            .query::<()>(cmd("DEBUG").arg("SLEEP").arg(2))
            .await
            .unwrap_err();
        let elapsed = started.elapsed();
        assert!(
            matches!(err, Error::Timeout { operation: Operation::Command, after } if after == command_timeout),
            "{err:?}"
        );
        assert!(elapsed < Duration::from_secs(1), "took {elapsed:?}");
        assert_eq!(err.to_string(), "command timed out after 200ms");
        assert!(conn.is_broken());

        // The driver-level API times out too (as a driver error), on the other connection.
        let started = Instant::now();
        let driver_err = other.get::<_, Option<String>>("k").await.unwrap_err();
        assert!(driver_err.is_timeout(), "{driver_err:?}");
        assert!(started.elapsed() < Duration::from_secs(1));
        drop((conn, other));

        // Once the server is back, the pool hands out working connections, and not the one
        // that hung.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut fresh) = pool.get().await {
                if fresh.query::<String>(&cmd("PING")).await.is_ok() {
                    assert_ne!(Object::id(&fresh), hung_id);
                    break;
                }
            }
            assert!(Instant::now() < deadline, "pool did not recover from the hang");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(pool.metrics().recycle_failures >= 2, "{:?}", pool.metrics());
    })
    .await;
}

#[test]
fn invalid_url_is_rejected_without_leaking_password() {
    let err = RedisPool::from_url("http://user:pa55@localhost", PoolConfig::default()).unwrap_err();
    assert!(matches!(err, Error::InvalidUrl { .. }), "{err:?}");
    let text = format!("{} {err:?}", error_chain(&err));
    assert!(!text.contains("pa55"), "{text}");
    assert!(err.source().is_some());
}
