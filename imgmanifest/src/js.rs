//! The few JavaScript value semantics the Node `imgmanifest` validator relies
//! on, applied to `serde_json::Value`.
//!
//! Node validates a parsed JSON object with loose JavaScript operations:
//! `String(x)` before a regex test, `Number(x)`, truthiness, `.length` in
//! UTF-16 code units, `Object.keys` order, and `util.format`'s `%s` and `%j`.
//! To give the same verdicts and messages we reproduce exactly those
//! operations here, and nothing more.
//!
//! They apply to any [`JsonValue`]: serde_json's `Value`, and the compact
//! [`Json`](crate::Json) the validator reads.

use std::borrow::Cow;
use std::fmt;

use serde_json::{Number, Value};

/// A JSON value as the operations here see it.
pub trait JsonValue: Sized {
    /// What the value is, with its contents for strings and arrays.
    fn kind(&self) -> Kind<'_, Self>;
    /// An object's members in insertion order; nothing for other values.
    fn members(&self) -> impl Iterator<Item = (&str, &Self)>;

    /// [`members`](Self::members) with the position of each key in
    /// [`KNOWN_KEYS`](crate::json::KNOWN_KEYS), for the keys the validator
    /// looks up.
    fn keyed_members(&self) -> impl Iterator<Item = (Option<usize>, &str, &Self)> {
        self.members().map(|(k, v)| (crate::json::known_key_id(k).map(usize::from), k, v))
    }

    /// The string, if it is one.
    fn as_str(&self) -> Option<&str> {
        match self.kind() {
            Kind::String(s) => Some(s),
            _ => None,
        }
    }

    /// Whether it is a string.
    fn is_string(&self) -> bool {
        self.as_str().is_some()
    }

    /// Whether it is `null`.
    fn is_null(&self) -> bool {
        matches!(self.kind(), Kind::Null)
    }
}

/// The six JSON types; objects carry their length (see [`JsonValue::members`]).
pub enum Kind<'a, V> {
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number.
    Number(&'a Number),
    /// A string.
    String(&'a str),
    /// An array, with its entries.
    Array(&'a [V]),
    /// An object, with its number of members.
    Object(usize),
}

impl JsonValue for Value {
    #[inline]
    fn kind(&self) -> Kind<'_, Self> {
        match self {
            Value::Null => Kind::Null,
            Value::Bool(b) => Kind::Bool(*b),
            Value::Number(n) => Kind::Number(n),
            Value::String(s) => Kind::String(s),
            Value::Array(a) => Kind::Array(a),
            Value::Object(m) => Kind::Object(m.len()),
        }
    }

    fn members(&self) -> impl Iterator<Item = (&str, &Self)> {
        self.as_object().into_iter().flatten().map(|(k, v)| (k.as_str(), v))
    }
}

/// JavaScript truthiness (`if (x)`), for a JSON value.
pub fn truthy(v: &impl JsonValue) -> bool {
    match v.kind() {
        Kind::Null => false,
        Kind::Bool(b) => b,
        Kind::Number(n) => {
            let f = to_f64(n);
            f != 0.0 && !f.is_nan()
        }
        Kind::String(s) => !s.is_empty(),
        Kind::Array(_) | Kind::Object(_) => true,
    }
}

/// `typeof x` for a JSON value (`null` and arrays are `"object"`).
pub fn type_of(v: &impl JsonValue) -> &'static str {
    match v.kind() {
        Kind::Bool(_) => "boolean",
        Kind::Number(_) => "number",
        Kind::String(_) => "string",
        Kind::Null | Kind::Array(_) | Kind::Object(_) => "object",
    }
}

/// The number a JSON number is in JavaScript (a double).
pub fn to_f64(n: &Number) -> f64 {
    n.as_f64().unwrap_or(f64::NAN)
}

/// Length of a string in UTF-16 code units, as JavaScript's `.length`:
/// one unit per UTF-8 sequence, two for a 4-byte one. Counted on bytes so
/// it vectorizes; long descriptions and tags are common.
pub fn utf16_len(s: &str) -> usize {
    if s.is_ascii() {
        return s.len();
    }
    let units = |b: u8| u16::from((b & 0xC0) != 0x80) + u16::from(b >= 0xF0);
    s.as_bytes().chunks(8192).map(|c| usize::from(c.iter().map(|&b| units(b)).sum::<u16>())).sum()
}

