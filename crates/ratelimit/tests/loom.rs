//! Loom models of the store's synchronisation: the per-scope mutexes taken in sorted order,
//! the evicted-entry retry, the sweep trigger (an atomic counter and a compare-exchange) and
//! the slot-id counter. Under `--cfg loom` the store's map is a loom `RwLock<HashMap>`
//! instead of dashmap, so the models run the store's real code.
//!
//! Run: `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p fastllm-ratelimit --release`
#![cfg(loom)]

use std::time::Duration;

use fastllm_ratelimit::{
    CheckOptions, Config, CounterKind, Descriptor, FakeClock, Increment, Limits, MemoryStore,
};
use loom::sync::Arc;
use loom::thread;

/// Exhaustive exploration (no preemption bound): every model here finishes in seconds.
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = None;
    builder.check(f);
}

fn store(config: Config) -> Arc<MemoryStore<FakeClock>> {
    Arc::new(MemoryStore::with_config(config, FakeClock::at_secs(100)).unwrap())
}

#[test]
fn one_key_limit_one_admits_exactly_one() {
    model(|| {
        let s = store(Config::default());
        let d = Descriptor::new("api_key", "k", Limits::new().requests(1)).unwrap();
        let t = {
            let (s, d) = (s.clone(), d.clone());
            thread::spawn(move || {
                s.should_rate_limit(&[d], &CheckOptions::default())
                    .response
                    .is_ok()
            })
        };
        let mine = s
            .should_rate_limit(std::slice::from_ref(&d), &CheckOptions::default())
            .response
            .is_ok();
        let theirs = t.join().unwrap();
        assert!(
            mine ^ theirs,
            "exactly one of two requests fits a limit of 1"
        );
        assert_eq!(s.counter(&d, CounterKind::Requests), Some(2));
    });
}

#[test]
fn opposite_key_orders_neither_deadlock_nor_split() {
    model(|| {
        let s = store(Config::default());
        let a = Descriptor::new("api_key", "a", Limits::new().tokens(1)).unwrap();
        let b = Descriptor::new("team", "b", Limits::new().tokens(1)).unwrap();
        let inc = [Increment::tokens(1), Increment::tokens(1)];
        let t = {
            let (s, a, b) = (s.clone(), a.clone(), b.clone());
            thread::spawn(move || {
                s.atomic_check_and_increment_by_n(&[b, a], &inc)
                    .unwrap()
                    .is_ok()
            })
        };
        let mine = s
            .atomic_check_and_increment_by_n(&[a.clone(), b.clone()], &inc)
            .unwrap()
            .is_ok();
        let theirs = t.join().unwrap();
        assert!(mine ^ theirs);
        assert_eq!(s.counter(&a, CounterKind::Tokens), Some(1));
        assert_eq!(s.counter(&b, CounterKind::Tokens), Some(1));
    });
}

#[test]
fn eviction_racing_a_multi_key_update_loses_nothing() {
    model(|| {
        let config = Config {
            window_size_secs: 1,
            sweep_after_inserts: 0,
            ..Config::default()
        };
        let clock = FakeClock::at_secs(100);
        let s = Arc::new(MemoryStore::with_config(config, clock.clone()).unwrap());
        let a = Descriptor::new("api_key", "a", Limits::new().tokens(5)).unwrap();
        let b = Descriptor::new("team", "b", Limits::new().tokens(5)).unwrap();
        let both = [a.clone(), b.clone()];
        let inc = [Increment::tokens(1), Increment::tokens(1)];
        s.atomic_check_and_increment_by_n(&both, &inc).unwrap();
        // Every key of both scopes has expired: the entries are idle and evictable.
        clock.advance(Duration::from_secs(3));
        let sweeper = {
            let s = s.clone();
            thread::spawn(move || s.evict_idle())
        };
        assert!(
            s.atomic_check_and_increment_by_n(&both, &inc)
                .unwrap()
                .is_ok()
        );
        sweeper.join().unwrap();
        assert_eq!(s.counter(&a, CounterKind::Tokens), Some(1));
        assert_eq!(s.counter(&b, CounterKind::Tokens), Some(1));
    });
}

#[test]
fn automatic_sweep_with_concurrent_inserts() {
    model(|| {
        let s = store(Config {
            sweep_after_inserts: 1,
            ..Config::default()
        });
        let a = Descriptor::new("user", "a", Limits::new().requests(3)).unwrap();
        let b = Descriptor::new("user", "b", Limits::new().requests(3)).unwrap();
        let t = {
            let (s, b) = (s.clone(), b.clone());
            thread::spawn(move || {
                s.should_rate_limit(&[b], &CheckOptions::default())
                    .response
                    .is_ok()
            })
        };
        assert!(
            s.should_rate_limit(std::slice::from_ref(&a), &CheckOptions::default())
                .response
                .is_ok()
        );
        assert!(t.join().unwrap());
        assert_eq!(s.counter(&a, CounterKind::Requests), Some(1));
        assert_eq!(s.counter(&b, CounterKind::Requests), Some(1));
    });
}

#[test]
fn one_parallel_slot_is_held_by_one_request_at_a_time() {
    model(|| {
        let s = store(Config::default());
        let d = Descriptor::new("api_key", "k", Limits::new().max_parallel(1)).unwrap();
        let t = {
            let (s, d) = (s.clone(), d.clone());
            thread::spawn(move || {
                let admitted = s.admit(std::slice::from_ref(&d));
                let ok = admitted.is_ok();
                drop(admitted);
                ok
            })
        };
        let mine = s.admit(std::slice::from_ref(&d));
        let mine_ok = mine.is_ok();
        drop(mine);
        let theirs = t.join().unwrap();
        assert!(mine_ok || theirs);
        assert_eq!(s.in_flight(&d), 0);
    });
}

#[test]
fn generated_slot_ids_are_unique() {
    model(|| {
        let s = store(Config::default());
        let t = {
            let s = s.clone();
            thread::spawn(move || s.generate_slot_id())
        };
        let mine = s.generate_slot_id();
        assert_ne!(mine, t.join().unwrap());
    });
}

#[test]
fn slot_id_generator_never_repeats_across_threads() {
    model(|| {
        let ids = Arc::new(fastllm_ratelimit::SlotIds::new());
        let t = {
            let ids = ids.clone();
            thread::spawn(move || (ids.next_id(), ids.next_id()))
        };
        let mine = ids.next_id();
        let (a, b) = t.join().unwrap();
        assert!(mine != a && mine != b && a != b);
    });
}
