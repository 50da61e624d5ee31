//! A LiteLLM `Router` and a fastllm [`Router`] on one real `redis-server` see the same state.
//!
//! `litellm_and_fastllm_share_state` runs LiteLLM itself (`router/redis_litellm.py`, one process
//! per Python in `LITELLM_PYTHON`, separated like `PATH`: the Makefile passes its LiteLLM 1.110.2
//! and 1.109.3 venvs) against this crate on a throwaway server, and checks, on each line:
//!
//! 1. LiteLLM → fastllm, cooldown: LiteLLM's own failure path (`acompletion` whose mocked
//!    answer is a 429, in a group of two) writes `deployment:{id}:cooldown`; `RedisState` reads
//!    that entry as LiteLLM wrote it (the bytes, which are not quite the crate's own on either
//!    line, are pinned in `check_stored_text`), and a fastllm router that syncs from Redis never
//!    picks the deployment until `timestamp + cooldown_time`, then picks it again.
//! 2. fastllm → LiteLLM, cooldown: `on_failure_shared` (a 429 in a group of two) writes the
//!    cooldown; a LiteLLM router built afterwards never picks the deployment (sync and async
//!    picks), and neither does one that had already read the group's empty cooldowns, after it
//!    re-reads: 1.109.3's `CooldownCache` re-reads a key missing from its memory tier every
//!    `DEFAULT_COOLDOWN_REDIS_READ_INTERVAL_SECONDS` (1 s), and 1.110.2's native cooldown store
//!    does the same (about 1 s here too; the test allows 3 s). Once the entry's `timestamp +
//!    cooldown_time` has passed, both LiteLLM routers pick it again.
//! 3. Usage-based-v2, both ways: the tokens and the request LiteLLM counts for a mocked success
//!    (`mock_response="hi"`: 30 tokens) are read by `RedisState::read_usage` and steer a fastllm
//!    router away from that deployment; tokens fastllm records with `on_success_shared` steer a
//!    LiteLLM router built afterwards (LiteLLM reads the counters on a router's first pick; a
//!    router that has read them re-reads only every `default_redis_batch_cache_expiry`, 10 s,
//!    which this test does not wait for).
//!
//! Without `LITELLM_PYTHON` (the Makefile builds the LiteLLM venvs only for `make test`), a second
//! fastllm router answers the same commands in LiteLLM's place and the same checks run; the test
//! prints that LiteLLM's half did NOT run. The server is `fastllm_tests::RedisServer`
//! (`$REDIS_SERVER`, else `redis-server` on `PATH`; without one the test fails, it never skips).

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fastllm_connpool::PoolConfig;
use fastllm_connpool::redis::{RedisPool, cmd};
use fastllm_router::litellm::parse_model_list;
use fastllm_router::litellm::{MinuteLabels, keys};
use fastllm_router::strategy::Strategy;
use fastllm_router::{
    Admission, Clock, CooldownDecision, CooldownReason, CooldownValue, ErrorKind, Failure,
    FakeClock, Minute, RedisState, Router, RouterSettings, StdRouterRng, Success, SystemClock,
};
use fastllm_tests::router::picked_ids;
use fastllm_tests::{LiteLlmScript, RedisServer};
use serde_json::{Value, json};

/// The whole test, every LiteLLM line included.
const TEST_LIMIT: Duration = Duration::from_secs(300);
/// `import litellm` takes 6-8 s on an idle machine.
const READY_LIMIT: Duration = Duration::from_secs(120);
/// One command of the Python half.
const REPLY_LIMIT: Duration = Duration::from_secs(60);
/// How long a write of the other side may take to show in Redis (LiteLLM counts tokens in a
/// task after the call has returned).
const WRITE_LIMIT: Duration = Duration::from_secs(10);
/// The cooldown LiteLLM is configured with in step 1: an int, as LiteLLM's own default
/// (`DEFAULT_COOLDOWN_TIME_SECONDS = 5`) is. `SET ... EX 3`: short, with room for a loaded
/// machine to read it back before it ends.
const LITELLM_COOLDOWN_SECS: u64 = 3;
/// `str()` of the `RateLimitError` the Python half mocks (and the stand-in reports).
const LITELLM_ERROR: &str = "litellm.RateLimitError: x";
/// The tokens in the usage of `mock_response="hi"` (10 prompt + 20 completion), on both lines.
const MOCK_TOKENS: u64 = 30;
const V2: &str = "usage-based-routing-v2";
/// The "version" the stand-in reports.
const STAND_IN: &str = "stand-in";

