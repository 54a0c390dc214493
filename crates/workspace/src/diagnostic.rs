//! Errors in `keyless.yml`, each with a location, a cause and a fix, rendered like rustc.

use std::fmt;

use crate::location::Location;

/// One mistake in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub location: Location,
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(location: Location, message: impl Into<String>) -> Self {
        Diagnostic {
            location,
            message: message.into(),
            help: None,
        }
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Every mistake found in one file, with the file's text for snippets.
#[derive(Clone, Debug)]
pub struct Diagnostics {
    pub origin: String,
    pub source: String,
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Render one diagnostic: `error: ...`, ` --> file:line:col`, the source line with a caret, `help: ...`.
    fn render_one(&self, f: &mut fmt::Formatter<'_>, diagnostic: &Diagnostic) -> fmt::Result {
        writeln!(f, "error: {}", diagnostic.message)?;
        let location = diagnostic.location;
        if location.is_known() {
            writeln!(f, "  --> {}:{}", self.origin, location)?;
            let line_text = usize::try_from(location.line)
                .ok()
                .and_then(|line| self.source.lines().nth(line.saturating_sub(1)));
            if let Some(text) = line_text {
                let number = location.line.to_string();
                let pad = " ".repeat(number.len());
                writeln!(f, "{pad} |")?;
                writeln!(f, "{number} | {text}")?;
                let column = usize::try_from(location.column.saturating_sub(1)).unwrap_or(0);
                let prefix: String = text
                    .chars()
                    .take(column)
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                writeln!(f, "{pad} | {prefix}^")?;
            }
        } else {
            writeln!(f, "  --> {}", self.origin)?;
        }
        if let Some(help) = &diagnostic.help {
            writeln!(f, "  = help: {help}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, diagnostic) in self.items.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            self.render_one(f, diagnostic)?;
        }
        let count = self.items.len();
        if count > 1 {
            writeln!(f)?;
            write!(f, "{count} errors in {}", self.origin)?;
        }
        Ok(())
    }
}
