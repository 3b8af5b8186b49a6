//! The demo fleet: what each simulated environment holds when it starts. Environments
//! run the Compliant Kubernetes cluster services in their usual namespaces, customer
//! apps, Velero schedules with history, and Cluster API objects in the service cluster.
//! One environment is in trouble, so the console has something to act on.

use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};

use super::clock::k8s_time;
use super::cluster::{ClusterSim, Interval, ProbeSpec};
use super::registry::{KindId, ids};
use crate::config::{ClusterRole, Policy, ProbeKind};

const NAMES: &[&str] = &[
    "acme",
    "globex",
    "initech",
    "umbrella",
    "hooli",
    "stark",
    "wayne",
    "tyrell",
    "cyberdyne",
    "soylent",
    "wonka",
    "oscorp",
    "aperture",
    "blackmesa",
    "vandelay",
];

/// What one simulated environment looks like.
#[derive(Debug, Clone)]
pub struct EnvPlan {
    pub name: String,
    /// The demo's environment in trouble: a failed backup, a burning SLO, firing alerts.
    pub troubled: bool,
    pub kubernetes_version: String,
    pub apps_version: String,
    /// An apps upgrade in progress on the wc (the lock ConfigMap is present).
    pub upgrading: bool,
    pub workers: u32,
    pub pods_per_cluster: u32,
    /// A service tier and a region, as a provider tags its customers.
    pub tags: Vec<String>,
}

pub fn env_name(i: usize) -> String {
    match NAMES.get(i) {
        Some(n) => n.to_string(),
        None => format!("customer-{i:03}"),
    }
}

/// The plan for `n` environments. With two or more, the second one is in trouble.
pub fn plan(n: u32, pods_per_cluster: u32) -> Vec<EnvPlan> {
    // A fleet of one (tests, small demos) is healthy; larger fleets have one in trouble.
    let troubled = if n >= 2 { 1 } else { usize::MAX };
    // Enough workers that the pods fit at 110 per node, within the 20-worker policy
    // for any demo size; benchmark-sized clusters get 20.
    let workers = (pods_per_cluster / 60).clamp(3, 20);
    (0..n as usize)
        .map(|i| EnvPlan {
            name: env_name(i),
            troubled: i == troubled,
            kubernetes_version: if i == 2 { "v1.32.7" } else { "v1.33.4" }.into(),
            apps_version: if i == 2 { "v0.50.2" } else { "v0.51.1" }.into(),
            upgrading: i == 2,
            workers,
            pods_per_cluster,
            tags: vec![
                ["gold", "silver", "bronze"][i % 3].to_owned(),
                ["eu-north", "eu-west"][i % 2].to_owned(),
            ],
        })
        .collect()
}

fn hash(s: &str) -> u64 {
    crate::hash::fnv64(s.as_bytes())
}

/// The uptime probes of a cluster and their recorded history: short random outages
/// over the last 40 days, a few minutes without samples, and for the troubled
/// environment a long outage that has eaten most of an error budget plus one that is
/// still going on.
pub fn probes(
    env: &EnvPlan,
    role: ClusterRole,
    seed: u64,
    now: DateTime<Utc>,
    policy: &Policy,
) -> Vec<ProbeSpec> {
    let targets: &[(&str, ProbeKind)] = match role {
        ClusterRole::Sc => &[
            ("kube-apiserver", ProbeKind::Cluster),
            ("dex", ProbeKind::External),
            ("grafana", ProbeKind::External),
            ("harbor", ProbeKind::External),
            ("opensearch-dashboards", ProbeKind::External),
        ],
        ClusterRole::Wc => &[
            ("kube-apiserver", ProbeKind::Cluster),
            ("wc-ingress", ProbeKind::Cluster),
        ],
    };
    let minute =
        |t: DateTime<Utc>| t - Duration::milliseconds(t.timestamp_millis().rem_euclid(60_000));
    let now = minute(now);
    targets
        .iter()
        .map(|(target, kind)| {
            let mut rng =
                StdRng::seed_from_u64(seed ^ hash(&format!("{}/{role}/{target}", env.name)));
            let mut outages = Vec::new();
            for _ in 0..rng.random_range(0..3) {
                let start = now - Duration::minutes(rng.random_range(60..40 * 24 * 60));
                outages.push(Interval {
                    start,
                    end: start + Duration::minutes(rng.random_range(1..4)),
                });
            }
            let gap = now - Duration::minutes(rng.random_range(120..20 * 24 * 60));
            let missing = vec![Interval {
                start: gap,
                end: gap + Duration::minutes(rng.random_range(1..6)),
            }];
            if env.troubled && role == ClusterRole::Sc && *target == "grafana" {
                // 170 of the 216 budget minutes gone nine days ago, and down for the last eight
                // minutes: fast enough a burn to page at once.
                let start = now - Duration::days(9);
                outages.push(Interval {
                    start,
                    end: start + Duration::minutes(170),
                });
                outages.push(Interval {
                    start: now - Duration::minutes(8),
                    end: now + Duration::minutes(30),
                });
            }
            if env.troubled && role == ClusterRole::Wc && *target == "kube-apiserver" {
                let start = now - Duration::days(3) - Duration::hours(5);
                outages.push(Interval {
                    start,
                    end: start + Duration::minutes(14),
                });
            }
            ProbeSpec {
                target: target.to_string(),
                kind: *kind,
                slo: policy.slo_for(*kind),
                outages,
                missing,
            }
        })
        .collect()
}