fn redis_state(server: &RedisServer) -> RedisState {
    let config = PoolConfig::default()
        .with_max_size(2)
        .with_connect_timeout(Duration::from_millis(500))
        .with_command_timeout(Duration::from_secs(2))
        .with_wait_timeout(Duration::from_secs(5));
    RedisState::new(RedisPool::from_url(&server.url(), config).expect("pool"))
}

async fn get(redis: &RedisState, key: &str) -> Option<String> {
    let mut conn = redis.pool().get().await.expect("checkout");
    conn.query(cmd("GET").arg(key)).await.expect("GET")
}

async fn ttl(redis: &RedisState, key: &str) -> i64 {
    let mut conn = redis.pool().get().await.expect("checkout");
    conn.query(cmd("TTL").arg(key)).await.expect("TTL")
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

/// The UTC minute now, as LiteLLM's `get_utc_datetime()` and the crate's system clock see it.
fn minute_now() -> Minute {
    SystemClock::new().wall().utc_minute()
}

/// Two deployments of `group`, the model strings differing (they are part of the v2 keys).
fn model_list(group: &str, ids: &[String; 2]) -> Value {
    json!([
        {"model_name": group,
         "litellm_params": {"model": "openai/gpt-4o", "api_key": "sk-interop"},
         "model_info": {"id": ids[0]}},
        {"model_name": group,
         "litellm_params": {"model": "openai/gpt-4o-mini", "api_key": "sk-interop"},
         "model_info": {"id": ids[1]}},
    ])
}

fn ids(prefix: &str, group: &str) -> [String; 2] {
    [format!("{prefix}{group}1"), format!("{prefix}{group}2")]
}

fn model_of(list: &Value, id: &str) -> String {
    list.as_array()
        .unwrap()
        .iter()
        .find(|d| d["model_info"]["id"] == id)
        .and_then(|d| d["litellm_params"]["model"].as_str())
        .unwrap_or_else(|| panic!("{id} is not in the model list"))
        .to_owned()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).to_owned()).collect()
}

/// The ids in a JSON array of the Python half.
fn id_set(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list of ids: {value}"))
        .iter()
        .map(|v| v.as_str().expect("an id").to_owned())
        .collect()
}

fn rate_limited(message: &str) -> Failure<'_> {
    Failure {
        message,
        ..Failure::new(Some(429), ErrorKind::RateLimit)
    }
}

fn settings_for(command: &Value) -> RouterSettings {
    let mut settings = RouterSettings::default();
    if command["routing_strategy"] == V2 {
        settings.strategy = Strategy::UsageBasedV2;
    }
    if let Some(secs) = command["cooldown_time"].as_f64() {
        settings.cooldown.cooldown_time = Some(secs);
    }
    settings
}

/// Waits for the next UTC minute when this one has less than 5 s left (at most 5 s, one run
/// in twelve), so that what one side counts now is read in the same minute.
async fn away_from_minute_end() {
    let into_minute = unix_now().rem_euclid(60.0);
    if into_minute > 55.0 {
        tokio::time::sleep(Duration::from_secs_f64(60.05 - into_minute)).await;
    }
}

