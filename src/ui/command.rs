//! The `:` command line: `:pods wc`, `:alerts`, `:env acme`, `:slo`, `:backups sc`,
//! `:sort restarts`, `:theme light`. Any unique prefix of a command works (`:po wc`), and
//! Tab completes commands and their arguments.

use std::sync::LazyLock;

use super::nav::{Pane, PodColumn, Reach, Scope, with_panes};
use crate::config::ClusterRole;
use crate::engine::workflows::WorkflowKind;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A pane, optionally of another environment or cluster scope.
    Go {
        pane: Pane,
        env: Option<String>,
        scope: Option<Scope>,
    },
    Env(String),
    Silences,
    Sort(PodColumn),
    Theme(String),
    /// Open the workflow form, with what the line already said.
    Workflow {
        kind: WorkflowKind,
        env: Option<String>,
        role: Option<ClusterRole>,
        params: Vec<(String, String)>,
    },
    Help,
    Quit,
    /// Set the replicas of the selected object (objects pane), after a question.
    Replicas(u32),
    /// A new object of the kind the objects pane lists, from YAML typed in an editor.
    Create,
    /// One value of the selected Secret, shown once, audited.
    Reveal(String),
    /// The pods or objects shown, to a file.
    Export {
        format: super::export::Format,
        path: Option<String>,
    },
    /// Objects of any kind the clusters serve (`:deploy payments`, `:svc /api`), found
    /// through discovery when the command names no command of the console's.
    Objects(ObjectsQuery),
}

/// `:KIND [namespace] [/text | label=value] [env] [sc|wc|both]`, as k9s takes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectsQuery {
    pub kind: String,
    pub namespace: Option<String>,
    /// The pane's filter: `/text` as text, `app=web` as a label.
    pub filter: Option<String>,
    pub env: Option<String>,
    pub scope: Option<Scope>,
}

/// A word that can name a kind: letters, digits, dots and dashes (`backups.velero.io`).
fn kind_like(word: &str) -> bool {
    word.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}

/// An RFC 1123 label, as namespace names are.
fn is_dns_label(word: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    word.len() <= 63
        && edge(word.chars().next())
        && edge(word.chars().last())
        && word
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn objects(kind: &str, words: &[&str], vocab: &Vocabulary<'_>) -> Result<Command, String> {
    let mut q = ObjectsQuery {
        kind: kind.to_ascii_lowercase(),
        ..ObjectsQuery::default()
    };
    for word in words {
        if let Some(text) = word.strip_prefix('/') {
            q.filter = Some(text.to_string());
        } else if word.contains('=') {
            q.filter = Some(word.to_string());
        } else if let Some(s) = Scope::parse(word) {
            q.scope = Some(s);
        } else if vocab.envs.iter().any(|e| e == word) {
            q.env = Some(word.to_string());
        } else if q.namespace.is_none() && is_dns_label(word) {
            q.namespace = Some(word.to_string());
        } else if q.namespace.is_none() {
            return Err(format!(
                "`{word}` is no namespace name (lower-case letters, digits and -, at most 63), \
                 nor an environment, sc|wc|both, /text or label=value"
            ));
        } else {
            return Err(format!(
                ":{kind} takes one namespace; `{word}` is not an environment, sc|wc|both, \
                 /text or a label=value"
            ));
        }
    }
    Ok(Command::Objects(q))
}

/// What the arguments of a command may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Args {
    None,
    /// A pane; for one that is scoped, environment names and sc/wc/both, in any order.
    Pane(Pane),
    Env,
    Column,
    Theme,
    /// csv|json and an optional file.
    Export,
    /// A number of replicas.
    Replicas,
    /// A key of a Secret.
    SecretKey,
    /// Environment, sc/wc, and the workflow's KEY=VALUE parameters (a bare number is
    /// the worker count of `scale`).
    Workflow,
}

/// Every command: one per registered pane, then the others.
static COMMANDS: LazyLock<Vec<(&str, Args, &str)>> =
    LazyLock::new(|| PANE_COMMANDS.iter().chain(OTHERS).copied().collect());

/// `PANE_COMMANDS`: a registered pane's command is its module's name
/// (`nav::with_panes!`).
macro_rules! pane_commands {
    ($($pane:ident $module:ident: $view:ident, $title:literal, $reach:ident, $about:literal;)*) => {
        const PANE_COMMANDS: [(&str, Args, &str); Pane::ALL.len()] = [$(
            (stringify!($module), Args::Pane(Pane::$pane), usage!($reach, $about)),
        )*];
    };
}

