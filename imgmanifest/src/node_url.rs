//! Node 20's legacy `url.parse`, as far as the validator needs it: the
//! protocol, the host name, and whether it throws.
//!
//! Node's `imgmanifest` checks `homepage` and `eula` with `url.parse(s)`.
//! That is not the WHATWG URL parser: it finds the host with its own loop,
//! lower-cases it, and passes it to Node's internal `toASCII`, which is ada
//! 2.9.2's `ada::idna::to_ascii` (UTS 46 processing with `CheckHyphens`,
//! `UseSTD3ASCIIRules` and `VerifyDnsLength` off, `CheckBidi` and
//! `CheckJoiners` on). It throws `Invalid URL` when that gives an empty host
//! or one holding a forbidden character, and `URI malformed` when the part
//! before an `@` is not valid percent-encoded UTF-8. [`parse`] follows those
//! steps, in the same order.
//!
//! The Unicode work is done by the `idna` crate (servo/rust-url: Punycode)
//! and its back end `idna_adapter` (ICU4X data: the UTS 46 mapping, NFC,
//! and the general category, bidi class, joining type and virama
//! properties). They are arranged as ada's `to_ascii` arranges them rather
//! than as `idna::domain_to_ascii`, because the two disagree, and Node
//! answers as ada does:
//!
//! - ASCII labels are only lower-cased: `a\u{1}b` and `-a` pass.
//! - An `xn--` label is checked only by decoding it: `xn--abc-` (which
//!   decodes to plain `abc`) passes, and so does `xn---abc`.
//! - Bidi rules apply to each label alone, to labels holding an R, AL or AN
//!   character, and the last character of a label that starts with an L is
//!   not checked (`aא` passes).
//! - A ZWNJ or ZWJ settles its label's validity on its own (ada returns at
//!   the first one it meets).
//! - ada's tables are of older Unicode versions than ICU4X's: where the
//!   comparison with Node over every code point found them apart, ada's
//!   answer is kept ([`DISALLOWED_IN_NODE`], [`NOT_MARKS_IN_NODE`],
//!   [`NO_BIDI_CLASS_IN_NODE`]).
//! - A NUL in the result ends it (Node copies it out as a C string).

use std::borrow::Cow;

use idna_adapter::{
    Adapter, LAST_RTL_MASK, LEFT_OR_DUAL_JOINING_MASK, MIDDLE_LTR_MASK, MIDDLE_RTL_MASK, RIGHT_OR_DUAL_JOINING_MASK,
    RTL_MASK,
};

/// What `url.parse` found, for the parts the validator reads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Url {
    /// `protocol`, lower-cased, with its colon (`"https:"`); `None` for none.
    pub protocol: Option<String>,
    /// `hostname`: `None` when the URL has no host part, as in Node (where
    /// it is `null`); lower-cased and in Punycode; an IPv6 address without
    /// its brackets.
    pub hostname: Option<String>,
}

/// Why `url.parse` throws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// `ERR_INVALID_URL`: the host name is empty after IDNA processing, or
    /// holds a forbidden character.
    #[error("Invalid URL")]
    InvalidUrl,
    /// `URIError` from `decodeURIComponent` on the user-info part.
    #[error("URI malformed")]
    UriMalformed,
}

/// White space as `url.parse` trims it: every code unit below 33, NBSP and
/// the BOM.
fn is_ws(c: char) -> bool {
    (c as u32) < 33 || c == '\u{a0}' || c == '\u{feff}'
}

/// `url.parse(s)`: its protocol and host name, or the exception it throws.
pub fn parse(url: &str) -> Result<Url, UrlError> {
    let rest = trimmed(url);
    let (protocol, rest) = split_protocol(&rest);
    let lower_proto = protocol.map(str::to_ascii_lowercase);
    let hostless = lower_proto.as_deref() == Some("javascript:");
    let mut slashes = false;
    let mut rest = rest;
    if protocol.is_some() || has_user_info_host(rest) {
        slashes = rest.starts_with("//");
        if slashes && !hostless {
            rest = &rest[2..];
        }
    }
    // `slashedProtocol.has(proto)` compares the protocol as written: an
    // upper-case "HTTP:" without slashes still gets a host.
    let slashed_as_written = protocol.is_some_and(|p| SLASHED.contains(&p));
    let mut out = Url { protocol: lower_proto, hostname: None };
    if !hostless && (slashes || (protocol.is_some() && !slashed_as_written)) {
        out.hostname = Some(hostname(rest, true)?.into_owned());
    }
    Ok(out)
}