/// Polls `read` every 20 ms until it returns something, for at most `limit`.
async fn poll<T, F, Fut>(limit: Duration, mut read: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = read().await {
            return Some(found);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The other side: LiteLLM (router/redis_litellm.py), or a fastllm router standing in for it
// ---------------------------------------------------------------------------------------------

/// `router/redis_litellm.py` under one Python, answering one JSON command per line.
struct LiteLlm {
    script: LiteLlmScript,
    version: String,
}

impl LiteLlm {
    async fn start(python: &Path, server: &RedisServer) -> Self {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/router/redis_litellm.py");
        let mut script = LiteLlmScript::spawn(
            Command::new(python)
                .arg(path)
                .env("REDIS_HOST", "127.0.0.1")
                .env("REDIS_PORT", server.port().to_string())
                .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
                .env("LITELLM_OFFLINE_MODE", "true")
                .env(
                    "LITELLM_INTEROP_LIMIT_SECS",
                    TEST_LIMIT.as_secs().to_string(),
                )
                .stdin(Stdio::piped())
                .stderr(Stdio::inherit()),
        )
        .unwrap_or_else(|e| panic!("start {path} under {}: {e}", python.display()));
        let ready = script
            .next_line(READY_LIMIT, "READY")
            .await
            .unwrap_or_else(|| panic!("{} exited before READY", python.display()));
        let version = ready
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("LiteLLM did not start: {ready}"))
            .to_owned();
        Self { script, version }
    }

    async fn call(&mut self, command: &Value) -> Value {
        let op = command["op"].as_str().unwrap_or_default().to_owned();
        let stdin = self.script.stdin();
        writeln!(stdin, "{command}").expect("send LiteLLM a command");
        stdin.flush().expect("send LiteLLM a command");
        let line = self
            .script
            .next_line(REPLY_LIMIT, &op)
            .await
            .unwrap_or_else(|| panic!("LiteLLM {} exited without answering {op}", self.version));
        serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("LiteLLM answered {op} with {line:?}: {e}"))
    }

    /// Asks the script to end and checks it did, cleanly.
    async fn finish(mut self) {
        let stdin = self.script.stdin();
        writeln!(stdin, "{}", json!({"op": "exit"})).expect("send LiteLLM exit");
        stdin.flush().expect("send LiteLLM exit");
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.script.try_wait().expect("wait for LiteLLM") {
                break status;
            }
            assert!(Instant::now() < deadline, "LiteLLM did not exit");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(status.success(), "LiteLLM interop script failed: {status}");
    }
}

/// A second fastllm router answering the Python half's commands, where LiteLLM is not available.
/// Its "sync" and "async" picks are two rounds of `sync_from_redis` then `n` picks.
struct StandIn {
    redis: RedisState,
    kept: HashMap<String, Router>,
    rng: StdRouterRng,
}

impl StandIn {
    fn new(redis: RedisState) -> Self {
        Self {
            redis,
            kept: HashMap::new(),
            rng: StdRouterRng::seeded(11),
        }
    }

    fn router(command: &Value) -> Router {
        let deployments = parse_model_list(&command["model_list"]).expect("model list");
        Router::new(deployments, settings_for(command)).expect("router")
    }

    async fn picks(
        redis: &RedisState,
        router: &Router<impl Clock>,
        group: &str,
        n: usize,
        rng: &mut StdRouterRng,
    ) -> Value {
        let first = minute_now();
        let mut rounds = Vec::new();
        for _ in 0..2 {
            router.sync_from_redis(redis, group).await.expect("sync");
            rounds.push(picked_ids(router, group, n, rng));
        }
        json!({"sync": rounds[0], "async": rounds[1],
               "minutes": [first.hh_mm(), minute_now().hh_mm()]})
    }

