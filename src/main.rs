//! ck8s-console entry point: parse the command line, set up logging, run one command,
//! and turn its outcome into a stable exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Parser};

use ck8s_console::cli::{
    Cli, Command, ConsoleArgs, DemoArgs, InfoArgs, InfoFormat, ReportArgs, RunsAction, SimArgs,
    SimServeArgs,
};
use ck8s_console::headless::objects::Request;
use ck8s_console::headless::{self, ReportKind};
use ck8s_console::{logging, terminal};
use ck8s_fleet::engine::ops::Op;
use ck8s_model::config::{self, ConfigError};
use ck8s_model::exit;
use ck8s_model::paths::{PathEnv, Paths};
use ck8s_sim::{SimFleet, SimOptions};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let paths = Paths::resolve(
        cli.global.config.as_deref(),
        cli.global.state_dir.as_deref(),
        &PathEnv::from_process(),
    );
    // Journals, the audit log and logs are the user's alone. Failing to tighten an old
    // state dir must not stop an operator in an incident; say it and go on.
    if let Err(e) = ck8s_console::private::restrict(&paths.state_dir) {
        eprintln!(
            "warning: could not make {} private (chmod 700 it by hand): {e}",
            paths.state_dir.display()
        );
    }
    // Credentials are looked up beside the config the command line names.
    ck8s_fleet::secrets::use_credentials_file(&paths.credentials_file);
    // Logging failure must not stop an operator in an incident; say it and go on.
    let _log_guard = match logging::init(&paths.log_dir, &cli.global.log_level) {
        Ok(g) => Some(g),
        Err(e) => {
            eprintln!("warning: file logging is off: {e:#}");
            None
        }
    };
    // As Go programs do: a login shell's soft limit (often 1 024) would stop a console
    // watching a large fleet, while the hard limit allows it.
    match ck8s_fleet::limits::raise_file_limit() {
        Ok(l) => tracing::info!(
            started = l.started,
            soft = l.soft,
            hard = l.hard,
            "open-file limit"
        ),
        Err(e) => tracing::warn!(error = %e, "could not raise the open-file limit"),
    }
    let code = match run(cli, &paths) {
        Ok(code) => code,
        Err(e) => {
            terminal::restore();
            tracing::error!(error = %format!("{e:#}"), "command failed");
            match (
                e.downcast_ref::<ConfigError>(),
                e.downcast_ref::<UsageError>(),
                e.downcast_ref::<ck8s_sim::scenario::ScenarioError>(),
            ) {
                (Some(ce), ..) => {
                    eprintln!("{ce}");
                    ce.exit_code()
                }
                (_, Some(ue), _) => {
                    eprintln!("error: {ue}");
                    exit::USAGE
                }
                // A scenario naming what the simulated fleet does not have.
                (.., Some(se)) => {
                    eprintln!("error: {se}");
                    exit::USAGE
                }
                _ => {
                    eprintln!("error: {e:#}");
                    exit::FAILURE
                }
            }
        }
    };
    ExitCode::from(code.clamp(0, 255) as u8)
}

fn engine_mode(read_only: bool) -> ck8s_fleet::engine::Mode {
    if read_only {
        ck8s_fleet::engine::Mode::ReadOnly
    } else {
        ck8s_fleet::engine::Mode::ReadWrite
    }
}

