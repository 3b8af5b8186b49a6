//! A broken fleet config must be refused with a message that names the file, the line, the key
//! and the fix, and with exit code 2. Each case has a fixture under
//! `tests/fixtures/config/invalid/`; the expected positions were counted by hand.

use std::path::{Path, PathBuf};

use ck8s_model::config::{self, ConfigError, Problem};

fn fixture(kind: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(kind)
        .join(name)
}

fn load_invalid(name: &str) -> ConfigError {
    let path = fixture("invalid", name);
    match config::load(&path) {
        Ok(fleet) => panic!("{name} was accepted: {fleet:#?}"),
        Err(err) => err,
    }
}

/// Loads `name`, checks the parts every message has, then that it contains each of `expected`.
/// `position` is `line:column`.
fn assert_refused(name: &str, position: &str, expected: &[&str]) -> ConfigError {
    let err = load_invalid(name);
    let message = err.to_string();
    let path = fixture("invalid", name);
    let head = format!("error: {}:{position}: ", path.display());
    assert!(
        message.starts_with(&head),
        "{name}: expected `{head}...`, got:\n{message}"
    );
    assert!(
        message.contains("\n  help: "),
        "{name}: no help line:\n{message}"
    );
    for part in expected {
        assert!(
            message.contains(part),
            "{name}: missing `{part}` in:\n{message}"
        );
    }
    assert_eq!(err.exit_code(), 2, "{name}");
    assert_eq!(err.file(), path);
    err
}

#[test]
fn missing_wc_names_the_environment_header_and_shows_the_table() {
    let err = assert_refused(
        "missing_wc.toml",
        "19:1",
        &[
            r#"environment "globex" is missing `wc`"#,
            "help: add the workload cluster",
            "\n        [environment.wc]",
            r#"context = "globex-wc""#,
        ],
    );
    assert_eq!(err.key_path(), Some("environment[1]"));
    assert!(matches!(err.problem(), Problem::MissingKey { key, .. } if key == "wc"));
}

#[test]
fn missing_sc_names_the_environment_header() {
    assert_refused(
        "missing_sc.toml",
        "3:1",
        &[
            r#"environment "acme" is missing `sc`"#,
            "add the service cluster",
            "[environment.sc]",
        ],
    );
}

#[test]
fn bad_url_names_key_and_value() {
    let err = assert_refused(
        "bad_url.toml",
        "15:14",
        &[
            r#"`prometheus` in environment "acme" cluster wc"#,
            r#""prometheus.wc.acme.example""#,
            "no http:// or https:// scheme",
            "help: use an absolute http:// or https:// URL, e.g.",
        ],
    );
    assert_eq!(err.key_path(), Some("environment[0].wc.prometheus"));
}

#[test]
fn bad_url_port_is_refused() {
    assert_refused(
        "bad_url_port.toml",
        "10:16",
        &[
            r#"`alertmanager` in environment "acme" cluster sc"#,
            "port `99999`",
            "use an absolute http:// or https:// URL",
        ],
    );
}

#[test]
fn unknown_key_suggests_the_nearest_key() {
    let err = assert_refused(
        "unknown_key.toml",
        "9:1",
        &[
            r#"unknown key `prometeus` in environment "acme" cluster sc"#,
            "help: did you mean `prometheus`? Valid keys here: kubeconfig, context, prometheus, alertmanager, prometheus_credential, alertmanager_credential, slo_labels, probe",
        ],
    );
    assert!(matches!(
        err.problem(),
        Problem::UnknownKey { suggestion: Some(s), .. } if s == "prometheus"
    ));
    assert_eq!(err.key_path(), Some("environment[0].sc.prometeus"));
}

#[test]
fn unknown_policy_key_suggests_the_nearest_key() {
    assert_refused(
        "unknown_policy_key.toml",
        "4:1",
        &[
            "unknown key `backup_kept` in [policy]",
            "did you mean `backups_kept`?",
        ],
    );
}