/// `JSON.stringify(v).length` without building the string.
pub fn json_utf16_len<V: JsonValue>(v: &V) -> usize {
    match v.kind() {
        Kind::String(s) => string_json_len(s),
        Kind::Array(a) => 2 + a.len().saturating_sub(1) + a.iter().map(json_utf16_len).sum::<usize>(),
        Kind::Object(len) => {
            2 + len.saturating_sub(1)
                + v.members().map(|(k, v)| string_json_len(k) + 1 + json_utf16_len(v)).sum::<usize>()
        }
        Kind::Null => 4,
        Kind::Bool(b) => 4 + usize::from(!b), // true, false
        // Integers (the usual tag value) by their digits, others as printed.
        Kind::Number(n) => match n.as_u64() {
            Some(u) if u < (1u64 << 53) => decimal_digits(u),
            _ => json_stringify(v).len(),
        },
    }
}

fn decimal_digits(mut u: u64) -> usize {
    let mut digits = 1;
    while u >= 10 {
        u /= 10;
        digits += 1;
    }
    digits
}

/// UTF-16 length of a string written as a JSON string literal.
fn string_json_len(s: &str) -> usize {
    // Extra units per byte: `"` and `\` gain 1, \b \f \n \r \t gain 1, other
    // control characters 5 (\u00XX). Branch-free with u16 sums over chunks,
    // so it vectorizes: tags may hold 100 KiB.
    let extra = |b: u8| -> u16 {
        let quoted = u16::from((b == b'"') | (b == b'\\'));
        let short = u16::from((b == 0x08) | (b == 0x0c) | (b == b'\n') | (b == b'\r') | (b == b'\t'));
        let control = u16::from(b < 0x20);
        quoted + short + 5 * (control - short)
    };
    let escapes = if count_escaped(s.as_bytes()) == 0 {
        0
    } else {
        s.as_bytes().chunks(4096).map(|c| usize::from(c.iter().map(|&b| extra(b)).sum::<u16>())).sum()
    };
    utf16_len(s) + 2 + escapes
}

/// How many bytes JSON escapes (`"`, `\`, control characters): most
/// strings have none, and this count settles that four times faster than
/// the exact sum above. Byte counters over 224-byte chunks (a multiple of
/// the vector width, below 256) vectorize without a scalar tail.
fn count_escaped(b: &[u8]) -> usize {
    let escaped = |c: u8| u8::from((c < 0x20) | (c == b'"') | (c == b'\\'));
    b.chunks(224).map(|c| usize::from(c.iter().map(|&c| escaped(c)).sum::<u8>())).sum()
}

/// Whether a key is an "array index" (a canonical decimal below 2^32 - 1),
/// which JavaScript objects list before all other keys.
fn array_index(key: &str) -> Option<u32> {
    if key.is_empty() || (key.len() > 1 && key.starts_with('0')) {
        return None;
    }
    if !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    key.parse::<u32>().ok().filter(|&i| i != u32::MAX)
}

/// Whether an object has an array-index-like key; if not, `Object.keys`
/// order is plain insertion order.
pub fn has_index_keys(v: &impl JsonValue) -> bool {
    v.members().any(|(k, _)| k.as_bytes().first().is_some_and(u8::is_ascii_digit) && array_index(k).is_some())
}

/// An object's members in `Object.keys` order: array-index keys ascending,
/// then the others in insertion order. Without array-index keys (the usual
/// case) that is insertion order, and nothing is sorted or allocated.
pub fn members_in_key_order<V: JsonValue>(v: &V) -> impl Iterator<Item = (&str, &V)> {
    let sorted = has_index_keys(v).then(|| {
        let mut indices: Vec<(u32, (&str, &V))> =
            v.members().filter_map(|m| array_index(m.0).map(|i| (i, m))).collect();
        indices.sort_by_key(|(i, _)| *i);
        let others = v.members().filter(|(k, _)| array_index(k).is_none());
        indices.into_iter().map(|(_, m)| m).chain(others)
    });
    let plain = sorted.is_none().then(|| v.members());
    sorted.into_iter().flatten().chain(plain.into_iter().flatten())
}