/// Bad input other than the fleet config (a scenario file, a flag value): exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UsageError(String);

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn run(cli: Cli, paths: &Paths) -> anyhow::Result<i32> {
    // One TLS crypto provider for kube and reqwest alike (both would otherwise try to
    // pick one and panic at client creation).
    ck8s_fleet::install_crypto_provider();
    match cli.command {
        Some(Command::Info(args)) => info(paths, &args),
        Some(Command::Credentials(args)) => ck8s_console::credentials::run(&args, paths),
        Some(Command::Completions(args)) => {
            headless::output::print(&completions(args.shell, paths))?;
            Ok(exit::OK)
        }
        Some(Command::Man(args)) => man(args.dir.as_deref()),
        Some(Command::Sim(args)) => runtime()?.block_on(serve_sim(args)),
        Some(Command::Bench(args)) => {
            use ck8s_console::bench;
            match args.environments {
                Some(n) => {
                    let report = runtime()?.block_on(bench::fleet::run(&args, n))?;
                    bench::fleet::print(&report, args.json)?;
                }
                None => {
                    let report = runtime()?.block_on(bench::run(&args))?;
                    bench::print(&report, args.json)?;
                }
            }
            Ok(exit::OK)
        }
        Some(Command::Demo(args)) => runtime()?.block_on(demo(args, paths, cli.global.read_only)),
        None => {
            let fleet = load_fleet(paths)?;
            runtime()?.block_on(console(&fleet, paths, cli.console, cli.global.read_only))
        }
        Some(Command::Status(args)) => report(paths, ReportKind::Status, &args),
        Some(Command::Check(args)) => {
            // Every failure of a check is one of its states: a config it cannot use is
            // UNKNOWN (3), not the usage error (2) a monitoring system would read as CRITICAL.
            let fleet = load_fleet(paths).map_err(|e| format!("{e:#}"));
            Ok(runtime()?.block_on(headless::check::run(&args, fleet)))
        }
        Some(Command::Pods(a)) => report(paths, ReportKind::Pods(a.options), &a.report),
        Some(Command::Alerts(a)) => report(paths, ReportKind::Alerts(a.options), &a.report),
        Some(Command::Backups(a)) => report(paths, ReportKind::Backups(a.options), &a.report),
        Some(Command::Slo(a)) => report(paths, ReportKind::Slo(a.options), &a.report),
        Some(Command::Run(args)) if args.detach => Ok(headless::runs::detach()),
        Some(Command::Run(args)) => {
            let fleet = load_fleet(paths)?;
            let mode = engine_mode(cli.global.read_only);
            Ok(runtime()?.block_on(headless::runs::run(&args, fleet, paths, mode)))
        }
        Some(Command::Create(args)) => {
            let fleet = load_fleet(paths)?;
            let mode = engine_mode(cli.global.read_only);
            Ok(runtime()?.block_on(headless::objects::create(&args, fleet, paths, mode)))
        }
        Some(Command::Delete(args)) => {
            let request = Request::of_objects(Op::Delete, &args.objects, args.yes);
            objects(paths, request, cli.global.read_only)
        }
        Some(Command::Restart(args)) => objects(
            paths,
            Request::of_objects(Op::Restart, &args, false),
            cli.global.read_only,
        ),
        Some(Command::Scale(args)) => {
            let request = Request::of_objects(Op::Scale(args.replicas), &args.objects, false)
                .map(|r| r.waiting(args.wait.then_some(args.timeout)));
            objects(paths, request, cli.global.read_only)
        }
        Some(Command::Cordon(args)) => objects(
            paths,
            Ok(Request::of_nodes(Op::Cordon, &args)),
            cli.global.read_only,
        ),
        Some(Command::Uncordon(args)) => objects(
            paths,
            Ok(Request::of_nodes(Op::Uncordon, &args)),
            cli.global.read_only,
        ),
        Some(Command::Runs(args)) => {
            // `runs audit` works without a fleet config, on the local log alone; cancel and
            // resume reach clusters, so their kubeconfigs are checked as for `run`.
            let reaches = matches!(
                args.action,
                Some(RunsAction::Cancel { .. } | RunsAction::Resume { .. })
            );
            let fleet = if reaches {
                Ok(load_fleet(paths)?)
            } else {
                config::load(&paths.config_file).map_err(|e| e.to_string())
            };
            let mode = engine_mode(cli.global.read_only);
            Ok(runtime()?.block_on(headless::runs::runs(&args, fleet, paths, mode)))
        }
    }
}

