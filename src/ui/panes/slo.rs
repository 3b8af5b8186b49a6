//! SLO: for each uptime target of sc and wc, availability against the objective, the
//! error budget left in minutes, burn rates with the page and ticket alert pairs, and
//! the selected target's last 30 days with excluded intervals.

use std::time::Instant;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::super::app::{App, Pane, Scope};
use super::super::ctx::Ctx;
use super::super::format;
use super::super::modals::details::Details;
use super::super::theme::Theme;
use super::super::widgets::chart::AvailabilityChart;
use super::super::widgets::table::{Align, Column, TableRow, TableView, cell, put_line, styled};
use super::fleet::budget_style;
use super::{EnvKey, Now, PaneView};
use crate::config::ClusterRole;
use crate::slo::{self, SloReport, SloStatus};
use crate::state::FleetState;
use crate::state::health::Source;

#[derive(Debug, Default)]
pub struct SloView {
    key: Option<EnvKey>,
    pub reports: Vec<(ClusterRole, SloReport)>,
}

impl SloView {
    fn update(&mut self, app: &App, state: &FleetState) {
        let Some((key, env, filter)) =
            EnvKey::changed(self.key.as_ref(), app, state, Pane::Slo, ())
        else {
            return;
        };
        self.reports.clear();
        for role in app.scope.roles() {
            let s = env.cluster(*role).read();
            self.reports.extend(
                s.slo
                    .iter()
                    .filter(|r| filter.matches_fields(&[&r.target, status_name(r.status)]))
                    .map(|r| (*role, r.clone())),
            );
        }
        self.key = Some(key);
    }
}

fn status_name(s: SloStatus) -> &'static str {
    match s {
        // Shouted on screen: it is why someone was woken.
        SloStatus::Page => "PAGE",
        other => other.word(),
    }
}

fn status_style(s: SloStatus, theme: &Theme) -> Style {
    match s {
        SloStatus::Page => theme.s.critical,
        SloStatus::Ticket | SloStatus::BudgetSpent => theme.s.warning,
        SloStatus::NoData => theme.s.stale,
        SloStatus::Ok => theme.s.ok,
    }
}

fn percent(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.3}%"))
}

/// A burn rate, marked `!` when its alert pair fires.
fn burn(r: &SloReport, window: slo::BurnWindow, theme: &Theme) -> Line<'static> {
    let Some(rate) = r.burn_rates.get(window) else {
        return styled("-", theme.s.muted);
    };
    let label = window.label();
    let firing = r
        .alerts
        .iter()
        .find(|a| a.firing && (a.long_window == label || a.short_window == label));
    let text = format!("{rate:.1}");
    match firing {
        Some(a) if a.severity == slo::Severity::Page => {
            styled(format!("{text}!"), theme.s.critical)
        }
        Some(_) => styled(format!("{text}!"), theme.s.warning),
        None if rate > 1.0 => styled(text, theme.s.warning),
        None => styled(text, theme.s.muted),
    }
}

const COLUMNS: [Column; 13] = [
    Column::new("CL", 2, 2),
    Column::new("TARGET", 8, 30).flex(),
    Column::new("KIND", 4, 8).priority(3),
    Column::new("SLO", 5, 6).right(),
    Column::new("30 DAYS", 8, 8).short("30D").right(),
    Column::new("BUDGET LEFT", 6, 12).short("LEFT").right(),
    Column::new("%", 4, 5).right(),
    Column::new("5M", 3, 6)
        .right()
        .priority(2)
        .group("burn rate"),
    Column::new("1H", 3, 6).right().group("burn rate"),
    Column::new("6H", 3, 6).right().group("burn rate"),
    Column::new("1D", 3, 6)
        .right()
        .priority(1)
        .group("burn rate"),
    Column::new("3D", 3, 6)
        .right()
        .priority(1)
        .group("burn rate"),
    Column::new("STATUS", 6, 8),
];

