//! `cost-based-routing`: LiteLLM's
//! `router_strategy/lowest_cost.py::LowestCostLoggingHandler.async_get_available_deployments`.
//!
//! Walks the group's `cost_map:{group}` in insertion order (deployments in the order they first
//! succeeded while the map lived, then unused healthy ones, which LiteLLM writes into the cached
//! map), skips those over `tpm`/`rpm` this minute (limits read as `a or b or c or inf`), prices
//! each as input + output cost per token (`litellm_params` when non-zero, else the first
//! cost-map row of `base_model` then `model` that declares a price, else `5.0` each), and takes
//! the cheapest, the first on ties. No randomness.

use std::collections::HashMap;

use crate::clock::Clock;
use crate::deployment::{Deployment, Metric};
use crate::registry::Member;
use crate::state::minute_usage;
use crate::strategy::{PickContext, Usage, align, first_lowest, infallible};
use crate::sync::lock;

/// Per-token prices from a cost-map row (`input_cost_per_token`, `output_cost_per_token`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TokenPrices {
    /// Price of one input token.
    pub input: Option<f64>,
    /// Price of one output token.
    pub output: Option<f64>,
}

/// LiteLLM's `model_cost` map, as far as cost-based routing reads it.
pub trait CostMap: Send + Sync {
    /// The row for `model`, if there is one.
    fn token_prices(&self, model: &str) -> Option<TokenPrices>;
}

impl<S: std::hash::BuildHasher + Send + Sync> CostMap for HashMap<String, TokenPrices, S> {
    fn token_prices(&self, model: &str) -> Option<TokenPrices> {
        self.get(model).copied()
    }
}

/// An empty cost map: every deployment without its own prices costs `5.0 + 5.0`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCostMap;

impl CostMap for NoCostMap {
    fn token_prices(&self, _model: &str) -> Option<TokenPrices> {
        None
    }
}

/// `input + output` cost per token of `d`.
#[must_use]
pub fn deployment_cost(d: &Deployment, map: &dyn CostMap) -> f64 {
    // deployment_pricing_models: base_model, then model; blanks and repeats dropped.
    let mut models: [Option<&str>; 2] = [d.base_model(), Some(d.model())];
    if models[0] == models[1] {
        models[1] = None;
    }
    let row = models
        .into_iter()
        .flatten()
        .filter(|m| !m.is_empty())
        .filter_map(|m| map.token_prices(m))
        .find(TokenPrices::declares_price)
        .unwrap_or_default();
    let own = TokenPrices {
        input: d.input_cost_per_token(),
        output: d.output_cost_per_token(),
    };
    price(own, row)
}

impl TokenPrices {
    /// `_declares_token_price`: either price is set (the row cost-based routing prices from).
    #[must_use]
    pub fn declares_price(&self) -> bool {
        self.input.is_some() || self.output.is_some()
    }
}

/// The price cost-based routing ranks a deployment by, per token, input plus output: each
/// its own (`litellm_params`) price when set and non-zero, else the cost-map row's (the first
/// of its pricing models that [declares a price](TokenPrices::declares_price); the default
/// for none), else 5.0.
#[must_use]
pub fn price(own: TokenPrices, row: TokenPrices) -> f64 {
    let truthy = |v: Option<f64>| v.filter(|v| *v != 0.0);
    let input = truthy(own.input).or(row.input).unwrap_or(5.0);
    let output = truthy(own.output).or(row.output).unwrap_or(5.0);
    input + output
}

/// The same rule over plain inputs: the group's cost map walked in its order, each entry a
/// healthy candidate's key, [`price`] and usage (the caller leaves out entries naming no
/// healthy deployment); of those within their limits ([`Usage::within_minute_limits`]), the
/// cheapest, the first of equals (`sorted(...)[0]`). `Ok(None)`: none is within its limits.
///
/// # Errors
///
/// The first `Err` among `entries` (a caller's read it cannot reproduce).
pub fn select<K, E>(
    entries: impl IntoIterator<Item = Result<(K, f64, Usage), E>>,
    input_tokens: f64,
) -> Result<Option<K>, E> {
    first_lowest(entries.into_iter().filter_map(|entry| {
        match entry {
            Ok((key, cost, usage)) => usage
                .within_minute_limits(input_tokens)
                .then_some(Ok((key, cost))),
            Err(error) => Some(Err(error)),
        }
    }))
}

