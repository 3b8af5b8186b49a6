//! Command-line interface: the one place that knows every subcommand and flag.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// The terminal operations console for Compliant Kubernetes fleets.
///
/// Without a subcommand it opens the console on the fleet in your config file.
/// `demo` opens it on a built-in simulated fleet instead, so it runs anywhere.
#[derive(Debug, Parser)]
#[command(
    name = "ck8s-console",
    version,
    propagate_version = true,
    max_term_width = 100,
    after_help = ck8s_model::exit::TABLE
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(flatten)]
    pub console: ConsoleArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Fleet config file [default: $XDG_CONFIG_HOME/ck8s-console/fleet.toml].
    #[arg(long, global = true, env = "CK8S_CONSOLE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Directory for run journals, the audit log and logs
    /// [default: $XDG_STATE_HOME/ck8s-console].
    #[arg(
        long,
        global = true,
        env = "CK8S_CONSOLE_STATE_DIR",
        value_name = "DIR"
    )]
    pub state_dir: Option<PathBuf>,

    /// Log level for the log file (error, warn, info, debug, trace). RUST_LOG, when set,
    /// takes precedence and accepts full filter directives.
    #[arg(long, global = true, value_name = "LEVEL", default_value = "info")]
    pub log_level: String,

    /// Change nothing: the console disables every action that would (silences, workflows),
    /// and `run`, `runs cancel` and `runs resume` are refused (exit 3). Plans still show.
    #[arg(long, global = true)]
    pub read_only: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the console on the built-in simulated fleet (no cluster needed).
    #[command(after_help = "Examples:
  ck8s-console demo                      # the console on three simulated environments
  ck8s-console demo --environments 10 --speed 60 --scenario incidents.toml")]
    Demo(DemoArgs),
    /// Serve the simulated fleet alone, and write a kubeconfig and fleet config for it.
    #[command(after_help = "Examples:
  ck8s-console sim --out ./ck8s-sim      # then: --config ./ck8s-sim/fleet.toml
  KUBECONFIG=./ck8s-sim/kubeconfig kubectl --context acme-wc get nodes")]
    Sim(SimServeArgs),
    /// Show the health of every environment and cluster.
    #[command(after_help = "Examples:
  ck8s-console status
  ck8s-console status --env globex --cluster wc -o json
  ck8s-console status -o openmetrics > /var/lib/node_exporter/textfile/ck8s.prom")]
    Status(ReportArgs),
    /// One verdict for a monitoring system (Nagios, Icinga, Sensu, Zabbix): OK, WARNING,
    /// CRITICAL or UNKNOWN, with a line per finding and performance data.
    Check(CheckArgs),
    /// List pods across clusters.
    #[command(after_help = "Examples:
  ck8s-console pods --env globex --status CrashLoopBackOff
  ck8s-console pods -n production -l app=web -o name
  ck8s-console pods --node acme-wc-md-0-x7k2p --filter payments")]
    Pods(PodsArgs),
    /// List firing alerts from both clusters' Alertmanagers.
    #[command(after_help = "Examples:
  ck8s-console alerts --severity critical
  ck8s-console alerts --env globex --silenced -o yaml")]
    Alerts(AlertsArgs),
    /// Show backups, schedules and storage locations, judged against the backup policy.
    #[command(after_help = "Examples:
  ck8s-console backups --problems
  ck8s-console backups --env acme -o json | jq '.items[].last_completed_age_seconds'")]
    Backups(BackupsArgs),
    /// Show availability, error budget and burn rates per uptime target.
    #[command(after_help = "Examples:
  ck8s-console slo --env globex
  ck8s-console slo --target grafana --at 2026-11-20T12:00:00Z -o json")]
    Slo(SloArgs),
    /// Start a workflow (scale, backup, drain, restore) and follow it to the end. Exit codes:
    /// 0 succeeded, 1 failed or cancelled, 2 bad input, 3 refused by the policy, 4 another
    /// run holds the cluster, 130/143 stopped by Ctrl-C/SIGTERM (resumable).
    Run(RunArgs),
    /// Delete objects of any kind the cluster serves. Deleting cannot be undone, so it needs
    /// --yes. Exit codes as for `run`: 3 refused (read-only, permission), 4 a run holds the
    /// cluster.
    #[command(after_help = "Examples:
  ck8s-console delete pod web-7d4b9c-x2x1z --env acme --cluster wc -n production --yes
  ck8s-console delete pod/web-7d4b9c-x2x1z pod/web-7d4b9c-k9j2q --env acme --cluster wc -n production --yes")]
    Delete(DeleteArgs),
    /// Create objects from a manifest (YAML or JSON, several documents with `---`), as
    /// `kubectl create -f`: each through the engine's gate (read-only, permission to
    /// create, a run's lock), audited and left as an Event. Exit codes: 0 every object
    /// created, 1 one was not (it exists, the server refused it), 2 bad input, 3 refused
    /// (read-only, permission), 4 a run holds the cluster.
    #[command(after_help = "Examples:
  ck8s-console create -f quota.yaml --env acme --cluster wc -n production
  ck8s-console create -f job.yaml --dry-run --env acme --cluster wc
  kubectl create configmap x --dry-run=client -o yaml | ck8s-console create -f - --env acme --cluster wc")]
    Create(CreateArgs),
    /// Restart Deployments, StatefulSets or DaemonSets: a rollout of new pods, as
    /// `kubectl rollout restart` does.
    #[command(after_help = "Examples:
  ck8s-console restart deploy payments-api --env globex --cluster wc -n production")]
    Restart(ObjectArgs),
    /// Set the replicas of Deployments, StatefulSets or any kind with a scale subresource.
    /// (The workers of a cluster are scaled by the `run scale` workflow.)
    #[command(after_help = "Examples:
  ck8s-console scale deploy web --replicas 4 --env acme --cluster wc -n production
  ck8s-console scale sts postgres --replicas 3 --wait --env acme --cluster wc -n production")]
    Scale(ScaleArgs),
    /// Mark nodes unschedulable: no new pods go there. `run drain` also evicts its pods.
    #[command(after_help = "Examples:
  ck8s-console cordon acme-wc-md-0-x7k2p --env acme --cluster wc")]
    Cordon(NodeArgs),
    /// Make cordoned nodes schedulable again.
    #[command(after_help = "Examples:
  ck8s-console uncordon acme-wc-md-0-x7k2p --env acme --cluster wc")]
    Uncordon(NodeArgs),
    /// List workflow runs; show, cancel or resume one; read or verify the audit log.
    #[command(after_help = "Examples:
  ck8s-console runs                                  # every run, newest first
  ck8s-console runs show 20261207T101500Z-scale-acme-wc-3f9a
  ck8s-console runs watch                            # every run's events as NDJSON
  ck8s-console runs cancel 20261207T101500Z-scale-acme-wc-3f9a
  ck8s-console runs resume 20261207T101500Z-scale-acme-wc-3f9a
  ck8s-console runs audit --verify")]
    Runs(RunsArgs),
    /// Store, check or delete the credentials (bearer tokens, user names and passwords) that
    /// clusters' Prometheus and Alertmanager ask for.
    Credentials(CredentialsArgs),
    /// Print the resolved paths: config, state dir, journals, audit log, log file, themes.
    #[command(after_help = "Examples:
  ck8s-console info
  ck8s-console info -o json | jq -r .audit_log")]
    Info(InfoArgs),
    /// Print shell completions.
    #[command(after_help = "Examples:
  source <(ck8s-console completions bash)            # in ~/.bashrc
  ck8s-console completions fish > ~/.config/fish/completions/ck8s-console.fish")]
    Completions(CompletionArgs),
    /// Write the man pages: the main page to stdout (`ck8s-console man | man -l -`), or one
    /// page per command into a directory.
    #[command(after_help = "Examples:
  ck8s-console man | man -l -
  sudo ck8s-console man --dir /usr/local/share/man/man1")]
    Man(ManArgs),
    /// Measure sync time, memory, event throughput and rendering against a simulated
    /// fleet run in a separate process. Build with --release for meaningful numbers.
    #[command(after_help = "Examples:
  cargo build --release && ./target/release/ck8s-console bench --pods 30000 --json
  ./target/release/ck8s-console bench --environments 500 --json
  ./target/release/ck8s-console bench --environments 100 --nofile 1024")]
    Bench(BenchArgs),
}

