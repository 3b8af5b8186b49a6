//! The headless reports end to end: the simulated demo fleet runs in-process, and the
//! `ck8s-console` binary reports on it through its fleet config, as a script would. The
//! demo's troubled environment `globex` must show its trouble (a failed backup, firing
//! critical alerts, a NotReady worker, a crash-looping pod, a burning SLO target) while
//! `acme` stays clean.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use ck8s_model::config;
use ck8s_sim::SimOptions;
use serde_json::Value;

/// One demo fleet for every test of this file: building it takes seconds, and the reports
/// only read it.
fn sim() -> &'static common::Sim {
    static SIM: OnceLock<common::Sim> = OnceLock::new();
    SIM.get_or_init(|| {
        common::start(SimOptions {
            environments: 3,
            ..SimOptions::default()
        })
    })
}

fn state_dir() -> PathBuf {
    sim().dir.path().join("state")
}

/// Runs the binary against `fleet_file` (logs go to the sim's temp dir, never to $HOME).
fn console_with(fleet_file: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ck8s-console"))
        .arg("--config")
        .arg(fleet_file)
        .arg("--state-dir")
        .arg(state_dir())
        .args(args)
        .env_remove("CK8S_CONSOLE_CONFIG")
        .env_remove("CK8S_CONSOLE_STATE_DIR")
        .env("NO_COLOR", "1")
        .output()
        .expect("ck8s-console runs")
}

fn console(args: &[&str]) -> Output {
    console_with(&sim().fleet_file, args)
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited, not killed")
}

/// Runs a report with `--output json`; returns the exit code and the document.
fn report_with(fleet_file: &Path, args: &[&str]) -> (i32, Value) {
    let mut all = args.to_vec();
    all.extend(["--output", "json"]);
    let out = console_with(fleet_file, &all);
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?} printed no JSON ({e}); exit {:?}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            common::stdout(&out),
            common::stderr(&out)
        )
    });
    // Complete or partial, what is printed is what the shipped schema says.
    common::conforms(&json);
    (code(&out), json)
}

/// A complete report: exit 0, no errors, the report's schema.
fn complete(args: &[&str]) -> Value {
    let (code, json) = report_with(&sim().fleet_file, args);
    assert_eq!(json["errors"], serde_json::json!([]), "{args:?}");
    assert_eq!(code, 0, "{args:?}");
    assert_eq!(json["schema"], format!("ck8s-console.{}/v1", args[0]));
    assert!(
        json["generated_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    json
}

fn items(json: &Value) -> &Vec<Value> {
    json["items"].as_array().expect("items array")
}

#[test]
fn alerts_show_the_critical_backup_failure_and_the_endpoint_down() {
    let json = complete(&["alerts", "--env", "globex"]);
    let find = |name: &str| {
        items(&json)
            .iter()
            .find(|a| a["alertname"] == name)
            .unwrap_or_else(|| panic!("no {name} in {json:#}"))
    };
    let backup = find("VeleroBackupFailed");
    assert_eq!(backup["severity"], "critical");
    assert_eq!(backup["state"], "active");
    assert_eq!(
        backup["sources"],
        serde_json::json!([{"env": "globex", "cluster": "wc"}])
    );
    assert!(
        backup["subject"]
            .as_str()
            .unwrap()
            .starts_with("backup/velero-daily-backup-")
    );
    let down = find("EndpointDown");
    assert_eq!(down["severity"], "critical");
    assert_eq!(down["labels"]["target"], "grafana");
    assert_eq!(down["sources"][0]["cluster"], "sc");
    assert_eq!(items(&json)[0]["severity"], "critical", "most urgent first");
    assert!(
        items(&json).iter().all(|a| a["alertname"] != "Watchdog"),
        "heartbeats are left out by default"
    );

    let acme = complete(&["alerts", "--env", "acme"]);
    assert_eq!(items(&acme).len(), 0, "{acme:#}");
    let all = complete(&["alerts", "--env", "acme", "--severity", "none"]);
    assert!(items(&all).iter().any(|a| a["alertname"] == "Watchdog"));
    let critical = complete(&["alerts", "--severity", "critical"]);
    let names: Vec<&str> = items(&critical)
        .iter()
        .map(|a| a["alertname"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"VeleroBackupFailed") && names.contains(&"EndpointDown"),
        "the critical ones are there: {names:?}"
    );
    assert!(!names.contains(&"KubePodCrashLooping"), "{names:?}");
    assert!(items(&critical).iter().all(|a| a["severity"] == "critical"));
}

#[test]
fn backups_show_the_failed_workload_cluster_backup() {
    let json = complete(&["backups", "--env", "globex"]);
    let clusters = items(&json);
    assert_eq!(clusters.len(), 2);
    let wc = &clusters[1];
    assert_eq!(
        (&wc["env"], &wc["cluster"]),
        (&"globex".into(), &"wc".into())
    );
    assert_eq!(wc["status"], "critical");
    let codes: Vec<&str> = wc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"backup_failed"), "{codes:?}");
    assert_eq!(wc["latest"]["phase"], "Failed", "the newest backup failed");
    assert_eq!(wc["failed_backups"][0]["phase"], "Failed");
    assert!(wc["failed_backups"][0]["errors"].as_u64().unwrap() > 0);
    assert_eq!(wc["kept"]["expected"], 3);
    assert_eq!(wc["window"]["timezone"], "Europe/Stockholm");
    assert_eq!(wc["storage_locations"][0]["available"], true);
    assert_eq!(wc["jobs"], serde_json::json!([]), "jobs live in the sc");
    let sc = &clusters[0];
    // The sc's Harbor backup job failed: a warning, not the wc's critical.
    assert_eq!(sc["status"], "warning", "{sc:#}");
    assert_eq!(sc["jobs"].as_array().unwrap().len(), 2);

    let problems = complete(&["backups", "--problems"]);
    let names: Vec<&str> = items(&problems)
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"globex-wc"), "{names:?}");
    assert!(!names.contains(&"acme-wc"), "{names:?}");
    assert!(
        items(&problems).iter().all(|i| i["status"] != "ok"),
        "{problems:#}"
    );
}

