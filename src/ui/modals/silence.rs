//! The silence form: matchers preset from the alert (its whole label set, so exactly this
//! alert is muted), a duration, a required comment and the author. For several marked
//! alerts, one silence each, with its own matchers and the same duration, comment and
//! author. Fields are
//! `ratatui-textarea` single lines; errors show under the field as soon as it is edited,
//! or for every field once a submit was tried.

use chrono::TimeDelta;
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::ctx::Ctx;
use super::super::format;
use super::super::widgets::field::{Edited, TextField};
use crate::config::{self, ClusterRole};
use ck8s_model::alert::{Alert, MergedAlert, PostableSilence};

/// How long a silence lasts when the form's duration is left alone.
pub fn default_silence() -> TimeDelta {
    TimeDelta::hours(2)
}

const DURATION: usize = 0;
pub const COMMENT: usize = 1;
const AUTHOR: usize = 2;
const LABELS: [&str; 3] = ["Duration", "Comment", "Author"];
/// Longer silences hide problems; re-silence after a month if it really takes that long.
const MAX_DAYS: u64 = 31;

/// The Alertmanagers an alert came from; its silence goes to each.
pub type Targets = Vec<(String, ClusterRole)>;

#[derive(Debug)]
pub struct SilenceForm {
    /// The alerts silenced, each with where it came from.
    alerts: Vec<(Alert, Targets)>,
    fields: [TextField; 3],
    pub focus: usize,
    touched: [bool; 3],
    tried: bool,
    /// The id of the create request in flight.
    pub pending: Option<u64>,
    pub submit_error: Option<String>,
}

pub enum Submit {
    Invalid,
    /// One silence per alert, and where it goes.
    Ready(Vec<(Targets, PostableSilence)>),
}

fn line(text: &str) -> TextField {
    TextField::new(text)
}

impl SilenceForm {
    pub fn new(alerts: &[&MergedAlert], author: &str) -> SilenceForm {
        SilenceForm {
            alerts: alerts
                .iter()
                .map(|a| (a.alert.clone(), a.sources.clone()))
                .collect(),
            fields: [
                line(&config::format_duration(
                    default_silence().to_std().unwrap_or_default(),
                )),
                line(""),
                line(author),
            ],
            // Duration and author have good defaults; the comment is what is missing.
            focus: COMMENT,
            touched: [false; 3],
            tried: false,
            pending: None,
            submit_error: None,
        }
    }

    /// The alerts it silences, by fingerprint.
    pub fn fingerprints(&self) -> Vec<String> {
        self.alerts
            .iter()
            .map(|(a, _)| a.fingerprint.clone())
            .collect()
    }

    /// Leaves out what was silenced already (`done`: the index of an alert's silence
    /// and the cluster it reached), so that sending the form again makes only the rest.
    pub fn drop_done(&mut self, done: &[(usize, String)]) {
        for (i, (_, targets)) in self.alerts.iter_mut().enumerate() {
            targets.retain(|(env, role)| {
                !done
                    .iter()
                    .any(|(j, cluster)| *j == i && *cluster == format!("{env}-{role}"))
            });
        }
        self.alerts.retain(|(_, targets)| !targets.is_empty());
    }

    pub fn value(&self, field: usize) -> &str {
        self.fields[field].value()
    }

    pub fn paste(&mut self, text: &str) {
        if self.pending.is_none() && self.fields[self.focus].insert_str(text) {
            self.touched[self.focus] = true;
        }
    }

    fn duration(&self) -> Result<TimeDelta, String> {
        let d = config::parse_duration(self.value(DURATION))
            .map_err(|e| format!("{e} (e.g. 30m, 2h, 1d)"))?;
        if d.as_secs() == 0 {
            return Err("must be longer than 0".into());
        }
        if d.as_secs() > MAX_DAYS * 86_400 {
            return Err(format!(
                "at most {MAX_DAYS}d; silence again later if it still fires"
            ));
        }
        TimeDelta::from_std(d).map_err(|_| "too long".to_string())
    }