#[derive(Debug, Args, Clone)]
pub struct SimArgs {
    /// Number of customer environments in the simulated fleet.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub environments: u32,
    /// Pods per cluster (about 150 in the demo; 15000 builds large clusters for benchmarks).
    #[arg(long, default_value_t = 150, value_parser = clap::value_parser!(u32).range(10..=100_000))]
    pub pods_per_cluster: u32,
    /// Seed for the simulated fleet; the same seed builds the same fleet.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Simulated seconds per real second (60 passes a simulated hour in a minute).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Scenario file that injects incidents (TOML).
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Require this bearer token at every simulated Prometheus and Alertmanager. The fleet
    /// config written names the credential `sim-metrics` for them: set it with
    /// CK8S_CONSOLE_SECRET_SIM_METRICS or `ck8s-console credentials set sim-metrics`.
    /// Prefer the environment variable: a command line is visible to every user of the
    /// host (`ps`).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "CK8S_CONSOLE_SIM_METRICS_TOKEN",
        hide_env_values = true
    )]
    pub metrics_token: Option<String>,
    /// The API servers offer only HTTP/1.1 (as behind a proxy without HTTP/2), so clients
    /// hold a connection per open watch; by default they offer HTTP/2 through ALPN, as the
    /// real apiserver does.
    #[arg(long)]
    pub http1_only: bool,
}

