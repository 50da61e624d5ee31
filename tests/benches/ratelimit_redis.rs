//! `cargo bench -p fastllm-tests --bench ratelimit_redis`
//!
//! Group `check_redis` runs `fastllm_ratelimit::RedisStore` against a `redis-server` the bench
//! starts on a free loopback port and kills when done (binary from `$REDIS_SERVER` or `PATH`;
//! `apt-get install redis-server`), one tokio current-thread runtime, one caller, a pool without
//! the PING-on-checkout (`recycle_check(false)`), so each row is one round trip plus the script.
//! The rows are those of `fastllm-ratelimit`'s in-memory bench (`--bench check`), same
//! descriptors:
//!
//! * `single_key`: `should_rate_limit` on one requests-per-window descriptor (always admitted);
//! * `three_descriptors`: api key + team + user, requests and tokens, in one script call;
//! * `atomic_tpm_reservation`: `reserve_tpm_tokens` over two token descriptors;
//! * `single_key_ping_on_checkout`: `single_key` with the pool's default health check, a
//!   `PING` round trip before each checkout.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fastllm_connpool::PoolConfig;
use fastllm_connpool::redis::RedisPool;
use fastllm_ratelimit::{CheckOptions, Descriptor, Limits, RedisConfig, RedisStore, Verdict};
use fastllm_tests::RedisServer;

const HUGE: u64 = 1 << 60;

/// One descriptor per `(key, value, tokens)`: a requests limit, and a tokens limit if `tokens`,
/// every one too high to refuse.
fn descriptors(rows: &[(&str, &str, bool)]) -> Vec<Descriptor> {
    rows.iter()
        .map(|&(key, value, tokens)| {
            let limits = Limits::new().requests(HUGE);
            let limits = if tokens { limits.tokens(HUGE) } else { limits };
            Descriptor::new(key, value, limits).expect("valid descriptor")
        })
        .collect()
}

fn bench(c: &mut Criterion) {
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
    let one = descriptors(&[("api_key", "sk-1234", false)]);
    g.bench_function("single_key", |b| {
        b.iter(|| {
            let checked = rt.block_on(store.should_rate_limit(black_box(&one), &opts));
            assert!(checked.is_verified(), "{:?}", checked.error);
            black_box(checked)
        })
    });
    let three = descriptors(&[
        ("api_key", "sk-1234", true),
        ("team", "team-a", false),
        ("user", "user-7", true),
    ]);
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

criterion_group!(benches, bench);
criterion_main!(benches);