/// Whether `url.parse(s)` finds the protocol `http:` or `https:` and does
/// not throw: what `homepage` and `eula` need.
pub fn is_http_url(s: &str) -> bool {
    if plain_http_url(s) {
        return true;
    }
    if !has_http_protocol(s) {
        return false;
    }
    // The other URLs take a few hundred nanoseconds (IDNA mapping,
    // Punycode): the verdicts of the last few are kept, so that a manifest
    // validated in several modes has each URL parsed once.
    // Per thread, so never shared; `try_with`, because a thread's other
    // thread-local destructors may validate after this one has gone.
    if let Ok(Some(verdict)) = RECENT.try_with(|r| r.borrow().get(s)) {
        return verdict;
    }
    let verdict = parse_http_host(s).is_some_and(|r| r.is_ok());
    let _ = RECENT.try_with(|r| r.borrow_mut().put(s, verdict));
    verdict
}

/// Whether the URL starts, after white space, with `http:` or `https:` in
/// any case: the protocol `url.parse` must find.
fn has_http_protocol(url: &str) -> bool {
    let head = url.trim_start_matches(is_ws).as_bytes();
    let prefix = |p: &[u8]| head.len() >= p.len() && head[..p.len()].eq_ignore_ascii_case(p);
    prefix(b"http:") || prefix(b"https:")
}

// Debian's clippy 1.96 (the illumos lint in scripts/test.sh) asks for a
// `const` initializer that this already has.
#[allow(clippy::missing_const_for_thread_local)]
mod recent_cell {
    thread_local! {
        pub(super) static RECENT: std::cell::RefCell<super::Recent> =
            const { std::cell::RefCell::new(super::Recent { urls: [const { None }; 4], next: 0 }) };
    }
}
use recent_cell::RECENT;

/// The last few URLs [`is_http_url`] parsed in full, with their verdicts.
struct Recent {
    urls: [Option<(Box<str>, bool)>; 4],
    next: usize,
}

impl Recent {
    fn get(&self, url: &str) -> Option<bool> {
        self.urls.iter().flatten().find(|(u, _)| &**u == url).map(|&(_, v)| v)
    }

    fn put(&mut self, url: &str, verdict: bool) {
        // Long ones are rare and not worth the copy.
        if url.len() <= 256 {
            self.urls[self.next] = Some((url.into(), verdict));
            self.next = (self.next + 1) % self.urls.len();
        }
    }
}

/// Letters, digits, `.` and `-`: host bytes that need no IDNA work.
const PLAIN_HOST: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = (c as u8).is_ascii_alphanumeric() || c == b'.' as usize || c == b'-' as usize;
        c += 1;
    }
    t
};

/// The usual URL, settled in one pass without allocating: `http://` or
/// `https://`, a host of letters, digits, dots and hyphens with no label
/// starting `xn--`, an optional `:port`, then the end or `/`, `?`, `#`.
/// Such a host is its own ASCII form, so `url.parse` cannot throw. `false`
/// means only "not this simple case".
fn plain_http_url(s: &str) -> bool {
    let b = s.as_bytes();
    let start = if b.starts_with(b"https://") {
        8
    } else if b.starts_with(b"http://") {
        7
    } else {
        return false;
    };
    let mut label_start = start;
    let mut i = start;
    while i < b.len() && PLAIN_HOST[b[i] as usize] {
        if b[i] == b'.' {
            label_start = i + 1;
        } else if i == label_start + 3 && b[label_start..=i].eq_ignore_ascii_case(b"xn--") {
            return false;
        }
        i += 1;
    }
    if i < b.len() && b[i] == b':' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    // (A name past 255 units becomes empty instead, which passes too.)
    i == b.len() || matches!(b[i], b'/' | b'?' | b'#')
}

/// `Some(host check)` when the protocol is `http:` or `https:`, without
/// building what the validator does not read.
fn parse_http_host(url: &str) -> Option<Result<(), UrlError>> {
    // Not `http:` or `https:` after the white space: settled before any
    // other work.
    if !has_http_protocol(url) {
        return None;
    }
    let rest = trimmed(url);
    let (protocol, rest) = split_protocol(&rest);
    let protocol = protocol?;
    let is_http = protocol.eq_ignore_ascii_case("http:") || protocol.eq_ignore_ascii_case("https:");
    if !is_http {
        return None;
    }
    if let Some(after) = rest.strip_prefix("//") {
        Some(hostname(after, false).map(drop))
    } else if SLASHED.contains(&protocol) {
        Some(Ok(()))
    } else {
        Some(hostname(rest, false).map(drop))
    }
}

/// Protocols that always have `//`, as `url.parse` spells them.
const SLASHED: &[&str] = &[
    "http", "http:", "https", "https:", "ftp", "ftp:", "gopher", "gopher:", "file", "file:", "ws", "ws:", "wss", "wss:",
];

/// The input trimmed of white space, with back slashes before the first `?`
/// or `#` made forward slashes.
fn trimmed(url: &str) -> Cow<'_, str> {
    let Some(start) = url.find(|c| !is_ws(c)) else {
        return Cow::Borrowed("");
    };
    let end = url.rfind(|c| !is_ws(c)).map_or(url.len(), |i| i + url[i..].chars().next().map_or(1, char::len_utf8));
    let s = &url[start..end];
    let split = s.find(['?', '#']).unwrap_or(s.len());
    if !s[..split].contains('\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    out.extend(s[..split].chars().map(|c| if c == '\\' { '/' } else { c }));
    out.push_str(&s[split..]);
    Cow::Owned(out)
}

