//! A followed run's steps on a terminal: a spinner per step while it runs, its newest log
//! line beside it, and a mark once it is done or failed. Only for a person at a terminal:
//! stderr that is a file or a pipe gets the same steps as plain lines instead.

use std::collections::HashMap;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::watch::Event;
use crate::engine::journal::StepState;

/// The steps of one run, drawn on stderr.
pub struct StepBars {
    multi: MultiProgress,
    bars: HashMap<usize, ProgressBar>,
}

impl StepBars {
    pub fn new() -> StepBars {
        StepBars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: HashMap::new(),
        }
    }

    pub fn show(&mut self, event: &Event) {
        match event {
            Event::StepStarted { step, of, name, .. } => {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(running_style());
                bar.set_prefix(format!("[{step}/{of}] {name}"));
                bar.enable_steady_tick(Duration::from_millis(120));
                if let Some(old) = self.bars.insert(*step, bar) {
                    // A resumed step starts a line of its own.
                    old.abandon();
                }
            }
            Event::Log { step, message, .. } => {
                if let Some(bar) = self.bars.get(step) {
                    bar.set_message(message.clone());
                }
            }
            Event::StepFinished {
                step,
                state,
                message,
                ..
            } => {
                if let Some(bar) = self.bars.get(step) {
                    let mark = if *state == StepState::Failed {
                        "FAILED"
                    } else {
                        "done"
                    };
                    bar.set_style(done_style());
                    bar.finish_with_message(format!(
                        "{mark}: {}",
                        message.as_deref().unwrap_or("")
                    ));
                }
            }
            Event::Run { .. } | Event::Outcome { .. } => {}
        }
    }

    /// Writes a line above the bars, so a message does not tear them.
    pub fn println(&self, text: &str) {
        let _ = self.multi.println(text);
    }
}

impl Drop for StepBars {
    /// A run that stopped mid-step leaves its last state on screen, not a spinner.
    fn drop(&mut self) {
        for bar in self.bars.values() {
            if !bar.is_finished() {
                bar.abandon();
            }
        }
    }
}

fn running_style() -> ProgressStyle {
    ProgressStyle::with_template("  {spinner} {prefix}  {wide_msg:.dim}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn done_style() -> ProgressStyle {
    ProgressStyle::with_template("  {prefix}  {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}