    fn error(&self, field: usize) -> Option<String> {
        match field {
            DURATION => self.duration().err(),
            COMMENT if self.value(COMMENT).trim().is_empty() => {
                Some("required: say why, e.g. a ticket or who is working on it".into())
            }
            AUTHOR if self.value(AUTHOR).trim().is_empty() => Some("required".into()),
            _ => None,
        }
    }

    fn shown_error(&self, field: usize) -> Option<String> {
        (self.tried || self.touched[field])
            .then(|| self.error(field))
            .flatten()
    }

    pub fn submit(&mut self) -> Submit {
        self.tried = true;
        if self.pending.is_some() {
            return Submit::Invalid;
        }
        if let Some(bad) = (0..3).find(|f| self.error(*f).is_some()) {
            self.focus = bad;
            return Submit::Invalid;
        }
        let Ok(duration) = self.duration() else {
            return Submit::Invalid;
        };
        let mut silences = Vec::new();
        for (alert, targets) in &self.alerts {
            let silence = PostableSilence::for_alert(
                alert,
                duration,
                self.value(AUTHOR).trim(),
                self.value(COMMENT).trim(),
            );
            if let Err(e) = silence.validate() {
                self.submit_error = Some(format!("{}: {e}", alert.alertname()));
                return Submit::Invalid;
            }
            silences.push((targets.clone(), silence));
        }
        Submit::Ready(silences)
    }

