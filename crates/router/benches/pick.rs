//! `pick` latency per strategy at 2, 20 and 200 deployments in one group.
//!
//! `cargo bench -p fastllm-router --bench pick -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use fastllm_router::strategy::cost::NoCostMap;
use fastllm_router::strategy::latency::LatencyArgs;
use fastllm_router::strategy::{Request, Strategy};
use fastllm_router::{Deployment, Router, RouterSettings, StdRouterRng, Success};

fn router(strategy: Strategy, n: usize) -> Router {
    let deployments = (0..n)
        .map(|i| {
            Deployment::builder(
                format!("deployment-{i:04}"),
                "gpt-4o",
                format!("azure/gpt-4o-{i}"),
            )
            .weight(1.0 + (i % 5) as f64)
            .rpm(1_000_000)
            .tpm(100_000_000)
            .cost_per_token(1e-6 * (1 + i % 3) as f64, 2e-6)
            .build()
            .expect("valid deployment")
        })
        .collect();
    let settings = RouterSettings {
        strategy,
        ..RouterSettings::default()
    };
    let router = Router::new(deployments, settings).expect("unique ids");
    // Some usage, so the usage, latency and cost maps are populated as in a live router.
    for i in 0..n {
        let id = format!("deployment-{i:04}");
        router.on_request_start(&id);
        router.on_success(
            &id,
            &Success {
                total_tokens: 100 + i as u64,
                completion_tokens: Some(50),
                latency_secs: 0.5 + (i % 7) as f64 * 0.1,
                time_to_first_token_secs: None,
            },
        );
    }
    router
}

fn bench_pick(c: &mut Criterion) {
    let strategies = [
        Strategy::SimpleShuffle,
        Strategy::LeastBusy,
        Strategy::LatencyBased(LatencyArgs::default()),
        Strategy::UsageBasedV1,
        Strategy::UsageBasedV2,
        Strategy::CostBased(Arc::new(NoCostMap)),
    ];
    for strategy in strategies {
        let mut group = c.benchmark_group(format!("pick/{}", strategy.name()));
        for n in [2usize, 20, 200] {
            let router = router(strategy.clone(), n);
            let request = Request {
                input_tokens: 200,
                ..Request::default()
            };
            let mut rng = StdRouterRng::seeded(1);
            group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
                b.iter(|| black_box(router.pick(black_box("gpt-4o"), &request, &mut rng)));
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_pick);
criterion_main!(benches);
