//! `-o openmetrics`: a report's figures as OpenMetrics text, for node_exporter's textfile
//! collector (write it to `<dir>/ck8s.prom` from cron) or any scraper. Every family is a
//! gauge; a figure that is not known is left out rather than written as a zero.

use std::fmt::Write;

/// The metric families of one report, in the order they were first written.
#[derive(Debug, Default)]
pub struct Metrics {
    families: Vec<Family>,
}

#[derive(Debug)]
struct Family {
    name: &'static str,
    help: &'static str,
    /// `seconds` or `ratio`, when the name ends with it.
    unit: Option<&'static str>,
    samples: Vec<String>,
}

impl Metrics {
    /// Adds one sample of the gauge `name`; `None` (not known) adds nothing.
    pub fn gauge(
        &mut self,
        name: &'static str,
        help: &'static str,
        labels: &[(&str, &str)],
        value: Option<f64>,
    ) {
        let Some(value) = value else { return };
        let family = match self.families.iter().position(|f| f.name == name) {
            Some(i) => &mut self.families[i],
            None => {
                let unit = ["seconds", "ratio"]
                    .into_iter()
                    .find(|u| name.ends_with(&format!("_{u}")));
                self.families.push(Family {
                    name,
                    help,
                    unit,
                    samples: Vec::new(),
                });
                self.families.last_mut().expect("just pushed")
            }
        };
        let labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect();
        family
            .samples
            .push(format!("{name}{{{}}} {}", labels.join(","), number(value)));
    }

    /// The exposition, ending with `# EOF` as OpenMetrics requires.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for f in &self.families {
            let _ = writeln!(out, "# TYPE {} gauge", f.name);
            if let Some(unit) = f.unit {
                let _ = writeln!(out, "# UNIT {} {unit}", f.name);
            }
            let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
            for s in &f.samples {
                out.push_str(s);
                out.push('\n');
            }
        }
        out.push_str("# EOF\n");
        out
    }
}

/// A label value: backslash, double quote and newline escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(v: f64) -> String {
    match v {
        v if v.is_nan() => "NaN".to_owned(),
        v if v == f64::INFINITY => "+Inf".to_owned(),
        v if v == f64::NEG_INFINITY => "-Inf".to_owned(),
        v => v.to_string(),
    }
}

/// 0 ok, 1 warning, 2 critical: the one scale of every `*_status` gauge.
pub fn severity(word: &str) -> Option<f64> {
    match word {
        "ok" => Some(0.0),
        "warning" => Some(1.0),
        "critical" => Some(2.0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_declared_once_and_unknowns_left_out() {
        let mut m = Metrics::default();
        let help = "Nodes with Ready=True.";
        m.gauge("ck8s_nodes_ready", help, &[("env", "acme")], Some(6.0));
        m.gauge(
            "ck8s_backup_last_completed_age_seconds",
            "Age.",
            &[("env", "a\"b\\c")],
            Some(12.5),
        );
        m.gauge("ck8s_nodes_ready", help, &[("env", "globex")], Some(5.0));
        m.gauge("ck8s_nodes_ready", help, &[("env", "initech")], None);
        assert_eq!(
            m.text(),
            "# TYPE ck8s_nodes_ready gauge\n\
             # HELP ck8s_nodes_ready Nodes with Ready=True.\n\
             ck8s_nodes_ready{env=\"acme\"} 6\n\
             ck8s_nodes_ready{env=\"globex\"} 5\n\
             # TYPE ck8s_backup_last_completed_age_seconds gauge\n\
             # UNIT ck8s_backup_last_completed_age_seconds seconds\n\
             # HELP ck8s_backup_last_completed_age_seconds Age.\n\
             ck8s_backup_last_completed_age_seconds{env=\"a\\\"b\\\\c\"} 12.5\n\
             # EOF\n"
        );
    }

    #[test]
    fn special_numbers_are_spelt_as_the_format_says() {
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(-0.25), "-0.25");
        assert_eq!(severity("critical"), Some(2.0));
        assert_eq!(severity("no_data"), None);
    }
}
