//! Snapshots of every pane and overlay from a fixed fleet and a fixed clock, at 80x24
//! (a bastion over SSH) and 200x50 (a full screen). `INSTA_UPDATE=always cargo test
//! --test ui_snapshots` rewrites them; review the `.snap` files before committing.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone, Utc};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier};

use ck8s_console::ui::app::{App, Effect, Modal, Pane, Permission, RunsData, Scope, UiEvent};
use ck8s_console::ui::modals::pod::{ConditionInfo, ContainerInfo, EventInfo, PodDetails, PodTab};
use ck8s_console::ui::render::{self, Ctx};
use ck8s_console::ui::theme::Theme;
use ck8s_console::ui::views::Views;
use ck8s_fleet::engine::policy::{self, Decision, Finding};
use ck8s_fleet::engine::workflows::WorkflowKind;
use ck8s_fleet::engine::{Plan, audit, journal};
use ck8s_fleet::state::health::{Source, SourceHealth};
use ck8s_fleet::state::rows::*;
use ck8s_fleet::state::{ClusterState, FleetState};
use ck8s_model::alert::{
    Alert, AlertState, AlertStatus, Matcher, Receiver, Silence, SilenceState, SilenceStatus,
};
use ck8s_model::config::{self, ClusterRole};
use ck8s_model::slo::{self, Exclusion, ExclusionKind, Samples};

const FLEET: &str = r#"
version = 1

[[environment]]
name = "acme"
[environment.sc]
kubeconfig = "/k"
context = "acme-sc"
prometheus = "http://127.0.0.1:1"
alertmanager = "http://127.0.0.1:1"
[[environment.sc.probe]]
target = "kube-apiserver"
kind = "cluster"
[environment.wc]
kubeconfig = "/k"
context = "acme-wc"
prometheus = "http://127.0.0.1:1"
alertmanager = "http://127.0.0.1:1"
[[environment.wc.probe]]
target = "kube-apiserver"
kind = "cluster"

[[environment]]
name = "globex"
accent = "red"
[environment.sc]
kubeconfig = "/k"
context = "globex-sc"
prometheus = "http://127.0.0.1:1"
alertmanager = "http://127.0.0.1:1"
[[environment.sc.probe]]
target = "kube-apiserver"
kind = "cluster"
[[environment.sc.probe]]
target = "grafana"
kind = "external"
[[environment.sc.probe]]
target = "harbor"
kind = "external"
[environment.wc]
kubeconfig = "/k"
context = "globex-wc"
prometheus = "http://127.0.0.1:1"
alertmanager = "http://127.0.0.1:1"
[[environment.wc.probe]]
target = "kube-apiserver"
kind = "cluster"
[[environment.wc.probe]]
target = "wc-ingress"
kind = "cluster"

[[environment]]
name = "initech"
[environment.sc]
kubeconfig = "/k"
context = "initech-sc"
prometheus = "http://127.0.0.1:1"
alertmanager = "http://127.0.0.1:1"
[environment.wc]
kubeconfig = "/k"
context = "initech-wc"
prometheus = "http://127.0.0.1:1"
alertmanager = "http://127.0.0.1:1"
"#;

/// Saturday 28 November 2026, 11:15 in Stockholm.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 10, 15, 0).unwrap()
}

fn ago(minutes: i64) -> i64 {
    (now() - Duration::minutes(minutes)).timestamp()
}

fn s(v: &str) -> Str {
    Arc::from(v)
}

fn key(ns: &str, name: &str) -> (Str, Box<str>) {
    (s(ns), Box::from(name))
}

struct Env<'a> {
    name: &'a str,
    k8s: &'a str,
    apps: &'a str,
    troubled: bool,
    upgrading: bool,
}

fn healthy(st: &mut ClusterState, sources: &[Source]) {
    for src in sources {
        st.health.insert(
            *src,
            SourceHealth::Connected {
                since: now() - Duration::hours(3),
            },
        );
    }
}

fn nodes(st: &mut ClusterState, cluster: &str, env: &Env<'_>, workers: usize, role: ClusterRole) {
    for i in 0..3 + workers {
        let cp = i < 3;
        let name = if cp {
            format!("{cluster}-control-plane-{}", ["a7k2q", "c9d4m", "x2p8r"][i])
        } else {
            format!(
                "{cluster}-md-0-{}",
                ["9hxv2", "k4m7t", "p2wq8", "z8n3c"][(i - 3) % 4]
            )
        };
        let not_ready = env.troubled && role == ClusterRole::Wc && i == 4;
        let row = NodeRow {
            name: Box::from(name.as_str()),
            ready: Some(!not_ready),
            roles: s(if cp { "control-plane" } else { "worker" }),
            version: s(env.k8s),
            unschedulable: not_ready,
            created: ago(60 * 24 * 40),
            internal_ip: Some(Box::from(format!("10.0.0.{}", 10 + i).as_str())),
            cpu_millis: if cp { 2000 } else { 4000 },
            memory_bytes: if cp { 8 } else { 16 } * 1024 * 1024 * 1024,
            pressure: if not_ready {
                vec![s("MemoryPressure")]
            } else {
                vec![]
            },
        };
        let used = 0.2 + 0.13 * i as f64;
        st.node_usage.insert(
            name.clone(),
            Usage {
                cpu: row.cpu_millis as f64 / 1000.0 * used.min(0.93),
                memory_bytes: row.memory_bytes as f64 * (0.35 + 0.08 * i as f64).min(0.95),
            },
        );
        st.nodes.upsert((s(""), Box::from(name.as_str())), row);
    }
    st.nodes.commit_relist();
}

fn pod(
    ns: &str,
    name: &str,
    status: &str,
    restarts: u32,
    age_min: i64,
    node: &str,
    app: &str,
) -> PodRow {
    let ready = u16::from(status == "Running");
    let phase = match status {
        "Completed" => PodPhase::Succeeded,
        "Pending" | "ContainerCreating" => PodPhase::Pending,
        _ => PodPhase::Running,
    };
    PodRow {
        namespace: s(ns),
        name: Box::from(name),
        phase,
        status: s(status),
        ready,
        containers: 1,
        restarts,
        created: ago(age_min),
        node: (!node.is_empty()).then(|| s(node)),
        ip: Some(Box::from("10.244.1.7")),
        owner: Some((s("ReplicaSet"), Box::from(app))),
        labels: Box::new([(s("app"), s(app))]),
    }
}

fn pods(st: &mut ClusterState, cluster: &str, env: &Env<'_>, role: ClusterRole) {
    let w = |i: usize| format!("{cluster}-md-0-{}", ["9hxv2", "k4m7t", "p2wq8"][i % 3]);
    let mut rows = Vec::new();
    match role {
        ClusterRole::Sc => {
            for (ns, app, n) in [
                ("monitoring", "grafana", 1),
                ("monitoring", "kube-prometheus-stack-operator", 1),
                ("harbor", "harbor-core", 2),
                ("opensearch-system", "opensearch-master", 3),
                ("dex", "dex", 2),
                ("velero", "velero", 1),
            ] {
                for i in 0..n {
                    let name = format!(
                        "{app}-{}",
                        ["7c9f6d5b8-x2kqp", "7c9f6d5b8-m4n8z", "7c9f6d5b8-p9w2c"][i]
                    );
                    rows.push(pod(ns, &name, "Running", 0, 60 * 24 * 12, &w(i), app));
                }
            }
            rows.push(pod(
                "harbor",
                "harbor-backup-cronjob-29401200-8kq4m",
                "Completed",
                0,
                60 * 10,
                &w(1),
                "harbor-backup",
            ));
        }
        ClusterRole::Wc => {
            for (ns, app, n) in [
                ("production", "webshop-frontend", 3),
                ("production", "payments", 3),
                ("production", "orders-api", 2),
                ("staging", "payments", 1),
                ("ingress-nginx", "ingress-nginx-controller", 2),
                ("falco", "falco", 3),
            ] {
                for i in 0..n {
                    let name = format!(
                        "{app}-{}",
                        ["5d8f7b9c4-h7k2m", "5d8f7b9c4-q8w3n", "5d8f7b9c4-z5x9p"][i]
                    );
                    rows.push(pod(
                        ns,
                        &name,
                        "Running",
                        u32::from(app == "payments" && i == 1),
                        60 * 24 * 3 + i as i64,
                        &w(i),
                        app,
                    ));
                }
            }
            if env.troubled {
                rows.push(pod(
                    "production",
                    "payments-worker-6b7d9c8f5-r2t4v",
                    "CrashLoopBackOff",
                    14,
                    95,
                    &w(1),
                    "payments-worker",
                ));
                rows.push(pod(
                    "production",
                    "payments-db-migrate-28k4p",
                    "Pending",
                    0,
                    3,
                    "",
                    "payments-db-migrate",
                ));
            }
        }
    }
    for p in rows {
        st.pod_usage.insert(
            (p.namespace.clone(), p.name.clone()),
            Usage {
                cpu: 0.012 * (p.name.len() as f64),
                memory_bytes: 1024.0 * 1024.0 * 9.0 * p.name.len() as f64,
            },
        );
        st.pods.upsert((p.namespace.clone(), p.name.clone()), p);
    }
    st.pods.commit_relist();
}

fn capi(st: &mut ClusterState, env: &Env<'_>) {
    for role in ClusterRole::ALL {
        let cluster = format!("{}-{role}", env.name);
        let workers = 3;
        let rolling = env.upgrading && role == ClusterRole::Wc;
        let set = |name: String,
                   desired: u32,
                   ready: u32,
                   version: &str,
                   status: Option<&str>,
                   phase: Option<&str>,
                   rolling: bool| MachineSetRow {
            namespace: s("capi-clusters"),
            name: Box::from(name.as_str()),
            cluster: s(&cluster),
            desired,
            replicas: desired,
            ready,
            updated: if rolling { desired - 1 } else { desired },
            available: ready,
            version: Some(s(version)),
            status_version: status.map(s),
            phase: phase.map(s),
            rolling,
        };
        let kcp = set(
            format!("{cluster}-control-plane"),
            3,
            3,
            env.k8s,
            Some(env.k8s),
            None,
            false,
        );
        st.capi
            .control_planes
            .upsert(key("capi-clusters", &kcp.name), kcp);
        let not_ready = u32::from(env.troubled && role == ClusterRole::Wc);
        let md = set(
            format!("{cluster}-md-0"),
            workers,
            workers - not_ready,
            env.k8s,
            None,
            Some("Running"),
            rolling,
        );
        st.capi
            .machine_deployments
            .upsert(key("capi-clusters", &md.name), md);
        for i in 0..3 + workers {
            let name = format!("{cluster}-machine-{i}");
            let m = MachineRow {
                namespace: s("capi-clusters"),
                name: Box::from(name.as_str()),
                cluster: s(&cluster),
                phase: s(if rolling && i == 5 {
                    "Provisioning"
                } else {
                    "Running"
                }),
                node: Some(Box::from(name.as_str())),
                version: Some(s(env.k8s)),
                created: ago(60 * 24 * 40),
                control_plane: i < 3,
                draining: None,
            };
            st.capi.machines.upsert(key("capi-clusters", &name), m);
        }
    }
    for t in [
        &mut st.capi.control_planes as &mut dyn Commit,
        &mut st.capi.machine_deployments,
        &mut st.capi.machines,
    ] {
        t.commit();
    }
}