#[test]
fn slo_shows_grafana_burning_its_budget_with_a_page() {
    // The demo's ongoing grafana outage starts a few minutes before the fleet boots; the
    // 1h/5m page needs more than 14.4 × 0.5 % × 60 = 4.3 bad minutes in the last hour, so
    // it may take the sim a minute or two to get there.
    let grafana = common::eventually(
        "globex-sc grafana to page",
        Duration::from_secs(240),
        || {
            let json = complete(&[
                "slo",
                "--env",
                "globex",
                "--cluster",
                "sc",
                "--target",
                "grafana",
            ]);
            let item = items(&json).first().cloned().expect("one target");
            (item["report"]["status"] == "page").then_some(item)
        },
    );
    assert_eq!(grafana["env"], "globex");
    assert_eq!(grafana["cluster"], "sc");
    let report = &grafana["report"];
    assert_eq!(report["cluster"], "globex-sc");
    assert_eq!(report["kind"], "external");
    assert_eq!(report["slo_percent"], 99.5);
    let left = report["budget_left_fraction"].as_f64().unwrap();
    assert!((0.0..0.3).contains(&left), "budget left {left}");
    assert_eq!(report["alerts"][0]["firing"], true, "the 1h/5m pair pages");

    let acme = complete(&["slo", "--env", "acme"]);
    assert_eq!(items(&acme).len(), 7, "5 sc and 2 wc targets");
    for item in items(&acme) {
        assert_eq!(item["report"]["status"], "ok", "{item:#}");
    }
}

#[test]
fn status_shows_globex_in_trouble_and_acme_clean() {
    let json = complete(&["status"]);
    let envs = json["environments"].as_array().unwrap();
    let names: Vec<&str> = envs.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["acme", "globex", "initech"]);

    let globex = &envs[1];
    assert_eq!(globex["status"], "critical");
    let wc = &globex["clusters"][1];
    assert_eq!(wc["name"], "globex-wc");
    assert_eq!(wc["api"]["reachable"], true);
    assert_eq!(wc["nodes"]["not_ready"].as_array().unwrap().len(), 1);
    assert_eq!(
        wc["workers"]["ready"],
        wc["workers"]["nodes"].as_u64().unwrap() - 1
    );
    assert!(wc["alerts"]["critical"].as_u64().unwrap() >= 2, "{wc:#}");
    assert_eq!(wc["backup"]["status"], "critical");
    assert_eq!(
        wc["control_plane"],
        serde_json::json!({"nodes": 3, "ready": 3, "expected": 3})
    );
    assert!(
        globex["clusters"][0]["alerts"]["critical"]
            .as_u64()
            .unwrap()
            >= 1,
        "grafana's EndpointDown"
    );
    let certs = &globex["clusters"][0]["certificates"];
    assert_eq!(
        certs["total"], 3,
        "Harbor's, Dex's and the ingress default: {certs:#}"
    );
    assert_eq!(certs["expiring"][0]["name"], "harbor-tls", "{certs:#}");
    assert_eq!(certs["warning_seconds"], 14 * 86_400);
    assert!(certs["expiring"][0]["seconds_left"].as_i64().unwrap() > 4 * 86_400);

    let acme = &envs[0];
    for c in acme["clusters"].as_array().unwrap() {
        let what = c["name"].as_str().unwrap();
        assert_eq!(c["api"]["reachable"], true, "{what}");
        assert_eq!(c["nodes"]["ready"], c["nodes"]["total"], "{what}");
        assert_eq!(
            c["alerts"],
            serde_json::json!({"critical": 0, "high": 0, "warning": 0, "info": 0}),
            "{what}"
        );
        assert_eq!(c["backup"]["status"], "ok", "{what}");
        assert_eq!(c["slo"]["status"], "ok", "{what}");
        assert_eq!(c["kubernetes_version"], "v1.33.4", "{what}");
        assert_eq!(c["apps"]["version"], "v0.51.1", "{what}");
        assert_eq!(c["stale_since"], Value::Null, "{what}");
        assert_eq!(
            c["certificates"]["expiring"],
            serde_json::json!([]),
            "{what}"
        );
    }
    assert_eq!(acme["clusters"][1]["status"], "ok", "{acme:#}");
    assert_eq!(acme["status"], "ok", "{acme:#}");

    let initech_wc = &envs[2]["clusters"][1];
    assert_eq!(
        initech_wc["apps"]["upgrade_lock"]["target_version"],
        "v0.51"
    );
}

