//! Deployment configuration, and the parser for LiteLLM's `model_list` JSON.
//!
//! The parser takes outside input: it returns [`Error`] for anything it cannot accept and never
//! panics. What it accepts follows LiteLLM 1.109.3's `Router.set_model_list` /
//! `_create_deployment` (pydantic's lax validation of `LiteLLM_Params`), with the differences
//! listed on [`parse_model_list`].

use std::fmt::Write as _;
use std::sync::Arc;

use serde_json::{Map, Number, Value};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::litellm::pyrepr;

/// Per-exception-type allowed fails before a cooldown (LiteLLM's `AllowedFailsPolicy`).
///
/// A field left `None` does not apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(missing_docs)] // the field names are LiteLLM's, one per exception family
#[allow(non_snake_case)]
pub struct AllowedFailsPolicy {
    pub BadRequestErrorAllowedFails: Option<i64>,
    pub AuthenticationErrorAllowedFails: Option<i64>,
    pub TimeoutErrorAllowedFails: Option<i64>,
    pub RateLimitErrorAllowedFails: Option<i64>,
    pub ContentPolicyViolationErrorAllowedFails: Option<i64>,
    pub InternalServerErrorAllowedFails: Option<i64>,
    pub ServiceUnavailableErrorAllowedFails: Option<i64>,
    pub BadGatewayErrorAllowedFails: Option<i64>,
    pub NotFoundErrorAllowedFails: Option<i64>,
}

impl AllowedFailsPolicy {
    /// Parses the JSON object shape (`{"RateLimitErrorAllowedFails": 3, ...}`). Unknown keys are
    /// ignored, as LiteLLM's `.get` lookups ignore them.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when `value` is not an object or a known field is not an integer.
    pub fn from_json(value: &Value) -> Result<Self> {
        Self::parse(value, "allowed_fails_policy")
    }

    fn parse(value: &Value, path: &str) -> Result<Self> {
        let Value::Object(map) = value else {
            return Err(Error::invalid(path, "must be an object"));
        };
        let field = |name: &str| -> Result<Option<i64>> {
            match map.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => pydantic_int(v)
                    .map(Some)
                    .ok_or_else(|| Error::invalid(format!("{path}.{name}"), "must be an integer")),
            }
        };
        Ok(Self {
            BadRequestErrorAllowedFails: field("BadRequestErrorAllowedFails")?,
            AuthenticationErrorAllowedFails: field("AuthenticationErrorAllowedFails")?,
            TimeoutErrorAllowedFails: field("TimeoutErrorAllowedFails")?,
            RateLimitErrorAllowedFails: field("RateLimitErrorAllowedFails")?,
            ContentPolicyViolationErrorAllowedFails: field(
                "ContentPolicyViolationErrorAllowedFails",
            )?,
            InternalServerErrorAllowedFails: field("InternalServerErrorAllowedFails")?,
            ServiceUnavailableErrorAllowedFails: field("ServiceUnavailableErrorAllowedFails")?,
            BadGatewayErrorAllowedFails: field("BadGatewayErrorAllowedFails")?,
            NotFoundErrorAllowedFails: field("NotFoundErrorAllowedFails")?,
        })
    }
}

/// One deployment: a model behind one endpoint, in one model group.
///
/// Build one with [`Deployment::builder`] or parse LiteLLM's `model_list` with
/// [`parse_model_list`]. Values are validated once, when built.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    pub(crate) id: Arc<str>,
    pub(crate) model_name: Arc<str>,
    pub(crate) model: String,
    pub(crate) api_base: Option<String>,
    pub(crate) weight: Option<f64>,
    pub(crate) rpm: Option<i64>,
    pub(crate) tpm: Option<i64>,
    pub(crate) top_rpm: Option<f64>,
    pub(crate) top_tpm: Option<f64>,
    pub(crate) info_rpm: Option<f64>,
    pub(crate) info_tpm: Option<f64>,
    pub(crate) max_parallel_requests: Option<i64>,
    pub(crate) input_cost_per_token: Option<f64>,
    pub(crate) output_cost_per_token: Option<f64>,
    pub(crate) base_model: Option<String>,
    pub(crate) tags: Vec<String>,
    pub(crate) region: Option<String>,
    pub(crate) order: Option<f64>,
    pub(crate) blocked: bool,
    pub(crate) cooldown_time: Option<f64>,
    pub(crate) allowed_fails: Option<i64>,
    pub(crate) allowed_fails_policy: Option<AllowedFailsPolicy>,
}