trait Commit {
    fn commit(&mut self);
}

impl<R> Commit for ck8s_fleet::state::table::Table<R> {
    fn commit(&mut self) {
        self.commit_relist();
    }
}

fn backups(st: &mut ClusterState, env: &Env<'_>, role: ClusterRole) {
    let failing = env.troubled && role == ClusterRole::Wc;
    // 01:00 Stockholm on each of the last days.
    for day in 0..4i64 {
        let created = Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap() - Duration::days(day);
        let name = format!("velero-daily-backup-202611{:02}010000", 28 - day);
        let failed = failing && day < 2;
        let row = BackupRow {
            namespace: s("velero"),
            name: Box::from(name.as_str()),
            schedule: Some(s("velero-daily-backup")),
            phase: s(if failed { "Failed" } else { "Completed" }),
            created: created.timestamp(),
            started: Some(created.timestamp() + 2),
            completed: Some(created.timestamp() + if failed { 95 } else { 14 * 60 + 31 }),
            expires: Some(created.timestamp() + 72 * 3600),
            errors: if failed { 1 } else { 0 },
            warnings: if day == 1 && !failed { 2 } else { 0 },
            failure_reason: failed
                .then(|| Box::from("unable to upload: storage location unavailable")),
            storage_location: Some(s("default")),
        };
        if day < 3 || failing {
            st.backup.backups.upsert(key("velero", &name), row);
        }
    }
    st.backup.backups.commit_relist();
    st.backup.schedules.upsert(
        key("velero", "velero-daily-backup"),
        ScheduleRow {
            namespace: s("velero"),
            name: Box::from("velero-daily-backup"),
            schedule: Box::from("CRON_TZ=Europe/Stockholm 0 1 * * *"),
            paused: false,
            phase: s("Enabled"),
            last_backup: Some(
                Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0)
                    .unwrap()
                    .timestamp(),
            ),
        },
    );
    st.backup.schedules.commit_relist();
    st.backup.locations.upsert(
        key("velero", "default"),
        StorageLocationRow {
            namespace: s("velero"),
            name: Box::from("default"),
            phase: s("Available"),
            default: true,
            last_validated: Some(ago(1)),
            message: None,
        },
    );
    st.backup.locations.commit_relist();
    st.backup.restores.commit_relist();
    if role == ClusterRole::Sc {
        for (ns, name, schedule, hours) in [
            ("harbor", "harbor-backup-cronjob", "30 0 * * *", 9),
            ("opensearch-system", "opensearch-backup", "0 */2 * * *", 1),
        ] {
            let last = ago(60 * hours);
            st.backup.cronjobs.upsert(
                key(ns, name),
                CronJobRow {
                    namespace: s(ns),
                    name: Box::from(name),
                    schedule: Box::from(schedule),
                    suspended: false,
                    last_schedule: Some(last),
                    last_success: Some(last + 120),
                },
            );
            let job = format!("{name}-29401200");
            st.backup.jobs.upsert(
                key(ns, &job),
                JobRow {
                    namespace: s(ns),
                    name: Box::from(job.as_str()),
                    cronjob: Some(Box::from(name)),
                    succeeded: 1,
                    failed: 0,
                    active: 0,
                    started: Some(last),
                    completed: Some(last + 120),
                    failure: None,
                },
            );
        }
        st.backup.cronjobs.commit_relist();
        st.backup.jobs.commit_relist();
    }
}