#[test]
fn pods_lists_the_crash_looping_payments_worker() {
    let json = complete(&[
        "pods",
        "--env",
        "globex",
        "--cluster",
        "wc",
        "--status",
        "CrashLoopBackOff",
    ]);
    let pods = items(&json);
    assert!(!pods.is_empty());
    assert!(pods.iter().all(|p| p["status"] == "CrashLoopBackOff"));
    let worker = pods
        .iter()
        .find(|p| p["name"].as_str().unwrap().starts_with("payments-worker-"))
        .unwrap_or_else(|| panic!("no payments-worker in {json:#}"));
    assert_eq!(worker["namespace"], "production");
    assert_eq!(worker["env"], "globex");
    assert_eq!(worker["cluster"], "wc");
    assert_eq!(worker["owner"]["kind"], "ReplicaSet");

    let by_label = complete(&[
        "pods",
        "--env",
        "globex",
        "-n",
        "production",
        "--selector",
        "app=payments-worker",
    ]);
    assert!(!items(&by_label).is_empty());
    assert!(
        items(&by_label)
            .iter()
            .all(|p| p["labels"]["app"] == "payments-worker" && p["cluster"] == "wc")
    );
    let text = complete(&["pods", "--env", "acme", "--filter", "COREDNS"]);
    assert!(items(&text).len() >= 4, "coredns in both clusters");
    assert!(
        items(&text)
            .iter()
            .all(|p| p["name"].as_str().unwrap().contains("coredns"))
    );
}

#[test]
fn tables_have_aligned_headers_and_no_colour_in_a_pipe() {
    let expect = [
        (
            vec!["status"],
            "ENV      CLUSTER  STATUS    API  NODES  CP   WORKERS  KUBERNETES",
        ),
        (vec!["alerts", "--env", "globex"], "SEVERITY  ALERT"),
        (
            vec!["backups"],
            "ENV      CLUSTER  STATUS    LAST COMPLETED",
        ),
        (vec!["slo", "--env", "acme"], "ENV   CLUSTER  TARGET"),
        (
            vec!["pods", "--env", "acme", "-n", "kube-system"],
            "ENV   CLUSTER  NAMESPACE    NAME",
        ),
    ];
    for (args, header) in expect {
        let mut all = args.clone();
        all.extend(["--output", "table"]);
        let out = console(&all);
        let text = common::stdout(&out);
        assert_eq!(code(&out), 0, "{args:?}: {}", common::stderr(&out));
        assert!(text.starts_with(header), "{args:?}:\n{text}");
        assert!(!text.contains('\x1b'), "no escape codes in a pipe:\n{text}");
    }
    let out = console(&[
        "backups",
        "--env",
        "globex",
        "--cluster",
        "wc",
        "-o",
        "table",
    ]);
    let text = common::stdout(&out);
    assert!(text.contains("critical  backup_failed"), "{text}");
}

#[test]
fn json_is_the_default_when_stdout_is_not_a_terminal() {
    let out = console(&["alerts", "--env", "globex"]);
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON by default in a pipe");
    assert_eq!(json["schema"], "ck8s-console.alerts/v1");
}