/// `Object.keys(v)` for any value: object keys, array indices, string
/// indices (one per UTF-16 unit); nothing for numbers and booleans.
/// `None` where JavaScript throws (`null`).
pub fn keys_of_any(v: &impl JsonValue) -> Option<Vec<String>> {
    match v.kind() {
        Kind::Null => None,
        Kind::Object(_) => Some(members_in_key_order(v).map(|(k, _)| k.to_string()).collect()),
        Kind::Array(a) => Some((0..a.len()).map(|i| i.to_string()).collect()),
        Kind::String(s) => Some((0..utf16_len(s)).map(|i| i.to_string()).collect()),
        Kind::Bool(_) | Kind::Number(_) => Some(Vec::new()),
    }
}

/// `Number(v.length)`, where `v.length` is undefined for anything but a
/// string, an array, or an object with a `length` member (`None`).
pub fn length(v: &impl JsonValue) -> Option<f64> {
    match v.kind() {
        Kind::String(s) => Some(utf16_len(s) as f64),
        Kind::Array(a) => Some(a.len() as f64),
        Kind::Object(_) => v.members().find(|(k, _)| *k == "length").map(|(_, len)| to_number(len)),
        _ => None,
    }
}

/// Names every plain JavaScript object inherits from `Object.prototype`.
/// A lookup like `VALID_TYPES[x]` finds these too, so Node accepts them.
pub const OBJECT_PROTOTYPE_NAMES: &[&str] = &[
    "constructor",
    "__defineGetter__",
    "__defineSetter__",
    "hasOwnProperty",
    "__lookupGetter__",
    "__lookupSetter__",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "toString",
    "valueOf",
    "__proto__",
    "toLocaleString",
];

/// Formats a double as JavaScript's `Number.prototype.toString()` does:
/// the shortest digits that read back as the same double, in decimal from
/// 1e-6 up to 1e21 and in exponent form (`1e+21`, `1.5e-7`) beyond; `-0`
/// as `0`; `NaN`, `Infinity`, `-Infinity` (ryu-js, which follows
/// ECMAScript's Number::toString).
pub fn number_to_string(f: f64) -> String {
    ryu_js::Buffer::new().format(f).to_string()
}

/// A double as `JSON.parse(JSON.stringify(x))` gives it back, as a JSON
/// number: integers JavaScript writes in decimal become integers (the
/// digits it writes, so 2^60 is `1152921504606847000`), the others stay
/// doubles; `-0` is `0`. `None` for `NaN` and the infinities, which
/// `JSON.stringify` writes as `null`.
pub fn js_number(f: f64) -> Option<Number> {
    if !f.is_finite() {
        return None;
    }
    let mut buffer = ryu_js::Buffer::new();
    let text = buffer.format_finite(f);
    if !text.contains(['.', 'e']) {
        if let Ok(u) = text.parse::<u64>() {
            return Some(u.into());
        }
        if let Ok(i) = text.parse::<i64>() {
            return Some(i.into());
        }
    }
    Number::from_f64(f)
}

/// `JSON.parse(JSON.stringify(v))`: what a JavaScript program holds after
/// a round trip through JSON text. Every number becomes the double
/// JavaScript reads (see [`js_number`]), and object members come in
/// `Object.keys` order (array-index keys first).
pub fn json_round_trip(v: &Value) -> Value {
    match v {
        Value::Number(n) => js_number(to_f64(n)).map_or(Value::Null, Value::Number),
        Value::Array(a) => Value::Array(a.iter().map(json_round_trip).collect()),
        Value::Object(_) => {
            Value::Object(members_in_key_order(v).map(|(k, m)| (k.to_string(), json_round_trip(m))).collect())
        }
        other => other.clone(),
    }
}

