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
use crate::describe::{Description, Related};
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
    /// The description shown in details.
    pub described: Option<Described>,
    /// A Secret's value the user asked to see, by its details key: dropped when its
    /// details close. Its Debug form hides it.
    pub revealed: Option<(String, crate::engine::ops::Revealed)>,
    /// The server column sorted by, and whether descending; `None` keeps the server's
    /// order (by namespace and name), except for events, newest first.
    pub sort: Option<(usize, bool)>,
    /// Rows marked with Space, by [`Selected::key`]: delete and restart act on them all.
    /// Another kind or environment starts with none.
    pub marks: BTreeMap<String, Selected>,
}

impl ObjectsData {
    /// Whether a cluster of `scope` has not answered yet.
    pub fn waiting(&self, scope: Scope) -> bool {
        scope.roles().iter().any(|r| !self.answers.contains_key(r))
    }

    /// `s`: the next column, then the server's order again.
    pub fn sort_next(&mut self) {
        let columns = self.columns().map_or(0, Vec::len);
        self.sort = match self.sort {
            None if columns > 0 => Some((0, false)),
            Some((c, desc)) if c + 1 < columns => Some((c + 1, desc)),
            _ => None,
        };
        self.generation += 1;
    }

    /// `S`: the other way round.
    pub fn sort_reverse(&mut self) {
        if let Some((_, desc)) = self.sort.as_mut() {
            *desc = !*desc;
            self.generation += 1;
        }
    }

    fn columns(&self) -> Option<&Vec<String>> {
        self.answers
            .values()
            .find_map(|a| a.as_ref().ok().map(|(_, t)| &t.columns))
    }

    /// The sort in effect: the chosen one, or events by when they were last seen.
    fn sort_in_effect(&self) -> Option<(usize, bool)> {
        self.sort.or_else(|| {
            let events = self.kind().is_some_and(|k| k.plural == "events");
            let last_seen = self.columns()?.iter().position(|c| c == "Last Seen");
            last_seen.filter(|_| events).map(|c| (c, false))
        })
    }

    /// The name of the column sorted by, for the heading.
    pub fn sorted_by(&self) -> Option<(String, bool)> {
        let (c, desc) = self.sort_in_effect()?;
        Some((self.columns()?.get(c)?.to_lowercase(), desc))
    }
}

/// How two cells of a column compare: ages (`5m`, `2d4h`) as durations, numbers as
/// numbers, the rest as text; across those classes ages come first, then numbers, then
/// text, so the order is total (a sort needs that) whatever the server printed.
fn compare_cells(a: &str, b: &str) -> std::cmp::Ordering {
    let class = |c: &str| -> (u8, u64, f64) {
        if let Some(s) = age_seconds(c) {
            (0, s, 0.0)
        } else if let Ok(n) = c.parse::<f64>() {
            (1, 0, n)
        } else {
            (2, 0, 0.0)
        }
    };
    let ((ca, sa, na), (cb, sb, nb)) = (class(a), class(b));
    ca.cmp(&cb)
        .then(sa.cmp(&sb))
        .then(na.total_cmp(&nb))
        .then_with(|| a.cmp(b))
}

/// Seconds in a kubectl age (`45s`, `3m12s`, `5h10m`, `2d4h`, `1y20d`).
fn age_seconds(text: &str) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    let (mut total, mut number) = (0u64, String::new());
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'y' => 365 * 86_400,
            _ => return None,
        };
        total = total.checked_add(number.parse::<u64>().ok()?.checked_mul(unit)?)?;
        number.clear();
    }
    number.is_empty().then_some(total)
}

impl ObjectsData {
    /// The kind as one of the clusters named it (`deployments.apps`).
    pub fn kind(&self) -> Option<&ServedKind> {
        self.answers
            .values()
            .find_map(|a| a.as_ref().ok().map(|(k, _)| k))
    }
}