#[test]
fn wrong_type_names_key_and_expected_type() {
    assert_refused(
        "wrong_type.toml",
        "5:16",
        &[
            "`backups_kept` in [policy] must be a non-negative whole number",
            r#"found string "three""#,
            "help: write it like `backups_kept = 3`",
        ],
    );
}

#[test]
fn quoted_version_is_a_wrong_type() {
    assert_refused(
        "wrong_type_version.toml",
        "1:11",
        &[
            "`version` in the top-level table must be an integer",
            r#"found string "1""#,
            "write `version = 1`",
        ],
    );
}

#[test]
fn negative_worker_count_is_a_wrong_type() {
    assert_refused(
        "negative_workers.toml",
        "5:15",
        &[
            r#"`max_workers` in environment "acme" must be a non-negative whole number"#,
            "found integer `-1`",
            "max_workers = 25",
        ],
    );
}

#[test]
fn future_version_is_refused_before_its_keys_are_read() {
    let err = assert_refused(
        "future_version.toml",
        "2:11",
        &[
            "this config is format version 2, but this ck8s-console understands up to version 1",
            "help: upgrade ck8s-console",
        ],
    );
    assert!(!err.to_string().contains("unknown key"), "{err}");
    assert_eq!(err.problem(), &Problem::FutureVersion { found: 2 });
}

#[test]
fn missing_version_says_what_to_add() {
    assert_refused(
        "missing_version.toml",
        "1:1",
        &["no `version` key", "add `version = 1` as the first line"],
    );
}

#[test]
fn duplicate_environment_names_are_refused() {
    assert_refused(
        "duplicate_name.toml",
        "17:8",
        &[
            r#"`name` "acme" is used by two environments (first on line 4)"#,
            "must be unique",
        ],
    );
}

#[test]
fn environment_name_must_be_a_dns_label() {
    assert_refused(
        "bad_dns_label.toml",
        "4:8",
        &[
            "`name` in environment \"Acme_Prod\"",
            "not allowed in a DNS label",
            r#"e.g. `name = "acme-prod"`"#,
        ],
    );
}

#[test]
fn policy_slo_must_be_a_percentage() {
    assert_refused(
        "slo_out_of_range.toml",
        "5:12",
        &[
            "`external` in [policy.slo]",
            "100.5",
            "above 0 and below 100",
            "in percent",
        ],
    );
}

#[test]
fn probe_slo_must_be_a_percentage() {
    assert_refused(
        "probe_slo_out_of_range.toml",
        "13:7",
        &[
            r#"`slo` in environment "acme" cluster sc probe "harbor""#,
            "above 0 and below 100",
        ],
    );
}

#[test]
fn a_probe_selector_with_a_range_is_refused() {
    assert_refused(
        "probe_selector_range.toml",
        "13:12",
        &[
            r#"`selector` in environment "acme" cluster sc probe "harbor""#,
            "a range vector: the console adds the ranges itself",
            "selector = 'probe_success{job=",
        ],
    );
}

#[test]
fn slo_labels_may_not_match_the_target() {
    assert_refused(
        "slo_labels_target.toml",
        "10:14",
        &[
            r#"`slo_labels` in environment "acme" cluster sc"#,
            "the label `target` is each probe's own",
            "give that probe a `selector`",
        ],
    );
}

#[test]
fn window_must_end_after_it_starts() {
    assert_refused(
        "window_end_before_start.toml",
        "5:66",
        &[
            "`end` in [policy.maintenance_window]",
            r#""06:00""#,
            "ends before it starts at 07:00",
            "cannot cross midnight",
        ],
    );
}

#[test]
fn toml_syntax_errors_are_located() {
    assert_refused(
        "syntax_error.toml",
        "4:8",
        &["TOML syntax error", "fix the TOML syntax"],
    );
}

#[test]
fn single_bracket_environment_asks_for_double_brackets() {
    assert_refused(
        "environment_not_array.toml",
        "3:1",
        &[
            "`environment` in the top-level table must be an array",
            "found a table",
            "`[[environment]]`",
        ],
    );
}