/// `JSON.stringify(v, null, 2)`: as `serde_json::to_string_pretty` lays it
/// out, with numbers and key order as JavaScript writes them.
pub fn json_stringify_pretty(v: &impl JsonValue) -> String {
    let mut out = String::new();
    write_json_pretty(v, 0, &mut out).expect("writing to a String");
    out
}

fn write_json_pretty(v: &impl JsonValue, depth: usize, out: &mut String) -> fmt::Result {
    use fmt::Write;
    let indent = |out: &mut String, depth: usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', 2 * depth));
    };
    match v.kind() {
        Kind::Array(a) if !a.is_empty() => {
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(out, depth + 1);
                write_json_pretty(e, depth + 1, out)?;
            }
            indent(out, depth);
            out.push(']');
            Ok(())
        }
        Kind::Object(len) if len > 0 => {
            out.push('{');
            for (i, (k, member)) in members_in_key_order(v).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(out, depth + 1);
                write_json_string(k, out)?;
                out.push_str(": ");
                write_json_pretty(member, depth + 1, out)?;
            }
            indent(out, depth);
            out.push('}');
            Ok(())
        }
        _ => write!(out, "{}", Stringify(v)),
    }
}

/// `String(n)` for a JSON number, written without an intermediate string
/// for the usual integers.
fn write_number(n: &Number, out: &mut impl fmt::Write) -> fmt::Result {
    match n.as_i64() {
        Some(i) if i.unsigned_abs() < (1u64 << 53) => write!(out, "{i}"),
        _ => out.write_str(&json_number_to_string(n)),
    }
}

fn json_number_to_string(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        if i.unsigned_abs() < (1u64 << 53) {
            return i.to_string();
        }
    }
    if let Some(u) = n.as_u64() {
        if u < (1u64 << 53) {
            return u.to_string();
        }
    }
    number_to_string(to_f64(n))
}

/// `String(v)`, borrowing when `v` is already a string.
pub fn string_of(v: &impl JsonValue) -> Cow<'_, str> {
    match v.kind() {
        Kind::String(s) => Cow::Borrowed(s),
        _ => Cow::Owned(to_string(v)),
    }
}

/// A manifest field as text for messages and file names: `String(v)`, or
/// empty when the field is absent.
pub fn text(v: Option<&impl JsonValue>) -> String {
    v.map(to_string).unwrap_or_default()
}

/// `String(v)`.
pub fn to_string(v: &impl JsonValue) -> String {
    match v.kind() {
        Kind::Null => "null".into(),
        Kind::Bool(b) => b.to_string(),
        Kind::Number(n) => json_number_to_string(n),
        Kind::String(s) => s.to_string(),
        // Array.prototype.join: null and undefined elements become "".
        Kind::Array(a) => a
            .iter()
            .map(|e| if matches!(e.kind(), Kind::Null) { String::new() } else { to_string(e) })
            .collect::<Vec<_>>()
            .join(","),
        Kind::Object(_) => "[object Object]".into(),
    }
}

/// JavaScript's white space and line terminators, as `String.prototype.trim`
/// and `Number("...")` strip them.
pub fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\u{9}' | '\u{a}' | '\u{b}' | '\u{c}' | '\u{d}' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}' | '\u{feff}'
    )
}

/// `Number(s)` for a string: JavaScript's StringToNumber.
pub fn string_to_number(s: &str) -> f64 {
    // Fast path for the common case, short runs of digits (dates, sizes).
    if !s.is_empty() && s.len() <= 15 && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.bytes().fold(0u64, |n, b| n * 10 + u64::from(b - b'0')) as f64;
    }
    let t = s.trim_matches(is_js_space);
    if t.is_empty() {
        return 0.0;
    }
    for (prefix, radix) in [("0x", 16), ("0X", 16), ("0o", 8), ("0O", 8), ("0b", 2), ("0B", 2)] {
        if let Some(rest) = t.strip_prefix(prefix) {
            if rest.is_empty() || !rest.chars().all(|c| c.is_digit(radix)) {
                return f64::NAN;
            }
            return radix_to_f64(rest, radix);
        }
    }
    let (sign, unsigned) = match t.as_bytes()[0] {
        b'+' => (1.0, &t[1..]),
        b'-' => (-1.0, &t[1..]),
        _ => (1.0, t),
    };
    if unsigned == "Infinity" {
        return sign * f64::INFINITY;
    }
    if !is_decimal_literal(unsigned) {
        return f64::NAN;
    }
    sign * unsigned.parse::<f64>().unwrap_or(f64::NAN)
}