/// An edit under way: what was read, what was typed (kept whatever fails), and the
/// server's dry-run diff once asked.
#[derive(Debug, Clone, PartialEq)]
pub struct Edit {
    /// Which round of editing: a dry run's answer counts for its own round only.
    pub id: u64,
    /// The object's row key ([`Selected::key`]).
    pub key: String,
    pub object: crate::engine::ops::ObjectRef,
    /// The object as read, as YAML.
    pub original: String,
    /// The edited text.
    pub text: String,
    pub diff: Option<Result<Vec<String>, String>>,
    /// A new object (`:create`): `object` names its kind, cluster and namespace, the text
    /// its name, and `original` is the text it started from.
    pub creating: bool,
}

impl Edit {
    /// An edit of a ConfigMap `settings` of acme's wc, opened as `text`, for tests.
    #[cfg(test)]
    pub(crate) fn sample(text: &str) -> Edit {
        Edit {
            id: 0,
            key: "wc/configmaps/shop/settings".into(),
            object: crate::engine::ops::ObjectRef {
                env: "acme".into(),
                role: ClusterRole::Wc,
                kind: "configmaps".into(),
                namespace: Some("shop".into()),
                name: "settings".into(),
            },
            original: text.into(),
            text: text.into(),
            diff: None,
            creating: false,
        }
    }

    /// How the kept text comes back.
    pub fn reopened_by(&self) -> &'static str {
        reopened_by(self.creating)
    }
}

/// How a kept text comes back: a new object's by `:create`, an edit's by `e`.
pub fn reopened_by(creating: bool) -> &'static str {
    if creating {
        ":create opens it again"
    } else {
        "e edits it again"
    }
}

/// A description in details: of which object, and what the cluster answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Described {
    /// [`describe_key`] of the object's row key.
    pub key: String,
    pub env: String,
    pub role: ClusterRole,
    /// `None` until the cluster answers.
    pub result: Option<Result<Description, String>>,
}

/// The details key of a description.
pub fn describe_key(key: &str) -> String {
    format!("describe:{key}")
}