/// Which of a deployment's limits a lookup reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Requests per minute.
    Rpm,
    /// Tokens per minute.
    Tpm,
}

impl Deployment {
    /// Starts a deployment with the three fields LiteLLM requires: `model_info.id`,
    /// `model_name` (the model group) and `litellm_params.model`.
    ///
    /// # Examples
    ///
    /// ```
    /// use fastllm_router::Deployment;
    ///
    /// let d = Deployment::builder("eu-1", "gpt-4o", "azure/gpt-4o").weight(2.0).rpm(600).build()?;
    /// assert_eq!(d.id(), "eu-1");
    /// assert_eq!(d.rpm(), Some(600));
    /// # Ok::<(), fastllm_router::Error>(())
    /// ```
    pub fn builder(
        id: impl Into<String>,
        model_name: impl Into<String>,
        model: impl Into<String>,
    ) -> DeploymentBuilder {
        DeploymentBuilder {
            inner: Deployment {
                id: Arc::from(id.into()),
                model_name: Arc::from(model_name.into()),
                model: model.into(),
                api_base: None,
                weight: None,
                rpm: None,
                tpm: None,
                top_rpm: None,
                top_tpm: None,
                info_rpm: None,
                info_tpm: None,
                max_parallel_requests: None,
                input_cost_per_token: None,
                output_cost_per_token: None,
                base_model: None,
                tags: Vec::new(),
                region: None,
                order: None,
                blocked: false,
                cooldown_time: None,
                allowed_fails: None,
                allowed_fails_policy: None,
            },
        }
    }

    /// `model_info.id`.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `model_name`: the model group this deployment serves.
    #[must_use]
    pub fn model_name(&self) -> &str {
        &self.model_name
    }

    /// `litellm_params.model`, e.g. `azure/gpt-4o`.
    #[must_use]
    pub fn model(&self) -> &str {
        &self.model
    }

    /// `litellm_params.api_base`.
    #[must_use]
    pub fn api_base(&self) -> Option<&str> {
        self.api_base.as_deref()
    }

    /// `litellm_params.weight`.
    #[must_use]
    pub fn weight(&self) -> Option<f64> {
        self.weight
    }

    /// `litellm_params.rpm`.
    #[must_use]
    pub fn rpm(&self) -> Option<i64> {
        self.rpm
    }

    /// `litellm_params.tpm`.
    #[must_use]
    pub fn tpm(&self) -> Option<i64> {
        self.tpm
    }

    /// `litellm_params.max_parallel_requests`.
    #[must_use]
    pub fn max_parallel_requests(&self) -> Option<i64> {
        self.max_parallel_requests
    }

    /// `litellm_params.input_cost_per_token`.
    #[must_use]
    pub fn input_cost_per_token(&self) -> Option<f64> {
        self.input_cost_per_token
    }

    /// `litellm_params.output_cost_per_token`.
    #[must_use]
    pub fn output_cost_per_token(&self) -> Option<f64> {
        self.output_cost_per_token
    }

    /// `model_info.base_model` or else `litellm_params.base_model`.
    #[must_use]
    pub fn base_model(&self) -> Option<&str> {
        self.base_model.as_deref()
    }

    /// `litellm_params.tags`.
    #[must_use]
    pub fn tags(&self) -> &[String] {
        &self.tags
    }

    /// `litellm_params.region_name`.
    #[must_use]
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// `litellm_params.order`, else `model_info.order` (`get_deployment_order`).
    #[must_use]
    pub fn order(&self) -> Option<f64> {
        self.order
    }

    /// `model_info.blocked`: an admin paused this deployment.
    #[must_use]
    pub fn blocked(&self) -> bool {
        self.blocked
    }

    /// `cooldown_time` from `model_info`, else `litellm_params` (`_first_present`).
    #[must_use]
    pub fn cooldown_time(&self) -> Option<f64> {
        self.cooldown_time
    }

    /// `model_info.allowed_fails`.
    #[must_use]
    pub fn allowed_fails(&self) -> Option<i64> {
        self.allowed_fails
    }

    /// `model_info.allowed_fails_policy`.
    #[must_use]
    pub fn allowed_fails_policy(&self) -> Option<&AllowedFailsPolicy> {
        self.allowed_fails_policy.as_ref()
    }

    /// The limit as the usage-based strategies read it: the first of the deployment's top-level
    /// key, `litellm_params`, `model_info` that is set (`None`: unlimited).
    #[must_use]
    pub fn limit_first_set(&self, metric: Metric) -> Option<f64> {
        let (top, params, info) = self.limit_sources(metric);
        top.or(params).or(info)
    }

