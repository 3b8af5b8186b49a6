//! One environment's clusters: nodes (ready, roles, version, cordoned, CPU and memory
//! use), the control plane and Cluster API (KubeadmControlPlane and MachineDeployment
//! replicas and versions, machines by phase) and recent warning events.

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
use super::super::widgets::share;
use super::super::widgets::table::{
    Align, Column, TableRow, TableView, cell, measure, put_line, render_window, styled,
};
use super::{EnvKey, Now, PaneView};
use crate::config::ClusterRole;
use crate::state::FleetState;
use crate::state::health::Source;
use crate::state::rows::{EventRow, MachineRow, MachineSetRow, NodeRow, Usage};

#[derive(Debug, Clone)]
pub struct NodeLine {
    pub role: ClusterRole,
    pub node: NodeRow,
    pub usage: Option<Usage>,
}

#[derive(Debug, Clone)]
pub struct SetLine {
    pub role: ClusterRole,
    pub kind: &'static str,
    pub set: MachineSetRow,
}

#[derive(Debug, Clone)]
pub struct EventLine {
    pub role: ClusterRole,
    pub event: EventRow,
}

#[derive(Debug, Default)]
pub struct ClusterView {
    key: Option<EnvKey>,
    pub nodes: Vec<NodeLine>,
    pub sets: Vec<SetLine>,
    pub machines: Vec<(ClusterRole, MachineRow)>,
    pub events: Vec<EventLine>,
}

/// Warning events kept for the pane, newest first.
const EVENTS: usize = 50;

impl ClusterView {
    fn update(&mut self, app: &App, state: &FleetState) {
        let Some((key, env, filter)) =
            EnvKey::changed(self.key.as_ref(), app, state, Pane::Cluster, ())
        else {
            return;
        };
        self.nodes.clear();
        self.sets.clear();
        self.machines.clear();
        self.events.clear();
        // Cluster API objects of both clusters live in the service cluster.
        let capi = env.sc.read();
        for role in app.scope.roles() {
            let s = env.cluster(*role).read();
            for n in s.nodes.values() {
                let status = node_status(n);
                if filter.matches_fields(&[&n.name, &n.roles, &n.version, &status]) {
                    self.nodes.push(NodeLine {
                        role: *role,
                        node: n.clone(),
                        usage: s.node_usage.get(n.name.as_ref()).copied(),
                    });
                }
            }
            let cluster = format!("{}-{role}", key.env);
            for (kind, table) in [
                ("KubeadmControlPlane", &capi.capi.control_planes),
                ("MachineDeployment", &capi.capi.machine_deployments),
            ] {
                self.sets.extend(
                    table
                        .values()
                        .filter(|m| m.cluster.as_ref() == cluster)
                        .map(|m| SetLine {
                            role: *role,
                            kind,
                            set: m.clone(),
                        }),
                );
            }
            self.machines.extend(
                capi.capi
                    .machines
                    .values()
                    .filter(|m| m.cluster.as_ref() == cluster)
                    .map(|m| (*role, m.clone())),
            );
            self.events
                .extend(s.events.values().filter(|e| e.warning).map(|e| EventLine {
                    role: *role,
                    event: e.clone(),
                }));
        }
        // Control-plane nodes first, then workers, each by name.
        self.nodes.sort_by(|a, b| {
            (a.role, !a.node.is_control_plane(), &a.node.name).cmp(&(
                b.role,
                !b.node.is_control_plane(),
                &b.node.name,
            ))
        });
        self.events
            .sort_by_key(|e| std::cmp::Reverse(e.event.last_seen));
        self.events.truncate(EVENTS);
        self.key = Some(key);
    }

    pub fn node(&self, i: usize) -> Option<(ClusterRole, &str)> {
        self.nodes.get(i).map(|n| (n.role, n.node.name.as_ref()))
    }
}

/// kubectl's words: a node whose Ready condition is False, or Unknown because its kubelet
/// stopped reporting, is `NotReady`.
fn node_status(n: &NodeRow) -> String {
    let ready = match n.ready {
        Some(true) => "Ready",
        Some(false) | None => "NotReady",
    };
    if n.unschedulable {
        format!("{ready},Cordoned")
    } else {
        ready.to_string()
    }
}

