//! Editing an AWS config file in place: find a profile's section, add or replace it, and leave every other
//! line — comments, blank lines, other profiles, `[services]` blocks — exactly as it was.
//!
//! Hand-written because the INI crates on crates.io either drop comments or re-serialise the whole file; an
//! AWS config file belongs to the user and only the one section may change.

/// A config file as lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigFile {
    lines: Vec<String>,
}

/// The header name of a profile's section: `default` or `profile NAME`.
pub fn section_for_profile(profile: &str) -> String {
    if profile == "default" {
        "default".to_owned()
    } else {
        format!("profile {profile}")
    }
}

/// The normalised name inside `[ ... ]` on a header line, ignoring a trailing `#`/`;` comment.
fn header_name(line: &str) -> Option<String> {
    let trimmed = line.trim();
    let inner = trimmed.strip_prefix('[')?;
    let end = inner.find(']')?;
    let after = inner[end + 1..].trim();
    if !(after.is_empty() || after.starts_with('#') || after.starts_with(';')) {
        return None;
    }
    Some(
        inner[..end]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    )
}

fn same_section(found: &str, wanted: &str) -> bool {
    found == wanted || (wanted == "default" && found == "profile default")
}

impl ConfigFile {
    /// Parses file text.
    pub fn parse(text: &str) -> Self {
        Self {
            lines: text.lines().map(str::to_owned).collect(),
        }
    }

    /// The file text (with a final newline when non-empty).
    pub fn render(&self) -> String {
        if self.lines.is_empty() {
            return String::new();
        }
        let mut out = self.lines.join("\n");
        out.push('\n');
        out
    }

    /// The range of lines of a section: header line index, and the end (exclusive) before any trailing
    /// blank/comment lines that lead into the next section.
    fn find(&self, section: &str) -> Option<(usize, usize)> {
        let start = self
            .lines
            .iter()
            .position(|l| header_name(l).is_some_and(|n| same_section(&n, section)))?;
        let next = self.lines[start + 1..]
            .iter()
            .position(|l| header_name(l).is_some())
            .map_or(self.lines.len(), |i| start + 1 + i);
        let mut end = next;
        while end > start + 1 {
            let line = self.lines[end - 1].trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                end -= 1;
            } else {
                break;
            }
        }
        Some((start, end))
    }

    /// The 1-based line of a section's header, if present.
    pub fn section_line(&self, section: &str) -> Option<usize> {
        self.find(section).map(|(start, _)| start + 1)
    }

    /// The value of `key` in `section`.
    pub fn get(&self, section: &str, key: &str) -> Option<String> {
        let (start, end) = self.find(section)?;
        self.lines[start + 1..end].iter().find_map(|line| {
            let (k, v) = line.split_once('=')?;
            (k.trim() == key).then(|| v.trim().to_owned())
        })
    }

    /// Like [`ConfigFile::set_section`], with `# <marker>` on the header line, so that the section can later be
    /// recognised as written by keyless (and removed by `keyless configure --cleanup`).
    pub fn set_marked_section(
        &mut self,
        section: &str,
        entries: &[(&str, String)],
        marker: &str,
    ) -> bool {
        let existed = self.set_section(section, entries);
        if let Some((start, _)) = self.find(section) {
            self.lines[start] = format!("[{section}]  # {marker}");
        }
        existed
    }

    /// Whether the section's header carries `# <marker>`.
    pub fn is_marked(&self, section: &str, marker: &str) -> bool {
        self.find(section).is_some_and(|(start, _)| {
            self.lines[start]
                .split_once('#')
                .is_some_and(|(_, comment)| comment.trim() == marker)
        })
    }

    /// Removes a section marked with `marker` (header, body, and the blank line before it); `false` when the
    /// section is absent or not marked (a user's own section is never removed).
    pub fn remove_marked_section(&mut self, section: &str, marker: &str) -> bool {
        if !self.is_marked(section, marker) {
            return false;
        }
        let Some((mut start, end)) = self.find(section) else {
            return false;
        };
        if start > 0 && self.lines[start - 1].trim().is_empty() {
            start -= 1;
        }
        self.lines.drain(start..end);
        true
    }

    /// Sets `section` to exactly `entries`, replacing its body if it exists (returns whether it existed).
    pub fn set_section(&mut self, section: &str, entries: &[(&str, String)]) -> bool {
        let body: Vec<String> = entries.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        match self.find(section) {
            Some((start, end)) => {
                self.lines.splice(start + 1..end, body);
                true
            }
            None => {
                if self.lines.last().is_some_and(|l| !l.trim().is_empty()) {
                    self.lines.push(String::new());
                }
                self.lines.push(format!("[{section}]"));
                self.lines.extend(body);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marked_sections_are_removed_and_others_kept() {
        let mut file =
            ConfigFile::parse("[default]\nregion = us-east-1\n\n[profile mine]\nregion = x\n");
        file.set_marked_section(
            "profile ci",
            &[("region", "eu-west-1".into())],
            "written by keyless",
        );
        assert!(
            file.render()
                .contains("[profile ci]  # written by keyless\nregion = eu-west-1\n")
        );
        assert!(file.is_marked("profile ci", "written by keyless"));
        assert!(!file.is_marked("profile mine", "written by keyless"));
        assert!(!file.remove_marked_section("profile mine", "written by keyless"));
        assert!(file.remove_marked_section("profile ci", "written by keyless"));
        assert_eq!(
            file.render(),
            "[default]\nregion = us-east-1\n\n[profile mine]\nregion = x\n"
        );
    }

    const FILE: &str = "# my settings\n[default]\nregion = us-east-1\n\n# the prod profile\n[profile prod]  # keep\nrole_arn = old\n; trailing comment of prod\n\n# services follow\n[services local]\nsts =\n  endpoint_url = http://x\n";

    #[test]
    fn replaces_only_the_section_body() {
        let mut file = ConfigFile::parse(FILE);
        assert_eq!(file.section_line("profile prod"), Some(6));
        assert_eq!(file.get("profile prod", "role_arn").as_deref(), Some("old"));
        assert!(file.set_section(
            "profile prod",
            &[("role_arn", "new".into()), ("region", "eu-west-1".into())]
        ));
        let out = file.render();
        assert_eq!(
            out,
            "# my settings\n[default]\nregion = us-east-1\n\n# the prod profile\n[profile prod]  # keep\nrole_arn = new\nregion = eu-west-1\n; trailing comment of prod\n\n# services follow\n[services local]\nsts =\n  endpoint_url = http://x\n"
        );
    }

    #[test]
    fn appends_new_sections() {
        let mut file = ConfigFile::parse(FILE);
        assert!(!file.set_section("profile ci", &[("region", "eu-west-1".into())]));
        assert!(file.render().starts_with(FILE));
        assert!(
            file.render()
                .ends_with("  endpoint_url = http://x\n\n[profile ci]\nregion = eu-west-1\n")
        );
        let mut empty = ConfigFile::parse("");
        empty.set_section("default", &[("region", "x".into())]);
        assert_eq!(empty.render(), "[default]\nregion = x\n");
    }

    #[test]
    fn default_matches_profile_default() {
        let file = ConfigFile::parse("[profile default]\nregion = x\n");
        assert_eq!(file.section_line(&section_for_profile("default")), Some(1));
        assert_eq!(section_for_profile("ci"), "profile ci");
    }
}