/// The value of binary, octal or hex digits, rounded once to the nearest
/// double (ties to even), as JavaScript rounds `0x...` literals: the top 64
/// bits, with any bit below them folded into the last one.
fn radix_to_f64(digits: &str, radix: u32) -> f64 {
    let bits_per_digit = radix.trailing_zeros();
    let (mut top, mut len, mut extra, mut sticky) = (0u64, 0u32, 0i32, false);
    for d in digits.chars().filter_map(|c| c.to_digit(radix)) {
        for shift in (0..bits_per_digit).rev() {
            let bit = (d >> shift) & 1 == 1;
            if len < 64 {
                if top != 0 || bit {
                    top = top << 1 | u64::from(bit);
                    len += 1;
                }
            } else {
                extra += 1;
                sticky |= bit;
            }
        }
    }
    if extra == 0 {
        return top as f64;
    }
    // Rounding the 64 leading bits, the sticky one in the last, rounds as
    // the whole would (64 > 53 + 2); scaling by a power of two is exact.
    (top | u64::from(sticky)) as f64 * 2f64.powi(extra)
}

/// StrUnsignedDecimalLiteral: `digits[.digits][e[+-]digits]` or `.digits[...]`.
fn is_decimal_literal(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = i - f;
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let e = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == e {
            return false;
        }
    }
    i == b.len()
}

/// `Number(v)`.
pub fn to_number(v: &impl JsonValue) -> f64 {
    match v.kind() {
        Kind::Null => 0.0,
        Kind::Bool(b) => f64::from(u8::from(b)),
        Kind::Number(n) => to_f64(n),
        Kind::String(s) => string_to_number(s),
        Kind::Array(_) | Kind::Object(_) => string_to_number(&to_string(v)),
    }
}

/// `JSON.stringify(v)`, as `util.format('%j')` prints it.
pub fn json_stringify(v: &impl JsonValue) -> String {
    Stringify(v).to_string()
}

/// [`json_stringify`] as a `Display`, to write it straight into a message.
pub struct Stringify<'a, V>(pub &'a V);

impl<V: JsonValue> fmt::Display for Stringify<'_, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_json(self.0, f)
    }
}

fn write_json(v: &impl JsonValue, out: &mut impl fmt::Write) -> fmt::Result {
    match v.kind() {
        Kind::Null => out.write_str("null"),
        Kind::Bool(b) => out.write_str(if b { "true" } else { "false" }),
        Kind::Number(n) if !to_f64(n).is_finite() => out.write_str("null"),
        Kind::Number(n) => write_number(n, out),
        Kind::String(s) => write_json_string(s, out),
        Kind::Array(a) => {
            out.write_char('[')?;
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.write_char(',')?;
                }
                write_json(e, out)?;
            }
            out.write_char(']')
        }
        Kind::Object(_) => {
            out.write_char('{')?;
            for (i, (k, member)) in members_in_key_order(v).enumerate() {
                if i > 0 {
                    out.write_char(',')?;
                }
                write_json_string(k, out)?;
                out.write_char(':')?;
                write_json(member, out)?;
            }
            out.write_char('}')
        }
    }
}

fn write_json_string(s: &str, out: &mut impl fmt::Write) -> fmt::Result {
    out.write_char('"')?;
    // Everything JSON escapes is ASCII: copy the runs between escapes whole.
    let mut run_start = 0;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.write_str(&s[run_start..i])?;
        if escape.is_empty() {
            write!(out, "\\u{b:04x}")?;
        } else {
            out.write_str(escape)?;
        }
        run_start = i + 1;
    }
    out.write_str(&s[run_start..])?;
    out.write_char('"')
}

