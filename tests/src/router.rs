//! What the router suites ask of a [`Router`] in the same way.

use std::collections::BTreeSet;

use fastllm_router::strategy::Request;
use fastllm_router::{Clock, Pick, Router, StdRouterRng};

/// The ids of the deployments `n` picks of `group` returned (a plain request each).
///
/// # Panics
///
/// When a pick returns anything but a deployment.
pub fn picked_ids(
    router: &Router<impl Clock>,
    group: &str,
    n: usize,
    rng: &mut StdRouterRng,
) -> BTreeSet<String> {
    (0..n)
        .map(|_| match router.pick(group, &Request::default(), rng) {
            Pick::Deployment(d) => d.id().to_owned(),
            other => panic!("{other:?}"),
        })
        .collect()
}
