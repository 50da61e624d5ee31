//! LiteLLM's rendering of tool definitions and its `tool_choice` count.
//!
//! LiteLLM prices `tools` by rendering them in the TypeScript-like `namespace functions`
//! form OpenAI uses internally, counting that text, and adding 9 tokens (4 fewer when the
//! conversation has a system message). Values are rendered as Python's `str()`
//! renders what `json.loads` returns: `true` becomes `True`, `null` becomes `None`.

use serde_json::{Map, Value};

use crate::error::{Result, unsupported};

/// Keys of an Anthropic tool that LiteLLM's bridge maps onto the OpenAI shape; any other key
/// of a tool with an `input_schema` is folded into its parameters.
const ANTHROPIC_MAPPED_KEYS: &[&str] = &[
    "name",
    "input_schema",
    "description",
    "cache_control",
    "strict",
    "type",
    "eager_input_streaming",
    "custom",
];

/// Python truthiness of a JSON value.
pub(crate) fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Python's `str()` of a JSON scalar, where it is certain.
///
/// # Errors
///
/// Unsupported for floats (whose `repr` this crate does not reproduce) and containers.
pub(crate) fn py_str(value: &Value) -> Result<String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(true) => Ok("True".to_owned()),
        Value::Bool(false) => Ok("False".to_owned()),
        Value::Null => Ok("None".to_owned()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        _ => unsupported("a value whose Python str() is not reproduced (float, list or dict)"),
    }
}

/// The function definitions LiteLLM reads from `tools`, in order.
fn function_definitions(tools: &[Value]) -> Vec<Map<String, Value>> {
    let mut out = Vec::new();
    for tool in tools {
        // Every mapping counts, Anthropic's server-side `web_search` tool included: LiteLLM
        // filters that one out only when rendering a chat template's tool section.
        let Value::Object(tool) = tool else { continue };
        if let Some(Value::Object(function)) = tool.get("function") {
            out.push(function.clone());
            continue;
        }
        let declarations = tool
            .get("function_declarations")
            .filter(|v| truthy(v))
            .or_else(|| tool.get("functionDeclarations"));
        if let Some(Value::Array(declarations)) = declarations {
            out.extend(declarations.iter().filter_map(|d| d.as_object().cloned()));
            continue;
        }
        let input_schema = tool.get("input_schema");
        let parameters = input_schema
            .filter(|v| truthy(v))
            .or_else(|| tool.get("parameters").filter(|v| truthy(v)));
        let mut merged = match parameters {
            Some(Value::Object(p)) => p.clone(),
            _ => Map::new(),
        };
        if input_schema.is_some_and(|v| !v.is_null()) {
            for (key, value) in tool {
                if !ANTHROPIC_MAPPED_KEYS.contains(&key.as_str()) {
                    merged.insert(key.clone(), value.clone());
                }
            }
        }
        let mut function = Map::new();
        function.insert(
            "name".into(),
            tool.get("name").cloned().unwrap_or(Value::Null),
        );
        function.insert("parameters".into(), Value::Object(merged));
        if let Some(description) = tool.get("description").filter(|v| !v.is_null()) {
            function.insert("description".into(), description.clone());
        }
        if let Some(strict) = tool.get("strict").filter(|v| !v.is_null()) {
            function.insert("strict".into(), Value::Bool(truthy(strict)));
        }
        out.push(function);
    }
    out
}

/// `_format_function_definitions`: the text LiteLLM counts for `tools`.
///
/// # Errors
///
/// Unsupported where the rendering would depend on Python's `str()` of a float or container.
pub fn render_tools(tools: &[Value]) -> Result<String> {
    let mut lines = vec!["namespace functions {".to_owned(), String::new()];
    for function in function_definitions(tools) {
        let name = function.get("name").unwrap_or(&Value::Null);
        if !truthy(name) {
            continue;
        }
        let name = py_str(name)?;
        let description = match function.get("description") {
            Some(d) if truthy(d) => Some(py_str(d)?),
            _ => None,
        };
        let parameters = function
            .get("parameters")
            .filter(|p| truthy(p))
            .and_then(Value::as_object);
        let properties = parameters.and_then(|p| p.get("properties"));
        let has_properties = matches!(properties, Some(Value::Object(p)) if !p.is_empty());
        if let Some(description) = description {
            lines.push(format!("// {description}"));
        }
        if has_properties {
            let parameters = parameters.expect("properties come from parameters");
            lines.push(format!("type {name} = (_: {{"));
            lines.push(format_object_parameters(parameters, 0)?);
            lines.push("}) => any;".to_owned());
        } else {
            lines.push(format!("type {name} = () => any;"));
        }
        lines.push(String::new());
    }
    lines.push("} // namespace functions".to_owned());
    Ok(lines.join("\n"))
}

