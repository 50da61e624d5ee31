//! `usage-based-routing`: LiteLLM's
//! `router_strategy/lowest_tpm_rpm.py::LowestTPMLoggingHandler.get_available_deployments`.
//!
//! Walks the group's `{group}:tpm:{HH-MM}` dict in insertion order (deployments in the order
//! they first succeeded this minute, then the unused healthy ones, which LiteLLM writes into
//! the cached dict with 0), skips a deployment when `tokens + input_tokens > tpm` or, if it made
//! requests this minute, `requests + 1 >= rpm` (limits: first set of the deployment's top-level
//! key, `litellm_params`, `model_info`), and keeps the first with the strictly lowest tokens.
//! No randomness.

use crate::clock::Clock;
use crate::deployment::Metric;
use crate::registry::Member;
use crate::strategy::{PickContext, Usage, align, infallible};
use crate::sync::lock;

/// Picks one of `healthy` (non-empty).
#[must_use]
pub fn pick<'a>(ctx: &PickContext<'_, impl Clock>, healthy: &[&'a Member]) -> Option<&'a Member> {
    let minute = ctx.wall.local_minute();
    let mut v1 = lock(&ctx.group.state().v1);
    let v1 = &mut *v1;
    let rpm = v1.rpm.live(minute.0, ctx.now).map(|m| &*m);
    let persisted = v1.tpm.live(minute.0, ctx.now);
    let cached = persisted.is_some();
    let aligned = align(persisted, healthy, || 0);
    let tpm = if cached {
        v1.tpm.live(minute.0, ctx.now)
    } else {
        None
    };
    let entries = aligned.iter().enumerate().filter_map(|(index, member)| {
        let member = (*member)?;
        let d = &member.deployment;
        let item_tpm = tpm
            .as_ref()
            .and_then(|t| t.get_index(index))
            .map_or(0, |(_, v)| *v);
        let usage = Usage {
            tpm: item_tpm as f64,
            rpm: rpm.and_then(|r| r.get(d.id())).map(|r| *r as f64),
            tpm_limit: d.limit_first_set(Metric::Tpm),
            rpm_limit: d.limit_first_set(Metric::Rpm),
        };
        Some(Ok((member, usage)))
    });
    infallible(select(entries, ctx.request.input_tokens as f64))
}

/// The same rule over plain inputs: the group's tpm dict walked in its order, each entry a
/// healthy candidate's key and usage (the caller leaves out entries naming no healthy
/// deployment); the first candidate with the strictly lowest tpm among those within their
/// limits ([`Usage::within_limits`]). The lowest starts at infinity, as LiteLLM's does, so a
/// candidate at infinite usage is never picked. `Ok(None)`: none is within its limits.
///
/// # Errors
///
/// The first `Err` among `entries` (a caller's read it cannot reproduce).
pub fn select<K, E>(
    entries: impl IntoIterator<Item = Result<(K, Usage), E>>,
    input_tokens: f64,
) -> Result<Option<K>, E> {
    let mut lowest = f64::INFINITY;
    let mut chosen = None;
    for entry in entries {
        let (key, usage) = entry?;
        if usage.within_limits(input_tokens) && usage.tpm < lowest {
            lowest = usage.tpm;
            chosen = Some(key);
        }
    }
    Ok(chosen)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::state::Tracking;
    use crate::strategy::Request;
    use crate::strategy::test_support::{Fixture, dep};

    fn run(f: &Fixture, input_tokens: u64) -> Option<String> {
        let request = Request {
            input_tokens,
            ..Request::default()
        };
        let ctx = f.ctx(&request);
        pick(&ctx, &f.members("g")).map(|m| m.deployment.id().to_owned())
    }

    #[test]
    fn lowest_tpm_first_in_dict_order() {
        // Hand-computed from LowestTPMLoggingHandler.get_available_deployments.
        let f = Fixture::new(
            Tracking::UsageV1,
            vec![
                dep("a").build().unwrap(),
                dep("b").build().unwrap(),
                dep("c").build().unwrap(),
            ],
        );
        assert_eq!(run(&f, 0).as_deref(), Some("a"), "no usage: healthy order");
        f.record_tokens("c", 10);
        f.record_tokens("b", 10);
        // Dict order now: c, b (this minute), then a (added with 0 by the pick above? no: the
        // first pick found no dict, so it stored nothing). a has 0 tokens.
        assert_eq!(run(&f, 0).as_deref(), Some("a"));
        f.record_tokens("a", 10);
        // All at 10: the dict's first entry, c.
        assert_eq!(run(&f, 0).as_deref(), Some("c"));
    }

    #[test]
    fn limits() {
        let f = Fixture::new(
            Tracking::UsageV1,
            vec![
                dep("a").tpm(100).rpm(2).build().unwrap(),
                dep("b").build().unwrap(),
            ],
        );
        f.record_tokens("b", 50);
        // a: 0 + 101 > 100 -> skipped.
        assert_eq!(run(&f, 101).as_deref(), Some("b"));
        assert_eq!(run(&f, 100).as_deref(), Some("a"));
        f.record_tokens("a", 1);
        // a made 1 request this minute: 1 + 1 >= rpm 2 -> skipped.
        assert_eq!(run(&f, 0).as_deref(), Some("b"));
        // A new minute starts over.
        f.clock.advance(std::time::Duration::from_secs(60));
        assert_eq!(run(&f, 0).as_deref(), Some("a"));
    }
}
