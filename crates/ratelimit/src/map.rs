//! The concurrent scope map: `dashmap` normally, a `RwLock<HashMap>` from the loom shim in
//! the crate's loom models (loom cannot see inside dashmap), behind the few operations the
//! store needs.

use std::ops::Deref;

/// Keys are callers' API keys and user ids: a randomly seeded hasher (foldhash), which is
/// also several times faster than the default SipHash on these short strings.
#[cfg(not(all(test, loom)))]
type Hasher = foldhash::fast::RandomState;

#[cfg(not(all(test, loom)))]
pub(crate) struct KeyMap<V> {
    inner: dashmap::DashMap<Box<str>, V, Hasher>,
}

#[cfg(not(all(test, loom)))]
pub(crate) struct MapRef<'a, V>(dashmap::mapref::one::Ref<'a, Box<str>, V>);

#[cfg(not(all(test, loom)))]
impl<V> Deref for MapRef<'_, V> {
    type Target = V;
    fn deref(&self) -> &V {
        self.0.value()
    }
}

#[cfg(not(all(test, loom)))]
impl<V: Clone> KeyMap<V> {
    pub(crate) fn new() -> Self {
        Self {
            inner: dashmap::DashMap::with_hasher(Hasher::default()),
        }
    }

    /// The value under `key`, read-locked (it cannot be removed while the guard lives).
    pub(crate) fn get(&self, key: &str) -> Option<MapRef<'_, V>> {
        self.inner.get(key).map(MapRef)
    }

    /// The value under `key`, inserting `make()` if absent; `true` if it was inserted.
    pub(crate) fn get_or_insert_with(&self, key: &str, make: impl FnOnce() -> V) -> (V, bool) {
        if let Some(v) = self.inner.get(key) {
            return (v.value().clone(), false);
        }
        match self.inner.entry(key.into()) {
            dashmap::Entry::Occupied(e) => (e.get().clone(), false),
            dashmap::Entry::Vacant(e) => {
                let v = make();
                e.insert(v.clone());
                (v, true)
            }
        }
    }

    /// Keep the entries for which `keep` is true (each shard is write-locked while it runs).
    pub(crate) fn retain(&self, mut keep: impl FnMut(&V) -> bool) {
        self.inner.retain(|_, v| keep(v));
    }

    pub(crate) fn len(&self) -> usize {
        self.inner.len()
    }
}

/// A fixed hasher: loom replays executions and needs the same iteration order every time.
#[cfg(all(test, loom))]
type Fixed = std::hash::BuildHasherDefault<std::hash::DefaultHasher>;

#[cfg(all(test, loom))]
pub(crate) struct KeyMap<V> {
    inner: crate::sync::RwLock<std::collections::HashMap<Box<str>, V, Fixed>>,
}

#[cfg(all(test, loom))]
pub(crate) struct MapRef<'a, V> {
    guard: crate::sync::RwLockReadGuard<'a, std::collections::HashMap<Box<str>, V, Fixed>>,
    key: &'a str,
}

#[cfg(all(test, loom))]
impl<V> Deref for MapRef<'_, V> {
    type Target = V;
    fn deref(&self) -> &V {
        self.guard
            .get(self.key)
            .expect("checked present when the guard was taken")
    }
}

#[cfg(all(test, loom))]
impl<V: Clone> KeyMap<V> {
    pub(crate) fn new() -> Self {
        Self {
            inner: crate::sync::RwLock::new(std::collections::HashMap::default()),
        }
    }

    pub(crate) fn get<'a>(&'a self, key: &'a str) -> Option<MapRef<'a, V>> {
        let guard = self
            .inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.contains_key(key).then_some(MapRef { guard, key })
    }

    pub(crate) fn get_or_insert_with(&self, key: &str, make: impl FnOnce() -> V) -> (V, bool) {
        if let Some(v) = self.get(key) {
            return (v.clone(), false);
        }
        let mut map = self
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(v) = map.get(key) {
            return (v.clone(), false);
        }
        let v = make();
        map.insert(key.into(), v.clone());
        (v, true)
    }

    pub(crate) fn retain(&self, mut keep: impl FnMut(&V) -> bool) {
        let mut map = self
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.retain(|_, v| keep(v));
    }

    pub(crate) fn len(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }
}