    /// The limit as the latency and cost strategies read it: `a or b or c or inf`, so a `0`
    /// falls through to the next source (`None`: unlimited).
    #[must_use]
    pub fn limit_truthy(&self, metric: Metric) -> Option<f64> {
        let (top, params, info) = self.limit_sources(metric);
        [top, params, info]
            .into_iter()
            .flatten()
            .find(|v| *v != 0.0)
    }

    fn limit_sources(&self, metric: Metric) -> (Option<f64>, Option<f64>, Option<f64>) {
        // i64 -> f64 is exact below 2^53; limits beyond that are unlimited in practice.
        match metric {
            Metric::Rpm => (self.top_rpm, self.rpm.map(|v| v as f64), self.info_rpm),
            Metric::Tpm => (self.top_tpm, self.tpm.map(|v| v as f64), self.info_tpm),
        }
    }

    /// `calculate_max_parallel_requests`: `max_parallel_requests`, else `rpm`, else
    /// `int(tpm / 1000 * 6)` (at least 1), else `default`. `None` or `0` means no limit.
    #[must_use]
    pub fn effective_max_parallel_requests(&self, default: Option<i64>) -> Option<i64> {
        let calculated = if let Some(n) = self.max_parallel_requests {
            Some(n)
        } else if let Some(rpm) = self.rpm {
            Some(rpm)
        } else if let Some(tpm) = self.tpm {
            // Python's int() truncates toward zero, as `as` does.
            let n = (tpm as f64 / 1000.0 * 6.0) as i64;
            Some(if n == 0 { 1 } else { n })
        } else {
            default
        };
        calculated.filter(|n| *n != 0)
    }

    fn validate(&self) -> Result<()> {
        let finite_non_negative = |name: &str, v: Option<f64>| match v {
            Some(v) if !v.is_finite() || v < 0.0 => Err(Error::invalid(
                name,
                format!("must be a finite number >= 0, got {v}"),
            )),
            _ => Ok(()),
        };
        finite_non_negative("litellm_params.weight", self.weight)?;
        for (name, v) in [
            ("litellm_params.rpm", self.rpm),
            ("litellm_params.tpm", self.tpm),
        ] {
            if let Some(v) = v
                && v < 0
            {
                return Err(Error::invalid(name, format!("must be >= 0, got {v}")));
            }
        }
        Ok(())
    }
}

/// Builds a [`Deployment`]; see [`Deployment::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct DeploymentBuilder {
    inner: Deployment,
}

impl DeploymentBuilder {
    /// `litellm_params.weight` (simple-shuffle's relative weight).
    pub fn weight(mut self, weight: f64) -> Self {
        self.inner.weight = Some(weight);
        self
    }

    /// `litellm_params.rpm`.
    pub fn rpm(mut self, rpm: i64) -> Self {
        self.inner.rpm = Some(rpm);
        self
    }

    /// `litellm_params.tpm`.
    pub fn tpm(mut self, tpm: i64) -> Self {
        self.inner.tpm = Some(tpm);
        self
    }

    /// `litellm_params.max_parallel_requests`.
    pub fn max_parallel_requests(mut self, n: i64) -> Self {
        self.inner.max_parallel_requests = Some(n);
        self
    }

    /// `litellm_params.input_cost_per_token` and `output_cost_per_token`.
    pub fn cost_per_token(mut self, input: f64, output: f64) -> Self {
        self.inner.input_cost_per_token = Some(input);
        self.inner.output_cost_per_token = Some(output);
        self
    }

    /// `model_info.base_model` (the cost-map key to price it under).
    pub fn base_model(mut self, base_model: impl Into<String>) -> Self {
        self.inner.base_model = Some(base_model.into());
        self
    }

    /// `litellm_params.api_base`.
    pub fn api_base(mut self, api_base: impl Into<String>) -> Self {
        self.inner.api_base = Some(api_base.into());
        self
    }

    /// `litellm_params.tags`.
    pub fn tags(mut self, tags: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.inner.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// `litellm_params.region_name`.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.inner.region = Some(region.into());
        self
    }

    /// `litellm_params.order` (lower is preferred).
    pub fn order(mut self, order: f64) -> Self {
        self.inner.order = Some(order);
        self
    }

    /// `model_info.blocked`.
    pub fn blocked(mut self, blocked: bool) -> Self {
        self.inner.blocked = blocked;
        self
    }

