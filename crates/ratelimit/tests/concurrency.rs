//! Many threads on one store: exact admission counts, no deadlock across key orders, and
//! eviction racing with checks loses no update.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::thread;

use fastllm_ratelimit::{
    CheckOptions, Config, CounterKind, Descriptor, FakeClock, Increment, Limits, MemoryStore,
};

const THREADS: usize = 8;
const CHECKS: usize = 10_000;

fn store() -> Arc<MemoryStore<FakeClock>> {
    Arc::new(MemoryStore::with_config(Config::default(), FakeClock::at_secs(1_000)).unwrap())
}

fn hammer(threads: usize, f: impl Fn(usize) -> usize + Send + Sync + 'static) -> usize {
    let f = Arc::new(f);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let f = f.clone();
            thread::spawn(move || f(t))
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).sum()
}

#[test]
fn one_key_admits_exactly_the_limit() {
    for limit in [1u64, 7, 1000, 50_000] {
        let s = store();
        let d = Arc::new([Descriptor::new("api_key", "k", Limits::new().requests(limit)).unwrap()]);
        let admitted = hammer(THREADS, {
            let (s, d) = (s.clone(), d.clone());
            move |_| {
                (0..CHECKS)
                    .filter(|_| {
                        s.should_rate_limit(&d[..], &CheckOptions::default())
                            .response
                            .is_ok()
                    })
                    .count()
            }
        });
        let expected = (limit as usize).min(THREADS * CHECKS);
        assert_eq!(admitted, expected, "limit {limit}");
        // Refusals after the limit do not count (the counter stops at limit + 1).
        let stop = if (limit as usize) < THREADS * CHECKS {
            limit + 1
        } else {
            limit
        };
        assert_eq!(s.counter(&d[0], CounterKind::Requests), Some(stop as i64));
    }
}

#[test]
fn atomic_path_admits_exactly_the_limit() {
    let s = store();
    let d = Arc::new([Descriptor::new("team", "t", Limits::new().tokens(12_345)).unwrap()]);
    let admitted = hammer(THREADS, {
        let (s, d) = (s.clone(), d.clone());
        move |_| {
            (0..CHECKS)
                .filter(|_| {
                    s.atomic_check_and_increment_by_n(&d[..], &[Increment::tokens(5)])
                        .unwrap()
                        .is_ok()
                })
                .count()
        }
    });
    assert_eq!(admitted, 12_345 / 5);
    assert_eq!(s.counter(&d[0], CounterKind::Tokens), Some(12_345 / 5 * 5));
}

/// Threads take two scopes in opposite orders; the atomic path must neither deadlock nor
/// charge one scope without the other.
#[test]
fn multi_key_all_or_nothing_in_any_order() {
    let s = store();
    let a = Descriptor::new("api_key", "a", Limits::new().tokens(3_000)).unwrap();
    let b = Descriptor::new("team", "b", Limits::new().tokens(5_000)).unwrap();
    let forward = Arc::new([a.clone(), b.clone()]);
    let backward = Arc::new([b.clone(), a.clone()]);
    let admitted = hammer(THREADS, {
        let s = s.clone();
        move |t| {
            let ds = if t % 2 == 0 { &forward } else { &backward };
            (0..CHECKS)
                .filter(|_| {
                    s.atomic_check_and_increment_by_n(
                        &ds[..],
                        &[Increment::tokens(1), Increment::tokens(1)],
                    )
                    .unwrap()
                    .is_ok()
                })
                .count()
        }
    });
    assert_eq!(admitted, 3_000);
    assert_eq!(s.counter(&a, CounterKind::Tokens), Some(3_000));
    assert_eq!(s.counter(&b, CounterKind::Tokens), Some(3_000));
}

/// Concurrency never exceeds max_parallel_requests, and every slot comes back.
#[test]
fn gauge_bounds_concurrency_and_returns_every_slot() {
    let s = store();
    let d = Arc::new([Descriptor::new("api_key", "k", Limits::new().max_parallel(3)).unwrap()]);
    let inside = Arc::new(AtomicI64::new(0));
    let peak = Arc::new(AtomicI64::new(0));
    let admitted = hammer(THREADS, {
        let (s, d, inside, peak) = (s.clone(), d.clone(), inside.clone(), peak.clone());
        move |_| {
            let mut n = 0;
            for _ in 0..CHECKS / 10 {
                if let Ok(guard) = s.admit(&d[..]) {
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    thread::yield_now();
                    inside.fetch_sub(1, Ordering::SeqCst);
                    drop(guard);
                    n += 1;
                }
            }
            n
        }
    });
    assert!(admitted > 0);
    assert!(peak.load(Ordering::SeqCst) <= 3);
    assert_eq!(s.in_flight(&d[0]), 0);
}

/// A sweeper evicting idle scopes while checks create and use them never loses a count.
#[test]
fn eviction_racing_with_checks_loses_nothing() {
    let s = Arc::new(
        MemoryStore::with_config(
            Config {
                sweep_after_inserts: 1,
                ..Config::default()
            },
            FakeClock::at_secs(1_000),
        )
        .unwrap(),
    );
    let keys: Arc<Vec<Descriptor>> = Arc::new(
        (0..64)
            .map(|i| Descriptor::new("user", format!("u{i}"), Limits::new().requests(50)).unwrap())
            .collect(),
    );
    let sweeps = Arc::new(AtomicUsize::new(0));
    let sweeper = {
        let (s, sweeps) = (s.clone(), sweeps.clone());
        thread::spawn(move || {
            for _ in 0..2_000 {
                s.evict_idle();
                sweeps.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let admitted = hammer(THREADS, {
        let (s, keys) = (s.clone(), keys.clone());
        move |t| {
            let mut n = 0;
            for i in 0..CHECKS / 2 {
                let d = &keys[(i * 7 + t) % keys.len()];
                if s.should_rate_limit(std::slice::from_ref(d), &CheckOptions::default())
                    .response
                    .is_ok()
                {
                    n += 1;
                }
            }
            n
        }
    });
    sweeper.join().unwrap();
    assert_eq!(admitted, 64 * 50);
    for d in keys.iter() {
        assert_eq!(s.counter(d, CounterKind::Requests), Some(51));
    }
}
