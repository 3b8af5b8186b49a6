//! Owning the terminal: raw mode and the alternate screen, and giving them back on every
//! exit path — normal return, error, panic, and SIGINT/SIGTERM/SIGHUP.
//!
//! The terminal is process-wide state, so whether it is taken is tracked in one atomic
//! flag; restoring is idempotent and safe to call from the panic hook.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::{cursor, event, execute, terminal};

static TAKEN: AtomicBool = AtomicBool::new(false);

/// Holds the terminal in raw mode on the alternate screen until dropped.
#[derive(Debug)]
pub struct TerminalGuard(());

impl TerminalGuard {
    pub fn enter() -> io::Result<TerminalGuard> {
        install_panic_hook();
        if let Err(e) = resume() {
            restore();
            return Err(e);
        }
        Ok(TerminalGuard(()))
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Gives the terminal to another program for a while (a shell, an editor) until
/// [`resume`]. Unlike [`restore`], a credential plugin still may not prompt: the terminal
/// is that program's, and a prompt would land in its screen and take its keys.
pub fn suspend() {
    if TAKEN.swap(false, Ordering::SeqCst) {
        give_back();
    }
}

/// Takes the terminal back after [`suspend`]: raw mode and the alternate screen again.
pub fn resume() -> io::Result<()> {
    terminal::enable_raw_mode()?;
    TAKEN.store(true, Ordering::SeqCst);
    // From now on a credential plugin must not prompt: nobody could read it.
    ck8s_fleet::sources::exec::credentials().set_terminal_taken(true);
    execute!(
        io::stdout(),
        terminal::EnterAlternateScreen,
        event::EnableBracketedPaste,
        cursor::Hide
    )
}

/// Puts `text` on the clipboard of the terminal the console runs in, with OSC 52: it
/// travels in the output stream, so it works over SSH and in tmux (`set-clipboard on`).
pub fn copy_to_clipboard(text: &str) -> io::Result<()> {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
    let mut out = io::stdout();
    write!(out, "\x1b]52;c;{encoded}\x07")?;
    out.flush()
}

/// Leaves raw mode and the alternate screen if this process took them. Errors are
/// ignored on purpose: after SIGHUP the terminal may be gone, and there is nobody left
/// to tell.
pub fn restore() {
    if TAKEN.swap(false, Ordering::SeqCst) {
        give_back();
        ck8s_fleet::sources::exec::credentials().set_terminal_taken(false);
    }
}

/// The main screen, cooked mode and the cursor, as the shell had them.
fn give_back() {
    let mut out = io::stdout();
    let _ = execute!(
        out,
        event::DisableBracketedPaste,
        terminal::LeaveAlternateScreen,
        cursor::Show
    );
    let _ = terminal::disable_raw_mode();
    let _ = out.flush();
}

/// Restores the terminal before the default panic message is printed, so the message is
/// readable and the shell is usable afterwards.
fn install_panic_hook() {
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return;
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        tracing::error!(panic = %info, "panic");
        previous(info);
    }));
}

/// SIGINT, SIGTERM and SIGHUP, watched from creation on. One value lives as long as its
/// user needs: a second signal that arrives while the first is handled is then counted,
/// where a fresh watch made after the first would miss it.
pub struct ShutdownSignals {
    streams: Vec<(tokio::signal::unix::Signal, i32)>,
}

impl ShutdownSignals {
    pub fn new() -> ShutdownSignals {
        use tokio::signal::unix::{SignalKind, signal};
        let kinds = [
            (SignalKind::interrupt(), libc::SIGINT),
            (SignalKind::terminate(), libc::SIGTERM),
            (SignalKind::hangup(), libc::SIGHUP),
        ];
        let streams = kinds
            .into_iter()
            .filter_map(|(kind, number)| match signal(kind) {
                Ok(s) => Some((s, ck8s_model::exit::interrupted(number))),
                Err(e) => {
                    // Without the handler the default action (exit) still applies.
                    tracing::warn!(error = %e, "cannot watch for a signal");
                    None
                }
            })
            .collect();
        ShutdownSignals { streams }
    }

    /// The next signal, as the shell's exit code for death by it (128 + its number).
    pub async fn next(&mut self) -> i32 {
        if self.streams.is_empty() {
            return std::future::pending().await;
        }
        let waits = self.streams.iter_mut().map(|(s, code)| {
            let code = *code;
            Box::pin(async move {
                s.recv().await;
                code
            })
        });
        futures::future::select_all(waits).await.0
    }
}

impl Default for ShutdownSignals {
    fn default() -> Self {
        ShutdownSignals::new()
    }
}

/// The first of SIGINT, SIGTERM and SIGHUP, as the shell's exit code for it.
pub async fn shutdown_signal() -> i32 {
    ShutdownSignals::new().next().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_gives_the_terminal_back_before_the_message() {
        // Without a TTY the escape sequences go nowhere; what matters is that the hook
        // runs restore, which releases the terminal exactly once.
        install_panic_hook();
        TAKEN.store(true, Ordering::SeqCst);
        let result = std::panic::catch_unwind(|| panic!("boom"));
        assert!(result.is_err());
        assert!(
            !TAKEN.load(Ordering::SeqCst),
            "the panic hook did not restore the terminal"
        );
        // Restoring twice is harmless.
        restore();
        assert!(!TAKEN.load(Ordering::SeqCst));
    }
}
