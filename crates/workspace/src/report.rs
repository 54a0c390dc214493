//! Human renderings of the matrix: a grid for terminals (colour optional) and a Markdown table.

use std::fmt::Write as _;

use keyless_iam::network::Network;

use crate::matrix::{AwsVerdict, Matrix, PipelineVerdict, Scenario};

/// How a cell reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cell {
    /// Allowed and intended.
    Allowed,
    /// AWS allows it, but the pipeline policy stops the step.
    Blocked,
    /// AWS allows it, nothing stops it, and the config does not intend it.
    Unintended,
    /// The config intends it but AWS denies it.
    Missing,
    Denied,
}

impl Cell {
    fn of(scenario: &Scenario) -> Cell {
        if scenario.is_unintended() {
            Cell::Unintended
        } else if scenario.is_missing() {
            Cell::Missing
        } else if scenario.aws == AwsVerdict::Allow && scenario.pipeline == PipelineVerdict::Deny {
            Cell::Blocked
        } else if scenario.aws == AwsVerdict::Allow {
            Cell::Allowed
        } else {
            Cell::Denied
        }
    }

    fn text(self) -> &'static str {
        match self {
            Cell::Allowed => "allow",
            Cell::Blocked => "blocked",
            Cell::Unintended => "UNINTENDED",
            Cell::Missing => "MISSING",
            Cell::Denied => "-",
        }
    }

    fn colour(self) -> &'static str {
        match self {
            Cell::Allowed => "\x1b[32m",
            Cell::Blocked => "\x1b[33m",
            Cell::Unintended => "\x1b[1;31m",
            Cell::Missing => "\x1b[1;33m",
            Cell::Denied => "\x1b[2m",
        }
    }
}

/// One row of the grid: a caller (and the pipeline verdict for its step), with one cell per role.
struct Row<'a> {
    caller: [String; 5],
    cells: Vec<(Cell, &'a Scenario)>,
}

/// Role ARNs in first-seen order, and short column titles (the role name, with the account if names repeat).
fn columns(matrix: &Matrix) -> (Vec<&str>, Vec<String>) {
    let mut arns: Vec<&str> = Vec::new();
    for scenario in &matrix.scenarios {
        if !arns.contains(&scenario.role.as_str()) {
            arns.push(&scenario.role);
        }
    }
    let name = |arn: &str| arn.rsplit('/').next().unwrap_or(arn).to_owned();
    let titles = arns
        .iter()
        .map(|arn| {
            let short = name(arn);
            if arns.iter().filter(|other| name(other) == short).count() > 1 {
                let account = arn.split(':').nth(4).unwrap_or_default();
                format!("{short}@{account}")
            } else {
                short
            }
        })
        .collect();
    (arns, titles)
}

fn rows<'a>(matrix: &'a Matrix, arns: &[&str]) -> Vec<Row<'a>> {
    let mut rows: Vec<Row<'a>> = Vec::new();
    for chunk in matrix.scenarios.chunks(arns.len().max(1)) {
        let Some(first) = chunk.first() else { continue };
        rows.push(Row {
            caller: [
                first.repository.clone(),
                first
                    .deployment
                    .clone()
                    .unwrap_or_else(|| "(none)".to_owned()),
                first.branch.clone(),
                network_text(&first.network, first.source_ip),
                pipeline_text(first.pipeline).to_owned(),
            ],
            cells: chunk.iter().map(|s| (Cell::of(s), s)).collect(),
        });
    }
    rows
}

/// The network column: the address over the internet, `<endpoint> <private address>` through a VPC endpoint.
fn network_text(network: &Network, seen: std::net::IpAddr) -> String {
    match network {
        Network::Vpc(path) => format!("{} {seen}", path.endpoint.as_deref().unwrap_or("vpce-?")),
        _ => seen.to_string(),
    }
}

/// The pipeline verdict as the JSON spells it.
fn pipeline_text(verdict: PipelineVerdict) -> &'static str {
    match verdict {
        PipelineVerdict::Allow => "allow",
        PipelineVerdict::Deny => "deny",
        PipelineVerdict::NotApplicable => "n/a",
    }
}

/// The sentence naming an unintended path.
pub fn describe(scenario: &Scenario) -> String {
    let deployment = scenario.deployment.as_deref().map_or_else(
        || "a step without deployment".to_owned(),
        |d| format!("a `{d}` deployment step"),
    );
    let blocker = match scenario.pipeline {
        PipelineVerdict::NotApplicable => {
            "AWS cannot see branches and no pipeline policy applies (or was evaluated)"
        }
        _ => "the pipeline policy (keyless render) lets the step run",
    };
    format!(
        "{} ({deployment} on branch `{}`, {}) can assume {}: AWS allows it and {blocker}",
        scenario.repository,
        scenario.branch,
        scenario.network.describe(),
        scenario.role
    )
}