fn usage_style(fraction: f64, theme: &Theme) -> Style {
    if fraction >= 0.9 {
        theme.s.high
    } else if fraction >= 0.75 {
        theme.s.warning
    } else {
        theme.s.text
    }
}

fn usage_cell(used: Option<f64>, capacity: f64, theme: &Theme) -> Line<'static> {
    match used {
        Some(u) if capacity > 0.0 => {
            let f = u / capacity;
            styled(format!("{:.0}%", f * 100.0), usage_style(f, theme))
        }
        _ => styled("-", theme.s.muted),
    }
}

const NODE_COLUMNS: [Column; 9] = [
    Column::new("CL", 2, 2),
    Column::new("NODE", 24, 40).flex().middle(),
    Column::new("STATUS", 6, 20),
    Column::new("ROLES", 6, 16).priority(2),
    Column::new("VERSION", 7, 10).priority(1),
    Column::new("CPU", 4, 5).right(),
    Column::new("MEMORY", 4, 6).short("MEM").right(),
    Column::new("AGE", 3, 5).right().priority(3),
    Column::new("PRESSURE", 8, 30).priority(4),
];

fn node_cells(n: &NodeLine, now: DateTime<Utc>, theme: &Theme) -> Vec<Line<'static>> {
    let s = &theme.s;
    let status = node_status(&n.node);
    let status_style = match n.node.ready {
        Some(true) if n.node.unschedulable => s.warning,
        Some(true) => s.ok,
        _ => s.critical,
    };
    // `None`: the Ready condition is Unknown, the kubelet stopped reporting.
    let reporting = n.node.ready.is_some().then_some(());
    vec![
        styled(n.role.as_str(), s.muted),
        cell(n.node.name.to_string()),
        styled(status, status_style),
        if n.node.roles.is_empty() {
            styled("-", s.muted)
        } else {
            cell(n.node.roles.to_string())
        },
        cell(n.node.version.to_string()),
        // A node that stopped reporting has no live figures, whatever the last sample.
        usage_cell(
            reporting.and(n.usage).map(|u| u.cpu),
            n.node.cpu_millis as f64 / 1000.0,
            theme,
        ),
        usage_cell(
            reporting.and(n.usage).map(|u| u.memory_bytes),
            n.node.memory_bytes as f64,
            theme,
        ),
        styled(format::age(now.timestamp() - n.node.created), s.muted),
        styled(
            n.node
                .pressure
                .iter()
                .map(|p| p.as_ref())
                .collect::<Vec<_>>()
                .join(","),
            s.warning,
        ),
    ]
}

const SET_COLUMNS: [Column; 8] = [
    Column::new("CL", 2, 2),
    Column::new("KIND", 3, 19).short("KIND"),
    Column::new("NAME", 10, 40).flex().priority(2).middle(),
    Column::new("READY", 5, 7).right(),
    Column::new("UPDATED", 3, 7).short("UPD").right(),
    Column::new("VERSION", 7, 10),
    Column::new("PHASE", 5, 14).priority(1),
    Column::new("ROLLOUT", 4, 12),
];

fn set_cells(l: &SetLine, narrow: bool, theme: &Theme) -> Vec<Line<'static>> {
    let s = &theme.s;
    let m = &l.set;
    let kind = match (l.kind, narrow) {
        ("KubeadmControlPlane", true) => "KCP",
        ("MachineDeployment", true) => "MD",
        (k, _) => k,
    };
    let ready_style = if m.ready < m.desired {
        s.warning
    } else {
        s.text
    };
    let version = match (&m.version, &m.status_version) {
        (Some(want), Some(have)) if want != have => format!("{have}→{want}"),
        (Some(want), _) => want.to_string(),
        (None, _) => "-".into(),
    };
    vec![
        styled(l.role.as_str(), s.muted),
        cell(kind),
        cell(m.name.to_string()),
        styled(format!("{}/{}", m.ready, m.desired), ready_style),
        cell(m.updated.to_string()),
        cell(version),
        cell(m.phase.as_deref().unwrap_or("-").to_string()),
        match rollout(m) {
            "done" => styled("done", s.muted),
            word => styled(word, s.warning),
        },
    ]
}