/// `/^[a-z0-9.+-]+:/i`: the protocol as written (with its colon) and what
/// follows it.
fn split_protocol(rest: &str) -> (Option<&str>, &str) {
    let name_len = rest.bytes().take_while(|b| b.is_ascii_alphanumeric() || b"+-.".contains(b)).count();
    if name_len > 0 && rest.as_bytes().get(name_len) == Some(&b':') {
        (Some(&rest[..=name_len]), &rest[name_len + 1..])
    } else {
        (None, rest)
    }
}

/// `/^\/\/[^@/]+@[^@/]+/`
fn has_user_info_host(rest: &str) -> bool {
    let Some(after) = rest.strip_prefix("//") else { return false };
    let user = after.find(['@', '/']).unwrap_or(after.len());
    if user == 0 || after.as_bytes().get(user) != Some(&b'@') {
        return false;
    }
    let host = &after[user + 1..];
    host.chars().next().is_some_and(|c| c != '@' && c != '/')
}

/// The host name `url.parse` makes of what follows `//`, or what it throws.
///
/// With `need_name` false the name returned is not the host name (only
/// whether it throws is decided), which saves writing Punycode.
fn hostname(rest: &str, need_name: bool) -> Result<Cow<'_, str>, UrlError> {
    // Tabs and line breaks before the host's end are dropped first (Node
    // drops them as its host loop meets them).
    let end = rest.find(['#', '/', '?']).unwrap_or(rest.len());
    if !rest[..end].contains(['\t', '\n', '\r']) {
        return hostname_of(rest, need_name);
    }
    let mut cleaned: String = rest[..end].chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect();
    cleaned.push_str(&rest[end..]);
    hostname_of(&cleaned, need_name).map(|h| Cow::Owned(h.into_owned()))
}

fn hostname_of(rest: &str, need_name: bool) -> Result<Cow<'_, str>, UrlError> {
    // The host ends at the first `#`, `/` or `?`; the last `@` before that
    // ends the user info; the host is cut at the first character never
    // allowed in one after that.
    let mut at_sign = None;
    let mut non_host = None;
    for (i, b) in rest.bytes().enumerate() {
        match b {
            b' ' | b'"' | b'%' | b'\'' | b';' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}' => {
                non_host.get_or_insert(i);
            }
            b'#' | b'/' | b'?' => {
                non_host.get_or_insert(i);
                break;
            }
            b'@' => {
                at_sign = Some(i);
                non_host = None;
            }
            _ => {}
        }
    }
    let start = match at_sign {
        Some(at) => {
            check_uri_component(&rest[..at])?;
            at + 1
        }
        None => 0,
    };
    let host = &rest[start..non_host.unwrap_or(rest.len())];
    // parseHost: a trailing `:digits` is the port.
    let without_port = match host.rfind(':') {
        Some(colon) if host[colon + 1..].bytes().all(|b| b.is_ascii_digit()) => &host[..colon],
        _ => host,
    };
    let ipv6 = without_port.len() >= 2 && without_port.starts_with('[') && without_port.ends_with(']');
    // Not IPv6: the name ends at the first `/`, `\`, `#`, `?` or `:`.
    let name = if ipv6 {
        without_port
    } else {
        &without_port[..without_port.find(['/', '\\', '#', '?', ':']).unwrap_or(without_port.len())]
    };
    if crate::js::utf16_len(name) > 255 || name.is_empty() {
        return Ok(Cow::Borrowed(""));
    }
    if !need_name && !ipv6 {
        // Lower-casing changes none of what is checked here.
        if let Some(ok) = quick_ascii_verdict(name.as_bytes()) {
            return if ok { Ok(Cow::Borrowed("")) } else { Err(UrlError::InvalidUrl) };
        }
        if !name.is_ascii() {
            return check_non_ascii_host(name).map(|()| Cow::Borrowed(""));
        }
    }
    let lower: Cow<str> = if name.bytes().any(|b| b.is_ascii_uppercase() || b >= 0x80) {
        Cow::Owned(js_lower(name))
    } else {
        name.into()
    };
    if ipv6 {
        if lower.contains(['\0', '\t', '\n', '\r', ' ', '#', '%', '/', '<', '>', '?', '@', '\\', '^', '|']) {
            return Err(UrlError::InvalidUrl);
        }
        return Ok(match lower {
            Cow::Borrowed(l) => Cow::Borrowed(&l[1..l.len() - 1]),
            Cow::Owned(l) => Cow::Owned(l[1..l.len() - 1].to_string()),
        });
    }
    let ascii = if lower.is_ascii() && !lower.contains('\0') && !has_punycode_label(&lower) {
        // to_ascii would give it back unchanged.
        lower
    } else {
        Cow::Owned(to_ascii(&lower))
    };
    check_ascii_host(&ascii)?;
    Ok(ascii)
}