/// How the console opens (the TUI: no command, or `demo`).
#[derive(Debug, Args, Clone, Default)]
pub struct ConsoleArgs {
    /// Colour theme: dark, light, high-contrast, monochrome, or a user theme from the
    /// themes dir [default: dark; monochrome when NO_COLOR is set].
    #[arg(long, value_name = "NAME")]
    pub theme: Option<String>,
    /// Open this environment at start instead of the fleet overview.
    #[arg(long = "env", value_name = "NAME")]
    pub env: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct DemoArgs {
    #[command(flatten)]
    pub sim: SimArgs,
    #[command(flatten)]
    pub console: ConsoleArgs,
}

#[derive(Debug, Args, Clone)]
pub struct SimServeArgs {
    #[command(flatten)]
    pub sim: SimArgs,
    /// Directory to write `kubeconfig` and `fleet.toml` into.
    #[arg(long, value_name = "DIR", default_value = "./ck8s-sim")]
    pub out: PathBuf,
}

/// How a report or a run is written to stdout.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum OutputFormat {
    /// Aligned columns for people.
    Table,
    /// One JSON document with a versioned `schema`.
    Json,
    /// The JSON document as YAML.
    Yaml,
    /// One object name a line, for xargs.
    Name,
    /// The figures as OpenMetrics text, for node_exporter's textfile collector (status,
    /// slo and backups).
    Openmetrics,
}

/// `info`'s formats: it has no objects to name.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum InfoFormat {
    Table,
    Json,
    Yaml,
}

/// Where the objects of a small action are, and how to report on them.
#[derive(Debug, Args, Clone)]
pub struct ObjectPlace {
    /// The environment of the objects.
    #[arg(long, value_name = "NAME")]
    pub env: String,
    /// The cluster of the objects.
    #[arg(long, value_enum)]
    pub cluster: ClusterArg,
    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, short = 'o', value_enum)]
    pub output: Option<OutputFormat>,
}

/// Objects named as kubectl takes them.
#[derive(Debug, Args, Clone)]
pub struct ObjectArgs {
    /// The kind, then one or more names (`deploy web api`), or KIND/NAME words
    /// (`deploy/web pod/web-1`). Any name of a kind kubectl takes: plural, singular, short
    /// name or Kind, with `.group` for the ambiguous ones (`backups.velero.io`).
    #[arg(required = true, value_name = "KIND NAME")]
    pub objects: Vec<String>,
    /// The namespace of namespaced objects (ignored for cluster-scoped ones).
    #[arg(long, short = 'n', value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    #[command(flatten)]
    pub place: ObjectPlace,
}