/// `rolling` while machines are replaced, `scaling` while fewer are ready than wanted
/// (a MachineDeployment `2/3 ScalingUp` is not done), else `done`.
fn rollout(m: &crate::state::rows::MachineSetRow) -> &'static str {
    if m.rolling {
        "rolling"
    } else if m.ready < m.desired || m.updated < m.desired {
        "scaling"
    } else {
        "done"
    }
}

const EVENT_COLUMNS: [Column; 6] = [
    Column::new("CL", 2, 2),
    Column::new("AGE", 3, 5).right(),
    Column::new("OBJECT", 16, 50).flex().middle(),
    Column::new("REASON", 6, 24),
    Column::new("COUNT", 1, 5).short("#").right().priority(2),
    Column::new("MESSAGE", 20, 200).flex(),
];

fn event_cells(e: &EventLine, now: DateTime<Utc>, theme: &Theme) -> Vec<Line<'static>> {
    let s = &theme.s;
    let ev = &e.event;
    let object = if ev.namespace.is_empty() {
        format!("{}/{}", ev.object_kind.to_lowercase(), ev.object_name)
    } else {
        format!(
            "{}/{}/{}",
            ev.namespace,
            ev.object_kind.to_lowercase(),
            ev.object_name
        )
    };
    vec![
        styled(e.role.as_str(), s.muted),
        styled(format::age(now.timestamp() - ev.last_seen), s.muted),
        cell(object),
        styled(ev.reason.to_string(), s.warning),
        cell(ev.count.to_string()),
        styled(ev.message.to_string(), s.muted),
    ]
}

fn heading(f: &mut Frame, area: Rect, title: &str, note: String, theme: &Theme) {
    if area.height == 0 {
        return;
    }
    let line = Line::from(vec![
        Span::styled(title.to_string(), theme.s.title),
        Span::styled(format!("  {note}"), theme.s.muted),
    ]);
    put_line(
        f.buffer_mut(),
        area.x,
        area.y,
        area.width,
        &line,
        Align::Left,
    );
}

impl PaneView for ClusterView {
    fn sources(&self, role: ClusterRole) -> &'static [Source] {
        match role {
            // Cluster API objects of both clusters live in the service cluster.
            ClusterRole::Sc => &[
                Source::Kubernetes,
                Source::Nodes,
                Source::CapiClusters,
                Source::ControlPlanes,
                Source::MachineDeployments,
                Source::Machines,
                Source::Events,
                Source::Metrics,
            ],
            ClusterRole::Wc => &[
                Source::Kubernetes,
                Source::Nodes,
                Source::Events,
                Source::Metrics,
            ],
        }
    }

    fn refresh(&mut self, app: &mut App, state: &FleetState, _: Now) -> Option<Instant> {
        self.update(app, state);
        app.lists.cluster.set_len(self.nodes.len());
        None
    }

    fn has_data(&self) -> bool {
        !self.nodes.is_empty()
    }

    fn render(&self, f: &mut Frame, area: Rect, app: &App, ctx: &Ctx<'_>) {
        render(f, area, app, self, ctx);
    }

    fn detail_key(&self, app: &App) -> Option<String> {
        let n = self.nodes.get(app.lists.cluster.selected)?;
        Some(format!("{NODE_PREFIX}{}/{}", n.role, n.node.name))
    }

    fn details(&self, _: &App, key: &str, ctx: &Ctx<'_>) -> Option<Details> {
        if key == EVENTS_KEY {
            return Some(self.events_details(ctx));
        }
        let (role, name) = node_of_key(key)?;
        let n = self
            .nodes
            .iter()
            .find(|n| n.role == role && n.node.name.as_ref() == name)?;
        Some(self.node_details(n, ctx))
    }
}

/// The details key of every warning event.
pub const EVENTS_KEY: &str = "events";
const NODE_PREFIX: &str = "node:";

/// The cluster and name of a node's details key (`node:wc/acme-wc-md-0-x7k2p`).
pub fn node_of_key(key: &str) -> Option<(ClusterRole, &str)> {
    let (role, name) = key.strip_prefix(NODE_PREFIX)?.split_once('/')?;
    Some((role.parse().ok()?, name))
}

