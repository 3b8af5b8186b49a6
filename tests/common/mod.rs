//! Test support: a simulated fleet on loopback, kubectl pointed at it, and the console's
//! binary run on it.
#![allow(dead_code)]

mod sim;
pub use sim::*;

use std::process::{Command, Output};

use serde_json::Value;

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The console binary on `sim`'s fleet config with its own state dir and actor, and
/// nothing inherited from the test's environment but `PATH`.
pub fn console_command(sim: &Sim, state: &std::path::Path, actor: &str, args: &[&str]) -> Command {
    console_command_on(&sim.fleet_file, sim, state, actor, args)
}

/// As [`console_command`], on another fleet config of `sim` (another user, say).
pub fn console_command_on(
    fleet_file: &std::path::Path,
    sim: &Sim,
    state: &std::path::Path,
    actor: &str,
    args: &[&str],
) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ck8s-console"));
    cmd.arg("--config")
        .arg(fleet_file)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", sim.dir.path())
        .env("CK8S_CONSOLE_STATE_DIR", state)
        .env("CK8S_CONSOLE_ACTOR", actor)
        .env("NO_COLOR", "1");
    cmd
}

// JSON and process output of the binary, for the tests that drive it: the exit code
// (a death by signal fails the test), everything it printed, and stdout as JSON.

pub fn code(out: &Output) -> i32 {
    out.status
        .code()
        .unwrap_or_else(|| panic!("ended by a signal: {}", show(out)))
}

pub fn show(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        stdout(out),
        stderr(out)
    )
}

/// The JSON document on stdout, checked against the schema it names.
pub fn parse(out: &Output) -> Value {
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON on stdout ({e}): {}", show(out)));
    conforms(&doc);
    doc
}

/// Checks a document against the schema it names in `schema` (`ck8s-console.<name>/v1` is
/// `assets/schemas/<name>.json`, the files the console ships).
pub fn conforms(doc: &Value) {
    let named = doc["schema"]
        .as_str()
        .unwrap_or_else(|| panic!("a document names its schema: {doc:#}"));
    let name = named
        .strip_prefix("ck8s-console.")
        .and_then(|n| n.strip_suffix("/v1"))
        .unwrap_or_else(|| panic!("schema {named:?} is not ck8s-console.<name>/v1"));
    conforms_to(doc, name);
}

/// Checks `doc` against `assets/schemas/<name>.json`.
pub fn conforms_to(doc: &Value, name: &str) {
    let path = format!("{}/assets/schemas/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")),
    )
    .unwrap_or_else(|e| panic!("{path}: {e}"));
    let validator = jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{path}: {e}"));
    let errors: Vec<String> = validator.iter_errors(doc).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "the output does not match {path}:\n{}\n{doc:#}",
        errors.join("\n")
    );
}

pub fn text<'v>(v: &'v Value, what: &str) -> &'v str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v}"))
}

pub fn array<'v>(v: &'v Value, what: &str) -> &'v Vec<Value> {
    v.as_array()
        .unwrap_or_else(|| panic!("{what} is not an array: {v}"))
}

/// A fleet config of `sim` whose kubeconfig `edit` changed (other users, unreachable
/// servers, revoked tokens), written beside it as `<name>.toml` and `<name>.kubeconfig`.
pub fn fleet_with_kubeconfig(
    sim: &Sim,
    name: &str,
    edit: impl FnOnce(&mut Value),
) -> std::path::PathBuf {
    let dir = sim.dir.path();
    let text = std::fs::read_to_string(&sim.kubeconfig).unwrap();
    let mut kubeconfig: Value = serde_yaml_ng::from_str(&text).unwrap();
    edit(&mut kubeconfig);
    let path = dir.join(format!("{name}.kubeconfig"));
    std::fs::write(&path, serde_yaml_ng::to_string(&kubeconfig).unwrap()).unwrap();
    let fleet_text = std::fs::read_to_string(&sim.fleet_file)
        .unwrap()
        .replace(sim.kubeconfig.to_str().unwrap(), path.to_str().unwrap());
    let fleet_file = dir.join(format!("{name}.toml"));
    std::fs::write(&fleet_file, fleet_text).unwrap();
    fleet_file
}

/// A fleet config of `sim` whose clusters are reached as another of the simulator's users
/// (`readonly`, `operator`): each context `C` gets a twin `C-<user>` that the config names.
pub fn fleet_as(sim: &Sim, user: &str) -> std::path::PathBuf {
    let mut names = Vec::new();
    let fleet_file = fleet_with_kubeconfig(sim, user, |kubeconfig| {
        let twins: Vec<Value> = kubeconfig["contexts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let name = c["name"].as_str().unwrap();
                names.push(name.to_owned());
                serde_json::json!({
                    "name": format!("{name}-{user}"),
                    "context": {"cluster": c["context"]["cluster"], "user": format!("{name}-{user}")},
                })
            })
            .collect();
        kubeconfig["contexts"].as_array_mut().unwrap().extend(twins);
    });
    let mut text = std::fs::read_to_string(&fleet_file).unwrap();
    for name in names {
        text = text.replace(
            &format!("context = \"{name}\""),
            &format!("context = \"{name}-{user}\""),
        );
    }
    std::fs::write(&fleet_file, text).unwrap();
    fleet_file
}

/// The entries of the list `list` of a kubeconfig (`clusters`, `users`, `contexts`), to edit.
pub fn each<'v>(kubeconfig: &'v mut Value, list: &str) -> Vec<&'v mut Value> {
    kubeconfig[list]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .collect()
}
