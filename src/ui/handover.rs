//! Handing the terminal to another program and taking it back: a shell in a pod
//! (`kubectl exec -it`) or the user's editor on an object. What needs the network (the
//! engine's gate, reading the object) is prepared in a background task; the event loop
//! only suspends the screen, runs the program, and draws again.

use std::io;

use super::app::{App, Effect, Level};
use super::panes::objects::{Edit, Selected};
use crate::engine::Engine;
use crate::engine::ops::ObjectRef;
use crate::sources::live::LiveFleet;
use crate::terminal;
use ck8s_fleet::inspect::{self, PodTarget};

/// A program the terminal is to be handed to, once the event loop can.
#[derive(Debug, Clone, PartialEq)]
pub enum Handover {
    Shell(inspect::Handover),
    PortForward(inspect::Handover),
    Editor(Edit),
}

/// A shell in `target` (in `container`, else the pod's default one): through the engine's
/// gate (read-only, a run's lock, `create pods/exec`), audited, then the kubectl command
/// for it.
pub async fn prepare_shell(
    live: &LiveFleet,
    engine: Option<&Engine>,
    target: &PodTarget,
    container: Option<&str>,
) -> Result<Handover, String> {
    let engine = engine.ok_or("a shell needs the workflow engine, which this console lacks")?;
    engine
        .shell(&pod_ref(target))
        .await
        .map_err(|e| e.to_string())?;
    inspect::shell(&live.fleet, target, container)
        .map(Handover::Shell)
        .ok_or_else(|| format!("{} is not in the fleet config", target.cluster()))
}

/// A forward of `ports` of `target`: through the engine's gate (read-only,
/// `create pods/portforward`), audited, then the kubectl command for it.
pub async fn prepare_port_forward(
    live: &LiveFleet,
    engine: Option<&Engine>,
    target: &PodTarget,
    ports: &[String],
) -> Result<Handover, String> {
    let engine =
        engine.ok_or("a port-forward needs the workflow engine, which this console lacks")?;
    engine
        .port_forward(&pod_ref(target), ports)
        .await
        .map_err(|e| e.to_string())?;
    inspect::port_forward(&live.fleet, target, ports)
        .map(Handover::PortForward)
        .ok_or_else(|| format!("{} is not in the fleet config", target.cluster()))
}

fn pod_ref(target: &PodTarget) -> ObjectRef {
    ObjectRef {
        env: target.env.clone(),
        role: target.role,
        kind: "pods".into(),
        namespace: Some(target.namespace.clone()),
        name: target.name.clone(),
    }
}

/// The editor on `object`: its YAML as the server holds it now, or the text `kept` from an
/// edit of it that failed, made again on that (as typed when it cannot be).
pub async fn prepare_edit(
    live: &LiveFleet,
    env: &str,
    object: Selected,
    kept: Option<Edit>,
) -> Result<Handover, String> {
    let namespace = object.namespace.as_deref();
    let fresh = crate::objects::for_edit(
        live,
        env,
        object.role,
        &object.kind,
        namespace,
        &object.name,
    )
    .await;
    let edit = match (kept, fresh) {
        (Some(kept), Ok(fresh)) => {
            match crate::objects::rebase(&kept.original, &kept.text, &fresh) {
                Ok(text) => Edit {
                    text,
                    original: fresh,
                    diff: None,
                    ..kept
                },
                Err(e) => {
                    tracing::info!(object = %kept.key, reason = %e, "the kept edit is reopened as typed");
                    kept
                }
            }
        }
        (Some(kept), Err(_)) => kept,
        (None, Ok(text)) => Edit {
            id: 0,
            key: object.key(),
            object: object.object_ref(env),
            original: text.clone(),
            text,
            diff: None,
            creating: false,
        },
        (None, Err(e)) => return Err(format!("{} could not be read: {e}", object.key())),
    };
    Ok(Handover::Editor(edit))
}