#[derive(Debug, Args, Clone)]
pub struct CreateArgs {
    /// The manifest: a file, or `-` for stdin.
    #[arg(long, short = 'f', value_name = "FILE")]
    pub filename: PathBuf,
    /// The namespace of namespaced objects whose manifest names none [default: default].
    #[arg(long, short = 'n', value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// Only the server's dry run (`dryRun=All`): checked as if created, nothing kept.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub place: ObjectPlace,
}

#[derive(Debug, Args, Clone)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub objects: ObjectArgs,
    /// Delete without asking: deleting cannot be undone, so this is required.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args, Clone)]
pub struct ScaleArgs {
    #[command(flatten)]
    pub objects: ObjectArgs,
    /// The number of replicas to set.
    #[arg(long, value_name = "N")]
    pub replicas: u32,
    /// Then wait until every replica is updated and available and no old one is left, as
    /// `kubectl rollout status` does; exit 1 when a Deployment is past its progress
    /// deadline, or when that has not happened within --timeout (for each object).
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_timeout, requires = "wait")]
    pub timeout: Duration,
}

#[derive(Debug, Args, Clone)]
pub struct NodeArgs {
    /// The nodes, by name.
    #[arg(required = true, value_name = "NODE")]
    pub nodes: Vec<String>,
    #[command(flatten)]
    pub place: ObjectPlace,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ClusterArg {
    Sc,
    Wc,
}

impl From<ClusterArg> for crate::config::ClusterRole {
    fn from(arg: ClusterArg) -> Self {
        match arg {
            ClusterArg::Sc => crate::config::ClusterRole::Sc,
            ClusterArg::Wc => crate::config::ClusterRole::Wc,
        }
    }
}

/// What every report accepts: which environments and clusters, the output format, and how
/// long to wait for the clusters.
#[derive(Debug, Args, Clone)]
pub struct ReportArgs {
    #[command(flatten)]
    pub reach: Reach,
    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, short = 'o', value_enum)]
    pub output: Option<OutputFormat>,
}

/// Which environments and clusters a report or a check reads, and how long it waits.
#[derive(Debug, Args, Clone)]
pub struct Reach {
    /// Only this environment (repeatable, or comma-separated).
    #[arg(long = "env", value_name = "NAME", value_delimiter = ',')]
    pub envs: Vec<String>,
    /// Only the service cluster (sc) or the workload cluster (wc).
    #[arg(long, value_enum)]
    pub cluster: Option<ClusterArg>,
    /// How long to wait for the clusters to answer, e.g. 20s or 1m. What has not answered
    /// by then is reported as an error, and the report is partial (exit code 1).
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = parse_timeout)]
    pub timeout: Duration,
}

/// `check`: what a monitoring system runs.
#[derive(Debug, Args, Clone)]
#[command(after_help = CHECK_HELP)]
pub struct CheckArgs {
    #[command(flatten)]
    pub reach: Reach,
}

const CHECK_HELP: &str = "\
Exit codes follow the monitoring plugin convention (Nagios, Icinga, Sensu, Zabbix):
  0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (also for a bad config or --env).

CRITICAL: an API unreachable, a control-plane node not Ready, a critical alert firing, the
newest backup failed or a window missed with none completed within the policy's
backup_max_age (a day plus the backup window, 27h), an SLO
burn rate that pages, an error budget spent.
WARNING: a worker node not Ready, a high or warning alert, a certificate expiring within the
policy's certificate_warning (14 days), a backup window missed, an SLO burn rate that opens a
ticket, node counts off the policy. An expired certificate is CRITICAL.
UNKNOWN: a source that did not answer within --timeout, or failed.

Examples:
  ck8s-console check
  ck8s-console check --env globex --timeout 30s";