/// What `util.format('%s', v)` prints in Node 20: strings as they are,
/// numbers via `String` except `-0`, objects and arrays through
/// `util.inspect` with depth 0.
pub fn format_s(v: &impl JsonValue) -> String {
    FormatS(v).to_string()
}

/// [`format_s`] as a `Display`, to write it straight into a message.
pub struct FormatS<'a, V>(pub &'a V);

impl<V: JsonValue> fmt::Display for FormatS<'_, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        match v.kind() {
            Kind::String(s) => f.write_str(s),
            Kind::Number(n) if to_f64(n) == 0.0 && to_f64(n).is_sign_negative() => f.write_str("-0"),
            Kind::Number(n) => write_number(n, f),
            Kind::Array(_) | Kind::Object(_) => f.write_str(&inspect(v, 0)),
            Kind::Null => f.write_str("null"),
            Kind::Bool(b) => f.write_str(if b { "true" } else { "false" }),
        }
    }
}

/// Node's `util.inspect(v, {depth: 0, compact: 3, breakLength: 80})` for the
/// shapes JSON can produce. Arrays of more than six entries are laid out in
/// columns by Node; we print them one a line, which is the only difference.
fn inspect(v: &impl JsonValue, level: usize) -> String {
    match v.kind() {
        Kind::String(s) => inspect_string(s),
        Kind::Number(n) if to_f64(n) == 0.0 && to_f64(n).is_sign_negative() => "-0".into(),
        Kind::Array(a) => {
            if a.is_empty() {
                return "[]".into();
            }
            if level > 0 {
                return "[Array]".into();
            }
            let mut entries: Vec<String> = a.iter().take(100).map(|e| inspect(e, level + 1)).collect();
            if a.len() > 100 {
                let more = a.len() - 100;
                entries.push(format!("... {more} more item{}", if more > 1 { "s" } else { "" }));
            }
            braces(entries, "[", "]")
        }
        Kind::Object(len) => {
            if len == 0 {
                return "{}".into();
            }
            if level > 0 {
                return "[Object]".into();
            }
            let entries = members_in_key_order(v)
                .map(|(k, member)| format!("{}: {}", inspect_key(k), inspect(member, level + 1)))
                .collect();
            braces(entries, "{", "}")
        }
        _ => to_string(v),
    }
}

fn braces(entries: Vec<String>, open: &str, close: &str) -> String {
    // Node's isBelowBreakLength: entries + separators + a fixed allowance.
    let start = entries.len() + open.len() + 10;
    let total = entries.iter().map(|e| e.len()).sum::<usize>() + entries.len() + start;
    if total <= 80 && !entries.iter().any(|e| e.contains('\n')) {
        format!("{open} {} {close}", entries.join(", "))
    } else {
        format!("{open}\n  {}\n{close}", entries.join(",\n  "))
    }
}

fn inspect_key(k: &str) -> String {
    let mut chars = k.chars();
    let ident = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ident {
        k.to_string()
    } else {
        inspect_string(k)
    }
}

