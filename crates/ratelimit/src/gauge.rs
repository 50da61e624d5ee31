//! The max-parallel-requests gauge: a registry of in-flight slots per scope.
//!
//! LiteLLM (`_check_parallel_request_gauges`, `_acquire_parallel_slots_in_memory`,
//! `_release_parallel_request_slots_in_memory`) keeps, per scope, a dict of
//! `slot_id -> acquire time`. A slot counts while `acquired_at >= now - slot_ttl`
//! (`PARALLEL_REQUEST_SLOT_TTL_SECONDS` = 3600), so a slot leaked by a crashed worker frees
//! itself. Admission needs `in_flight + 1 <= limit` on every gauge of the request, all or
//! nothing; a refused request holds no slot. Release removes exactly its own slot id, so a
//! repeated or unmatched release never frees someone else's slot.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// LiteLLM's `PARALLEL_REQUEST_SLOT_TTL_SECONDS`.
pub const DEFAULT_SLOT_TTL: Duration = Duration::from_secs(3600);

/// The id of one request's slot (LiteLLM uses `uuid.uuid4().hex`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotId(Arc<str>);

impl SlotId {
    /// A slot id from any string (such as the uuid hex LiteLLM generates).
    pub fn new(id: impl Into<Arc<str>>) -> Self {
        Self(id.into())
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SlotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SlotId({})", self.0)
    }
}

impl fmt::Display for SlotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for SlotId {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl From<String> for SlotId {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}

/// Generates slot ids: 32 hex digits like LiteLLM's `uuid4().hex`, a random salt per
/// generator then a sequence number, so ids never repeat within one generator and, with
/// overwhelming probability, across generators and processes.
#[derive(Debug)]
pub struct SlotIds {
    salt: u64,
    seq: crate::sync::AtomicU64,
}

impl SlotIds {
    /// A generator with a fresh random salt.
    #[must_use]
    pub fn new() -> Self {
        use std::hash::{BuildHasher, RandomState};
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Self {
            salt: RandomState::new().hash_one((nanos, std::process::id())),
            seq: crate::sync::AtomicU64::new(0),
        }
    }

    /// The next id.
    pub fn next_id(&self) -> SlotId {
        // Uniqueness needs only that no two calls get the same sequence number, which
        // `fetch_add` gives at any ordering.
        let seq = self.seq.fetch_add(1, crate::sync::Ordering::Relaxed);
        SlotId::new(format!("{:016x}{seq:016x}", self.salt))
    }
}

impl Default for SlotIds {
    fn default() -> Self {
        Self::new()
    }
}

/// A slot held on some gauges: LiteLLM's `ParallelSlotAcquisition`. Give it back with
/// [`MemoryStore::release_slots`](crate::MemoryStore::release_slots), or hold it in a
/// [`SlotGuard`](crate::SlotGuard).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SlotAcquisition {
    /// The slot id registered on every gauge.
    pub slot_id: SlotId,
    /// The scopes (`{key:value}`) of the gauges the slot is registered on.
    pub scopes: Vec<Arc<str>>,
}

/// One scope's in-flight registry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Registry {
    slots: Vec<(SlotId, Duration)>,
}

fn alive(acquired_at: Duration, now: Duration, ttl: Duration) -> bool {
    // `ts >= now - ttl`; before `ttl` has elapsed since the clock's origin every slot is alive.
    now.checked_sub(ttl)
        .is_none_or(|cutoff| acquired_at >= cutoff)
}

impl Registry {
    /// Slots acquired within the last `ttl` (LiteLLM's `_gauge_in_flight_from_cache_value`).
    pub(crate) fn in_flight(&self, now: Duration, ttl: Duration) -> i64 {
        let n = self
            .slots
            .iter()
            .filter(|(_, at)| alive(*at, now, ttl))
            .count();
        i64::try_from(n).unwrap_or(i64::MAX)
    }

    /// Drop expired slots, then register `slot` at `now` (re-registering an id moves its
    /// time, like a dict assignment).
    pub(crate) fn prune_and_insert(&mut self, slot: &SlotId, now: Duration, ttl: Duration) {
        self.slots.retain(|(_, at)| alive(*at, now, ttl));
        match self.slots.iter_mut().find(|(id, _)| id == slot) {
            Some(entry) => entry.1 = now,
            None => self.slots.push((slot.clone(), now)),
        }
    }

    /// Remove `slot`; `false` if it was not registered.
    pub(crate) fn remove(&mut self, slot: &SlotId) -> bool {
        let before = self.slots.len();
        self.slots.retain(|(id, _)| id != slot);
        self.slots.len() != before
    }

    /// Number of registered slots, expired or not.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_expire_after_ttl_and_release_is_exact() {
        let ttl = Duration::from_secs(10);
        let mut r = Registry::default();
        r.prune_and_insert(&"a".into(), Duration::from_secs(1), ttl);
        r.prune_and_insert(&"b".into(), Duration::from_secs(5), ttl);
        assert_eq!(r.in_flight(Duration::from_secs(11), ttl), 2);
        assert_eq!(r.in_flight(Duration::from_millis(11_001), ttl), 1);
        assert!(!r.remove(&"c".into()));
        assert!(r.remove(&"b".into()));
        assert!(!r.remove(&"b".into()));
        r.prune_and_insert(&"c".into(), Duration::from_secs(12), ttl);
        assert_eq!(r.len(), 1);
    }
}

/// Loom model of the slot-id counter (`sync`'s atomics are loom's here); run as the models
/// in `memory.rs`.
#[cfg(all(test, loom))]
mod loom_tests {
    use loom::sync::Arc;
    use loom::thread;

    use super::*;
    use crate::sync::model;

    #[test]
    fn slot_id_generator_never_repeats_across_threads() {
        model(|| {
            let ids = Arc::new(SlotIds::new());
            let t = {
                let ids = ids.clone();
                thread::spawn(move || (ids.next_id(), ids.next_id()))
            };
            let mine = ids.next_id();
            let (a, b) = t.join().unwrap();
            assert!(mine != a && mine != b && a != b);
        });
    }
}
