//! Command-line interface: the one place that knows every subcommand and flag.

use std::path::PathBuf;

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
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

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
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the console on the built-in simulated fleet (no cluster needed).
    Demo(SimArgs),
    /// Serve the simulated fleet alone, and write a kubeconfig and fleet config for it.
    Sim(SimServeArgs),
    /// Show the health of every environment and cluster.
    Status(ReportArgs),
    /// List pods across clusters.
    Pods(ReportArgs),
    /// List firing alerts from both clusters' Alertmanagers.
    Alerts(ReportArgs),
    /// Show backups, schedules and storage locations, judged against the backup policy.
    Backups(ReportArgs),
    /// Show availability, error budget and burn rates per uptime target.
    Slo(ReportArgs),
    /// Start a workflow (provision, scale, upgrade, drain, backup, restore, ...).
    Run(RunArgs),
    /// List workflow runs and their state.
    Runs(ReportArgs),
    /// Print the resolved paths: config, state dir, journals, audit log, log file, themes.
    Info(InfoArgs),
    /// Print shell completions.
    Completions(CompletionArgs),
}

#[derive(Debug, Args, Clone)]
pub struct SimArgs {
    /// Number of customer environments in the simulated fleet.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=200))]
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
}

#[derive(Debug, Args, Clone)]
pub struct SimServeArgs {
    #[command(flatten)]
    pub sim: SimArgs,
    /// Directory to write `kubeconfig` and `fleet.toml` into.
    #[arg(long, value_name = "DIR", default_value = "./ck8s-sim")]
    pub out: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ClusterArg {
    Sc,
    Wc,
}

#[derive(Debug, Args, Clone)]
pub struct ReportArgs {
    /// Only this environment (repeatable).
    #[arg(long = "env", value_name = "NAME")]
    pub envs: Vec<String>,
    /// Only the service cluster (sc) or the workload cluster (wc).
    #[arg(long, value_enum)]
    pub cluster: Option<ClusterArg>,
    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, short = 'o', value_enum)]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// Workflow name (provision, scale, upgrade, drain, backup, restore, silence, decommission).
    pub workflow: String,
    /// Workflow parameters as KEY=VALUE.
    pub params: Vec<String>,
}

#[derive(Debug, Args, Clone)]
pub struct InfoArgs {
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
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
            Command::Pods(_) => "pods",
            Command::Alerts(_) => "alerts",
            Command::Backups(_) => "backups",
            Command::Slo(_) => "slo",
            Command::Run(_) => "run",
            Command::Runs(_) => "runs",
            Command::Info(_) => "info",
            Command::Completions(_) => "completions",
        }
    }
}
