//! The workspace's layers, as its manifests declare them: the console reaches clusters only
//! through ck8s-fleet, the simulator is reached only over sockets, and the domain crate
//! needs no async runtime. The compiler enforces the rest: a crate cannot name a crate it
//! does not depend on.

use std::collections::BTreeSet;
use std::path::Path;

/// Every dependency a manifest names: normal, dev and build, including renamed ones.
fn dependencies(manifest: &str) -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(manifest);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{manifest}: {e}"));
    let doc: toml::Table = text.parse().unwrap_or_else(|e| panic!("{manifest}: {e}"));
    let mut names = BTreeSet::new();
    for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
        if let Some(table) = doc.get(section).and_then(|t| t.as_table()) {
            for (name, spec) in table {
                let package = spec.get("package").and_then(|p| p.as_str()).unwrap_or(name);
                names.insert(package.to_owned());
            }
        }
    }
    names
}

fn assert_none_of(manifest: &str, forbidden: &[&str]) {
    let deps = dependencies(manifest);
    let found: Vec<&&str> = forbidden.iter().filter(|f| deps.contains(**f)).collect();
    assert!(found.is_empty(), "{manifest} must not depend on {found:?}");
}

#[test]
fn the_console_reaches_clusters_only_through_the_fleet_crate() {
    assert_none_of(
        "Cargo.toml",
        &["kube", "k8s-openapi", "reqwest", "hyper", "rustls", "axum"],
    );
    assert!(dependencies("Cargo.toml").contains("ck8s-fleet"));
}

#[test]
fn the_simulator_uses_the_model_and_nothing_of_the_fleet() {
    assert_none_of(
        "crates/sim/Cargo.toml",
        &["ck8s-fleet", "ck8s-console", "kube"],
    );
    assert!(dependencies("crates/sim/Cargo.toml").contains("ck8s-model"));
}

#[test]
fn the_model_has_no_async_runtime_no_network_and_no_drawing() {
    assert_none_of(
        "crates/model/Cargo.toml",
        &[
            "tokio",
            "futures",
            "kube",
            "k8s-openapi",
            "reqwest",
            "hyper",
            "axum",
            "ratatui",
            "crossterm",
            "ck8s-fleet",
            "ck8s-sim",
        ],
    );
}

#[test]
fn the_fleet_crate_does_not_draw_or_parse_the_command_line() {
    assert_none_of(
        "crates/fleet/Cargo.toml",
        &[
            "ratatui",
            "crossterm",
            "clap",
            "ratatui-textarea",
            "ck8s-console",
        ],
    );
}