/// A small action from the command line, gated by the engine like the console's keys.
fn objects(
    paths: &Paths,
    request: Result<headless::objects::Request, ck8s_fleet::engine::EngineError>,
    read_only: bool,
) -> anyhow::Result<i32> {
    let fleet = load_fleet(paths)?;
    let mode = engine_mode(read_only);
    Ok(runtime()?.block_on(headless::objects::run(request, fleet, paths, mode)))
}

/// The console on the built-in simulated fleet: the simulator serves on loopback and the
/// console reaches it through the same clients it uses for real clusters.
async fn demo(args: DemoArgs, paths: &Paths, read_only: bool) -> anyhow::Result<i32> {
    let sim = SimFleet::start(sim_options(&args.sim)?).await?;
    let demo_dir = paths.state_dir.join("demo");
    let (_, fleet_file) = sim.write_files(&demo_dir)?;
    let fleet = config::load(&fleet_file)?;
    let paths = demo_paths(paths, &demo_dir)?;
    let code = console(&fleet, &paths, args.console, read_only).await;
    drop(sim);
    code
}

/// Runs against a simulated fleet are not history of the real one: the demo journals and
/// audits beside its own kubeconfig, and starts each session with a clean slate because
/// the fleet it acted on is gone.
fn demo_paths(paths: &Paths, demo_dir: &std::path::Path) -> anyhow::Result<Paths> {
    let demo = Paths {
        runs_dir: demo_dir.join("runs"),
        audit_log: demo_dir.join("audit.jsonl"),
        ..paths.clone()
    };
    if demo.runs_dir.exists() {
        std::fs::remove_dir_all(&demo.runs_dir)
            .with_context(|| format!("clearing {}", demo.runs_dir.display()))?;
    }
    if demo.audit_log.exists() {
        std::fs::remove_file(&demo.audit_log)
            .with_context(|| format!("clearing {}", demo.audit_log.display()))?;
    }
    Ok(demo)
}

/// The simulated fleet the flags ask for; a bad scenario file is a usage error.
fn sim_options(args: &SimArgs) -> anyhow::Result<SimOptions> {
    let scenario = match &args.scenario {
        Some(path) => Some(ck8s_sim::scenario::load(path).map_err(|e| UsageError(e.to_string()))?),
        None => None,
    };
    Ok(SimOptions {
        environments: args.environments,
        pods_per_cluster: args.pods_per_cluster,
        seed: args.seed,
        speed: args.speed,
        scenario,
        metrics_token: args.metrics_token.clone(),
        http1_only: args.http1_only,
    })
}

/// The completion script for `shell`. It also offers the environments of the fleet config
/// (as it is when the script is made: `source <(ck8s-console completions bash)` in a shell's
/// start-up reads it anew each time) and the workflows; bash also asks the console for run
/// ids as they are typed.
fn completions(shell: clap_complete::Shell, paths: &Paths) -> String {
    let mut cmd = with_known_values(Cli::command(), &known_environments(paths));
    let mut script = Vec::new();
    if shell != clap_complete::Shell::Bash {
        clap_complete::generate(shell, &mut cmd, "ck8s-console", &mut script);
        let generated = String::from_utf8_lossy(&script).into_owned();
        return match shell {
            clap_complete::Shell::Zsh => zsh_with_run_ids(&generated),
            clap_complete::Shell::Fish => generated + FISH_RUN_IDS,
            _ => generated,
        };
    }
    // Generated for `ck8s_console` and bound to `ck8s-console` below: clap_complete spells a
    // hyphenated name two ways in its bash script, so nothing after a subcommand would
    // complete (clap-rs/clap#6421).
    clap_complete::generate(shell, &mut cmd, "ck8s_console", &mut script);
    // Its function, without its own `complete` lines at the end: ours bind the wrapper.
    let generated: Vec<String> = String::from_utf8_lossy(&script)
        .lines()
        .take_while(|line| !line.starts_with("if [[ \"${BASH_VERSINFO"))
        .map(str::to_owned)
        .collect();
    generated.join("\n") + BASH_RUN_IDS
}