/// The terminal grid; ANSI colour when `colour` is set.
pub fn table(matrix: &Matrix, colour: bool) -> String {
    let (arns, titles) = columns(matrix);
    let rows = rows(matrix, &arns);
    let headers = ["repository", "deployment", "branch", "network", "pipeline"];
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (index, text) in row.caller.iter().enumerate() {
            widths[index] = widths[index].max(text.chars().count());
        }
    }
    let cell_widths: Vec<usize> = titles
        .iter()
        .map(|t| t.len().max(Cell::Unintended.text().len()))
        .collect();
    let mut out = String::new();
    for (index, header) in headers.iter().enumerate() {
        let _ = write!(out, "{header:<width$}  ", width = widths[index]);
    }
    for (index, title) in titles.iter().enumerate() {
        let _ = write!(out, "{title:<width$}  ", width = cell_widths[index]);
    }
    out = out.trim_end().to_owned();
    out.push('\n');
    // "can then do": what each role may do once assumed, under its column.
    let reaches = reaches(matrix, &arns);
    let mut line = format!(
        "{:<width$}  ",
        "can then do",
        width = widths.iter().map(|w| w + 2).sum::<usize>() - 2
    );
    for (index, reach) in reaches.iter().enumerate() {
        let _ = write!(line, "{reach:<width$}  ", width = cell_widths[index]);
    }
    out.push_str(line.trim_end());
    out.push('\n');
    let total: usize = widths.iter().chain(&cell_widths).map(|w| w + 2).sum();
    out.push_str(&"-".repeat(total.saturating_sub(2)));
    out.push('\n');
    for row in &rows {
        let mut line = String::new();
        for (index, text) in row.caller.iter().enumerate() {
            let _ = write!(line, "{text:<width$}  ", width = widths[index]);
        }
        for (index, (cell, _)) in row.cells.iter().enumerate() {
            let text = format!("{:<width$}", cell.text(), width = cell_widths[index]);
            if colour {
                let _ = write!(line, "{}{text}\x1b[0m  ", cell.colour());
            } else {
                let _ = write!(line, "{text}  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&footer(matrix));
    out
}

/// Each column's "can then do" (`unknown` for a role the matrix has no verdict for).
fn reaches(matrix: &Matrix, arns: &[&str]) -> Vec<String> {
    arns.iter()
        .map(|arn| {
            matrix
                .roles
                .iter()
                .find(|r| r.role == *arn)
                .map_or_else(|| "unknown".to_owned(), |r| r.can_then_do.to_string())
        })
        .collect()
}

/// Legend, unintended paths and the verdict line.
fn footer(matrix: &Matrix) -> String {
    let mut out = String::new();
    out.push_str(
        "allow = AWS allows and the config intends it; blocked = AWS allows, the pipeline policy stops the step;\n\
         UNINTENDED = reachable but not intended; MISSING = intended but AWS denies; - = denied\n\
         pipeline = would keyless render let this step run (allow, deny, n/a = no pipeline policy applies)\n\
         network = the address AWS sees: aws:SourceIp over the internet, `vpce-… address` through a VPC endpoint\n\
         can then do = what the role may do once assumed: minimal, broad, admin, unknown (docs/permissions.md)\n",
    );
    for role in &matrix.roles {
        if role.reasons.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{} can then do: {}", role.role, role.can_then_do);
        for reason in &role.reasons {
            let _ = writeln!(out, "  - {reason}");
        }
    }
    for note in &matrix.notes {
        let _ = writeln!(out, "note: {note}");
    }
    let missing: Vec<&Scenario> = matrix.missing().collect();
    if !missing.is_empty() {
        let _ = writeln!(
            out,
            "\n{} intended paths are denied by AWS (drift, or the plan is not applied):",
            missing.len()
        );
        for scenario in missing.iter().take(20) {
            let _ = writeln!(
                out,
                "  {} ({} on `{}`, {}) cannot assume {}",
                scenario.repository,
                scenario.deployment.as_deref().unwrap_or("no deployment"),
                scenario.branch,
                scenario.network.describe(),
                scenario.role
            );
        }
    }
    if matrix.unintended == 0 {
        let _ = writeln!(
            out,
            "\nOK: {} scenarios, no unintended path to any role.",
            matrix.scenarios.len()
        );
    } else {
        let _ = writeln!(out, "\nFAIL: {} unintended paths:", matrix.unintended);
        for scenario in matrix.unintended() {
            let _ = writeln!(out, "  {}", describe(scenario));
        }
    }
    out
}

/// A Markdown table (for pull-request comments and docs).
pub fn markdown(matrix: &Matrix) -> String {
    let (arns, titles) = columns(matrix);
    let rows = rows(matrix, &arns);
    let mut out = String::from("| repository | deployment | branch | network | pipeline |");
    for title in &titles {
        let _ = write!(out, " `{title}` |");
    }
    out.push_str("\n|---|---|---|---|---|");
    for _ in &titles {
        out.push_str("---|");
    }
    out.push('\n');
    out.push_str("| **can then do** | | | | |");
    for reach in reaches(matrix, &arns) {
        let _ = write!(out, " **{reach}** |");
    }
    out.push('\n');
    for row in &rows {
        let _ = write!(
            out,
            "| {} | {} | `{}` | {} | {} |",
            row.caller[0], row.caller[1], row.caller[2], row.caller[3], row.caller[4]
        );
        for (cell, _) in &row.cells {
            let text = match cell {
                Cell::Unintended => "**UNINTENDED**",
                Cell::Missing => "**MISSING**",
                other => other.text(),
            };
            let _ = write!(out, " {text} |");
        }
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&footer(matrix));
    out
}