fn alert(
    cluster: &str,
    name: &str,
    severity: &str,
    extra: &[(&str, &str)],
    summary: &str,
    minutes: i64,
    silenced: bool,
) -> Alert {
    let mut labels: std::collections::BTreeMap<String, String> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    labels.insert("alertname".into(), name.into());
    labels.insert("severity".into(), severity.into());
    labels.insert("cluster".into(), cluster.into());
    let fingerprint = format!(
        "{:016x}",
        labels.iter().fold(7u64, |h, (k, v)| {
            (k.bytes().chain(v.bytes()))
                .fold(h, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
        })
    );
    Alert {
        annotations: [
            ("summary".to_string(), summary.to_string()),
            (
                "description".to_string(),
                format!(
                    "{summary} Check the {name} runbook for the usual causes and the steps to take."
                ),
            ),
            (
                "runbook_url".to_string(),
                format!(
                    "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/{}",
                    name.to_lowercase()
                ),
            ),
        ]
        .into_iter()
        .collect(),
        labels,
        starts_at: now() - Duration::minutes(minutes),
        ends_at: now() + Duration::minutes(4),
        updated_at: now(),
        fingerprint,
        receivers: vec![Receiver {
            name: "null".into(),
        }],
        generator_url: "http://prometheus-operated.monitoring:9090/graph?g0.expr=up".into(),
        status: AlertStatus {
            state: if silenced {
                AlertState::Suppressed
            } else {
                AlertState::Active
            },
            silenced_by: if silenced {
                vec!["5d2f8a91-6c1e-4b7a-9f30-2e8d4c6a1b07".into()]
            } else {
                vec![]
            },
            inhibited_by: vec![],
            muted_by: vec![],
        },
    }
}

fn alerts(st: &mut ClusterState, env: &Env<'_>, role: ClusterRole) {
    let cluster = format!("{}-{role}", env.name);
    st.alerts.push(alert(
        &cluster,
        "Watchdog",
        "none",
        &[],
        "An alert that should always be firing.",
        600,
        false,
    ));
    if env.troubled && role == ClusterRole::Wc {
        st.alerts.push(alert(
            &cluster,
            "KubePodCrashLooping",
            "warning",
            &[
                ("namespace", "production"),
                ("pod", "payments-worker-6b7d9c8f5-r2t4v"),
                ("container", "worker"),
            ],
            "Pod is crash looping.",
            88,
            false,
        ));
        st.alerts.push(alert(
            &cluster,
            "KubeNodeNotReady",
            "warning",
            &[("node", "globex-wc-md-0-k4m7t")],
            "Node is not ready.",
            41,
            false,
        ));
        st.alerts.push(alert(
            &cluster,
            "VeleroBackupFailed",
            "critical",
            &[("schedule", "velero-daily-backup")],
            "The last Velero backup failed.",
            555,
            false,
        ));
        st.alerts.push(alert(
            &cluster,
            "KubePodCrashLooping",
            "warning",
            &[
                ("namespace", "staging"),
                ("pod", "legacy-admin-7f5d-9xk2p"),
                ("container", "admin"),
            ],
            "Pod is crash looping.",
            300,
            true,
        ));
        st.silences.push(Silence {
            id: "5d2f8a91-6c1e-4b7a-9f30-2e8d4c6a1b07".into(),
            status: SilenceStatus {
                state: SilenceState::Active,
            },
            updated_at: now() - Duration::hours(2),
            matchers: vec![
                Matcher::equal("alertname", "KubePodCrashLooping"),
                Matcher::equal("namespace", "staging"),
            ],
            starts_at: now() - Duration::hours(2),
            ends_at: now() + Duration::hours(22),
            created_by: "maria".into(),
            comment: "INC-4711 staging admin app is being retired".into(),
        });
        st.silences.push(Silence {
            id: "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d".into(),
            status: SilenceStatus {
                state: SilenceState::Expired,
            },
            updated_at: now() - Duration::days(1),
            matchers: vec![Matcher::equal("alertname", "CPUThrottlingHigh")],
            starts_at: now() - Duration::days(2),
            ends_at: now() - Duration::days(1),
            created_by: "jonas".into(),
            comment: "noisy during load test".into(),
        });
    }
    if env.troubled && role == ClusterRole::Sc {
        st.alerts.push(alert(
            &cluster,
            "ProbeFailing",
            "high",
            &[("target", "grafana")],
            "Grafana is failing its uptime probe.",
            23,
            false,
        ));
    }
}

fn slo_reports(st: &mut ClusterState, cluster: &str, probes: &[config::Probe], troubled: bool) {
    let (start, end) = slo::report_span(now(), chrono_tz::Europe::Stockholm);
    let minutes = (end - start).num_minutes();
    let exclusions = vec![Exclusion {
        start: Utc.with_ymd_and_hms(2026, 11, 18, 6, 0, 0).unwrap(),
        end: Utc.with_ymd_and_hms(2026, 11, 18, 8, 30, 0).unwrap(),
        kind: ExclusionKind::PlannedMaintenance,
        reason: "Kubernetes 1.33 upgrade".into(),
    }];
    for (p, probe) in probes.iter().enumerate() {
        let burning = troubled && probe.target == "grafana";
        let values = (0..minutes)
            .map(|i| {
                let from_end = minutes - i;
                if i % 997 == 13 {
                    return None;
                }
                let bad = if burning {
                    // A bad last day and a few bad days earlier.
                    (from_end < 90 && from_end % 3 == 0)
                        || (from_end / 1440 == 6 && from_end % 7 == 0)
                        || from_end / 1440 == 12 && from_end % 11 == 0
                } else {
                    (i as usize + p * 31).is_multiple_of(20_011)
                };
                Some(!bad)
            })
            .collect();
        let samples = Samples::from_values(start, values);
        st.slo.push(slo::report(
            cluster,
            probe,
            &samples,
            &exclusions,
            now(),
            chrono_tz::Europe::Stockholm,
        ));
    }
}

fn fixture() -> FleetState {
    let fleet = config::parse(FLEET, std::path::Path::new("/fleet.toml")).unwrap();
    let state = FleetState::new(&fleet);
    let envs = [
        Env {
            name: "acme",
            k8s: "v1.33.4",
            apps: "v0.51.1",
            troubled: false,
            upgrading: false,
        },
        Env {
            name: "globex",
            k8s: "v1.33.4",
            apps: "v0.51.1",
            troubled: true,
            upgrading: false,
        },
        Env {
            name: "initech",
            k8s: "v1.32.7",
            apps: "v0.50.2",
            troubled: false,
            upgrading: true,
        },
    ];
    for env in &envs {
        let handle = state.env(env.name).unwrap().clone();
        let config = fleet.environment(env.name).unwrap();
        for role in ClusterRole::ALL {
            let cluster = format!("{}-{role}", env.name);
            handle.cluster(role).update(|st| {
                let mut sources = vec![Source::Kubernetes, Source::Nodes, Source::ConfigMaps, Source::Backups, Source::Schedules, Source::Restores, Source::BackupStorageLocations, Source::Alertmanager, Source::Metrics, Source::Slo, Source::Pods, Source::Deployments, Source::StatefulSets, Source::DaemonSets, Source::Events, Source::Pvcs];
                if role == ClusterRole::Sc {
                    sources.extend([Source::CapiClusters, Source::ControlPlanes, Source::MachineDeployments, Source::Machines, Source::CronJobs, Source::Jobs]);
                }
                healthy(st, &sources);
                st.version = Some(env.k8s.to_string());
                let mut meta = std::collections::BTreeMap::new();
                meta.insert("version".to_string(), env.apps.to_string());
                st.welkin_config.upsert(key("kube-system", "welkin-apps-meta"), meta);
                if env.upgrading && role == ClusterRole::Wc {
                    let mut lock = std::collections::BTreeMap::new();
                    lock.insert("version".to_string(), "v0.51".to_string());
                    lock.insert("timestamp".to_string(), "2026-11-28T08:15:00Z".to_string());
                    lock.insert("last_apply_step".to_string(), "40-velero.sh".to_string());
                    st.welkin_config.upsert(key("kube-system", "welkin-apps-upgrade"), lock);
                }
                st.welkin_config.commit_relist();
                nodes(st, &cluster, env, 3, role);
                backups(st, env, role);
                alerts(st, env, role);
                if env.name == "globex" {
                    pods(st, &cluster, env, role);
                    if role == ClusterRole::Wc {
                        for (i, (reason, obj, msg)) in [
                            ("BackOff", "payments-worker-6b7d9c8f5-r2t4v", "Back-off restarting failed container worker in pod payments-worker-6b7d9c8f5-r2t4v"),
                            ("NodeNotReady", "globex-wc-md-0-k4m7t", "Node globex-wc-md-0-k4m7t status is now: NodeNotReady"),
                            ("FailedScheduling", "payments-db-migrate-28k4p", "0/6 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, 5 Insufficient memory."),
                        ]
                        .into_iter()
                        .enumerate()
                        {
                            let kind = if obj.contains("md-0") { "Node" } else { "Pod" };
                            st.events.upsert(
                                key("production", &format!("ev-{i}")),
                                EventRow {
                                    namespace: s(if kind == "Node" { "" } else { "production" }),
                                    warning: true,
                                    reason: s(reason),
                                    message: Box::from(msg),
                                    object_kind: s(kind),
                                    object_name: Box::from(obj),
                                    count: [42, 1, 7][i],
                                    last_seen: ago([1, 41, 3][i]),
                                },
                            );
                        }
                        st.events.commit_relist();
                        // The metrics poller has been failing for a while: stale, not blank.
                        st.health.insert(
                            Source::Metrics,
                            SourceHealth::Stale {
                                since: now() - Duration::minutes(7),
                                error: "GET http://prometheus.globex-wc/api/v1/query: connection refused".into(),
                            },
                        );
                    }
                }
                if role == ClusterRole::Sc {
                    capi(st, env);
                }
                slo_reports(st, &cluster, &config.cluster(role).probes, env.troubled);
            });
        }
    }
    state
}

struct Screen {
    state: FleetState,
    app: App,
    views: Views,
    theme: Theme,
}

impl Screen {
    fn new() -> Screen {
        let state = fixture();
        let mut app = App::new(state.envs.iter().map(|e| e.name.clone()).collect());
        app.author = "op".into();
        app.themes = vec!["dark".into(), "light".into()];
        Screen {
            state,
            app,
            views: Views::default(),
            theme: Theme::built_in("dark").unwrap(),
        }
    }

    fn at(mut self, pane: Pane, env: Option<&str>) -> Screen {
        let _ = self.app.go(pane, env.map(String::from));
        self
    }

    fn draw(&mut self, w: u16, h: u16) -> Terminal<TestBackend> {
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        let ctx = Ctx::new(&self.state, &self.theme, now());
        // Two passes, as the event loop does after a key: the first lays out the page.
        for _ in 0..2 {
            self.views
                .refresh(&mut self.app, &self.state, now(), Instant::now());
            term.draw(|f| render::draw(f, &self.app, &self.views, &ctx))
                .unwrap();
        }
        term
    }

    fn key(&mut self, c: char) {
        self.code(crossterm::event::KeyCode::Char(c));
    }

    fn code(&mut self, code: crossterm::event::KeyCode) {
        let ev = crossterm::event::KeyEvent::new(code, crossterm::event::KeyModifiers::NONE);
        self.views
            .refresh(&mut self.app, &self.state, now(), Instant::now());
        let _ = self.app.on_key(ev, &self.views);
    }

    /// The screen at `w`x`h` as text, one line per row.
    fn text(&mut self, w: u16, h: u16) -> String {
        let term = self.draw(w, h);
        let buf = term.backend().buffer();
        (0..h)
            .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>() + "\n")
            .collect()
    }

    fn snap(&mut self, name: &str) {
        for (w, h) in [(80, 24), (200, 50)] {
            let term = self.draw(w, h);
            insta::assert_snapshot!(format!("{name}_{w}x{h}"), term.backend());
        }
    }
}

#[test]
fn fleet_overview() {
    Screen::new().snap("fleet");
}

#[test]
fn fleet_overview_with_the_troubled_environment_selected() {
    let mut s = Screen::new();
    // Sorted by attention, the troubled environment comes first; by name, second.
    assert_eq!(s.app.lists.fleet.selected, 0);
    s.snap("fleet_globex");
    s.key('s');
    s.key('j');
    assert!(s.text(200, 50).contains(" globex   Enter opens it"));
}

/// At 80 columns the APPS and RUNS columns are gone; the story under the table starts
/// with what is changing: an unfinished run, an apps upgrade in progress.
#[test]
fn the_overview_at_80_columns_names_runs_and_upgrades_in_progress() {
    let mut s = Screen::new();
    s.app
        .on_event(UiEvent::RunsLoaded(Box::new(runs_fixture())));
    let globex = s.text(80, 24);
    assert!(
        !globex.contains("RUNS") && !globex.contains("APPS"),
        "{globex}"
    );
    assert!(
        globex.contains(
            "run        scale workers=22 on wc · running · step 3/4 wait for the machines"
        ),
        "{globex}"
    );
    // After acme: the rest by name.
    s.key('j');
    s.key('j');
    let initech = s.text(80, 24);
    assert!(
        initech.contains("upgrade    wc apps") && initech.contains("v0.51, at 40-velero.sh"),
        "{initech}"
    );
}

/// The troubled environment with every source fresh: no stale banner, usage figures
/// of every node shown live.
#[test]
fn cluster_pane_with_every_source_fresh() {
    let mut s = Screen::new().at(Pane::Cluster, Some("globex"));
    s.state
        .env("globex")
        .unwrap()
        .wc
        .update(|st| healthy(st, &[Source::Metrics]));
    let text = s.text(80, 24);
    assert!(!text.contains("stale"), "{text}");
    s.snap("cluster_fresh");
}

#[test]
fn cluster_pane() {
    Screen::new()
        .at(Pane::Cluster, Some("globex"))
        .snap("cluster");
}

#[test]
fn cluster_pane_of_the_upgrading_environment() {
    Screen::new()
        .at(Pane::Cluster, Some("initech"))
        .snap("cluster_initech");
}

#[test]
fn pods_pane_of_both_clusters() {
    Screen::new().at(Pane::Pods, Some("globex")).snap("pods");
}

#[test]
fn pods_filtered_and_sorted_by_restarts() {
    let mut s = Screen::new().at(Pane::Pods, Some("globex"));
    s.app.scope = Scope::Wc;
    s.app.set_filter(Pane::Pods, "payments");
    s.key('s');
    s.key('s');
    s.key('s');
    s.key('s');
    s.snap("pods_filtered");
}

#[test]
fn pods_filter_being_typed() {
    let mut s = Screen::new().at(Pane::Pods, Some("globex"));
    s.key('/');
    for c in "~worker|migrate".chars() {
        s.key(c);
    }
    s.snap("pods_filter_typing");
}

