//! Rate-limit descriptors, LiteLLM's rules for duplicates, and its key schema.
//!
//! A descriptor names a scope (`key` is the kind of thing, such as `"api_key"`, `"team"` or
//! `"model_per_key"`; `value` is which one) and the limits that apply to it. This mirrors
//! LiteLLM's `RateLimitDescriptor` / `RateLimitDescriptorRateLimitObject` typed dicts in
//! `litellm/proxy/hooks/parallel_request_limiter_v3.py`.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::litellm::scope_tag;

/// LiteLLM's default window, `LITELLM_RATE_LIMIT_WINDOW_SIZE` (seconds).
pub const DEFAULT_WINDOW_SECS: u64 = 60;

/// The longest window this crate accepts: 366 days. Longer windows are rejected as
/// [`Error::InvalidConfig`]; LiteLLM itself has no upper bound.
pub const MAX_WINDOW_SECS: u64 = 366 * 24 * 60 * 60;

/// The largest limit this crate accepts (counters are `i64`, as Python ints are here).
pub const MAX_LIMIT: u64 = i64::MAX as u64;

/// LiteLLM's descriptor key for project input-token (ITPM) limits. `reserve_tpm_tokens`
/// leaves these descriptors out; LiteLLM reserves them separately (`reserve_io_tokens`).
pub const PROJECT_ITPM_DESCRIPTOR_KEY: &str = "model_per_project_itpm";

/// LiteLLM's descriptor key for project output-token (OTPM) limits, see
/// [`PROJECT_ITPM_DESCRIPTOR_KEY`].
pub const PROJECT_OTPM_DESCRIPTOR_KEY: &str = "model_per_project_otpm";

/// Which windowed counter of a scope: LiteLLM's `CounterKind`, `Literal["requests", "tokens"]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CounterKind {
    /// The request counter, enforced against `requests_per_unit`.
    Requests,
    /// The token counter, enforced against `tokens_per_unit`.
    Tokens,
}

impl CounterKind {
    /// Both kinds, in LiteLLM's order (`("requests", "tokens")`).
    pub const ALL: [CounterKind; 2] = [CounterKind::Requests, CounterKind::Tokens];

    /// The spelling LiteLLM uses in keys and statuses: `"requests"` or `"tokens"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CounterKind::Requests => "requests",
            CounterKind::Tokens => "tokens",
        }
    }
}

/// The limits of one descriptor, before validation by [`Descriptor::new`].
///
/// `None` means "no such limit"; `window_size_secs: None` means the store's default window
/// (LiteLLM: `rate_limit.get("window_size") or self.window_size`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Requests allowed per window (LiteLLM `requests_per_unit`, an rpm when the window is 60 s).
    pub requests_per_unit: Option<u64>,
    /// Tokens allowed per window (LiteLLM `tokens_per_unit`).
    pub tokens_per_unit: Option<u64>,
    /// Requests allowed in flight at once (LiteLLM `max_parallel_requests`).
    pub max_parallel_requests: Option<u64>,
    /// Window length in whole seconds, for the atomic check-and-increment path.
    pub window_size_secs: Option<u64>,
}

impl Limits {
    /// No limits at all.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set `requests_per_unit`.
    pub fn requests(mut self, per_window: u64) -> Self {
        self.requests_per_unit = Some(per_window);
        self
    }

    /// Set `tokens_per_unit`.
    pub fn tokens(mut self, per_window: u64) -> Self {
        self.tokens_per_unit = Some(per_window);
        self
    }

    /// Set `max_parallel_requests`.
    pub fn max_parallel(mut self, in_flight: u64) -> Self {
        self.max_parallel_requests = Some(in_flight);
        self
    }

    /// Set `window_size` in seconds.
    pub fn window_secs(mut self, secs: u64) -> Self {
        self.window_size_secs = Some(secs);
        self
    }

    /// Limits as LiteLLM's Python dict spells them: possibly negative ints, and a
    /// `window_size` of `None` or `0` meaning "use the default" (LiteLLM's `or` fallback).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for a negative limit or a negative window. LiteLLM accepts
    /// both (a negative limit rejects every request; a negative window opens a new window on
    /// every request); this crate treats them as misconfiguration.
    pub fn from_litellm(
        requests_per_unit: Option<i64>,
        tokens_per_unit: Option<i64>,
        max_parallel_requests: Option<i64>,
        window_size: Option<i64>,
    ) -> Result<Self> {
        fn limit(field: &'static str, v: Option<i64>) -> Result<Option<u64>> {
            v.map(|v| {
                u64::try_from(v).map_err(|_| Error::invalid(field, format!("{v} is negative")))
            })
            .transpose()
        }
        Ok(Self {
            requests_per_unit: limit("requests_per_unit", requests_per_unit)?,
            tokens_per_unit: limit("tokens_per_unit", tokens_per_unit)?,
            max_parallel_requests: limit("max_parallel_requests", max_parallel_requests)?,
            window_size_secs: match window_size {
                None | Some(0) => None,
                Some(w) => Some(
                    u64::try_from(w)
                        .map_err(|_| Error::invalid("window_size", format!("{w} is negative")))?,
                ),
            },
        })
    }
}

