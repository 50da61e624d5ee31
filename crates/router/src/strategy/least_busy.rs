//! `least-busy`: LiteLLM's `router_strategy/least_busy.py::_least_busy`.
//!
//! The deployment with the fewest requests in flight (`{group}_request_count:{id}`, counted from
//! `log_pre_api_call` to the success or failure event); the first one on ties. No randomness.

use crate::registry::Member;
use crate::strategy::{first_lowest, infallible};

/// Picks one of `healthy` (non-empty).
#[must_use]
pub fn pick<'a>(healthy: &[&'a Member]) -> Option<&'a Member> {
    pick_index(healthy.iter().map(|m| m.state.in_flight())).map(|i| healthy[i])
}

/// The same rule over plain counts: the index of the first candidate with the fewest
/// requests in flight (Python's `min()` keeps the first of equals); `None` for no candidates.
#[must_use]
pub fn pick_index<T: PartialOrd>(in_flight: impl IntoIterator<Item = T>) -> Option<usize> {
    infallible(first_lowest(in_flight.into_iter().enumerate().map(Ok)))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::state::Tracking;
    use crate::strategy::test_support::{Fixture, dep};

    #[test]
    fn fewest_in_flight_first_on_ties() {
        // LeastBusyLoggingHandler.get_available_deployments with counts a=2, b=1, c=1 -> b.
        let f = Fixture::new(
            Tracking::LeastBusy,
            vec![
                dep("a").build().unwrap(),
                dep("b").build().unwrap(),
                dep("c").build().unwrap(),
            ],
        );
        let (a, b, c) = (f.member("a"), f.member("b"), f.member("c"));
        for _ in 0..2 {
            f.state.request_started(&a.state);
        }
        f.state.request_started(&b.state);
        f.state.request_started(&c.state);
        assert_eq!(pick(&f.members("g")).unwrap().deployment.id(), "b");
        f.state.request_finished(&c.state);
        assert_eq!(pick(&f.members("g")).unwrap().deployment.id(), "c");
        // All zero: the first.
        for m in [a, b] {
            while m.state.in_flight() > 0 {
                f.state.request_finished(&m.state);
            }
        }
        assert_eq!(pick(&f.members("g")).unwrap().deployment.id(), "a");
    }
}
