//! `cargo bench -p fastllm-ratelimit --bench check`
//!
//! * `single_key`: one `should_rate_limit` on one requests-per-window descriptor, one thread
//!   (the limit is high enough that every check is admitted and counted);
//! * `three_descriptors`: api key + team + user, requests and tokens;
//! * `atomic_tpm_reservation`: `reserve_tpm_tokens` over two token descriptors;
//! * `contended_2_threads`: two threads checking the same key, time per check per thread;
//! * `gcra_single_key`: the governor-backed `KeyedGcra`.
//!
//! With the `redis` feature (default), group `check_redis` runs `RedisStore` against a
//! `redis-server` the bench starts on a free loopback port and kills when done (binary from
//! `$REDIS_SERVER` or `PATH`; `apt-get install redis-server`), one tokio current-thread runtime,
//! one caller, a pool without the PING-on-checkout (`recycle_check(false)`), so each row is
//! one round trip plus the script:
//!
//! * `single_key`: `should_rate_limit` on one requests-per-window descriptor (always admitted);
//! * `three_descriptors`: the three descriptors above, in one script call;
//! * `atomic_tpm_reservation`: `reserve_tpm_tokens` over two token descriptors;
//! * `single_key_ping_on_checkout`: `single_key` with the pool's default health check, a
//!   `PING` round trip before each checkout.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fastllm_ratelimit::{CheckOptions, Descriptor, KeyedGcra, Limits, MemoryStore};

const HUGE: u64 = 1 << 60;

fn descriptor(key: &str, value: &str, limits: Limits) -> Descriptor {
    Descriptor::new(key, value, limits).expect("valid descriptor")
}

/// `single_key`'s descriptor: one api key, requests only (always admitted).
fn single_key() -> [Descriptor; 1] {
    [descriptor(
        "api_key",
        "sk-1234",
        Limits::new().requests(HUGE),
    )]
}

/// `three_descriptors`' api key + team + user, requests and tokens (always admitted).
fn three_descriptors() -> [Descriptor; 3] {
    [
        descriptor(
            "api_key",
            "sk-1234",
            Limits::new().requests(HUGE).tokens(HUGE),
        ),
        descriptor("team", "team-a", Limits::new().requests(HUGE)),
        descriptor("user", "user-7", Limits::new().requests(HUGE).tokens(HUGE)),
    ]
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("check");
    g.throughput(Throughput::Elements(1));
    let opts = CheckOptions::default();

    let store = MemoryStore::new();
    let one = single_key();
    g.bench_function("single_key", |b| {
        b.iter(|| black_box(store.should_rate_limit(black_box(&one), &opts)))
    });

    let three = three_descriptors();
    g.bench_function("three_descriptors", |b| {
        b.iter(|| black_box(store.should_rate_limit(black_box(&three), &opts)))
    });

    g.bench_function("atomic_tpm_reservation", |b| {
        b.iter(|| black_box(store.reserve_tpm_tokens(black_box(&three), 1, &[])))
    });

    let shared = Arc::new(MemoryStore::new());
    g.bench_function("contended_2_threads", |b| {
        b.iter_custom(|iters| {
            let barrier = Arc::new(Barrier::new(2));
            let worker = {
                let (s, barrier, d) = (shared.clone(), barrier.clone(), one.clone());
                thread::spawn(move || {
                    barrier.wait();
                    for _ in 0..iters {
                        black_box(s.should_rate_limit(&d, &CheckOptions::default()));
                    }
                })
            };
            barrier.wait();
            let start = Instant::now();
            for _ in 0..iters {
                black_box(shared.should_rate_limit(&one, &opts));
            }
            let mine: Duration = start.elapsed();
            worker.join().expect("worker thread");
            mine
        })
    });

    let gcra: KeyedGcra = KeyedGcra::new(u32::MAX, u32::MAX).expect("valid quota");
    let key = "sk-1234".to_string();
    g.bench_function("gcra_single_key", |b| {
        b.iter(|| black_box(gcra.check(black_box(&key))))
    });
    g.finish();
}

#[cfg(feature = "redis")]
mod on_redis {
    use std::hint::black_box;
    use std::time::Duration;

    use criterion::{Criterion, Throughput};
    use fastllm_connpool::PoolConfig;
    use fastllm_connpool::redis::RedisPool;
    use fastllm_connpool::testing::RedisServer;
    use fastllm_ratelimit::{CheckOptions, RedisConfig, RedisStore, Verdict};

    use super::{single_key, three_descriptors};

    pub fn bench(c: &mut Criterion) {
        let server = RedisServer::start();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let url = server.url();
        let store_with = |recycle_check: bool| {
            let _guard = rt.enter();
            let config = PoolConfig::default()
                .with_max_size(1)
                .with_recycle_check(recycle_check);
            let pool = RedisPool::from_url(&url, config).expect("pool");
            RedisStore::new(pool, RedisConfig::default()).expect("store")
        };
        // No PING on checkout: each check is then one round trip (a connection that failed is
        // dropped on return either way).
        let store = store_with(false);
        let opts = CheckOptions::default();

        let mut g = c.benchmark_group("check_redis");
        g.throughput(Throughput::Elements(1));
        // A round trip is tens of microseconds: a short run is plenty and keeps it bounded.
        g.warm_up_time(Duration::from_millis(500));
        g.measurement_time(Duration::from_secs(2));
        let one = single_key();
        g.bench_function("single_key", |b| {
            b.iter(|| {
                let checked = rt.block_on(store.should_rate_limit(black_box(&one), &opts));
                assert!(checked.is_verified(), "{:?}", checked.error);
                black_box(checked)
            })
        });
        let three = three_descriptors();
        g.bench_function("three_descriptors", |b| {
            b.iter(|| black_box(rt.block_on(store.should_rate_limit(black_box(&three), &opts))))
        });
        g.bench_function("atomic_tpm_reservation", |b| {
            b.iter(|| black_box(rt.block_on(store.reserve_tpm_tokens(black_box(&three), 1, &[]))))
        });
        let pinging = store_with(true);
        g.bench_function("single_key_ping_on_checkout", |b| {
            b.iter(|| black_box(rt.block_on(pinging.should_rate_limit(black_box(&one), &opts))))
        });
        g.finish();
        drop((store, pinging));
        drop(server);
    }
}

#[cfg(feature = "redis")]
criterion_group!(benches, bench, on_redis::bench);
#[cfg(not(feature = "redis"))]
criterion_group!(benches, bench);
criterion_main!(benches);