fn parse_timeout(text: &str) -> Result<Duration, String> {
    match crate::config::parse_duration(text)? {
        d if d.is_zero() => Err("the timeout must be longer than zero".to_owned()),
        d => Ok(d),
    }
}

#[derive(Debug, Args, Clone)]
pub struct PodsArgs {
    #[command(flatten)]
    pub report: ReportArgs,
    #[command(flatten)]
    pub options: PodsOptions,
}

/// Filters of the `pods` report; all given must match.
#[derive(Debug, Args, Clone, Default)]
pub struct PodsOptions {
    /// Only pods in this namespace.
    #[arg(long, short = 'n', value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// Only pods with this STATUS as kubectl prints it (Running, Pending, CrashLoopBackOff,
    /// ImagePullBackOff, Terminating, ...); case-insensitive.
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,
    /// Only pods whose labels match this Kubernetes label selector, as kubectl -l takes
    /// it: app=web,tier!=db, 'env in (prod,stage)', 'team notin (x)', key, !key.
    #[arg(long, short = 'l', value_name = "SELECTOR")]
    pub selector: Option<LabelSelector>,
    /// Only pods on this node.
    #[arg(long, value_name = "NODE")]
    pub node: Option<String>,
    /// Only pods that match this filter, in the console's `/` language: words that must
    /// all be in the namespace, name, status, node or owner (case-insensitive), `~regex`,
    /// and label terms such as app=web.
    #[arg(long, value_name = "FILTER")]
    pub filter: Option<crate::filter::Filter>,
}

pub use ck8s_model::labels::LabelSelector;

#[derive(Debug, Args, Clone)]
pub struct AlertsArgs {
    #[command(flatten)]
    pub report: ReportArgs,
    #[command(flatten)]
    pub options: AlertsOptions,
}

#[derive(Debug, Args, Clone, Default)]
pub struct AlertsOptions {
    /// Only alerts of this severity or more urgent (critical > high > warning > info >
    /// none) [default: info, which leaves out heartbeats such as Watchdog].
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub severity: Option<SeverityArg>,
    /// Include silenced and inhibited alerts.
    #[arg(long)]
    pub silenced: bool,
}

/// An alert's `severity` label, most urgent first.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq, PartialOrd, Ord)]
pub enum SeverityArg {
    Critical,
    High,
    Warning,
    Info,
    None,
}

#[derive(Debug, Args, Clone)]
pub struct BackupsArgs {
    #[command(flatten)]
    pub report: ReportArgs,
    #[command(flatten)]
    pub options: BackupsOptions,
}

#[derive(Debug, Args, Clone, Default)]
pub struct BackupsOptions {
    /// Only clusters whose backups need attention (status warning or critical).
    #[arg(long)]
    pub problems: bool,
}

#[derive(Debug, Args, Clone)]
pub struct SloArgs {
    #[command(flatten)]
    pub report: ReportArgs,
    #[command(flatten)]
    pub options: SloOptions,
}

#[derive(Debug, Args, Clone, Default)]
pub struct SloOptions {
    /// Only this probe target, e.g. grafana (repeatable, or comma-separated).
    #[arg(long = "target", value_name = "TARGET", value_delimiter = ',')]
    pub targets: Vec<String>,
    /// Evaluate as of this time (RFC 3339, e.g. 2026-11-20T12:00:00Z) [default: now].
    #[arg(long, value_name = "TIME", value_parser = parse_instant)]
    pub at: Option<DateTime<Utc>>,
}

fn parse_instant(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{e}; write an RFC 3339 time such as 2026-11-20T12:00:00Z"))
}