/// A scope's identity: descriptor key, value and the rendered tag `{key:value}`, built once
/// and shared (statuses and reservations hold an `Arc` to it instead of copying strings).
#[derive(Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScopeId {
    key: Box<str>,
    value: Box<str>,
    tag: Box<str>,
}

impl ScopeId {
    /// The identity of `(key, value)`.
    pub fn new(key: &str, value: &str) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
            tag: scope_tag(key, value).into(),
        }
    }

    /// The descriptor key, e.g. `"api_key"`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The descriptor value.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The hash tag `{key:value}`.
    pub fn tag(&self) -> &str {
        &self.tag
    }
}

/// A validated descriptor: a `(key, value)` scope and its limits.
///
/// The rendered hash-tagged scope `{key:value}` is computed once here, so stores can look
/// the scope up without allocating.
///
/// # Examples
///
/// ```
/// use fastllm_ratelimit::{Descriptor, Limits};
///
/// let d = Descriptor::new("api_key", "sk-hash", Limits::new().requests(100).tokens(10_000))?;
/// assert_eq!(d.scope(), "{api_key:sk-hash}");
/// assert_eq!(d.requests_per_unit(), Some(100));
/// assert!(Descriptor::new("api_key", "k", Limits::new().window_secs(0)).is_err());
/// # Ok::<(), fastllm_ratelimit::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Descriptor {
    id: Arc<ScopeId>,
    limits: Limits,
}

impl Descriptor {
    /// Validate `limits` and build the descriptor.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] when a limit exceeds [`MAX_LIMIT`], or the window is zero or
    /// longer than [`MAX_WINDOW_SECS`]. (A zero *limit* is valid: it rejects every request,
    /// as in LiteLLM.)
    pub fn new(key: impl AsRef<str>, value: impl AsRef<str>, limits: Limits) -> Result<Self> {
        Self::with_id(Arc::new(ScopeId::new(key.as_ref(), value.as_ref())), limits)
    }

    fn with_id(id: Arc<ScopeId>, limits: Limits) -> Result<Self> {
        for (field, v) in [
            ("requests_per_unit", limits.requests_per_unit),
            ("tokens_per_unit", limits.tokens_per_unit),
            ("max_parallel_requests", limits.max_parallel_requests),
        ] {
            if let Some(v) = v {
                if v > MAX_LIMIT {
                    return Err(Error::invalid(
                        field,
                        format!("{v} is larger than {MAX_LIMIT}"),
                    ));
                }
            }
        }
        validate_window("window_size", limits.window_size_secs)?;
        Ok(Self { id, limits })
    }

    /// The descriptor key, e.g. `"api_key"`.
    pub fn key(&self) -> &str {
        self.id.key()
    }

    /// The descriptor value, e.g. the hashed API key.
    pub fn value(&self) -> &str {
        self.id.value()
    }

    /// The shared identity of the descriptor's scope.
    pub fn id(&self) -> &Arc<ScopeId> {
        &self.id
    }

    /// The hash-tagged scope `{key:value}` that prefixes every store key of this descriptor.
    pub fn scope(&self) -> &str {
        self.id.tag()
    }

    /// All limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// `requests_per_unit`.
    pub fn requests_per_unit(&self) -> Option<u64> {
        self.limits.requests_per_unit
    }

    /// `tokens_per_unit`.
    pub fn tokens_per_unit(&self) -> Option<u64> {
        self.limits.tokens_per_unit
    }

    /// `max_parallel_requests`.
    pub fn max_parallel_requests(&self) -> Option<u64> {
        self.limits.max_parallel_requests
    }

    /// The descriptor's own window, if it sets one.
    pub fn window_size_secs(&self) -> Option<u64> {
        self.limits.window_size_secs
    }

    /// The limit of one counter kind.
    pub fn limit(&self, kind: CounterKind) -> Option<u64> {
        match kind {
            CounterKind::Requests => self.limits.requests_per_unit,
            CounterKind::Tokens => self.limits.tokens_per_unit,
        }
    }

    /// The same scope with other limits (no revalidation of the scope needed).
    ///
    /// # Errors
    ///
    /// As [`Descriptor::new`].
    pub fn with_limits(&self, limits: Limits) -> Result<Self> {
        Descriptor::with_id(self.id.clone(), limits)
    }
}

pub(crate) fn validate_window(field: &'static str, secs: Option<u64>) -> Result<()> {
    match secs {
        Some(0) => Err(Error::invalid(
            field,
            "a window of 0 seconds never admits anything",
        )),
        Some(w) if w > MAX_WINDOW_SECS => Err(Error::invalid(
            field,
            format!("{w} s is longer than the {MAX_WINDOW_SECS} s maximum"),
        )),
        _ => Ok(()),
    }
}