/// Node's strEscape: single quotes unless the string holds one and no double
/// quote (then double quotes), or holds both but no backtick.
fn inspect_string(s: &str) -> String {
    let quote = if !s.contains('\'') {
        '\''
    } else if !s.contains('"') {
        '"'
    } else if !s.contains('`') && !s.contains("${") {
        '`'
    } else {
        '\''
    };
    let mut out = String::new();
    out.push(quote);
    for c in s.chars() {
        match c {
            c if c == quote => {
                out.push('\\');
                out.push(c)
            }
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod number_tests {
    use super::*;

    #[test]
    fn numbers_as_javascript() {
        assert_eq!(number_to_string(1e21), "1e+21");
        assert_eq!(number_to_string(-0.0), "0");
        assert_eq!(number_to_string(1.5e-7), "1.5e-7");
        assert_eq!(number_to_string(0.000001), "0.000001");
        assert_eq!(number_to_string(2f64.powi(60)), "1152921504606847000");
        assert_eq!(js_number(2f64.powi(60)), Some(1152921504606847000u64.into()));
        assert_eq!(js_number(-0.0), Some(0u64.into()));
        assert_eq!(js_number(f64::NAN), None);
        assert!(js_number(1e21).unwrap().is_f64());
        assert_eq!(string_to_number("0x20000000000001"), 9007199254740992.0);
        assert_eq!(string_to_number("0x20000000000003"), 9007199254740996.0);
        assert_eq!(string_to_number("0x200000000000011"), 144115188075855904.0);
        assert_eq!(string_to_number("0x1fffffffffffff"), 9007199254740991.0);
        assert_eq!(string_to_number("0xffffffffffffffffff"), 4722366482869645213696.0);
        assert_eq!(string_to_number("0o777"), 511.0);
        assert_eq!(string_to_number(&format!("0x{}", "f".repeat(300))), f64::INFINITY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_print_as_javascript_does() {
        assert_eq!(number_to_string(1.0), "1");
        assert_eq!(number_to_string(1.5), "1.5");
        assert_eq!(number_to_string(1e21), "1e+21");
        assert_eq!(number_to_string(1.5e21), "1.5e+21");
        assert_eq!(number_to_string(1e20), "100000000000000000000");
        assert_eq!(number_to_string(0.000001), "0.000001");
        assert_eq!(number_to_string(0.0000001), "1e-7");
        assert_eq!(number_to_string(-2.5e-7), "-2.5e-7");
        assert_eq!(number_to_string(123.456), "123.456");
    }

    #[test]
    fn string_to_number_follows_the_spec() {
        assert_eq!(string_to_number(""), 0.0);
        assert_eq!(string_to_number("  12 \n"), 12.0);
        assert_eq!(string_to_number("0x1f"), 31.0);
        assert!(string_to_number("-0x1f").is_nan());
        assert_eq!(string_to_number("-Infinity"), f64::NEG_INFINITY);
        assert!(string_to_number("inf").is_nan());
        assert!(string_to_number("1e").is_nan());
        assert_eq!(string_to_number(".5e1"), 5.0);
        assert_eq!(string_to_number("5."), 5.0);
        assert!(string_to_number(".").is_nan());
    }

    #[test]
    fn string_conversion_and_keys() {
        assert_eq!(to_string(&json!([1, null, [2, 3], "a"])), "1,,2,3,a");
        assert_eq!(to_string(&json!({"a": 1})), "[object Object]");
        let v = json!({"b": 1, "10": 2, "2": 3, "a": 4, "01": 5});
        let keys: Vec<&str> = members_in_key_order(&v).map(|(k, _)| k).collect();
        assert_eq!(keys, vec!["2", "10", "b", "a", "01"]);
        assert_eq!(json_stringify(&v), r#"{"2":3,"10":2,"b":1,"a":4,"01":5}"#);
    }

    #[test]
    fn json_length_without_allocating() {
        for v in [
            json!({"a": "x\"y\u{1}\n", "b": [1, 2.5, null, true], "c": {"d": "\u{1F600}é"}, "e": []}),
            json!("plain"),
            json!([]),
            json!({}),
            json!([0, 9, 10, 99, 100, 12345678901234u64, 9007199254740992u64, u64::MAX, -5, -0.0, 1e300, 0.1]),
            json!([true, false, null]),
        ] {
            assert_eq!(json_utf16_len(&v), json_stringify(&v).encode_utf16().count(), "{v}");
        }
        assert_eq!(utf16_len("a\u{1F600}é"), 4);
    }

    #[test]
    fn inspect_matches_node_for_small_values() {
        assert_eq!(format_s(&json!([1, "a", [2], {}])), "[ 1, 'a', [Array], {} ]");
        assert_eq!(format_s(&json!({"a": 1, "b-c": "x", "n": null})), "{ a: 1, 'b-c': 'x', n: null }");
        assert_eq!(format_s(&json!({"a": {"b": 1}})), "{ a: [Object] }");
        assert_eq!(format_s(&json!([])), "[]");
        assert_eq!(format_s(&json!("it's")), "it's");
        assert_eq!(inspect_string("it's"), "\"it's\"");
    }
}