fn cells(role: ClusterRole, r: &SloReport, theme: &Theme) -> Vec<Line<'static>> {
    let s = &theme.s;
    let avail_style = match r.availability_30d {
        Some(a) if a < r.slo_percent => s.critical,
        Some(_) => s.text,
        None => s.muted,
    };
    let kind = match r.kind {
        crate::config::ProbeKind::Cluster => "cluster",
        crate::config::ProbeKind::External => "external",
    };
    let (left, pct) = match r.budget_left_fraction {
        Some(f) => (
            styled(
                format::minutes(r.budget_left_minutes),
                budget_style(f, theme),
            ),
            styled(format!("{:.0}%", f * 100.0), budget_style(f, theme)),
        ),
        None => (styled("-", s.muted), styled("-", s.muted)),
    };
    vec![
        styled(role.as_str(), s.muted),
        cell(r.target.clone()),
        styled(kind, s.muted),
        cell(format!("{}", r.slo_percent)),
        styled(percent(r.availability_30d), avail_style),
        left,
        pct,
        burn(r, slo::BurnWindow::M5, theme),
        burn(r, slo::BurnWindow::H1, theme),
        burn(r, slo::BurnWindow::H6, theme),
        burn(r, slo::BurnWindow::D1, theme),
        burn(r, slo::BurnWindow::D3, theme),
        styled(status_name(r.status), status_style(r.status, theme)),
    ]
}

impl PaneView for SloView {
    fn sources(&self, _: ClusterRole) -> &'static [Source] {
        &[Source::Slo]
    }

    fn refresh(&mut self, app: &mut App, state: &FleetState, _: Now) -> Option<Instant> {
        self.update(app, state);
        app.lists.slo.set_len(self.reports.len());
        None
    }

    fn has_data(&self) -> bool {
        !self.reports.is_empty()
    }

    fn summary(&self, _: &App, _: u16, ctx: &Ctx<'_>) -> Vec<Span<'static>> {
        let s = &ctx.theme.s;
        let pages = self
            .reports
            .iter()
            .filter(|(_, r)| r.status == SloStatus::Page)
            .count();
        let mut v = vec![Span::styled(
            format!(" {} targets ", self.reports.len()),
            s.muted,
        )];
        if pages > 0 {
            v.push(Span::styled(format!("· {pages} paging "), s.critical));
        }
        v
    }

    fn render(&self, f: &mut Frame, area: Rect, app: &App, ctx: &Ctx<'_>) {
        render(f, area, app, self, ctx);
    }

    fn detail_key(&self, app: &App) -> Option<String> {
        let (role, r) = self.reports.get(app.lists.slo.selected)?;
        Some(format!("{role}/{}", r.target))
    }

    fn details(&self, _: &App, key: &str, ctx: &Ctx<'_>) -> Option<Details> {
        let (role, target) = key.split_once('/')?;
        let (role, r) = self
            .reports
            .iter()
            .find(|(r, rep)| r.as_str() == role && rep.target == target)?;
        Some(report_details(*role, r, ctx))
    }
}

/// A target's report whole: every figure, every burn window and alert pair, and every
/// exclusion.
fn report_details(role: ClusterRole, r: &SloReport, ctx: &Ctx<'_>) -> Details {
    let s = &ctx.theme.s;
    let mut d = Details::new(format!("SLO {} ({})", r.target, r.cluster));
    d.field("Target", r.target.clone(), ctx);
    d.field("Cluster", role.long_name(), ctx);
    d.styled_field(
        "Status",
        status_name(r.status),
        status_style(r.status, ctx.theme),
        ctx,
    );
    d.field("Objective", format!("{}%", r.slo_percent), ctx);
    d.field("30 days", percent(r.availability_30d), ctx);
    d.field(
        "Lower bound",
        format!(
            "{} (as if every missing minute was down)",
            percent(r.availability_30d_lower_bound)
        ),
        ctx,
    );
    d.field("This year", percent(r.availability_year), ctx);
    let m = &r.minutes_30d;
    d.field(
        "Minutes",
        format!(
            "{} good, {} bad, {} missing, {} excluded",
            m.good, m.bad, m.missing, m.excluded
        ),
        ctx,
    );
    let left = match r.budget_left_fraction {
        Some(f) => format!(
            "{} of {} ({:.0}%)",
            format::minutes(r.budget_left_minutes),
            format::minutes(r.budget_total_minutes),
            f * 100.0
        ),
        None => "unknown (no samples)".into(),
    };
    d.field("Budget left", left, ctx);
    d.section("Burn rates", ctx);
    for w in slo::BurnWindow::ALL {
        let rate = r
            .burn_rates
            .get(w)
            .map_or("-".into(), |v| format!("{v:.2}"));
        d.field(w.label(), rate, ctx);
    }
    d.section("Alert pairs", ctx);
    for a in &r.alerts {
        let rate = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.2}"));
        let (word, style) = if a.firing {
            (
                "FIRING",
                if a.severity == slo::Severity::Page {
                    s.critical
                } else {
                    s.warning
                },
            )
        } else {
            ("quiet", s.muted)
        };
        d.line(Line::from(vec![
            Span::styled(format!("{word:<7}"), style),
            Span::raw(format!(
                "{} {}/{} above {}: {} and {}",
                match a.severity {
                    slo::Severity::Page => "page",
                    slo::Severity::Ticket => "ticket",
                },
                a.long_window,
                a.short_window,
                a.factor,
                rate(a.long_burn_rate),
                rate(a.short_burn_rate)
            )),
        ]));
    }
    let exclusions = exclusion_lines(r, ctx.now, ctx);
    if !exclusions.is_empty() {
        d.section("Excluded intervals", ctx);
        for line in exclusions {
            d.line(line);
        }
    }
    d
}