/// What a pane's command takes, after what it shows.
macro_rules! usage {
    (Fleet, $about:literal) => {
        $about
    };
    ($reach:ident, $about:literal) => {
        concat!($about, " [env] [sc|wc|both]")
    };
}
with_panes!(pane_commands);

const OTHERS: &[(&str, Args, &str)] = &[
    (
        "scale",
        Args::Workflow,
        "scale [env] sc|wc N: scale the workers (opens the workflow form)",
    ),
    (
        "backup",
        Args::Workflow,
        "backup [env] sc|wc: an on-demand Velero backup (opens the workflow form)",
    ),
    (
        "drain",
        Args::Workflow,
        "drain [env] sc|wc node=NAME: cordon and evict (opens the workflow form)",
    ),
    (
        "restore",
        Args::Workflow,
        "restore [env] sc|wc backup=NAME: a Velero restore (opens the workflow form)",
    ),
    ("env", Args::Env, "env <name>: open an environment"),
    (
        "reveal",
        Args::SecretKey,
        "reveal KEY: one value of the selected Secret (objects pane), shown once, audited",
    ),
    (
        "replicas",
        Args::Replicas,
        "replicas N: scale the selected object (objects pane) through its scale subresource",
    ),
    (
        "export",
        Args::Export,
        "export csv|json [FILE]: the pods or objects shown, as filtered and sorted",
    ),
    (
        "create",
        Args::None,
        "create: a new object of the kind listed (objects pane), from YAML, after a dry run",
    ),
    ("silences", Args::None, "list silences"),
    ("sort", Args::Column, "sort <column>: sort pods"),
    ("theme", Args::Theme, "theme <name>"),
    ("help", Args::None, "help"),
    ("quit", Args::None, "quit"),
];

const SCOPES: [&str; 3] = ["sc", "wc", "both"];

/// The names an argument may take.
pub struct Vocabulary<'a> {
    pub envs: &'a [String],
    pub themes: &'a [String],
    /// The kinds the open environment's clusters serve, by every name.
    pub kinds: &'a [String],
}

pub fn parse(line: &str, vocab: &Vocabulary<'_>) -> Result<Command, String> {
    let mut words = line.split_whitespace();
    let Some(first) = words.next() else {
        return Err("type a command, e.g. :pods wc (Tab completes)".into());
    };
    let (name, args, _) = match find_command(first) {
        Ok(found) => found,
        // Not a command of the console's: a kind the clusters serve, as in k9s.
        Err(_) if kind_like(first) && !COMMANDS.iter().any(|c| c.0.starts_with(first)) => {
            let rest: Vec<&str> = words.collect();
            return objects(first, &rest, vocab);
        }
        Err(e) => return Err(e),
    };
    let rest: Vec<&str> = words.collect();
    let one = |what: &str| -> Result<&str, String> {
        match rest.as_slice() {
            [one] => Ok(one),
            [] => Err(format!(":{name} needs {what}")),
            _ => Err(format!(":{name} takes one {what}")),
        }
    };
    match args {
        Args::None if !rest.is_empty() => Err(format!(":{name} takes no arguments")),
        Args::None => Ok(match name {
            "silences" => Command::Silences,
            "help" => Command::Help,
            "create" => Command::Create,
            _ => Command::Quit,
        }),
        Args::Pane(pane) if pane.reach() == Reach::Fleet && !rest.is_empty() => {
            Err(format!(":{name} takes no arguments"))
        }
        Args::Pane(pane) => {
            let (mut env, mut scope) = (None, None);
            for word in rest {
                if let Some(s) = Scope::parse(word) {
                    scope = Some(s);
                } else {
                    env = Some(find_env(word, vocab.envs)?);
                }
            }
            Ok(go(pane, env, scope))
        }
        Args::Workflow => workflow(name, &rest, vocab),
        Args::Replicas => {
            let word = one("a number of replicas")?;
            word.parse::<u32>().map(Command::Replicas).map_err(|_| {
                format!("`{word}` is no number of replicas: a whole number, 0 or more")
            })
        }
        Args::Export => match rest.as_slice() {
            [format] | [format, _] if super::export::Format::parse(format).is_some() => {
                Ok(Command::Export {
                    format: super::export::Format::parse(format).expect("checked"),
                    path: rest.get(1).map(|p| p.to_string()),
                })
            }
            _ => Err(":export takes csv or json, then a file if you like".into()),
        },
        Args::SecretKey => Ok(Command::Reveal(one("a key of the Secret")?.to_owned())),
        Args::Env => Ok(Command::Env(find_env(
            one("an environment name")?,
            vocab.envs,
        )?)),
        Args::Column => {
            let word = one("a column")?;
            PodColumn::parse(word).map(Command::Sort).ok_or_else(|| {
                format!(
                    "unknown column `{word}`; the columns are {}",
                    PodColumn::ALL.map(|c| c.name()).join(", ")
                )
            })
        }
        Args::Theme => {
            let word = one("a theme name")?;
            if vocab.themes.iter().any(|t| t == word) {
                Ok(Command::Theme(word.to_string()))
            } else {
                Err(format!(
                    "unknown theme `{word}`; the themes are {}",
                    vocab.themes.join(", ")
                ))
            }
        }
    }
}

