//! Python's `str()`, `repr()` and `json.dumps()` of JSON values, as far as LiteLLM's deployment
//! id hash needs them (`litellm.router_api.deployment_id`), and the way back from `repr()`
//! ([`py_literal`]) for the values LiteLLM's Redis cache stores with `str(value)`.

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
pub(crate) fn repr_str(s: &str, out: &mut String) {
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

/// `ast.literal_eval(text)` for the literals `repr()` gives of JSON-like values: dicts with
/// string keys, lists and tuples (as lists), `str` (either quote, with Python's escapes),
/// `int`, `float`, `True`, `False`, `None`. `None` for anything else or trailing text.
///
/// LiteLLM's Redis cache writes values with `str(value)` on its synchronous path (cooldowns
/// among them) and reads them back with `json.loads`, falling back to `ast.literal_eval`.
#[cfg(feature = "redis")]
pub(crate) fn py_literal(text: &str) -> Option<Value> {
    let mut parser = LiteralParser {
        text,
        pos: 0,
        depth: 0,
    };
    let value = parser.value()?;
    parser.skip_ws();
    (parser.pos == text.len()).then_some(value)
}

#[cfg(feature = "redis")]
struct LiteralParser<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
}

#[cfg(feature = "redis")]
impl<'a> LiteralParser<'a> {
    /// Nesting limit, so a hostile value cannot overflow the stack.
    const MAX_DEPTH: usize = 64;

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start_matches([' ', '\t', '\n', '\r']).len();
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Option<Value> {
        self.skip_ws();
        match self.peek()? {
            '{' => self.nested(|p| p.dict()),
            '[' => self.nested(|p| p.sequence('[', ']')),
            '(' => self.nested(|p| p.sequence('(', ')')),
            '\'' | '"' => self.string().map(Value::String),
            c if c == '-' || c == '+' || c == '.' || c.is_ascii_digit() => self.number(),
            _ => self.constant(),
        }
    }

    fn nested(&mut self, parse: impl FnOnce(&mut Self) -> Option<Value>) -> Option<Value> {
        self.depth += 1;
        if self.depth > Self::MAX_DEPTH {
            return None;
        }
        let value = parse(self);
        self.depth -= 1;
        value
    }

    fn dict(&mut self) -> Option<Value> {
        self.eat('{');
        let mut map = Map::new();
        loop {
            if self.eat('}') {
                return Some(Value::Object(map));
            }
            let Value::String(key) = self.value()? else {
                return None;
            };
            if !self.eat(':') {
                return None;
            }
            let value = self.value()?;
            map.insert(key, value);
            if !self.eat(',') {
                return self.eat('}').then_some(Value::Object(map));
            }
        }
    }