    /// `model_info.cooldown_time` (seconds).
    pub fn cooldown_time(mut self, secs: f64) -> Self {
        self.inner.cooldown_time = Some(secs);
        self
    }

    /// `model_info.allowed_fails`.
    pub fn allowed_fails(mut self, n: i64) -> Self {
        self.inner.allowed_fails = Some(n);
        self
    }

    /// `model_info.allowed_fails_policy`.
    pub fn allowed_fails_policy(mut self, policy: AllowedFailsPolicy) -> Self {
        self.inner.allowed_fails_policy = Some(policy);
        self
    }

    /// Validates and returns the deployment.
    ///
    /// # Errors
    ///
    /// [`Error::Missing`] for an empty id or model, [`Error::Invalid`] for a negative or
    /// non-finite `weight` or a negative `rpm`/`tpm`.
    pub fn build(self) -> Result<Deployment> {
        if self.inner.id.is_empty() {
            return Err(Error::missing("model_info.id"));
        }
        if self.inner.model.is_empty() {
            return Err(Error::missing("litellm_params.model"));
        }
        self.inner.validate()?;
        Ok(self.inner)
    }
}

/// LiteLLM's id for a deployment that has no `model_info.id` (`litellm.router_api.deployment_id`):
/// the SHA-256 hex digest of the model group followed by every `litellm_params` key and value in
/// order, strings as they are, objects as `json.dumps`, anything else as Python's `str()`.
///
/// # Examples
///
/// ```
/// use fastllm_router::litellm::deployment_id;
///
/// let params = serde_json::json!({"model": "openai/gpt-4o"});
/// let id = deployment_id("g", params.as_object().unwrap());
/// // What LiteLLM 1.109.3 assigns to {"model_name": "g", "litellm_params": {"model": "openai/gpt-4o"}}.
/// assert_eq!(id, "c73de01b418c6082ea81ad7f2a315e9755af4680247b404e0b1b8c9a1a893936");
/// ```
#[must_use]
pub fn deployment_id(model_group: &str, litellm_params: &Map<String, Value>) -> String {
    let mut text = String::from(model_group);
    for (key, value) in litellm_params {
        text.push_str(key);
        match value {
            Value::Object(_) => pyrepr::json_dumps(value, &mut text),
            other => pyrepr::py_str(other, &mut text),
        }
    }
    let digest = Sha256::digest(text.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Parses LiteLLM's `model_list` (a JSON array of `{model_name, litellm_params, model_info}`),
/// resolving `os.environ/NAME` values from the process environment as LiteLLM does.
///
/// What follows LiteLLM 1.109.3:
/// * a missing `model_info.id` gets [`deployment_id`]'s hash, computed after secrets resolve
///   (an unset variable becomes `None`); an integer id becomes its decimal string;
/// * `rpm`/`tpm` in `litellm_params` follow pydantic's lax `int`: integers, booleans,
///   integral floats, and strings such as `" 10 "`, `"+1_000"`, `"10.0"`;
/// * `input_cost_per_token`/`output_cost_per_token` follow pydantic's lax `float`;
/// * `model_name`, `litellm_params.model`, `region_name` must be strings, `tags` a list of
///   strings, `litellm_params` and `model_info` objects.
///
/// Stricter than LiteLLM (it accepts these and then misbehaves or fails while routing):
/// * `model_info.id: null` (LiteLLM assigns a random UUID, which no one else can reproduce);
/// * a negative or non-numeric `weight`, a negative `rpm`/`tpm` (a negative value corrupts
///   simple-shuffle's cumulative weights);
/// * non-numeric `rpm`/`tpm` at the top level or in `model_info`, a non-integer
///   `max_parallel_requests`, a non-numeric `order` or `cooldown_time`, a non-integer
///   `model_info.allowed_fails` (each raises `TypeError` in LiteLLM's routing code);
/// * `organization` given as a list (LiteLLM makes one deployment per organization, all with
///   the same id);
/// * two deployments with the same id are refused later, by the registry.
///
/// # Errors
///
/// [`Error::Missing`] or [`Error::Invalid`], naming the offending path.
///
/// # Examples
///
/// ```
/// use fastllm_router::litellm::parse_model_list;
///
/// let list = serde_json::json!([
///     {"model_name": "gpt-4o", "litellm_params": {"model": "azure/gpt-4o", "rpm": "600"},
///      "model_info": {"id": "eu-1"}},
///     {"model_name": "gpt-4o", "litellm_params": {"model": "openai/gpt-4o", "weight": 3}},
/// ]);
/// let deployments = parse_model_list(&list)?;
/// assert_eq!(deployments[0].rpm(), Some(600));
/// assert_eq!(deployments[1].id().len(), 64); // LiteLLM's sha256 id
/// # Ok::<(), fastllm_router::Error>(())
/// ```
pub fn parse_model_list(value: &Value) -> Result<Vec<Deployment>> {
    parse_model_list_with(value, &|name| std::env::var(name).ok())
}

/// [`parse_model_list`] with a caller-supplied secret lookup: `resolve("NAME")` for each
/// `os.environ/NAME` value (`None` stands for an unset variable).
///
/// # Errors
///
/// As [`parse_model_list`].
pub fn parse_model_list_with(
    value: &Value,
    resolve: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Deployment>> {
    let Value::Array(entries) = value else {
        return Err(Error::invalid("model_list", "must be a list"));
    };
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| parse_entry(entry, &format!("model_list[{i}]"), resolve))
        .collect()
}

/// Parses one `model_list` entry; see [`parse_model_list`].
///
/// # Errors
///
/// As [`parse_model_list`].
pub fn parse_deployment(value: &Value) -> Result<Deployment> {
    parse_entry(value, "deployment", &|name| std::env::var(name).ok())
}

const SECRET_PREFIX: &str = "os.environ/";
const SECRET_POINTER_FIELDS: [&str; 2] = [
    "anthropic_issuer_signing_key_ref",
    "anthropic_keycloak_client_secret_ref",
];

fn parse_entry(
    entry: &Value,
    path: &str,
    resolve: &dyn Fn(&str) -> Option<String>,
) -> Result<Deployment> {
    let Value::Object(entry) = entry else {
        return Err(Error::invalid(path, "must be an object"));
    };
    let model_name = match entry.get("model_name") {
        None => return Err(Error::missing(format!("{path}.model_name"))),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(Error::invalid(
                format!("{path}.model_name"),
                "must be a string",
            ));
        }
    };
    let params_path = format!("{path}.litellm_params");
    let mut params = match entry.get("litellm_params") {
        None => return Err(Error::missing(params_path)),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return Err(Error::invalid(params_path, "must be an object")),
    };
    let info_path = format!("{path}.model_info");
    let empty = Map::new();
    let info = match entry.get("model_info") {
        None => &empty,
        Some(Value::Object(map)) => map,
        Some(_) => return Err(Error::invalid(info_path, "must be an object")),
    };

    for (key, value) in &mut params {
        if let Value::String(s) = value
            && let Some(name) = s.strip_prefix(SECRET_PREFIX)
            && !SECRET_POINTER_FIELDS.contains(&key.as_str())
        {
            *value = resolve(name).map_or(Value::Null, Value::String);
        }
    }

    let id = match info.get("id") {
        None => deployment_id(&model_name, &params),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => if *b { "True" } else { "False" }.to_owned(),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => n.to_string(),
        Some(Value::Null) => {
            return Err(Error::invalid(
                format!("{info_path}.id"),
                "is null (LiteLLM would assign a random UUID); give an id or leave the key out",
            ));
        }
        Some(_) => {
            return Err(Error::invalid(
                format!("{info_path}.id"),
                "must be a string",
            ));
        }
    };

    let p = |key: &str| format!("{params_path}.{key}");
    let i = |key: &str| format!("{info_path}.{key}");
    let model = match params.get("model") {
        None | Some(Value::Null) => return Err(Error::missing(p("model"))),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(Error::invalid(p("model"), "must be a string")),
    };
    if matches!(params.get("organization"), Some(Value::Array(_))) {
        return Err(Error::invalid(
            p("organization"),
            "a list of organizations (one deployment per organization, sharing one id) is not supported",
        ));
    }

    let weight = match params.get("weight") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(f64::from(u8::from(*b))),
        Some(Value::Number(n)) => Some(number_f64(n)),
        Some(_) => return Err(Error::invalid(p("weight"), "must be a number")),
    };
    let lax_int = |key: &str| -> Result<Option<i64>> {
        match params.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => pydantic_int(v)
                .map(Some)
                .ok_or_else(|| Error::invalid(p(key), "must be a valid integer")),
        }
    };
    let lax_float = |key: &str| -> Result<Option<f64>> {
        match params.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => pydantic_float(v)
                .map(Some)
                .ok_or_else(|| Error::invalid(p(key), "must be a valid number")),
        }
    };
    let optional_str =
        |map: &Map<String, Value>, key: &str, path: String| -> Result<Option<String>> {
            match map.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(Error::invalid(path, "must be a string")),
            }
        };
    let numeric = |map: &Map<String, Value>, key: &str, path: String| -> Result<Option<f64>> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(f64::from(u8::from(*b)))),
            Some(Value::Number(n)) => Ok(Some(number_f64(n))),
            Some(_) => Err(Error::invalid(path, "must be a number")),
        }
    };
    let integer = |map: &Map<String, Value>, key: &str, path: String| -> Result<Option<i64>> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(i64::from(*b))),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| Error::invalid(path, "must be an integer")),
            Some(_) => Err(Error::invalid(path, "must be an integer")),
        }
    };

    let tags = match params.get("tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(n, item)| match item {
                Value::String(s) => Ok(s.clone()),
                _ => Err(Error::invalid(
                    format!("{}[{n}]", p("tags")),
                    "must be a string",
                )),
            })
            .collect::<Result<_>>()?,
        Some(_) => return Err(Error::invalid(p("tags"), "must be a list")),
    };

    let order = match numeric(&params, "order", p("order"))? {
        Some(order) => Some(order),
        None => numeric(info, "order", i("order"))?,
    };
    let cooldown_time = match numeric(info, "cooldown_time", i("cooldown_time"))? {
        Some(t) => Some(t),
        None => numeric(&params, "cooldown_time", p("cooldown_time"))?,
    };
    let blocked = match info.get("blocked") {
        None | Some(Value::Null) => false,
        Some(v) => pydantic_bool(v)
            .ok_or_else(|| Error::invalid(i("blocked"), "must be a valid boolean"))?,
    };
    let allowed_fails_policy = match info.get("allowed_fails_policy") {
        Some(v @ Value::Object(_)) => {
            Some(AllowedFailsPolicy::parse(v, &i("allowed_fails_policy"))?)
        }
        // LiteLLM: `raw if isinstance(raw, dict) else None`.
        _ => None,
    };
    let truthy_str = |v: Option<&Value>| match v {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };

    let deployment = Deployment {
        id: Arc::from(id),
        model_name: Arc::from(model_name),
        model,
        api_base: optional_str(&params, "api_base", p("api_base"))?,
        weight,
        rpm: lax_int("rpm")?,
        tpm: lax_int("tpm")?,
        top_rpm: numeric(entry, "rpm", format!("{path}.rpm"))?,
        top_tpm: numeric(entry, "tpm", format!("{path}.tpm"))?,
        info_rpm: numeric(info, "rpm", i("rpm"))?,
        info_tpm: numeric(info, "tpm", i("tpm"))?,
        max_parallel_requests: integer(
            &params,
            "max_parallel_requests",
            p("max_parallel_requests"),
        )?,
        input_cost_per_token: lax_float("input_cost_per_token")?,
        output_cost_per_token: lax_float("output_cost_per_token")?,
        base_model: truthy_str(info.get("base_model"))
            .or_else(|| truthy_str(params.get("base_model"))),
        tags,
        region: optional_str(&params, "region_name", p("region_name"))?,
        order,
        blocked,
        cooldown_time,
        allowed_fails: integer(info, "allowed_fails", i("allowed_fails"))?,
        allowed_fails_policy,
    };
    deployment.validate().map_err(|e| match e {
        Error::Invalid {
            path: field,
            reason,
        } => Error::Invalid {
            path: format!("{path}.{field}"),
            reason,
        },
        other => other,
    })?;
    Ok(deployment)
}

