//! How reports reach stdout: aligned text tables for people; one JSON or YAML document, or
//! one name a line, for scripts.

use std::io::{IsTerminal, Write};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::SourceError;
use crate::cli::OutputFormat;

/// The format when `--output` is not given: a table for a person at a terminal, JSON when
/// stdout is a pipe or a file (a script is reading).
pub fn default_format() -> OutputFormat {
    if std::io::stdout().is_terminal() {
        OutputFormat::Table
    } else {
        OutputFormat::Json
    }
}

/// Colour only for a terminal, and never when `NO_COLOR` is set (no-color.org).
pub fn use_colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// How a cell reads at a glance; rendered as a colour on terminals, as nothing elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Plain,
    Good,
    Warn,
    Bad,
    Dim,
}

impl Tone {
    fn ansi(self) -> Option<&'static str> {
        match self {
            Tone::Plain => None,
            Tone::Good => Some("\x1b[32m"),
            Tone::Warn => Some("\x1b[33m"),
            Tone::Bad => Some("\x1b[1;31m"),
            Tone::Dim => Some("\x1b[2m"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub text: String,
    pub tone: Tone,
}

impl Cell {
    pub fn new(text: impl Into<String>, tone: Tone) -> Cell {
        Cell {
            text: text.into(),
            tone,
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell::new(text, Tone::Plain)
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::new(text, Tone::Plain)
    }
}

/// Columns sized to their widest cell, two spaces apart, the last one unpadded.
#[derive(Debug, Clone, Default)]
pub struct TextTable {
    headers: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

impl TextTable {
    pub fn new(headers: &[&str]) -> TextTable {
        TextTable {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<Cell>) {
        debug_assert_eq!(cells.len(), self.headers.len());
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self, out: &mut String, colour: bool) {
        let width = |s: &str| s.chars().count();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(width(&cell.text));
            }
        }
        let header: Vec<Cell> = self
            .headers
            .iter()
            .map(|h| Cell::from(h.as_str()))
            .collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                // Pad on the plain text, so colour codes never skew the columns.
                let pad = w.saturating_sub(width(&cell.text));
                match cell.tone.ansi().filter(|_| colour) {
                    Some(code) => {
                        line.push_str(code);
                        line.push_str(&cell.text);
                        line.push_str("\x1b[0m");
                    }
                    None => line.push_str(&cell.text),
                }
                if i + 1 < row.len() {
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
}

/// A line that follows a table, e.g. a finding or a warning, coloured by its tone.
pub fn line(out: &mut String, text: &str, tone: Tone, colour: bool) {
    match tone.ansi().filter(|_| colour) {
        Some(code) => out.push_str(&format!("{code}{text}\x1b[0m\n")),
        None => {
            out.push_str(text);
            out.push('\n');
        }
    }
}

/// The warning lines of a partial report.
pub fn errors(out: &mut String, errors: &[SourceError], colour: bool) {
    if errors.is_empty() {
        return;
    }
    out.push('\n');
    for e in errors {
        let text = format!("warning: {} {} {}: {}", e.env, e.cluster, e.source, e.error);
        line(out, &text, Tone::Warn, colour);
    }
    line(
        out,
        "warning: the report is incomplete: the sources above did not answer",
        Tone::Warn,
        colour,
    );
}

/// The JSON and YAML document of every report: `{schema, generated_at, <body fields>,
/// errors}`.
#[derive(Serialize, schemars::JsonSchema)]
pub(super) struct Envelope<'a, T: Serialize> {
    schema: String,
    generated_at: DateTime<Utc>,
    #[serde(flatten)]
    body: &'a T,
    errors: &'a [SourceError],
}

/// What a report holds, for the machine formats.
pub struct Doc<'a, T: Serialize> {
    /// The report's name, as in its JSON `schema`: `ck8s-console.<report>/v1`.
    pub report: &'a str,
    pub generated_at: DateTime<Utc>,
    pub body: &'a T,
    pub errors: &'a [SourceError],
}

impl<T: Serialize> Doc<'_, T> {
    fn envelope(&self) -> Envelope<'_, T> {
        Envelope {
            schema: format!("ck8s-console.{}/v1", self.report),
            generated_at: self.generated_at,
            body: self.body,
            errors: self.errors,
        }
    }
}

/// A report in `format`: JSON and YAML from the same document, the table and the names
/// (one a line, for `xargs`) as the report writes them.
pub fn format<T: Serialize>(
    format: OutputFormat,
    doc: Doc<'_, T>,
    table: impl FnOnce() -> String,
    names: impl FnOnce() -> Vec<String>,
) -> anyhow::Result<String> {
    Ok(match format {
        OutputFormat::Json => {
            let mut text = serde_json::to_string_pretty(&doc.envelope())?;
            text.push('\n');
            text
        }
        OutputFormat::Yaml => serde_yaml_ng::to_string(&doc.envelope())?,
        OutputFormat::Table => table(),
        OutputFormat::Name => names().into_iter().map(|n| n + "\n").collect(),
        OutputFormat::Openmetrics => anyhow::bail!(
            "`-o openmetrics` is for the status, slo and backups reports; use json or yaml here"
        ),
    })
}

/// The JSON document alone (progress events, tests).
pub fn json<T: Serialize>(
    report: &str,
    generated_at: DateTime<Utc>,
    body: &T,
    errors: &[SourceError],
) -> anyhow::Result<String> {
    let doc = Doc {
        report,
        generated_at,
        body,
        errors,
    };
    format(OutputFormat::Json, doc, String::new, Vec::new)
}

/// Writes the whole report at once. A reader that went away (`| head`) is not an error.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

pub use ck8s_model::format::age;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_on_the_widest_cell() {
        let mut t = TextTable::new(&["NAME", "STATUS", "AGE"]);
        t.row(vec![
            "payments-worker".into(),
            Cell::new("CrashLoopBackOff", Tone::Bad),
            "5m".into(),
        ]);
        t.row(vec![
            "web".into(),
            Cell::new("Running", Tone::Good),
            "3d".into(),
        ]);
        let mut out = String::new();
        t.render(&mut out, false);
        assert_eq!(
            out,
            "NAME             STATUS            AGE\n\
             payments-worker  CrashLoopBackOff  5m\n\
             web              Running           3d\n"
        );
    }

    #[test]
    fn colour_does_not_move_columns() {
        let mut t = TextTable::new(&["A", "B"]);
        t.row(vec![Cell::new("x", Tone::Bad), "y".into()]);
        let mut out = String::new();
        t.render(&mut out, true);
        assert_eq!(out, "A  B\n\x1b[1;31mx\x1b[0m  y\n");
    }
}