fn create(c: &ClusterSim, kind: KindId, obj: Value) {
    if let Err(e) = c.store.create(kind, obj) {
        tracing::warn!(cluster = %c.name(), error = %e, "demo object not created");
    }
}

fn namespace(c: &ClusterSim, name: &str) {
    create(
        c,
        *ids::NAMESPACES,
        json!({
            "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }),
    );
}

fn pod_template(app: &str, image: &str, annotations: Value, tolerate_all: bool) -> Value {
    let mut spec = json!({
        "containers": [{
            "name": app,
            "image": image,
            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
        }],
        "terminationGracePeriodSeconds": 30,
        "restartPolicy": "Always",
    });
    if tolerate_all {
        spec["tolerations"] = json!([{"operator": "Exists"}]);
    }
    json!({
        "metadata": {"labels": {"app": app, "app.kubernetes.io/name": app}, "annotations": annotations},
        "spec": spec,
    })
}

/// A workload of the given kind (Deployment, StatefulSet or DaemonSet).
fn workload(
    c: &ClusterSim,
    kind: KindId,
    ns: &str,
    app: &str,
    replicas: u32,
    image: &str,
    annotations: Value,
) {
    let tolerate_all = kind == *ids::DAEMONSETS;
    let mut spec = json!({
        "selector": {"matchLabels": {"app": app}},
        "template": pod_template(app, image, annotations, tolerate_all),
    });
    if kind != *ids::DAEMONSETS {
        spec["replicas"] = json!(replicas);
    }
    if kind == *ids::STATEFULSETS {
        spec["serviceName"] = json!(app);
    }
    create(
        c,
        kind,
        json!({
            "metadata": {"name": app, "namespace": ns, "labels": {"app": app}},
            "spec": spec,
        }),
    );
    create(
        c,
        *ids::SERVICES,
        json!({
            "metadata": {"name": app, "namespace": ns, "labels": {"app": app}},
            "spec": {"selector": {"app": app}, "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}], "type": "ClusterIP"},
        }),
    );
}

fn deploy(c: &ClusterSim, ns: &str, app: &str, replicas: u32, image: &str) {
    workload(c, *ids::DEPLOYMENTS, ns, app, replicas, image, json!({}));
}

fn pdb(c: &ClusterSim, ns: &str, app: &str, rule: Value) {
    let mut spec = json!({"selector": {"matchLabels": {"app": app}}});
    if let Some(m) = rule.as_object() {
        for (k, v) in m {
            spec[k] = v.clone();
        }
    }
    create(
        c,
        *ids::PDBS,
        json!({"metadata": {"name": app, "namespace": ns}, "spec": spec}),
    );
}

fn cronjob(c: &ClusterSim, ns: &str, name: &str, schedule: &str, fail: bool) {
    let annotations = if fail {
        json!({"sim.ck8s.io/fail-jobs": "true"})
    } else {
        json!({})
    };
    create(
        c,
        *ids::CRONJOBS,
        json!({
            "metadata": {"name": name, "namespace": ns, "annotations": annotations},
            "spec": {
                "schedule": schedule,
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 1,
                "jobTemplate": {"spec": {"backoffLimit": 0, "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "backup", "image": "ghcr.io/elastisys/backup-tools:1.4"}]},
                }}},
            },
        }),
    );
}

fn tls_secret(c: &ClusterSim, ns: &str, name: &str, expiry: DateTime<Utc>) {
    create(
        c,
        *ids::SECRETS,
        json!({
            "metadata": {"name": name, "namespace": ns, "annotations": {
                "cert-manager.io/expiry": k8s_time(expiry),
                "cert-manager.io/issuer-name": "letsencrypt-prod",
            }},
            "type": "kubernetes.io/tls",
            // Simulated key material: not a real key, and never printed by the console.
            "data": {"tls.crt": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCnNpbXVsYXRlZAo=", "tls.key": "c2ltdWxhdGVk"},
        }),
    );
}

/// Namespaces and workloads of the cluster services (per the service description).
fn platform(c: &ClusterSim, env: &EnvPlan) {
    let common = [
        "kube-system",
        "kube-public",
        "default",
        "monitoring",
        "velero",
        "cert-manager",
        "ingress-nginx",
        "fluentd-system",
    ];
    for ns in common {
        namespace(c, ns);
    }
    let ds = |ns: &str, app: &str, image: &str| {
        workload(c, *ids::DAEMONSETS, ns, app, 0, image, json!({}))
    };
    deploy(
        c,
        "kube-system",
        "coredns",
        2,
        "registry.k8s.io/coredns/coredns:v1.12.0",
    );
    deploy(
        c,
        "kube-system",
        "metrics-server",
        1,
        "registry.k8s.io/metrics-server/metrics-server:v0.7.2",
    );
    ds(
        "kube-system",
        "kube-proxy",
        "registry.k8s.io/kube-proxy:v1.33.4",
    );
    ds("kube-system", "calico-node", "quay.io/calico/node:v3.29.1");
    ds(
        "monitoring",
        "node-exporter",
        "quay.io/prometheus/node-exporter:v1.8.2",
    );
    ds(
        "fluentd-system",
        "fluentd",
        "ghcr.io/elastisys/fluentd:v4.7.5",
    );
    deploy(
        c,
        "monitoring",
        "kube-state-metrics",
        1,
        "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.14.0",
    );
    workload(
        c,
        *ids::STATEFULSETS,
        "monitoring",
        "prometheus",
        1,
        "quay.io/prometheus/prometheus:v2.55.1",
        json!({}),
    );
    deploy(
        c,
        "cert-manager",
        "cert-manager",
        1,
        "quay.io/jetstack/cert-manager-controller:v1.16.2",
    );
    deploy(
        c,
        "cert-manager",
        "cert-manager-webhook",
        1,
        "quay.io/jetstack/cert-manager-webhook:v1.16.2",
    );
    deploy(c, "velero", "velero", 1, "velero/velero:v1.15.1");
    ds("velero", "node-agent", "velero/velero:v1.15.1");
    deploy(
        c,
        "ingress-nginx",
        "ingress-nginx-controller",
        2,
        "registry.k8s.io/ingress-nginx/controller:v1.12.0",
    );
    pdb(c, "kube-system", "coredns", json!({"minAvailable": 1}));
    pdb(
        c,
        "ingress-nginx",
        "ingress-nginx-controller",
        json!({"maxUnavailable": 1}),
    );
    create(
        c,
        *ids::CONFIGMAPS,
        json!({
            "metadata": {"name": "welkin-apps-meta", "namespace": "kube-system"},
            "data": {"version": env.apps_version},
        }),
    );
    tls_secret(
        c,
        "ingress-nginx",
        "ingress-default-tls",
        c.clock.now() + Duration::days(61),
    );
}

fn service_cluster(c: &ClusterSim, env: &EnvPlan) {
    for ns in [
        "harbor",
        "opensearch-system",
        "dex",
        "thanos",
        "capi-system",
        "capi-clusters",
    ] {
        namespace(c, ns);
    }
    let sts = |ns: &str, app: &str, n: u32, image: &str| {
        workload(c, *ids::STATEFULSETS, ns, app, n, image, json!({}))
    };
    for (app, n) in [
        ("harbor-core", 2),
        ("harbor-registry", 2),
        ("harbor-portal", 1),
        ("harbor-jobservice", 1),
    ] {
        deploy(c, "harbor", app, n, "goharbor/harbor-core:v2.12.1");
    }
    sts("harbor", "harbor-database", 1, "goharbor/harbor-db:v2.12.1");
    sts("harbor", "harbor-redis", 1, "goharbor/redis-photon:v2.12.1");
    sts(
        "opensearch-system",
        "opensearch-master",
        3,
        "opensearchproject/opensearch:2.18.0",
    );
    deploy(
        c,
        "opensearch-system",
        "opensearch-dashboards",
        1,
        "opensearchproject/opensearch-dashboards:2.18.0",
    );
    deploy(c, "dex", "dex", 2, "ghcr.io/dexidp/dex:v2.41.1");
    deploy(c, "monitoring", "grafana", 1, "grafana/grafana:11.4.0");
    sts(
        "monitoring",
        "alertmanager",
        2,
        "quay.io/prometheus/alertmanager:v0.27.0",
    );
    deploy(
        c,
        "thanos",
        "thanos-query",
        2,
        "quay.io/thanos/thanos:v0.37.2",
    );
    sts(
        "thanos",
        "thanos-receiver",
        2,
        "quay.io/thanos/thanos:v0.37.2",
    );
    sts("thanos", "thanos-ruler", 1, "quay.io/thanos/thanos:v0.37.2");
    for app in [
        "capi-controller-manager",
        "capi-kubeadm-control-plane-controller-manager",
        "capi-kubeadm-bootstrap-controller-manager",
    ] {
        deploy(
            c,
            "capi-system",
            app,
            1,
            "registry.k8s.io/cluster-api/cluster-api-controller:v1.9.4",
        );
    }
    pdb(
        c,
        "opensearch-system",
        "opensearch-master",
        json!({"maxUnavailable": 1}),
    );
    pdb(c, "dex", "dex", json!({"minAvailable": 1}));
    cronjob(
        c,
        "harbor",
        "harbor-backup-cronjob",
        "30 0 * * *",
        env.troubled,
    );
    cronjob(
        c,
        "opensearch-system",
        "opensearch-backup",
        "0 */2 * * *",
        false,
    );
    let harbor_expiry = if env.troubled {
        Duration::days(5)
    } else {
        Duration::days(54)
    };
    tls_secret(c, "harbor", "harbor-tls", c.clock.now() + harbor_expiry);
    tls_secret(c, "dex", "dex-tls", c.clock.now() + Duration::days(70));
}

const CUSTOMER_APPS: &[&str] = &[
    "webshop-frontend",
    "orders-api",
    "payments",
    "inventory",
    "search",
    "recommendations",
    "notifications",
    "auth-gateway",
    "reporting",
    "media-resizer",
];

fn workload_cluster(c: &ClusterSim, env: &EnvPlan, platform_pods: u32) {
    for ns in [
        "gatekeeper-system",
        "falco",
        "alertmanager",
        "production",
        "staging",
    ] {
        namespace(c, ns);
    }
    workload(
        c,
        *ids::DAEMONSETS,
        "falco",
        "falco",
        0,
        "falcosecurity/falco:0.39.2",
        json!({}),
    );
    deploy(
        c,
        "gatekeeper-system",
        "gatekeeper-controller-manager",
        3,
        "openpolicyagent/gatekeeper:v3.18.0",
    );
    deploy(
        c,
        "gatekeeper-system",
        "gatekeeper-audit",
        1,
        "openpolicyagent/gatekeeper:v3.18.0",
    );
    workload(
        c,
        *ids::STATEFULSETS,
        "alertmanager",
        "alertmanager",
        2,
        "quay.io/prometheus/alertmanager:v0.27.0",
        json!({}),
    );
    // Customer apps fill the cluster up to the planned pod count.
    let budget = env.pods_per_cluster.saturating_sub(platform_pods).max(20);
    let per_app = (budget * 3 / 4 / CUSTOMER_APPS.len() as u32).max(1);
    for app in CUSTOMER_APPS {
        deploy(
            c,
            "production",
            app,
            per_app,
            &format!("harbor.{}.example/shop/{app}:2.4.1", env.name),
        );
        pdb(c, "production", app, json!({"minAvailable": "50%"}));
    }
    let staging = (budget / 4 / 4).max(1);
    for app in &CUSTOMER_APPS[..4] {
        deploy(
            c,
            "staging",
            app,
            staging,
            &format!("harbor.{}.example/shop/{app}:2.5.0-rc1", env.name),
        );
    }
    workload(
        c,
        *ids::STATEFULSETS,
        "production",
        "postgres",
        3,
        "postgres:16.6",
        json!({}),
    );
    // A metrics exporter beside each database: a pod of two containers, whose logs and
    // shells default to the database, as its annotation says.
    let _ = c
        .store
        .replace(*ids::STATEFULSETS, "production", "postgres", |s| {
            let mut s = s.clone();
            let template = &mut s["spec"]["template"];
            template["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"] =
                json!("postgres");
            if let Some(containers) = template["spec"]["containers"].as_array_mut() {
                containers.push(json!({
                    "name": "metrics",
                    "image": "quay.io/prometheuscommunity/postgres-exporter:v0.16.0",
                    "ports": [{"containerPort": 9187, "protocol": "TCP"}],
                    "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
                }));
            }
            Ok(s)
        });
    pdb(c, "production", "postgres", json!({"minAvailable": 2}));
    if env.troubled {
        workload(
            c,
            *ids::DEPLOYMENTS,
            "production",
            "payments-worker",
            1,
            &format!("harbor.{}.example/shop/payments-worker:2.4.1", env.name),
            json!({"sim.ck8s.io/crashloop": "true"}),
        );
        workload(
            c,
            *ids::DEPLOYMENTS,
            "staging",
            "legacy-admin",
            1,
            "busybox:1.37",
            json!({"sim.ck8s.io/falco-rule": "Terminal shell in container"}),
        );
    }
    if env.upgrading {
        create(
            c,
            *ids::CONFIGMAPS,
            json!({
                "metadata": {"name": "welkin-apps-upgrade", "namespace": "kube-system",
                    "labels": {"app.kubernetes.io/managed-by": "welkin-apps-upgrade"}},
                "data": {"version": "v0.51", "timestamp": k8s_time(c.clock.now() - Duration::hours(2)), "last_apply_step": "40-velero.sh"},
            }),
        );
    }
}

/// Velero's schedule and storage location; backups with history come after boot.
fn velero(c: &ClusterSim, env: &EnvPlan) {
    let prefix = match c.role {
        ClusterRole::Sc => "service-cluster",
        ClusterRole::Wc => "workload-cluster",
    };
    // The fleet's own object storage when it runs one (see `object_storage`), with the CA
    // its certificate chains to, as a BackupStorageLocation names a private S3.
    let s3_url = c
        .object_storage
        .get()
        .map_or_else(|| "https://s3.example.net".to_owned(), |e| e.url.clone());
    let mut storage = json!({"bucket": format!("{}-velero", env.name), "prefix": prefix});
    if let Some(ca) = c.ca_pem.get() {
        use base64::Engine as _;
        storage["caCert"] = json!(base64::engine::general_purpose::STANDARD.encode(ca));
    }
    create(
        c,
        *ids::BSLS,
        json!({
            "metadata": {"name": "default", "namespace": "velero"},
            "spec": {"provider": "aws", "default": true, "accessMode": "ReadWrite",
                "objectStorage": storage,
                "config": {"region": "se-sto-1", "s3Url": s3_url, "s3ForcePathStyle": "true"}},
        }),
    );
    let mut annotations = json!({});
    if env.troubled && c.role == ClusterRole::Wc {
        annotations["sim.ck8s.io/backup-outcome"] = json!("Failed");
    }
    create(
        c,
        *ids::SCHEDULES,
        json!({
            "metadata": {"name": "velero-daily-backup", "namespace": "velero", "annotations": annotations},
            "spec": {"schedule": "CRON_TZ=Europe/Stockholm 0 1 * * *", "useOwnerReferencesInBackup": false,
                "template": backup_spec()},
        }),
    );
}

fn backup_spec() -> Value {
    json!({
        "includedNamespaces": ["*"],
        "excludedNamespaces": ["kube-system", "velero", "kube-public"],
        "storageLocation": "default",
        "ttl": "72h0m0s",
        "snapshotVolumes": true,
        "defaultVolumesToFsBackup": true,
    })
}

fn platform_pod_estimate(role: ClusterRole, nodes: u32) -> u32 {
    let daemonsets = match role {
        ClusterRole::Sc => 5,
        ClusterRole::Wc => 6,
    };
    let deployments = match role {
        ClusterRole::Sc => 40,
        ClusterRole::Wc => 18,
    };
    daemonsets * nodes + deployments
}

/// Seeds a cluster's objects (not its nodes: Cluster API brings those up).
pub fn seed_cluster(c: &ClusterSim, env: &EnvPlan) {
    platform(c, env);
    match c.role {
        ClusterRole::Sc => service_cluster(c, env),
        ClusterRole::Wc => workload_cluster(
            c,
            env,
            platform_pod_estimate(ClusterRole::Wc, env.workers + 3),
        ),
    }
    velero(c, env);
}

/// The Cluster API objects in a service cluster for its own cluster and its wc.
pub fn seed_capi(sc: &ClusterSim, env: &EnvPlan) {
    for role in ClusterRole::ALL {
        let name = format!("{}-{role}", env.name);
        let labels = json!({"cluster.x-k8s.io/cluster-name": name});
        let ns = "capi-clusters";
        let template = format!("{name}-md-0-v1");
        create(
            sc,
            *ids::MACHINE_TEMPLATES,
            json!({
                "metadata": {"name": template, "namespace": ns, "labels": labels},
                "spec": {"template": {"spec": {"flavor": "v2c-8gb", "image": format!("ubuntu-24.04-kube-{}", env.kubernetes_version)}}},
            }),
        );
        let infra_ref = json!({"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "SimMachineTemplate", "name": template, "namespace": ns});
        create(
            sc,
            *ids::CLUSTERS,
            json!({
                "metadata": {"name": name, "namespace": ns, "labels": labels, "annotations": {"sim.ck8s.io/provisioned": "true"}},
                "spec": {
                    "clusterNetwork": {"pods": {"cidrBlocks": ["10.244.0.0/16"]}, "services": {"cidrBlocks": ["10.96.0.0/12"]}},
                    "controlPlaneEndpoint": {"host": format!("kube-apiserver.{name}.example"), "port": 6443},
                    "controlPlaneRef": {"apiVersion": "controlplane.cluster.x-k8s.io/v1beta1", "kind": "KubeadmControlPlane", "name": format!("{name}-control-plane"), "namespace": ns},
                    "infrastructureRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "SimCluster", "name": name, "namespace": ns},
                },
            }),
        );
        create(
            sc,
            *ids::KCPS,
            json!({
                "metadata": {"name": format!("{name}-control-plane"), "namespace": ns, "labels": labels},
                "spec": {"replicas": 3, "version": env.kubernetes_version,
                    "machineTemplate": {"infrastructureRef": infra_ref},
                    "rolloutStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
                    "kubeadmConfigSpec": {}},
            }),
        );
        create(
            sc,
            *ids::MACHINEDEPLOYMENTS,
            json!({
                "metadata": {"name": format!("{name}-md-0"), "namespace": ns, "labels": labels},
                "spec": {"clusterName": name, "replicas": env.workers,
                    "selector": {"matchLabels": {"cluster.x-k8s.io/cluster-name": name, "cluster.x-k8s.io/deployment-name": format!("{name}-md-0")}},
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                    "template": {"metadata": {"labels": {"cluster.x-k8s.io/cluster-name": name, "cluster.x-k8s.io/deployment-name": format!("{name}-md-0")}},
                        "spec": {"clusterName": name, "version": env.kubernetes_version,
                            "bootstrap": {"configRef": {"apiVersion": "bootstrap.cluster.x-k8s.io/v1beta1", "kind": "KubeadmConfigTemplate", "name": format!("{name}-md-0")}},
                            "infrastructureRef": infra_ref}}},
            }),
        );
        create(
            sc,
            *ids::MHCS,
            json!({
                "metadata": {"name": format!("{name}-workers"), "namespace": ns, "labels": labels},
                "spec": {"clusterName": name, "maxUnhealthy": "40%", "nodeStartupTimeout": "10m",
                    "selector": {"matchLabels": {"cluster.x-k8s.io/deployment-name": format!("{name}-md-0")}},
                    "unhealthyConditions": [{"type": "Ready", "status": "Unknown", "timeout": "300s"}, {"type": "Ready", "status": "False", "timeout": "300s"}]},
            }),
        );
    }
}

/// Creates the three most recent daily backups (01:00 Stockholm on the past days) so
/// the fleet starts with history. Run them through the Velero controller at boot so
/// they hold real content, then move their timestamps to when they would have run.
pub fn seed_backup_history(c: &ClusterSim, env: &EnvPlan, run: &dyn Fn(&ClusterSim)) {
    let tz = chrono_tz::Europe::Stockholm;
    let now = c.clock.now();
    let today = now.with_timezone(&tz).date_naive();
    let slots: Vec<DateTime<Utc>> = (0..4)
        .filter_map(|d| {
            let day = today - chrono::Days::new(d);
            day.and_hms_opt(1, 0, 0)?
                .and_local_timezone(tz)
                .single()
                .map(|t| t.with_timezone(&Utc))
        })
        .filter(|t| *t < now)
        .take(3)
        .collect();
    let newest = slots.first().copied();
    let mut names = Vec::new();
    for slot in slots.iter().rev() {
        let name = format!("velero-daily-backup-{}", slot.format("%Y%m%d%H%M%S"));
        let mut annotations = json!({});
        if env.troubled && c.role == ClusterRole::Wc && Some(*slot) == newest {
            annotations["sim.ck8s.io/backup-outcome"] = json!("Failed");
        }
        create(
            c,
            *ids::BACKUPS,
            json!({
                "metadata": {"name": name, "namespace": "velero", "annotations": annotations,
                    "labels": {"velero.io/schedule-name": "velero-daily-backup", "velero.io/storage-location": "default"}},
                "spec": backup_spec(),
            }),
        );
        names.push((name, *slot));
    }
    run(c);
    for (name, slot) in names {
        backdate_backup(c, &name, slot);
    }
    if let Some(newest) = newest {
        let _ = c
            .store
            .replace(*ids::SCHEDULES, "velero", "velero-daily-backup", |s| {
                let mut s = s.clone();
                s["status"]["lastBackup"] = json!(k8s_time(newest));
                Ok(s)
            });
    }
}

fn backdate_backup(c: &ClusterSim, name: &str, slot: DateTime<Utc>) {
    c.store.backdate(*ids::BACKUPS, "velero", name, slot);
    let _ = c.store.replace(*ids::BACKUPS, "velero", name, |b| {
        let mut b = b.clone();
        let took = Duration::seconds(240 + (hash(name) % 600) as i64);
        b["status"]["startTimestamp"] = json!(k8s_time(slot + Duration::seconds(2)));
        b["status"]["completionTimestamp"] = json!(k8s_time(slot + took));
        b["status"]["expiration"] = json!(k8s_time(slot + Duration::hours(72)));
        Ok(b)
    });
}

/// Service clusters below this size keep only their platform pods; larger ones are
/// load-test fleets and get synthetic pods up to the requested count.
const LOAD_TEST_PODS: u32 = 1000;

/// Adds replicas so the cluster holds at least the planned number of pods: customer
/// batch workers in a wc, a synthetic load deployment in a large sc. Returns whether it
/// added anything (the caller settles again).
pub fn top_up_pods(c: &ClusterSim, env: &EnvPlan) -> bool {
    let have = c.store.count(*ids::PODS) as u32;
    let missing = env.pods_per_cluster.saturating_sub(have);
    let (ns, app) = match c.role {
        ClusterRole::Wc => ("production", "batch-workers"),
        ClusterRole::Sc if env.pods_per_cluster >= LOAD_TEST_PODS => ("loadtest", "synthetic-load"),
        ClusterRole::Sc => return false,
    };
    if missing == 0 {
        return false;
    }
    if c.store.get(*ids::NAMESPACES, "", ns).is_none() {
        namespace(c, ns);
    }
    deploy(
        c,
        ns,
        app,
        missing,
        &format!("harbor.{}.example/shop/{app}:2.4.1", env.name),
    );
    true
}

/// How long ago, in hours, objects of each kind were made in a fleet that has been
/// running for a while, as (least, most); each object gets a fixed age in that range.
fn age_range_hours(kind: KindId) -> Option<(u64, u64)> {
    let k = |id: &std::sync::LazyLock<KindId>| **id;
    match kind {
        x if x == k(&ids::NAMESPACES) || x == k(&ids::CLUSTERS) || x == k(&ids::BSLS) => {
            Some((24 * 300, 24 * 420))
        }
        x if x == k(&ids::SCHEDULES) || x == k(&ids::CRONJOBS) || x == k(&ids::MHCS) => {
            Some((24 * 200, 24 * 300))
        }
        x if x == k(&ids::SERVICES)
            || x == k(&ids::CONFIGMAPS)
            || x == k(&ids::SECRETS)
            || x == k(&ids::PDBS) =>
        {
            Some((24 * 60, 24 * 200))
        }
        x if x == k(&ids::DEPLOYMENTS)
            || x == k(&ids::STATEFULSETS)
            || x == k(&ids::DAEMONSETS) =>
        {
            Some((24 * 60, 24 * 200))
        }
        x if x == k(&ids::KCPS)
            || x == k(&ids::MACHINEDEPLOYMENTS)
            || x == k(&ids::MACHINE_TEMPLATES) =>
        {
            Some((24 * 60, 24 * 200))
        }
        // Nodes were last replaced by the latest upgrade; their pods since.
        x if x == k(&ids::NODES) || x == k(&ids::MACHINES) || x == k(&ids::MACHINESETS) => {
            Some((24 * 14, 24 * 30))
        }
        x if x == k(&ids::REPLICASETS) => Some((24 * 7, 24 * 14)),
        x if x == k(&ids::PODS) => Some((2, 24 * 7)),
        _ => None,
    }
}

/// Gives a freshly built fleet the history of one that has run for months: creation
/// times spread back in time, and none of the Events the boot itself caused (pods
/// waiting for nodes that did not exist yet).
pub fn age_fleet(c: &ClusterSim) {
    let now = c.clock.now();
    for kind in 0..super::registry::KINDS.len() {
        let Some((least, most)) = age_range_hours(kind) else {
            continue;
        };
        c.store.rewrite_unwatched(kind, |obj| {
            let key = format!(
                "{}/{}",
                obj["metadata"]["namespace"].as_str().unwrap_or(""),
                obj["metadata"]["name"].as_str().unwrap_or("")
            );
            let hours = least + hash(&key) % (most - least).max(1);
            obj["metadata"]["creationTimestamp"] =
                json!(k8s_time(now - Duration::hours(hours as i64)));
        });
    }
    c.store.clear_unwatched(*ids::EVENTS);
}

/// After boot: the troubled environment's worker that stopped reporting.
pub fn inject_trouble(c: &ClusterSim, env: &EnvPlan) {
    if !(env.troubled && c.role == ClusterRole::Wc) {
        return;
    }
    let (nodes, _) = c.store.list(*ids::NODES, None);
    let worker = nodes.iter().find(|n| {
        n["metadata"]["labels"]
            .get("node-role.kubernetes.io/control-plane")
            .is_none()
    });
    if let Some(n) = worker {
        let name = n["metadata"]["name"].as_str().unwrap_or("").to_string();
        let _ = c.store.replace(*ids::NODES, "", &name, |n| {
            let mut n = n.clone();
            n["metadata"]["annotations"]["sim.ck8s.io/not-ready"] = json!("true");
            Ok(n)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_has_one_troubled_environment_and_stable_names() {
        let p = plan(3, 150);
        assert_eq!(p.iter().filter(|e| e.troubled).count(), 1);
        assert_eq!(p[0].name, "acme");
        assert!(p[1].troubled);
        assert_eq!(env_name(20), "customer-020");
        assert!(!plan(1, 150)[0].troubled);
    }

    #[test]
    fn troubled_grafana_has_burned_most_of_its_budget() {
        let now = Utc::now();
        let env = &plan(3, 150)[1];
        let probes = probes(env, ClusterRole::Sc, 1, now, &Policy::default());
        let grafana = probes.iter().find(|p| p.target == "grafana").unwrap();
        let window = now - Duration::days(30);
        let down: i64 = grafana
            .outages
            .iter()
            .filter(|o| o.end > window)
            .map(|o| (o.end.min(now) - o.start.max(window)).num_minutes())
            .sum();
        // 99.5 % of 30 days allows 216 minutes.
        assert!((170..216).contains(&down), "{down} minutes down");
        assert!(
            grafana.outages.iter().any(|o| o.contains(now)),
            "an outage is ongoing"
        );
    }

    #[test]
    fn probes_are_reproducible_from_the_seed() {
        let now = Utc::now();
        let env = &plan(3, 150)[0];
        let a = probes(env, ClusterRole::Wc, 7, now, &Policy::default());
        let b = probes(env, ClusterRole::Wc, 7, now, &Policy::default());
        assert_eq!(
            a.iter().map(|p| p.outages.clone()).collect::<Vec<_>>(),
            b.iter().map(|p| p.outages.clone()).collect::<Vec<_>>()
        );
        assert_eq!(a.len(), 2);
    }
}