fn number_f64(n: &Number) -> f64 {
    n.as_f64().unwrap_or(f64::NAN)
}

/// pydantic's lax `int`: ints, bools, floats without a fractional part, and strings of digits
/// (surrounding whitespace, a sign, single `_` between digits, and a `.000` tail allowed).
pub(crate) fn pydantic_int(value: &Value) -> Option<i64> {
    match value {
        Value::Bool(b) => Some(i64::from(*b)),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(i)
            } else {
                let f = n.as_f64()?;
                // Beyond i64 pydantic reports "exceeded maximum size".
                (f.fract() == 0.0 && f.abs() < 9.2e18).then_some(f as i64)
            }
        }
        Value::String(s) => parse_int_str(s),
        _ => None,
    }
}

fn parse_int_str(s: &str) -> Option<i64> {
    let s = s.trim();
    let (negative, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (int_part, frac) = match body.split_once('.') {
        Some((int_part, frac)) => (int_part, Some(frac)),
        None => (body, None),
    };
    if let Some(frac) = frac
        && !frac.bytes().all(|b| b == b'0')
    {
        return None;
    }
    if int_part.is_empty()
        || int_part.starts_with('_')
        || int_part.ends_with('_')
        || int_part.contains("__")
        || !int_part.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    {
        return None;
    }
    let digits: String = int_part.chars().filter(|c| *c != '_').collect();
    let magnitude: i64 = digits.parse().ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

/// pydantic's lax `float`: numbers, bools and numeric strings.
pub(crate) fn pydantic_float(value: &Value) -> Option<f64> {
    match value {
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// pydantic's lax `bool`.
fn pydantic_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_f64().and_then(|v| {
            if v == 0.0 {
                Some(false)
            } else if v == 1.0 {
                Some(true)
            } else {
                None
            }
        }),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "0" | "off" | "f" | "false" | "n" | "no" => Some(false),
            "1" | "on" | "t" | "true" | "y" | "yes" => Some(true),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(entry: Value) -> Result<Deployment> {
        parse_model_list_with(&json!([entry]), &|name| {
            (name == "OPENAI_KEY_SET").then(|| "sk-123".to_owned())
        })
        .map(|mut v| v.remove(0))
    }

    #[test]
    fn ids_match_litellm() {
        // Each expected id was printed by LiteLLM 1.109.3's Router(model_list=[entry]).
        let cases = [
            (
                json!({"model_name": "g", "litellm_params": {"model": "openai/gpt-4o", "rpm": 10, "weight": 2.5, "tags": ["a", "b'c"], "extra": {"x": [1, 2.0, null, true, "\u{e9}"], "y": 1e-5}, "f": 1e16, "g": 0.0001, "h": null, "i": false, "j": [{"k": "v"}], "k": 1e22, "l": -0.0, "m": 123_456_789.123}}),
                "f2cb8d4922712ea38e7c55ac9fc201cee833e37a32bb77cab83ce04e282f2f56",
            ),
            (
                json!({"model_name": "g", "litellm_params": {"model": "openai/gpt-4o", "api_key": "os.environ/OPENAI_KEY_SET"}}),
                "aca66a4a094fc1c4bee68e0c2806732091762cc1cc186a6c73323f9639fba9c0",
            ),
            (
                json!({"model_name": "g", "litellm_params": {"model": "openai/gpt-4o", "api_key": "os.environ/OPENAI_KEY_MISSING"}}),
                "2d5e02f41ad2e474f8e5b2d5d86fd16c244da769302fe10298541961859ea77c",
            ),
            (
                json!({"model_name": "grp \u{e9}", "litellm_params": {"model": "azure/x", "tags": ["\u{e9}\u{4e2d}", "\n\t\\"], "d": {"\u{e9}": "\u{fc}", "n": [1.5, {"z": null}]}}}),
                "3cec157356915878ee988473641b77e4eb2cab697197121603a3afb4d5737ab5",
            ),
        ];
        for (entry, want) in cases {
            assert_eq!(one(entry.clone()).unwrap().id(), want, "{entry}");
        }
    }

    #[test]
    fn lax_ints_like_pydantic() {
        let rpm = |v: Value| {
            one(json!({"model_name": "g", "litellm_params": {"model": "m", "rpm": v}, "model_info": {"id": "x"}})).map(|d| d.rpm())
        };
        // Accepted by LiteLLM 1.109.3 (pydantic 2.14) with these values.
        assert_eq!(rpm(json!(" 10 ")).unwrap(), Some(10));
        assert_eq!(rpm(json!("+10")).unwrap(), Some(10));
        assert_eq!(rpm(json!("1_000")).unwrap(), Some(1000));
        assert_eq!(rpm(json!("10.0")).unwrap(), Some(10));
        assert_eq!(rpm(json!("010")).unwrap(), Some(10));
        assert_eq!(rpm(json!(10.0)).unwrap(), Some(10));
        assert_eq!(rpm(json!(false)).unwrap(), Some(0));
        assert_eq!(rpm(json!(true)).unwrap(), Some(1));
        assert_eq!(rpm(json!(null)).unwrap(), None);
        // Refused by LiteLLM.
        for bad in [
            json!("1e3"),
            json!(1.5),
            json!("abc"),
            json!(""),
            json!("10.5"),
            json!("1__0"),
            json!("_10"),
            json!(1e20),
            json!([1]),
        ] {
            assert!(rpm(bad.clone()).is_err(), "{bad}");
        }
        // Accepted by LiteLLM, refused here: a negative rpm.
        assert!(rpm(json!(" -3 ")).is_err());
    }

    #[test]
    fn shape_errors_never_panic() {
        for bad in [
            json!("x"),
            json!({"litellm_params": {"model": "m"}}),
            json!({"model_name": 5, "litellm_params": {"model": "m"}}),
            json!({"model_name": "g"}),
            json!({"model_name": "g", "litellm_params": "x"}),
            json!({"model_name": "g", "litellm_params": {}}),
            json!({"model_name": "g", "litellm_params": {"model": 5}}),
            json!({"model_name": "g", "litellm_params": {"model": "m"}, "model_info": "x"}),
            json!({"model_name": "g", "litellm_params": {"model": "m"}, "model_info": null}),
            json!({"model_name": "g", "litellm_params": {"model": "m"}, "model_info": {"id": null}}),
            json!({"model_name": "g", "litellm_params": {"model": "m"}, "model_info": {"id": 1.5}}),
            json!({"model_name": "g", "litellm_params": {"model": "m", "tags": "a"}}),
            json!({"model_name": "g", "litellm_params": {"model": "m", "tags": [1]}}),
            json!({"model_name": "g", "litellm_params": {"model": "m", "region_name": 5}}),
            json!({"model_name": "g", "litellm_params": {"model": "m", "weight": -1}}),
            json!({"model_name": "g", "litellm_params": {"model": "m", "weight": "3"}}),
            json!({"model_name": "g", "litellm_params": {"model": "m", "organization": ["a", "b"]}}),
            json!({"model_name": "g", "litellm_params": {"model": "m"}, "rpm": "9"}),
        ] {
            assert!(one(bad.clone()).is_err(), "{bad}");
        }
        assert!(parse_model_list(&json!({"a": 1})).is_err());
    }

    #[test]
    fn fields_and_limits() {
        let d = one(json!({
            "model_name": "g", "rpm": 9,
            "litellm_params": {"model": "azure/x", "tpm": 0, "weight": 2, "max_parallel_requests": 4,
                               "input_cost_per_token": "0.5", "output_cost_per_token": true,
                               "tags": ["a"], "region_name": "eu", "order": 2, "api_base": "https://x",
                               "cooldown_time": 3},
            "model_info": {"id": 7, "rpm": 5, "tpm": 7, "base_model": "gpt-4o", "blocked": "yes",
                           "allowed_fails": 2, "allowed_fails_policy": {"RateLimitErrorAllowedFails": 1, "Other": "x"}}
        }))
        .unwrap();
        assert_eq!(d.id(), "7");
        assert_eq!(d.limit_first_set(Metric::Rpm), Some(9.0));
        assert_eq!(d.limit_first_set(Metric::Tpm), Some(0.0));
        assert_eq!(d.limit_truthy(Metric::Tpm), Some(7.0));
        assert_eq!(d.weight(), Some(2.0));
        assert_eq!(d.input_cost_per_token(), Some(0.5));
        assert_eq!(d.output_cost_per_token(), Some(1.0));
        assert_eq!(d.order(), Some(2.0));
        assert!(d.blocked());
        assert_eq!(d.cooldown_time(), Some(3.0));
        assert_eq!(d.base_model(), Some("gpt-4o"));
        assert_eq!(d.allowed_fails(), Some(2));
        assert_eq!(
            d.allowed_fails_policy()
                .and_then(|p| p.RateLimitErrorAllowedFails),
            Some(1)
        );
        assert_eq!(d.effective_max_parallel_requests(None), Some(4));
    }

    #[test]
    fn max_parallel_requests_derivation() {
        // calculate_max_parallel_requests
        let b = || Deployment::builder("a", "g", "m");
        assert_eq!(
            b().rpm(30)
                .build()
                .unwrap()
                .effective_max_parallel_requests(Some(9)),
            Some(30)
        );
        assert_eq!(
            b().tpm(100)
                .build()
                .unwrap()
                .effective_max_parallel_requests(None),
            Some(1)
        );
        assert_eq!(
            b().tpm(2500)
                .build()
                .unwrap()
                .effective_max_parallel_requests(None),
            Some(15)
        );
        assert_eq!(
            b().build()
                .unwrap()
                .effective_max_parallel_requests(Some(9)),
            Some(9)
        );
        assert_eq!(
            b().max_parallel_requests(0)
                .build()
                .unwrap()
                .effective_max_parallel_requests(Some(9)),
            None
        );
        assert!(b().weight(f64::NAN).build().is_err());
        assert!(Deployment::builder("", "g", "m").build().is_err());
    }
}