#[test]
fn pod_details() {
    let mut s = Screen::new().at(Pane::Pods, Some("globex"));
    s.app.scope = Scope::Wc;
    s.app.set_filter(Pane::Pods, "payments-worker");
    s.code(crossterm::event::KeyCode::Enter);
    let target = match s.app.modals.last() {
        Some(Modal::Pod(p)) => p.target.clone(),
        _ => panic!("pod details did not open"),
    };
    s.app.on_event(UiEvent::PodLoaded {
        target,
        result: Ok(Box::new(PodDetails {
            status: "CrashLoopBackOff".into(),
            phase: "Running".into(),
            reason: None,
            node: Some("globex-wc-md-0-k4m7t".into()),
            ip: Some("10.244.1.7".into()),
            qos: Some("Burstable".into()),
            created: Some(ago(95)),
            started: Some(ago(95)),
            owner: Some("ReplicaSet/payments-worker-6b7d9c8f5".into()),
            service_account: Some("default".into()),
            labels: vec![
                ("app".into(), "payments-worker".into()),
                ("pod-template-hash".into(), "6b7d9c8f5".into()),
            ],
            containers: vec![ContainerInfo {
                name: "worker".into(),
                image: "harbor.globex.example/shop/payments-worker:2.4.1".into(),
                init: false,
                ready: false,
                restarts: 14,
                state: "waiting: CrashLoopBackOff".into(),
                state_since: None,
                problem: true,
                last: Some("last run ended: Error (exit 1)".into()),
            }],
            default_container: Some("worker".into()),
            conditions: vec![
                ConditionInfo {
                    kind: "PodScheduled".into(),
                    status: "True".into(),
                    ..Default::default()
                },
                ConditionInfo {
                    kind: "Ready".into(),
                    status: "False".into(),
                    reason: "ContainersNotReady".into(),
                    message: "containers with unready status: [worker]".into(),
                },
            ],
            events: vec![EventInfo {
                warning: true,
                reason: "BackOff".into(),
                message: "Back-off restarting failed container worker".into(),
                count: 42,
                last_seen: Some(ago(1)),
            }],
            yaml: [
                "# metadata.managedFields: 3 entries folded away",
                "apiVersion: v1",
                "kind: Pod",
                "metadata:",
                "  labels:",
                "    app: payments-worker",
                "    pod-template-hash: 6b7d9c8f5",
                "  name: payments-worker-6b7d9c8f5-x2x1z",
                "  namespace: production",
                "spec:",
                "  containers:",
                "  - image: harbor.globex.example/shop/payments-worker:2.4.1",
                "    name: worker",
                "  nodeName: globex-wc-md-0-k4m7t",
                "status:",
                "  phase: Running",
            ]
            .map(String::from)
            .to_vec(),
        })),
    });
    s.snap("pod_details");
    s.key('l');
    let id = match s.app.modals.last() {
        Some(Modal::Pod(p)) => {
            assert_eq!(p.tab, PodTab::Logs);
            p.log_task.unwrap()
        }
        _ => panic!(),
    };
    s.app.on_event(UiEvent::LogLines {
        id,
        lines: (0..40)
            .map(|i| format!("2026-11-28T10:{:02}:{:02}Z ERROR payment batch {i} failed: connection to payments-db:5432 refused", 10 + i / 12, (i * 5) % 60))
            .collect(),
    });
    s.snap("pod_logs");
    s.key('y');
    s.snap("pod_yaml");
}

#[test]
fn deleting_marked_pods_asks_once_for_all_of_them() {
    let mut s = Screen::new().at(Pane::Pods, Some("globex"));
    s.app.engine = true;
    s.app.scope = Scope::Wc;
    s.app.set_filter(Pane::Pods, "payments");
    s.key(' ');
    s.key(' ');
    s.snap("pods_marked");
    s.key('x');
    s.snap("pods_delete_marked");
}

/// Space marks alerts; `s` then opens one form for all of them: a silence each, with
/// its own labels as matchers.
#[test]
fn silencing_marked_alerts_asks_once() {
    let mut s = Screen::new().at(Pane::Alerts, Some("globex"));
    s.app.engine = true;
    s.key(' ');
    s.key(' ');
    assert_eq!(s.app.alert_marks.len(), 2);
    assert!(s.text(80, 24).contains("· 2 marked"));
    s.key(' ');
    assert_eq!(s.app.alert_marks.len(), 3, "Space moved on to the next");
    s.key('k');
    s.key(' ');
    assert_eq!(s.app.alert_marks.len(), 2, "and unmarks what is marked");
    s.key('s');
    let text = s.text(200, 50);
    assert!(
        text.contains("Silence 2 alerts, each by its own labels"),
        "{text}"
    );
    s.snap("alerts_silence_marked");
}

/// `Y` on an alert copies its link (the rule's graph in Prometheus), in the list and in
/// its details, to the terminal's clipboard.
#[test]
fn an_alerts_link_is_copied() {
    let mut s = Screen::new().at(Pane::Alerts, Some("globex"));
    s.views.refresh(&mut s.app, &s.state, now(), Instant::now());
    let ev = crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Char('Y'),
        crossterm::event::KeyModifiers::NONE,
    );
    let link = "http://prometheus-operated.monitoring:9090/graph?g0.expr=up";
    let effects = s.app.on_key(ev, &s.views);
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Copy(t) if t == link)),
        "{effects:?}"
    );
    s.code(crossterm::event::KeyCode::Enter);
    s.views.refresh(&mut s.app, &s.state, now(), Instant::now());
    let effects = s.app.on_key(ev, &s.views);
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Copy(t) if t == link)),
        "in its details too: {effects:?}"
    );
}

#[test]
fn alerts_pane() {
    Screen::new()
        .at(Pane::Alerts, Some("globex"))
        .snap("alerts");
}

#[test]
fn alerts_of_the_whole_fleet_grouped_by_severity() {
    let mut s = Screen::new().at(Pane::Alerts, None);
    s.key('o');
    s.snap("alerts_fleet");
}

/// In the fleet-wide alerts pane, no environment is open: an alert of a read-only
/// environment still cannot be silenced, and one of another environment can.
#[test]
fn a_read_only_environment_cannot_be_silenced_from_the_whole_fleet() {
    let mut s = Screen::new().at(Pane::Alerts, None);
    let selected = s.app.lists.alerts.selected;
    s.views.refresh(&mut s.app, &s.state, now(), Instant::now());
    let env = s.views.alerts.alert(selected).expect("an alert").sources[0]
        .0
        .clone();
    s.app.read_only_envs.insert(env.clone());
    s.key('s');
    assert!(s.app.modals.is_empty(), "no silence form");
    let flash = &s.app.flash.as_ref().expect("a message").text;
    assert!(
        flash.contains(&format!("{env} is read-only in the fleet config")),
        "{flash}"
    );
    s.app.read_only_envs.clear();
    s.app.read_only_envs.insert("some-other-env".into());
    s.key('s');
    assert!(matches!(s.app.modals.last(), Some(Modal::Silence(_))));
}

/// A long message wraps onto up to three lines instead of being cut at the edge.
#[test]
fn long_messages_wrap_in_the_status_line() {
    let mut s = Screen::new().at(Pane::Cluster, Some("globex"));
    s.app.flash(
        ck8s_console::ui::app::Level::Error,
        "scale workers…: RBAC: you may not patch machinedeployments.cluster.x-k8s.io in \
         globex-sc (the user read-only@globex has only get, list and watch there); ask the \
         platform team for the operator role",
    );
    let term = s.draw(80, 24);
    let text = format!("{:?}", term.backend());
    assert!(
        text.contains("operator role"),
        "the end of the message shows: {text}"
    );
    s.snap("long_message");
}

/// The light theme paints its own background, under the panes and under overlays, so its
/// dark text reads on a dark terminal too.
#[test]
fn the_light_theme_paints_its_background() {
    let mut s = Screen::new().at(Pane::Cluster, Some("globex"));
    s.theme = Theme::built_in("light").unwrap();
    s.key('?');
    let term = s.draw(80, 24);
    let buf = term.backend().buffer();
    let blank_cells: Vec<_> = buf.content().iter().filter(|c| c.symbol() == " ").collect();
    assert!(!blank_cells.is_empty());
    assert!(
        blank_cells
            .iter()
            .all(|c| c.bg != ratatui::style::Color::Reset),
        "every blank cell has the theme's background"
    );
}

#[test]
fn alert_details() {
    let mut s = Screen::new().at(Pane::Alerts, Some("globex"));
    s.key('j');
    s.code(crossterm::event::KeyCode::Enter);
    s.snap("alert_details");
}

/// Enter on a row shows it whole: the node whose name the table cuts at 80 columns, with
/// every field; Enter there goes on to its pods.
#[test]
fn a_node_shows_whole_in_its_details_and_enter_goes_on_to_its_pods() {
    let mut s = Screen::new().at(Pane::Cluster, Some("globex"));
    let name = "globex-sc-control-plane-a7k2q";
    let table = s.text(80, 24);
    assert!(
        table.contains("globex-sc-co…-plane-a7k2q") && !table.contains(name),
        "the table cuts the name:\n{table}"
    );
    s.code(crossterm::event::KeyCode::Enter);
    assert!(matches!(s.app.modals.last(), Some(Modal::Details(_))));
    let details = s.text(80, 24);
    for whole in [name, "control-plane", "Internal IP", "v1.33.4"] {
        assert!(details.contains(whole), "{whole} in:\n{details}");
    }
    s.snap("node_details");
    s.code(crossterm::event::KeyCode::Enter);
    assert!(s.app.modals.is_empty());
    assert_eq!(s.app.pane, Pane::Pods);
    assert_eq!(s.app.filter_of(Pane::Pods), name);
    assert_eq!(s.app.scope, Scope::Sc);
}

/// The failed backup's reason, cut in the table, and the cluster's schedules, storage
/// locations and findings, which 80x24 leaves out, show whole in its details.
#[test]
fn a_failed_backup_shows_its_reason_and_its_clusters_inventory_whole() {
    let mut s = Screen::new().at(Pane::Backups, Some("globex"));
    let pane = s.text(80, 24);
    assert!(
        pane.contains("more · Enter shows all"),
        "the cut says so:\n{pane}"
    );
    let failed = s
        .views
        .backups
        .backups
        .iter()
        .position(|(_, b)| b.phase.as_ref() == "Failed")
        .expect("a failed backup in the fixture");
    for _ in 0..failed {
        s.key('j');
    }
    s.code(crossterm::event::KeyCode::Enter);
    let details = s.text(80, 24);
    for whole in [
        "unable to upload: storage location unavailable",
        "Failed",
        "The workload cluster",
    ] {
        assert!(details.contains(whole), "{whole} in:\n{details}");
    }
    s.snap("backup_details");
    // The rest is below: scrolling reaches the schedule and the storage location.
    s.text(80, 24);
    s.key('G');
    let end = s.text(80, 24);
    assert!(
        end.contains("wc  schedule") && end.contains("wc  storage"),
        "{end}"
    );
}

