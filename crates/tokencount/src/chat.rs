//! LiteLLM's count of chat messages, tools and `tool_choice`.
//!
//! Messages are taken as JSON values, the shape of an OpenAI-compatible request body, and are
//! read by LiteLLM's rules: every string field of a message counts (role, content, name,
//! `tool_call_id`, ...), a name adds `tokens_per_name`, `tool_calls` count their arguments
//! only, content lists count text, thinking and image blocks, and 3 tokens prime the reply.

use serde_json::Value;

use crate::counter::Counter;
use crate::error::{Result, unsupported};
use crate::image::{Detail, ImageConfig, image_tokens};
use crate::tools::{ToolChoiceCount, py_str, render_tools, tool_choice, truthy};

/// Counts chat requests the way LiteLLM's `token_counter(messages=...)` does.
///
/// # Examples
///
/// ```
/// use fastllm_tokencount::{ChatCounter, ChatRequest, Counter, Encoding};
/// use serde_json::json;
///
/// let chat = ChatCounter::new(Counter::new(Encoding::O200kBase));
/// let messages = [
///     json!({"role": "system", "content": "You are a helpful assistant."}),
///     json!({"role": "user", "content": "What is the capital of France?"}),
/// ];
/// let request = ChatRequest::new(&messages);
/// assert_eq!(chat.count(&request)?, 24);
/// # Ok::<(), fastllm_tokencount::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ChatCounter {
    counter: Counter,
    tokens_per_message: i64,
    tokens_per_name: i64,
    image: ImageConfig,
}

/// One `token_counter(messages=...)` call: messages plus the optional arguments.
#[derive(Debug, Clone, Copy)]
pub struct ChatRequest<'a> {
    /// The messages, as JSON objects.
    pub messages: &'a [Value],
    /// `tools=`: tool definitions (OpenAI, Anthropic or Gemini shape).
    pub tools: Option<&'a [Value]>,
    /// `tool_choice=`.
    pub tool_choice: Option<&'a Value>,
    /// `count_response_tokens=`: `true` (or Python's `None`) skips the reply primer and the
    /// tool tokens.
    pub count_response_tokens: bool,
    /// `use_default_image_token_count=`: count every image as `DEFAULT_IMAGE_TOKEN_COUNT`.
    pub use_default_image_token_count: bool,
}

impl<'a> ChatRequest<'a> {
    /// A request of `messages` with every option at LiteLLM's default.
    pub fn new(messages: &'a [Value]) -> Self {
        Self {
            messages,
            tools: None,
            tool_choice: None,
            count_response_tokens: false,
            use_default_image_token_count: false,
        }
    }

    /// The same request with `tools`.
    pub fn tools(mut self, tools: &'a [Value]) -> Self {
        self.tools = Some(tools);
        self
    }

    /// The same request with `tool_choice`.
    pub fn tool_choice(mut self, tool_choice: &'a Value) -> Self {
        self.tool_choice = Some(tool_choice);
        self
    }
}

impl ChatCounter {
    /// A chat counter over `counter`, with the current message accounting (3 tokens per
    /// message, 1 per name) and LiteLLM's default image settings.
    pub fn new(counter: Counter) -> Self {
        Self {
            counter,
            tokens_per_message: 3,
            tokens_per_name: 1,
            image: ImageConfig::default(),
        }
    }

    /// The same counter with `gpt-3.5-turbo-0301`'s accounting (4 per message, -1 per name)
    /// when `legacy` is true.
    pub fn with_legacy_accounting(mut self, legacy: bool) -> Self {
        (self.tokens_per_message, self.tokens_per_name) = if legacy { (4, -1) } else { (3, 1) };
        self
    }

    /// The same counter with other image settings.
    pub fn with_image_config(mut self, image: ImageConfig) -> Self {
        self.image = image;
        self
    }

    /// The text counter underneath.
    pub fn counter(&self) -> &Counter {
        &self.counter
    }

