//! A table that is handed only the rows it shows.
//!
//! ratatui's `Table` costs about 3.4 µs per row per frame whatever is visible
//! (perf-reliability.md §3), so panes slice their cached index to the window and pass
//! those rows alone; the width of each column comes from a hint computed once per data
//! change, so columns stay put while scrolling and filtering. Columns have a priority:
//! when the terminal is narrow (80x24 on a bastion), the least important ones go first,
//! before anything is cut.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;

use super::super::format;
use super::super::nav::ListState;
use super::super::theme::Theme;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// One column's layout rules.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub title: &'static str,
    /// The title when the table is narrow; empty for the same as `title`.
    pub short: &'static str,
    /// A label shared by adjacent columns, drawn above their titles.
    pub group: &'static str,
    pub min: u16,
    pub max: u16,
    pub align: Align,
    /// 0: always shown. Higher numbers are dropped first when space is short.
    pub priority: u8,
    /// Takes the width left over, up to `max`.
    pub flex: bool,
    /// Names are cut in the middle (`globex-wc-co…ane-4gnz7`): their end is what tells
    /// rows apart (a generated suffix), so it stays.
    pub middle: bool,
}

impl Column {
    pub const fn new(title: &'static str, min: u16, max: u16) -> Column {
        Column {
            title,
            short: "",
            group: "",
            min,
            max,
            align: Align::Left,
            priority: 0,
            flex: false,
            middle: false,
        }
    }

    /// Cut in the middle when too long, keeping the distinguishing end (names).
    pub const fn middle(mut self) -> Column {
        self.middle = true;
        self
    }

    pub const fn right(mut self) -> Column {
        self.align = Align::Right;
        self
    }

    pub const fn priority(mut self, p: u8) -> Column {
        self.priority = p;
        self
    }

    pub const fn flex(mut self) -> Column {
        self.flex = true;
        self
    }

    pub const fn short(mut self, s: &'static str) -> Column {
        self.short = s;
        self
    }

    pub const fn group(mut self, g: &'static str) -> Column {
        self.group = g;
        self
    }

    fn title(&self, narrow: bool) -> &'static str {
        if narrow && !self.short.is_empty() {
            self.short
        } else {
            self.title
        }
    }
}

/// Where each column landed: `None` when it was dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnLayout {
    pub spans: Vec<Option<(u16, u16)>>,
    pub narrow: bool,
}

/// Below this width, short titles and single-space gaps.
const NARROW: u16 = 120;

/// Lays out `columns` in `width` cells given each column's widest content.
pub fn layout(
    columns: &[Column],
    content: &[usize],
    width: u16,
    sorted: Option<usize>,
) -> ColumnLayout {
    let narrow = width < NARROW;
    let gap: u16 = if narrow { 1 } else { 2 };
    let mut widths: Vec<u16> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let arrow = usize::from(sorted == Some(i));
            let title = format::width(c.title(narrow)) + arrow;
            let want = title.max(content.get(i).copied().unwrap_or(0));
            (want.min(u16::MAX as usize) as u16).clamp(c.min, c.max.max(c.min))
        })
        .collect();
    let mut shown: Vec<bool> = vec![true; columns.len()];
    let total = |shown: &[bool], widths: &[u16]| -> u16 {
        let n = shown.iter().filter(|s| **s).count() as u16;
        let sum: u16 = widths
            .iter()
            .zip(shown)
            .filter(|(_, s)| **s)
            .map(|(w, _)| *w)
            .sum();
        sum + gap * n.saturating_sub(1)
    };
    // What a column cannot do without: a flexible one can shrink to its minimum, the
    // others need their full width. Columns are dropped only while even that is too much.
    let required: Vec<u16> = columns
        .iter()
        .zip(&widths)
        .map(|(c, w)| if c.flex { c.min.min(*w) } else { *w })
        .collect();
    while total(&shown, &required) > width {
        let drop = (0..columns.len())
            .filter(|i| shown[*i] && columns[*i].priority > 0)
            .max_by_key(|i| (columns[*i].priority, *i));
        match drop {
            Some(i) => shown[i] = false,
            None => break,
        }
    }
    let excess = total(&shown, &widths).saturating_sub(width);
    shrink(columns, &shown, &mut widths, excess);
    let spare = width.saturating_sub(total(&shown, &widths));
    grow(columns, &shown, &mut widths, spare);
    let mut x = 0u16;
    let spans = (0..columns.len())
        .map(|i| {
            shown[i].then(|| {
                let at = x;
                x = x.saturating_add(widths[i] + gap);
                (at, widths[i])
            })
        })
        .collect();
    ColumnLayout { spans, narrow }
}

