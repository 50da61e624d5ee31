//! The keyspace of LiteLLM 1.110's in-memory rate-limit handle, held in Rust.
//!
//! On the 1.110 line, LiteLLM's v3 limiter keeps every window start, counter and
//! parallel-slot registry behind one handle (`self.rate_limits`), as `LocalValue`s
//! (`int | float | str | dict[str, float]`) with a TTL each. [`Keyspace`] stores the same
//! values with the same expiry rules ([`local_expiry`], [`local_live`]), one [`Scope`] per
//! `(descriptor key, value)`; the `fastllm_litellm` bindings put it behind LiteLLM's handle
//! and decide on it with the [`window`](crate::window) rules.

use std::time::{Duration, Instant};

use indexmap::IndexMap;

use super::{ScopeKey, local_expiry, local_live};

/// Expired entries are swept after this many writes, or after as many writes as there are
/// scopes when there are more (so a sweep's cost stays spread over the writes before it).
const SWEEP_EVERY: u64 = 4096;

/// One stored value: LiteLLM's `LocalValue` (`int | float | str | dict[str, float]`).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A counter (or a mirrored gauge count).
    Int(i64),
    /// A float a caller stored.
    Float(f64),
    /// A window start, written as `str(now_int)`.
    Text(String),
    /// A parallel-slot registry: slot id to the time it was taken, in insertion order.
    Slots(IndexMap<String, f64>),
}

impl Value {
    /// Python's `int(value)` where LiteLLM applies it to a counter or a window start; `None`
    /// where Python would raise (or the fast path does not follow), so the call falls back.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Float(f) if f.is_finite() && f.abs() < 9.0e18 => Some(f.trunc() as i64),
            Value::Text(s) => parse_python_int(s),
            _ => None,
        }
    }

    /// The handle's `increment` arithmetic: `current + amount`, or `None` where LiteLLM's
    /// handle refuses the entry (text, a slot registry).
    pub fn plus(current: Option<&Value>, amount: &Value) -> Option<Value> {
        Some(match (current, amount) {
            (None, a) => a.clone(),
            (Some(Value::Int(c)), Value::Int(a)) => Value::Int(c.wrapping_add(*a)),
            (Some(Value::Int(c)), Value::Float(a)) => Value::Float(*c as f64 + a),
            (Some(Value::Float(c)), Value::Int(a)) => Value::Float(c + *a as f64),
            (Some(Value::Float(c)), Value::Float(a)) => Value::Float(c + a),
            _ => return None,
        })
    }

    /// The in-flight count of a gauge value (`_gauge_in_flight_from_cache_value`): the slots
    /// of a registry stamped at or after `cutoff`, or a mirrored count (at least 0); `None`
    /// for a value `int()` does not take.
    pub fn in_flight(value: Option<&Value>, cutoff: f64) -> Option<i64> {
        match value {
            None => Some(0),
            Some(Value::Slots(s)) => Some(s.values().filter(|ts| **ts >= cutoff).count() as i64),
            Some(v) => v.as_int().map(|i| i.max(0)),
        }
    }
}

/// `int(s)` for the plain decimal strings LiteLLM writes (`str(now_int)`); anything fancier
/// (underscores, non-ASCII digits) returns `None` and goes to LiteLLM.
pub fn parse_python_int(s: &str) -> Option<i64> {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

/// One stored value and when it expires (`None`: never).
#[derive(Debug)]
pub struct Entry {
    /// The value.
    pub value: Value,
    /// Its expiry.
    pub expires: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        local_live(self.expires, now)
    }
}

/// One `(key, value)` scope: its window start, its two counters and its slot registry.
#[derive(Debug, Default)]
pub struct Scope {
    slots: [Option<Entry>; 4],
}

impl Scope {
    /// The live value of one key (an expired one is dropped).
    pub fn get(&mut self, key: ScopeKey, now: Instant) -> Option<&Value> {
        let slot = &mut self.slots[key as usize];
        if slot.as_ref().is_some_and(|e| !e.live(now)) {
            *slot = None;
        }
        slot.as_ref().map(|e| &e.value)
    }