/// Run ids where a `runs` action takes one, from `ck8s-console runs -o name`; everything
/// else from clap's completion.
const BASH_RUN_IDS: &str = r#"
_ck8s_console_with_runs() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
    case "$prev" in
        show|cancel|resume|watch)
            if [[ " ${COMP_WORDS[*]:0:COMP_CWORD} " == *" runs "* ]]; then
                COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" runs -o name 2>/dev/null)" -- "$cur"))
                return 0
            fi
            ;;
    esac
    _ck8s_console "$@"
}
if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _ck8s_console_with_runs -o nosort -o bashdefault -o default ck8s-console
else
    complete -F _ck8s_console_with_runs -o bashdefault -o default ck8s-console
fi
"#;

/// Fish: run ids after `runs show|cancel|resume|watch`, from the console itself.
const FISH_RUN_IDS: &str = r#"
complete -c ck8s-console -n "__fish_ck8s_console_using_subcommand runs; and __fish_seen_subcommand_from show cancel resume watch" -f -a "(ck8s-console runs -o name 2>/dev/null)"
"#;

/// Zsh: the run id arguments complete from `ck8s-console runs -o name`. The function goes
/// before the script's last lines, which call the completion at once when zsh autoloads
/// the file from `fpath`.
fn zsh_with_run_ids(generated: &str) -> String {
    const RUN_IDS: &str = r#"(( $+functions[_ck8s_console_run_ids] )) ||
_ck8s_console_run_ids() {
    local -a ids
    ids=(${(f)"$(${words[1]} runs -o name 2>/dev/null)"})
    compadd -a ids
}

"#;
    let script = generated
        .replace("':id:_default'", "':id:_ck8s_console_run_ids'")
        .replace("'::id:_default'", "'::id:_ck8s_console_run_ids'");
    match script.rfind("if [ \"$funcstack[1]\"") {
        Some(at) => format!("{}{RUN_IDS}{}", &script[..at], &script[at..]),
        None => script + RUN_IDS,
    }
}

/// The environment names of the fleet config, if it can be read.
fn known_environments(paths: &Paths) -> Vec<String> {
    config::load(&paths.config_file)
        .map(|f| f.environments.into_iter().map(|e| e.name).collect())
        .unwrap_or_default()
}

/// The command as the completion scripts see it: `--env` takes the fleet's environments and
/// `run` the workflows. Only the scripts see these lists; parsing keeps its own checks and
/// their clearer messages.
fn with_known_values(cmd: clap::Command, environments: &[String]) -> clap::Command {
    let workflows: Vec<&'static str> = ck8s_fleet::engine::workflows::WorkflowKind::all()
        .map(|w| w.name())
        .collect();
    let envs = environments.to_vec();
    // Mutating an argument moves it to the end: the positions are said again.
    let mut cmd = cmd.mut_subcommand("run", |run| {
        run.mut_arg("workflow", |a| {
            a.index(1)
                .value_parser(clap::builder::PossibleValuesParser::new(workflows))
        })
        .mut_arg("params", |a| a.index(2))
    });
    if envs.is_empty() {
        return cmd;
    }
    let env_values =
        move |a: clap::Arg| a.value_parser(clap::builder::PossibleValuesParser::new(envs.clone()));
    cmd = cmd.mut_arg("env", env_values.clone());
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(&name, |sub| {
            let ids: Vec<String> = sub
                .get_arguments()
                .filter(|a| a.get_long() == Some("env"))
                .map(|a| a.get_id().to_string())
                .collect();
            ids.into_iter()
                .fold(sub, |sub, id| sub.mut_arg(id, env_values.clone()))
        });
    }
    cmd
}

