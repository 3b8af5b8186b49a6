//! `:export csv|json [FILE]`: the pods or objects shown, as filtered and sorted, to a
//! file, as a table of text cells.

use serde_json::{Map, Value};

/// What a pane shows, as text: its columns and its rows in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sheet {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    pub fn parse(word: &str) -> Option<Format> {
        match word {
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }
}

impl Sheet {
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Csv => self.csv(),
            Format::Json => self.json(),
        }
    }

    /// RFC 4180: a header line, then a line per row; a cell with a comma, a quote or a
    /// line break is quoted, its quotes doubled.
    fn csv(&self) -> String {
        let line = |cells: &[String]| {
            cells
                .iter()
                .map(|c| {
                    if c.contains([',', '"', '\n', '\r']) {
                        format!("\"{}\"", c.replace('"', "\"\""))
                    } else {
                        c.clone()
                    }
                })
                .collect::<Vec<_>>()
                .join(",")
                + "\r\n"
        };
        std::iter::once(line(&self.columns))
            .chain(self.rows.iter().map(|r| line(r)))
            .collect()
    }

    /// An array with an object per row, keyed by the column names in lower case.
    fn json(&self) -> String {
        let keys: Vec<String> = self.columns.iter().map(|c| c.to_lowercase()).collect();
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                let row: Map<String, Value> = keys
                    .iter()
                    .cloned()
                    .zip(r.iter().map(|c| Value::from(c.as_str())))
                    .collect();
                Value::Object(row)
            })
            .collect();
        let mut text = serde_json::to_string_pretty(&rows).unwrap_or_default();
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet() -> Sheet {
        Sheet {
            columns: vec!["Name".into(), "Message".into()],
            rows: vec![
                vec!["web-1".into(), "plain".into()],
                vec!["api-0".into(), "said \"no\", twice".into()],
            ],
        }
    }

    #[test]
    fn csv_quotes_only_what_needs_it() {
        assert_eq!(
            sheet().render(Format::Csv),
            "Name,Message\r\nweb-1,plain\r\napi-0,\"said \"\"no\"\", twice\"\r\n"
        );
    }

    #[test]
    fn json_is_an_object_per_row() {
        let v: Value = serde_json::from_str(&sheet().render(Format::Json)).unwrap();
        assert_eq!(v[1]["message"], "said \"no\", twice");
        assert_eq!(v[0]["name"], "web-1");
        assert_eq!(Format::parse("xml"), None);
    }
}