    /// The live entry of one key, to change in place.
    pub fn live_mut(&mut self, key: ScopeKey, now: Instant) -> Option<&mut Entry> {
        self.slots[key as usize].as_mut().filter(|e| e.live(now))
    }

    /// `set_local`: see [`local_expiry`] for what the TTL does.
    pub fn set(&mut self, key: ScopeKey, value: Value, ttl: Option<Duration>, now: Instant) {
        let slot = &mut self.slots[key as usize];
        let live = slot.as_ref().filter(|e| e.live(now)).map(|e| e.expires);
        *slot = local_expiry(live, ttl, now).map(|expires| Entry { value, expires });
    }

    /// Entries held, expired ones included.
    pub fn entry_count(&self) -> usize {
        self.slots.iter().filter(|e| e.is_some()).count()
    }
}

/// The name of a scope in a [`Keyspace`]: the descriptor key's length, `:`, the key, then
/// the value (so no two (key, value) pairs share one).
pub fn scope_key(key: &str, value: &str) -> String {
    let mut out = String::with_capacity(key.len() + value.len() + 21);
    // The length in decimal, without going through `fmt`.
    let mut digits = [0u8; 20];
    let mut n = key.len();
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[at..] {
        out.push(char::from(d));
    }
    out.push(':');
    out.push_str(key);
    out.push_str(value);
    out
}

/// Every scope of one handle, by [`scope_key`]. Not synchronised: the binding holds it
/// behind one lock, so a whole `should_rate_limit` sees one state.
#[derive(Debug, Default)]
pub struct Keyspace {
    scopes: hashbrown::HashMap<String, Scope, foldhash::fast::RandomState>,
    /// Writes since the last sweep.
    writes: u64,
}

impl Keyspace {
    /// An existing scope (a read creates nothing).
    pub fn scope(&mut self, scope: &str) -> Option<&mut Scope> {
        self.scopes.get_mut(scope)
    }

    /// A scope to write to, created when absent; every so many writes, expired entries go.
    pub fn scope_for_write(&mut self, scope: &str, now: Instant) -> &mut Scope {
        self.writes += 1;
        if self.writes >= SWEEP_EVERY.max(self.scopes.len() as u64) {
            self.writes = 0;
            self.sweep(now);
        }
        self.scopes.entry_ref(scope).or_default()
    }

    /// The live value of one key of a scope.
    pub fn get(&mut self, scope: &str, key: ScopeKey, now: Instant) -> Option<&Value> {
        self.scope(scope)?.get(key, now)
    }

    /// The live entry of one key of a scope, to change in place.
    pub fn live_mut(&mut self, scope: &str, key: ScopeKey, now: Instant) -> Option<&mut Entry> {
        self.scope(scope)?.live_mut(key, now)
    }

    /// `set_local` on one key of a scope (see [`Scope::set`]).
    pub fn set(
        &mut self,
        scope: &str,
        key: ScopeKey,
        value: Value,
        ttl: Option<Duration>,
        now: Instant,
    ) {
        self.scope_for_write(scope, now).set(key, value, ttl, now);
    }

    /// Entries held, expired ones included until they are swept.
    pub fn entry_count(&self) -> usize {
        self.scopes.values().map(Scope::entry_count).sum()
    }

    fn sweep(&mut self, now: Instant) {
        self.scopes.retain(|_, scope| {
            for slot in &mut scope.slots {
                if slot.as_ref().is_some_and(|e| !e.live(now)) {
                    *slot = None;
                }
            }
            scope.slots.iter().any(Option::is_some)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_keys_lead_with_the_key_length() {
        assert_eq!(scope_key("api_key", "k1"), "7:api_keyk1");
        assert_eq!(scope_key("", ""), "0:");
        let long = "k".repeat(1234);
        assert_eq!(scope_key(&long, "v"), format!("1234:{long}v"));
        // The length keeps (key, value) pairs apart that concatenate alike.
        assert_ne!(scope_key("ab", "c"), scope_key("a", "bc"));
    }

    #[test]
    fn python_int_of_plain_decimals_only() {
        assert_eq!(parse_python_int(" 17 "), Some(17));
        assert_eq!(parse_python_int("-3"), Some(-3));
        assert_eq!(parse_python_int("1_000"), None);
        assert_eq!(parse_python_int("+"), None);
    }
}