    /// What the form shows as matchers: the alert's, or for several, each alert's name
    /// and matchers on a line of its own.
    fn matcher_text(&self, width: usize) -> Vec<String> {
        let matchers = |alert: &Alert| -> String {
            PostableSilence::for_alert(alert, TimeDelta::zero(), "", "")
                .matchers
                .iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self.alerts.as_slice() {
            [(alert, _)] => format::wrap(&matchers(alert), width),
            several => several
                .iter()
                .map(|(alert, _)| format::cut(&matchers(alert), width))
                .collect(),
        }
    }

    pub fn render(&self, f: &mut Frame, area: Rect, ctx: &Ctx<'_>) {
        let s = &ctx.theme.s;
        let width = if area.width < 100 {
            area.width
        } else {
            area.width * 4 / 5
        };
        let label_w = 11u16;
        let value_w = width.saturating_sub(label_w + 3) as usize;
        let wrapped = self.matcher_text(value_w);
        // Matchers, target, a gap, three fields with their error lines, a gap, the status.
        let max_matcher_lines = (area.height as usize).saturating_sub(13).clamp(1, 6);
        let matcher_lines = wrapped.len().min(max_matcher_lines);
        let height = (matcher_lines as u16 + 12).min(area.height);
        let outer = super::centered(area, 0, 0, width, height);
        let what = match self.alerts.as_slice() {
            [(alert, _)] => alert.alertname().to_owned(),
            several => format!("{} alerts, each by its own labels", several.len()),
        };
        let title = Line::from(vec![
            Span::styled(" Silence ", s.title),
            Span::styled(format!("{what} "), s.title),
        ]);
        let inner = super::frame(f, outer, title, ctx.theme);
        let mut y = inner.y;
        let bottom = inner.y + inner.height;
        for (i, part) in wrapped.iter().enumerate().take(matcher_lines) {
            let label = if i == 0 { "Matchers" } else { "" };
            let more = i + 1 == matcher_lines && wrapped.len() > matcher_lines;
            let text = if more {
                format::cut(part, value_w)
            } else {
                part.clone()
            };
            f.render_widget(
                Line::from(vec![
                    Span::styled(format!(" {label:<10}"), s.muted),
                    Span::raw(text),
                ]),
                Rect::new(inner.x, y, inner.width, 1),
            );
            y += 1;
        }
        let mut on: Vec<String> = self
            .alerts
            .iter()
            .flat_map(|(_, targets)| targets)
            .map(|(e, r)| format!("{e}-{r}"))
            .collect();
        on.sort();
        on.dedup();
        f.render_widget(
            Line::from(vec![
                Span::styled(format!(" {:<10}", "Sent to"), s.muted),
                Span::raw(format!("the Alertmanager of {}", on.join(" and "))),
            ]),
            Rect::new(inner.x, y, inner.width, 1),
        );
        y += 2;
        for (field, label) in LABELS.iter().enumerate() {
            if y + 1 >= bottom {
                break;
            }
            let focused = field == self.focus;
            let label_style = if focused { s.title } else { s.muted };
            f.render_widget(
                Span::styled(format!(" {label:<10}"), label_style),
                Rect::new(inner.x, y, label_w, 1),
            );
            let field_w = if field == DURATION {
                12
            } else {
                value_w.min(60) as u16
            };
            let input_area = Rect::new(inner.x + label_w, y, field_w, 1);
            let base = if focused { s.input } else { s.muted };
            let cursor = (focused && self.pending.is_none())
                .then(|| Style::new().add_modifier(Modifier::REVERSED));
            self.fields[field].render(
                f,
                input_area,
                base.add_modifier(Modifier::UNDERLINED),
                cursor,
            );
            if field == DURATION
                && let Ok(d) = self.duration()
            {
                let ends = ctx.now + d;
                let hint = format!(
                    "  until {}",
                    ends.with_timezone(&ctx.tz).format("%a %H:%M %Z")
                );
                let x = input_area.x + input_area.width;
                f.render_widget(
                    Span::styled(hint, s.muted),
                    Rect::new(x, y, (inner.x + inner.width).saturating_sub(x), 1),
                );
            }
            y += 1;
            if let Some(err) = self.shown_error(field) {
                f.render_widget(
                    Line::from(vec![
                        Span::raw(" ".repeat(label_w as usize)),
                        Span::styled(format!("! {err}"), s.input_error),
                    ]),
                    Rect::new(inner.x, y, inner.width, 1),
                );
            }
            y += 1;
        }
        let status = if self.pending.is_some() {
            Line::styled(" Creating the silence…", s.muted)
        } else if let Some(e) = &self.submit_error {
            Line::styled(format!(" {e}"), s.error)
        } else {
            Line::from(vec![
                Span::styled(" Enter", s.key),
                Span::styled(" create  ", s.hint),
                Span::styled("Tab", s.key),
                Span::styled(" next field  ", s.hint),
                Span::styled("Esc", s.key),
                Span::styled(" cancel", s.hint),
            ])
        };
        let status_y = bottom.saturating_sub(1).max(y);
        if status_y < bottom {
            f.render_widget(
                Paragraph::new(status),
                Rect::new(inner.x, status_y, inner.width, 1),
            );
        }
    }
}

impl super::Form for SilenceForm {
    fn focus_next(&mut self) {
        self.focus = (self.focus + 1) % 3;
    }

    fn focus_prev(&mut self) {
        self.focus = (self.focus + 2) % 3;
    }

    fn input(&mut self, ev: KeyEvent) {
        // Ignored while the request is in flight.
        if self.pending.is_some() {
            return;
        }
        if self.fields[self.focus].edit(ev) == Edited::Changed {
            self.touched[self.focus] = true;
            self.submit_error = None;
        }
    }
}

/// A firing alert for tests of the silence form, here and in the state machine's.
#[cfg(test)]
pub fn test_alert() -> MergedAlert {
    tests::alert()
}

#[cfg(test)]
mod tests {
    use super::super::Form;
    use super::*;
    use ck8s_model::alert::{AlertState, AlertStatus};
    use crossterm::event::{KeyCode, KeyModifiers};

