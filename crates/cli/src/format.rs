//! The one output-format mechanism of the commands: a command builds one value and `--format` picks how it is
//! shown. Every `--format` choice implements [`FormatChoice`] for the value it shows, saying for each variant how
//! it renders that value into an [`Output`] (text, or JSON through [`json`]), and every command prints through
//! [`emit`]. [`Format`] is the text-or-JSON choice of every command that offers just those two ([`Format::print`]
//! pairs the value with its text renderer); commands with more renderings (audit's SARIF, env's shells, plan's
//! templates) implement the trait on a value enum of their own, so a new format is one more variant and one more
//! match arm, never a new print path.

use clap::ValueEnum;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use serde::Serialize;

/// `--format text|json`: text for people, JSON (pretty-printed, one trailing newline) for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

/// What a format choice made of a command's value, ready for stdout. Built only by [`Output::text`] or
/// [`Output::json`], so every command's JSON is [`json`]'s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output(String);

impl Output {
    /// Text for people, printed as is (the renderer ends its own lines).
    pub fn text(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// `value` as [`json`] prints it.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<Self> {
        json(value).map(Self)
    }

    /// The bytes [`emit`] prints.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A `--format` choice (a clap value enum): each variant says how it renders the command's value `V`. Commands
/// print through [`emit`], so adding a format is adding a variant and its arm in `render`.
pub trait FormatChoice<V: ?Sized>: Copy {
    /// `value` as this choice shows it. An error is the command's (a choice that cannot show `value` says why).
    fn render(self, value: &V) -> anyhow::Result<Output>;
}

/// Prints `value` on stdout as `format` renders it: the one print path of the commands' `--format` output.
pub fn emit<V: ?Sized>(format: impl FormatChoice<V>, value: &V) -> anyhow::Result<()> {
    print!("{}", format.render(value)?.as_str());
    Ok(())
}

/// A value with its text renderer: what [`Format`] shows (`text` through the renderer, `json` the value itself).
pub struct Shown<'a, T: ?Sized, R> {
    pub value: &'a T,
    pub text: R,
}

impl<T, R> FormatChoice<Shown<'_, T, R>> for Format
where
    T: Serialize + ?Sized,
    R: Fn(&T) -> String,
{
    fn render(self, shown: &Shown<'_, T, R>) -> anyhow::Result<Output> {
        match self {
            Format::Text => Ok(Output::text((shown.text)(shown.value))),
            Format::Json => Output::json(shown.value),
        }
    }
}

impl Format {
    /// The `--format` parser for a command that documents each value: `keyless --help` lists `text` and `json`
    /// with these lines. The values, their parsing and clap's errors are [`Format`]'s.
    pub fn described(
        text: &'static str,
        json: &'static str,
    ) -> impl TypedValueParser<Value = Format> {
        let values = Format::value_variants().iter().filter_map(move |format| {
            format.to_possible_value().map(|value| {
                value.help(match format {
                    Format::Text => text,
                    Format::Json => json,
                })
            })
        });
        PossibleValuesParser::new(values).try_map(|value| Format::from_str(&value, false))
    }

    /// Prints `value` on stdout through [`emit`]: `text` renders it for people (the renderer ends its own
    /// lines), `json` as [`json`] does.
    pub fn print<T: Serialize + ?Sized>(
        self,
        value: &T,
        text: impl Fn(&T) -> String,
    ) -> anyhow::Result<()> {
        emit(self, &Shown { value, text })
    }
}

/// Whether text for people may be coloured when nothing asks otherwise: stdout is a terminal and `NO_COLOR`
/// (no-color.org) is not set.
pub fn stdout_wants_colour() -> bool {
    use std::io::IsTerminal as _;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// `value` as the commands print JSON: pretty, with one trailing newline.
pub fn json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<String> {
    Ok(format!("{}\n", serde_json::to_string_pretty(value)?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use clap::{Arg, Command};

    fn command(arg: Arg) -> Command {
        Command::new("keyless").arg(arg)
    }

    #[test]
    fn described_values_parse_like_the_enum_and_carry_their_help() {
        let arg = Arg::new("format")
            .long("format")
            .value_parser(Format::described("for people", "for scripts"))
            .default_value("text");
        let matches = command(arg.clone())
            .try_get_matches_from(["keyless", "--format", "json"])
            .unwrap();
        assert_eq!(matches.get_one::<Format>("format"), Some(&Format::Json));
        let matches = command(arg.clone())
            .try_get_matches_from(["keyless"])
            .unwrap();
        assert_eq!(matches.get_one::<Format>("format"), Some(&Format::Text));
        let error = command(arg.clone())
            .try_get_matches_from(["keyless", "--format", "xml"])
            .unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::InvalidValue);
        let help = command(arg).render_long_help().to_string();
        assert!(help.contains("- text: for people"), "{help}");
        assert!(help.contains("- json: for scripts"), "{help}");
    }

    #[test]
    fn format_renders_text_through_the_renderer_and_json_through_json() {
        let value = serde_json::json!({"n": 1});
        let shown = Shown {
            value: &value,
            text: |v: &serde_json::Value| format!("n is {}\n", v["n"]),
        };
        assert_eq!(Format::Text.render(&shown).unwrap().as_str(), "n is 1\n");
        assert_eq!(
            Format::Json.render(&shown).unwrap(),
            Output::json(&value).unwrap()
        );
        assert_eq!(
            Output::json(&value).unwrap().as_str(),
            json(&value).unwrap()
        );
    }

    #[test]
    fn json_is_pretty_with_one_newline() {
        assert_eq!(
            json(&serde_json::json!({"ok": true})).unwrap(),
            "{\n  \"ok\": true\n}\n"
        );
    }
}
