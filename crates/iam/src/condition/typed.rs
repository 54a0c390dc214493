//! Parsing of typed condition values: numbers, dates (W3C ISO 8601 or epoch seconds), booleans, base64 binary,
//! IP addresses and CIDR blocks, ARNs. Policy values are parsed once at parse time; request values per call.

use std::net::IpAddr;

use base64::Engine as _;
use ipnet::IpNet;

use super::glob::Glob;

/// A number as IAM's Numeric operators compare it (integer or decimal).
pub fn parse_number(text: &str) -> Option<f64> {
    let t = text.trim();
    // Rust's float parser also accepts `inf`, `NaN` and `1e5`; IAM numbers are plain integers or decimals.
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        || digits.bytes().filter(|&b| b == b'.').count() > 1
    {
        return None;
    }
    if digits == "." {
        return None;
    }
    t.parse::<f64>().ok()
}

/// A date as milliseconds since the Unix epoch. Accepts epoch seconds (`1700000000`) and the W3C profile of
/// ISO 8601 that IAM documents: `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, `YYYY-MM-DDThh:mmTZD`, `…:ss` and `…:ss.s+`,
/// where TZD is `Z` or `±hh:mm` (a missing TZD is read as UTC).
pub fn parse_date(text: &str) -> Option<i128> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) && t.len() != 4 {
        return t.parse::<i128>().ok().map(|s| s * 1000);
    }
    if let Some(rest) = t.strip_prefix('-')
        && !rest.is_empty()
        && rest.bytes().all(|b| b.is_ascii_digit())
    {
        return rest.parse::<i128>().ok().map(|s| -s * 1000);
    }
    let b = t.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = t.get(range)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let year = num(0..4)?;
    let (mut month, mut day) = (1, 1);
    let mut pos = 4;
    if b.get(pos) == Some(&b'-') {
        month = num(5..7)?;
        pos = 7;
        if b.get(pos) == Some(&b'-') {
            day = num(8..10)?;
            pos = 10;
        }
    }
    let (mut hour, mut minute, mut second, mut millis) = (0i64, 0i64, 0i64, 0i64);
    let mut offset_minutes = 0i64;
    if matches!(b.get(pos), Some(b'T' | b't')) {
        hour = num(pos + 1..pos + 3)?;
        if b.get(pos + 3) != Some(&b':') {
            return None;
        }
        minute = num(pos + 4..pos + 6)?;
        pos += 6;
        if b.get(pos) == Some(&b':') {
            second = num(pos + 1..pos + 3)?;
            pos += 3;
            if b.get(pos) == Some(&b'.') {
                let start = pos + 1;
                let mut end = start;
                while b.get(end).is_some_and(u8::is_ascii_digit) {
                    end += 1;
                }
                if end == start {
                    return None;
                }
                let frac = &t[start..end.min(start + 3)];
                millis = frac.parse::<i64>().ok()? * 10i64.pow(3 - frac.len() as u32);
                pos = end;
            }
        }
        match b.get(pos) {
            None => {}
            Some(b'Z' | b'z') => pos += 1,
            Some(&sign @ (b'+' | b'-')) => {
                let h = num(pos + 1..pos + 3)?;
                let m = if b.get(pos + 3) == Some(&b':') {
                    let m = num(pos + 4..pos + 6)?;
                    pos += 6;
                    m
                } else {
                    let m = num(pos + 3..pos + 5)?;
                    pos += 5;
                    m
                };
                if h > 23 || m > 59 {
                    return None;
                }
                offset_minutes = (h * 60 + m) * if sign == b'+' { 1 } else { -1 };
            }
            Some(_) => return None,
        }
    }
    if pos != b.len() || hour > 24 || minute > 59 || second > 60 {
        return None;
    }
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date =
        time::Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?)
            .ok()?;
    let days = i128::from(date.to_julian_day()) - 2_440_588; // Julian day of 1970-01-01
    let seconds =
        days * 86_400 + i128::from(hour * 3600 + minute * 60 + second - offset_minutes * 60);
    Some(seconds * 1000 + i128::from(millis))
}

/// `Bool` compares `true`/`false` without regard to case.
pub fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// `BinaryEquals` values are base64 (standard alphabet, padded); compared byte for byte after decoding.
pub fn parse_binary(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()
}

/// A policy `IpAddress` value: a CIDR block, or a bare address meaning `/32` (IPv4) or `/128` (IPv6).
pub fn parse_cidr(text: &str) -> Option<IpNet> {
    let t = text.trim();
    if let Ok(net) = t.parse::<IpNet>() {
        return Some(canonical_net(net.trunc()));
    }
    t.parse::<IpAddr>()
        .ok()
        .map(|ip| IpNet::from(ip.to_canonical()))
}