/// JavaScript's `toLowerCase`: Unicode's default lower-casing, final sigma
/// included, as Rust's `to_lowercase`.
fn js_lower(s: &str) -> String {
    s.to_lowercase()
}

fn has_punycode_label(lower_ascii: &str) -> bool {
    lower_ascii.split('.').any(|label| label.starts_with("xn--"))
}

/// Whether `decodeURIComponent(s)` returns instead of throwing: every `%`
/// starts `%XX`, and the bytes they make, where not ASCII, are whole UTF-8
/// sequences (no overlong forms, surrogates or values past U+10FFFF).
fn check_uri_component(s: &str) -> Result<(), UrlError> {
    let b = s.as_bytes();
    let hex = |i: usize| -> Result<u8, UrlError> {
        let digit = |c: u8| (c as char).to_digit(16);
        match (b.get(i + 1).copied().and_then(digit), b.get(i + 2).copied().and_then(digit)) {
            (Some(h), Some(l)) if b[i] == b'%' => Ok((h * 16 + l) as u8),
            _ => Err(UrlError::UriMalformed),
        }
    };
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            i += 1;
            continue;
        }
        let first = hex(i)?;
        i += 3;
        let len = match first {
            0x00..=0x7f => continue,
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf7 => 4,
            _ => return Err(UrlError::UriMalformed),
        };
        let mut seq = [first, 0, 0, 0];
        for slot in seq.iter_mut().take(len).skip(1) {
            if b.get(i) != Some(&b'%') {
                return Err(UrlError::UriMalformed);
            }
            *slot = hex(i)?;
            i += 3;
        }
        std::str::from_utf8(&seq[..len]).map_err(|_| UrlError::UriMalformed)?;
    }
    Ok(())
}

static ADAPTER: Adapter = Adapter::new();

/// Node 20's internal `toASCII` (ada 2.9.2's `ada::idna::to_ascii`, its
/// result copied as a C string): the domain lower-cased, mapped and
/// normalized by UTS 46, each non-ASCII label checked and written in
/// Punycode. An empty string where it fails.
pub fn to_ascii(domain: &str) -> String {
    let mut out = ada_to_ascii(domain).unwrap_or_default();
    if let Some(nul) = out.find('\0') {
        out.truncate(nul);
    }
    out
}

fn ada_to_ascii(domain: &str) -> Option<String> {
    if domain.is_ascii() {
        let lower = domain.to_ascii_lowercase();
        for label in lower.split('.') {
            if let Some(puny) = label.strip_prefix("xn--") {
                check_punycode_label(puny)?;
            }
        }
        return Some(lower);
    }
    let mapped = mapped_and_checked(domain)?;
    let mut out = String::with_capacity(mapped.len() * 2);
    for (i, label) in mapped.split(|&c| c == '.').enumerate() {
        if i > 0 {
            out.push('.');
        }
        if label.iter().all(char::is_ascii) {
            out.extend(label);
        } else {
            out.push_str("xn--");
            out.push_str(&idna::punycode::encode(label)?);
        }
    }
    Some(out)
}

/// A non-ASCII domain mapped and normalized, every label checked as ada
/// checks it; `None` where ada fails.
fn mapped_and_checked(domain: &str) -> Option<Mapped> {
    mapped_and_checked_chars(domain.chars())
}

/// A mapped domain; most fit on the stack.
type Mapped = smallvec::SmallVec<[char; 64]>;

fn mapped_and_checked_chars(domain: impl Iterator<Item = char> + Clone) -> Option<Mapped> {
    if domain.clone().any(|c| in_ranges(DISALLOWED_IN_NODE, c)) {
        return None;
    }
    let mapped: Mapped = ADAPTER.map_normalize(domain).collect();
    if mapped.contains(&'\u{fffd}') {
        return None;
    }
    for label in mapped.split(|&c| c == '.') {
        if label.starts_with(&['x', 'n', '-', '-']) {
            if !label.iter().all(char::is_ascii) {
                return None;
            }
            let puny: String = label[4..].iter().collect();
            check_punycode_label(&puny)?;
        } else if !label.iter().all(char::is_ascii) && !is_label_valid(label) {
            return None;
        }
    }
    Some(mapped)
}

/// What [`to_ascii`] followed by `url.parse`'s checks decides for a
/// non-ASCII host name (not yet lower-cased), without writing the
/// Punycode: the result holds a forbidden character exactly where the
/// mapped name holds one (Punycode adds only letters, digits and `-`).
fn check_non_ascii_host(name: &str) -> Result<(), UrlError> {
    // Lower-cased char by char, as `to_lowercase` does but for a final
    // sigma, which needs the whole string.
    let mapped = if name.contains('\u{3a3}') {
        mapped_and_checked(&js_lower(name))
    } else {
        mapped_and_checked_chars(name.chars().flat_map(char::to_lowercase))
    };
    let mapped = mapped.ok_or(UrlError::InvalidUrl)?;
    if mapped.contains(&'\0') {
        // Node cuts the result at the NUL: write it to see where.
        return check_ascii_host(&to_ascii(&js_lower(name)));
    }
    if mapped.is_empty() || mapped.iter().any(|&c| c.is_ascii() && FORBIDDEN_HOST_BYTE[c as usize]) {
        return Err(UrlError::InvalidUrl);
    }
    Ok(())
}