fn workflow(name: &str, words: &[&str], vocab: &Vocabulary<'_>) -> Result<Command, String> {
    let kind = WorkflowKind::parse(name).ok_or_else(|| format!("no workflow {name}"))?;
    let (mut env, mut role, mut params) = (None, None, Vec::new());
    for word in words {
        match *word {
            "sc" => role = Some(ClusterRole::Sc),
            "wc" => role = Some(ClusterRole::Wc),
            w if w.contains('=') => {
                let (k, v) = w.split_once('=').expect("contains =");
                params.push((k.to_string(), v.to_string()));
            }
            w if kind == WorkflowKind::Scale && w.chars().all(|c| c.is_ascii_digit()) => {
                params.push(("workers".to_string(), w.to_string()));
            }
            w => env = Some(find_env(w, vocab.envs)?),
        }
    }
    Ok(Command::Workflow {
        kind,
        env,
        role,
        params,
    })
}

fn go(pane: Pane, env: Option<String>, scope: Option<Scope>) -> Command {
    Command::Go { pane, env, scope }
}

fn find_command(word: &str) -> Result<(&'static str, Args, &'static str), String> {
    let word = word.to_ascii_lowercase();
    if word == "q" {
        return Ok(("quit", Args::None, ""));
    }
    let matches: Vec<_> = COMMANDS
        .iter()
        .filter(|(n, _, _)| n.starts_with(word.as_str()))
        .collect();
    match matches.as_slice() {
        [one] => Ok(**one),
        _ if COMMANDS.iter().any(|(n, _, _)| *n == word) => Ok(*COMMANDS
            .iter()
            .find(|(n, _, _)| *n == word)
            .expect("checked")),
        [] => Err(format!(
            "unknown command `{word}`; the commands are {}",
            COMMANDS.iter().map(|c| c.0).collect::<Vec<_>>().join(", ")
        )),
        many => Err(format!(
            "`{word}` could be {}",
            many.iter().map(|c| c.0).collect::<Vec<_>>().join(" or ")
        )),
    }
}

