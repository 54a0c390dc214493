//! Durations as users write them: `3600`, `900s`, `15m`, `1h`, `1h30m`, `12h`; the one parser of them for STS
//! sessions (`--duration`, `--lifetime`, timeouts of the step commands) and keyless.yml's `max_session`, and STS's
//! session windows. (`serve`'s and the AWS connection's `--timeout`-style flags take `500ms` and refuse `0`: see
//! `crates/cli/src/cmd/serve.rs`.)

use std::time::Duration;

/// Shortest session STS grants.
pub const MIN_SESSION: u64 = 900;
/// Longest session STS grants (a role's MaxSessionDuration can be at most this).
pub const MAX_SESSION: u64 = 43_200;
/// AWS caps sessions obtained by role chaining at one hour.
pub const MAX_CHAINED_SESSION: u64 = 3_600;

/// Parses `3600`, `90s`, `15m`, `1h`, `1h30m`, `2h5m10s` into a duration. A bare number is seconds.
pub fn parse(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err("empty duration".to_owned());
    }
    if let Ok(secs) = value.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    let mut seen_unit = false;
    for c in value.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let scale = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => {
                return Err(format!(
                    "`{value}`: unexpected `{c}`; write seconds (`3600`) or units h/m/s (`1h30m`)"
                ));
            }
        };
        let n: u64 = number
            .parse()
            .map_err(|_| format!("`{value}`: a number must come before `{c}`"))?;
        total = total
            .checked_add(
                n.checked_mul(scale)
                    .ok_or_else(|| format!("`{value}` is too large"))?,
            )
            .ok_or_else(|| format!("`{value}` is too large"))?;
        number.clear();
        seen_unit = true;
    }
    if !number.is_empty() || !seen_unit {
        return Err(format!(
            "`{value}`: a number without a unit after another unit; write `1h30m`, not `1h30`"
        ));
    }
    Ok(Duration::from_secs(total))
}

/// Parses a session duration and checks it against the 900–43200 s window STS accepts.
pub fn parse_session(value: &str) -> Result<u64, String> {
    let secs = parse(value)?.as_secs();
    if !(MIN_SESSION..=MAX_SESSION).contains(&secs) {
        return Err(format!(
            "`{value}` is {secs} s; STS sessions last 900 s (15m) to 43200 s (12h), and at most the role's MaxSessionDuration"
        ));
    }
    Ok(secs)
}

/// Human form of a number of seconds: `1h`, `15m`, `1h30m`, `45s`.
pub fn human(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms() {
        for (input, secs) in [
            ("3600", 3600),
            ("1h", 3600),
            ("15m", 900),
            ("1h30m", 5400),
            ("90s", 90),
            ("2h5m10s", 7510),
            (" 12h ", 43200),
        ] {
            assert_eq!(parse(input).unwrap().as_secs(), secs, "{input}");
        }
        for bad in ["", "1x", "h", "1h30", "-5", "1.5h"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn session_window() {
        assert_eq!(parse_session("15m").unwrap(), 900);
        assert_eq!(parse_session("43200").unwrap(), 43200);
        let err = parse_session("899").unwrap_err();
        assert!(err.contains("900 s") && err.contains("43200"), "{err}");
        assert!(parse_session("13h").is_err());
    }

    #[test]
    fn human_form() {
        assert_eq!(human(3600), "1h");
        assert_eq!(human(5400), "1h30m");
        assert_eq!(human(0), "0s");
        assert_eq!(human(61), "1m1s");
    }
}
