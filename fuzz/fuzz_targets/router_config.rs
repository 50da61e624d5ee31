//! Deployment configs are outside input: parsing any JSON `model_list` must never panic, and a
//! router built from whatever parses must pick without panicking under every strategy, and
//! only deployments of the requested group.
#![no_main]

use fastllm_router::{Pick, Router, RouterSettings, StdRouterRng};
use fastllm_router::litellm::parse_model_list_with;
use fastllm_router::strategy::{Request, Strategy};
use fastllm_router::strategy::latency::LatencyArgs;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(deployments) = parse_model_list_with(&value, &|_| None) else {
        return;
    };
    if deployments.is_empty() {
        return;
    }
    let groups: Vec<String> = deployments.iter().map(|d| d.model_name().to_owned()).collect();
    for strategy in [
        Strategy::SimpleShuffle,
        Strategy::LeastBusy,
        Strategy::LatencyBased(LatencyArgs::default()),
        Strategy::UsageBasedV1,
        Strategy::UsageBasedV2,
    ] {
        let settings = RouterSettings {
            strategy,
            ..RouterSettings::default()
        };
        let Ok(router) = Router::new(deployments.clone(), settings) else {
            continue;
        };
        let mut rng = StdRouterRng::seeded(7);
        for group in &groups {
            for input_tokens in [0, 1000] {
                let request = Request {
                    input_tokens,
                    ..Request::default()
                };
                if let Pick::Deployment(picked) = router.pick(group, &request, &mut rng) {
                    assert_eq!(picked.model_name(), group);
                }
            }
        }
    }
});
