//! Objects of any kind the clusters serve (`:deploy`, `:svc payments`, `:backups.velero.io`):
//! the server's own Table columns, for the sc, the wc or both, filtered with `/`. Rows
//! come from a background poll of the open environment (every [`POLL`]); a frame draws
//! only the visible window.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table};

use super::super::app::{App, Pane, Scope};
use super::super::command::ObjectsQuery;
use super::super::ctx::Ctx;
use super::super::format;
use super::super::modals::details::Details;
use super::{Now, PaneView};
use crate::config::ClusterRole;
use crate::filter::Filter;
use crate::kinds::ServedKind;
use crate::objects::{ObjectRow, ObjectTable};
use crate::state::FleetState;

/// How often the open kind is listed again.
pub const POLL: Duration = Duration::from_secs(5);

/// What one cluster answered for the kind asked about.
pub type Answer = Result<(ServedKind, ObjectTable), String>;

/// The kind asked about and what each cluster answered: App keeps it, the poll fills it.
#[derive(Debug, Default)]
pub struct ObjectsData {
    /// The environment and query of the poll; answers of an older poll are dropped.
    pub env: Option<String>,
    pub query: Option<ObjectsQuery>,
    /// The id of the poll the answers belong to.
    pub poll: u64,
    pub answers: BTreeMap<ClusterRole, Answer>,
    /// Bumped on every answer, so the pane refilters only then.
    pub generation: u64,
    /// The YAML shown in details, by row key.
    pub yaml: Option<(String, Result<Vec<String>, String>)>,
}

impl ObjectsData {
    /// The kind as one of the clusters named it (`deployments.apps`).
    pub fn kind(&self) -> Option<&ServedKind> {
        self.answers
            .values()
            .find_map(|a| a.as_ref().ok().map(|(k, _)| k))
    }
}

/// The selected row, as actions need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    pub role: ClusterRole,
    pub kind: ServedKind,
    pub namespace: Option<String>,
    pub name: String,
}

impl Selected {
    /// The key of its details: `role/kind/namespace/name`, so that an answer that comes
    /// late for another kind's object of the same name is not shown for this one.
    pub fn key(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.role,
            self.kind.qualified(),
            self.namespace.as_deref().unwrap_or(""),
            self.name
        )
    }
}

/// The filtered rows: (cluster, index into its table's rows).
#[derive(Debug, Default)]
pub struct ObjectsView {
    last: Option<(u64, String, Scope)>,
    visible: Vec<(ClusterRole, u32)>,
    filter_error: Option<String>,
}

impl ObjectsView {
    fn row<'a>(
        &self,
        app: &'a App,
        i: usize,
    ) -> Option<(ClusterRole, &'a ServedKind, &'a ObjectRow)> {
        let (role, j) = *self.visible.get(i)?;
        let (kind, table) = app.objects.answers.get(&role)?.as_ref().ok()?;
        Some((role, kind, table.rows.get(j as usize)?))
    }

    /// The selected row, of the open environment's objects only.
    pub fn selected(&self, app: &App) -> Option<Selected> {
        if app.objects.env.is_none() || app.objects.env != app.env {
            return None;
        }
        let (role, kind, row) = self.row(app, app.lists.objects.selected)?;
        Some(Selected {
            role,
            kind: kind.clone(),
            namespace: row.namespace.clone(),
            name: row.name.clone(),
        })
    }
}

fn matches(filter: &Filter, row: &ObjectRow) -> bool {
    let mut fields: Vec<&str> = vec![&row.name];
    fields.extend(row.namespace.as_deref());
    fields.extend(row.cells.iter().map(String::as_str));
    filter.matches(&fields, |key| {
        row.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    })
}

impl PaneView for ObjectsView {
    fn refresh(&mut self, app: &mut App, _: &FleetState, _: Now) -> Option<Instant> {
        let key = (
            app.objects.generation,
            app.filter_of(Pane::Objects).to_string(),
            app.scope,
        );
        if self.last.as_ref() == Some(&key) {
            return None;
        }
        let filter = match Filter::parse(&key.1) {
            Ok(f) => {
                self.filter_error = None;
                f
            }
            Err(e) => {
                self.filter_error = Some(e);
                Filter::default()
            }
        };
        self.visible.clear();
        for role in key.2.roles() {
            if let Some(Ok((_, table))) = app.objects.answers.get(role) {
                self.visible.extend(
                    table
                        .rows
                        .iter()
                        .enumerate()
                        .filter(|(_, r)| matches(&filter, r))
                        .map(|(j, _)| (*role, j as u32)),
                );
            }
        }
        app.lists.objects.set_len(self.visible.len());
        self.last = Some(key);
        None
    }

    fn has_data(&self) -> bool {
        !self.visible.is_empty()
    }

    fn filter_error(&self) -> Option<&str> {
        self.filter_error.as_deref()
    }