impl ClusterView {
    fn node_details(&self, n: &NodeLine, ctx: &Ctx<'_>) -> Details {
        let s = &ctx.theme.s;
        let node = &n.node;
        let mut d = Details::new(format!("node {}", node.name));
        d.enter = Some("shows its pods");
        let (status, style) = match node.ready {
            Some(true) if node.unschedulable => (node_status(node), s.warning),
            Some(true) => (node_status(node), s.ok),
            Some(false) => (node_status(node), s.critical),
            None => (
                format!("{} (its kubelet stopped reporting)", node_status(node)),
                s.critical,
            ),
        };
        d.field("Name", node.name.to_string(), ctx);
        d.field("Cluster", n.role.long_name(), ctx);
        d.styled_field("Status", status, style, ctx);
        d.field("Roles", or_dash(&node.roles), ctx);
        d.field("Version", node.version.to_string(), ctx);
        d.field(
            "Internal IP",
            node.internal_ip.as_deref().unwrap_or("-").to_string(),
            ctx,
        );
        let created = DateTime::from_timestamp(node.created, 0).unwrap_or(ctx.now);
        d.field("Created", format::moment(created, ctx.now, ctx.tz), ctx);
        let cores = node.cpu_millis as f64 / 1000.0;
        let live = node.ready.is_some().then_some(n.usage).flatten();
        match live {
            Some(u) => {
                d.field(
                    "CPU",
                    format!("{} of {} cores", format::cpu(u.cpu), format::cpu(cores)),
                    ctx,
                );
                d.field(
                    "Memory",
                    format!(
                        "{} of {}",
                        format::bytes(u.memory_bytes),
                        format::bytes(node.memory_bytes as f64)
                    ),
                    ctx,
                );
            }
            None => d.styled_field(
                "Usage",
                format!(
                    "no live figures ({} cores, {} allocatable)",
                    format::cpu(cores),
                    format::bytes(node.memory_bytes as f64)
                ),
                s.muted,
                ctx,
            ),
        }
        if !node.pressure.is_empty() {
            let pressure: Vec<&str> = node.pressure.iter().map(|p| p.as_ref()).collect();
            d.styled_field("Pressure", pressure.join(", "), s.warning, ctx);
        }
        if let Some((_, m)) = self
            .machines
            .iter()
            .find(|(role, m)| *role == n.role && m.node.as_deref() == Some(&*node.name))
        {
            d.section("Cluster API machine", ctx);
            d.field("Machine", format!("{}/{}", m.namespace, m.name), ctx);
            d.field("Phase", m.phase.to_string(), ctx);
            if let Some(v) = &m.version {
                d.field("Version", v.to_string(), ctx);
            }
            if let Some(draining) = &m.draining {
                d.styled_field("Draining", draining.to_string(), s.warning, ctx);
            }
        }
        let events: Vec<&EventLine> = self
            .events
            .iter()
            .filter(|e| {
                e.role == n.role
                    && e.event.object_kind.as_ref() == "Node"
                    && e.event.object_name.as_ref() == node.name.as_ref()
            })
            .collect();
        d.section(&format!("Warning events ({})", events.len()), ctx);
        if events.is_empty() {
            d.line(Line::styled("none recently", s.muted));
        }
        for e in events {
            event_lines(&mut d, e, ctx);
        }
        d
    }

    fn events_details(&self, ctx: &Ctx<'_>) -> Details {
        let mut d = Details::new(format!(
            "Warning events ({}, newest first)",
            self.events.len()
        ));
        if self.events.is_empty() {
            d.line(Line::styled(
                "No warning events recently.",
                ctx.theme.s.muted,
            ));
        }
        for e in &self.events {
            event_lines(&mut d, e, ctx);
        }
        d
    }
}

/// An event whole: when, why, how often and about what, then its message.
fn event_lines(d: &mut Details, e: &EventLine, ctx: &Ctx<'_>) {
    let s = &ctx.theme.s;
    let ev = &e.event;
    let object = match ev.namespace.as_ref() {
        "" => format!("{}/{}", ev.object_kind, ev.object_name),
        ns => format!("{ns}/{}/{}", ev.object_kind, ev.object_name),
    };
    d.line(Line::from(vec![
        Span::styled(format!("{} ", e.role), s.muted),
        Span::styled(
            format!(
                "{:>5} ago ",
                format::age(ctx.now.timestamp() - ev.last_seen)
            ),
            s.muted,
        ),
        Span::styled(format!("{} ", ev.reason), s.warning),
        Span::styled(format!("×{} ", ev.count), s.muted),
        Span::raw(object),
    ]));
    d.line(Line::from(vec![
        Span::raw("    "),
        Span::raw(ev.message.to_string()),
    ]));
}

