//! The generic pool over an in-memory manager: no server needed. Shows that nothing in `Pool`
//! is Redis-specific (the HTTP connections planned later plug in the same way).
// `#[tokio::test]` runtimes enable I/O, which tokio does not have under `--cfg loom`; loom
// builds run the models beside the code instead.
#![cfg(not(loom))]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use fastllm_connpool::{
    Error, Manager, Object, ObjectMetrics, Operation, Pool, PoolConfig, PoolError, RecycleError,
    RecycleResult,
};

/// Every test gets this long, start to end.
const TEST_LIMIT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
#[error("fake backend refused")]
struct Refused;

#[derive(Debug)]
struct FakeConn {
    serial: usize,
    healthy: bool,
}

/// Counts what the pool asks of it; can be told to fail or hang.
#[derive(Default)]
struct Fake {
    opened: AtomicUsize,
    live: Arc<AtomicUsize>,
    refuse: AtomicBool,
    hang_recycle: AtomicBool,
}

impl Manager for Fake {
    type Type = FakeConn;
    type Error = Refused;

    async fn create(&self) -> Result<FakeConn, Refused> {
        if self.refuse.load(Ordering::SeqCst) {
            return Err(Refused);
        }
        self.live.fetch_add(1, Ordering::SeqCst);
        Ok(FakeConn {
            serial: self.opened.fetch_add(1, Ordering::SeqCst),
            healthy: true,
        })
    }

    async fn recycle(&self, conn: &mut FakeConn, _: &ObjectMetrics) -> RecycleResult<Refused> {
        if self.hang_recycle.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        if conn.healthy {
            Ok(())
        } else {
            Err(RecycleError::message("unhealthy"))
        }
    }

    fn detach(&self, _: &mut FakeConn) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

fn config(max_size: usize) -> PoolConfig {
    PoolConfig::default()
        .with_max_size(max_size)
        .with_wait_timeout(Duration::from_millis(200))
        .with_command_timeout(Duration::from_millis(100))
}

async fn bounded<F: std::future::Future<Output = ()>>(test: F) {
    tokio::time::timeout(TEST_LIMIT, test)
        .await
        .expect("test exceeded its time limit");
}

#[tokio::test]
async fn objects_return_on_drop_and_are_reused() {
    bounded(async {
        let pool = Pool::new(Fake::default(), config(4)).unwrap();
        let first_id = {
            let conn = pool.get().await.unwrap();
            assert_eq!(conn.serial, 0);
            Object::id(&conn)
        };
        assert_eq!(pool.status().available, 1);
        for _ in 0..3 {
            let conn = pool.get().await.unwrap();
            assert_eq!(Object::id(&conn), first_id);
            assert!(Object::object_metrics(&conn).recycle_count >= 1);
        }
        let m = pool.metrics();
        assert_eq!((m.created, m.recycled, m.checkouts), (1, 3, 4));
        assert_eq!((m.recycle_failures, m.timeouts, m.errors), (0, 0, 0));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn size_bound_holds_under_50_tasks() {
    bounded(async {
        let pool = Pool::new(
            Fake::default(),
            config(5).with_wait_timeout(Duration::from_secs(10)),
        )
        .unwrap();
        let in_use = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let (pool, in_use, peak) = (pool.clone(), in_use.clone(), peak.clone());
                tokio::spawn(async move {
                    let _conn = pool.get().await.unwrap();
                    let now = in_use.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    in_use.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert!(peak.load(Ordering::SeqCst) <= 5);
        assert!(pool.manager().live.load(Ordering::SeqCst) <= 5);
        let m = pool.metrics();
        assert!(m.created <= 5, "{m:?}");
        assert_eq!(m.checkouts, 50);
        assert_eq!(m.created + m.recycled, 50);
        assert!(pool.status().size <= 5);
    })
    .await;
}

#[tokio::test]
async fn full_pool_times_out_waiting() {
    bounded(async {
        let pool = Pool::new(Fake::default(), config(1)).unwrap();
        let _held = pool.get().await.unwrap();
        let started = tokio::time::Instant::now();
        let err = pool.get().await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(
            matches!(
                err,
                PoolError::Timeout {
                    operation: Operation::Checkout,
                    after,
                } if after == Duration::from_millis(200)
            ),
            "{err:?}"
        );
        assert_eq!(pool.metrics().timeouts, 1);
        assert_eq!(pool.metrics().errors, 0);
    })
    .await;
}

#[tokio::test]
async fn zero_wait_fails_at_once() {
    bounded(async {
        let pool = Pool::new(Fake::default(), config(1).with_wait_timeout(Duration::ZERO)).unwrap();
        let _held = pool.get().await.unwrap();
        assert!(pool.get().await.unwrap_err().is_timeout());
    })
    .await;
}

#[tokio::test]
async fn unhealthy_connection_is_replaced() {
    bounded(async {
        let pool = Pool::new(Fake::default(), config(2)).unwrap();
        {
            let mut conn = pool.get().await.unwrap();
            conn.healthy = false;
        }
        let conn = pool.get().await.unwrap();
        assert_eq!(
            conn.serial, 1,
            "the unhealthy one was dropped, a new one made"
        );
        let m = pool.metrics();
        assert_eq!((m.created, m.recycled, m.recycle_failures), (2, 0, 1));
        assert_eq!(pool.manager().live.load(Ordering::SeqCst), 1);
    })
    .await;
}

#[tokio::test]
async fn hung_recycle_is_bounded_and_counted() {
    bounded(async {
        let pool = Pool::new(Fake::default(), config(2)).unwrap();
        drop(pool.get().await.unwrap());
        pool.manager().hang_recycle.store(true, Ordering::SeqCst);
        let started = tokio::time::Instant::now();
        let conn = pool.get().await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(conn.serial, 1);
        assert_eq!(pool.metrics().recycle_failures, 1);
    })
    .await;
}

#[tokio::test]
async fn backend_error_then_recovery() {
    bounded(async {
        let pool = Pool::new(Fake::default(), config(2)).unwrap();
        pool.manager().refuse.store(true, Ordering::SeqCst);
        let err = pool.get().await.unwrap_err();
        assert!(matches!(err, PoolError::Backend(Refused)), "{err:?}");
        assert_eq!(
            std::error::Error::source(&err).map(ToString::to_string),
            Some("fake backend refused".to_owned())
        );
        assert_eq!(pool.metrics().errors, 1);
        assert_eq!(pool.status().size, 0, "a failed create takes no slot");

        pool.manager().refuse.store(false, Ordering::SeqCst);
        assert!(pool.get().await.is_ok());
        assert_eq!(pool.metrics().checkouts, 1);
    })
    .await;
}

#[tokio::test]
async fn closed_pool_refuses() {
    bounded(async {
        let pool = Pool::new(Fake::default(), config(2)).unwrap();
        drop(pool.get().await.unwrap());
        pool.close();
        assert!(pool.is_closed());
        assert!(matches!(pool.get().await, Err(PoolError::Closed)));
        assert_eq!(pool.metrics().errors, 1);
    })
    .await;
}

#[test]
fn invalid_config_is_rejected() {
    let err = Pool::new(Fake::default(), PoolConfig::default().with_max_size(0)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidConfig {
                field: "max_size",
                ..
            }
        ),
        "{err:?}"
    );
}