fn format_object_parameters(parameters: &Map<String, Value>, indent: usize) -> Result<String> {
    let Some(Value::Object(properties)) = parameters.get("properties") else {
        return Ok(String::new());
    };
    if properties.is_empty() {
        return Ok(String::new());
    }
    let required: &[Value] = match parameters.get("required") {
        Some(Value::Array(r)) => r,
        _ => &[],
    };
    let mut lines = Vec::new();
    for (key, props) in properties {
        if let Value::Object(p) = props {
            if let Some(description) = p.get("description").filter(|d| truthy(d)) {
                lines.push(format!("// {}", py_str(description)?));
            }
        }
        let optional = if required.iter().any(|r| r.as_str() == Some(key)) {
            ""
        } else {
            "?"
        };
        lines.push(format!("{key}{optional}: {},", format_type(props, indent)?));
    }
    let pad = " ".repeat(indent);
    Ok(lines
        .iter()
        .map(|line| format!("{pad}{line}"))
        .collect::<Vec<_>>()
        .join("\n"))
}

fn format_enum(items: &[Value]) -> Result<String> {
    Ok(items
        .iter()
        .map(|item| py_str(item).map(|s| format!("\"{s}\"")))
        .collect::<Result<Vec<_>>>()?
        .join(" | "))
}

fn format_type(props: &Value, indent: usize) -> Result<String> {
    let Value::Object(props) = props else {
        return Ok("any".to_owned());
    };
    let enum_items = match props.get("enum") {
        Some(Value::Array(items)) => Some(items),
        _ => None,
    };
    Ok(match props.get("type").and_then(Value::as_str) {
        Some("string") => match enum_items {
            Some(items) => format_enum(items)?,
            None => "string".to_owned(),
        },
        Some("array") => format!(
            "{}[]",
            format_type(props.get("items").unwrap_or(&Value::Null), indent)?
        ),
        Some("object") => format!("{{\n{}\n}}", format_object_parameters(props, indent + 2)?),
        Some("integer" | "number") => match enum_items {
            Some(items) => format_enum(items)?,
            None => "number".to_owned(),
        },
        Some("boolean") => "boolean".to_owned(),
        Some("null") => "null".to_owned(),
        _ => "any".to_owned(),
    })
}

/// The `tool_choice` forms LiteLLM prices.
pub(crate) enum ToolChoiceCount<'a> {
    /// A flat count.
    Flat(i64),
    /// 7 plus the count of a function name.
    Named(&'a str),
}

/// `_count_tool_choice`, before the name is counted.
pub(crate) fn tool_choice(choice: Option<&Value>) -> ToolChoiceCount<'_> {
    match choice {
        Some(Value::String(s)) if s == "none" => ToolChoiceCount::Flat(1),
        Some(Value::Object(map)) => {
            if let Some(Value::Object(function)) = map.get("function") {
                if let Some(Value::String(name)) = function.get("name") {
                    return ToolChoiceCount::Named(name);
                }
            }
            if map.get("type") == Some(&Value::String("none".into())) {
                return ToolChoiceCount::Flat(1);
            }
            if let Some(Value::String(name)) = map.get("name") {
                return ToolChoiceCount::Named(name);
            }
            ToolChoiceCount::Flat(0)
        }
        _ => ToolChoiceCount::Flat(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_openai_function_tools() {
        let tools = [json!({
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Get the weather",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "city": {"type": "string", "description": "City name"},
                        "unit": {"type": "string", "enum": ["c", "f"]},
                        "days": {"type": "integer"},
                        "tags": {"type": "array", "items": {"type": "string"}},
                        "opts": {"type": "object", "properties": {"x": {"type": "boolean"}}}
                    },
                    "required": ["city"]
                }
            }
        })];
        let expected = "namespace functions {\n\n// Get the weather\ntype get_weather = (_: {\n// City name\ncity: string,\nunit?: \"c\" | \"f\",\ndays?: number,\ntags?: string[],\nopts?: {\n  x?: boolean,\n},\n}) => any;\n\n} // namespace functions";
        assert_eq!(render_tools(&tools).unwrap(), expected);
    }

    #[test]
    fn renders_python_str_of_enum_scalars() {
        let tools = [
            json!({"function": {"name": "f", "parameters": {"properties": {
                "a": {"type": "integer", "enum": [1, 2]},
                "b": {"type": "string", "enum": [true, null]}
            }}}}),
        ];
        let text = render_tools(&tools).unwrap();
        assert!(text.contains("a?: \"1\" | \"2\","), "{text}");
        assert!(text.contains("b?: \"True\" | \"None\","), "{text}");
        let floats = [
            json!({"function": {"name": "f", "parameters": {"properties": {
                "a": {"type": "number", "enum": [1.5]}
            }}}}),
        ];
        assert!(render_tools(&floats).is_err());
    }

    #[test]
    fn anthropic_tools_fold_unmapped_keys() {
        let tools = [
            json!({"name": "calc", "input_schema": {"type": "object", "properties": {"x": {"type": "number"}}}}),
        ];
        let text = render_tools(&tools).unwrap();
        assert!(
            text.contains("type calc = (_: {\nx?: number,\n}) => any;"),
            "{text}"
        );
        let web = [json!({"name": "web_search", "type": "web_search_20250305"})];
        assert_eq!(
            render_tools(&web).unwrap(),
            "namespace functions {\n\ntype web_search = () => any;\n\n} // namespace functions"
        );
    }
}