/// An IPv4-mapped IPv6 range (`::ffff:10.0.0.0/104`) as the IPv4 range it maps (`10.0.0.0/8`), so that it matches
/// an IPv4 request address; any other range unchanged.
fn canonical_net(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.network().to_ipv4_mapped() {
            Some(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
                .map(IpNet::V4)
                .unwrap_or(net),
            None => net,
        },
        other => other,
    }
}

/// A request `aws:SourceIp` value: an address.
///
/// An IPv4-mapped IPv6 address (`::ffff:10.1.0.7`, what a dual-stack socket reports for an IPv4 peer) is the
/// IPv4 address it maps, so it matches IPv4 ranges in `IpAddress`/`NotIpAddress`.
pub fn parse_ip(text: &str) -> Option<IpAddr> {
    text.trim()
        .parse::<IpAddr>()
        .ok()
        .map(|ip| ip.to_canonical())
}

/// An ARN pattern: six colon-separated components, each its own wildcard pattern, so `*` never crosses a `:`
/// (the last component, the resource, keeps any further colons).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArnPattern {
    parts: Vec<Glob>,
}

impl ArnPattern {
    pub fn new(pattern: &str) -> Option<Self> {
        let parts: Vec<Glob> = pattern.splitn(6, ':').map(Glob::new).collect();
        (parts.len() == 6).then_some(ArnPattern { parts })
    }

    pub fn from_parts(parts: Vec<Glob>) -> Option<Self> {
        (parts.len() == 6).then_some(ArnPattern { parts })
    }

    pub fn matches(&self, arn: &str) -> bool {
        let mut count = 0;
        for (glob, part) in self.parts.iter().zip(arn.splitn(6, ':')) {
            if !glob.matches(part) {
                return false;
            }
            count += 1;
        }
        count == 6
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        for (text, expected) in [
            ("10", Some(10.0)),
            ("-1.5", Some(-1.5)),
            ("0.25", Some(0.25)),
            ("+3", Some(3.0)),
            ("inf", None),
            ("NaN", None),
            ("1e3", None),
            ("", None),
            (".", None),
            ("1.2.3", None),
        ] {
            assert_eq!(parse_number(text), expected, "{text:?}");
        }
    }

    #[test]
    fn dates() {
        let base = parse_date("2020-01-01T00:00:00Z").unwrap();
        assert_eq!(base, 1_577_836_800_000);
        for (text, expected) in [
            ("1577836800", Some(base)),
            ("2020", Some(base)),
            ("2020-01", Some(base)),
            ("2020-01-01", Some(base)),
            ("2020-01-01T00:00Z", Some(base)),
            ("2020-01-01T01:00:00+01:00", Some(base)),
            ("2019-12-31T23:00:00-01:00", Some(base)),
            ("2020-01-01T00:00:00.500Z", Some(base + 500)),
            ("2020-01-01T00:00:00", Some(base)),
            ("2020-13-01", None),
            ("2020-02-30", None),
            ("yesterday", None),
            ("2020-01-01T00", None),
        ] {
            assert_eq!(parse_date(text), expected, "{text:?}");
        }
    }

    #[test]
    fn cidrs_and_addresses() {
        assert!(
            parse_cidr("203.0.113.0/24")
                .unwrap()
                .contains(&parse_ip("203.0.113.9").unwrap())
        );
        assert!(
            parse_cidr("203.0.113.7")
                .unwrap()
                .contains(&parse_ip("203.0.113.7").unwrap())
        );
        assert!(
            !parse_cidr("203.0.113.7")
                .unwrap()
                .contains(&parse_ip("203.0.113.8").unwrap())
        );
        assert!(
            parse_cidr("2001:db8::/32")
                .unwrap()
                .contains(&parse_ip("2001:db8:1::5").unwrap())
        );
        assert!(
            parse_cidr("10.1.2.3/8")
                .unwrap()
                .contains(&parse_ip("10.200.0.1").unwrap())
        );
        assert!(parse_cidr("300.0.0.0/8").is_none());
    }

    #[test]
    fn arn_components_do_not_cross_colons() {
        let pattern = ArnPattern::new("arn:aws:iam::*:role/deploy-*").unwrap();
        assert!(pattern.matches("arn:aws:iam::123456789012:role/deploy-prod"));
        assert!(!pattern.matches("arn:aws:iam::123456789012:user/deploy-prod"));
        // Five components are not an ARN pattern: `*` cannot stand for the missing ones.
        assert!(ArnPattern::new("arn:aws:iam::*").is_none());
        assert!(
            ArnPattern::new("arn:aws:iam::*:*")
                .unwrap()
                .matches("arn:aws:iam::1:role/x")
        );
        assert!(ArnPattern::new("arn:aws:s3").is_none());
        let resource_colons = ArnPattern::new("arn:aws:logs:*:*:log-group:*").unwrap();
        assert!(resource_colons.matches("arn:aws:logs:us-east-1:1:log-group:foo"));
    }
}