/// For an ASCII host name that `to_ascii` gives back as it is (no NUL, no
/// `xn--` label), whether it passes `url.parse`'s check, in one pass;
/// `None` for the others.
fn quick_ascii_verdict(name: &[u8]) -> Option<bool> {
    let mut forbidden = false;
    let mut label_start = 0;
    for (i, &b) in name.iter().enumerate() {
        if b == 0 || b >= 0x80 {
            return None;
        }
        if b == b'.' {
            label_start = i + 1;
        } else if i == label_start + 3 && name[label_start..=i].eq_ignore_ascii_case(b"xn--") {
            return None;
        }
        forbidden |= FORBIDDEN_HOST_BYTE[b as usize];
    }
    Some(!name.is_empty() && !forbidden)
}

/// [`FORBIDDEN_HOST`] as a byte table.
const FORBIDDEN_HOST_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < FORBIDDEN_HOST.len() {
        t[FORBIDDEN_HOST[i] as usize] = true;
        i += 1;
    }
    t
};

/// `forbiddenHostChars` of Node's url.js.
const FORBIDDEN_HOST: [char; 18] =
    ['\0', '\t', '\n', '\r', ' ', '#', '%', '/', ':', '<', '>', '?', '@', '[', '\\', ']', '^', '|'];

fn check_ascii_host(ascii: &str) -> Result<(), UrlError> {
    if ascii.is_empty() || ascii.contains(FORBIDDEN_HOST) {
        Err(UrlError::InvalidUrl)
    } else {
        Ok(())
    }
}

/// The checks ada makes of an `xn--` label: it decodes, the result is
/// unchanged by mapping and NFC, is not empty, and is a valid label.
fn check_punycode_label(puny: &str) -> Option<()> {
    // ada splits at the last `-` even when it is the first character (the
    // `idna` crate then reads the `-` as a digit).
    let digits = if puny.rfind('-') == Some(0) { &puny[1..] } else { puny };
    let decoded = idna::punycode::decode(digits)?;
    let unchanged = ADAPTER.normalize_validate(decoded.iter().copied()).eq(decoded.iter().copied());
    let valid = unchanged
        && !decoded.is_empty()
        && !decoded.iter().any(|&c| c == '\u{fffd}' || in_ranges(DISALLOWED_IN_NODE, c))
        && is_label_valid(&decoded);
    valid.then_some(())
}

/// ada 2.9.2's `is_label_valid`, with its shortcuts: no leading combining
/// mark; a ZWNJ or ZWJ decides alone; then, for a label holding an R, AL
/// or AN character, the bidi rule (for one starting with an L, without its
/// last character).
fn is_label_valid(label: &[char]) -> bool {
    let Some(&first) = label.first() else { return true };
    if ADAPTER.is_mark(first) && !in_ranges(NOT_MARKS_IN_NODE, first) {
        return false;
    }
    for (i, &c) in label.iter().enumerate() {
        if c != '\u{200c}' && c != '\u{200d}' {
            continue;
        }
        if i > 0 && ADAPTER.is_virama(label[i - 1]) {
            return true;
        }
        if c == '\u{200d}' || i + 1 >= label.len() {
            return false;
        }
        let joins = |c: &char, mask| ADAPTER.joining_type(*c).to_mask().intersects(mask);
        return label[..i].iter().any(|c| joins(c, LEFT_OR_DUAL_JOINING_MASK))
            && label[i + 1..].iter().any(|c| joins(c, RIGHT_OR_DUAL_JOINING_MASK));
    }
    // A character ada has no bidi class for is in no class's set.
    let bidi = |c: char| {
        let none = in_ranges(NO_BIDI_CLASS_IN_NODE, c) || in_ranges(NOT_MARKS_IN_NODE, c);
        (!none).then(|| ADAPTER.bidi_class(c))
    };
    let classes: smallvec::SmallVec<[Option<idna_adapter::BidiClass>; 32]> = label.iter().map(|&c| bidi(c)).collect();
    let is = |b: Option<idna_adapter::BidiClass>, mask| b.is_some_and(|b| b.to_mask().intersects(mask));
    let Some(last) = classes.iter().rposition(|b| !b.is_some_and(|b| b.is_nonspacing_mark())) else {
        return false;
    };
    if !classes.iter().any(|&b| is(b, RTL_MASK)) {
        return true;
    }
    if classes[0].is_some_and(|b| b.is_ltr()) {
        return classes[..last].iter().all(|&b| is(b, MIDDLE_LTR_MASK));
    }
    let (mut has_en, mut has_an) = (false, false);
    for (i, &b) in classes[..=last].iter().enumerate() {
        has_en |= b.is_some_and(|b| b.is_european_number());
        has_an |= b.is_some_and(|b| b.is_arabic_number());
        if (has_en && has_an) || !is(b, MIDDLE_RTL_MASK) || (i == last && !is(b, LAST_RTL_MASK)) {
            return false;
        }
    }
    true
}