/// The details key of an edit's diff.
pub fn diff_key(key: &str) -> String {
    format!("edit:{key}")
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
    /// The object as the engine's actions name it.
    pub fn object_ref(&self, env: &str) -> crate::engine::ops::ObjectRef {
        crate::engine::ops::ObjectRef {
            env: env.to_owned(),
            role: self.role,
            kind: self.kind.qualified(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }

    /// The key of its details: `role/kind/namespace/name`, so that an answer that comes
    /// late for another kind's object of the same name is not shown for this one.
    pub fn key(&self) -> String {
        Selected::key_of(self.role, &self.kind, self.namespace.as_deref(), &self.name)
    }

    pub fn key_of(
        role: ClusterRole,
        kind: &ServedKind,
        namespace: Option<&str>,
        name: &str,
    ) -> String {
        format!(
            "{role}/{}/{}/{name}",
            kind.qualified(),
            namespace.unwrap_or("")
        )
    }

    /// Whether an action's outcome is about this object.
    pub fn is(&self, o: &crate::engine::ops::OpOutcome) -> bool {
        self.role == o.cluster
            && self.kind.qualified() == o.kind
            && self.namespace == o.namespace
            && self.name == o.name
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

impl ObjectsView {
    /// The rows shown, as filtered and sorted, for `:export`.
    pub fn sheet(&self, app: &App) -> super::super::export::Sheet {
        let mut columns = vec!["Cluster".to_owned(), "Namespace".to_owned()];
        columns.extend(columns_of(app).cloned().unwrap_or_default());
        let rows = (0..self.visible.len())
            .filter_map(|i| self.row(app, i))
            .map(|(role, _, row)| {
                let mut cells = vec![role.to_string(), row.namespace.clone().unwrap_or_default()];
                cells.extend(row.cells.iter().cloned());
                cells
            })
            .collect();
        super::super::export::Sheet { columns, rows }
    }

    /// What controls the selected row's object, and in which cluster.
    pub fn owner(&self, app: &App) -> Option<(ClusterRole, Related)> {
        let (role, _, row) = self.row(app, app.lists.objects.selected)?;
        Some((role, row.owner.clone()?))
    }

    /// For an event, the object it is about, as a query of that kind in its namespace
    /// filtered to its name: the OBJECT column (`pod/web-1`).
    pub fn involved(&self, app: &App) -> Option<ObjectsQuery> {
        let (_, kind, row) = self.row(app, app.lists.objects.selected)?;
        if kind.plural != "events" {
            return None;
        }
        let (_, table) = app.objects.answers.values().find_map(|a| a.as_ref().ok())?;
        let column = table.columns.iter().position(|c| c == "Object")?;
        let (kind, name) = row.cells.get(column)?.split_once('/')?;
        Some(ObjectsQuery {
            kind: kind.to_owned(),
            namespace: row.namespace.clone(),
            filter: Some(format!("~^{}$", regex::escape(name))),
            ..ObjectsQuery::default()
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
        let sort = app.objects.sort_in_effect();
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
        if let Some((column, desc)) = sort {
            let cell = |(role, j): &(ClusterRole, u32)| {
                let rows = app.objects.answers.get(role).and_then(|a| a.as_ref().ok());
                rows.and_then(|(_, t)| t.rows.get(*j as usize)?.cells.get(column))
                    .map_or("", String::as_str)
            };
            self.visible.sort_by(|a, b| {
                let order = compare_cells(cell(a), cell(b));
                if desc { order.reverse() } else { order }
            });
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
        if app.objects.waiting(app.scope) {
            return vec![Span::styled(
                format!(" listing {}… ", kind.qualified()),
                s.muted,
            )];
        }
        let n = self.visible.len();
        let name = if n == 1 {
            kind.singular.clone()
        } else {
            kind.qualified()
        };
        let mut text = format!(" {} {name}", format::count(n));
        if !app.objects.marks.is_empty() {
            text.push_str(&format!(" · {} marked", app.objects.marks.len()));
        }
        if let Some((column, desc)) = app.objects.sorted_by() {
            text.push_str(&format!(" · by {column} {}", if desc { "▼" } else { "▲" }));
        }
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
        if let Some(edited) = key.strip_prefix("edit:") {
            return diff_details(app, edited, ctx);
        }
        if key.starts_with("describe:") {
            return describe_details(app, key, ctx);
        }
        if let Some(what) = key.strip_prefix("reveal:") {
            let (_, value) = app.objects.revealed.as_ref().filter(|(k, _)| k == key)?;
            let s = &ctx.theme.s;
            let mut d = Details::new(format!("Revealed {}", shown_key(what)));
            match std::str::from_utf8(&value.0) {
                Ok(text) => {
                    for line in text.lines() {
                        d.line(Line::styled(ck8s_fleet::inspect::sanitize(line), s.text));
                    }
                    // What is shown must not pass for the value when it is not quite it.
                    let altered = text.lines().any(|l| ck8s_fleet::inspect::sanitize(l) != l);
                    if altered || text.ends_with('\n') || text.is_empty() {
                        d.line(Line::styled(
                            format!(
                                "({} bytes; tabs, control characters or a final newline are \
                                 not shown as they are)",
                                value.0.len()
                            ),
                            s.muted,
                        ));
                    }
                }
                Err(_) => d.line(Line::styled(
                    format!("(binary, {} bytes: not shown)", value.0.len()),
                    s.muted,
                )),
            }
            d.line(Line::raw(""));
            d.line(Line::styled(
                "Audited. Esc closes, and the value is not kept.",
                s.muted,
            ));
            return Some(d);
        }
        let (shown, result) = app.objects.yaml.as_ref()?;
        if shown != key {
            return None;
        }
        let mut d = Details::new(format!("YAML {}", shown_key(key)));
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

/// A row key as a title shows it: a cluster-scoped object's has no empty namespace
/// (`wc/nodes/w-1`, not `wc/nodes//w-1`).
fn shown_key(key: &str) -> String {
    key.replace("//", "/")
}

/// A description: `kubectl describe`'s fields, what owns it and what it owns, its events.
fn describe_details(app: &App, key: &str, ctx: &Ctx<'_>) -> Option<Details> {
    let s = &ctx.theme.s;
    let described = app.objects.described.as_ref().filter(|d| d.key == key)?;
    let object = key.trim_start_matches("describe:");
    let mut d = Details::new(format!("Describe {}", shown_key(object)));
    match &described.result {
        None => d.line(Line::styled("Loading…", s.muted)),
        Some(Ok(description)) => {
            for l in &description.lines {
                // Section titles (`Containers:`, `Events:`) stand out.
                let style = if l.ends_with(':') && !l.starts_with(' ') {
                    s.title
                } else {
                    s.text
                };
                d.line(Line::styled(l.clone(), style));
            }
            let mut hints = Vec::new();
            if description.owner.is_some() {
                hints.push("J its owner");
            }
            if !description.owned.is_empty() {
                hints.push("o what it owns");
            }
            if !hints.is_empty() {
                d.line(Line::raw(""));
                d.line(Line::styled(hints.join(" · "), s.muted));
            }
        }
        Some(Err(e)) => d.line(Line::styled(format!("Could not describe it: {e}"), s.error)),
    }
    Some(d)
}

/// An edit's dry-run diff: what the server would store, against what was read.
fn diff_details(app: &App, key: &str, ctx: &Ctx<'_>) -> Option<Details> {
    let s = &ctx.theme.s;
    let edit = app.edit.as_ref().filter(|e| e.key == key)?;
    let mut d = Details::new("Edit · Enter applies · Esc keeps your text");
    d.line(Line::styled(
        format!("{key}: what the server would store (its dry run), against what was read"),
        s.muted,
    ));
    match &edit.diff {
        None => d.line(Line::styled("Asking the server for a dry run…", s.muted)),
        Some(Err(e)) => {
            d.line(Line::styled(format!("The server refuses it: {e}"), s.error));
            d.line(Line::styled(
                format!("Your text is kept: {}.", edit.reopened_by()),
                s.muted,
            ));
        }
        Some(Ok(lines)) if lines.is_empty() => d.line(Line::styled(
            "The server would store it as it is: nothing to apply.",
            s.muted,
        )),
        Some(Ok(lines)) => {
            for l in lines {
                let style = match l.chars().next() {
                    Some('+') => s.ok,
                    Some('-') => s.error,
                    Some('@') => s.muted,
                    _ => s.text,
                };
                d.line(Line::styled(l.clone(), style));
            }
        }
    }
    Some(d)
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
    let Some(columns) = columns_of(app) else {
        return;
    };
    if view.visible.is_empty() && app.objects.waiting(app.scope) {
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
    let mut marked = Vec::new();
    let rows: Vec<Vec<String>> = window
        .clone()
        .filter_map(|i| view.row(app, i))
        .map(|(role, kind, row)| {
            let mut cells = Vec::new();
            if both {
                cells.push(role.to_string());
            }
            if namespaced {
                cells.push(row.namespace.clone().unwrap_or_default());
            }
            let key = Selected::key_of(role, kind, row.namespace.as_deref(), &row.name);
            let mark = app.objects.marks.contains_key(&key);
            marked.push(mark);
            for (i, cell) in row.cells.iter().enumerate() {
                // The name is the server's first column.
                cells.push(if i == 0 && mark {
                    format!("{}{cell}", super::pods::MARK)
                } else {
                    cell.clone()
                });
            }
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
        let style = match (i == selected, marked[i]) {
            (true, _) => s.selection,
            (false, true) => s.key,
            (false, false) => s.text,
        };
        Row::new(cells.into_iter().map(Cell::from)).style(style)
    });
    // Each column as wide as its widest visible cell (at most 60); the last one takes
    // what is left, as kubectl's last column (often a message) runs to the edge.
    let last = widths.len().saturating_sub(1);
    let constraints = widths.into_iter().enumerate().map(|(i, w)| {
        if i == last {
            Constraint::Fill(1)
        } else {
            Constraint::Length(w)
        }
    });
    let table = Table::new(table_rows, constraints)
        .header(Row::new(header.into_iter().map(Cell::from)).style(s.header))
        .column_spacing(1);
    f.render_widget(table, area);
}

/// The server's columns of the first cluster of the scope that answered.
fn columns_of(app: &App) -> Option<&Vec<String>> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::ObjectRow;

    /// acme's workload cluster answered `table` for `kind`.
    fn answered(kind: ServedKind, table: ObjectTable) -> App {
        let mut app = App::new(vec!["acme".into()]);
        app.env = Some("acme".into());
        app.scope = Scope::Wc;
        app.objects.env = Some("acme".into());
        app.objects
            .answers
            .insert(ClusterRole::Wc, Ok((kind, table)));
        app.objects.generation = 1;
        app
    }

    fn events() -> App {
        let kind = ServedKind {
            group: String::new(),
            version: "v1".into(),
            kind: "Event".into(),
            plural: "events".into(),
            singular: "event".into(),
            short_names: vec!["ev".into()],
            namespaced: true,
            verbs: vec!["list".into()],
            subresources: Vec::new(),
        };
        let row = |seen: &str, ty: &str, object: &str| ObjectRow {
            namespace: Some("production".into()),
            name: format!("{object}.17a"),
            cells: vec![
                seen.into(),
                ty.into(),
                "Reason".into(),
                object.into(),
                "m".into(),
            ],
            labels: Vec::new(),
            owner: None,
        };
        let table = ObjectTable {
            columns: ["Last Seen", "Type", "Reason", "Object", "Message"]
                .map(String::from)
                .to_vec(),
            rows: vec![
                row("2d4h", "Normal", "pod/web-1"),
                row("45s", "Warning", "pod/api-0"),
                row("3m12s", "Normal", "deployment/web"),
                row("1y20d", "Normal", "node/w-1"),
            ],
            truncated: false,
        };
        answered(kind, table)
    }

    fn order(view: &ObjectsView, app: &App) -> Vec<String> {
        (0..view.visible.len())
            .map(|i| view.row(app, i).unwrap().2.cells[3].clone())
            .collect()
    }

    fn now() -> Now {
        Now {
            wall: chrono::Utc::now(),
            clock: Instant::now(),
        }
    }

    #[test]
    fn events_come_newest_first_and_s_sorts_by_any_column() {
        let mut app = events();
        let mut view = ObjectsView::default();
        let state = crate::state::test_fleet("acme");
        view.refresh(&mut app, &state, now());
        assert_eq!(
            order(&view, &app),
            ["pod/api-0", "deployment/web", "pod/web-1", "node/w-1"]
        );
        assert_eq!(app.objects.sorted_by(), Some(("last seen".into(), false)));
        app.objects.sort_next(); // Last Seen, chosen
        app.objects.sort_next(); // Type
        view.refresh(&mut app, &state, now());
        assert_eq!(order(&view, &app)[3], "pod/api-0", "Normal < Warning");
        app.objects.sort_reverse();
        view.refresh(&mut app, &state, now());
        assert_eq!(order(&view, &app)[0], "pod/api-0");
    }

    #[test]
    fn ages_numbers_and_text_compare_as_what_they_are() {
        use std::cmp::Ordering::*;
        assert_eq!(age_seconds("3m12s"), Some(192));
        assert_eq!(age_seconds("1y20d"), Some(385 * 86_400));
        assert_eq!(age_seconds("5"), None, "a bare number is no age");
        assert_eq!(age_seconds("web"), None);
        assert_eq!(compare_cells("45s", "2m"), Less);
        assert_eq!(compare_cells("10", "9"), Greater, "numbers, not text");
        assert_eq!(compare_cells("b", "a"), Greater);
        assert_eq!(
            compare_cells("20", "3 (1m ago)"),
            Less,
            "numbers before text"
        );
        assert_eq!(
            compare_cells("3 (1m ago)", "4"),
            Greater,
            "so the order is total"
        );
        assert_eq!(age_seconds("999999999999999y"), None, "no overflow");
    }

    /// Deleting a namespace asks for its name: typed (Backspace mends a typo) or pasted,
    /// only the very name goes on, and Esc keeps it.
    #[test]
    fn a_namespace_is_deleted_only_once_its_name_is_typed() {
        use crate::ui::app::{Effect, Modal};
        use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        let key = |c| KeyEvent::new(c, KeyModifiers::NONE);
        let kind = ServedKind {
            group: String::new(),
            version: "v1".into(),
            kind: "Namespace".into(),
            plural: "namespaces".into(),
            singular: "namespace".into(),
            short_names: vec!["ns".into()],
            namespaced: false,
            verbs: vec!["delete".into(), "list".into()],
            subresources: Vec::new(),
        };
        let table = ObjectTable {
            columns: vec!["Name".into()],
            rows: vec![ObjectRow {
                namespace: None,
                name: "staging".into(),
                cells: vec!["staging".into()],
                labels: Vec::new(),
                owner: None,
            }],
            truncated: false,
        };
        let mut app = answered(kind, table);
        app.engine = true;
        app.pane = Pane::Objects;
        let mut views = crate::ui::views::Views::default();
        views
            .objects
            .refresh(&mut app, &crate::state::test_fleet("acme"), now());
        app.on_key(key(KeyCode::Char('x')), &views);
        assert!(matches!(app.modals.last(), Some(Modal::Confirm(c)) if c.typed.is_some()));
        for c in "stagx".chars() {
            app.on_key(key(KeyCode::Char(c)), &views);
        }
        assert!(
            app.on_key(key(KeyCode::Enter), &views).is_empty(),
            "not the name"
        );
        assert!(
            app.flash
                .as_ref()
                .unwrap()
                .text
                .contains("type staging exactly")
        );
        app.on_key(key(KeyCode::Backspace), &views);
        for c in "ing".chars() {
            app.on_key(key(KeyCode::Char(c)), &views);
        }
        let effects = app.on_key(key(KeyCode::Enter), &views);
        assert!(
            matches!(effects.as_slice(), [Effect::Act { .. }]),
            "{effects:?}"
        );
        // Pasted, the same; Esc keeps it.
        app.on_key(key(KeyCode::Char('x')), &views);
        app.on_paste("staging\n");
        let effects = app.on_key(key(KeyCode::Enter), &views);
        assert!(
            matches!(effects.as_slice(), [Effect::Act { .. }]),
            "{effects:?}"
        );
        app.on_key(key(KeyCode::Char('x')), &views);
        assert!(app.on_key(key(KeyCode::Esc), &views).is_empty());
        assert!(app.modals.is_empty());
    }

    #[test]
    fn o_on_an_event_names_its_object_exactly() {
        let mut app = events();
        let mut view = ObjectsView::default();
        view.refresh(&mut app, &crate::state::test_fleet("acme"), now());
        app.lists.objects.selected = 1; // deployment/web
        let q = view.involved(&app).unwrap();
        assert_eq!(q.kind, "deployment");
        assert_eq!(q.namespace.as_deref(), Some("production"));
        assert_eq!(q.filter.as_deref(), Some("~^web$"));
        assert_eq!(regex::escape("a.b"), "a\\.b");
    }

    /// `J` goes to what controls a row; `d` describes it, and there `o` goes to what it
    /// owns (pods to the pods pane) and `J` to its owner, each filtered to exactly them.
    #[test]
    fn owners_and_owned_objects_are_one_key_away() {
        use crate::describe::{Description, Related};
        use crate::ui::app::{Effect, Modal, UiEvent};
        use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        let key = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
        let related = |kind: &str, group: &str, name: &str| Related {
            kind: kind.into(),
            group: group.into(),
            namespace: Some("production".into()),
            name: name.into(),
        };
        let kind = ServedKind {
            group: "apps".into(),
            version: "v1".into(),
            kind: "ReplicaSet".into(),
            plural: "replicasets".into(),
            singular: "replicaset".into(),
            short_names: vec!["rs".into()],
            namespaced: true,
            verbs: vec!["get".into(), "list".into()],
            subresources: Vec::new(),
        };
        let table = ObjectTable {
            columns: vec!["Name".into()],
            rows: vec![ObjectRow {
                namespace: Some("production".into()),
                name: "web-7c9".into(),
                cells: vec!["web-7c9".into()],
                labels: Vec::new(),
                owner: Some(related("Deployment", "apps", "web.v2")),
            }],
            truncated: false,
        };
        let fresh = || {
            let mut app = answered(kind.clone(), table.clone());
            app.pane = Pane::Objects;
            let mut views = crate::ui::views::Views::default();
            views
                .objects
                .refresh(&mut app, &crate::state::test_fleet("acme"), now());
            (app, views)
        };

        let (mut app, views) = fresh();
        app.on_key(key('J'), &views);
        let q = app.objects.query.clone().unwrap();
        assert_eq!(q.kind, "deployment.apps");
        assert_eq!(q.namespace.as_deref(), Some("production"));
        assert_eq!(app.filter_of(Pane::Objects), "~^(web\\.v2)$");
        assert_eq!(app.scope, Scope::Wc);

        let (mut app, views) = fresh();
        let effects = app.on_key(key('d'), &views);
        let [
            Effect::Describe {
                key: shown, object, ..
            },
        ] = effects.as_slice()
        else {
            panic!("{effects:?}");
        };
        assert_eq!(object.name, "web-7c9");
        assert!(matches!(app.modals.last(), Some(Modal::Details(_))));
        // An answer for the same object in another environment is not this one's.
        app.on_event(UiEvent::Described {
            key: shown.clone(),
            env: "globex".into(),
            result: Err("not this one".into()),
        });
        assert!(app.objects.described.as_ref().unwrap().result.is_none());
        app.on_event(UiEvent::Described {
            key: shown.clone(),
            env: "acme".into(),
            result: Ok(Description {
                lines: vec!["Name: web-7c9".into()],
                owner: Some(related("Deployment", "apps", "web.v2")),
                owned: vec![
                    related("Pod", "", "web-7c9-a"),
                    related("Pod", "", "web-7c9-b"),
                ],
            }),
        });
        app.on_key(key('o'), &views);
        assert!(app.modals.is_empty());
        assert_eq!(app.pane, Pane::Pods);
        assert_eq!(app.filter_of(Pane::Pods), "~^(web-7c9-a|web-7c9-b)$");

        // Y copies an object's YAML, and nothing else shown in details.
        let (mut app, views) = fresh();
        let name = app.on_key(key('Y'), &views);
        assert!(
            matches!(name.as_slice(), [Effect::Copy(t)] if t == "production/web-7c9"),
            "the row's Y copies its name: {name:?}"
        );
        let effects = app.on_key(key('y'), &views);
        let [Effect::FetchObjectYaml { key: yaml_key, .. }] = effects.as_slice() else {
            panic!("{effects:?}");
        };
        assert!(
            app.on_key(key('Y'), &views).is_empty(),
            "nothing to copy while it comes"
        );
        app.on_event(UiEvent::ObjectYaml {
            key: yaml_key.clone(),
            result: Ok(vec!["kind: ReplicaSet".into(), "metadata:".into()]),
        });
        let copied = app.on_key(key('Y'), &views);
        assert!(
            matches!(copied.as_slice(), [Effect::Copy(t)] if t == "kind: ReplicaSet\nmetadata:\n"),
            "{copied:?}"
        );
        app.on_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE), &views);
        app.on_key(key('d'), &views);
        assert!(
            app.on_key(key('Y'), &views).is_empty(),
            "a description is not copied"
        );

        // A description that has not come yet goes nowhere, and says so.
        let (mut app, views) = fresh();
        app.on_key(key('d'), &views);
        app.on_key(key('J'), &views);
        assert_eq!(app.pane, Pane::Objects);
        assert!(matches!(app.modals.last(), Some(Modal::Details(_))));
        assert!(
            app.flash
                .as_ref()
                .unwrap()
                .text
                .contains("still being read")
        );
    }
}