/// A run's details show every log line (the pane only the newest), open at the end,
/// scroll to the top, and wrap or cut long lines with `w`.
#[test]
fn a_runs_details_show_the_whole_log_and_scroll_and_wrap() {
    let mut s = Screen::new().at(Pane::Runs, Some("globex"));
    s.app
        .on_event(UiEvent::RunsLoaded(Box::new(runs_fixture())));
    s.code(crossterm::event::KeyCode::Enter);
    // A small terminal first: the details open at their end, the newest log line.
    let bottom = s.text(60, 14);
    let last = "22 of 22 machines, 15 of 19 new ones running";
    assert!(
        bottom.contains(last) && bottom.contains("↑ "),
        "opened at the end, with lines above:\n{bottom}"
    );
    s.key('g');
    let top = s.text(60, 14);
    assert!(
        top.contains("override reason") && top.contains("more") && !top.contains(last),
        "{top}"
    );
    let reason = "INC-4711 Black Friday traffic, approved by the customer's CTO";
    let joined: String = top
        .lines()
        .map(|l| l.trim_matches(|c| c == '│' || c == ' '))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        joined.contains(reason),
        "wrapped, the whole reason shows:\n{top}"
    );
    s.key('w');
    let cut = s.text(60, 14);
    assert!(cut.contains("w wrap off") && !cut.contains("CTO"), "{cut}");
    s.key('w');
    let run = &s.app.runs.runs[0];
    let log: Vec<String> = run
        .steps
        .iter()
        .flat_map(|st| st.log.iter().map(|l| l.message.clone()))
        .collect();
    let all = s.text(200, 50);
    for line in &log {
        assert!(all.contains(line.as_str()), "{line} in:\n{all}");
    }
    s.snap("run_details");
}

/// `e` in the Cluster pane shows every warning event whole, where the pane has room for
/// the newest only.
#[test]
fn every_warning_event_shows_whole() {
    let mut s = Screen::new().at(Pane::Cluster, Some("globex"));
    let pane = s.text(80, 24);
    assert!(pane.contains("e shows all"), "{pane}");
    s.key('e');
    let events = s.text(200, 50);
    let n = s.views.cluster.events.len();
    assert!(n > 1);
    for e in &s.views.cluster.events {
        assert!(events.contains(e.event.message.as_ref()), "{events}");
    }
    s.snap("warning_events");
}

#[test]
fn silence_form() {
    let mut s = Screen::new().at(Pane::Alerts, Some("globex"));
    s.key('j');
    s.key('s');
    assert!(matches!(s.app.modals.last(), Some(Modal::Silence(_))));
    s.code(crossterm::event::KeyCode::Enter);
    s.snap("silence_form_invalid");
    for c in "INC-4712 worker fix being deployed".chars() {
        s.key(c);
    }
    s.snap("silence_form");
}

#[test]
fn silences_list_and_expire_confirmation() {
    let mut s = Screen::new().at(Pane::Alerts, Some("globex"));
    s.key('S');
    s.snap("silences");
    s.key('x');
    s.snap("silence_expire_confirm");
}

#[test]
fn backups_pane() {
    Screen::new()
        .at(Pane::Backups, Some("globex"))
        .snap("backups");
}

/// `d` on a backup: what `velero backup describe --details` shows, as the console reads
/// it from the backup and the files in its bucket; then `l`, its log, searched.
#[test]
fn a_backup_described_and_its_log() {
    let mut s = Screen::new().at(Pane::Backups, Some("globex"));
    s.app.engine = true;
    s.key('j');
    s.key('d');
    let key = s.app.backup_read.as_ref().expect("asked for").key.clone();
    assert!(key.starts_with("describe:wc/velero-daily-backup-"), "{key}");
    assert!(s.text(80, 24).contains("Asking Velero for it"));
    let backup = serde_json::json!({
        "metadata": {"name": "velero-daily-backup-20261128010000", "namespace": "velero",
            "labels": {"velero.io/schedule-name": "velero-daily-backup"}},
        "spec": {"includedNamespaces": ["*"], "excludedNamespaces": ["kube-system", "velero"],
            "storageLocation": "default", "ttl": "720h0m0s"},
        "status": {"phase": "PartiallyFailed", "errors": 1, "warnings": 1,
            "startTimestamp": "2026-11-28T00:00:02Z", "completionTimestamp": "2026-11-28T00:05:57Z",
            "expiration": "2026-12-28T00:00:02Z", "progress": {"totalItems": 4, "itemsBackedUp": 4}}
    });
    let list = serde_json::json!({"v1/Namespace": ["production"],
        "apps/v1/Deployment": ["production/payments", "production/checkout"],
        "v1/ConfigMap": ["production/payments-config"]});
    let results = serde_json::json!({
        "errors": {"namespaces": {"production": ["error executing custom action (groupResource=persistentvolumeclaims, namespace=production, name=data-postgres-0): timed out waiting for the volume snapshot"]}},
        "warnings": {"velero": ["no volume snapshot location is configured"]}});
    let lines = ck8s_fleet::velero::description(&backup, Some((Ok(list), Ok(results))));
    s.app.on_event(UiEvent::BackupRead {
        key,
        env: "globex".into(),
        result: Ok(lines),
    });
    s.snap("backups_describe");

    s.code(crossterm::event::KeyCode::Esc);
    s.key('l');
    let key = s.app.backup_read.as_ref().unwrap().key.clone();
    assert!(key.starts_with("log:wc/"), "{key}");
    let log: Vec<String> = (0..30)
        .map(|i| {
            let level = if i == 17 { "error" } else { "info" };
            format!("time=\"2026-11-28T00:00:{i:02}Z\" level={level} msg=\"Backing up item\" backup=velero/velero-daily-backup-20261128010000 name=item-{i} namespace=production resource=configmaps")
        })
        .collect();
    s.app.on_event(UiEvent::BackupRead {
        key,
        env: "globex".into(),
        result: Ok(log),
    });
    s.key('/');
    for c in "level=error".chars() {
        s.key(c);
    }
    s.code(crossterm::event::KeyCode::Enter);
    let text = s.text(80, 24);
    assert!(
        text.contains("name=item-17") || text.contains("level=error"),
        "{text}"
    );
    assert!(text.contains("/level=error: 1 line"), "{text}");
    s.snap("backups_log_search");
}

#[test]
fn backups_pane_of_a_healthy_environment() {
    Screen::new()
        .at(Pane::Backups, Some("acme"))
        .snap("backups_acme");
}

#[test]
fn slo_pane() {
    Screen::new().at(Pane::Slo, Some("globex")).snap("slo");
}

#[test]
fn runs_pane() {
    let mut s = Screen::new().at(Pane::Runs, Some("globex"));
    // Before the journals are read, the pane says so rather than "no runs".
    let text = s.text(80, 24);
    assert!(
        text.contains("Reading the run journals") && !text.contains("No workflow runs"),
        "{text}"
    );
    s.app.on_event(UiEvent::RunsLoaded(Box::new(RunsData {
        loaded: true,
        ..Default::default()
    })));
    s.snap("runs");
}

fn journal_line(minutes: i64, entry: journal::Entry) -> journal::Line {
    journal::Line {
        ts: now() - Duration::minutes(minutes),
        entry,
    }
}

/// Two runs as their journals tell them: a scale of globex-wc past the worker limit with
/// an override, still waiting for its machines, and a failed backup of globex-wc.
/// A run this console started ends while the user is elsewhere: the status line says so,
/// and at which step and why it failed, until Esc or the runs pane.
#[test]
fn a_run_that_ends_says_so_until_acknowledged() {
    let mut s = Screen::new().at(Pane::Cluster, Some("globex"));
    let mut ended = runs_fixture();
    let backup_id = ended.runs[1].id.clone();
    ended.local.push(backup_id.clone());
    let mut open = ended.clone();
    open.runs[1].outcome = None;
    open.runs[1].steps[2].state = journal::StepState::Running;
    s.app.on_event(UiEvent::RunsLoaded(Box::new(open)));
    assert!(s.app.notice.is_none(), "nothing ended yet");
    s.app.on_event(UiEvent::RunsLoaded(Box::new(ended.clone())));
    let notice = s.app.notice.as_ref().expect("a notice").text.clone();
    assert!(
        notice.contains("run backup on globex-wc FAILED at “wait for the backup”")
            && notice.contains("error putting object"),
        "{notice}"
    );
    s.snap("run_ended_notice");
    // It stays through other keys, and also when the same data comes again.
    s.key('j');
    s.app.on_event(UiEvent::RunsLoaded(Box::new(ended)));
    assert!(s.app.notice.is_some());
    s.code(crossterm::event::KeyCode::Esc);
    assert!(s.app.notice.is_none(), "Esc acknowledges");
    assert_eq!(s.app.pane, Pane::Cluster, "and does nothing else");
}

fn runs_fixture() -> RunsData {
    use journal::Entry::*;
    let started =
        |workflow: &str, params: &[(&str, &str)], reason: Option<&str>, steps: &[&str]| Started {
            workflow: workflow.into(),
            env: "globex".into(),
            cluster: ClusterRole::Wc,
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            actor: "op@bastion".into(),
            reason: reason.map(String::from),
            steps: steps.iter().map(|s| s.to_string()).collect(),
        };
    let scale = [
        journal_line(
            6,
            started(
                "scale",
                &[("workers", "22")],
                Some("INC-4711 Black Friday traffic, approved by the customer's CTO"),
                &[
                    "find the MachineDeployment",
                    "set the worker count",
                    "wait for the machines",
                    "wait for the nodes",
                ],
            ),
        ),
        journal_line(6, StepStarted { step: 0 }),
        journal_line(
            6,
            StepDone {
                step: 0,
                message: "MachineDeployment capi-clusters/globex-wc-md-0 has 3 workers, 2 ready"
                    .into(),
            },
        ),
        journal_line(6, StepStarted { step: 1 }),
        journal_line(
            6,
            StepDone {
                step: 1,
                message:
                    "MachineDeployment capi-clusters/globex-wc-md-0: scaled from 3 to 22 workers"
                        .into(),
            },
        ),
        journal_line(6, StepStarted { step: 2 }),
        journal_line(
            5,
            Log {
                step: 2,
                message: "12 of 22 machines, 4 of 19 new ones running, 0 being removed".into(),
            },
        ),
        journal_line(
            1,
            Log {
                step: 2,
                message: "22 of 22 machines, 15 of 19 new ones running, 0 being removed".into(),
            },
        ),
    ];
    let backup = [
        journal_line(
            50,
            started(
                "backup",
                &[],
                None,
                &[
                    "read the schedule",
                    "create the backup",
                    "wait for the backup",
                ],
            ),
        ),
        journal_line(50, StepStarted { step: 0 }),
        journal_line(
            50,
            StepDone {
                step: 0,
                message:
                    "Schedule velero/velero-daily-backup (storage location default, ttl 72h0m0s)"
                        .into(),
            },
        ),
        journal_line(50, StepStarted { step: 1 }),
        journal_line(
            50,
            StepDone {
                step: 1,
                message: "created Backup velero/velero-daily-backup-console-1a2b".into(),
            },
        ),
        journal_line(50, StepStarted { step: 2 }),
        journal_line(
            49,
            StepFailed {
                step: 2,
                error:
                    "Backup velero/velero-daily-backup-console-1a2b Failed: error putting object"
                        .into(),
            },
        ),
        journal_line(
            49,
            Finished {
                outcome: journal::Outcome::Failed,
            },
        ),
    ];
    let scale_id = "20261128T100900Z-scale-globex-wc-3f9a";
    let backup_id = "20261128T092500Z-backup-globex-wc-1a2b";
    let record = |seq: u64,
                  minutes: i64,
                  action: &str,
                  run: &str,
                  reason: Option<&str>,
                  detail: serde_json::Value| {
        audit::AuditRecord {
            seq,
            ts: now() - Duration::minutes(minutes),
            actor: "op@bastion".into(),
            action: action.into(),
            env: "globex".into(),
            cluster: Some("wc".into()),
            target: None,
            run_id: Some(run.into()),
            reason: reason.map(String::from),
            detail,
            prev: String::new(),
            hash: String::new(),
        }
    };
    RunsData {
        loaded: true,
        runs: vec![
            journal::replay(scale_id, &scale).unwrap(),
            journal::replay(backup_id, &backup).unwrap(),
        ],
        audit: vec![
            record(
                1,
                50,
                "run.start",
                backup_id,
                None,
                serde_json::json!({"workflow": "backup"}),
            ),
            record(
                2,
                49,
                "run.finish",
                backup_id,
                None,
                serde_json::json!({"outcome": "failed"}),
            ),
            record(
                3,
                6,
                "run.start",
                scale_id,
                Some("INC-4711 Black Friday traffic, approved by the customer's CTO"),
                serde_json::json!({"workflow": "scale"}),
            ),
            record(
                4,
                6,
                "run.step",
                scale_id,
                None,
                serde_json::json!({"step": "set the worker count", "result": "scaled from 3 to 22 workers"}),
            ),
        ],
        errors: vec![],
        local: vec![scale_id.into()],
    }
}