/// Code points ICU4X's UTS 46 data maps or keeps but ada 2.9.2's table
/// (Node 20) disallows: mostly those assigned after its Unicode version.
/// Measured against Node 20.20 (`tests/integration/urls.rs`).
pub const DISALLOWED_IN_NODE: &[(u32, u32)] = &[
    (0x558, 0x558),
    (0x58b, 0x58c),
    (0x5c8, 0x5c9),
    (0x88f, 0x88f),
    (0x897, 0x897),
    (0xb53, 0xb54),
    (0xc5c, 0xc5c),
    (0xcdc, 0xcdc),
    (0x115f, 0x1160),
    (0x17b4, 0x17b5),
    (0x1806, 0x1806),
    (0x180e, 0x180e),
    (0x1acf, 0x1af0),
    (0x1b4e, 0x1b4f),
    (0x1b7f, 0x1b7f),
    (0x1c89, 0x1c8a),
    (0x2061, 0x2063),
    (0x206a, 0x206f),
    (0x208f, 0x208f),
    (0x209d, 0x209f),
    (0x20c1, 0x20c4),
    (0x2427, 0x2429),
    (0x2b96, 0x2b96),
    (0x2e60, 0x2e63),
    (0x3164, 0x3164),
    (0x31e4, 0x31e5),
    (0xa7cc, 0xa7cf),
    (0xa7da, 0xa7db),
    (0xa7dd, 0xa7dd),
    (0xa7e2, 0xa7e2),
    (0xa7f1, 0xa7f1),
    (0xab6c, 0xab6d),
    (0xfbc3, 0xfbd2),
    (0xfd90, 0xfd91),
    (0xfdc8, 0xfdce),
    (0xffa0, 0xffa0),
    (0x105c0, 0x105f3),
    (0x107bb, 0x107bf),
    (0x10940, 0x10959),
    (0x10d40, 0x10d65),
    (0x10d69, 0x10d85),
    (0x10d8e, 0x10d8f),
    (0x10ec2, 0x10ec7),
    (0x10ec9, 0x10eee),
    (0x10ef0, 0x10efc),
    (0x11380, 0x11389),
    (0x1138b, 0x1138b),
    (0x1138e, 0x1138e),
    (0x11390, 0x113b5),
    (0x113b7, 0x113c0),
    (0x113c2, 0x113c2),
    (0x113c5, 0x113c5),
    (0x113c7, 0x113ca),
    (0x113cc, 0x113d5),
    (0x113d7, 0x113d8),
    (0x113e1, 0x113e2),
    (0x116d0, 0x116e3),
    (0x11b0a, 0x11b0a),
    (0x11b60, 0x11b67),
    (0x11bc0, 0x11be1),
    (0x11bf0, 0x11bf9),
    (0x11db0, 0x11ddb),
    (0x11de0, 0x11de9),
    (0x11df0, 0x11df1),
    (0x11f5a, 0x11f5a),
    (0x1246f, 0x1246f),
    (0x12475, 0x1247f),
    (0x12550, 0x12686),
    (0x13460, 0x143fa),
    (0x16100, 0x16139),
    (0x16d40, 0x16d79),
    (0x16ea0, 0x16eb8),
    (0x16ebb, 0x16ed3),
    (0x16ff2, 0x16ff6),
    (0x187f8, 0x187ff),
    (0x18cd6, 0x18cda),
    (0x18cff, 0x18cff),
    (0x18d09, 0x18d20),
    (0x18d80, 0x18df2),
    (0x18e00, 0x19191),
    (0x191a0, 0x191d2),
    (0x1b123, 0x1b128),
    (0x1b168, 0x1b168),
    (0x1cc00, 0x1ccfc),
    (0x1cd00, 0x1ceb3),
    (0x1ceba, 0x1ced0),
    (0x1ced2, 0x1ced4),
    (0x1cedd, 0x1cefd),
    (0x1d127, 0x1d128),
    (0x1d173, 0x1d17a),
    (0x1d1eb, 0x1d1ff),
    (0x1d250, 0x1d281),
    (0x1d6a6, 0x1d6a6),
    (0x1db00, 0x1db1c),
    (0x1df1f, 0x1df24),
    (0x1df2b, 0x1df81),
    (0x1df90, 0x1df96),
    (0x1dfcd, 0x1dfff),
    (0x1e5d0, 0x1e5fa),
    (0x1e5ff, 0x1e5ff),
    (0x1e6c0, 0x1e6de),
    (0x1e6e0, 0x1e6f5),
    (0x1e6fe, 0x1e6ff),
    (0x1f1ae, 0x1f1ae),
    (0x1f6d8, 0x1f6d9),
    (0x1f777, 0x1f77a),
    (0x1f7da, 0x1f7db),
    (0x1f7f1, 0x1f7ff),
    (0x1f8b2, 0x1f8bb),
    (0x1f8c0, 0x1f8c1),
    (0x1f8d0, 0x1f8d8),
    (0x1fa54, 0x1fa57),
    (0x1fa89, 0x1fa8f),
    (0x1fabe, 0x1fabe),
    (0x1fac6, 0x1fac6),
    (0x1fac8, 0x1fac8),
    (0x1facc, 0x1facd),
    (0x1fadc, 0x1fadd),
    (0x1fadf, 0x1fadf),
    (0x1fae9, 0x1faeb),
    (0x1faef, 0x1faef),
    (0x1faf9, 0x1fafa),
    (0x1fbcb, 0x1fbef),
    (0x1fbfa, 0x1fbfa),
    (0x2b73a, 0x2b73f),
    (0x2b81e, 0x2b81e),
    (0x2cea2, 0x2cead),
    (0x2ebf0, 0x2ee5d),
    (0x2f868, 0x2f868),
    (0x2f874, 0x2f874),
    (0x2f91f, 0x2f91f),
    (0x2f95f, 0x2f95f),
    (0x2f9bf, 0x2f9bf),
    (0x323b0, 0x33479),
    (0x3d000, 0x3fc3f),
];