    fn text(&self, text: &str) -> Result<i64> {
        Ok(self.counter.try_count(text)? as i64)
    }

    /// LiteLLM's `token_counter(messages=..., tools=..., tool_choice=...)`.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`](crate::Error::Unsupported) for an input LiteLLM counts by a rule
    /// this crate does not reproduce (documents, files, Anthropic tool blocks, remote images
    /// with `detail: "high"`) or on which LiteLLM raises (a message that is not an object, a
    /// content block without `type`, a malformed tool call).
    pub fn count(&self, request: &ChatRequest<'_>) -> Result<i64> {
        let mut total =
            self.count_messages(request.messages, request.use_default_image_token_count)?;
        if !request.count_response_tokens {
            let has_system = request
                .messages
                .iter()
                .any(|m| m.get("role").and_then(Value::as_str) == Some("system"));
            total += self.count_extra(request.tools, request.tool_choice, has_system)?;
        }
        Ok(total)
    }

    /// `_count_messages`: the messages alone, without the reply primer.
    ///
    /// # Errors
    ///
    /// As for [`ChatCounter::count`].
    pub fn count_messages(
        &self,
        messages: &[Value],
        use_default_image_token_count: bool,
    ) -> Result<i64> {
        let mut total = 0;
        for message in messages {
            let Value::Object(message) = message else {
                return unsupported("a message that is not an object");
            };
            total += self.tokens_per_message;
            for (key, value) in message {
                total += match (key.as_str(), value) {
                    (_, Value::Null) => 0,
                    ("tool_calls", _) => self.tool_calls(value)?,
                    ("function_call", Value::Object(call)) => {
                        self.arguments(call.get("arguments"))?
                    }
                    ("function_call", _) => {
                        return unsupported("a function_call that is not an object");
                    }
                    (key, Value::String(s)) => {
                        self.text(s)?
                            + if key == "name" {
                                self.tokens_per_name
                            } else {
                                0
                            }
                    }
                    ("content", Value::Array(parts)) => {
                        self.content_list(parts, use_default_image_token_count)?
                    }
                    ("provider_specific_fields", fields) => self.compaction_summaries(fields)?,
                    ("search_results", Value::Array(_)) => {
                        return unsupported("search_results on a message");
                    }
                    _ => 0,
                };
            }
        }
        Ok(total)
    }

    fn arguments(&self, arguments: Option<&Value>) -> Result<i64> {
        match arguments {
            None => self.text(""),
            Some(value) => self.text(&py_str(value)?),
        }
    }

    fn tool_calls(&self, value: &Value) -> Result<i64> {
        let Value::Array(calls) = value else {
            return unsupported("tool_calls that is not a list");
        };
        let mut total = 0;
        for call in calls {
            match call.as_object().map(|c| c.get("function")) {
                Some(Some(Value::Object(function))) => {
                    total += self.arguments(function.get("arguments"))?
                }
                _ => return unsupported("a tool call without a function object"),
            }
        }
        Ok(total)
    }

    fn compaction_summaries(&self, fields: &Value) -> Result<i64> {
        let Some(Value::Array(blocks)) = fields.get("compaction_blocks") else {
            return Ok(0);
        };
        let mut total = 0;
        for block in blocks {
            if block.get("type").and_then(Value::as_str) == Some("compaction") {
                if let Some(Value::String(content)) = block.get("content") {
                    if !content.is_empty() {
                        total += self.text(content)?;
                    }
                }
            }
        }
        Ok(total)
    }