#[test]
fn runs_pane_with_a_running_and_a_failed_run_and_the_audit_history() {
    let mut s = Screen::new().at(Pane::Runs, Some("globex"));
    s.app.engine = true;
    s.app
        .on_event(UiEvent::RunsLoaded(Box::new(runs_fixture())));
    s.snap("runs_with_runs");
    s.key('j');
    s.snap("runs_failed_selected");
    s.key('a');
    s.snap("runs_audit");
}

/// Runs live in the console's process: quitting with one in progress asks first, and says
/// what happens to it.
#[test]
fn quitting_with_a_run_in_progress_asks_first() {
    let mut s = Screen::new().at(Pane::Runs, Some("globex"));
    s.app.engine = true;
    s.app
        .on_event(UiEvent::RunsLoaded(Box::new(runs_fixture())));
    s.key('q');
    assert_eq!(s.app.quit, None, "a run is in progress");
    s.snap("quit_with_runs");
    s.key('y');
    assert_eq!(s.app.quit, Some(0));
    let mut idle = Screen::new();
    idle.key('q');
    assert_eq!(idle.app.quit, Some(0), "nothing running: quit at once");
}

#[test]
fn workflow_form_asks_for_an_override_reason_when_the_policy_does() {
    let mut s = Screen::new().at(Pane::Cluster, Some("globex"));
    s.app.engine = true;
    s.app.scope = Scope::Wc;
    s.key('w');
    for c in "22".chars() {
        s.key(c);
    }
    s.snap("run_form_inputs");
    let enter = crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Enter,
        crossterm::event::KeyModifiers::NONE,
    );
    let effects = s.app.on_key(enter, &s.views);
    let Some(Effect::PlanRun { id, request }) = effects.first().cloned() else {
        panic!("Enter on valid inputs asks the engine for a plan: {effects:?}");
    };
    assert_eq!(
        request.params.get("workers").map(String::as_str),
        Some("22")
    );
    assert_eq!(
        (request.env.as_str(), request.role),
        ("globex", ClusterRole::Wc)
    );
    // The real policy, asked with the fixture's facts: its critical alerts and backups.
    let globex = s.state.env("globex").unwrap();
    let wc = globex.wc.read();
    let mut firing: Vec<String> = wc
        .alerts
        .iter()
        .filter(|a| a.label("severity") == Some("critical"))
        .map(|a| a.alertname().to_owned())
        .collect();
    firing.sort();
    firing.dedup();
    let facts = policy::Facts {
        now: now(),
        firing_critical: firing.clone(),
        last_good_backup: wc
            .backup
            .backups
            .values()
            .filter(|b| b.phase.as_ref() == "Completed")
            .filter_map(|b| b.completed)
            .max()
            .and_then(|t| DateTime::from_timestamp(t, 0)),
        ..Default::default()
    };
    drop(wc);
    let decision = policy::evaluate(
        &s.state.policy,
        &policy::Intent::ScaleWorkers { from: 3, to: 22 },
        &facts,
    );
    let rules: Vec<&str> = decision.findings().iter().map(|f| f.rule).collect();
    assert_eq!(rules, ["worker-limit", "critical-alerts"], "{decision:?}");
    assert!(
        decision.findings()[1]
            .message
            .contains("VeleroBackupFailed"),
        "{decision:?}"
    );
    let checked = vec![
        format!("alerts: {} critical firing in globex-wc", firing.len()),
        "backups: last good one 2026-11-27 00:12 UTC".to_string(),
        "cluster lock: free".to_string(),
    ];
    let plan = Plan::new(
        request,
        "scale globex-wc from 3 to 22 workers".into(),
        decision,
        checked,
    );
    s.app.on_event(UiEvent::RunPlanned {
        id,
        result: Ok(plan),
    });
    // Enter without a reason is refused inline and starts nothing.
    assert!(s.app.on_key(enter, &s.views).is_empty());
    for c in "INC-4711".chars() {
        s.key(c);
    }
    s.snap("run_form_override");
    for c in " Black Friday, approved by the CTO".chars() {
        s.key(c);
    }
    match s.app.on_key(enter, &s.views).first() {
        Some(Effect::StartRun { reason, plan, .. }) => {
            assert_eq!(
                reason.as_deref(),
                Some("INC-4711 Black Friday, approved by the CTO")
            );
            assert!(plan.needs_override());
        }
        other => panic!("a valid reason starts the run: {other:?}"),
    }
}

#[test]
fn help() {
    let mut s = Screen::new().at(Pane::Pods, Some("globex"));
    s.app.permissions.insert(
        ("globex".into(), ClusterRole::Wc, "pods.logs"),
        Permission::Denied(String::new()),
    );
    s.key('?');
    s.snap("help");
}

/// Help once the permission checks are back: granted actions say so, a denied one says
/// where.
#[test]
fn help_with_the_permissions_checked() {
    let mut s = Screen::new().at(Pane::Pods, Some("globex"));
    for spec in ck8s_console::ui::keymap::REGISTRY
        .iter()
        .filter(|s| s.rbac.is_some())
    {
        for role in ClusterRole::ALL {
            s.app
                .permissions
                .insert(("globex".into(), role, spec.id), Permission::Allowed);
        }
    }
    s.app.permissions.insert(
        ("globex".into(), ClusterRole::Wc, "pods.logs"),
        Permission::Denied(String::new()),
    );
    s.key('?');
    let text = s.text(200, 50);
    assert!(!text.contains("checking…"), "{text}");
    assert!(
        text.contains("allowed") && text.contains("denied in wc"),
        "{text}"
    );
    s.snap("help_granted");
}

#[test]
fn help_in_read_only_mode() {
    let mut s = Screen::new().at(Pane::Alerts, Some("globex"));
    s.app.read_only = true;
    s.key('?');
    s.snap("help_read_only");
}

#[test]
fn command_line_completion() {
    let mut s = Screen::new().at(Pane::Pods, Some("globex"));
    s.key(':');
    s.key('s');
    s.code(crossterm::event::KeyCode::Tab);
    let term = s.draw(80, 24);
    insta::assert_snapshot!("command_completion_80x24", term.backend());
}

#[test]
fn a_terminal_too_small_says_so() {
    let mut s = Screen::new();
    let term = s.draw(50, 10);
    insta::assert_snapshot!("too_small", term.backend());
}

/// The first cell of `text` on screen.
fn cell_of(buf: &ratatui::buffer::Buffer, text: &str) -> ratatui::buffer::Cell {
    let area = buf.area;
    let want: Vec<String> = text.chars().map(String::from).collect();
    for y in 0..area.height {
        let row: Vec<&str> = (0..area.width).map(|x| buf[(x, y)].symbol()).collect();
        if let Some(x) = row
            .windows(want.len())
            .position(|w| w.iter().zip(&want).all(|(a, b)| a == b))
        {
            return buf[(x as u16, y)].clone();
        }
    }
    panic!("{text} is not on screen")
}

#[test]
fn severities_are_coloured_and_monochrome_has_no_colour() {
    let mut s = Screen::new().at(Pane::Alerts, Some("globex"));
    let term = s.draw(120, 30);
    let buf = term.backend().buffer();
    assert_eq!(cell_of(buf, "critical").fg, Color::Red);
    assert_eq!(cell_of(buf, "warning").fg, Color::Yellow);
    assert_eq!(
        cell_of(buf, " globex ").bg,
        Color::Red,
        "the environment's accent"
    );

    s.theme = Theme::built_in("monochrome").unwrap();
    let term = s.draw(120, 30);
    let buf = term.backend().buffer();
    for cell in buf.content() {
        assert!(
            matches!(cell.fg, Color::Reset) && matches!(cell.bg, Color::Reset),
            "{cell:?}"
        );
    }
    let critical = cell_of(buf, "critical");
    assert!(
        critical.modifier.contains(Modifier::REVERSED),
        "critical stands out without colour"
    );
}

