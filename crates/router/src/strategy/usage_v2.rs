//! `usage-based-routing-v2`: LiteLLM's
//! `router_strategy/lowest_tpm_rpm_v2.py::LowestTPMLoggingHandler_v2._common_checks_available_deployment`
//! and `_return_potential_deployments`.
//!
//! Reads each healthy deployment's `{id}:{model}:tpm:{HH-MM}` and `...:rpm:...` (UTC minute),
//! skips one when `tokens + input_tokens > tpm` or `requests + 1 >= rpm` (limits: first set of
//! top-level, `litellm_params`, `model_info`), and draws `random.choice` among those with the
//! lowest tokens. Requests are counted before the call by [`crate::Router::admit`]
//! (`pre_call_check`), tokens after it.
//!
//! LiteLLM keys its counters by `key.split(":")[0]`, so a deployment whose id contains `:` is
//! looked up by the part before it: such a deployment is never picked (unless another one has
//! exactly that prefix as its id). That is reproduced.

use crate::clock::Clock;
use crate::deployment::Metric;
use crate::registry::Member;
use crate::rng::{self, RouterRng};
use crate::strategy::{PickContext, Usage, infallible};

/// Picks one of `healthy` (non-empty).
pub fn pick<'a>(
    ctx: &PickContext<'_, impl Clock>,
    healthy: &[&'a Member],
    rng: &mut (impl RouterRng + ?Sized),
) -> Option<&'a Member> {
    let minute = ctx.wall.utc_minute().0;
    let counters = |m: &Member| {
        (
            m.state.v2_tpm.get_opt(minute, ctx.now),
            m.state.v2_rpm.get_opt(minute, ctx.now),
        )
    };
    let input_tokens = ctx.request.input_tokens as f64;
    let mut potential = Vec::with_capacity(healthy.len());
    if healthy.iter().any(|m| m.deployment.id().contains(':')) {
        return pick_colon_ids(healthy, &counters, input_tokens, &mut potential, rng);
    }
    let entries = healthy.iter().map(|&member| {
        let (tpm, rpm) = counters(member);
        Ok((member, usage(member, tpm.unwrap_or(0), rpm)))
    });
    infallible(select(entries, input_tokens, &mut potential, rng))
}

/// A member's counters against its limits (first set of top-level, `litellm_params`,
/// `model_info`).
fn usage(member: &Member, tpm: u64, rpm: Option<u64>) -> Usage {
    let d = &member.deployment;
    Usage {
        tpm: tpm as f64,
        rpm: rpm.map(|r| r as f64),
        tpm_limit: d.limit_first_set(Metric::Tpm),
        rpm_limit: d.limit_first_set(Metric::Rpm),
    }
}

/// The same rule over plain inputs (`_return_potential_deployments`, then `random.choice`):
/// every candidate's key and usage, in LiteLLM's order; the ones within their limits
/// ([`Usage::within_limits`]) at the lowest tpm are kept in `potential` (scratch space,
/// cleared first, so a caller picking in a loop allocates once), and one of them is drawn.
/// `Ok(None)`, with nothing drawn: none is within its limits.
///
/// # Errors
///
/// The first `Err` among `entries` (a caller's read it cannot reproduce); nothing is drawn.
pub fn select<K: Copy, E>(
    entries: impl IntoIterator<Item = Result<(K, Usage), E>>,
    input_tokens: f64,
    potential: &mut Vec<K>,
    rng: &mut (impl RouterRng + ?Sized),
) -> Result<Option<K>, E> {
    potential.clear();
    let mut lowest = f64::INFINITY;
    for entry in entries {
        let (key, usage) = entry?;
        if !usage.within_limits(input_tokens) {
            continue;
        }
        if usage.tpm == lowest {
            potential.push(key);
        } else if usage.tpm < lowest {
            lowest = usage.tpm;
            potential.clear();
            potential.push(key);
        }
    }
    if potential.is_empty() {
        return Ok(None);
    }
    Ok(Some(potential[rng::choice(rng, potential.len())]))
}

/// A member's `(tpm, rpm)` counters this minute (`None`: no key).
type Counters<'u> = dyn Fn(&Member) -> (Option<u64>, Option<u64>) + 'u;