#[test]
fn bad_duration_is_explained() {
    assert_refused(
        "bad_duration.toml",
        "4:19",
        &[
            "`recovery_within` in [policy]",
            "unknown unit `hours`",
            r#""1h30m""#,
        ],
    );
}

#[test]
fn a_zero_backup_age_is_refused() {
    assert_refused(
        "zero_backup_max_age.toml",
        "4:18",
        &[
            "`backup_max_age` in [policy]",
            "must be longer than zero",
            r#""1h30m""#,
        ],
    );
}

#[test]
fn unknown_timezone_is_refused() {
    assert_refused(
        "bad_timezone.toml",
        "4:12",
        &[
            "`timezone` in [policy]",
            "unknown time zone",
            "Europe/Stockholm",
        ],
    );
}

#[test]
fn exclusion_environment_must_be_known() {
    assert_refused(
        "exclusion_unknown_environment.toml",
        "24:15",
        &[
            r#"`environment` in exclusion #1 has an invalid value "acne": no environment has this name"#,
            "help: did you mean `acme`? Environments: acme",
        ],
    );
}

#[test]
fn exclusion_must_end_after_it_starts() {
    assert_refused(
        "exclusion_end_before_start.toml",
        "6:7",
        &[
            "`end` in exclusion #1",
            "the interval ends before it starts at 2026-11-11T06:00:00Z",
            "help: an exclusion covers [start, end)",
        ],
    );
}

#[test]
fn bad_credential_name_is_refused_without_quoting_it() {
    let err = assert_refused(
        "bad_credential_name.toml",
        "16:25",
        &[
            r#"`prometheus_credential` in environment "acme" cluster wc has an invalid value (not shown, in case it is a secret)"#,
            "is not allowed in a credential name",
            "help: name a credential here, not the secret itself",
            r#"e.g. `prometheus_credential = "acme-wc-metrics"`"#,
            "ck8s-console credentials set NAME",
        ],
    );
    assert_eq!(
        err.key_path(),
        Some("environment[0].wc.prometheus_credential")
    );
    assert!(!err.to_string().contains("eyJhbGci"), "{err}");
}

#[test]
fn misspelt_credential_key_suggests_the_right_one() {
    assert_refused(
        "misspelt_credential_key.toml",
        "11:1",
        &[
            r#"unknown key `alertmanager_credentials` in environment "acme" cluster sc"#,
            "did you mean `alertmanager_credential`?",
        ],
    );
}

#[test]
fn credential_must_be_a_name_not_a_table() {
    assert_refused(
        "credential_not_a_string.toml",
        "10:25",
        &[
            r#"`prometheus_credential` in environment "acme" cluster sc must be a string in quotes"#,
            r#"write it like `prometheus_credential = "acme-sc-metrics"`"#,
        ],
    );
}

#[test]
fn every_invalid_fixture_is_refused_with_exit_code_2() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config/invalid");
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let err = load_invalid(&name);
        assert_eq!(err.exit_code(), 2, "{name}");
        assert!(err.line().is_some(), "{name} has no line: {err}");
        assert!(!err.help().is_empty(), "{name} has no help: {err}");
    }
}

#[test]
fn missing_file_points_at_info_and_the_example() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.toml");
    let err = config::load(&path).unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("error: {}: cannot read", path.display())),
        "{message}"
    );
    assert!(message.contains("assets/fleet.example.toml"), "{message}");
    assert!(message.contains("ck8s-console info"), "{message}");
    assert_eq!(err.exit_code(), 2);
}

