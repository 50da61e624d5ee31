//! `cargo bench -p fastllm-ratelimit --bench check`
//!
//! * `single_key`: one `should_rate_limit` on one requests-per-window descriptor, one thread
//!   (the limit is high enough that every check is admitted and counted);
//! * `three_descriptors`: api key + team + user, requests and tokens;
//! * `atomic_tpm_reservation`: `reserve_tpm_tokens` over two token descriptors;
//! * `contended_2_threads`: two threads checking the same key, time per check per thread;
//! * `gcra_single_key`: the governor-backed `KeyedGcra`.
//!
//! `RedisStore`'s rows are the unpublished `fastllm-tests` crate's bench:
//! `cargo bench -p fastllm-tests --bench ratelimit_redis`.

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

criterion_group!(benches, bench);
criterion_main!(benches);