    pub fn alert() -> MergedAlert {
        let now = chrono::Utc::now();
        MergedAlert {
            alert: Alert {
                labels: [
                    ("alertname", "KubePodCrashLooping"),
                    ("cluster", "globex-wc"),
                    ("pod", "p"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
                annotations: Default::default(),
                starts_at: now,
                ends_at: now,
                updated_at: now,
                fingerprint: "abc".into(),
                receivers: vec![],
                generator_url: String::new(),
                status: AlertStatus {
                    state: AlertState::Active,
                    silenced_by: vec![],
                    inhibited_by: vec![],
                    muted_by: vec![],
                },
            },
            sources: vec![("globex".into(), ClusterRole::Wc)],
        }
    }

    fn type_text(form: &mut SilenceForm, text: &str) {
        for c in text.chars() {
            form.input(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
    }

    #[test]
    fn the_comment_is_required_and_focused_first() {
        let mut form = SilenceForm::new(&[&alert()], "op");
        assert_eq!(form.focus, COMMENT);
        assert!(matches!(form.submit(), Submit::Invalid));
        assert!(form.shown_error(COMMENT).unwrap().starts_with("required"));
        type_text(&mut form, "INC-42 fixing the worker");
        match form.submit() {
            Submit::Ready(silences) => {
                let [(targets, silence)] = silences.as_slice() else {
                    panic!("one silence")
                };
                assert_eq!(*targets, [("globex".to_string(), ClusterRole::Wc)]);
                assert_eq!(silence.comment, "INC-42 fixing the worker");
                assert_eq!(silence.created_by, "op");
                assert_eq!(silence.matchers[0].name, "alertname");
                let hours = (silence.ends_at - silence.starts_at).num_minutes();
                assert_eq!(hours, 120);
            }
            Submit::Invalid => panic!("valid form refused"),
        }
    }

    /// Marked alerts: one silence each, each with its own alert's labels, all with the
    /// duration, comment and author typed once.
    #[test]
    fn several_alerts_get_a_silence_each() {
        let one = alert();
        let mut other = alert();
        other.alert.labels.insert("pod".into(), "q".into());
        other.alert.fingerprint = "def".into();
        other.sources = vec![("acme".into(), ClusterRole::Sc)];
        let mut form = SilenceForm::new(&[&one, &other], "op");
        let lines = form.matcher_text(200);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].contains("pod=\"p\"") && lines[1].contains("pod=\"q\""),
            "{lines:?}"
        );
        type_text(&mut form, "INC-43");
        let Submit::Ready(silences) = form.submit() else {
            panic!("valid form refused")
        };
        assert_eq!(silences.len(), 2);
        assert_eq!(silences[1].0, [("acme".to_string(), ClusterRole::Sc)]);
        for (_, s) in &silences {
            assert_eq!(
                (s.comment.as_str(), s.created_by.as_str()),
                ("INC-43", "op")
            );
        }
        let pod = |s: &PostableSilence| {
            s.matchers
                .iter()
                .find(|m| m.name == "pod")
                .map(|m| m.value.clone())
        };
        assert_eq!(pod(&silences[0].1).as_deref(), Some("p"));
        assert_eq!(pod(&silences[1].1).as_deref(), Some("q"));

        // The first was made, the second failed: sent again, only the second is made.
        form.pending = None;
        form.drop_done(&[(0, "globex-wc".to_string())]);
        assert_eq!(form.fingerprints(), ["def"]);
        let Submit::Ready(again) = form.submit() else {
            panic!("the rest goes again")
        };
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].0, [("acme".to_string(), ClusterRole::Sc)]);
    }

    #[test]
    fn durations_are_validated_inline() {
        let mut form = SilenceForm::new(&[&alert()], "");
        form.focus = DURATION;
        for _ in 0..2 {
            form.input(KeyEvent::new(KeyCode::Backspace, KeyModifiers::NONE));
        }
        type_text(&mut form, "2x");
        assert!(form.shown_error(DURATION).unwrap().contains("unknown unit"));
        assert!(
            form.shown_error(AUTHOR).is_none(),
            "untouched fields stay quiet"
        );
        form.fields[DURATION] = line("1d");
        assert!(form.error(DURATION).is_none());
        form.fields[DURATION] = line("90d");
        assert!(form.error(DURATION).unwrap().contains("at most 31d"));
        assert!(matches!(form.submit(), Submit::Invalid));
        assert_eq!(form.focus, DURATION, "focus jumps to the first bad field");
        assert!(form.shown_error(AUTHOR).is_some());
    }
}
