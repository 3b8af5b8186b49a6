//! The 30-day availability chart of an SLO target: one bar per day, scaled from just
//! under the objective to 100 % so that a bad day stands out, with days below the
//! objective, days without samples and days with excluded minutes marked.

use chrono_tz::Tz;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::super::theme::Theme;
use crate::slo::ChartPoint;

const EIGHTHS: [&str; 9] = [" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"];
const GUTTER: u16 = 8;

pub struct AvailabilityChart<'a> {
    pub points: &'a [ChartPoint],
    pub slo: f64,
    pub theme: &'a Theme,
    pub tz: Tz,
}

impl AvailabilityChart<'_> {
    /// The bottom of the scale: below the worst day and one budget under the objective,
    /// rounded down to a step that reads well.
    pub fn floor(&self) -> f64 {
        let worst = self
            .points
            .iter()
            .filter_map(|p| p.availability)
            .fold(100.0f64, f64::min);
        let lo = worst.min(self.slo - (100.0 - self.slo)).max(0.0);
        let span = 100.0 - lo;
        let step = if span <= 0.1 {
            0.01
        } else if span <= 1.0 {
            0.1
        } else if span <= 10.0 {
            1.0
        } else {
            10.0
        };
        // The epsilon keeps 99.9 / 0.01 = 9989.999… from flooring a whole step lower.
        ((lo / step + 1e-9).floor() * step).max(0.0)
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer) {
        if area.height < 4 || area.width < GUTTER + 10 || self.points.is_empty() {
            return;
        }
        let s = &self.theme.s;
        let plot_h = area.height - 2;
        let days = self.points.len() as u16;
        let cw = ((area.width - GUTTER) / days).clamp(1, 5);
        let bar_w = if cw >= 2 { cw - 1 } else { 1 };
        let lo = self.floor();
        let frac = |v: f64| ((v - lo) / (100.0 - lo)).clamp(0.0, 1.0);
        let top = area.y;
        let bottom = area.y + plot_h - 1;
        let x0 = area.x + GUTTER;
        // Axis labels: 100 % at the top, the floor at the bottom, the objective between.
        let label = |v: f64| format!("{:>6}%", trim(v));
        buf.set_string(area.x, top, label(100.0), s.muted);
        buf.set_string(area.x, bottom, label(lo), s.muted);
        let slo_row = bottom - ((frac(self.slo) * (plot_h - 1) as f64).round() as u16);
        if slo_row != top && slo_row != bottom {
            buf.set_string(area.x, slo_row, label(self.slo), s.muted);
        }
        let plot_w = cw * days;
        buf.set_string(x0, slo_row, "┈".repeat(plot_w as usize), s.muted);
        for (d, p) in self.points.iter().enumerate() {
            let x = x0 + d as u16 * cw;
            match p.availability {
                None => {
                    buf.set_string(x, bottom, "·".repeat(bar_w as usize), s.chart_missing);
                }
                Some(a) => {
                    let style = if a < self.slo {
                        s.chart_bad
                    } else {
                        s.chart_good
                    };
                    let mut eighths = (frac(a) * plot_h as f64 * 8.0).round() as u16;
                    // Every measured day shows at least a sliver, so zero is not "no data".
                    eighths = eighths.max(1);
                    for row in 0..plot_h {
                        let fill = eighths.saturating_sub(row * 8).min(8);
                        if fill == 0 {
                            break;
                        }
                        let glyph = EIGHTHS[fill as usize].repeat(bar_w as usize);
                        buf.set_string(x, bottom - row, glyph, style);
                    }
                }
            }
            if p.minutes.excluded > 0 {
                buf.set_string(x, bottom + 1, "x".repeat(bar_w as usize), s.chart_excluded);
            }
        }
        let dates = area.y + area.height - 1;
        if let (Some(first), Some(last)) = (self.points.first(), self.points.last()) {
            let fmt = |t: chrono::DateTime<chrono::Utc>| {
                t.with_timezone(&self.tz).format("%b %d").to_string()
            };
            buf.set_string(x0, dates, fmt(first.start), s.muted);
            let end = fmt(last.start);
            let end_x = (x0 + plot_w).saturating_sub(end.len() as u16);
            buf.set_string(end_x, dates, end, s.muted);
        }
    }
}

/// `99.95`, `99.9`, `100`: no trailing zeros.
fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slo::MinuteCounts;
    use chrono::{TimeZone, Utc};

    fn point(day: i64, availability: Option<f64>) -> ChartPoint {
        let start =
            Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + chrono::Duration::days(day);
        ChartPoint {
            start,
            end: start + chrono::Duration::days(1),
            availability,
            minutes: MinuteCounts::default(),
        }
    }

    #[test]
    fn the_scale_starts_below_the_worst_day_and_the_objective() {
        let theme = Theme::built_in("dark").unwrap();
        let points = vec![point(0, Some(100.0)), point(1, Some(99.99))];
        let c = AvailabilityChart {
            points: &points,
            slo: 99.95,
            theme: &theme,
            tz: chrono_tz::UTC,
        };
        assert!((c.floor() - 99.9).abs() < 1e-9, "{}", c.floor());
        let points = vec![point(0, Some(97.3))];
        let c = AvailabilityChart {
            points: &points,
            slo: 99.5,
            theme: &theme,
            tz: chrono_tz::UTC,
        };
        assert_eq!(c.floor(), 97.0);
    }
}