    fn summary(&self, app: &App, _: u16, ctx: &Ctx<'_>) -> Vec<Span<'static>> {
        let s = &ctx.theme.s;
        let Some(kind) = app.objects.kind() else {
            return Vec::new();
        };
        let n = self.visible.len();
        let name = if n == 1 {
            kind.singular.clone()
        } else {
            kind.qualified()
        };
        let mut text = format!(" {} {name}", format::count(n));
        let namespace = app
            .objects
            .query
            .as_ref()
            .and_then(|q| q.namespace.as_deref());
        if let Some(ns) = namespace.filter(|_| kind.namespaced) {
            text.push_str(&format!(" in {ns}"));
        }
        vec![Span::styled(text + " ", s.text)]
    }

    fn render(&self, f: &mut Frame, area: Rect, app: &App, ctx: &Ctx<'_>) {
        render(self, f, area, app, ctx);
    }

    fn detail_key(&self, app: &App) -> Option<String> {
        self.selected(app).map(|s| s.key())
    }

    fn details(&self, app: &App, key: &str, ctx: &Ctx<'_>) -> Option<Details> {
        let (shown, result) = app.objects.yaml.as_ref()?;
        if shown != key {
            return None;
        }
        let mut d = Details::new(format!("YAML {key}"));
        match result {
            Ok(lines) => {
                for l in lines {
                    d.line(Line::raw(l.clone()));
                }
            }
            Err(e) => d.line(Line::styled(
                format!("Could not read it: {e}"),
                ctx.theme.s.error,
            )),
        }
        Some(d)
    }
}

fn render(view: &ObjectsView, f: &mut Frame, area: Rect, app: &App, ctx: &Ctx<'_>) {
    let s = &ctx.theme.s;
    let env_matches = app.objects.env.is_some() && app.objects.env == app.env;
    let Some(query) = app.objects.query.as_ref().filter(|_| env_matches) else {
        let lines = vec![
            Line::styled(
                "Any kind the clusters serve, by any name kubectl takes:",
                s.text,
            ),
            Line::styled(
                "  :deploy   :sts payments   :svc /api   :cm app=web   :backups.velero.io",
                s.key,
            ),
            Line::styled("Tab completes the kinds the clusters serve.", s.muted),
        ];
        f.render_widget(ratatui::widgets::Paragraph::new(lines), area);
        return;
    };
    // What each cluster of the scope said, when it is not rows.
    let mut notes: Vec<Line> = Vec::new();
    for role in app.scope.roles() {
        match app.objects.answers.get(role) {
            None => notes.push(Line::styled(
                format!("{}-{role}: listing {}…", query.env_or(app), query.kind),
                s.muted,
            )),
            Some(Err(e)) => notes.push(Line::styled(
                format!("! {}-{role}: {e}", query.env_or(app)),
                s.error,
            )),
            Some(Ok((kind, t))) if t.truncated => notes.push(Line::styled(
                format!(
                    "! {}-{role}: the first {} {} only; narrow it with a namespace",
                    query.env_or(app),
                    t.rows.len(),
                    kind.plural
                ),
                s.warning,
            )),
            Some(Ok(_)) => {}
        }
    }
    let top = (notes.len() as u16).min(area.height);
    f.render_widget(
        ratatui::widgets::Paragraph::new(notes),
        Rect {
            height: top,
            ..area
        },
    );
    let area = Rect {
        y: area.y + top,
        height: area.height - top,
        ..area
    };
    let Some(columns) = columns(app) else {
        return;
    };
    let waiting = app
        .scope
        .roles()
        .iter()
        .any(|r| !app.objects.answers.contains_key(r));
    if view.visible.is_empty() && waiting {
        return;
    }
    if view.visible.is_empty() {
        let msg = if app.filter_of(Pane::Objects).is_empty() {
            "None."
        } else {
            "None matches the filter. Esc clears it."
        };
        f.render_widget(Line::styled(msg, s.muted), area);
        return;
    }
    let both = app.scope == Scope::Both;
    let namespaced = app.objects.kind().is_some_and(|k| k.namespaced);
    let mut header: Vec<String> = Vec::new();
    if both {
        header.push("CL".into());
    }
    if namespaced {
        header.push("NAMESPACE".into());
    }
    header.extend(columns.iter().map(|c| c.to_uppercase()));
    let body = area.height.saturating_sub(1) as usize;
    let window = app.lists.objects.window(body);
    let rows: Vec<Vec<String>> = window
        .clone()
        .filter_map(|i| view.row(app, i))
        .map(|(role, _, row)| {
            let mut cells = Vec::new();
            if both {
                cells.push(role.to_string());
            }
            if namespaced {
                cells.push(row.namespace.clone().unwrap_or_default());
            }
            cells.extend(row.cells.iter().cloned());
            cells
        })
        .collect();
    let mut widths: Vec<u16> = header.iter().map(|h| h.chars().count() as u16).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count() as u16).min(60);
        }
    }
    let selected = app.lists.objects.selected.saturating_sub(window.start);
    let table_rows = rows.into_iter().enumerate().map(|(i, cells)| {
        let style = if i == selected { s.selection } else { s.text };
        Row::new(cells.into_iter().map(Cell::from)).style(style)
    });
    let table = Table::new(table_rows, widths.into_iter().map(Constraint::Max))
        .header(Row::new(header.into_iter().map(Cell::from)).style(s.header))
        .column_spacing(1);
    f.render_widget(table, area);
}

/// The server's columns of the first cluster of the scope that answered.
fn columns(app: &App) -> Option<&Vec<String>> {
    app.scope
        .roles()
        .iter()
        .find_map(|r| app.objects.answers.get(r)?.as_ref().ok())
        .map(|(_, t)| &t.columns)
}

impl ObjectsQuery {
    /// The environment the query lists in.
    fn env_or<'a>(&'a self, app: &'a App) -> &'a str {
        self.env
            .as_deref()
            .or(app.objects.env.as_deref())
            .unwrap_or("")
    }
}