fn or_dash(s: &str) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s.to_owned()
    }
}

fn render(f: &mut Frame, area: Rect, app: &App, view: &ClusterView, ctx: &Ctx<'_>) {
    let theme = ctx.theme;
    let skip = usize::from(app.scope != Scope::Both);
    // Nodes get what they need up to half the pane, the Cluster API its rows, and the
    // warning events everything left: on a tall terminal, more events.
    let nodes_need = view.nodes.len() as u16 + 2;
    let capi_need = if view.sets.is_empty() {
        1
    } else {
        view.sets.len() as u16 + 3
    };
    let events_need = if view.events.is_empty() {
        1
    } else {
        view.events.len() as u16 + 2
    };
    // A blank line between sections only when there is room for it.
    let gap = u16::from(area.height >= 30);
    let [nodes_h, capi_h, events_h] = share(
        area.height.saturating_sub(2 * gap),
        &[
            (nodes_need.min(5), nodes_need.min(area.height / 2).max(6)),
            (capi_need.min(3), capi_need),
            (events_need.min(3), events_need),
        ],
        2,
    )[..] else {
        return;
    };
    let (gap1, gap2) = (gap, gap);
    let mut y = area.y;

    let ready = view
        .nodes
        .iter()
        .filter(|n| n.node.ready == Some(true))
        .count();
    let cordoned = view.nodes.iter().filter(|n| n.node.unschedulable).count();
    let mut note = format!("{ready}/{} ready", view.nodes.len());
    if cordoned > 0 {
        note.push_str(&format!(", {cordoned} cordoned"));
    }
    let nodes_area = Rect::new(area.x, y, area.width, nodes_h);
    heading(
        f,
        Rect {
            height: 1,
            ..nodes_area
        },
        "Nodes",
        note,
        theme,
    );
    let table_area = Rect {
        y: y + 1,
        height: nodes_h.saturating_sub(1),
        ..nodes_area
    };
    if view.nodes.is_empty() {
        f.render_widget(
            Line::styled("  no nodes listed yet", theme.s.muted),
            table_area,
        );
    } else {
        let columns = &NODE_COLUMNS[skip..];
        let all: Vec<TableRow> = view
            .nodes
            .iter()
            .map(|n| TableRow::Cells(node_cells(n, ctx.now, theme).split_off(skip)))
            .collect();
        render_window(
            table_area,
            f.buffer_mut(),
            columns,
            all,
            &app.lists.cluster,
            theme,
        );
    }
    y += nodes_h + gap1;
    render_capi(f, Rect::new(area.x, y, area.width, capi_h), view, skip, ctx);
    y += capi_h + gap2;

    let events_area = Rect::new(area.x, y, area.width, events_h);
    if events_h == 0 {
        return;
    }
    let shown = view.events.len().min(events_h.saturating_sub(2) as usize);
    let note = if view.events.is_empty() {
        "none recently".to_string()
    } else if shown < view.events.len() {
        format!("newest {shown} of {} · e shows all", view.events.len())
    } else {
        "newest first · e shows them whole".to_string()
    };
    heading(
        f,
        Rect {
            height: 1,
            ..events_area
        },
        "Warning events",
        note,
        theme,
    );
    if !view.events.is_empty() && events_h > 1 {
        let columns = &EVENT_COLUMNS[skip..];
        let table_area = Rect {
            y: events_area.y + 1,
            height: events_h - 1,
            ..events_area
        };
        let all: Vec<TableRow> = view
            .events
            .iter()
            .map(|e| TableRow::Cells(event_cells(e, ctx.now, theme).split_off(skip)))
            .collect();
        let widths = measure(&all, columns.len());
        let rows = all.into_iter().take(shown).collect();
        TableView::new(columns, rows, theme)
            .content_widths(&widths)
            .render(table_area, f.buffer_mut());
    }
}

