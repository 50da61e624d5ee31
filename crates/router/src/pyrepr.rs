//! Python's `str()`, `repr()` and `json.dumps()` of JSON values, as far as LiteLLM's deployment
//! id hash needs them (`litellm.router_api.deployment_id`).

use std::fmt::Write as _;

use serde_json::{Map, Number, Value};

/// `str(value)` for a value that is neither a `str` nor a `dict` (those are handled by the
/// caller): `True`, `None`, `1.0`, `['a', 1]`.
pub(crate) fn py_str(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => out.push_str(s),
        other => py_repr(other, out),
    }
}

/// `repr(value)`.
pub(crate) fn py_repr(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => number(n, out),
        Value::String(s) => repr_str(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_repr(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr_str(k, out);
                out.push_str(": ");
                py_repr(v, out);
            }
            out.push('}');
        }
    }
}

/// `json.dumps(value)` with its defaults: `ensure_ascii=True`, separators `", "` and `": "`.
pub(crate) fn json_dumps(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => number(n, out),
        Value::String(s) => json_str(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                json_dumps(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => json_object(map, out),
    }
}

fn json_object(map: &Map<String, Value>, out: &mut String) {
    out.push('{');
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        json_str(k, out);
        out.push_str(": ");
        json_dumps(v, out);
    }
    out.push('}');
}

fn number(n: &Number, out: &mut String) {
    if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else if let Some(f) = n.as_f64() {
        float_repr(f, out);
    }
}

/// `float.__repr__`: the shortest round-tripping digits, in fixed notation when the decimal
/// exponent is in `-4 <= e < 16`, otherwise as `1e-05` / `1.5e+16`.
pub(crate) fn float_repr(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str("nan");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f > 0.0 { "inf" } else { "-inf" });
        return;
    }
    // Rust's `{:e}` gives the same shortest digits as Python's repr: `-1.2345e-5`.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if negative {
        out.push('-');
    }
    let decpt = exp + 1;
    let len = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    if -4 < decpt && decpt <= 16 {
        if decpt <= 0 {
            out.push_str("0.");
            for _ in 0..-decpt {
                out.push('0');
            }
            out.push_str(&digits);
        } else if decpt >= len {
            out.push_str(&digits);
            for _ in 0..decpt - len {
                out.push('0');
            }
            out.push_str(".0");
        } else {
            // 0 < decpt < len, so the cast is in range.
            let (int, frac) = digits.split_at(decpt as usize);
            out.push_str(int);
            out.push('.');
            out.push_str(frac);
        }
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        let e = decpt - 1;
        let _ = write!(
            out,
            "e{}{:02}",
            if e < 0 { '-' } else { '+' },
            e.unsigned_abs()
        );
    }
}

fn json_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// `repr(str)`: single quotes unless the text has `'` and no `"`; non-printable characters
/// escaped. Python decides "printable" from the Unicode database; this approximates it with the
/// general categories Rust exposes (control, format, separators, private use).
fn repr_str(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            c if is_printable(c) => out.push(c),
            c => {
                let code = u32::from(c);
                let _ = if code <= 0xff {
                    write!(out, "\\x{code:02x}")
                } else if code <= 0xffff {
                    write!(out, "\\u{code:04x}")
                } else {
                    write!(out, "\\U{code:08x}")
                };
            }
        }
    }
    out.push(quote);
}

fn is_printable(c: char) -> bool {
    let code = u32::from(c);
    if c.is_control() || (c.is_whitespace() && c != ' ') {
        return false;
    }
    let format = matches!(code,
        0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x890..=0x891 | 0x8e2 | 0x180e
        | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x2064 | 0x2066..=0x206f | 0xfeff
        | 0xfff9..=0xfffb | 0x110bd | 0x110cd | 0x13430..=0x1343f | 0x1bca0..=0x1bca3
        | 0x1d173..=0x1d17a | 0xe0001 | 0xe0020..=0xe007f);
    let private = matches!(code, 0xe000..=0xf8ff | 0xf0000..=0xffffd | 0x100000..=0x10fffd);
    !(format || private)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn repr(v: &Value) -> String {
        let mut s = String::new();
        py_str(v, &mut s);
        s
    }

    fn dumps(v: &Value) -> String {
        let mut s = String::new();
        json_dumps(v, &mut s);
        s
    }

    #[test]
    fn floats_like_python() {
        // Expected values are Python 3.11's repr().
        let cases = [
            (1e-5, "1e-05"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (-0.0, "-0.0"),
            (2.0, "2.0"),
            (2.5, "2.5"),
            (123_456_789.123, "123456789.123"),
            (1.5e-7, "1.5e-07"),
            (1e22, "1e+22"),
            (0.1, "0.1"),
            (1.0 / 3.0, "0.3333333333333333"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
        ];
        for (f, want) in cases {
            let mut s = String::new();
            float_repr(f, &mut s);
            assert_eq!(s, want, "{f:e}");
        }
    }

    #[test]
    fn str_and_repr() {
        assert_eq!(repr(&json!(null)), "None");
        assert_eq!(repr(&json!(true)), "True");
        assert_eq!(repr(&json!(10)), "10");
        assert_eq!(repr(&json!(["a", "b'c"])), "['a', \"b'c\"]");
        assert_eq!(repr(&json!([{"k": "v"}])), "[{'k': 'v'}]");
        assert_eq!(repr(&json!(["é中", "\n\t\\"])), "['é中', '\\n\\t\\\\']");
        assert_eq!(repr(&json!(["\u{7f}\u{200b}"])), "['\\x7f\\u200b']");
    }

    #[test]
    fn dumps_like_python() {
        assert_eq!(
            dumps(&json!({"x": [1, 2.0, null, true, "é"], "y": 1e-5})),
            r#"{"x": [1, 2.0, null, true, "\u00e9"], "y": 1e-05}"#
        );
        assert_eq!(
            dumps(&json!({"\u{1F600}": "\u{7f}"})),
            r#"{"\ud83d\ude00": "\u007f"}"#
        );
    }
}