#[derive(Debug, Args, Clone)]
#[command(after_help = "Workflows:\n  \
    scale   workers=N [machinedeployment=NAME]   scale a cluster's workers through Cluster API\n  \
    backup  [schedule=NAME]                      an on-demand Velero backup from a schedule\n  \
    drain   node=NAME [force=true]               cordon a node and evict its pods within their disruption budgets\n  \
    restore backup=NAME [namespaces=a,b]         restore a Velero backup, timed against the recovery objective\n\n\
Examples:\n  \
    ck8s-console run scale --env acme --cluster wc workers=5\n  \
    ck8s-console run scale --env acme --cluster wc workers=24 --reason \"customer order 4711, approved by CTO\"\n  \
    ck8s-console run backup --env globex --cluster sc --plan\n  \
    ck8s-console run drain --env acme --cluster wc node=acme-wc-md-0-x7k2p --reason \"kernel CVE patch, ticket 4711\"\n  \
    ck8s-console run restore --env acme --cluster wc backup=velero-daily-backup-20261125010000 namespaces=production")]
pub struct RunArgs {
    /// Workflow name: scale, backup, drain or restore.
    pub workflow: String,
    /// Workflow parameters as KEY=VALUE.
    pub params: Vec<String>,
    /// The environment to act on.
    #[arg(long, value_name = "NAME")]
    pub env: String,
    /// The cluster to act on.
    #[arg(long, value_enum)]
    pub cluster: ClusterArg,
    /// Why the policy may be overridden; needed when the policy asks for an override.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Only show the plan and the policy's verdict; change nothing.
    #[arg(long)]
    pub plan: bool,
    /// Stream the run's events on stdout as NDJSON (as `runs watch` does) instead of one
    /// report at the end.
    #[arg(long, conflicts_with = "plan")]
    pub follow: bool,
    /// Start the run in the background, print its id and return; the run goes on after
    /// this shell or SSH session ends. Follow it with `runs watch ID`.
    #[arg(long, conflicts_with_all = ["plan", "follow"])]
    pub detach: bool,
    /// The background process of --detach: it prints the run's id, then goes quiet.
    #[arg(long, hide = true)]
    pub detached: bool,
    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, short = 'o', value_enum)]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Args, Clone)]
pub struct RunsArgs {
    #[command(subcommand)]
    pub action: Option<RunsAction>,
    /// Only runs of this environment (repeatable, or comma-separated).
    #[arg(
        long = "env",
        value_name = "NAME",
        value_delimiter = ',',
        global = true
    )]
    pub envs: Vec<String>,
    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, short = 'o', value_enum, global = true)]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Subcommand, Clone)]
pub enum RunsAction {
    /// One run with its steps and step log.
    Show { id: String },
    /// Ask a run to stop at its next safe point (works across processes).
    Cancel { id: String },
    /// Resume a stopped, failed or cancelled run at its first unfinished step, and follow it.
    Resume { id: String },
    /// Follow a run, or every run, as NDJSON events (one JSON object a line: run, step
    /// started, log, step finished, outcome), whichever process drives it. With an id it
    /// ends when the run does (exit 0 succeeded, 1 otherwise); without, on Ctrl-C.
    Watch { id: Option<String> },
    /// The audit log; --verify checks its hash chain (exit 1 when broken).
    Audit {
        #[arg(long)]
        verify: bool,
    },
}

#[derive(Debug, Args, Clone)]
#[command(after_help = "\
A cluster names its credentials in the fleet config:
  prometheus_credential = \"acme-metrics\"
  alertmanager_credential = \"acme-metrics\"