/// The console on `fleet` until the user quits or a signal arrives.
async fn console(
    fleet: &config::Fleet,
    paths: &Paths,
    args: ConsoleArgs,
    read_only: bool,
) -> anyhow::Result<i32> {
    if let Some(env) = &args.env
        && fleet.environment(env).is_none()
    {
        let known: Vec<&str> = fleet.environments.iter().map(|e| e.name.as_str()).collect();
        return Err(UsageError(format!(
            "--env {env}: no such environment; the fleet has: {}",
            known.join(", ")
        ))
        .into());
    }
    let engine = ck8s_fleet::engine::Engine::with_mode(
        std::sync::Arc::new(fleet.clone()),
        paths,
        ck8s_fleet::engine::actor_from_env(),
        ck8s_fleet::engine::Tuning::default(),
        engine_mode(read_only),
    );
    let opts = ck8s_console::ui::UiOptions {
        themes_dir: paths.themes_dir.clone(),
        theme: args.theme,
        read_only,
        env: args.env,
        engine: Some(engine.clone()),
        ..Default::default()
    };
    let theme = ck8s_console::ui::resolve_theme(&opts).map_err(|e| UsageError(e.to_string()))?;
    if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        return Err(UsageError(
            "the console needs a terminal (stdin and stdout are not one); for scripts and \
             pipes use the headless commands: status, pods, alerts, backups, slo, run, runs \
             (see --help)"
                .into(),
        )
        .into());
    }
    let live = std::sync::Arc::new(
        ck8s_fleet::sources::live::LiveFleet::start(
            fleet,
            ck8s_fleet::sources::live::Intervals::for_fleet(fleet),
        )
        .await,
    );
    let code = ck8s_console::ui::run(live, opts, theme).await;
    // Silences made just before quitting: let their audit anchors reach the clusters.
    engine.settle().await;
    code
}

/// The man pages, from the same definitions as `--help`.
fn man(dir: Option<&std::path::Path>) -> anyhow::Result<i32> {
    let page = main_man_page()?;
    match dir {
        Some(dir) => {
            let writing = || format!("writing the man pages into {}", dir.display());
            std::fs::create_dir_all(dir).with_context(writing)?;
            // A page per command; the main one is ours, with its exit status section.
            clap_mangen::generate_to(Cli::command(), dir).with_context(writing)?;
            std::fs::write(dir.join("ck8s-console.1"), page).with_context(writing)?;
            eprintln!("man pages written to {}", dir.display());
        }
        None => headless::output::print(&page)?,
    }
    Ok(exit::OK)
}

/// ck8s-console(1): clap_mangen's sections, with the exit codes as an EXIT STATUS section
/// kept in its columns (the reflowed `--help` epilogue would run them together).
fn main_man_page() -> anyhow::Result<String> {
    let cmd = Cli::command().after_help(None::<&str>);
    let man = clap_mangen::Man::new(cmd);
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    man.render_subcommands_section(&mut page)?;
    let table = exit::TABLE
        .lines()
        .skip(1)
        .map(|l| l.replace('\\', "\\e").replace('-', "\\-"))
        .collect::<Vec<_>>()
        .join("\n");
    page.extend(format!(".SH \"EXIT STATUS\"\n.nf\n{table}\n.fi\n").bytes());
    man.render_version_section(&mut page)?;
    Ok(String::from_utf8(page)?)
}

/// Runs a read-only report. The config is loaded first, so a broken one exits 2 before any
/// cluster is asked.
fn report(paths: &Paths, kind: ReportKind, args: &ReportArgs) -> anyhow::Result<i32> {
    let fleet = load_fleet(paths)?;
    runtime()?.block_on(headless::run(kind, args, &fleet))
}

