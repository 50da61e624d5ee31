//! Fuzz target: chat, tool and image counting never panic on outside JSON or text.
#![no_main]

use fastllm_tokencount::{
    ChatCounter, ChatRequest, Counter, Detail, Encoding, ImageConfig, image_tokens, render_tools,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const DETAILS: [Detail; 3] = [Detail::Low, Detail::High, Detail::Auto];

/// Every detail of `image_tokens` on `data`; errors are fine, panics are not.
fn check_image(data: &str) {
    let config = ImageConfig::default();
    for detail in DETAILS {
        let _ = image_tokens(&config, data, detail, false);
    }
}

/// A bool option of the request, `false` when absent or not a bool.
fn flag(value: &Value, key: &str) -> bool {
    value.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check_image(text);
    }
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if let Some(messages) = value.get("messages").and_then(Value::as_array) {
        let mut request = ChatRequest::new(messages);
        if let Some(tools) = value.get("tools").and_then(Value::as_array) {
            request = request.tools(tools);
        }
        if let Some(choice) = value.get("tool_choice") {
            request = request.tool_choice(choice);
        }
        request.count_response_tokens = flag(&value, "count_response_tokens");
        request.use_default_image_token_count = flag(&value, "use_default_image_token_count");
        let _ = ChatCounter::new(Counter::new(Encoding::Cl100kBase)).count(&request);
    }
    for array in [Some(&value), value.get("tools")].into_iter().flatten() {
        if let Some(tools) = array.as_array() {
            let _ = render_tools(tools);
        }
    }
    if let Some(url) = value.as_str() {
        check_image(url);
    }
});