impl ColumnLayout {
    /// Narrows or hides the columns that reach past `width`.
    fn clip(&mut self, width: u16) {
        for span in self.spans.iter_mut() {
            *span = span.and_then(|(x, w)| (x < width).then(|| (x, w.min(width - x))));
        }
    }
}

/// Takes `excess` cells from the flexible columns in proportion to how far each is above
/// its minimum, then from any column, never below a minimum.
fn shrink(columns: &[Column], shown: &[bool], widths: &mut [u16], mut excess: u16) {
    for flex_only in [true, false] {
        let can = |i: usize, widths: &[u16]| {
            shown[i] && (!flex_only || columns[i].flex) && widths[i] > columns[i].min
        };
        let slack: u32 = (0..columns.len())
            .filter(|i| can(*i, widths))
            .map(|i| u32::from(widths[i] - columns[i].min))
            .sum();
        if slack > 0 && excess > 0 {
            let target = u32::from(excess).min(slack);
            for i in 0..columns.len() {
                if can(i, widths) {
                    let share = u32::from(widths[i] - columns[i].min) * target / slack;
                    let share = share.min(u32::from(excess)) as u16;
                    widths[i] -= share;
                    excess -= share;
                }
            }
        }
        // Rounding leaves a few cells: take them from the widest.
        while excess > 0 {
            let widest = (0..columns.len())
                .filter(|i| can(*i, widths))
                .max_by_key(|i| widths[*i]);
            match widest {
                Some(i) => {
                    widths[i] -= 1;
                    excess -= 1;
                }
                None => break,
            }
        }
    }
}

