//! The one output-format mechanism of the commands: a command builds one value and `--format` picks how it is
//! shown. [`Format`] is the text-or-JSON choice of every command that offers just those two, and [`Format::print`]
//! renders a value by it; commands with more renderings (audit's SARIF, env's shells, plan's templates) keep a
//! value enum of their own and print their JSON through [`json`] like the rest.

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

    /// Prints `value` on stdout: `text` renders it for people (the renderer ends its own lines), `json` as
    /// [`json`] does.
    pub fn print<T: Serialize + ?Sized>(
        self,
        value: &T,
        text: impl FnOnce(&T) -> String,
    ) -> anyhow::Result<()> {
        match self {
            Format::Text => print!("{}", text(value)),
            Format::Json => print!("{}", json(value)?),
        }
        Ok(())
    }
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
    fn json_is_pretty_with_one_newline() {
        assert_eq!(
            json(&serde_json::json!({"ok": true})).unwrap(),
            "{\n  \"ok\": true\n}\n"
        );
    }
}