/// The fleet config, with every cluster's kubeconfig and context checked (exit 2 if one
/// cannot be used), for the commands that reach clusters.
fn load_fleet(paths: &Paths) -> anyhow::Result<config::Fleet> {
    let fleet = config::load(&paths.config_file)?;
    kubeconfig_problems(&fleet, paths).map_or(Ok(fleet), |p| Err(UsageError(p).into()))
}

/// What is wrong with the kubeconfigs `fleet` names, in lines that name the cluster.
fn kubeconfig_problems(fleet: &config::Fleet, paths: &Paths) -> Option<String> {
    let problems = ck8s_fleet::sources::check_kubeconfigs(fleet);
    if problems.is_empty() {
        return None;
    }
    let mut text = format!(
        "the fleet config {} names kubeconfigs that cannot be used:",
        paths.config_file.display()
    );
    for (cluster, problem) in problems {
        text.push_str(&format!("\n  {cluster}: {problem}"));
    }
    text.push_str("\nFix `kubeconfig` and `context` of those clusters in the fleet config.");
    Some(text)
}

fn info(paths: &Paths, args: &InfoArgs) -> anyhow::Result<i32> {
    let config_state = if !paths.config_file.exists() {
        "not found (copy assets/fleet.example.toml there, or pass --config)".to_string()
    } else {
        match config::load(&paths.config_file) {
            Ok(f) => match kubeconfig_problems(&f, paths) {
                None => format!("valid, {} environment(s)", f.environments.len()),
                Some(p) => format!("invalid: {}", p.replace('\n', " ")),
            },
            Err(e) => format!("invalid: {}", e.to_string().lines().next().unwrap_or("")),
        }
    };
    let mut doc = serde_json::to_value(paths)?;
    doc["config_status"] = serde_json::json!(config_state);
    let text = match args.output {
        InfoFormat::Json => format!("{}\n", serde_json::to_string_pretty(&doc)?),
        InfoFormat::Yaml => serde_yaml_ng::to_string(&doc)?,
        InfoFormat::Table => {
            let mut out = String::new();
            for (label, path) in paths.entries() {
                out.push_str(&format!("{label:<14} {}\n", path.display()));
            }
            out.push_str(&format!("{:<14} {config_state}\n", "config status"));
            out
        }
    };
    headless::output::print(&text)?;
    Ok(exit::OK)
}

async fn serve_sim(args: SimServeArgs) -> anyhow::Result<i32> {
    let opts = sim_options(&args.sim)?;
    let token_required = opts.metrics_token.is_some();
    let fleet = SimFleet::start(opts).await?;
    let (kubeconfig, fleet_file) = fleet.write_files(&args.out)?;
    let mut out = String::new();
    out.push_str(&format!(
        "simulated fleet ready: {} clusters\n",
        fleet.clusters().len()
    ));
    for c in fleet.clusters() {
        out.push_str(&format!(
            "  {:<22} api https://{}  prometheus http://{}  alertmanager http://{}\n",
            c.sim.name(),
            c.api,
            c.prometheus,
            c.alertmanager
        ));
    }
    out.push_str(&format!(
        "kubeconfig:   {}\nfleet config: {}\n",
        kubeconfig.display(),
        fleet_file.display()
    ));
    out.push_str(&format!(
        "try:          KUBECONFIG={} kubectl get nodes\n",
        kubeconfig.display()
    ));
    if token_required {
        let name = ck8s_sim::SIM_CREDENTIAL;
        out.push_str(&format!(
            "credentials:  Prometheus and Alertmanager require the --metrics-token; the fleet \
             config names it `{name}`:\n              export {}=<token>   (or `ck8s-console \
             credentials set {name}`)\n",
            ck8s_fleet::secrets::env_var(name)
        ));
    }
    if std::io::stdout().is_terminal() {
        out.push_str("serving until interrupted (Ctrl-C)\n");
    }
    headless::output::print(&out)?;
    let code = terminal::shutdown_signal().await;
    tracing::info!(code, "simulator stopping");
    drop(fleet);
    Ok(exit::OK)
}