/// Hands `spare` cells to the flexible columns, in turn, up to their maximum.
fn grow(columns: &[Column], shown: &[bool], widths: &mut [u16], mut spare: u16) {
    while spare > 0 {
        let mut grew = false;
        for i in 0..columns.len() {
            if spare > 0 && shown[i] && columns[i].flex && widths[i] < columns[i].max {
                widths[i] += 1;
                spare -= 1;
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }
}

pub use super::super::nav::scroll;

/// A row: cells, or a banner across the whole width (a group heading).
pub enum TableRow<'a> {
    Cells(Vec<Line<'a>>),
    Banner(Line<'a>),
}

/// The widest cell per column over `rows`: for tables small enough to format every row,
/// so that columns keep their width while the window scrolls.
pub fn measure(rows: &[TableRow<'_>], columns: usize) -> Vec<usize> {
    let mut widths = vec![0usize; columns];
    for row in rows {
        if let TableRow::Cells(cells) = row {
            for (w, cell) in widths.iter_mut().zip(cells) {
                *w = (*w).max(cell.width());
            }
        }
    }
    widths
}

/// Draws the rows of `all` that fit in `area`, scrolled to keep `list`'s selection in
/// view, with each column as wide as its widest cell over all rows.
pub fn render_window(
    area: Rect,
    buf: &mut Buffer,
    columns: &[Column],
    all: Vec<TableRow<'_>>,
    list: &ListState,
    theme: &Theme,
) {
    let widths = measure(&all, columns.len());
    let body = TableView::body_height(columns, area.height) as usize;
    let window = list.window(body);
    let selected = list.selected.checked_sub(window.start);
    let rows = all
        .into_iter()
        .skip(window.start)
        .take(window.len())
        .collect();
    TableView::new(columns, rows, theme)
        .selected(selected)
        .content_widths(&widths)
        .render(area, buf);
}

/// The table of one frame.
pub struct TableView<'a> {
    columns: &'a [Column],
    rows: Vec<TableRow<'a>>,
    selected: Option<usize>,
    content: Option<&'a [usize]>,
    sort: Option<(usize, bool)>,
    theme: &'a Theme,
}

impl<'a> TableView<'a> {
    pub fn new(columns: &'a [Column], rows: Vec<TableRow<'a>>, theme: &'a Theme) -> Self {
        TableView {
            columns,
            rows,
            selected: None,
            content: None,
            sort: None,
            theme,
        }
    }

    /// `index` into the rows given.
    pub fn selected(mut self, index: Option<usize>) -> Self {
        self.selected = index;
        self
    }

    /// The widest content per column over all rows, not only the visible ones.
    pub fn content_widths(mut self, widths: &'a [usize]) -> Self {
        self.content = Some(widths);
        self
    }

    pub fn sorted(mut self, column: usize, descending: bool) -> Self {
        self.sort = Some((column, descending));
        self
    }

    /// Rows of data that fit under the headings in `height` lines.
    pub fn body_height(columns: &[Column], height: u16) -> u16 {
        let grouped = columns.iter().any(|c| !c.group.is_empty());
        height.saturating_sub(1 + u16::from(grouped))
    }

    pub fn render(self, area: Rect, buf: &mut Buffer) {
        if area.height == 0 || area.width == 0 {
            return;
        }
        let computed;
        let content = match self.content {
            Some(c) => c,
            None => {
                computed = measure(&self.rows, self.columns.len());
                &computed
            }
        };
        let mut lay = layout(self.columns, content, area.width, self.sort.map(|s| s.0));
        // Columns that cannot be dropped may still not fit a very narrow terminal: cut
        // them at the area's edge rather than draw over what lies beyond (the frame).
        lay.clip(area.width);
        let mut y = area.y;
        if self.columns.iter().any(|c| !c.group.is_empty()) {
            self.render_groups(&lay, area.x, y, buf);
            y += 1;
        }
        self.render_header(&lay, area.x, y, buf);
        y += 1;
        let bottom = area.y + area.height;
        for (i, row) in self.rows.iter().enumerate() {
            if y >= bottom {
                break;
            }
            let line_area = Rect::new(area.x, y, area.width, 1);
            match row {
                TableRow::Banner(line) => {
                    put_line(buf, area.x, y, area.width, line, Align::Left);
                }
                TableRow::Cells(cells) => {
                    for (c, cell) in cells.iter().enumerate() {
                        if let Some(Some((x, w))) = lay.spans.get(c) {
                            let col = &self.columns[c];
                            match middle_cut(cell, *w, col.middle) {
                                Some(cut) => put_line(buf, area.x + x, y, *w, &cut, col.align),
                                None => put_line(buf, area.x + x, y, *w, cell, col.align),
                            }
                        }
                    }
                }
            }
            if self.selected == Some(i) {
                buf.set_style(line_area, self.theme.s.selection);
            }
            y += 1;
        }
    }

    fn render_groups(&self, lay: &ColumnLayout, x0: u16, y: u16, buf: &mut Buffer) {
        let mut i = 0;
        while i < self.columns.len() {
            let group = self.columns[i].group;
            let Some(Some((start, _))) = lay.spans.get(i).copied() else {
                i += 1;
                continue;
            };
            let mut end = start;
            let mut j = i;
            while j < self.columns.len() && self.columns[j].group == group {
                if let Some((x, w)) = lay.spans[j] {
                    end = x + w;
                }
                j += 1;
            }
            if !group.is_empty() {
                let width = end - start;
                let label = format!("{group} ");
                let rule = "─".repeat((width as usize).saturating_sub(format::width(&label)));
                let text = format::truncate(&format!("{label}{rule}"), width as usize).into_owned();
                buf.set_stringn(x0 + start, y, text, width as usize, self.theme.s.group);
            }
            i = j;
        }
    }

    fn render_header(&self, lay: &ColumnLayout, x0: u16, y: u16, buf: &mut Buffer) {
        for (i, col) in self.columns.iter().enumerate() {
            let Some((x, w)) = lay.spans[i] else { continue };
            let mut title = col.title(lay.narrow).to_string();
            if let Some((sorted, descending)) = self.sort
                && sorted == i
            {
                title.push(if descending { '▼' } else { '▲' });
            }
            let line = Line::styled(title, self.theme.s.header);
            put_line(buf, x0 + x, y, w, &line, col.align);
        }
    }
}

/// Writes `line` into `width` cells at (`x`, `y`), aligned, cut with `…` when too long.
pub fn put_line(buf: &mut Buffer, x: u16, y: u16, width: u16, line: &Line<'_>, align: Align) {
    let total = line.width();
    let width = width as usize;
    if total <= width {
        let mut at = match align {
            Align::Left => x,
            Align::Right => x + (width - total) as u16,
        };
        for span in &line.spans {
            let style = line.style.patch(span.style);
            let left = (x as usize + width).saturating_sub(at as usize);
            at = buf.set_stringn(at, y, span.content.as_ref(), left, style).0;
        }
        return;
    }
    let mut at = x;
    let mut left = width;
    for span in &line.spans {
        let style = line.style.patch(span.style);
        let w = span.width();
        if w < left {
            at = buf.set_stringn(at, y, span.content.as_ref(), w, style).0;
            left -= w;
        } else {
            buf.set_stringn(at, y, format::cut(&span.content, left), left, style);
            break;
        }
    }
}

/// `line` cut in the middle to `width` cells, when its column cuts so and it does not
/// fit; `None` when it is drawn as it is.
fn middle_cut(line: &Line<'_>, width: u16, middle: bool) -> Option<Line<'static>> {
    if !middle || line.width() <= width as usize || line.spans.len() != 1 {
        return None;
    }
    let span = &line.spans[0];
    let text = format::cut_middle(&span.content, width as usize);
    Some(Line::from(ratatui::text::Span::styled(text, span.style)).style(line.style))
}

/// A style-less cell.
pub fn cell<'a>(text: impl Into<std::borrow::Cow<'a, str>>) -> Line<'a> {
    Line::raw(text)
}

/// A cell in one style.
pub fn styled<'a>(text: impl Into<std::borrow::Cow<'a, str>>, style: Style) -> Line<'a> {
    Line::styled(text, style)
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLS: [Column; 4] = [
        Column::new("NAMESPACE", 6, 20),
        Column::new("NAME", 10, 60).flex(),
        Column::new("RESTARTS", 3, 8).short("RST").right(),
        Column::new("NODE", 6, 30).priority(2),
    ];

    #[test]
    fn low_priority_columns_go_before_anything_is_cut() {
        // NAME needs at least 30: at 60 cells NODE cannot stay without cutting it more.
        let mut cols = COLS;
        cols[1].min = 30;
        let lay = layout(&cols, &[10, 40, 2, 20], 60, None);
        assert_eq!(lay.spans[3], None, "NODE dropped");
        assert_eq!(lay.spans[1], Some((11, 45)), "NAME grows into the room");
        let fits = layout(&cols, &[10, 40, 2, 20], 70, None);
        assert!(fits.spans[3].is_some(), "NODE kept while NAME can give way");
        let wide = layout(&COLS, &[10, 40, 2, 20], 200, None);
        assert!(wide.spans.iter().all(Option::is_some));
        assert_eq!(wide.spans[1].unwrap().1, 60, "flex stops at max");
    }

    #[test]
    fn too_narrow_shrinks_flexible_columns_first() {
        let lay = layout(&COLS, &[10, 40, 2, 20], 30, None);
        let (_, name_w) = lay.spans[1].unwrap();
        assert_eq!(name_w, 15);
        assert_eq!(lay.spans[2], Some((27, 3)), "short title");
    }

    #[test]
    fn flexible_columns_shrink_in_proportion_before_anything_is_dropped() {
        let cols = [
            Column::new("NS", 8, 24).flex(),
            Column::new("NAME", 20, 63).flex(),
            Column::new("STATUS", 10, 20),
            Column::new("NODE", 8, 30).priority(2),
        ];
        let lay = layout(&cols, &[17, 40, 16, 20], 78, None);
        assert!(
            lay.spans[3].is_some(),
            "NODE fits once NS and NAME give way"
        );
        let (ns, name) = (lay.spans[0].unwrap().1, lay.spans[1].unwrap().1);
        assert_eq!(ns + name + 16 + 20 + 3, 78);
        assert!(ns >= 8 && name >= 20 && name > ns, "{ns} {name}");
    }

    #[test]
    fn scrolling_keeps_the_selection_in_view() {
        assert_eq!(scroll(0, 5, 10, 100), 0);
        assert_eq!(scroll(0, 15, 10, 100), 6);
        assert_eq!(scroll(20, 15, 10, 100), 15);
        assert_eq!(scroll(95, 99, 10, 100), 90);
        assert_eq!(scroll(3, 0, 10, 5), 0);
    }

    #[test]
    fn lines_are_cut_with_an_ellipsis_and_aligned() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 8, 2));
        put_line(
            &mut buf,
            0,
            0,
            8,
            &Line::raw("payments-worker"),
            Align::Left,
        );
        put_line(&mut buf, 0, 1, 8, &Line::raw("42"), Align::Right);
        assert_eq!(buf, Buffer::with_lines(["payment…", "      42"]));
        let mut buf = Buffer::empty(Rect::new(0, 0, 6, 1));
        let two = Line::from(vec!["abc".into(), "defgh".into()]);
        put_line(&mut buf, 0, 0, 6, &two, Align::Left);
        assert_eq!(buf, Buffer::with_lines(["abcde…"]));
    }
}