Where credentials are looked up, first match wins:
  1. the environment variable CK8S_CONSOLE_SECRET_<NAME> (NAME upper-cased, '-' as '_'):
     a bearer token, or {\"username\": \"...\", \"password\": \"...\"} (read-only)
  2. the Secret Service (GNOME Keyring, KWallet), when DBUS_SESSION_BUS_ADDRESS is set
  3. the kernel keyring (keyutils): until reboot, or 3 days without use
  4. $XDG_CONFIG_HOME/ck8s-console/credentials.toml, plain text, mode 0600: written only
     with --insecure-storage, read whenever present
`set` stores in the first writable one. CK8S_CONSOLE_KEYRING=auto|secret-service|keyutils|
file|none narrows the chain (file: no keyring; none: environment variables only).

Examples:
  ck8s-console credentials set acme-metrics < token.txt
  ck8s-console credentials set acme-metrics --username ops     (prompts for the password)
  ck8s-console credentials set acme-metrics --insecure-storage < token.txt
  ck8s-console credentials check acme-metrics
  CK8S_CONSOLE_SECRET_ACME_METRICS=... ck8s-console slo --env acme")]
pub struct CredentialsArgs {
    #[command(subcommand)]
    pub action: CredentialsAction,
}

#[derive(Debug, Subcommand, Clone)]
pub enum CredentialsAction {
    /// Store a credential, read from standard input (prompted for, without echo, on a
    /// terminal): a bearer token, or with --username the password for basic auth. Says
    /// which store took it.
    Set {
        /// The credential's name: lowercase letters, digits and '-'.
        #[arg(value_parser = parse_credential_name)]
        name: String,
        /// Basic auth: this user name, and the secret read is the password.
        #[arg(long, value_name = "USER")]
        username: Option<String>,
        /// Allow the plain-text file ($XDG_CONFIG_HOME/ck8s-console/credentials.toml, mode
        /// 0600) when no keyring can take the credential.
        #[arg(long)]
        insecure_storage: bool,
    },
    /// Say which store holds a credential, without printing it. Exit codes: 0 found,
    /// 1 not found.
    Check {
        #[arg(value_parser = parse_credential_name)]
        name: String,
    },
    /// Delete a credential from every store that holds it (environment variables
    /// excepted). Exit codes: 0 deleted, 1 not found.
    Delete {
        #[arg(value_parser = parse_credential_name)]
        name: String,
    },
}

fn parse_credential_name(text: &str) -> Result<String, String> {
    ck8s_model::credential::check_name(text).map(|()| text.to_owned())
}

#[derive(Debug, Args, Clone)]
pub struct InfoArgs {
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = InfoFormat::Table)]
    pub output: InfoFormat,
}

#[derive(Debug, Args, Clone)]
pub struct BenchArgs {
    /// Pods across the two clusters of one environment.
    #[arg(long, default_value_t = 30_000, value_parser = clap::value_parser!(u32).range(100..=200_000))]
    pub pods: u32,
    /// Measure the fleet overview at scale instead: this many environments (two clusters
    /// each), with --pods-per-cluster pods in each cluster.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=500), conflicts_with = "pods")]
    pub environments: Option<u32>,
    /// Pods per cluster of the fleet bench (--environments).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(10..=1_000), requires = "environments")]
    pub pods_per_cluster: u32,
    /// Run the console part of the fleet bench under this open-file limit (soft and hard,
    /// as `ulimit -n` sets them); the simulator keeps its own.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(64..=1_048_576), requires = "environments")]
    pub nofile: Option<u64>,
    /// Seconds the fleet bench measures idle CPU and descriptors over.
    #[arg(long, value_name = "SECONDS", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=600), requires = "environments")]
    pub idle: u64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone)]
pub struct ManArgs {
    /// Write ck8s-console.1 and a page per command (ck8s-console-status.1, ...) here,
    /// e.g. /usr/local/share/man/man1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct CompletionArgs {
    /// The shell to print completions for.
    pub shell: clap_complete::Shell,
}

impl Command {
    /// The subcommand's name as typed, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Demo(_) => "demo",
            Command::Sim(_) => "sim",
            Command::Status(_) => "status",
            Command::Check(_) => "check",
            Command::Pods(_) => "pods",
            Command::Alerts(_) => "alerts",
            Command::Backups(_) => "backups",
            Command::Slo(_) => "slo",
            Command::Run(_) => "run",
            Command::Runs(_) => "runs",
            Command::Create(_) => "create",
            Command::Delete(_) => "delete",
            Command::Restart(_) => "restart",
            Command::Scale(_) => "scale",
            Command::Cordon(_) => "cordon",
            Command::Uncordon(_) => "uncordon",
            Command::Credentials(_) => "credentials",
            Command::Info(_) => "info",
            Command::Completions(_) => "completions",
            Command::Man(_) => "man",
            Command::Bench(_) => "bench",
        }
    }
}