    fn sequence(&mut self, open: char, close: char) -> Option<Value> {
        self.eat(open);
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Some(Value::Array(items));
            }
            items.push(self.value()?);
            if !self.eat(',') {
                return self.eat(close).then_some(Value::Array(items));
            }
        }
    }

    fn constant(&mut self) -> Option<Value> {
        for (word, value) in [
            ("None", Value::Null),
            ("True", Value::Bool(true)),
            ("False", Value::Bool(false)),
        ] {
            if let Some(after) = self.rest().strip_prefix(word) {
                if !after.starts_with(|c: char| c.is_alphanumeric() || c == '_') {
                    self.pos += word.len();
                    return Some(value);
                }
            }
        }
        None
    }

    fn number(&mut self) -> Option<Value> {
        let rest = self.rest();
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-' | '_')))
            .unwrap_or(rest.len());
        // A sign may only lead or follow an exponent marker.
        let token = &rest[..len];
        let cut = token
            .char_indices()
            .skip(1)
            .find(|&(i, c)| {
                matches!(c, '+' | '-') && !matches!(token.as_bytes()[i - 1], b'e' | b'E')
            })
            .map_or(len, |(i, _)| i);
        let token = &token[..cut];
        self.pos += cut;
        let digits: String = token.chars().filter(|&c| c != '_').collect();
        let unsigned = digits.trim_start_matches(['-', '+']);
        if !unsigned.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
            return None;
        }
        if unsigned.bytes().all(|b| b.is_ascii_digit()) {
            let negative = digits.starts_with('-');
            if let Ok(u) = unsigned.parse::<u64>() {
                if !negative {
                    return Some(Value::from(u));
                }
                if let Ok(i) = i64::try_from(u) {
                    return Some(Value::from(-i));
                }
            }
        }
        let f: f64 = digits.parse().ok()?;
        serde_json::Number::from_f64(f).map(Value::Number)
    }

    fn string(&mut self) -> Option<String> {
        let quote = self.bump()?;
        let mut out = String::new();
        loop {
            match self.bump()? {
                c if c == quote => return Some(out),
                '\n' => return None,
                '\\' => self.escape(&mut out)?,
                c => out.push(c),
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Option<()> {
        let c = self.bump()?;
        let simple = match c {
            '\n' => return Some(()), // a line continuation
            '\\' | '\'' | '"' => Some(c),
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\u{b}'),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            return Some(());
        }
        let code = match c {
            'x' => self.hex(2)?,
            'u' => self.hex(4)?,
            'U' => self.hex(8)?,
            '0'..='7' => {
                let mut code = c.to_digit(8)?;
                for _ in 0..2 {
                    match self.peek().and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            code = code * 8 + d;
                            self.pos += 1;
                        }
                        None => break,
                    }
                }
                code
            }
            // `\N{name}` needs the Unicode name table; not produced by repr().
            'N' => return None,
            // Python keeps unknown escapes as written.
            other => {
                out.push('\\');
                out.push(other);
                return Some(());
            }
        };
        out.push(char::from_u32(code)?);
        Some(())
    }

    fn hex(&mut self, digits: usize) -> Option<u32> {
        let text = self.rest().get(..digits)?;
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.pos += digits;
        u32::from_str_radix(text, 16).ok()
    }
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

#[cfg(all(test, not(loom)))]
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

    #[cfg(feature = "redis")]
    #[test]
    fn literal_eval_of_repr() {
        // Each text is Python 3.11's repr() of the value; literal_eval gives it back.
        let cases = [
            (
                "{'exception_received': 'litellm.RateLimitError: x', 'status_code': '429', \
                 'timestamp': 1795872996.8592248, 'cooldown_time': 2.5}",
                json!({"exception_received": "litellm.RateLimitError: x", "status_code": "429",
                       "timestamp": 1_795_872_996.859_224_8, "cooldown_time": 2.5}),
            ),
            (
                r#"{"it's": "a \"b\" é\x00\u200b\U0001f600\n\t\\", 'n': -3, 'e': 1e-05}"#,
                json!({"it's": "a \"b\" é\u{0}\u{200b}\u{1F600}\n\t\\", "n": -3, "e": 1e-5}),
            ),
            (
                "[None, True, False, (1, 2.0), {}, [], 18446744073709551615]",
                json!([null, true, false, [1, 2.0], {}, [], u64::MAX]),
            ),
            ("'\\q\\101'", json!("\\qA")),
        ];
        for (text, want) in cases {
            assert_eq!(py_literal(text), Some(want.clone()), "{text}");
            let mut again = String::new();
            py_repr(&want, &mut again);
            assert_eq!(py_literal(&again), Some(want), "round trip of {again}");
        }
        for bad in [
            "{'a': 1",
            "{'a' 1}",
            "{1: 'a'}",
            "'open",
            "Nonesuch",
            "inf",
            "1 2",
            "{'a': 1}x",
            "'\\N{DASH}'",
            "1-2",
            "",
        ] {
            assert_eq!(py_literal(bad), None, "{bad}");
        }
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert_eq!(py_literal(&deep), None);
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