    async fn call(&mut self, command: &Value) -> Value {
        let group = command["group"].as_str().unwrap_or_default();
        let n = command["n"].as_u64().unwrap_or(0) as usize;
        let Self { redis, kept, rng } = self;
        match command["op"].as_str().unwrap_or_default() {
            "fail" => {
                let router = Self::router(command);
                router.sync_from_redis(redis, group).await.expect("sync");
                let id = picked_ids(&router, group, 1, rng).pop_first().unwrap();
                let shared = router
                    .on_failure_shared(redis, &id, &rate_limited(LITELLM_ERROR))
                    .await;
                assert!(shared.value.is_cooldown(), "{:?}", shared.value);
                assert!(shared.backend_ok(), "{:?}", shared.error);
                let own = Self::picks(redis, &router, group, 20, rng).await;
                json!({"failed": id, "error": LITELLM_ERROR, "own_picks": own})
            }
            "picks" => {
                let name = command["router"].as_str().unwrap_or("fresh");
                if name == "fresh" {
                    Self::picks(redis, &Self::router(command), group, n, rng).await
                } else {
                    let router = kept
                        .entry(name.to_owned())
                        .or_insert_with(|| Self::router(command));
                    Self::picks(redis, router, group, n, rng).await
                }
            }
            "until_skipped" => {
                let name = command["router"].as_str().expect("a kept router");
                let router = kept
                    .entry(name.to_owned())
                    .or_insert_with(|| Self::router(command));
                let avoid = command["avoid"].as_str().unwrap();
                let limit = Duration::from_secs_f64(command["limit_secs"].as_f64().unwrap());
                let started = Instant::now();
                let mut noticed = None;
                while started.elapsed() < limit {
                    router.sync_from_redis(redis, group).await.expect("sync");
                    if !picked_ids(router, group, 20, rng).contains(avoid) {
                        noticed = Some(started.elapsed().as_secs_f64());
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                let mut answer = Self::picks(redis, router, group, n, rng).await;
                answer["noticed_after"] = json!(noticed);
                answer
            }
            "success" => {
                let first = minute_now();
                let router = Self::router(command);
                router.sync_from_redis(redis, group).await.expect("sync");
                let id = picked_ids(&router, group, 1, rng).pop_first().unwrap();
                let admitted = router.admit_shared(redis, &id).await.into_result();
                assert!(
                    matches!(admitted, Ok(Admission::Admitted(_))),
                    "{admitted:?}"
                );
                let success = Success {
                    total_tokens: MOCK_TOKENS,
                    ..Success::default()
                };
                router
                    .on_success_shared(redis, &id, &success)
                    .await
                    .into_result()
                    .expect("publish the tokens");
                json!({"id": id, "total_tokens": MOCK_TOKENS,
                       "minutes": [first.hh_mm(), minute_now().hh_mm()]})
            }
            other => panic!("unknown op {other}"),
        }
    }
}

enum Peer {
    LiteLlm(LiteLlm),
    StandIn(Box<StandIn>),
}

impl Peer {
    fn version(&self) -> &str {
        match self {
            Self::LiteLlm(l) => &l.version,
            Self::StandIn(_) => STAND_IN,
        }
    }

    /// Who the other side is, for messages.
    fn side(&self) -> String {
        match self {
            Self::LiteLlm(l) => format!("LiteLLM {}", l.version),
            Self::StandIn(_) => "the stand-in (a fastllm Router)".to_owned(),
        }
    }

    async fn call(&mut self, command: Value) -> Value {
        match self {
            Self::LiteLlm(l) => l.call(&command).await,
            Self::StandIn(s) => s.call(&command).await,
        }
    }

    /// `n` sync and `n` async picks of `group` on router `name` ("fresh": a new one).
    async fn picks(
        &mut self,
        list: &Value,
        strategy: Option<&str>,
        group: &str,
        name: &str,
        n: usize,
    ) -> (BTreeSet<String>, BTreeSet<String>, Value) {
        let mut command =
            json!({"op": "picks", "model_list": list, "group": group, "n": n, "router": name});
        if let Some(strategy) = strategy {
            command["routing_strategy"] = json!(strategy);
        }
        let reply = self.call(command).await;
        (
            id_set(&reply["sync"]),
            id_set(&reply["async"]),
            reply["minutes"].clone(),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------------

/// Pins the text the other side stored for step 1's cooldown, next to what this crate writes for
/// the same entry ([`CooldownValue::to_litellm_string`]). Both read back as the same entry; the
/// bytes differ on both LiteLLM lines:
///
/// * 1.109.3 (`DualCache` → synchronous `RedisCache.set_cache`) stores `str(dict)`, as the crate
///   does, but prints `cooldown_time` as the number it was configured with: an int here and
///   for LiteLLM's default (`5`), where the crate always writes a float (`5.0`).
/// * 1.110.2 (the router's failure path awaits the native cooldown store's `async_put`) stores
///   `json.dumps(dict)`, not `str()`. Only the synchronous
///   `CooldownCache.add_deployment_to_cooldown` (what the crate's own byte test replays) writes
///   `str()` on that line.
fn check_stored_text(version: &str, raw: &str, value: &CooldownValue) {
    let ours = value.to_litellm_string();
    // Python's repr of the timestamp, as the crate prints it.
    let timestamp = ours
        .split("'timestamp': ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .expect("a timestamp");
    let secs = LITELLM_COOLDOWN_SECS;
    match version {
        "1.109.3" => assert_eq!(
            raw,
            ours.replace(
                &format!("'cooldown_time': {secs}.0}}"),
                &format!("'cooldown_time': {secs}}}")
            ),
            "LiteLLM 1.109.3 stores str() of the entry, cooldown_time as configured"
        ),
        "1.110.2" => assert_eq!(
            raw,
            format!(
                "{{\"exception_received\": \"{LITELLM_ERROR}\", \"status_code\": \"429\", \
                 \"timestamp\": {timestamp}, \"cooldown_time\": {secs}}}"
            ),
            "LiteLLM 1.110.2's failure path stores json.dumps() of the entry"
        ),
        STAND_IN => assert_eq!(raw, ours),
        other => panic!("LiteLLM {other} is not a supported line (1.109.3, 1.110.2)"),
    }
}

/// Step 1: the other side cools a deployment down through its own failure path; this crate reads
/// the entry and skips the deployment for exactly as long.
async fn cooldown_from_litellm(peer: &mut Peer, redis: &RedisState, prefix: &str) {
    let version = peer.version().to_owned();
    let side = peer.side();
    let ids = ids(prefix, "g");
    let list = model_list("g", &ids);
    let sent = unix_now();
    let reply = peer
        .call(json!({"op": "fail", "model_list": list, "group": "g",
                     "cooldown_time": LITELLM_COOLDOWN_SECS}))
        .await;
    let failed = reply["failed"]
        .as_str()
        .unwrap_or_else(|| panic!("{side} named no failed deployment: {reply}"))
        .to_owned();
    let other = ids
        .iter()
        .find(|id| **id != failed)
        .expect("a group of two")
        .clone();
    assert!(ids.contains(&failed), "{failed}");
    assert_eq!(reply["error"], LITELLM_ERROR);
    // LiteLLM's own router skips it too.
    assert_eq!(id_set(&reply["own_picks"]["sync"]), set(&[&other]));
    assert_eq!(id_set(&reply["own_picks"]["async"]), set(&[&other]));

    // It reached Redis, under LiteLLM's key (waited for: a write may land after the call).
    let key = keys::cooldown(&failed);
    let raw = poll(WRITE_LIMIT, || get(redis, &key))
        .await
        .unwrap_or_else(|| panic!("{side} wrote no {key} within {WRITE_LIMIT:?}"));
    println!("interop [{version}] step 1: {side} stored {key} = {raw}");
    let value = CooldownValue::parse(&raw).unwrap_or_else(|| panic!("unreadable entry {raw}"));
    assert_eq!(value.exception_received, LITELLM_ERROR);
    assert_eq!(value.status_code, "429");
    assert_eq!(value.cooldown_time, LITELLM_COOLDOWN_SECS as f64);
    assert!(
        sent - 1.0 <= value.timestamp && value.timestamp <= unix_now() + 1.0,
        "timestamp {} is not the time of the call ({sent})",
        value.timestamp
    );
    check_stored_text(&version, &raw, &value);
    let expiry = ttl(redis, &key).await;
    assert!(
        (1..=LITELLM_COOLDOWN_SECS as i64).contains(&expiry),
        "EX int(cooldown_time): TTL {expiry}"
    );
    assert_eq!(get(redis, &keys::cooldown(&other)).await, None);
    let active = redis.active_cooldowns(&ids, unix_now()).await.unwrap();
    assert_eq!(active, vec![(failed.clone(), value.clone())]);

    // A fastllm router on that Redis skips it while it lasts...
    let ours = Router::new(parse_model_list(&list).unwrap(), RouterSettings::default()).unwrap();
    let mut rng = StdRouterRng::seeded(1);
    let synced = ours.sync_from_redis(redis, "g").await.unwrap();
    assert_eq!(synced.cooldowns_adopted, 1);
    assert!(ours.is_cooling_down(&failed));
    let ends = value.timestamp + value.cooldown_time;
    let mut rounds = 0;
    // (stopping short of the end by more than a round of picks takes)
    while unix_now() < ends - 0.15 {
        ours.sync_from_redis(redis, "g").await.unwrap();
        assert_eq!(picked_ids(&ours, "g", 50, &mut rng), set(&[&other]));
        rounds += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(rounds > 0, "the cooldown was over before fastllm read it");
    // ...and takes it back once `timestamp + cooldown_time` has passed, as does a new router.
    let left = ends - unix_now() + 0.02;
    if left > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(left)).await;
    }
    assert!(!ours.is_cooling_down(&failed));
    assert_eq!(
        picked_ids(&ours, "g", 100, &mut rng),
        set(&[&ids[0], &ids[1]])
    );
    let fresh = Router::new(parse_model_list(&list).unwrap(), RouterSettings::default()).unwrap();
    assert_eq!(
        fresh
            .sync_from_redis(redis, "g")
            .await
            .unwrap()
            .cooldowns_adopted,
        0
    );
    assert_eq!(
        picked_ids(&fresh, "g", 100, &mut rng),
        set(&[&ids[0], &ids[1]])
    );
    println!(
        "interop [{version}] step 1: {side} cooled {failed} down; fastllm read it and skipped it \
         for {rounds} rounds of picks until timestamp + {LITELLM_COOLDOWN_SECS} s, then picked it again"
    );
}

/// What step 2 leaves running: the cooldown fastllm wrote, checked again once it is over.
struct RustCooldown {
    list: Value,
    ids: [String; 2],
    ends: f64,
}

/// Step 2: fastllm cools a deployment down with `on_failure_shared`; LiteLLM routers skip it.
async fn cooldown_to_litellm(peer: &mut Peer, redis: &RedisState, prefix: &str) -> RustCooldown {
    let version = peer.version().to_owned();
    let side = peer.side();
    let ids = ids(prefix, "h");
    let list = model_list("h", &ids);
    let both = set(&[&ids[0], &ids[1]]);
    let (cooled, other) = (&ids[1], &ids[0]);
    // A LiteLLM router that reads the group's cooldowns (none yet) before fastllm writes one.
    let (sync, asynchronous, _) = peer.picks(&list, None, "h", "kept", 20).await;
    assert_eq!(&sync | &asynchronous, both);

    let ours = Router::new(parse_model_list(&list).unwrap(), RouterSettings::default()).unwrap();
    let shared = ours
        .on_failure_shared(
            redis,
            cooled,
            &rate_limited("litellm.RateLimitError: from fastllm"),
        )
        .await;
    let written = Instant::now();
    assert!(shared.backend_ok(), "{:?}", shared.error);
    let CooldownDecision::CooledDown { secs, reason } = shared.value else {
        panic!("a 429 in a group of two cools down: {:?}", shared.value);
    };
    assert_eq!((secs, reason), (5.0, CooldownReason::RateLimited));
    let value = redis.read_cooldowns(&[cooled]).await.unwrap()[0]
        .clone()
        .expect("fastllm wrote the entry");

    // A LiteLLM router built now never picks it, by either pick path.
    let (sync, asynchronous, _) = peer.picks(&list, None, "h", "fresh", 50).await;
    assert_eq!(sync, set(&[other]), "{side}, new router, sync picks");
    assert_eq!(
        asynchronous,
        set(&[other]),
        "{side}, new router, async picks"
    );
    // The router that read before the write re-reads the key within its read interval.
    let reply = peer
        .call(
            json!({"op": "until_skipped", "model_list": list, "group": "h", "router": "kept",
                     "avoid": cooled, "limit_secs": 3.0, "n": 50}),
        )
        .await;
    let noticed = reply["noticed_after"].as_f64().unwrap_or_else(|| {
        panic!("{side}: a router that had read Redis never saw fastllm's cooldown in 3 s")
    });
    assert_eq!(id_set(&reply["sync"]), set(&[other]), "{side}, kept router");
    assert_eq!(
        id_set(&reply["async"]),
        set(&[other]),
        "{side}, kept router"
    );
    assert!(
        written.elapsed() < Duration::from_secs_f64(secs),
        "the picks ran past the cooldown ({:?}): the machine is too slow for this check",
        written.elapsed()
    );
    println!(
        "interop [{version}] step 2: fastllm cooled {cooled} down; a new router of {side} never \
         picked it, one that had read Redis before stopped after {noticed:.2} s"
    );
    RustCooldown {
        list,
        ids,
        ends: value.timestamp + value.cooldown_time,
    }
}

/// Step 2, continued: once the entry fastllm wrote is over, LiteLLM picks the deployment again.
async fn cooldown_to_litellm_ends(peer: &mut Peer, cooldown: RustCooldown) {
    let version = peer.version().to_owned();
    let side = peer.side();
    let left = cooldown.ends - unix_now() + 0.05;
    if left > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(left)).await;
    }
    let both = set(&[&cooldown.ids[0], &cooldown.ids[1]]);
    for name in ["fresh", "kept"] {
        let (sync, asynchronous, _) = peer.picks(&cooldown.list, None, "h", name, 50).await;
        assert_eq!(sync, both, "{side}, {name} router, after the cooldown");
        assert_eq!(
            asynchronous, both,
            "{side}, {name} router, after the cooldown"
        );
    }
    println!("interop [{version}] step 2: after timestamp + cooldown_time {side} picks it again");
}

/// Step 3: usage-based-v2 counters, both ways.
async fn usage_both_ways(peer: &mut Peer, redis: &RedisState, prefix: &str) {
    let version = peer.version().to_owned();
    let side = peer.side();
    let ids = ids(prefix, "u");
    let list = model_list("u", &ids);
    let v2 = RouterSettings {
        strategy: Strategy::UsageBasedV2,
        ..RouterSettings::default()
    };

    // LiteLLM → fastllm: the request and the tokens of one mocked success, counted in one UTC
    // minute (the counters are per minute; the tokens land shortly after the call).
    away_from_minute_end().await;
    let before = minute_now();
    let reply = peer
        .call(json!({"op": "success", "model_list": list, "group": "u", "routing_strategy": V2}))
        .await;
    let after = minute_now();
    let used = reply["id"]
        .as_str()
        .expect("the deployment used")
        .to_owned();
    let other = ids
        .iter()
        .find(|id| **id != used)
        .expect("a group of two")
        .clone();
    assert_eq!(reply["total_tokens"], MOCK_TOKENS, "{side}'s mocked usage");
    let model = model_of(&list, &used);
    // The minute LiteLLM wrote under (the call may straddle a minute's end).
    let (minute, tokens) = poll(WRITE_LIMIT, || async {
        for minute in [before, after] {
            let key = keys::v2_tpm(&used, &model, minute);
            if let Some(tokens) = redis.read_usage(&[key]).await.unwrap()[0] {
                return Some((minute, tokens));
            }
        }
        None
    })
    .await
    .unwrap_or_else(|| panic!("{side} wrote no {used}:{model}:tpm:<HH-MM> within {WRITE_LIMIT:?}"));
    assert_eq!(tokens, MOCK_TOKENS);
    let rpm = redis
        .read_usage(&[
            keys::v2_rpm(&used, &model, minute),
            keys::v2_tpm(&other, &model_of(&list, &other), minute),
        ])
        .await
        .unwrap();
    assert_eq!(
        rpm,
        [Some(1), None],
        "{side} counted one request, nothing on {other}"
    );
    // A fastllm router in that minute (on a clock held there) reads both counters and steers
    // away from the deployment LiteLLM used.
    let clock = Arc::new(FakeClock::at_unix_millis(minute.0 * 60_000 + 30_000));
    let ours = Router::with_clock(parse_model_list(&list).unwrap(), v2.clone(), clock).unwrap();
    let synced = ours.sync_from_redis(redis, "u").await.unwrap();
    assert_eq!(synced.counters_read, 2, "tpm and rpm of {used}");
    let mut rng = StdRouterRng::seeded(3);
    assert_eq!(
        picked_ids(&ours, "u", 100, &mut rng),
        set(&[&other]),
        "30 tokens against 0"
    );

    // fastllm → LiteLLM: more tokens on the other deployment steer a new LiteLLM router back.
    // Retried when the UTC minute turns between the write and LiteLLM's read (the counters
    // are per minute).
    let ours = Router::new(parse_model_list(&list).unwrap(), v2).unwrap();
    let mut checked = false;
    for _ in 0..3 {
        let minute = minute_now();
        let success = Success {
            total_tokens: 1000,
            ..Success::default()
        };
        ours.on_success_shared(redis, &other, &success)
            .await
            .into_result()
            .unwrap();
        let (sync, asynchronous, minutes) = peer.picks(&list, Some(V2), "u", "fresh", 50).await;
        if minutes != json!([minute.hh_mm(), minute.hh_mm()]) || minute_now() != minute {
            println!("interop [{version}] step 3: the minute turned during the check; again");
            continue;
        }
        assert_eq!(
            sync,
            set(&[&used]),
            "{side}: 1000 tokens on {other}, sync picks"
        );
        assert_eq!(asynchronous, set(&[&used]), "{side}: async picks");
        checked = true;
        break;
    }
    assert!(checked, "the minute turned on every attempt");
    println!(
        "interop [{version}] step 3: fastllm read the {MOCK_TOKENS} tokens and 1 request {side} \
         counted on {used} and picked {other}; {side} read fastllm's 1000 tokens on {other} and \
         picked {used}"
    );
}

async fn share_state(peer: &mut Peer, redis: &RedisState, prefix: &str) {
    cooldown_from_litellm(peer, redis, prefix).await;
    let cooldown = cooldown_to_litellm(peer, redis, prefix).await;
    // Runs while fastllm's cooldown of step 2 lasts; its end is checked afterwards.
    usage_both_ways(peer, redis, prefix).await;
    cooldown_to_litellm_ends(peer, cooldown).await;
}

/// LiteLLM's routers and fastllm's, on one Redis, share cooldowns and usage-based-v2 counters
/// both ways (see the module docs for what each step proves).
///
/// The LiteLLM half needs `LITELLM_PYTHON`: one or more Pythons with litellm 1.109.3 or
/// 1.110.2 (and the `redis` package 1.109.3's Redis cache uses), separated like `PATH`; `make test` passes its LiteLLM venvs. Without
/// it a second fastllm router plays LiteLLM's part, and the test prints that LiteLLM did not run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn litellm_and_fastllm_share_state() {
    let server = RedisServer::start();
    tokio::time::timeout(TEST_LIMIT, async {
        let redis = redis_state(&server);
        let pythons: Vec<PathBuf> = std::env::var_os("LITELLM_PYTHON")
            .map(|p| {
                std::env::split_paths(&p)
                    .filter(|p| !p.as_os_str().is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if pythons.is_empty() {
            println!(
                "interop: LITELLM_PYTHON is unset, so LiteLLM's half did NOT run; a second fastllm \
                 Router stands in for LiteLLM (same commands, same checks)"
            );
            let mut peer = Peer::StandIn(Box::new(StandIn::new(redis_state(&server))));
            share_state(&mut peer, &redis, "s-").await;
            return;
        }
        for (run, python) in pythons.iter().enumerate() {
            let litellm = LiteLlm::start(python, &server).await;
            let version = litellm.version.clone();
            assert!(
                ["1.109.3", "1.110.2"].contains(&version.as_str()),
                "{} runs LiteLLM {version}, not a supported line",
                python.display()
            );
            let mut peer = Peer::LiteLlm(litellm);
            // Fresh deployment ids (and so keys) for each LiteLLM.
            share_state(&mut peer, &redis, &format!("l{run}-")).await;
            let Peer::LiteLlm(litellm) = peer else {
                unreachable!()
            };
            litellm.finish().await;
            println!(
                "interop: the LiteLLM {version} half RAN and agreed ({})",
                python.display()
            );
        }
    })
    .await
    .expect("test exceeded its time limit");
}