/// Marks (General_Category M) that ada 2.9.2's tables lack, both its
/// combining marks and its bidi classes: in Node 20 a label may start with
/// them, and they have no bidi class.
pub const NOT_MARKS_IN_NODE: &[(u32, u32)] = &[
    (0x898, 0x89f),
    (0x8ca, 0x8d2),
    (0xc3c, 0xc3c),
    (0xcf3, 0xcf3),
    (0xece, 0xece),
    (0x1715, 0x1715),
    (0x1ac1, 0x1ace),
    (0x1dfa, 0x1dfa),
    (0x10efd, 0x10eff),
    (0x10f82, 0x10f85),
    (0x11070, 0x11070),
    (0x11073, 0x11074),
    (0x110c2, 0x110c2),
    (0x11241, 0x11241),
    (0x11f00, 0x11f01),
    (0x11f03, 0x11f03),
    (0x11f34, 0x11f3a),
    (0x11f3e, 0x11f42),
    (0x13440, 0x13440),
    (0x13447, 0x13455),
    (0x1cf00, 0x1cf2d),
    (0x1cf30, 0x1cf46),
    (0x1e08f, 0x1e08f),
    (0x1e2ae, 0x1e2ae),
    (0x1e4ec, 0x1e4ef),
];

/// Characters ada 2.9.2's bidi table lacks: no class at all in Node 20,
/// so neither RTL nor allowed in a bidi label.
pub const NO_BIDI_CLASS_IN_NODE: &[(u32, u32)] = &[
    (0x61d, 0x61d),
    (0x870, 0x88e),
    (0x8b5, 0x8b5),
    (0x8c8, 0x8c9),
    (0xfbc2, 0xfbc2),
    (0x10f70, 0x10f81),
    (0x10f86, 0x10f89),
];