#[test]
fn valid_fixtures_load() {
    let minimal = config::load(&fixture("valid", "minimal.toml")).unwrap();
    assert_eq!(minimal.environments.len(), 1);
    assert_eq!(minimal.policy, config::Policy::default());

    let full = config::load(&fixture("valid", "full.toml")).unwrap();
    assert_eq!(full.environments.len(), 2);
    assert_eq!(full.policy.backups_kept, 7);
    assert_eq!(full.policy.recovery_within.as_secs(), 90 * 60);
    assert_eq!(
        full.policy.backup_max_age().as_secs(),
        30 * 3600,
        "a number is minutes"
    );
    assert_eq!(full.policy.certificate_warning.as_secs(), 21 * 86_400);
    assert_eq!(full.policy.slo_external, 99.0);
    let acme = full.environment("acme").unwrap();
    assert_eq!(acme.max_workers(&full.policy), 40);
    assert_eq!(
        acme.sc.probes[0].slo, 99.9,
        "kind default from [policy.slo]"
    );
    assert_eq!(acme.sc.probes[1].slo, 98.5, "the probe's own slo");
    assert_eq!(
        acme.wc.kubeconfig,
        fixture("valid", "kubeconfigs/acme-wc.yaml"),
        "relative paths resolve against the config's directory"
    );
    // The SLO's series: CK8s' cluster label by default, the cluster's own labels, or a
    // probe's own selector.
    assert_eq!(
        acme.sc.probes[0].selector,
        r#"probe_success{cluster="acme-sc",target="kube-apiserver"}"#
    );
    assert_eq!(
        acme.wc.probes[0].selector,
        r#"probe_success{cluster="wc",tenant="acme",target="wc-ingress"}"#
    );
    assert_eq!(
        acme.wc.probes[1].selector,
        r#"probe_success{job="blackbox",instance="https://api.acme.example:6443"}"#
    );
    let globex = full.environment("globex").unwrap();
    assert_eq!(globex.max_workers(&full.policy), 30);
    assert_eq!(full.exclusions.len(), 2);
    let grafana = full.slo_exclusions("acme", config::ClusterRole::Sc, "grafana");
    assert_eq!(grafana.len(), 2, "the scoped and the fleet-wide exclusion");
    assert_eq!(grafana[0].start.to_rfc3339(), "2026-11-11T06:00:00+00:00");
    assert_eq!(
        full.slo_exclusions("globex", config::ClusterRole::Sc, "grafana")
            .len(),
        1
    );
}

#[test]
fn credentials_fixture_names_credentials_per_cluster() {
    let fleet = config::load(&fixture("valid", "credentials.toml")).unwrap();
    let acme = fleet.environment("acme").unwrap();
    assert_eq!(
        acme.sc.prometheus_credential.as_deref(),
        Some("acme-sc-metrics")
    );
    assert_eq!(
        acme.sc.alertmanager_credential.as_deref(),
        Some("acme-sc-metrics")
    );
    assert_eq!(acme.wc.prometheus_credential, None);
    assert_eq!(
        acme.wc.alertmanager_credential.as_deref(),
        Some("acme-wc-alerts-2")
    );
    let again = config::parse(
        &config::to_toml(&fleet),
        &fixture("valid", "credentials.toml"),
    )
    .unwrap();
    assert_eq!(again.environments, fleet.environments, "to_toml keeps them");
}

#[test]
fn shipped_example_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/fleet.example.toml");
    let fleet = config::load(&path).unwrap();
    let names: Vec<&str> = fleet.environments.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["acme", "globex-prod"]);
    assert_eq!(
        fleet.policy,
        config::Policy::default(),
        "the service's numbers"
    );
    assert_eq!(fleet.exclusions.len(), 2);
    let acme = &fleet.environments[0];
    assert_eq!(
        acme.sc.prometheus_credential.as_deref(),
        Some("acme-sc-metrics")
    );
    assert_eq!(acme.wc.alertmanager_credential, None);
    let sc_targets: Vec<&str> = fleet.environments[0]
        .sc
        .probes
        .iter()
        .map(|p| p.target.as_str())
        .collect();
    assert_eq!(
        sc_targets,
        [
            "kube-apiserver",
            "dex",
            "grafana",
            "harbor",
            "opensearch-dashboards"
        ]
    );
}

#[test]
fn written_config_loads_back() {
    let fleet = config::load(&fixture("valid", "full.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.toml");
    std::fs::write(&path, config::to_toml(&fleet)).unwrap();
    let mut back = config::load(&path).unwrap();
    back.source = fleet.source.clone();
    assert_eq!(back, fleet);
}
