//! Alert details: labels, annotations, runbook link, where it fires and what mutes it.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::alert_text as alerts;
use super::super::ctx::Ctx;
use super::super::format;
use super::Scroll;
use ck8s_model::alert::MergedAlert;

#[derive(Debug)]
pub struct AlertModal {
    pub fingerprint: String,
    pub scroll: Scroll,
    /// The alert as last seen, shown (marked resolved) once it stops firing.
    last: Option<MergedAlert>,
}

impl AlertModal {
    pub fn new(fingerprint: String) -> AlertModal {
        AlertModal {
            fingerprint,
            scroll: Scroll::default(),
            last: None,
        }
    }

    /// Keeps the alert as last seen firing, to show it (marked resolved) once it stops.
    pub fn remember(&mut self, live: Option<&MergedAlert>) {
        if let Some(a) = live {
            self.last = Some(a.clone());
        }
    }

    /// Draws the alert; `live` is the alert as firing now, `None` once it stopped.
    pub fn render(&self, f: &mut Frame, area: Rect, live: Option<&MergedAlert>, ctx: &Ctx<'_>) {
        let s = &ctx.theme.s;
        let resolved = live.is_none();
        let area = super::large(area, 90, 90);
        let Some(a) = live.or(self.last.as_ref()) else {
            let inner = super::frame(f, area, Line::styled(" Alert ", s.title), ctx.theme);
            f.render_widget(
                Line::styled("The alert is no longer firing.", s.muted),
                inner,
            );
            return;
        };
        let sev = a.alert.severity();
        let title = Line::from(vec![
            Span::styled(format!(" {} ", a.alert.alertname()), s.title),
            Span::styled(
                format!(" {} ", alerts::severity_name(sev)),
                ctx.theme.severity(sev),
            ),
        ]);
        let inner = super::frame(f, area, title, ctx.theme);
        let width = inner.width.saturating_sub(16) as usize;
        let mut lines: Vec<Line> = Vec::new();
        // Long values (URLs above all) wrap under their value column instead of being cut.
        let field = |lines: &mut Vec<Line>, label: &str, value: String, style| {
            for (i, part) in format::wrap(&value, width.max(20)).into_iter().enumerate() {
                let label = if i == 0 { label } else { "" };
                lines.push(Line::from(vec![
                    Span::styled(format!("{label:<15} "), s.muted),
                    Span::styled(part, style),
                ]));
            }
        };
        let state = if resolved {
            "resolved (no longer reported)".to_string()
        } else {
            alerts::state_name(a).to_string()
        };
        let started = a.alert.starts_at;
        field(
            &mut lines,
            "State",
            format!(
                "{state}, since {}",
                format::moment(started, ctx.now, ctx.tz)
            ),
            s.text,
        );
        field(&mut lines, "Fired in", alerts::sources(a, false), s.text);
        field(&mut lines, "About", alerts::subject(a), s.text);
        if let Some(url) = a.alert.runbook_url() {
            field(&mut lines, "Runbook", url.to_string(), s.key);
        }
        for (label, ids) in [
            ("Silenced by", &a.alert.status.silenced_by),
            ("Inhibited by", &a.alert.status.inhibited_by),
        ] {
            if !ids.is_empty() {
                let short: Vec<&str> = ids
                    .iter()
                    .map(|i| super::super::format::short_id(i))
                    .collect();
                field(&mut lines, label, short.join(", "), s.muted);
            }
        }
        lines.push(Line::raw(""));
        lines.push(Line::styled("Annotations", s.title));
        for (k, v) in &a.alert.annotations {
            let wrapped = format::wrap(v, width.max(20));
            for (i, part) in wrapped.into_iter().enumerate() {
                let label = if i == 0 { k.as_str() } else { "" };
                let style = if k == "runbook_url" { s.key } else { s.text };
                lines.push(Line::from(vec![
                    Span::styled(format!("  {:<13} ", format::truncate(label, 13)), s.muted),
                    Span::styled(part, style),
                ]));
            }
        }
        lines.push(Line::raw(""));
        lines.push(Line::styled("Labels", s.title));
        for (k, v) in &a.alert.labels {
            lines.push(Line::from(vec![
                Span::styled(format!("  {k}"), s.muted),
                Span::styled("=", s.muted),
                Span::raw(v.clone()),
            ]));
        }
        if !a.alert.generator_url.is_empty() {
            lines.push(Line::raw(""));
            field(&mut lines, "Source", a.alert.generator_url.clone(), s.muted);
        }
        let skip = self.scroll.fit(lines.len(), inner.height as usize);
        let shown: Vec<Line> = lines.into_iter().skip(skip).collect();
        f.render_widget(Paragraph::new(shown), inner);
    }
}