fn render(f: &mut Frame, area: Rect, app: &App, view: &SloView, ctx: &Ctx<'_>) {
    let theme = ctx.theme;
    if view.reports.is_empty() {
        f.render_widget(
            Line::styled(
                "No SLO reports yet: they come from each cluster's Prometheus (probe_success).",
                theme.s.muted,
            ),
            area,
        );
        return;
    }
    let skip = usize::from(app.scope != Scope::Both);
    let columns = &COLUMNS[skip..];
    let wanted = view.reports.len() as u16 + 2;
    let table_h = wanted.min(area.height.saturating_sub(9).max(area.height / 2));
    let table_area = Rect {
        height: table_h,
        ..area
    };
    let body = TableView::body_height(columns, table_h) as usize;
    let window = app.lists.slo.window(body);
    let selected = app.lists.slo.selected.checked_sub(window.start);
    let rows = view.reports[window]
        .iter()
        .map(|(role, r)| TableRow::Cells(cells(*role, r, theme).split_off(skip)))
        .collect();
    TableView::new(columns, rows, theme)
        .selected(selected)
        .render(table_area, f.buffer_mut());
    let Some((role, r)) = view.reports.get(app.lists.slo.selected) else {
        return;
    };
    let chart_area = Rect {
        y: area.y + table_h + 1,
        height: area.height.saturating_sub(table_h + 1),
        ..area
    };
    if chart_area.height < 3 {
        return;
    }
    render_chart(f, chart_area, *role, r, ctx);
}

fn render_chart(f: &mut Frame, area: Rect, role: ClusterRole, r: &SloReport, ctx: &Ctx<'_>) {
    let s = &ctx.theme.s;
    let m = &r.minutes_30d;
    let title = Line::from(vec![
        Span::styled(format!("{role} {} — last 30 days", r.target), s.title),
        Span::styled(
            format!(
                "  {} good, {} bad, {} missing, {} excluded minutes; budget {} of {}",
                m.good,
                m.bad,
                m.missing,
                m.excluded,
                format::minutes(r.budget_left_minutes),
                format::minutes(r.budget_total_minutes)
            ),
            s.muted,
        ),
    ]);
    put_line(
        f.buffer_mut(),
        area.x,
        area.y,
        area.width,
        &title,
        Align::Left,
    );
    let exclusions = exclusion_lines(r, ctx.now, ctx);
    let ex_h = (exclusions.len() as u16).min(area.height.saturating_sub(5) / 2);
    let chart_h = area.height.saturating_sub(2 + ex_h).min(14);
    let chart_area = Rect {
        y: area.y + 1,
        height: chart_h,
        ..area
    };
    AvailabilityChart {
        points: &r.chart,
        slo: r.slo_percent,
        theme: ctx.theme,
        tz: ctx.tz,
    }
    .render(chart_area, f.buffer_mut());
    let legend = Line::from(vec![
        Span::styled("█", s.chart_good),
        Span::styled(" met  ", s.muted),
        Span::styled("█", s.chart_bad),
        Span::styled(" below the objective  ", s.muted),
        Span::styled("·", s.chart_missing),
        Span::styled(" no samples  ", s.muted),
        Span::styled("x", s.chart_excluded),
        Span::styled(" excluded minutes  ", s.muted),
        Span::styled("┈", s.muted),
        Span::styled(format!(" {}%", r.slo_percent), s.muted),
    ]);
    let mut y = chart_area.y + chart_area.height;
    if y < area.y + area.height {
        put_line(f.buffer_mut(), area.x, y, area.width, &legend, Align::Left);
        y += 1;
    }
    for line in exclusions.iter().take(ex_h as usize) {
        if y >= area.y + area.height {
            break;
        }
        put_line(f.buffer_mut(), area.x, y, area.width, line, Align::Left);
        y += 1;
    }
}