#[test]
fn stale_data_is_marked_and_kept() {
    let mut s = Screen::new().at(Pane::Pods, Some("globex"));
    let text = s.text(200, 50);
    assert!(
        text.contains("globex-wc metrics: stale since 11:08:00 (7m ago)"),
        "{text}"
    );
    // The stale source's own last data stays: the wc pod's last CPU and memory figures.
    let row = |text: &str, pod: &str| {
        text.lines()
            .find(|l| l.contains(pod))
            .unwrap_or_else(|| panic!("{pod} listed:\n{text}"))
            .to_string()
    };
    let worker = row(&text, "payments-worker-6b7d9c8f5-r2t4v");
    assert!(
        worker.contains("372m") && worker.contains("279Mi"),
        "{worker}"
    );
    // And when the pod list itself goes stale, its last rows stay, marked.
    s.state.env("globex").unwrap().wc.update(|st| {
        st.health.insert(
            Source::Pods,
            SourceHealth::Stale {
                since: now() - Duration::minutes(3),
                error: "watch: connection reset".into(),
            },
        );
    });
    let text = s.text(200, 50);
    assert!(
        text.contains("globex-wc pods: stale since 11:12:00 (3m ago)"),
        "{text}"
    );
    let worker = row(&text, "payments-worker-6b7d9c8f5-r2t4v");
    assert!(worker.contains("CrashLoopBackOff"), "{worker}");
}

/// No size is too odd: every pane and overlay draws at sizes from below the minimum to a
/// wide screen without panicking, with one cluster or both.
#[test]
fn every_pane_and_overlay_draws_at_any_size() {
    let sizes = [
        (20, 5),
        (59, 11),
        (60, 12),
        (61, 13),
        (80, 24),
        (97, 31),
        (120, 40),
        (250, 70),
    ];
    for pane in Pane::ALL {
        for scope in [Scope::Both, Scope::Wc] {
            for overlay in ['-', '?', 'o'] {
                let mut s = Screen::new().at(pane, Some("globex"));
                s.app.scope = scope;
                match (overlay, pane) {
                    ('?', _) => s.key('?'),
                    ('o', Pane::Pods | Pane::Alerts) => s.code(crossterm::event::KeyCode::Enter),
                    _ => {}
                }
                for (w, h) in sizes {
                    let _ = s.draw(w, h);
                }
                // And the same after moving to the end of every list.
                s.key('G');
                for (w, h) in sizes {
                    let _ = s.draw(w, h);
                }
            }
        }
    }
}

/// Drawing works from the views it is given: a writer holding a cluster's lock (a relist
/// applying thousands of pods, say) cannot hold up a frame. The writer here holds the lock
/// for 10 s unless the frame is done first; a frame that waited for it would take that long.
#[test]
fn drawing_takes_no_lock_of_the_state() {
    for pane in [
        Pane::Fleet,
        Pane::Pods,
        Pane::Alerts,
        Pane::Cluster,
        Pane::Backups,
        Pane::Slo,
    ] {
        let mut s = Screen::new().at(pane, Some("globex"));
        s.views.refresh(&mut s.app, &s.state, now(), Instant::now());
        let ctx = Ctx::new(&s.state, &s.theme, now());
        // Every cluster of the fleet locked by a writer, not only the open environment's.
        let (held_tx, held_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let release_rx = std::sync::Arc::new(std::sync::Mutex::new(release_rx));
        let clusters: Vec<_> = s.state.clusters().cloned().collect();
        let writers: Vec<_> = clusters
            .into_iter()
            .map(|cluster| {
                let (held_tx, release_rx) = (held_tx.clone(), release_rx.clone());
                std::thread::spawn(move || {
                    cluster.update(|_| {
                        held_tx.send(()).unwrap();
                        let _ = release_rx
                            .lock()
                            .unwrap()
                            .recv_timeout(std::time::Duration::from_secs(10));
                    });
                })
            })
            .collect();
        for _ in 0..writers.len() {
            held_rx.recv().unwrap();
        }
        let start = std::time::Instant::now();
        let mut term = Terminal::new(TestBackend::new(120, 30)).unwrap();
        term.draw(|f| render::draw(f, &s.app, &s.views, &ctx))
            .unwrap();
        let waited = start.elapsed();
        for _ in 0..writers.len() {
            let _ = release_tx.send(());
        }
        for w in writers {
            w.join().unwrap();
        }
        assert!(
            waited < std::time::Duration::from_secs(5),
            "{pane:?}: the frame waited {waited:?} for the state's lock"
        );
    }
}

/// A drain outside the window, in trouble on every count: at 80x24 the verdict and its
/// reasons come first, whole and wrapped, and whatever does not fit is a PgDn away with a
/// sign saying so.
#[test]
fn a_plan_with_four_findings_lists_them_all_at_80x24() {
    let mut s = Screen::new().at(Pane::Cluster, Some("globex"));
    s.app.engine = true;
    let node = [("node", "globex-wc-md-0-x7k2p".to_string())];
    let _ = s
        .app
        .open_run_form(WorkflowKind::Drain, None, ClusterRole::Wc, &node);
    let enter = crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Enter,
        crossterm::event::KeyModifiers::NONE,
    );
    let effects = s.app.on_key(enter, &s.views);
    let Some(Effect::PlanRun { id, request }) = effects.first().cloned() else {
        panic!("Enter asks for a plan: {effects:?}");
    };
    let finding = |rule, message: &str| Finding {
        rule,
        message: message.into(),
    };
    let decision = Decision::NeedsOverride {
        findings: vec![
            finding(
                "maintenance-window",
                "Planned updates happen in the maintenance window, Wednesday 07:00-12:00 Europe/Stockholm; it is Saturday 11:15. Wait for it, or override.",
            ),
            finding(
                "critical-alerts",
                "2 critical alerts are firing (FalcoRuntimeEvent, VeleroBackupFailed); resolve them before draining globex-wc-md-0-x7k2p, or override.",
            ),
            finding(
                "backup-freshness",
                "The last good backup of globex-wc is 31 hours old, older than the 24 h the service promises; take one first, or override.",
            ),
            finding(
                "one-node-at-a-time",
                "globex-wc-md-0-abcde is already out of service (cordoned); nodes are replaced one at a time, so bring it back before draining globex-wc-md-0-x7k2p, or override.",
            ),
        ],
    };
    let checked: Vec<String> = [
        "maintenance window: closed (Saturday 11:15 Europe/Stockholm)",
        "alerts: 2 critical firing in globex-wc",
        "backups: last good one 2026-11-27 04:12 UTC",
        "error budget: left on every target",
        "apps upgrade: none in progress",
        "nodes out of service: globex-wc-md-0-abcde",
        "cluster lock: free",
        "permissions: all 3 the run needs are granted",
    ]
    .map(String::from)
    .to_vec();
    let plan = Plan::new(
        request,
        "drain globex-wc-md-0-x7k2p (cordon, evict its pods)".into(),
        decision,
        checked,
    );
    s.app.on_event(UiEvent::RunPlanned {
        id,
        result: Ok(plan),
    });
    let first = format!("{}", s.draw(80, 24).backend());
    assert!(
        first.contains("needs an override reason") && first.contains("maintenance-window"),
        "the verdict and its first reason come first:\n{first}"
    );
    assert!(
        first.contains("more line(s): PgDn"),
        "what is below says so:\n{first}"
    );
    s.snap("run_form_four_findings");
    // Page by page, every finding and the whole plan come into view.
    let mut seen = first;
    for _ in 0..6 {
        s.code(crossterm::event::KeyCode::PageDown);
        seen.push_str(&format!("{}", s.draw(80, 24).backend()));
    }
    for needed in [
        "maintenance-window",
        "critical-alerts",
        "backup-freshness",
        "one-node-at-a-time",
        "permissions: all 3",
    ] {
        assert!(
            seen.contains(needed),
            "{needed} is reachable at 80x24:\n{seen}"
        );
    }
    assert!(seen.contains("PgUp"), "{seen}");
}

/// At 60x15, the smallest usable size but three rows, the fleet table stays inside its
/// frame: columns that do not fit are cut at the border, not drawn over it.
#[test]
fn a_narrow_table_never_draws_over_its_frame() {
    let term = Screen::new().draw(60, 15);
    let screen = format!("{}", term.backend());
    for line in screen.lines().skip(3).take(10) {
        let line = line.trim_matches('"');
        assert!(
            line.ends_with('│'),
            "the frame's right edge is intact: {line:?}\n{screen}"
        );
    }
}

/// A kind's objects as the server's Table, for one environment's clusters.
fn objects_of(
    s: &mut Screen,
    kind: ck8s_fleet::kinds::ServedKind,
    columns: &[&str],
    rows: &[(ClusterRole, Option<&str>, Vec<&str>)],
) {
    use ck8s_fleet::objects::{ObjectRow, ObjectTable};
    s.app.objects.env = Some("globex".into());
    s.app.objects.query = Some(ck8s_console::ui::command::ObjectsQuery {
        kind: kind.plural.clone(),
        ..Default::default()
    });
    for role in ClusterRole::ALL {
        let table = ObjectTable {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: rows
                .iter()
                .filter(|r| r.0 == role)
                .map(|(_, ns, cells)| ObjectRow {
                    namespace: ns.map(String::from),
                    name: cells[0].to_string(),
                    cells: cells.iter().map(|c| c.to_string()).collect(),
                    labels: Vec::new(),
                    owner: None,
                })
                .collect(),
            truncated: false,
        };
        s.app
            .objects
            .answers
            .insert(role, Ok((kind.clone(), table)));
    }
    s.app.objects.generation += 1;
}

fn served(
    group: &str,
    kind: &str,
    plural: &str,
    namespaced: bool,
) -> ck8s_fleet::kinds::ServedKind {
    ck8s_fleet::kinds::ServedKind {
        group: group.into(),
        version: "v1".into(),
        kind: kind.into(),
        plural: plural.into(),
        singular: kind.to_lowercase(),
        short_names: Vec::new(),
        namespaced,
        verbs: ["delete", "get", "list", "patch"]
            .map(String::from)
            .to_vec(),
        subresources: vec!["scale".into()],
    }
}