    /// `_count_content_list` for the block types reproduced here.
    fn content_list(&self, parts: &[Value], use_default_image_token_count: bool) -> Result<i64> {
        let mut total = 0;
        for part in parts {
            let block = match part {
                Value::String(s) => {
                    total += self.text(s)?;
                    continue;
                }
                Value::Object(block) => block,
                _ => return unsupported("a content part that is neither a string nor an object"),
            };
            let Some(Value::String(kind)) = block.get("type") else {
                return unsupported("a content block without a string type");
            };
            let text_field = match kind.as_str() {
                "text" => Some("text"),
                "thinking" | "redacted_thinking" => Some("thinking"),
                "compaction" => Some("content"),
                "tool_reference" => Some("tool_name"),
                _ => None,
            };
            if let Some(field) = text_field {
                match block.get(field) {
                    Some(Value::String(s)) if !s.is_empty() => total += self.text(s)?,
                    Some(value) if truthy(value) => {
                        return unsupported("a text block whose text is not a string");
                    }
                    _ => {}
                }
                continue;
            }
            total += match kind.as_str() {
                "image_url" => {
                    self.image_url(block.get("image_url"), use_default_image_token_count)?
                }
                "image" => {
                    let data = anthropic_image_data(block.get("source"))?;
                    image_tokens(
                        &self.image,
                        &data,
                        Detail::Auto,
                        use_default_image_token_count,
                    )?
                }
                other => return unsupported(format!("a content block of type {other:?}")),
            };
        }
        Ok(total)
    }

    /// `_count_image_tokens`.
    fn image_url(&self, image_url: Option<&Value>, use_default: bool) -> Result<i64> {
        match image_url {
            Some(Value::Object(image)) => {
                let detail = match image.get("detail") {
                    None => Detail::Auto,
                    Some(Value::String(d)) if d == "auto" => Detail::Auto,
                    Some(Value::String(d)) if d == "low" => Detail::Low,
                    Some(Value::String(d)) if d == "high" => Detail::High,
                    Some(_) => return unsupported("an image detail LiteLLM rejects"),
                };
                match image.get("url") {
                    Some(Value::String(url)) if !url.is_empty() => {
                        image_tokens(&self.image, url, detail, use_default)
                    }
                    _ => unsupported("an image_url without a string url"),
                }
            }
            Some(Value::String(url)) => {
                if url
                    .chars()
                    .all(|c| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
                {
                    return unsupported("an empty image_url");
                }
                image_tokens(&self.image, url, Detail::Auto, use_default)
            }
            _ => unsupported("an image_url that is neither a string nor an object"),
        }
    }

    /// `_count_extra`: the reply primer, the tools and `tool_choice`.
    fn count_extra(
        &self,
        tools: Option<&[Value]>,
        choice: Option<&Value>,
        has_system: bool,
    ) -> Result<i64> {
        const REPLY_PRIMER: i64 = 3;
        let tool_tokens = match tools {
            Some(tools) if !tools.is_empty() => {
                self.text(&render_tools(tools)?)? + 9 - if has_system { 4 } else { 0 }
            }
            _ => 0,
        };
        let choice_tokens = match tool_choice(choice) {
            ToolChoiceCount::Flat(n) => n,
            ToolChoiceCount::Named(name) => 7 + self.text(name)?,
        };
        Ok(REPLY_PRIMER + tool_tokens + choice_tokens)
    }
}

/// `_anthropic_image_source_data`: the data URL (or URL) of an Anthropic image source.
fn anthropic_image_data(source: Option<&Value>) -> Result<String> {
    let Some(Value::Object(source)) = source else {
        return unsupported("an image block without a source object");
    };
    let field = |name: &str| -> Result<Option<String>> {
        match source.get(name) {
            Some(v) if truthy(v) => match v {
                Value::String(s) => Ok(Some(s.clone())),
                _ => unsupported("an image source field that is not a string"),
            },
            _ => Ok(None),
        }
    };
    match source.get("type").and_then(Value::as_str) {
        Some("base64") => {
            let Some(data) = field("data")? else {
                return Ok(String::new());
            };
            let media_type = field("media_type")?.unwrap_or_else(|| "image/png".to_owned());
            Ok(format!("data:{media_type};base64,{data}"))
        }
        Some("url") => Ok(field("url")?.unwrap_or_default()),
        Some(_) => Ok(String::new()),
        None => unsupported("an image source without a string type"),
    }
}