fn exclusion_lines(r: &SloReport, _now: DateTime<Utc>, ctx: &Ctx<'_>) -> Vec<Line<'static>> {
    r.exclusions
        .iter()
        .filter(|e| e.end > r.window_start)
        .map(|e| {
            let kind = match e.kind {
                slo::ExclusionKind::PlannedMaintenance => "planned maintenance",
                slo::ExclusionKind::ForceMajeure => "force majeure",
            };
            Line::from(vec![
                Span::styled("x ", ctx.theme.s.chart_excluded),
                Span::raw(format!(
                    "{} – {} ",
                    e.start.with_timezone(&ctx.tz).format("%b %d %H:%M"),
                    e.end.with_timezone(&ctx.tz).format("%H:%M")
                )),
                Span::styled(format!("{kind}: {}", e.reason), ctx.theme.s.muted),
            ])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::slo_report;

    fn fleet() -> FleetState {
        let state = crate::state::test_fleet("globex");
        let env = state.env("globex").unwrap();
        env.cluster(ClusterRole::Sc)
            .update(|s| s.slo = vec![slo_report("globex-sc", "grafana", true)]);
        env.cluster(ClusterRole::Wc).update(|s| {
            s.slo = vec![
                slo_report("globex-wc", "ingress", false),
                slo_report("globex-wc", "harbor", true),
            ]
        });
        state
    }

    fn targets(app: &App, state: &FleetState) -> Vec<String> {
        let mut v = SloView::default();
        v.update(app, state);
        v.reports
            .iter()
            .map(|(role, r)| format!("{role} {}", r.target))
            .collect()
    }

    #[test]
    fn the_pane_lists_the_scoped_clusters_targets_narrowed_by_target_or_status() {
        let state = fleet();
        let mut app = App::new(vec!["globex".into()]);
        app.env = Some("globex".into());
        assert_eq!(
            targets(&app, &state),
            ["sc grafana", "wc ingress", "wc harbor"]
        );
        app.scope = crate::ui::app::Scope::Wc;
        assert_eq!(targets(&app, &state), ["wc ingress", "wc harbor"]);
        app.set_filter(Pane::Slo, "PAGE");
        assert_eq!(targets(&app, &state), ["wc ingress"], "the status as shown");
    }

    #[test]
    fn a_breached_target_shouts_and_marks_its_firing_burn_rates() {
        let theme = Theme::built_in("dark").unwrap();
        let bad = slo_report("globex-wc", "ingress", false);
        let text = |cells: &[Line<'static>]| -> Vec<String> {
            cells.iter().map(|l| l.to_string()).collect()
        };
        let row = cells(ClusterRole::Wc, &bad, &theme);
        let t = text(&row);
        assert_eq!(t[1], "ingress");
        assert_eq!(t[4], "0.000%");
        assert_eq!(t[12], "PAGE");
        assert!(t[7].ends_with('!') && t[8].ends_with('!'), "{t:?}");
        assert_eq!(row[4].style, theme.s.critical, "below the objective");

        let good = slo_report("globex-wc", "harbor", true);
        let t = text(&cells(ClusterRole::Wc, &good, &theme));
        assert_eq!(
            (t[4].as_str(), t[6].as_str(), t[7].as_str()),
            ("100.000%", "100%", "0.0")
        );
        assert_eq!(t[12], "ok");
    }
}
