//! `new Date(x).toISOString()` as Node 20 (V8 11.3) computes it, for the
//! `created` time of a Docker image: V8's date parser (ES5 ISO 8601 date
//! times, then its legacy formats: `Tue, 5 May 2015 10:11:12 PST`,
//! `2015/01/02`, `May 5`, ...), `MakeDay`/`MakeTime`, `TimeClip`, and the
//! ISO format with six-digit years outside 0..9999.
//!
//! One difference: where V8 reads a time without a zone as the machine's
//! local time, this reads it as UTC (what Node answers on a machine set to
//! UTC). Docker writes `created` in UTC, with a `Z`.

/// A time value in milliseconds since the epoch, or `None` for NaN.
pub(crate) type TimeValue = Option<f64>;

const MAX_TIME_MS: f64 = 8.64e15;
/// V8 lets a local time be up to ten days past the range before it is
/// converted to UTC.
const MAX_TIME_BEFORE_UTC_MS: f64 = MAX_TIME_MS + 864e6;

/// ES TimeClip.
pub(crate) fn time_clip(t: f64) -> TimeValue {
    (t.is_finite() && t.abs() <= MAX_TIME_MS).then(|| t.trunc() + 0.0)
}

/// `Date.prototype.toISOString`; `None` where it throws (an invalid date).
pub(crate) fn to_iso_string(t: TimeValue) -> Option<String> {
    let t = t? as i64;
    let (days, ms) = (t.div_euclid(86_400_000), t.rem_euclid(86_400_000));
    let (y, m, d) = crate::calendar::civil_from_days(days);
    let year = if (0..=9999).contains(&y) {
        format!("{y:04}")
    } else {
        format!("{}{:06}", if y < 0 { '-' } else { '+' }, y.abs())
    };
    Some(format!(
        "{year}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    ))
}

/// `Date.parse(s)` (V8's `ParseDateTimeString`), local times read as UTC.
pub(crate) fn parse(s: &str) -> TimeValue {
    let units: Vec<u16> = s.encode_utf16().collect();
    let f = Parser::parse(&units)?;
    let day = make_day(f.year, f.month, f.day)?;
    let time = ((f.hour * 60 + f.minute) * 60 + f.second) as f64 * 1000.0 + f.millisecond as f64;
    let mut date = day * 86_400_000.0 + time;
    match f.utc_offset {
        None => {
            if date.abs() > MAX_TIME_BEFORE_UTC_MS {
                return None;
            }
        }
        Some(offset) => {
            date -= offset as f64 * 1000.0;
            if date.abs() > MAX_TIME_MS {
                return None;
            }
        }
    }
    time_clip(date)
}

/// V8's `MakeDay` for a month 0..11 and a day 1..31 (a day past the
/// month's end runs into the next month).
fn make_day(year: i64, month: i64, day: i64) -> Option<f64> {
    if !(-1_000_000..=1_000_000).contains(&year) {
        return None;
    }
    Some(crate::calendar::days_from_civil(year, month + 1, day) as f64)
}

/// What the parser fills in (`DateParser::Parse`'s output array).
struct Fields {
    year: i64,
    /// 0-based.
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    millisecond: i64,
    /// Seconds east of UTC; `None` for local time.
    utc_offset: Option<i64>,
}

/// V8's "missing value" (`kMaxInt`).
const NONE: i32 = i32::MAX;
const MAX_SIGNIFICANT_DIGITS: usize = 9;

fn between(x: i32, lo: i32, hi: i32) -> bool {
    (x.wrapping_sub(lo) as u32) <= (hi.wrapping_sub(lo) as u32)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum KeywordType {
    Invalid,
    MonthName,
    TimeZoneName,
    TimeSeparator,
    AmPm,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Token {
    Invalid,
    Unknown,
    WhiteSpace,
    Number { value: i32, length: usize },
    Symbol(u8),
    EndOfInput,
    Keyword { kind: KeywordType, value: i32, length: usize },
}

impl Token {
    fn is_symbol(self, c: u8) -> bool {
        self == Token::Symbol(c)
    }
    fn is_fixed_length_number(self, n: usize) -> bool {
        matches!(self, Token::Number { length, .. } if length == n)
    }
    fn number(self) -> i32 {
        match self {
            Token::Number { value, .. } => value,
            _ => 0,
        }
    }
    fn is_number(self) -> bool {
        matches!(self, Token::Number { .. })
    }
    fn is_ascii_sign(self) -> bool {
        matches!(self, Token::Symbol(b'+' | b'-'))
    }
    fn ascii_sign(self) -> i32 {
        if self == Token::Symbol(b'-') {
            -1
        } else {
            1
        }
    }
    fn is_keyword_type(self, kind: KeywordType) -> bool {
        matches!(self, Token::Keyword { kind: k, .. } if k == kind)
    }
    fn is_keyword_z(self) -> bool {
        matches!(self, Token::Keyword { kind: KeywordType::TimeZoneName, value: 0, length: 1 })
    }
}

/// Month names, AM/PM, zone names and `T`, by their first three letters.
const KEYWORDS: &[([u8; 3], KeywordType, i32)] = {
    use KeywordType::*;
    &[
        (*b"jan", MonthName, 1),
        (*b"feb", MonthName, 2),
        (*b"mar", MonthName, 3),
        (*b"apr", MonthName, 4),
        (*b"may", MonthName, 5),
        (*b"jun", MonthName, 6),
        (*b"jul", MonthName, 7),
        (*b"aug", MonthName, 8),
        (*b"sep", MonthName, 9),
        (*b"oct", MonthName, 10),
        (*b"nov", MonthName, 11),
        (*b"dec", MonthName, 12),
        (*b"am\0", AmPm, 0),
        (*b"pm\0", AmPm, 12),
        (*b"ut\0", TimeZoneName, 0),
        (*b"utc", TimeZoneName, 0),
        (*b"z\0\0", TimeZoneName, 0),
        (*b"gmt", TimeZoneName, 0),
        (*b"cdt", TimeZoneName, -5),
        (*b"cst", TimeZoneName, -6),
        (*b"edt", TimeZoneName, -4),
        (*b"est", TimeZoneName, -5),
        (*b"mdt", TimeZoneName, -6),
        (*b"mst", TimeZoneName, -7),
        (*b"pdt", TimeZoneName, -7),
        (*b"pst", TimeZoneName, -8),
        (*b"t\0\0", TimeSeparator, 0),
    ]
};

fn keyword(prefix: [u32; 3], len: usize) -> (KeywordType, i32) {
    for &(word, kind, value) in KEYWORDS {
        if prefix.iter().zip(word).all(|(&p, w)| p == u32::from(w)) && (len <= 3 || kind == KeywordType::MonthName) {
            return (kind, value);
        }
    }
    (KeywordType::Invalid, 0)
}

/// ES WhiteSpace.
fn is_white_space(c: u32) -> bool {
    matches!(c, 0x9 | 0xb | 0xc | 0x20 | 0xa0 | 0x1680 | 0x2000..=0x200a | 0x202f | 0x205f | 0x3000 | 0xfeff)
}

/// ES WhiteSpace and LineTerminator.
fn is_white_space_or_line_terminator(c: u32) -> bool {
    is_white_space(c) || matches!(c, 0xa | 0xd | 0x2028 | 0x2029)
}

/// A character of a word: `A` and above, but not white space.
fn is_word_char(c: u32) -> bool {
    c >= u32::from(b'A') && !is_white_space(c)
}

/// V8's `InputReader` and `DateStringTokenizer` over UTF-16 code units. A
/// NUL ends the input, as in V8.
struct Scanner<'a> {
    s: &'a [u16],
    index: usize,
    ch: u32,
    next: Token,
}

impl<'a> Scanner<'a> {
    fn new(s: &'a [u16]) -> Self {
        let mut sc = Scanner { s, index: 0, ch: 0, next: Token::EndOfInput };
        sc.advance();
        sc.next = sc.scan();
        sc
    }

    fn advance(&mut self) {
        self.ch = self.s.get(self.index).map_or(0, |&u| u32::from(u));
        self.index += 1;
    }

    fn skip(&mut self, c: u8) -> bool {
        if self.ch == u32::from(c) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn is_digit(&self) -> bool {
        (u32::from(b'0')..=u32::from(b'9')).contains(&self.ch)
    }

    fn scan(&mut self) -> Token {
        let pre = self.index;
        if self.ch == 0 {
            return Token::EndOfInput;
        }
        if self.is_digit() {
            let (mut n, mut i) = (0i32, 0usize);
            // Leading zeros are not among the significant digits.
            while self.ch == u32::from(b'0') {
                self.advance();
            }
            while self.is_digit() {
                if i < MAX_SIGNIFICANT_DIGITS {
                    n = n * 10 + (self.ch - u32::from(b'0')) as i32;
                }
                i += 1;
                self.advance();
            }
            return Token::Number { value: n, length: self.index - pre };
        }
        for c in [b':', b'-', b'+', b'.', b')'] {
            if self.skip(c) {
                return Token::Symbol(c);
            }
        }
        if is_word_char(self.ch) {
            let mut prefix = [0u32; 3];
            let mut len = 0;
            while is_word_char(self.ch) {
                if len < 3 {
                    prefix[len] = self.ch | 0x20;
                }
                len += 1;
                self.advance();
            }
            let (kind, value) = keyword(prefix, len);
            return Token::Keyword { kind, value, length: len };
        }
        if is_white_space_or_line_terminator(self.ch) {
            self.advance();
            return Token::WhiteSpace;
        }
        if self.ch == u32::from(b'(') {
            let mut balance = 0;
            loop {
                if self.ch == u32::from(b')') {
                    balance -= 1;
                } else if self.ch == u32::from(b'(') {
                    balance += 1;
                }
                self.advance();
                if !(balance > 0 && self.ch != 0) {
                    break;
                }
            }
            return Token::Unknown;
        }
        self.advance();
        Token::Unknown
    }

    fn next(&mut self) -> Token {
        let t = self.next;
        self.next = self.scan();
        t
    }

    fn peek(&self) -> Token {
        self.next
    }

    fn skip_symbol(&mut self, c: u8) -> bool {
        if self.next.is_symbol(c) {
            self.next = self.scan();
            true
        } else {
            false
        }
    }
}

struct TimeZone {
    sign: i32,
    hour: i32,
    minute: i32,
}

impl TimeZone {
    fn set(&mut self, offset_in_hours: i32) {
        self.sign = if offset_in_hours < 0 { -1 } else { 1 };
        self.hour = offset_in_hours * self.sign;
        self.minute = 0;
    }
    fn set_sign(&mut self, sign: i32) {
        self.sign = if sign < 0 { -1 } else { 1 };
    }
    fn is_expecting(&self, n: i32) -> bool {
        self.hour != NONE && self.minute == NONE && is_minute(n)
    }
    fn is_utc(&self) -> bool {
        self.hour == 0 && self.minute == 0
    }
    fn is_empty(&self) -> bool {
        self.hour == NONE
    }
    fn write(&self) -> Option<Option<i64>> {
        if self.sign == NONE {
            return Some(None);
        }
        let hour = if self.hour == NONE { 0 } else { self.hour };
        let minute = if self.minute == NONE { 0 } else { self.minute };
        // Unsigned 32-bit arithmetic, as V8 does it, against a 32-bit Smi.
        let total = (hour as u32).wrapping_mul(3600).wrapping_add((minute as u32).wrapping_mul(60));
        if total > i32::MAX as u32 {
            return None;
        }
        let total = i64::from(total);
        Some(Some(if self.sign < 0 { -total } else { total }))
    }
}

fn is_minute(x: i32) -> bool {
    between(x, 0, 59)
}
fn is_hour(x: i32) -> bool {
    between(x, 0, 23)
}
fn is_second(x: i32) -> bool {
    between(x, 0, 59)
}

struct Time {
    comp: [i32; 4],
    index: usize,
    hour_offset: i32,
}

impl Time {
    fn is_empty(&self) -> bool {
        self.index == 0
    }
    fn is_expecting(&self, n: i32) -> bool {
        (self.index == 1 && is_minute(n))
            || (self.index == 2 && is_second(n))
            || (self.index == 3 && between(n, 0, 999))
    }
    fn add(&mut self, n: i32) -> bool {
        if self.index < 4 {
            self.comp[self.index] = n;
            self.index += 1;
            true
        } else {
            false
        }
    }
    fn add_final(&mut self, n: i32) -> bool {
        if !self.add(n) {
            return false;
        }
        while self.index < 4 {
            self.comp[self.index] = 0;
            self.index += 1;
        }
        true
    }
    fn write(&mut self) -> Option<[i32; 4]> {
        while self.index < 4 {
            self.comp[self.index] = 0;
            self.index += 1;
        }
        let [mut hour, minute, second, ms] = self.comp;
        if self.hour_offset != NONE {
            if !between(hour, 0, 12) {
                return None;
            }
            hour %= 12;
            hour += self.hour_offset;
        }
        if !is_hour(hour) || !is_minute(minute) || !is_second(second) || !between(ms, 0, 999) {
            // 24:00:00.000 is allowed.
            if hour != 24 || minute != 0 || second != 0 || ms != 0 {
                return None;
            }
        }
        Some([hour, minute, second, ms])
    }
}

struct Day {
    comp: [i32; 3],
    index: usize,
    named_month: i32,
    is_iso_date: bool,
}

fn is_month(x: i32) -> bool {
    between(x, 1, 12)
}
fn is_day(x: i32) -> bool {
    between(x, 1, 31)
}

impl Day {
    fn is_empty(&self) -> bool {
        self.index == 0
    }
    fn add(&mut self, n: i32) -> bool {
        if self.index < 3 {
            self.comp[self.index] = n;
            self.index += 1;
            true
        } else {
            false
        }
    }
    fn write(&mut self) -> Option<(i64, i64, i64)> {
        if self.index < 1 {
            return None;
        }
        while self.index < 3 {
            self.comp[self.index] = 1;
            self.index += 1;
        }
        let c = self.comp;
        let (mut year, month, day);
        if self.named_month == NONE {
            if self.is_iso_date || (self.index == 3 && !is_day(c[0])) {
                (year, month, day) = (c[0], c[1], c[2]);
            } else {
                (month, day) = (c[0], c[1]);
                year = if self.index == 3 { c[2] } else { 0 };
            }
        } else {
            month = self.named_month;
            if self.index == 1 {
                (year, day) = (0, c[0]);
            } else if !is_day(c[0]) {
                (year, day) = (c[0], c[1]);
            } else {
                (day, year) = (c[0], c[1]);
            }
        }
        if !self.is_iso_date {
            if between(year, 0, 49) {
                year += 2000;
            } else if between(year, 50, 99) {
                year += 1900;
            }
        }
        if !is_month(month) || !is_day(day) {
            return None;
        }
        Some((i64::from(year), i64::from(month - 1), i64::from(day)))
    }
}

/// ReadMilliseconds: the first three significant digits of a numeral.
fn read_milliseconds(token: Token) -> i32 {
    let Token::Number { value, length } = token else { return 0 };
    match length {
        1 => value * 100,
        2 => value * 10,
        3 => value,
        _ => {
            let mut length = length.min(MAX_SIGNIFICANT_DIGITS);
            let mut factor = 1;
            while length > 3 {
                factor *= 10;
                length -= 1;
            }
            value / factor
        }
    }
}

struct Parser;

impl Parser {
    fn parse(s: &[u16]) -> Option<Fields> {
        let mut scanner = Scanner::new(s);
        let mut tz = TimeZone { sign: NONE, hour: NONE, minute: NONE };
        let mut time = Time { comp: [0; 4], index: 0, hour_offset: NONE };
        let mut day = Day { comp: [0; 3], index: 0, named_month: NONE, is_iso_date: false };

        let next_unhandled = parse_es5(&mut scanner, &mut day, &mut time, &mut tz);
        if next_unhandled == Token::Invalid {
            return None;
        }
        let mut has_read_number = !day.is_empty();
        let mut token = next_unhandled;
        while token != Token::EndOfInput {
            if let Token::Number { value: n, .. } = token {
                has_read_number = true;
                if scanner.skip_symbol(b':') {
                    if scanner.skip_symbol(b':') {
                        if !time.is_empty() {
                            return None;
                        }
                        time.add(n);
                        time.add(0);
                    } else {
                        if !time.add(n) {
                            return None;
                        }
                        if scanner.peek().is_symbol(b'.') {
                            scanner.next();
                        }
                    }
                } else if scanner.skip_symbol(b'.') && time.is_expecting(n) {
                    time.add(n);
                    if !scanner.peek().is_number() {
                        return None;
                    }
                    let ms = read_milliseconds(scanner.next());
                    if ms < 0 {
                        return None;
                    }
                    time.add_final(ms);
                } else if tz.is_expecting(n) {
                    tz.minute = n;
                } else if time.is_expecting(n) {
                    time.add_final(n);
                    let peek = scanner.peek();
                    if !matches!(peek, Token::EndOfInput | Token::WhiteSpace)
                        && !peek.is_keyword_z()
                        && !peek.is_ascii_sign()
                    {
                        return None;
                    }
                } else {
                    if !day.add(n) {
                        return None;
                    }
                    scanner.skip_symbol(b'-');
                }
            } else if let Token::Keyword { kind, value, .. } = token {
                if kind == KeywordType::AmPm && !time.is_empty() {
                    time.hour_offset = value;
                } else if kind == KeywordType::MonthName {
                    day.named_month = value;
                    scanner.skip_symbol(b'-');
                } else if kind == KeywordType::TimeZoneName && has_read_number {
                    tz.set(value);
                } else {
                    if has_read_number {
                        return None;
                    }
                    if scanner.peek().is_number() {
                        return None;
                    }
                }
            } else if token.is_ascii_sign() && (tz.is_utc() || !time.is_empty()) {
                tz.set_sign(token.ascii_sign());
                let (mut n, mut length) = (0, 0);
                if scanner.peek().is_number() {
                    let t = scanner.next();
                    if let Token::Number { value, length: l } = t {
                        (n, length) = (value, l);
                    }
                }
                has_read_number = true;
                if scanner.peek().is_symbol(b':') {
                    tz.hour = n;
                    tz.minute = NONE;
                } else if length == 1 || length == 2 {
                    tz.hour = n;
                    tz.minute = 0;
                } else if length == 3 || length == 4 {
                    tz.hour = n / 100;
                    tz.minute = n % 100;
                } else {
                    return None;
                }
            } else if (token.is_ascii_sign() || token.is_symbol(b')')) && has_read_number {
                return None;
            }
            token = scanner.next();
        }
        let (year, month, day) = day.write()?;
        let [hour, minute, second, millisecond] = time.write()?;
        let utc_offset = tz.write()?;
        Some(Fields {
            year,
            month,
            day,
            hour: hour.into(),
            minute: minute.into(),
            second: second.into(),
            millisecond: millisecond.into(),
            utc_offset,
        })
    }
}

/// `ParseES5DateTime`: as far as the input is an ES5 date time string.
/// Returns the next token for the legacy parser, `EndOfInput` when done,
/// `Invalid` when it can be neither.
fn parse_es5(scanner: &mut Scanner, day: &mut Day, time: &mut Time, tz: &mut TimeZone) -> Token {
    if scanner.peek().is_ascii_sign() {
        let sign_token = scanner.next();
        if !scanner.peek().is_fixed_length_number(6) {
            return sign_token;
        }
        let sign = sign_token.ascii_sign();
        let year = scanner.next().number();
        if sign < 0 && year == 0 {
            return sign_token;
        }
        day.add(sign * year);
    } else if scanner.peek().is_fixed_length_number(4) {
        let y = scanner.next().number();
        day.add(y);
    } else {
        return scanner.next();
    }
    if scanner.skip_symbol(b'-') {
        if !scanner.peek().is_fixed_length_number(2) || !is_month(scanner.peek().number()) {
            return scanner.next();
        }
        let m = scanner.next().number();
        day.add(m);
        if scanner.skip_symbol(b'-') {
            if !scanner.peek().is_fixed_length_number(2) || !is_day(scanner.peek().number()) {
                return scanner.next();
            }
            let d = scanner.next().number();
            day.add(d);
        }
    }
    if !scanner.peek().is_keyword_type(KeywordType::TimeSeparator) {
        if scanner.peek() != Token::EndOfInput {
            return scanner.next();
        }
    } else {
        scanner.next();
        if !scanner.peek().is_fixed_length_number(2) || !between(scanner.peek().number(), 0, 24) {
            return Token::Invalid;
        }
        let hour_is_24 = scanner.peek().number() == 24;
        let h = scanner.next().number();
        time.add(h);
        if !scanner.skip_symbol(b':') {
            return Token::Invalid;
        }
        if !scanner.peek().is_fixed_length_number(2)
            || !is_minute(scanner.peek().number())
            || (hour_is_24 && scanner.peek().number() > 0)
        {
            return Token::Invalid;
        }
        let m = scanner.next().number();
        time.add(m);
        if scanner.skip_symbol(b':') {
            if !scanner.peek().is_fixed_length_number(2)
                || !is_second(scanner.peek().number())
                || (hour_is_24 && scanner.peek().number() > 0)
            {
                return Token::Invalid;
            }
            let s = scanner.next().number();
            time.add(s);
            if scanner.skip_symbol(b'.') {
                if !scanner.peek().is_number() || (hour_is_24 && scanner.peek().number() > 0) {
                    return Token::Invalid;
                }
                let ms = read_milliseconds(scanner.next());
                time.add(ms);
            }
        }
        if scanner.peek().is_keyword_z() {
            scanner.next();
            tz.set(0);
        } else if scanner.peek().is_symbol(b'+') || scanner.peek().is_symbol(b'-') {
            let sign = if scanner.next().is_symbol(b'+') { 1 } else { -1 };
            tz.set_sign(sign);
            if scanner.peek().is_fixed_length_number(4) {
                let hourmin = scanner.next().number();
                let (hour, min) = (hourmin / 100, hourmin % 100);
                if !is_hour(hour) || !is_minute(min) {
                    return Token::Invalid;
                }
                tz.hour = hour;
                tz.minute = min;
            } else {
                if !scanner.peek().is_fixed_length_number(2) || !is_hour(scanner.peek().number()) {
                    return Token::Invalid;
                }
                tz.hour = scanner.next().number();
                if !scanner.skip_symbol(b':') {
                    return Token::Invalid;
                }
                if !scanner.peek().is_fixed_length_number(2) || !is_minute(scanner.peek().number()) {
                    return Token::Invalid;
                }
                tz.minute = scanner.next().number();
            }
        }
        if scanner.peek() != Token::EndOfInput {
            return Token::Invalid;
        }
    }
    // Date-only forms without a zone are UTC; date-time forms local.
    if tz.is_empty() && time.is_empty() {
        tz.set(0);
    }
    day.is_iso_date = true;
    Token::EndOfInput
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn iso(s: &str) -> Option<String> {
        to_iso_string(parse(s))
    }

    #[test]
    fn dates_as_v8_reads_them() {
        assert_eq!(iso("2015-08-06T21:11:58.412862713Z").as_deref(), Some("2015-08-06T21:11:58.412Z"));
        assert_eq!(iso("Tue, 5 May 2015 10:11:12 PST").as_deref(), Some("2015-05-05T18:11:12.000Z"));
        assert_eq!(iso("2015").as_deref(), Some("2015-01-01T00:00:00.000Z"));
        assert_eq!(iso("2015/01/02").as_deref(), Some("2015-01-02T00:00:00.000Z"));
        assert_eq!(iso("+275760-09-13T00:00:00Z").as_deref(), Some("+275760-09-13T00:00:00.000Z"));
        assert_eq!(iso("+275760-09-13T00:00:00.001Z"), None);
        assert_eq!(iso("-000001-01-01").as_deref(), Some("-000001-01-01T00:00:00.000Z"));
        assert_eq!(iso("2015-02-31").as_deref(), Some("2015-03-03T00:00:00.000Z"));
        assert_eq!(iso("2015-13-01"), None);
        assert_eq!(iso("[object Object]"), None);
        assert_eq!(iso(""), None);
        assert_eq!(iso("12:30 pm May 5 99").as_deref(), Some("1999-05-05T12:30:00.000Z"));
        assert_eq!(to_iso_string(time_clip(-1.5)).as_deref(), Some("1969-12-31T23:59:59.999Z"));
        assert_eq!(to_iso_string(time_clip(8.64e15 + 1.0)), None);
    }

    proptest! {
        /// Any string: an answer, never a panic; valid times print and stay
        /// in range.
        #[test]
        fn any_string_parses_or_not(s in "\\PC{0,40}") {
            if let Some(t) = parse(&s) {
                prop_assert!(t.abs() <= MAX_TIME_MS);
                prop_assert!(to_iso_string(Some(t)).is_some());
            }
        }

        /// An ISO string written by toISOString reads back as the same time.
        #[test]
        fn iso_strings_read_back(t in -8.64e15f64..8.64e15) {
            let t = t.trunc();
            let s = to_iso_string(Some(t)).unwrap();
            prop_assert_eq!(parse(&s), Some(t + 0.0), "{}", s);
        }
    }
}