fn render_capi(f: &mut Frame, area: Rect, view: &ClusterView, skip: usize, ctx: &Ctx<'_>) {
    if area.height == 0 {
        return;
    }
    let theme = ctx.theme;
    let rolling = view
        .sets
        .iter()
        .filter(|s| rollout(&s.set) != "done")
        .count();
    let note = if view.sets.is_empty() {
        "no Cluster API objects for these clusters".to_string()
    } else if rolling > 0 {
        format!("{rolling} rolling out or scaling")
    } else {
        "all rolled out".to_string()
    };
    heading(
        f,
        Rect { height: 1, ..area },
        "Control plane and Cluster API",
        note,
        theme,
    );
    if view.sets.is_empty() || area.height < 3 {
        return;
    }
    let columns = &SET_COLUMNS[skip..];
    let narrow = area.width < 120;
    let table_area = Rect {
        y: area.y + 1,
        height: area.height - 2,
        ..area
    };
    let rows = view
        .sets
        .iter()
        .map(|l| TableRow::Cells(set_cells(l, narrow, theme).split_off(skip)))
        .collect();
    TableView::new(columns, rows, theme).render(table_area, f.buffer_mut());
    if area.height >= 5 && area.height < view.sets.len() as u16 + 3 {
        // Say what did not fit rather than cut it silently; the notice takes a row too.
        let hidden = view.sets.len() + 4 - area.height as usize;
        let text = format!("… {hidden} more; c shows one cluster");
        let more = Line::styled(
            format!("{text:<width$}", width = area.width as usize),
            theme.s.muted,
        );
        put_line(
            f.buffer_mut(),
            area.x,
            area.y + area.height - 2,
            area.width,
            &more,
            Align::Left,
        );
    }
    // Machines by phase, and any blocked drain, on the last line.
    let mut phases: Vec<(String, usize)> = Vec::new();
    for (_, m) in &view.machines {
        match phases.iter_mut().find(|(p, _)| p == m.phase.as_ref()) {
            Some(p) => p.1 += 1,
            None => phases.push((m.phase.to_string(), 1)),
        }
    }
    phases.sort();
    let mut spans = vec![Span::styled("machines ", theme.s.muted)];
    for (i, (phase, n)) in phases.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(", ", theme.s.muted));
        }
        let style = if phase == "Running" {
            theme.s.text
        } else {
            theme.s.warning
        };
        spans.push(Span::styled(format!("{n} {phase}"), style));
    }
    for (role, m) in &view.machines {
        if let Some(d) = &m.draining {
            spans.push(Span::styled(
                format!("  {role} {} draining: {d}", m.name),
                theme.s.warning,
            ));
        }
    }
    let y = area.y + area.height - 1;
    put_line(
        f.buffer_mut(),
        area.x,
        y,
        area.width,
        &Line::from(spans),
        Align::Left,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(ready: Option<bool>, unschedulable: bool) -> NodeRow {
        NodeRow {
            name: "w-1".into(),
            ready,
            roles: "worker".into(),
            version: "v1.33.4".into(),
            unschedulable,
            created: 0,
            internal_ip: None,
            cpu_millis: 4000,
            memory_bytes: 8 << 30,
            pressure: Vec::new(),
        }
    }

    /// kubectl's words, and no live figures for a node that stopped reporting.
    #[test]
    fn nodes_read_as_kubectl_says_and_silent_ones_show_no_usage() {
        assert_eq!(node_status(&node(Some(true), false)), "Ready");
        assert_eq!(node_status(&node(Some(true), true)), "Ready,Cordoned");
        assert_eq!(node_status(&node(Some(false), false)), "NotReady");
        assert_eq!(node_status(&node(None, false)), "NotReady");
        let theme = Theme::built_in("dark").expect("a built-in theme");
        let usage = Some(Usage {
            cpu: 2.0,
            memory_bytes: (4u64 << 30) as f64,
        });
        let line = |ready| NodeLine {
            role: ClusterRole::Wc,
            node: node(ready, false),
            usage,
        };
        let cells = |ready| {
            node_cells(&line(ready), Utc::now(), &theme)
                .iter()
                .map(|l| l.to_string())
                .collect::<Vec<_>>()
        };
        assert!(cells(Some(true)).iter().any(|c| c.contains('%')));
        assert!(
            !cells(None).iter().any(|c| c.contains('%')),
            "{:?}",
            cells(None)
        );
    }
}
