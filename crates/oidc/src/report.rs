//! The decode report (`keyless token decode`): a token's header and claims as written, its times against a given
//! now in UTC and human words, and its `sub` broken into repository / environment / step. The signature is never
//! part of it. `--format json` prints [`Report`] as it serializes; [`Report::text`] is the people's rendering.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::{Decoded, Header, Subject};

/// What `keyless token decode` shows; its JSON form is a stable contract (docs/token.md).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The JOSE header, verbatim.
    pub header: Header,
    /// Every claim, verbatim, in token order.
    pub claims: Map<String, Value>,
    /// `iat`, `nbf` and `exp` against `now`.
    pub times: Times,
    /// `sub` read in Bitbucket's grammar; `None` when the token has no string `sub`.
    pub subject: Option<SubjectReport>,
    /// Always `not shown`: the report never carries the signature.
    pub signature: &'static str,
}

/// A token's times against the caller's now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Times {
    /// The epoch second the report treats as now.
    pub now: i64,
    /// `iat`, when it is an integer.
    pub issued_at: Option<Instant>,
    /// `nbf`, when it is an integer.
    pub not_before: Option<Instant>,
    /// `exp`, when it is an integer.
    pub expires_at: Option<Instant>,
    /// `null` when the token has no integer `exp`.
    pub expired: Option<bool>,
}

/// One NumericDate claim in three forms.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Instant {
    /// Epoch seconds, as in the token.
    pub epoch: i64,
    /// `2023-11-14 22:13:20 UTC`, or `<epoch> (out of range)`.
    pub utc: String,
    /// `in 42 minutes`, `3 hours ago`, `expires in ...`, `expired ... ago`.
    pub relative: String,
}

/// `sub` read in Bitbucket's grammar (`{repo}:{step}` or `{repo}:{env}:{step}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubjectReport {
    /// `sub`, verbatim.
    pub value: String,
    /// `step`, `deployment`, or `null` when `sub` is not in Bitbucket's grammar.
    pub kind: Option<&'static str>,
    /// The repository UUID, braced.
    pub repository: Option<String>,
    /// The deployment environment UUID, braced (deployment steps only).
    pub environment: Option<String>,
    /// The step UUID, braced.
    pub step: Option<String>,
    /// Why `sub` is not a Bitbucket subject, when it is not.
    pub error: Option<String>,
}

/// The decode report of `decoded` with `now` (epoch seconds) as the present.
///
/// ```
/// use serde_json::json;
///
/// let token = keyless_oidc::encode_compact(
///     &json!({"alg": "RS256", "typ": "JWT"}),
///     &json!({"sub": "{11111111-1111-4111-8111-111111111111}:{33333333-3333-4333-8333-333333333333}", "exp": 1_700_003_600}),
///     b"signature",
/// );
/// let decoded = keyless_oidc::decode_unverified(&token).unwrap();
/// let report = keyless_oidc::report(decoded, 1_700_000_000);
/// assert_eq!(report.times.expired, Some(false));
/// assert_eq!(report.subject.unwrap().kind, Some("step"));
/// ```
pub fn report(decoded: Decoded, now: i64) -> Report {
    let instant = |claim: &str, describe: fn(i64) -> String| {
        decoded.timestamp(claim).map(|epoch| Instant {
            epoch,
            utc: utc(epoch),
            relative: describe(epoch - now),
        })
    };
    let expires_at = instant("exp", |delta| {
        if delta > 0 {
            format!("expires in {}", span(delta))
        } else {
            format!("expired {} ago", span(-delta))
        }
    });
    let times = Times {
        now,
        issued_at: instant("iat", relative),
        not_before: instant("nbf", relative),
        expired: expires_at.as_ref().map(|exp| exp.epoch <= now),
        expires_at,
    };
    let subject = decoded.subject().map(subject_report);
    Report {
        header: decoded.header,
        claims: decoded.claims,
        times,
        subject,
        signature: "not shown",
    }
}

fn subject_report(value: &str) -> SubjectReport {
    match value.parse::<Subject>() {
        Ok(subject) => SubjectReport {
            value: value.to_owned(),
            kind: Some(if subject.environment().is_some() {
                "deployment"
            } else {
                "step"
            }),
            repository: Some(subject.repository().to_string()),
            environment: subject.environment().map(|uuid| uuid.to_string()),
            step: Some(subject.step().to_string()),
            error: None,
        },
        Err(error) => SubjectReport {
            value: value.to_owned(),
            kind: None,
            repository: None,
            environment: None,
            step: None,
            error: Some(error.to_string()),
        },
    }
}