/// LiteLLM's `_merge_rate_limit_descriptors`: several descriptors of one scope become one
/// that keeps the first's key, value and `window_size`, and the smallest of each limit that
/// any of them sets.
///
/// Returns `None` for an empty slice. A single descriptor is returned unchanged.
///
/// # Examples
///
/// ```
/// use fastllm_ratelimit::{merge_descriptors, Descriptor, Limits};
///
/// let a = Descriptor::new("model_per_key", "k:gpt", Limits::new().requests(10).window_secs(60))?;
/// let b = Descriptor::new("model_per_key", "k:gpt", Limits::new().requests(5).tokens(900).window_secs(30))?;
/// let m = merge_descriptors(&[a, b]).unwrap();
/// assert_eq!(m.limits(), Limits::new().requests(5).tokens(900).window_secs(60));
/// # Ok::<(), fastllm_ratelimit::Error>(())
/// ```
pub fn merge_descriptors(descriptors: &[Descriptor]) -> Option<Descriptor> {
    let (first, rest) = descriptors.split_first()?;
    if rest.is_empty() {
        return Some(first.clone());
    }
    let min =
        |get: fn(&Limits) -> Option<u64>| descriptors.iter().filter_map(|d| get(&d.limits)).min();
    let limits = Limits {
        requests_per_unit: min(|l| l.requests_per_unit),
        tokens_per_unit: min(|l| l.tokens_per_unit),
        max_parallel_requests: min(|l| l.max_parallel_requests),
        window_size_secs: first.limits.window_size_secs,
    };
    Some(Descriptor {
        limits,
        ..first.clone()
    })
}

/// LiteLLM's `_coalesce_rate_limit_descriptors`: descriptors sharing a `(key, value)` are
/// merged with [`merge_descriptors`], keeping the order in which each scope first appears.
/// When no scope repeats, the input is returned as it is.
///
/// LiteLLM 1.110 applies this to the per-model descriptors (a model alias can resolve to
/// several model groups that map to one scope); 1.109.3 had no coalescing, so a repeated
/// scope was counted once per copy and its metadata was the last copy's.
pub fn coalesce_descriptors(descriptors: &[Descriptor]) -> Vec<Descriptor> {
    let mut identities: Vec<(&str, &str)> = Vec::with_capacity(descriptors.len());
    for d in descriptors {
        if !identities.contains(&(d.key(), d.value())) {
            identities.push((d.key(), d.value()));
        }
    }
    if identities.len() == descriptors.len() {
        return descriptors.to_vec();
    }
    identities
        .iter()
        .filter_map(|&(key, value)| {
            let group: Vec<Descriptor> = descriptors
                .iter()
                .filter(|d| d.key() == key && d.value() == value)
                .cloned()
                .collect();
            merge_descriptors(&group)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        let ok = Descriptor::new(
            "k",
            "v",
            Limits::new().requests(0).window_secs(MAX_WINDOW_SECS),
        );
        assert!(ok.is_ok());
        assert!(matches!(
            Descriptor::new("k", "v", Limits::new().window_secs(0)),
            Err(Error::InvalidConfig {
                field: "window_size",
                ..
            })
        ));
        assert!(Descriptor::new("k", "v", Limits::new().window_secs(MAX_WINDOW_SECS + 1)).is_err());
        assert!(Descriptor::new("k", "v", Limits::new().tokens(MAX_LIMIT + 1)).is_err());
        assert_eq!(
            Limits::from_litellm(Some(3), None, None, Some(0)).unwrap(),
            Limits::new().requests(3)
        );
        assert!(Limits::from_litellm(Some(-1), None, None, None).is_err());
        assert!(Limits::from_litellm(None, None, None, Some(-5)).is_err());
    }

    #[test]
    /// The expected output was recorded from LiteLLM 1.110.2's `_coalesce_rate_limit_descriptors`
    /// on the same input.
    fn coalesce_keeps_first_appearance_order_and_takes_minimums() {
        let d = |k: &str, v: &str, l: Limits| Descriptor::new(k, v, l).unwrap();
        let input = vec![
            d(
                "model_per_key",
                "k:a",
                Limits::new().requests(10).window_secs(60),
            ),
            d("model_per_key", "k:b", Limits::new().tokens(7)),
            d(
                "model_per_key",
                "k:a",
                Limits::new().requests(3).max_parallel(2).window_secs(5),
            ),
            d("model_per_key", "k:a", Limits::new().tokens(100)),
        ];
        let out = coalesce_descriptors(&input);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].value(), "k:a");
        assert_eq!(
            out[0].limits(),
            Limits::new()
                .requests(3)
                .tokens(100)
                .max_parallel(2)
                .window_secs(60)
        );
        assert_eq!(out[1], input[1]);
        let unique = vec![input[0].clone(), input[1].clone()];
        assert_eq!(coalesce_descriptors(&unique), unique);
        assert!(merge_descriptors(&[]).is_none());
    }
}