/// Space marks objects of the kind listed; restart and delete act on all of them after
/// one question that lists them, and several namespaces want their number typed.
#[test]
fn marked_objects_are_restarted_or_deleted_together() {
    use ck8s_console::ui::modals::confirm::Pending;
    let mut s = Screen::new().at(Pane::Objects, Some("globex"));
    s.app.engine = true;
    let deploy = served("apps", "Deployment", "deployments", true);
    let row = |name| vec![name, "1/1", "1", "1", "3d"];
    objects_of(
        &mut s,
        deploy,
        &["Name", "Ready", "Up-to-date", "Available", "Age"],
        &[
            (ClusterRole::Wc, Some("production"), row("checkout")),
            (ClusterRole::Wc, Some("production"), row("payments")),
            (ClusterRole::Wc, Some("production"), row("search")),
        ],
    );
    s.key(' ');
    s.key('j');
    s.key(' ');
    assert!(s.text(80, 24).contains("· 2 marked"));
    s.key('r');
    s.snap("objects_restart_marked");
    let Some(Modal::Confirm(c)) = s.app.modals.last() else {
        panic!("a question")
    };
    match &c.pending {
        Pending::Act { objects, .. } => {
            let names: Vec<&str> = objects.iter().map(|o| o.name.as_str()).collect();
            assert_eq!(names, ["checkout", "search"]);
        }
        other => panic!("{other:?}"),
    }
    assert!(c.typed.is_none(), "Deployments need no name typed");
    s.code(crossterm::event::KeyCode::Esc);

    let ns = served("", "Namespace", "namespaces", false);
    objects_of(
        &mut s,
        ns,
        &["Name", "Status", "Age"],
        &[
            (ClusterRole::Wc, None, vec!["staging", "Active", "9d"]),
            (ClusterRole::Wc, None, vec!["sandbox", "Active", "2d"]),
        ],
    );
    // A marked object someone else deletes is unmarked when the list comes again.
    s.app.objects.marks.clear();
    s.key('g');
    s.key(' ');
    assert_eq!(s.app.objects.marks.len(), 1);
    let poll = s.app.objects.poll;
    let listed = s.app.objects.answers[&ClusterRole::Wc]
        .clone()
        .map(|(kind, mut table)| {
            table.rows.retain(|r| r.name != "staging");
            (kind, table)
        });
    s.app.on_event(UiEvent::Objects {
        poll,
        role: ClusterRole::Wc,
        result: listed,
    });
    assert!(
        s.app.objects.marks.is_empty(),
        "staging is gone, and so is its mark"
    );
    objects_of(
        &mut s,
        served("", "Namespace", "namespaces", false),
        &["Name", "Status", "Age"],
        &[
            (ClusterRole::Wc, None, vec!["staging", "Active", "9d"]),
            (ClusterRole::Wc, None, vec!["sandbox", "Active", "2d"]),
        ],
    );
    s.key('g');
    s.key(' ');
    s.key(' ');
    s.key('x');
    let Some(Modal::Confirm(c)) = s.app.modals.last() else {
        panic!("a question")
    };
    assert_eq!(c.typed.as_ref().map(|t| t.0.as_str()), Some("2 namespaces"));
    assert!(s.text(80, 24).contains("Delete these 2 namespaces?"));
}

#[test]
fn any_kind_in_the_servers_columns_and_deleting_a_namespace_wants_its_name() {
    let mut s = Screen::new().at(Pane::Objects, Some("globex"));
    s.app.engine = true;
    let deploy = served("apps", "Deployment", "deployments", true);
    let columns = ["Name", "Ready", "Up-to-date", "Available", "Age"];
    objects_of(
        &mut s,
        deploy,
        &columns,
        &[
            (
                ClusterRole::Sc,
                Some("monitoring"),
                vec!["grafana", "1/1", "1", "1", "181d"],
            ),
            (
                ClusterRole::Sc,
                Some("dex"),
                vec!["dex", "2/2", "2", "2", "200d"],
            ),
            (
                ClusterRole::Wc,
                Some("production"),
                vec!["payments", "5/7", "7", "5", "123d"],
            ),
            (
                ClusterRole::Wc,
                Some("production"),
                vec!["payments-worker", "0/1", "1", "0", "190d"],
            ),
        ],
    );
    s.snap("objects_deployments");
    s.key('r');
    s.snap("objects_restart");
    s.code(crossterm::event::KeyCode::Esc);

    let ns = served("", "Namespace", "namespaces", false);
    objects_of(
        &mut s,
        ns,
        &["Name", "Status", "Age"],
        &[(ClusterRole::Wc, None, vec!["staging", "Active", "300d"])],
    );
    s.app.scope = Scope::Wc;
    s.key('x');
    for c in "stag".chars() {
        s.key(c);
    }
    s.snap("objects_delete_namespace_typed");
}

#[test]
fn an_edits_dry_run_diff() {
    use ck8s_console::ui::panes::objects::Edit;
    let mut s = Screen::new().at(Pane::Objects, Some("globex"));
    s.app.engine = true;
    let deploy = served("apps", "Deployment", "deployments", true);
    objects_of(
        &mut s,
        deploy,
        &["Name", "Ready", "Up-to-date", "Available", "Age"],
        &[(
            ClusterRole::Wc,
            Some("production"),
            vec!["payments", "5/7", "7", "5", "123d"],
        )],
    );
    let key = "wc/deployments.apps/production/payments".to_string();
    let diff = [
        "@@",
        "   name: payments",
        "   namespace: production",
        "   resourceVersion: '884'",
        " spec:",
        "-  replicas: 7",
        "+  replicas: 2",
        "   selector:",
    ];
    s.app.edit = Some(Edit {
        id: 1,
        key: key.clone(),
        object: ck8s_fleet::engine::ops::ObjectRef {
            env: "globex".into(),
            role: ClusterRole::Wc,
            kind: "deployments.apps".into(),
            namespace: Some("production".into()),
            name: "payments".into(),
        },
        original: String::new(),
        text: String::new(),
        diff: Some(Ok(diff.map(String::from).to_vec())),
        creating: false,
    });
    s.app.modals.push(Modal::Details(Box::new(
        ck8s_console::ui::modals::details::DetailsModal::new(
            Pane::Objects,
            ck8s_console::ui::panes::objects::diff_key(&key),
        ),
    )));
    s.snap("objects_edit_diff");
}

/// `d` on a Deployment: kubectl describe's fields, its conditions, the ReplicaSet it owns
/// and its events, with the keys to its owner and what it owns.
#[test]
fn a_deployment_described() {
    use ck8s_console::ui::panes::objects::{Described, describe_key};
    let mut s = Screen::new().at(Pane::Objects, Some("globex"));
    let deploy = served("apps", "Deployment", "deployments", true);
    objects_of(
        &mut s,
        deploy,
        &["Name", "Ready", "Up-to-date", "Available", "Age"],
        &[(
            ClusterRole::Wc,
            Some("production"),
            vec!["payments", "5/7", "7", "5", "123d"],
        )],
    );
    let object = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {
            "name": "payments", "namespace": "production", "uid": "u1",
            "creationTimestamp": "2026-08-06T09:00:00Z",
            "labels": {"app": "payments", "team": "checkout"},
            "annotations": {"deployment.kubernetes.io/revision": "4"}
        },
        "spec": {
            "replicas": 7,
            "selector": {"matchLabels": {"app": "payments"}},
            "strategy": {"type": "RollingUpdate"},
            "template": {"spec": {"containers": [
                {"name": "api", "image": "registry.globex.example/payments:2.14.1"}
            ]}}
        },
        "status": {
            "replicas": 7, "updatedReplicas": 7, "readyReplicas": 5, "availableReplicas": 5,
            "conditions": [
                {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
                 "message": "Deployment does not have minimum availability."},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}
            ]
        }
    });
    let owned = vec![ck8s_fleet::describe::Related {
        kind: "ReplicaSet".into(),
        group: "apps".into(),
        namespace: Some("production".into()),
        name: "payments-7c9f8d".into(),
    }];
    let events = vec![serde_json::json!({
        "type": "Normal", "reason": "ScalingReplicaSet", "count": 2,
        "lastTimestamp": "2026-12-07T11:40:00Z",
        "source": {"component": "deployment-controller"},
        "message": "Scaled up replica set payments-7c9f8d to 7"
    })];
    let now = chrono::DateTime::parse_from_rfc3339("2026-12-07T12:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let key = describe_key("wc/deployments.apps/production/payments");
    s.app.objects.described = Some(Described {
        key: key.clone(),
        env: "globex".into(),
        role: ClusterRole::Wc,
        result: Some(Ok(ck8s_fleet::describe::description(
            &object,
            Some(Ok(owned)),
            &Ok(events),
            now,
        ))),
    });
    s.app.modals.push(Modal::Details(Box::new(
        ck8s_console::ui::modals::details::DetailsModal::new(Pane::Objects, key),
    )));
    s.snap("objects_describe");

    // `/` searches the description: Enter brings the first line holding it into view
    // (to the top, unless the end is in view first), marked, and the border says how
    // many lines hold it.
    let before = s.text(80, 24);
    assert!(!before.contains("Scaled up replica"), "{before}");
    s.key('/');
    for c in "scaled up".chars() {
        s.key(c);
    }
    s.code(crossterm::event::KeyCode::Enter);
    let found = s.text(80, 24);
    assert!(found.contains("Scaled up replica"), "{found}");
    assert!(found.contains("/scaled up: 1 line"), "{found}");
    s.snap("objects_describe_search");
    // Backspace in the search line takes a letter back; Esc restores the search before.
    s.key('/');
    s.code(crossterm::event::KeyCode::Backspace);
    assert!(s.text(80, 24).contains("/scaled u: 1 line"));
    s.key('X');
    assert!(s.text(80, 24).contains("/scaled uX: no line holds it"));
    s.code(crossterm::event::KeyCode::Esc);
    assert!(s.text(80, 24).contains("/scaled up: 1 line"));
}

/// The console's own editor (no `$EDITOR`): the YAML with line numbers, the keys in the
/// title and the footer.
#[test]
fn the_consoles_own_editor() {
    use ck8s_console::ui::modals::editor::EditorModal;
    use ck8s_console::ui::panes::objects::Edit;
    let mut s = Screen::new().at(Pane::Objects, Some("globex"));
    let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: payments\n  \
                namespace: production\n  resourceVersion: '884'\nspec:\n  replicas: 7\n";
    s.app
        .modals
        .push(Modal::Editor(Box::new(EditorModal::new(Edit {
            id: 1,
            key: "wc/deployments.apps/production/payments".into(),
            object: ck8s_fleet::engine::ops::ObjectRef {
                env: "globex".into(),
                role: ClusterRole::Wc,
                kind: "deployments.apps".into(),
                namespace: Some("production".into()),
                name: "payments".into(),
            },
            original: text.into(),
            text: text.into(),
            diff: None,
            creating: false,
        }))));
    s.snap("objects_editor");
}