fn find_env(word: &str, envs: &[String]) -> Result<String, String> {
    if let Some(e) = envs.iter().find(|e| *e == word) {
        return Ok(e.clone());
    }
    let matches: Vec<&String> = envs.iter().filter(|e| e.starts_with(word)).collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(format!("no environment `{word}`")),
        many => Err(format!(
            "`{word}` could be {}",
            many.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Tab completion: the line completed as far as it is unambiguous, and the candidates
/// for the word being typed.
pub fn complete(line: &str, vocab: &Vocabulary<'_>) -> (String, Vec<String>) {
    let ends_in_space = line.ends_with(' ');
    let words: Vec<&str> = line.split_whitespace().collect();
    let (done, current): (&[&str], &str) = match (words.split_last(), ends_in_space) {
        (None, _) => (&[], ""),
        (Some(_), true) => (&words[..], ""),
        (Some((last, before)), false) => (before, last),
    };
    let candidates: Vec<String> = if done.is_empty() {
        let commands = COMMANDS.iter().map(|c| c.0.to_string());
        // Kinds too, once a word is begun: all of them would drown the commands.
        let kinds = vocab.kinds.iter().filter(|_| !current.is_empty()).cloned();
        let mut all: Vec<String> = commands.chain(kinds).collect();
        all.dedup();
        all
    } else {
        match find_command(done[0]).map(|c| c.1) {
            Ok(Args::Pane(pane)) if !pane.scoped() => Vec::new(),
            Ok(Args::Pane(_) | Args::Workflow) => vocab
                .envs
                .iter()
                .cloned()
                .chain(SCOPES.iter().map(|s| s.to_string()))
                .collect(),
            Ok(Args::Env) => vocab.envs.to_vec(),
            Ok(Args::Column) => PodColumn::ALL
                .iter()
                .map(|c| c.name().to_string())
                .collect(),
            Ok(Args::Theme) => vocab.themes.to_vec(),
            _ => Vec::new(),
        }
    };
    let matching: Vec<String> = candidates
        .into_iter()
        .filter(|c| c.starts_with(current))
        .collect();
    let prefix = done.join(" ");
    let join = |word: &str| {
        if prefix.is_empty() {
            word.to_string()
        } else {
            format!("{prefix} {word}")
        }
    };
    match matching.as_slice() {
        [] => (line.to_string(), Vec::new()),
        [one] => (format!("{} ", join(one)), Vec::new()),
        many => {
            let common = common_prefix(many);
            let completed = if common.len() > current.len() {
                join(&common)
            } else {
                line.to_string()
            };
            (completed, matching)
        }
    }
}

fn common_prefix(words: &[String]) -> String {
    let first = &words[0];
    let mut len = first.len();
    for w in &words[1..] {
        len = len.min(
            first
                .bytes()
                .zip(w.bytes())
                .take_while(|(a, b)| a == b)
                .count(),
        );
    }
    first[..len].to_string()
}

/// One line per command, for help.
pub fn summary() -> impl Iterator<Item = (&'static str, &'static str)> {
    COMMANDS.iter().map(|(n, _, d)| (*n, *d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> (Vec<String>, Vec<String>) {
        (
            vec!["acme".into(), "globex".into(), "initech".into()],
            vec!["dark".into(), "light".into()],
        )
    }

    /// The registration of a pane (`nav::with_panes!`) is all it takes for its command.
    #[test]
    fn every_registered_pane_has_its_command() {
        let (envs, themes) = vocab();
        let v = Vocabulary {
            envs: &envs,
            themes: &themes,
            kinds: &[],
        };
        for pane in Pane::ALL {
            let (name, ..) = *COMMANDS
                .iter()
                .find(|c| c.1 == Args::Pane(pane))
                .expect("a command per pane");
            let go = Command::Go {
                pane,
                env: None,
                scope: None,
            };
            assert_eq!(parse(name, &v), Ok(go), ":{name}");
            let scoped = parse(&format!("{name} acme wc"), &v);
            if pane.scoped() {
                assert_eq!(
                    scoped,
                    Ok(Command::Go {
                        pane,
                        env: Some("acme".into()),
                        scope: Some(Scope::Wc)
                    })
                );
            } else {
                assert_eq!(scoped, Err(format!(":{name} takes no arguments")));
                assert!(complete(&format!("{name} "), &v).1.is_empty());
            }
        }
    }

    #[test]
    fn commands_take_places_in_any_order_and_prefixes() {
        let (envs, themes) = vocab();
        let v = Vocabulary {
            envs: &envs,
            themes: &themes,
            kinds: &[],
        };
        assert_eq!(
            parse("pods wc", &v),
            Ok(Command::Go {
                pane: Pane::Pods,
                env: None,
                scope: Some(Scope::Wc)
            })
        );
        assert_eq!(
            parse("po wc glob", &v),
            Ok(Command::Go {
                pane: Pane::Pods,
                env: Some("globex".into()),
                scope: Some(Scope::Wc)
            })
        );
        assert_eq!(parse("env acme", &v), Ok(Command::Env("acme".into())));
        assert_eq!(parse("q", &v), Ok(Command::Quit));
        assert_eq!(
            parse("sort restarts", &v),
            Ok(Command::Sort(PodColumn::Restarts))
        );
        assert!(parse("s", &v).unwrap_err().contains("could be"));
        assert!(
            parse("env nope", &v)
                .unwrap_err()
                .contains("no environment")
        );
        assert!(parse("theme neon", &v).unwrap_err().contains("dark, light"));
        assert!(parse("fleet x", &v).is_err());
    }

    #[test]
    fn workflow_commands_take_place_count_and_parameters() {
        let (envs, themes) = vocab();
        let v = Vocabulary {
            envs: &envs,
            themes: &themes,
            kinds: &[],
        };
        assert_eq!(
            parse("scale glob wc 5", &v),
            Ok(Command::Workflow {
                kind: WorkflowKind::Scale,
                env: Some("globex".into()),
                role: Some(ClusterRole::Wc),
                params: vec![("workers".into(), "5".into())],
            })
        );
        assert_eq!(
            parse("backup sc schedule=weekly", &v),
            Ok(Command::Workflow {
                kind: WorkflowKind::Backup,
                env: None,
                role: Some(ClusterRole::Sc),
                params: vec![("schedule".into(), "weekly".into())],
            })
        );
        assert!(
            parse("backup nowhere", &v)
                .unwrap_err()
                .contains("no environment")
        );
    }

    #[test]
    fn tab_completes_commands_then_arguments() {
        let (envs, themes) = vocab();
        let v = Vocabulary {
            envs: &envs,
            themes: &themes,
            kinds: &[],
        };
        assert_eq!(complete("po", &v), ("pods ".into(), vec![]));
        let (line, cands) = complete("s", &v);
        assert_eq!(line, "s");
        assert_eq!(cands, ["slo", "scale", "silences", "sort"]);
        assert_eq!(complete("env g", &v), ("env globex ".into(), vec![]));
        let (line, cands) = complete("pods ", &v);
        assert_eq!(line, "pods ");
        assert!(cands.contains(&"wc".to_string()) && cands.contains(&"acme".to_string()));
        assert_eq!(complete("theme l", &v).0, "theme light ");
    }

    #[test]
    fn a_word_that_is_no_command_lists_that_kind_as_k9s_takes_it() {
        let (envs, themes) = vocab();
        let v = Vocabulary {
            envs: &envs,
            themes: &themes,
            kinds: &[],
        };
        assert_eq!(
            parse("deploy payments /api wc acme", &v),
            Ok(Command::Objects(ObjectsQuery {
                kind: "deploy".into(),
                namespace: Some("payments".into()),
                filter: Some("api".into()),
                env: Some("acme".into()),
                scope: Some(Scope::Wc),
            }))
        );
        let q = |line: &str| match parse(line, &v) {
            Ok(Command::Objects(q)) => q,
            other => panic!("{line}: {other:?}"),
        };
        assert_eq!(q("backups.velero.io").kind, "backups.velero.io");
        assert_eq!(q("CM app=web").filter.as_deref(), Some("app=web"));
        assert_eq!(q("CM app=web").kind, "cm");
        // The console's own commands and their prefixes come first.
        assert!(matches!(
            parse("po", &v),
            Ok(Command::Go {
                pane: Pane::Pods,
                ..
            })
        ));
        assert!(matches!(parse("drain", &v), Ok(Command::Workflow { .. })));
        let e = parse("deploy a b", &v).unwrap_err();
        assert!(e.contains("takes one namespace"), "{e}");
        for bad in ["a/b", "..", "Payments", "-x"] {
            let e = parse(&format!("deploy {bad}"), &v).unwrap_err();
            assert!(e.contains("is no namespace name"), "{bad}: {e}");
        }
        assert!(parse("9x", &v).unwrap_err().contains("unknown command"));
        assert_eq!(parse("replicas 3", &v), Ok(Command::Replicas(3)));
        assert!(
            parse("replicas -1", &v)
                .unwrap_err()
                .contains("no number of replicas")
        );
        assert!(
            parse("replicas", &v)
                .unwrap_err()
                .contains("needs a number")
        );
    }

    #[test]
    fn the_served_kinds_complete_once_a_word_is_begun() {
        let (envs, themes) = vocab();
        let kinds = vec!["deploy".to_string(), "deployments".into(), "ds".into()];
        let v = Vocabulary {
            envs: &envs,
            themes: &themes,
            kinds: &kinds,
        };
        let (line, candidates) = complete("dep", &v);
        assert_eq!(line, "deploy");
        assert_eq!(candidates, ["deploy", "deployments"]);
        assert_eq!(complete("ds", &v).0, "ds ");
        let (_, all) = complete("", &v);
        assert!(
            !all.contains(&"ds".to_string()),
            "not before a word is begun"
        );
    }
}
