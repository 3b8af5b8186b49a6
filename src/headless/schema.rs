//! The JSON Schemas of the headless outputs, generated from the very types the outputs are
//! written from, so a schema cannot drift from what is printed. `assets/schemas/` ships them
//! (`<report>.json`, and `run-event.json` for the NDJSON of `runs watch`); the tests check
//! that those files are current and that real outputs validate against them.

use schemars::generate::SchemaSettings;
use serde::Serialize;
use serde_json::Value;

use super::output::Envelope;
use super::{alerts, backups, objects, pods, runs, slo, status, watch};

/// Every schema, by file name without `.json`.
pub fn all() -> Vec<(&'static str, Value)> {
    vec![
        document::<status::StatusReport>("status"),
        document::<pods::PodsReport>("pods"),
        document::<alerts::AlertsReport>("alerts"),
        document::<backups::BackupsReport>("backups"),
        document::<slo::SloReportList>("slo"),
        document::<runs::RunReport<'static>>("run"),
        document::<runs::RunsList<'static>>("runs"),
        document::<runs::AuditReport>("audit"),
        document::<objects::ObjectsReport>("objects"),
        ("run-event", of::<watch::Event>("run-event", None)),
    ]
}

/// A report's document: `schema` (this very name and version), `generated_at`, the body's
/// fields, `errors`.
fn document<T: schemars::JsonSchema + Serialize + 'static>(
    name: &'static str,
) -> (&'static str, Value) {
    let version = format!("ck8s-console.{name}/v1");
    (name, of::<Envelope<'static, T>>(name, Some(&version)))
}

fn of<T: schemars::JsonSchema>(name: &str, version: Option<&str>) -> Value {
    // What is written, not what would be read: serialize-side names and skips.
    let generator = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    schema["title"] = Value::from(format!("ck8s-console {name}"));
    if let Some(version) = version {
        schema["properties"]["schema"] = serde_json::json!({
            "description": "The report and the version of its format.",
            "const": version,
        });
    }
    schema
}

/// The schema file's text: pretty JSON, one trailing newline.
pub fn text(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped files are what the types say today. `UPDATE_SCHEMAS=1 cargo test` writes
    /// them after a change of an output.
    #[test]
    fn the_shipped_schemas_are_current() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/schemas");
        let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
        let mut stale = Vec::new();
        for (name, schema) in all() {
            let path = dir.join(format!("{name}.json"));
            let want = text(&schema);
            if update {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &want).unwrap();
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(want.as_str()) {
                stale.push(path.display().to_string());
            }
        }
        assert!(
            stale.is_empty(),
            "out of date (run UPDATE_SCHEMAS=1 cargo test --lib schema): {stale:?}"
        );
    }

    #[test]
    fn each_document_names_its_version_and_every_report_is_there() {
        let all = all();
        let names: Vec<&str> = all.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "status",
                "pods",
                "alerts",
                "backups",
                "slo",
                "run",
                "runs",
                "audit",
                "objects",
                "run-event"
            ]
        );
        let (_, status) = &all[0];
        assert_eq!(
            status["properties"]["schema"]["const"],
            "ck8s-console.status/v1"
        );
        let required = status["required"].as_array().unwrap();
        for field in ["schema", "generated_at", "environments", "errors"] {
            assert!(required.iter().any(|r| r == field), "{field}: {required:?}");
        }
    }
}