fn in_ranges(table: &[(u32, u32)], c: char) -> bool {
    let c = c as u32;
    // Most characters are below every range: no search for them.
    if table.first().is_none_or(|&(lo, _)| c < lo) {
        return false;
    }
    table
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any string: an answer, never a panic; the validator's quick
        /// check agrees with the full parse.
        #[test]
        fn quick_check_agrees_with_parse(s in "(https?:|HTTP:)?(//|\\\\)?\\PC{0,30}") {
            let full = parse(&s).is_ok_and(|u| matches!(u.protocol.as_deref(), Some("http:" | "https:")));
            prop_assert_eq!(is_http_url(&s), full);
        }

        /// A host of letters, digits, dots and hyphens (no `xn--` label)
        /// comes back lower-cased, port and path cut off.
        #[test]
        fn plain_hosts_come_back_lower_cased(host in "[A-Za-z0-9.-]{1,40}", port in "(:[0-9]{0,5})?", path in "(/[a-z]*)?") {
            prop_assume!(!host.to_ascii_lowercase().split('.').any(|l| l.starts_with("xn--")));
            let url = format!("http://{host}{port}{path}");
            prop_assert_eq!(parse(&url).unwrap().hostname, Some(host.to_ascii_lowercase()));
            prop_assert!(is_http_url(&url));
        }

        /// What `to_ascii` gives (without a NUL) it gives back unchanged.
        #[test]
        fn to_ascii_is_idempotent(s in "\\PC{1,12}") {
            let once = to_ascii(&s.to_lowercase());
            prop_assume!(!once.is_empty() && !s.contains('\0'));
            prop_assert_eq!(to_ascii(&once), once.clone());
        }
    }

    fn host(s: &str) -> Result<Option<String>, UrlError> {
        parse(s).map(|u| u.hostname)
    }

    #[test]
    fn hosts_as_node_20_gives_them() {
        let ok = |s: &str, h: &str| assert_eq!(host(s), Ok(Some(h.to_string())), "{s:?}");
        let invalid = |s: &str| assert_eq!(host(s), Err(UrlError::InvalidUrl), "{s:?}");
        ok("http://xn--ls8h.la/", "xn--ls8h.la");
        ok("http://a\u{ad}b.com/", "ab.com");
        ok("http://a\u{1}b/", "a\u{1}b");
        ok("http://A\u{0}b/", "a");
        ok("http://xn--abc-.com", "xn--abc-.com");
        ok("http://ÄÖ.com", "xn--4ca0b.com");
        ok("http://faß.de", "xn--fa-hia.de");
        ok("http://a\u{3002}b", "a.b");
        ok("http://%41.com", "");
        ok("http://a b.com", "a");
        ok("http://\u{200b}.com", ".com");
        ok("http://aא.com", "xn--a-0hc.com");
        ok("http://1א.com", "xn--1-0hc.com");
        ok("http://é\u{0}x/", "xn--");
        ok("http://é_x/", "xn--_x-9ia");
        ok("http://a:b@c:d/", "c");
        ok("http://[::1]:80/", "::1");
        ok("http://[a\u{2028}]/", "a\u{2028}");
        ok(&format!("http://{}", "a".repeat(256)), "");
        invalid("http://xn--a.com/");
        invalid("http://\u{ad}/");
        invalid("http://a\u{2028}b/");
        invalid("http://xn--/");
        invalid("http://\u{300}a.com");
        invalid("http://a\u{200d}b.com");
        invalid("http://xn--abc.com");
        invalid("http://\u{fffd}.com");
        invalid("http://[::1]x/");
        invalid("http://a[b/");
        invalid("http://א\u{61}.com");
        invalid("http://\u{a0}a/");
        invalid("http://a\u{180e}b");
        invalid("HTTP:\u{2028}");
        invalid("http://[\u{0}]/");
        invalid("http://\u{0}x");
        invalid("http:\\\\a\u{2028}");
        assert_eq!(host("http:\u{2028}"), Ok(None));
        assert_eq!(host("\u{1}http://x").unwrap(), Some("x".into()));
        for s in ["http://%zz@x/", "http://%E0%A4%A@x/", "http://a%@x", "http://%C0%80@x"] {
            assert_eq!(host(s), Err(UrlError::UriMalformed), "{s:?}");
        }
        assert_eq!(host("http://%C3%A9@x"), Ok(Some("x".into())));
    }

    /// The kept verdicts are the verdicts: URLs that need the full parse,
    /// valid and not, asked for again and again in orders that hit, miss
    /// and evict (more URLs than kept ones), on several threads at once.
    #[test]
    fn kept_verdicts_are_the_verdicts() {
        let urls = [
            "http://ÄÖ.com/",
            "http://xn--abc.com",
            "https://XN--ZCA.de",
            "http://a\u{2028}b/",
            "http://%zz@x/",
            "http://a:b@c:d/",
            "http://[::1]x/",
            "HTTP://faß.de",
            "http://\u{fffd}.com",
            &format!("http://é{}", "a".repeat(300)),
        ];
        let fresh: Vec<bool> = urls.iter().map(|s| parse_http_host(s).is_some_and(|r| r.is_ok())).collect();
        assert!(fresh.contains(&true) && fresh.contains(&false));
        let check = || {
            for step in [1, 2, 3, 7, 1, 9] {
                for k in 0..urls.len() * 3 {
                    let i = k * step % urls.len();
                    assert_eq!(is_http_url(urls[i]), fresh[i], "{:?}", urls[i]);
                    assert_eq!(is_http_url(urls[i]), fresh[i], "{:?} again", urls[i]);
                }
            }
        };
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(check);
            }
        });
        check();
    }

    #[test]
    fn http_check_agrees_with_parse() {
        for s in ["http://a.b/", "https://XN--ZCA.de", "http://a:80", "http://a:8x/", "http://a b", "http://a\tb/"] {
            let full = parse(s).is_ok_and(|u| matches!(u.protocol.as_deref(), Some("http:" | "https:")));
            assert_eq!(is_http_url(s), full, "{s:?}");
        }
        for s in [
            "http://x",
            "HTTPS://X.com/a",
            " https://a",
            "http:",
            "ftp://a",
            "http//x",
            "HTTP:\u{2028}",
            "http:a\u{2028}",
        ] {
            let full = parse(s).is_ok_and(|u| matches!(u.protocol.as_deref(), Some("http:" | "https:")));
            assert_eq!(is_http_url(s), full, "{s:?}");
        }
    }
}