#[test]
fn unknown_environment_is_a_usage_error() {
    let out = console(&["status", "--env", "globx"]);
    assert_eq!(code(&out), 2);
    let err = common::stderr(&out);
    assert!(err.contains("unknown environment `globx`"), "{err}");
    assert!(err.contains("Did you mean `globex`?"), "{err}");
    assert!(
        err.contains("Known environments: acme, globex, initech"),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    let out = console(&["slo", "--target", "grafna"]);
    assert_eq!(code(&out), 2);
    assert!(common::stderr(&out).contains("unknown target `grafna`"));
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[test]
fn an_unreachable_alertmanager_gives_a_partial_report_and_exit_1() {
    let mut fleet = config::load(&sim().fleet_file).expect("sim fleet config");
    let globex = fleet
        .environments
        .iter_mut()
        .find(|e| e.name == "globex")
        .unwrap();
    globex.wc.alertmanager = format!("http://127.0.0.1:{}", closed_port());
    let file = sim().dir.path().join("fleet-closed-alertmanager.toml");
    std::fs::write(&file, config::to_toml(&fleet)).expect("write fleet config");

    let (code, json) = report_with(&file, &["alerts", "--env", "globex"]);
    assert_eq!(code, 1, "{json:#}");
    let errors = json["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0]["env"], "globex");
    assert_eq!(errors[0]["cluster"], "wc");
    assert_eq!(errors[0]["source"], "alertmanager");
    assert!(
        errors[0]["error"]
            .as_str()
            .unwrap()
            .contains("Connection refused"),
        "{errors:#?}"
    );
    assert!(
        items(&json)
            .iter()
            .any(|a| a["alertname"] == "EndpointDown"),
        "the sc's alerts are still there: {json:#}"
    );

    let (code, json) = report_with(&file, &["status", "--env", "globex"]);
    assert_eq!(code, 1);
    assert_eq!(json["errors"][0]["source"], "alertmanager");
    let wc = &json["environments"][0]["clusters"][1];
    assert_eq!(wc["nodes"]["total"], 6, "the rest of the report is present");
    assert_eq!(wc["sources"]["alertmanager"]["state"], "stale");

    let out = console_with(&file, &["alerts", "--env", "globex", "-o", "table"]);
    assert_eq!(self::code(&out), 1);
    let text = common::stdout(&out);
    assert!(text.contains("EndpointDown"), "{text}");
    assert!(
        text.contains("warning: globex wc alertmanager: ")
            && text.contains("warning: the report is incomplete"),
        "{text}"
    );
}

/// What kube-rs's own error text would leak.
const DEBRIS: [&str; 5] = ["Status {", "Some(", "ListMeta", "ServiceError", "hyper"];

/// With the API silent, what is not known shows as `?`, never as a zero, and the failure
/// is one sentence.
#[test]
fn an_unreachable_api_shows_unknowns_not_zeros() {
    let port = closed_port();
    let file = common::fleet_with_kubeconfig(sim(), "closed-api", |k| {
        for c in common::each(k, "clusters") {
            c["cluster"]["server"] = Value::from(format!("https://127.0.0.1:{port}"));
        }
    });
    let (code, json) = report_with(&file, &["status", "--env", "acme", "--timeout", "10s"]);
    assert_eq!(code, 1, "{json:#}");
    let wc = &json["environments"][0]["clusters"][1];
    assert_eq!(wc["api"]["reachable"], false, "{wc:#}");
    let error = wc["api"]["error"].as_str().unwrap();
    assert!(
        error.contains("could not be reached (connection refused)"),
        "{error}"
    );
    for debris in DEBRIS {
        assert!(!error.contains(debris), "{error}");
    }
    for field in [
        &wc["nodes"]["total"],
        &wc["nodes"]["ready"],
        &wc["control_plane"]["ready"],
        &wc["workers"]["nodes"],
    ] {
        assert_eq!(*field, Value::Null, "{wc:#}");
    }
    assert_eq!(wc["backup"]["known"], false, "{wc:#}");

    let out = console_with(
        &file,
        &["status", "--env", "acme", "--timeout", "10s", "-o", "table"],
    );
    let text = common::stdout(&out);
    let wc_row = text
        .lines()
        .find(|l| l.starts_with("acme") && l.contains(" wc "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        wc_row.contains("?/?") && wc_row.contains("?/3") && wc_row.contains("?/20"),
        "{wc_row}"
    );
    assert!(
        !wc_row.contains("0/3") && !wc_row.contains("none completed"),
        "{wc_row}"
    );
}

/// A token the API server refuses is reported as refused credentials, in one sentence.
#[test]
fn refused_credentials_are_said_plainly() {
    let file = common::fleet_with_kubeconfig(sim(), "revoked", |k| {
        for u in common::each(k, "users") {
            u["user"]["token"] = Value::from("revoked-token");
        }
    });
    let (code, json) = report_with(&file, &["status", "--env", "acme", "--timeout", "10s"]);
    assert_eq!(code, 1, "{json:#}");
    let sc = &json["environments"][0]["clusters"][0];
    let error = sc["api"]["error"].as_str().unwrap();
    assert!(
        error.contains("refused the credentials (401 Unauthorized)"),
        "{error}"
    );
    for debris in DEBRIS {
        assert!(!error.contains(debris), "{error}");
    }
    assert_eq!(sc["sources"]["nodes"]["state"], "unauthorized", "{sc:#}");
}

#[test]
fn a_terminal_gets_a_coloured_table_by_default() {
    use portable_pty::{CommandBuilder, PtySize, native_pty_system};
    use std::io::Read;

    let pty = native_pty_system()
        .openpty(PtySize {
            rows: 50,
            cols: 250,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("a pty");
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_ck8s-console"));
    cmd.arg("--config");
    cmd.arg(&sim().fleet_file);
    cmd.arg("--state-dir");
    cmd.arg(state_dir());
    cmd.args(["alerts", "--env", "globex"]);
    cmd.env_remove("NO_COLOR");
    cmd.env_remove("CK8S_CONSOLE_CONFIG");
    let mut child = pty.slave.spawn_command(cmd).expect("spawn in the pty");
    drop(pty.slave);
    let mut reader = pty.master.try_clone_reader().expect("pty reader");
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    // Linux answers EIO once the child has closed its side; that is the end of output.
    while let Ok(n @ 1..) = reader.read(&mut buf) {
        bytes.extend_from_slice(&buf[..n]);
    }
    let status = child.wait().expect("child exits");
    let text = String::from_utf8_lossy(&bytes);
    assert!(status.success(), "{text}");
    assert!(text.starts_with("SEVERITY"), "a table, not JSON:\n{text}");
    assert!(
        text.contains("\x1b[1;31mcritical\x1b[0m"),
        "coloured:\n{text:?}"
    );
}

/// `pods` takes the selectors kubectl -l takes and the console's filter language; what
/// does not parse is bad input (exit 2), not an empty report.
#[test]
fn pods_take_kubernetes_selectors_and_the_consoles_filter_language() {
    let set = complete(&[
        "pods",
        "--env",
        "globex",
        "--selector",
        "app in (payments-worker, not-deployed)",
    ]);
    assert!(!items(&set).is_empty());
    assert!(
        items(&set)
            .iter()
            .all(|p| p["labels"]["app"] == "payments-worker")
    );
    let without = complete(&[
        "pods",
        "--env",
        "globex",
        "-n",
        "production",
        "--selector",
        "app notin (payments-worker),app",
    ]);
    assert!(!items(&without).is_empty());
    assert!(
        items(&without)
            .iter()
            .all(|p| p["labels"]["app"].is_string() && p["labels"]["app"] != "payments-worker")
    );
    let regex = complete(&["pods", "--env", "acme", "--filter", "~^coredns-"]);
    assert!(items(&regex).len() >= 4, "coredns in both clusters");
    for (args, says) in [
        (["pods", "--filter", "~["], "invalid regex"),
        (["pods", "--selector", "app in dex"], "label selector"),
        (["pods", "--selector", "=x"], "needs a key"),
    ] {
        let out = console(&args);
        assert_eq!(code(&out), 2, "{args:?}: {}", common::stderr(&out));
        assert!(
            common::stderr(&out).contains(says),
            "{args:?}: {}",
            common::stderr(&out)
        );
    }
}

/// A kubeconfig path that is not a file (`/dev/zero`, say) is refused before it is read:
/// reading it grew the process by gigabytes and ignored --timeout.
#[test]
fn a_kubeconfig_that_is_not_a_file_is_refused_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = std::fs::read_to_string(&sim().fleet_file)
        .unwrap()
        .replace(sim().kubeconfig.to_str().unwrap(), "/dev/zero");
    let fleet_file = dir.path().join("fleet.toml");
    std::fs::write(&fleet_file, fleet).unwrap();
    let out = console_with(
        &fleet_file,
        &["status", "--env", "acme", "--timeout", "10s"],
    );
    assert_eq!(code(&out), 2, "{}", common::stderr(&out));
    let err = common::stderr(&out);
    assert!(
        err.contains("acme-sc: kubeconfig /dev/zero: not a regular file"),
        "{err}"
    );
}

/// A kubeconfig that does not exist, or lacks the context the fleet config names, is a
/// config error: exit 2 before any cluster is asked, naming the cluster and the fix; and
/// `info` says the config is not valid.
#[test]
fn a_missing_kubeconfig_or_context_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(&sim().fleet_file).unwrap();
    let missing = dir.path().join("gone.kubeconfig");
    let cases = [
        (
            "no-file",
            text.replace(
                sim().kubeconfig.to_str().unwrap(),
                missing.to_str().unwrap(),
            ),
            "No such file",
        ),
        (
            "no-context",
            text.replacen("context = \"acme-wc\"", "context = \"acme-prod\"", 1),
            "it has no context \"acme-prod\"",
        ),
    ];
    for (name, fleet, says) in cases {
        let fleet_file = dir.path().join(format!("{name}.toml"));
        std::fs::write(&fleet_file, fleet).unwrap();
        for args in [
            &["status"][..],
            &[
                "run",
                "backup",
                "--env",
                "acme",
                "--cluster",
                "wc",
                "--plan",
            ],
        ] {
            let out = console_with(&fleet_file, args);
            assert_eq!(code(&out), 2, "{name} {args:?}: {}", common::stderr(&out));
            let err = common::stderr(&out);
            assert!(
                err.contains(says) && err.contains("Fix `kubeconfig` and `context`"),
                "{name}: {err}"
            );
        }
        let out = console_with(&fleet_file, &["info"]);
        let text = common::stdout(&out);
        assert!(
            text.contains("config status  invalid:") && text.contains(says),
            "{name}: {text}"
        );
    }
}

/// An SLO whose query matches no series at all is not "no data" and exit 0: the report
/// names the query (a wrong label or target, most likely) and is incomplete (exit 1).
#[test]
fn an_slo_query_that_matches_nothing_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut fleet = std::fs::read_to_string(&sim().fleet_file).unwrap();
    // Tables appended at the end belong to the last environment's workload cluster.
    fleet
        .push_str("\n[[environment.wc.probe]]\ntarget = \"no-such-target\"\nkind = \"external\"\n");
    let fleet_file = dir.path().join("fleet.toml");
    std::fs::write(&fleet_file, fleet).unwrap();
    let (code, json) = report_with(&fleet_file, &["slo"]);
    assert_eq!(code, 1, "{json:#}");
    let errors = json["errors"].to_string();
    assert!(
        errors.contains("no series matched") && errors.contains("no-such-target"),
        "{errors}"
    );
    assert!(
        !items(&json).is_empty(),
        "the other targets are still reported"
    );
}

/// The filters the README lists narrow the report as they say.
#[test]
fn report_filters_narrow_as_they_say() {
    // --node: only that node's pods, and not all pods.
    let all = complete(&["pods", "--env", "globex", "--cluster", "wc"]);
    let node = items(&all)
        .iter()
        .find_map(|p| p["node"].as_str())
        .expect("a scheduled pod")
        .to_owned();
    let on = complete(&[
        "pods",
        "--env",
        "globex",
        "--cluster",
        "wc",
        "--node",
        &node,
    ]);
    assert!(!items(&on).is_empty());
    assert!(items(&on).len() < items(&all).len());
    assert!(
        items(&on).iter().all(|p| p["node"] == node.as_str()),
        "{on:#}"
    );

    // A repeated --env: exactly those environments.
    let two = complete(&["status", "--env", "acme", "--env", "globex"]);
    let envs: Vec<&str> = two["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(envs, ["acme", "globex"]);
}

/// `--timeout` bounds the wait for a source that never answers: the report comes back
/// incomplete (exit 1) at about that time, naming what did not answer.
#[test]
fn the_timeout_bounds_the_wait_for_a_silent_source() {
    // A server that accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let held = std::thread::spawn(move || {
        let conns: Vec<_> = silent.incoming().take(8).collect();
        std::thread::sleep(Duration::from_secs(20));
        drop(conns);
    });
    let text = std::fs::read_to_string(&sim().fleet_file).unwrap();
    let acme_prometheus = format!(
        "http://{}",
        sim().fleet.cluster("acme-sc").unwrap().prometheus
    );
    assert!(text.contains(&acme_prometheus));
    let dir = tempfile::tempdir().unwrap();
    let fleet = dir.path().join("fleet.toml");
    std::fs::write(
        &fleet,
        text.replacen(&acme_prometheus, &format!("http://{addr}"), 1),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let (code, json) = report_with(
        &fleet,
        &["slo", "--env", "acme", "--cluster", "sc", "--timeout", "2s"],
    );
    let took = started.elapsed();
    assert_eq!(code, 1, "{json:#}");
    assert!(
        took < Duration::from_secs(8),
        "the 2 s timeout bounded the wait: {took:?}"
    );
    let errors = json["errors"].to_string();
    assert!(errors.contains("no answer within 2s"), "{errors}");
    drop(held);
}

/// Logs go to the state dir's daily file, at the level asked for, and never to the
/// terminal; no more than 7 files are kept.
#[test]
fn logs_go_to_a_daily_file_never_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    for day in 1..=9 {
        std::fs::write(
            logs.join(format!("ck8s-console.2026-01-{day:02}.log")),
            "old\n",
        )
        .unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_ck8s-console"))
        .arg("--config")
        .arg(&sim().fleet_file)
        .arg("--state-dir")
        .arg(dir.path())
        .args(["--log-level", "debug", "status", "--env", "acme"])
        .env("NO_COLOR", "1")
        .output()
        .expect("ck8s-console runs");
    assert_eq!(code(&out), 0, "{}", common::stderr(&out));
    assert_eq!(
        common::stderr(&out),
        "",
        "nothing but the report on the terminal"
    );
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let file = logs.join(format!("ck8s-console.{today}.log"));
    let log = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    assert!(
        log.contains(" DEBUG "),
        "debug lines at --log-level debug:\n{log:.500}"
    );
    let kept = std::fs::read_dir(&logs).unwrap().count();
    assert!(kept <= 7, "{kept} log files kept");
}

/// `alerts --silenced` includes the silenced alerts, which are left out otherwise. On a
/// fleet of its own: the silence would change what the other tests here read.
#[test]
fn silenced_alerts_show_only_when_asked_for() {
    use ck8s_fleet::sources::alertmanager::{AlertFilter, AlertmanagerClient};
    let own = common::start(SimOptions {
        environments: 2,
        ..SimOptions::default()
    });
    let url = format!(
        "http://{}",
        own.fleet.cluster("globex-wc").unwrap().alertmanager
    );
    let am = AlertmanagerClient::new(&url, None, Duration::from_secs(5)).unwrap();
    own.rt.block_on(async {
        let alerts = am.alerts(&AlertFilter::default()).await.unwrap();
        let crash = alerts
            .iter()
            .find(|a| a.alertname() == "KubePodCrashLooping")
            .expect("the demo's crash loop alerts");
        let silence = ck8s_model::alert::PostableSilence::for_alert(
            crash,
            chrono::TimeDelta::hours(1),
            "oncall",
            "fix deploying",
        );
        am.create_silence(&silence).await.unwrap();
    });
    let names = |args: &[&str]| -> Vec<(String, String)> {
        let mut all = args.to_vec();
        all.extend(["--output", "json"]);
        let out = console_with(&own.fleet_file, &all);
        assert_eq!(code(&out), 0, "{}", common::stderr(&out));
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        items(&json)
            .iter()
            .map(|a| {
                (
                    a["alertname"].as_str().unwrap().to_owned(),
                    a["state"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let loud = names(&["alerts", "--env", "globex"]);
    assert!(!loud.is_empty());
    assert!(
        loud.iter()
            .all(|(n, s)| n != "KubePodCrashLooping" && s == "active"),
        "{loud:?}"
    );
    let all = names(&["alerts", "--env", "globex", "--silenced"]);
    assert!(
        all.contains(&("KubePodCrashLooping".to_owned(), "suppressed".to_owned())),
        "{all:?}"
    );
    assert_eq!(all.len(), loud.len() + 1);
}

/// `check` on the demo fleet: CRITICAL for globex with its findings, OK for acme, UNKNOWN
/// when a source does not answer, in the plugin format a monitoring system reads.
#[test]
fn check_gives_monitoring_its_verdict() {
    let out = console(&["check", "--env", "acme"]);
    let text = common::stdout(&out);
    assert_eq!(code(&out), 0, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "CK8S OK - 1 environment(s), 2 cluster(s): no problems"
    );
    assert!(
        lines[1].starts_with("| acme-sc_nodes_ready=6;;;0;6 "),
        "{text}"
    );
    assert!(
        lines[2].starts_with("acme-wc_nodes_ready=6;;;0;6 "),
        "{text}"
    );

    let out = console(&["check"]);
    let text = common::stdout(&out);
    assert_eq!(code(&out), 2, "CRITICAL: {text}");
    let first = text.lines().next().unwrap();
    assert!(first.starts_with("CK8S CRITICAL - globex: "), "{first}");
    assert!(
        !first.contains("acme"),
        "a healthy environment is not named: {first}"
    );
    for finding in [
        "CRITICAL globex-wc: backups critical (",
        "CRITICAL globex-sc: SLO burn rate pages (grafana has ",
        "WARNING globex-wc: 1 worker node(s) not Ready: ",
        // cert-manager's metric in Prometheus: Harbor's certificate ends in 5 days.
        "WARNING globex-sc: 1 certificate(s) expire within 14d: harbor/harbor-tls in ",
    ] {
        assert!(text.contains(finding), "{finding}: {text}");
    }
    assert!(
        text.contains("globex-wc_alerts_critical=") && text.contains("initech-wc_backup_age="),
        "{text}"
    );
    assert!(common::stderr(&out).is_empty(), "{}", common::stderr(&out));

    // The same fleet with acme's Alertmanager silent: acme becomes UNKNOWN.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut fleet = config::load(&sim().fleet_file).expect("sim fleet config");
    let acme = fleet
        .environments
        .iter_mut()
        .find(|e| e.name == "acme")
        .unwrap();
    acme.wc.alertmanager = format!("http://{}", silent.local_addr().unwrap());
    let file = sim().dir.path().join("fleet-silent-alertmanager.toml");
    std::fs::write(&file, config::to_toml(&fleet)).expect("write fleet config");
    let out = console_with(&file, &["check", "--env", "acme", "--timeout", "8s"]);
    let text = common::stdout(&out);
    assert_eq!(code(&out), 3, "UNKNOWN: {text}");
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with("CK8S UNKNOWN - acme: ")
            && first.contains("wc alertmanager: no answer within 8s"),
        "{text}"
    );
    assert!(text.contains("acme-wc_alerts_critical=U;;0;0"), "{text}");

    let out = console(&["check", "--env", "nope"]);
    assert_eq!(code(&out), 3, "a check that cannot run is UNKNOWN");
    assert!(
        common::stdout(&out).starts_with("CK8S UNKNOWN - unknown environment `nope`"),
        "{}",
        common::stdout(&out)
    );
}

/// `-o yaml` is the JSON document as YAML; `-o name` one object a line.
#[test]
fn yaml_and_names_carry_the_same_report() {
    let json = complete(&["pods", "--env", "globex", "--status", "CrashLoopBackOff"]);
    let out = console(&[
        "pods",
        "--env",
        "globex",
        "--status",
        "CrashLoopBackOff",
        "-o",
        "yaml",
    ]);
    assert_eq!(code(&out), 0);
    let yaml: Value = serde_yaml_ng::from_slice(&out.stdout).expect("YAML");
    assert_eq!(yaml["schema"], "ck8s-console.pods/v1");
    // Two reports a moment apart: the same pods, with ages a second apart at most.
    let identity = |doc: &Value| -> Vec<(Value, Value, Value)> {
        items(doc)
            .iter()
            .map(|p| (p["name"].clone(), p["created"].clone(), p["labels"].clone()))
            .collect()
    };
    assert_eq!(identity(&yaml), identity(&json), "the same items");

    let out = console(&[
        "pods",
        "--env",
        "globex",
        "--status",
        "CrashLoopBackOff",
        "-o",
        "name",
    ]);
    assert_eq!(code(&out), 0);
    let names: Vec<String> = common::stdout(&out).lines().map(str::to_owned).collect();
    let expected: Vec<String> = items(&json)
        .iter()
        .map(|p| {
            format!(
                "globex-{}/{}/{}",
                p["cluster"].as_str().unwrap(),
                p["namespace"].as_str().unwrap(),
                p["name"].as_str().unwrap()
            )
        })
        .collect();
    assert!(!names.is_empty());
    assert_eq!(names, expected);

    let out = console(&["status", "-o", "name"]);
    assert_eq!(
        common::stdout(&out),
        "acme-sc\nacme-wc\nglobex-sc\nglobex-wc\ninitech-sc\ninitech-wc\n"
    );
    let out = console(&["slo", "--env", "globex", "--cluster", "sc", "-o", "name"]);
    assert!(
        common::stdout(&out)
            .lines()
            .any(|l| l == "globex-sc/grafana"),
        "{}",
        common::stdout(&out)
    );
}

/// `-o openmetrics` writes what Prometheus's own `promtool check metrics` accepts, for
/// node_exporter's textfile collector: status, slo and backups, per environment and cluster.
#[test]
fn openmetrics_is_what_prometheus_reads() {
    use std::io::Write;
    let promtool = |text: &str| {
        let mut child = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("promtool is installed (Debian: apt install prometheus)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "promtool: {}{}\n{text}",
            common::stdout(&out),
            common::stderr(&out)
        );
    };
    let metrics = |args: &[&str]| {
        let out = console(args);
        assert_eq!(code(&out), 0, "{args:?}: {}", common::stderr(&out));
        let text = common::stdout(&out);
        assert!(text.ends_with("# EOF\n"), "{text}");
        promtool(&text);
        text
    };
    let status = metrics(&["status", "--env", "globex", "-o", "openmetrics"]);
    for sample in [
        "ck8s_cluster_status{env=\"globex\",cluster=\"wc\"} 2\n",
        "ck8s_nodes_ready{env=\"globex\",cluster=\"wc\"} 5\n",
        "ck8s_api_up{env=\"globex\",cluster=\"sc\"} 1\n",
    ] {
        assert!(status.contains(sample), "{sample}: {status}");
    }
    let slo = metrics(&[
        "slo",
        "--env",
        "globex",
        "--cluster",
        "sc",
        "-o",
        "openmetrics",
    ]);
    assert!(
        slo.contains("ck8s_slo_paging{env=\"globex\",cluster=\"sc\",target=\"grafana\"} 1\n"),
        "{slo}"
    );
    assert!(
        slo.contains(
            "ck8s_slo_burn_rate{env=\"globex\",cluster=\"sc\",target=\"grafana\",window=\"5m\"} "
        ),
        "{slo}"
    );
    let backups = metrics(&["backups", "-o", "openmetrics"]);
    assert!(
        backups.contains("ck8s_backup_status{env=\"globex\",cluster=\"wc\"} 2\n")
            && backups.contains("ck8s_backup_status{env=\"acme\",cluster=\"wc\"} 0\n"),
        "{backups}"
    );
    let out = console(&["pods", "-o", "openmetrics"]);
    assert_eq!(code(&out), 2, "pods have no figures to scrape");
    assert!(common::stderr(&out).contains("status, slo and backups"));
}

/// Every report in every format, on the demo fleet: each complete (exit 0) and well formed
/// for its reader: YAML is the schema's document as JSON is, names are one a line, tables
/// have their header, OpenMetrics ends with `# EOF`.
#[test]
fn every_report_in_every_format() {
    let reports: [&[&str]; 5] = [
        &["status"],
        &["pods", "--env", "globex"],
        &["alerts"],
        &["backups"],
        &["slo", "--env", "acme"],
    ];
    for report in reports {
        let name = report[0];
        for format in ["table", "json", "yaml", "name", "openmetrics"] {
            let out = console(&[report, &["-o", format]].concat());
            let text = common::stdout(&out);
            let metrics = ["status", "slo", "backups"].contains(&name);
            if format == "openmetrics" && !metrics {
                assert_eq!(code(&out), 2, "{name} -o {format}");
                continue;
            }
            assert_eq!(
                code(&out),
                0,
                "{name} -o {format}: {}",
                common::stderr(&out)
            );
            assert!(
                !text.trim().is_empty(),
                "{name} -o {format} printed nothing"
            );
            match format {
                "json" => common::conforms(&serde_json::from_str(&text).unwrap()),
                "yaml" => {
                    let doc: Value = serde_yaml_ng::from_str(&text)
                        .unwrap_or_else(|e| panic!("{name} -o yaml: {e}\n{text}"));
                    common::conforms(&doc);
                }
                "name" => assert!(
                    text.lines().all(|l| !l.is_empty() && !l.contains(' ')),
                    "{name} -o name: {text}"
                ),
                "table" => assert!(
                    text.lines()
                        .next()
                        .unwrap()
                        .chars()
                        .any(|c| c.is_ascii_uppercase()),
                    "{name}: {text}"
                ),
                _ => assert!(text.ends_with("# EOF\n"), "{name}: {text}"),
            }
        }
    }
}