/// The literal dict walk, for ids containing `:`.
fn pick_colon_ids<'a>(
    healthy: &[&'a Member],
    counters: &Counters<'_>,
    input_tokens: f64,
    potential: &mut Vec<&'a Member>,
    rng: &mut (impl RouterRng + ?Sized),
) -> Option<&'a Member> {
    let prefix = |id: &'a str| id.split(':').next().unwrap_or(id);
    // tpm_dict / rpm_dict: {id.split(":")[0]: value}, later keys overwrite earlier ones.
    let mut tpm_dict: Vec<(&'a str, Option<u64>)> = Vec::new();
    let mut rpm_dict: Vec<(&'a str, Option<u64>)> = Vec::new();
    let set = |dict: &mut Vec<(&'a str, Option<u64>)>, key: &'a str, v: Option<u64>| match dict
        .iter_mut()
        .find(|(k, _)| *k == key)
    {
        Some(slot) => slot.1 = v,
        None => dict.push((key, v)),
    };
    for member in healthy {
        let (tpm, rpm) = counters(member);
        set(&mut tpm_dict, prefix(member.deployment.id()), tpm);
        set(&mut rpm_dict, prefix(member.deployment.id()), rpm);
    }
    for member in healthy {
        let id = member.deployment.id();
        match tpm_dict.iter_mut().find(|(k, _)| *k == id) {
            Some(slot) if slot.1.is_some() => {}
            Some(slot) => slot.1 = Some(0),
            None => tpm_dict.push((id, Some(0))),
        }
    }
    // deployment_lookup: {id: deployment}, the last one for a repeated id.
    let lookup = |key: &str| {
        healthy
            .iter()
            .rev()
            .copied()
            .find(|m| m.deployment.id() == key)
    };
    let entries = tpm_dict.iter().filter_map(|(key, item_tpm)| {
        let item = prefix(key);
        let member = lookup(item)?;
        let item_tpm = (*item_tpm)?;
        let rpm = rpm_dict
            .iter()
            .find(|(k, _)| *k == item)
            .and_then(|(_, v)| *v);
        Some(Ok((member, usage(member, item_tpm, rpm))))
    });
    infallible(select(entries, input_tokens, potential, rng))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::rng::PyRandom;
    use crate::state::Tracking;
    use crate::strategy::Request;
    use crate::strategy::test_support::{Fixture, dep};

    fn run(f: &Fixture, input_tokens: u64, rng: &mut PyRandom) -> Option<String> {
        let request = Request {
            input_tokens,
            ..Request::default()
        };
        let ctx = f.ctx(&request);
        pick(&ctx, &f.members("g"), rng).map(|m| m.deployment.id().to_owned())
    }

    #[test]
    fn random_among_lowest() {
        // _return_potential_deployments keeps every deployment at the lowest tpm;
        // random.choice picks among them (here a and c).
        let f = Fixture::new(
            Tracking::UsageV2,
            vec![
                dep("a").build().unwrap(),
                dep("b").build().unwrap(),
                dep("c").build().unwrap(),
            ],
        );
        f.record_tokens("b", 5);
        let mut rng = PyRandom::new(11);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..40 {
            seen.insert(run(&f, 0, &mut rng).unwrap());
        }
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["a", "c"]);
    }

    #[test]
    fn same_draws_as_litellm() {
        // LiteLLM 1.109.3, LowestTPMLoggingHandler_v2 over a fresh DualCache, deployments
        // [a, b, c], b with 5 tokens this minute, random.seed(11), eight picks.
        let f = Fixture::new(
            Tracking::UsageV2,
            vec![
                dep("a").build().unwrap(),
                dep("b").build().unwrap(),
                dep("c").build().unwrap(),
            ],
        );
        f.record_tokens("b", 5);
        let mut rng = PyRandom::new(11);
        let got: Vec<String> = (0..8).map(|_| run(&f, 0, &mut rng).unwrap()).collect();
        assert_eq!(got, ["c", "c", "c", "a", "a", "c", "a", "a"]);
    }

    #[test]
    fn matches_litellm_draws() {
        // LiteLLM: random.seed(4); [random.choice([a, b, c]) for _ in range(5)] with no usage
        // -> the same indices as PyRandom(4).below(3).
        let f = Fixture::new(
            Tracking::UsageV2,
            vec![
                dep("a").build().unwrap(),
                dep("b").build().unwrap(),
                dep("c").build().unwrap(),
            ],
        );
        let mut rng = PyRandom::new(4);
        let mut expect_rng = PyRandom::new(4);
        for _ in 0..5 {
            let want = ["a", "b", "c"][rng::choice(&mut expect_rng, 3)];
            assert_eq!(run(&f, 0, &mut rng).as_deref(), Some(want));
        }
    }

    #[test]
    fn limits_and_colon_ids() {
        let f = Fixture::new(
            Tracking::UsageV2,
            vec![
                dep("a").tpm(10).build().unwrap(),
                dep("b:1").build().unwrap(),
            ],
        );
        let mut rng = PyRandom::new(0);
        // "b:1" is looked up as "b" and never found; a is over tpm for 11 input tokens.
        assert_eq!(run(&f, 11, &mut rng), None);
        assert_eq!(run(&f, 10, &mut rng).as_deref(), Some("a"));
        let g = Fixture::new(Tracking::UsageV2, vec![dep("a").rpm(1).build().unwrap()]);
        g.member("a").state.v2_rpm.increment(
            g.state.wall().utc_minute().0,
            g.state.now_nanos(),
            60_000_000_000,
            0,
        );
        // rpm key present with 0: 0 + 1 >= 1 -> skipped.
        assert_eq!(run(&g, 0, &mut rng), None);
    }
}