/// Runs the program with the terminal handed over, and says in the status line how it
/// went. An error only when the terminal could not be taken back.
pub async fn run(handover: Handover, app: &mut App) -> io::Result<Vec<Effect>> {
    match handover {
        Handover::Shell(shell) => {
            let banner = format!("{} (exit the shell to come back)", shell.what);
            let status = program(&shell.program, &shell.args, &banner, true).await?;
            match status {
                Ok(s) if s.success() => {
                    app.flash(Level::Info, format!("back from the {}", shell.what))
                }
                Ok(s) => app.flash(
                    Level::Error,
                    format!("kubectl exec ended with {s} ({})", shell.what),
                ),
                Err(e) => app.flash(
                    Level::Error,
                    format!("could not run {}: {e}; is kubectl on PATH?", shell.program),
                ),
            }
            Ok(Vec::new())
        }
        Handover::PortForward(forward) => {
            let banner = format!("{} (Ctrl-C ends it and comes back)", forward.what);
            // Ctrl-C is how a forward ends: that is no failure to hold the screen for.
            let status = program(&forward.program, &forward.args, &banner, true).await?;
            match status {
                Ok(s) if s.success() || interrupted(&s) => {
                    app.flash(Level::Info, format!("{} ended", forward.what))
                }
                Ok(s) => app.flash(
                    Level::Error,
                    format!("kubectl port-forward ended with {s} ({})", forward.what),
                ),
                Err(e) => app.flash(
                    Level::Error,
                    format!(
                        "could not run {}: {e}; is kubectl on PATH?",
                        forward.program
                    ),
                ),
            }
            Ok(Vec::new())
        }
        Handover::Editor(edit) => {
            let file = match crate::objects::edit_file(&edit.text) {
                Ok(f) => f,
                Err(e) => {
                    app.flash(Level::Error, format!("no file for the editor: {e}"));
                    return Ok(Vec::new());
                }
            };
            let Some(mut editor) = crate::objects::editor() else {
                // Unset meanwhile: the console's own editor, then.
                app.on_event(super::app::UiEvent::EditInApp(edit));
                return Ok(Vec::new());
            };
            editor.push(file.path().display().to_string());
            let banner = format!("editing {}", edit.key);
            match program(&editor[0], &editor[1..], &banner, false).await? {
                Ok(s) if s.success() => match std::fs::read_to_string(file.path()) {
                    Ok(text) => return Ok(app.after_editor(Edit { text, ..edit })),
                    Err(e) => app.flash(
                        Level::Error,
                        format!("the edited file could not be read: {e}"),
                    ),
                },
                Ok(s) => app.flash(
                    Level::Error,
                    format!("{} ended with {s}; nothing was changed", editor[0]),
                ),
                Err(e) => app.flash(
                    Level::Error,
                    format!("could not run {}: {e}; set $EDITOR", editor[0]),
                ),
            }
            Ok(Vec::new())
        }
    }
}

/// Whether the program ended on the Ctrl-C the user typed for it (SIGINT, or the exit
/// code 130 a program gives for it).
fn interrupted(status: &std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(2) || status.code() == Some(130)
}

/// Runs `program` on the terminal, suspended meanwhile. With `hold_on_failure`, a failure
/// waits for Enter before the console draws over what the program said.
async fn program(
    program: &str,
    args: &[String],
    banner: &str,
    hold_on_failure: bool,
) -> io::Result<io::Result<std::process::ExitStatus>> {
    terminal::suspend();
    println!("ck8s-console: {banner}");
    let status = tokio::process::Command::new(program)
        .args(args)
        .status()
        .await;
    if hold_on_failure && !status.as_ref().is_ok_and(|s| s.success() || interrupted(s)) {
        println!("ck8s-console: press Enter to go back to the console");
        let _ = tokio::task::spawn_blocking(|| io::stdin().read_line(&mut String::new())).await;
    }
    terminal::resume()?;
    Ok(status)
}