impl Report {
    /// The report for people: `header`, `claims`, `subject` and `time` sections of aligned rows, then
    /// `signature: not shown`.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut header = Map::new();
        header.insert("alg".into(), Value::String(self.header.alg.clone()));
        if let Some(kid) = &self.header.kid {
            header.insert("kid".into(), Value::String(kid.clone()));
        }
        if let Some(typ) = &self.header.typ {
            header.insert("typ".into(), Value::String(typ.clone()));
        }
        header.extend(self.header.extra.clone());
        section(
            &mut out,
            "header",
            header
                .iter()
                .map(|(key, value)| (key.as_str(), show(value))),
        );
        section(
            &mut out,
            "claims",
            self.claims
                .iter()
                .map(|(key, value)| (key.as_str(), show(value))),
        );
        if let Some(subject) = &self.subject {
            let rows: Vec<(&str, String)> = match (&subject.kind, &subject.error) {
                (Some(kind), _) => [
                    ("kind", Some(format!("{kind} step"))),
                    ("repository", subject.repository.clone()),
                    ("environment", subject.environment.clone()),
                    ("step", subject.step.clone()),
                ]
                .into_iter()
                .filter_map(|(key, value)| value.map(|value| (key, value)))
                .collect(),
                (None, error) => {
                    vec![("not Bitbucket's grammar", error.clone().unwrap_or_default())]
                }
            };
            section(&mut out, "subject", rows.into_iter());
        }
        let times = [
            ("issued", &self.times.issued_at),
            ("not before", &self.times.not_before),
            ("expires", &self.times.expires_at),
        ];
        let mut rows: Vec<(&str, String)> = times
            .iter()
            .filter_map(|(label, instant)| {
                instant
                    .as_ref()
                    .map(|instant| (*label, format!("{} ({})", instant.utc, instant.relative)))
            })
            .collect();
        if self.times.expires_at.is_none() {
            rows.push((
                "expires",
                "never: the token has no integer `exp`, so AWS will reject it".to_owned(),
            ));
        }
        section(&mut out, "time", rows.into_iter());
        out.push_str("signature: not shown\n");
        out
    }
}

fn section<'a>(out: &mut String, title: &str, rows: impl Iterator<Item = (&'a str, String)>) {
    let rows: Vec<(&str, String)> = rows.collect();
    if rows.is_empty() {
        return;
    }
    let width = rows
        .iter()
        .map(|(key, _)| key.chars().count())
        .max()
        .unwrap_or(0);
    out.push_str(title);
    out.push('\n');
    for (key, value) in rows {
        out.push_str(&format!("  {key:<width$}  {value}\n"));
    }
}

/// A claim value for text output: strings bare, everything else as compact JSON.
fn show(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn utc(epoch: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(epoch)
        .ok()
        .and_then(|moment| {
            moment
                .format(time::macros::format_description!(
                    "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
                ))
                .ok()
        })
        .unwrap_or_else(|| format!("{epoch} (out of range)"))
}

/// "in 42 minutes" / "3 hours ago" for an offset from now.
fn relative(delta: i64) -> String {
    if delta > 0 {
        format!("in {}", span(delta))
    } else {
        format!("{} ago", span(-delta))
    }
}

/// A duration in the largest unit that keeps it readable: seconds under 2 minutes, minutes under 2 hours, hours
/// under 2 days, then days.
fn span(seconds: i64) -> String {
    let (amount, unit) = match seconds {
        s if s < 120 => (s, "second"),
        s if s < 2 * 3600 => (s / 60, "minute"),
        s if s < 2 * 86_400 => (s / 3600, "hour"),
        s => (s / 86_400, "day"),
    };
    format!("{amount} {unit}{}", if amount == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn spans_pick_a_readable_unit() {
        assert_eq!(span(0), "0 seconds");
        assert_eq!(span(1), "1 second");
        assert_eq!(span(119), "119 seconds");
        assert_eq!(span(42 * 60 + 59), "42 minutes");
        assert_eq!(span(3 * 3600 + 5), "3 hours");
        assert_eq!(span(86_400), "24 hours");
        assert_eq!(span(3 * 86_400), "3 days");
        assert_eq!(relative(-10_800), "3 hours ago");
        assert_eq!(relative(2520), "in 42 minutes");
    }

    fn decoded(claims: Value) -> Decoded {
        let token = crate::encode_compact(&json!({"alg": "RS256"}), &claims, b"sig");
        crate::decode_unverified(&token).unwrap()
    }

    #[test]
    fn expiry_is_judged_against_the_given_now() {
        let now = 1_700_000_000;
        let live = report(decoded(json!({"exp": now + 60})), now);
        assert_eq!(live.times.expired, Some(false));
        let exp = live.times.expires_at.as_ref().unwrap();
        assert_eq!(exp.utc, "2023-11-14 22:14:20 UTC");
        assert_eq!(exp.relative, "expires in 60 seconds");
        // `exp` equal to now counts as expired.
        let at_now = report(decoded(json!({"exp": now})), now);
        assert_eq!(at_now.times.expired, Some(true));
        let none = report(decoded(json!({"exp": "soon"})), now);
        assert_eq!(none.times.expired, None);
        assert!(
            none.text()
                .contains("expires  never: the token has no integer `exp`")
        );
    }

    #[test]
    fn a_subject_outside_bitbucket_grammar_says_why() {
        let report = report(decoded(json!({"sub": "repo:main"})), 0);
        let subject = report.subject.unwrap();
        assert_eq!(subject.kind, None);
        assert!(subject.error.is_some());
        assert_eq!(subject.repository, None);
    }

    #[test]
    fn out_of_range_times_are_shown_as_epochs() {
        assert_eq!(utc(i64::MAX), format!("{} (out of range)", i64::MAX));
    }
}