/// Picks one of `healthy` (non-empty).
pub fn pick<'a>(
    ctx: &PickContext<'_, impl Clock>,
    map: &dyn CostMap,
    healthy: &[&'a Member],
) -> Option<&'a Member> {
    let minute = ctx.wall.local_minute();
    let mut cost_map = lock(&ctx.group.state().cost);
    let persisted = cost_map.live(0, ctx.now).filter(|e| !e.is_empty());
    let cached = persisted.is_some();
    let aligned = align(persisted, healthy, || Some((minute, 0, 0)));
    let entries = if cached {
        cost_map.live(0, ctx.now)
    } else {
        None
    };
    let walk = aligned.iter().enumerate().filter_map(|(index, member)| {
        let member = (*member)?;
        let d = &member.deployment;
        let usage = entries
            .as_ref()
            .and_then(|e| e.get_index(index))
            .and_then(|(_, usage)| *usage);
        let (tpm, rpm) = minute_usage(usage, minute);
        let usage = Usage {
            tpm: tpm as f64,
            rpm: Some(rpm as f64),
            tpm_limit: d.limit_truthy(Metric::Tpm),
            rpm_limit: d.limit_truthy(Metric::Rpm),
        };
        Some(Ok((member, deployment_cost(d, map), usage)))
    });
    infallible(select(walk, ctx.request.input_tokens as f64))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::state::{Success, Tracking};
    use crate::strategy::Request;
    use crate::strategy::test_support::{Fixture, dep};

    fn run(f: &Fixture, map: &dyn CostMap) -> Option<String> {
        let request = Request::default();
        let ctx = f.ctx(&request);
        pick(&ctx, map, &f.members("g")).map(|m| m.deployment.id().to_owned())
    }

    #[test]
    fn cheapest_wins() {
        let f = Fixture::new(
            Tracking::Cost,
            vec![
                dep("a").cost_per_token(3.0, 3.0).build().unwrap(),
                dep("b").cost_per_token(1.0, 1.0).build().unwrap(),
                dep("c").build().unwrap(),
            ],
        );
        assert_eq!(run(&f, &NoCostMap).as_deref(), Some("b"));
        let mut map = HashMap::new();
        map.insert(
            "openai/c".to_owned(),
            TokenPrices {
                input: Some(0.5),
                output: None,
            },
        );
        // c: 0.5 from the map + 5.0 default output = 5.5 > b's 2.0.
        assert_eq!(run(&f, &map).as_deref(), Some("b"));
        map.insert(
            "openai/c".to_owned(),
            TokenPrices {
                input: Some(0.5),
                output: Some(0.5),
            },
        );
        assert_eq!(run(&f, &map).as_deref(), Some("c"));
    }

    #[test]
    fn ties_go_to_first_success() {
        // Mirrors the LiteLLM run: b succeeded first, so the map is {b, a, c} and b wins ties.
        let f = Fixture::new(
            Tracking::Cost,
            vec![
                dep("a").build().unwrap(),
                dep("b").build().unwrap(),
                dep("c").build().unwrap(),
            ],
        );
        assert_eq!(run(&f, &NoCostMap).as_deref(), Some("a"));
        f.state
            .record_success("g", "b", &f.member("b").state, &Success::default());
        assert_eq!(run(&f, &NoCostMap).as_deref(), Some("b"));
    }

    #[test]
    fn zero_price_falls_back_to_map() {
        let d = Deployment::builder("x", "g", "m")
            .cost_per_token(0.0, 2.0)
            .base_model("base")
            .build()
            .unwrap();
        let mut map = HashMap::new();
        map.insert(
            "base".to_owned(),
            TokenPrices {
                input: Some(0.25),
                output: Some(9.0),
            },
        );
        assert_eq!(deployment_cost(&d, &map), 2.25);
    }
}
