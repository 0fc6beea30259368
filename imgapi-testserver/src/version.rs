//! `Accept-Version`: restify picks, for every route, the highest of the
//! server's versions (`['1.0.0', '2.0.0']` in sdc-imgapi's `lib/app.js`) that
//! the header's node-semver range allows, else answers 400 `InvalidVersion`.
//! A request without the header is `~1` (sdc-imgapi's `server.pre`). This is
//! the part of node-semver's range grammar that can tell 1.0.0 from 2.0.0:
//! `*`/`x`, partial versions, `~`, `^`, comparators, hyphen ranges, spaces
//! (and) and `||` (or).

type V = (u64, u64, u64);

/// The versions IMGAPI 4.13.1 serves, highest first.
const SERVED: [V; 2] = [(2, 0, 0), (1, 0, 0)];

/// The served version the range selects; `None` if it selects none or does
/// not parse (node-semver's `maxSatisfying` is then null too).
pub fn negotiate(range: &str) -> Option<u64> {
    SERVED.iter().find(|v| satisfies(range, **v) == Some(true)).map(|v| v.0)
}

/// Whether `v` is in `range`; `None` if the range does not parse.
pub fn satisfies(range: &str, v: V) -> Option<bool> {
    let mut any = false;
    for alt in range.split("||") {
        let tokens: Vec<&str> = alt.split_whitespace().collect();
        let mut all = true;
        let mut i = 0;
        if tokens.is_empty() {
            // An empty range is `*`.
            any = true;
            continue;
        }
        while i < tokens.len() {
            // `A - B`
            if tokens.get(i + 1) == Some(&"-") {
                let lo = partial(tokens[i])?;
                let hi = partial(tokens.get(i + 2)?)?;
                all &= cmp_ge(v, lo.fill()) && below_or_at(v, hi);
                i += 3;
                continue;
            }
            all &= comparator(tokens[i], v)?;
            i += 1;
        }
        any |= all;
    }
    Some(any)
}

/// A version with missing or wildcard parts.
#[derive(Clone, Copy)]
struct Partial {
    major: Option<u64>,
    minor: Option<u64>,
    patch: Option<u64>,
}

impl Partial {
    fn fill(self) -> V {
        (self.major.unwrap_or(0), self.minor.unwrap_or(0), self.patch.unwrap_or(0))
    }
}

fn partial(s: &str) -> Option<Partial> {
    let s = s.strip_prefix('v').or_else(|| s.strip_prefix('=')).unwrap_or(s);
    let s = s.strip_prefix('v').unwrap_or(s);
    if s.is_empty() {
        return None;
    }
    let mut parts = s.split('.');
    let mut next = || -> Option<Option<u64>> {
        match parts.next() {
            None | Some("x") | Some("X") | Some("*") => Some(None),
            Some(p) => p.parse().ok().map(Some),
        }
    };
    let major = next()?;
    let minor = next()?;
    let patch = next()?;
    if parts.next().is_some() {
        return None;
    }
    // Nothing after a wildcard.
    if (major.is_none() && (minor.is_some() || patch.is_some())) || (minor.is_none() && patch.is_some()) {
        return None;
    }
    Some(Partial { major, minor, patch })
}

fn cmp_ge(v: V, lo: V) -> bool {
    v >= lo
}

/// `v` at or below the partial `hi` (`<=1.2` means `<1.3.0`).
fn below_or_at(v: V, hi: Partial) -> bool {
    match (hi.major, hi.minor, hi.patch) {
        (None, _, _) => true,
        (Some(a), None, _) => v < (a + 1, 0, 0),
        (Some(a), Some(b), None) => v < (a, b + 1, 0),
        (Some(a), Some(b), Some(c)) => v <= (a, b, c),
    }
}

/// `v` inside the partial `p` (`1.2` means `>=1.2.0 <1.3.0`).
fn within(v: V, p: Partial) -> bool {
    cmp_ge(v, p.fill()) && below_or_at(v, p)
}

fn comparator(tok: &str, v: V) -> Option<bool> {
    if matches!(tok, "*" | "x" | "X") {
        return Some(true);
    }
    if let Some(rest) = tok.strip_prefix(">=") {
        return Some(v >= partial(rest)?.fill());
    }
    if let Some(rest) = tok.strip_prefix("<=") {
        return Some(below_or_at(v, partial(rest)?));
    }
    if let Some(rest) = tok.strip_prefix('>') {
        let p = partial(rest)?;
        // `>1.2` means `>=1.3.0`.
        return Some(match (p.major, p.minor, p.patch) {
            (None, _, _) => false,
            (Some(a), None, _) => v >= (a + 1, 0, 0),
            (Some(a), Some(b), None) => v >= (a, b + 1, 0),
            (Some(a), Some(b), Some(c)) => v > (a, b, c),
        });
    }
    if let Some(rest) = tok.strip_prefix('<') {
        return Some(v < partial(rest)?.fill());
    }
    if let Some(rest) = tok.strip_prefix('~') {
        let rest = rest.strip_prefix('>').unwrap_or(rest);
        let p = partial(rest)?;
        // `~1.2.3` and `~1.2`: same minor; `~1`: same major.
        return Some(match (p.major, p.minor) {
            (None, _) => true,
            (Some(a), None) => v.0 == a,
            (Some(a), Some(b)) => v >= p.fill() && v < (a, b + 1, 0),
        });
    }
    if let Some(rest) = tok.strip_prefix('^') {
        let p = partial(rest)?;
        let lo = p.fill();
        // The leftmost non-zero part stays fixed.
        return Some(match (p.major, p.minor, p.patch) {
            (None, _, _) => true,
            (Some(a), _, _) if a > 0 => v >= lo && v < (a + 1, 0, 0),
            (Some(_), None, _) => v < (1, 0, 0),
            (Some(_), Some(b), _) if b > 0 => v >= lo && v < (0, b + 1, 0),
            (Some(_), Some(_), None) => v < (0, 1, 0),
            (Some(_), Some(_), Some(c)) => v >= lo && v < (0, 0, c + 1),
        });
    }
    Some(within(v, partial(tok)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        for (range, want) in [
            ("*", Some(2)),
            ("~2", Some(2)),
            ("~1", Some(1)),
            ("2.x", Some(2)),
            ("^2.0.0", Some(2)),
            (">=1", Some(2)),
            ("<2", Some(1)),
            ("1.0.0", Some(1)),
            ("2", Some(2)),
            ("~1 || ~2", Some(2)),
            (">=1.0.0 <2.0.0", Some(1)),
            ("1 - 2", Some(2)),
            ("~9", None),
            ("3.x", None),
            ("1.5.0", None),
            ("bogus", None),
        ] {
            assert_eq!(negotiate(range), want, "{range}");
        }
    }
}
