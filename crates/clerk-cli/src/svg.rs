//! Hand-written SVG time charts for the bench report: a value chart (polylines,
//! dashed reference lines, round axis steps) and a row-of-dots chart for events.

use std::fmt::Write as _;

use crate::bench_report::{escape, number};

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 160.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 30.0;

/// "Nice" axis steps: 1, 2 or 5 times a power of ten, about `ticks` of them.
pub(crate) fn nice_step(max: f64, ticks: f64) -> f64 {
    let raw = (max / ticks).max(f64::MIN_POSITIVE);
    let power = 10_f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * power)
}

/// One time chart: x is seconds since the start, y from 0 to a nice maximum.
pub(crate) struct Chart {
    x_max: f64,
    y_max: f64,
    y_step: f64,
    body: String,
}

impl Chart {
    pub(crate) fn new(x_max: f64, y_max: f64) -> Chart {
        let y_step = nice_step(y_max.max(1e-9) * 1.1, 4.0);
        let y_max = (y_max.max(1e-9) * 1.1 / y_step).ceil() * y_step;
        Chart {
            x_max: x_max.max(1e-9),
            y_max,
            y_step,
            body: String::new(),
        }
    }

    fn x(&self, v: f64) -> f64 {
        LEFT + v / self.x_max * (WIDTH - LEFT - RIGHT)
    }

    fn y(&self, v: f64) -> f64 {
        TOP + (1.0 - v / self.y_max) * (HEIGHT - TOP - BOTTOM)
    }

    pub(crate) fn line(&mut self, points: &[(f64, f64)], color: &str) {
        if let [(x, y)] = points {
            // One point makes no line: a dot.
            let _ = write!(
                self.body,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"1.8\" fill=\"{color}\"/>",
                self.x(*x),
                self.y(*y)
            );
            return;
        }
        if points.is_empty() {
            return;
        }
        let mut path = String::new();
        for (x, y) in points {
            let _ = write!(path, "{:.1},{:.1} ", self.x(*x), self.y(*y));
        }
        let _ = write!(
            self.body,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.6\" points=\"{}\"/>",
            path.trim_end()
        );
    }

    /// Like [`Chart::line`], one polyline per run of points less than `max_dx` apart.
    pub(crate) fn line_with_gaps(&mut self, points: &[(f64, f64)], max_dx: f64, color: &str) {
        let mut start = 0;
        for i in 1..=points.len() {
            if i == points.len() || points[i].0 - points[i - 1].0 > max_dx {
                self.line(&points[start..i], color);
                start = i;
            }
        }
    }

    pub(crate) fn reference(&mut self, value: f64, label: &str, color: &str) {
        let y = self.y(value);
        let _ = write!(
            self.body,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"{color}\" stroke-dasharray=\"6 4\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" style=\"fill:{color}\">{}</text>",
            WIDTH - RIGHT,
            WIDTH - RIGHT + 6.0,
            y + 4.0,
            escape(label)
        );
    }

    pub(crate) fn finish(self, y_label: &str) -> String {
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\">"
        );
        svg.push_str(&axes(
            HEIGHT,
            self.x_max,
            |v| self.x(v),
            Some((self.y_max, self.y_step, &|v| self.y(v))),
            y_label,
        ));
        svg.push_str(&self.body);
        svg.push_str("</svg>");
        svg
    }
}

type YAxis<'a> = (f64, f64, &'a dyn Fn(f64) -> f64);

/// The frame, the time axis and (for value charts) the y grid.
fn axes(
    height: f64,
    x_max: f64,
    x: impl Fn(f64) -> f64,
    y_axis: Option<YAxis<'_>>,
    y_label: &str,
) -> String {
    let mut out = String::new();
    let bottom = height - BOTTOM;
    let _ = write!(
        out,
        "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#fafbfc\" stroke=\"#c9ced6\"/>",
        WIDTH - LEFT - RIGHT,
        bottom - TOP
    );
    let x_step = nice_step(x_max, 8.0);
    let mut t = 0.0;
    while t <= x_max + 1e-9 {
        let px = x(t);
        let _ = write!(
            out,
            "<line x1=\"{px:.1}\" x2=\"{px:.1}\" y1=\"{bottom}\" y2=\"{:.1}\" stroke=\"#889\"/>\
             <text x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            bottom + 4.0,
            bottom + 16.0,
            number(t)
        );
        t += x_step;
    }
    let _ = write!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">time (s)</text>",
        WIDTH - RIGHT,
        height - 2.0
    );
    if let Some((y_max, y_step, y)) = y_axis {
        let mut v = 0.0;
        while v <= y_max + 1e-9 {
            let py = y(v);
            let _ = write!(
                out,
                "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{py:.1}\" y2=\"{py:.1}\" stroke=\"#e4e7ec\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                WIDTH - RIGHT,
                LEFT - 6.0,
                py + 4.0,
                number(v)
            );
            v += y_step;
        }
        let _ = write!(
            out,
            "<text transform=\"translate(12 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
            (TOP + bottom) / 2.0,
            escape(y_label)
        );
    }
    out
}

/// One row per kind; a dot per bucket with events, its area proportional to the
/// count, the count in its tooltip; row totals on the right.
pub(crate) fn marks_chart(
    rows: &[Vec<u64>; 6],
    names: &[&str; 6],
    colors: &[&str; 6],
    end_s: f64,
    bucket_s: f64,
) -> String {
    let height = 24.0 * rows.len() as f64 + TOP + BOTTOM;
    let x = |v: f64| LEFT + v / end_s.max(1e-9) * (WIDTH - LEFT - RIGHT);
    let peak = rows.iter().flatten().copied().max().unwrap_or(0).max(1) as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\">"
    );
    svg.push_str(&axes(height, end_s, x, None, ""));
    for (i, row) in rows.iter().enumerate() {
        let y = TOP + 12.0 + 24.0 * i as f64;
        let total: u64 = row.iter().sum();
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e4e7ec\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" style=\"fill:{}\">{} {}</text>",
            WIDTH - RIGHT,
            // Clear of a dot at the last bucket (radius up to 9).
            WIDTH - RIGHT + 12.0,
            y + 4.0,
            colors[i],
            number(total as f64),
            escape(names[i])
        );
        for (b, &n) in row.iter().enumerate() {
            if n == 0 {
                continue;
            }
            let r = 2.0 + 7.0 * (n as f64 / peak).sqrt();
            let at = (b as f64 + 0.5) * bucket_s;
            let _ = write!(
                svg,
                "<circle cx=\"{:.1}\" cy=\"{y:.1}\" r=\"{r:.1}\" fill=\"{}\" fill-opacity=\"0.75\"><title>{n} {} at {}–{} s</title></circle>",
                x(at),
                colors[i],
                escape(names[i]),
                number(b as f64 * bucket_s),
                number((b + 1) as f64 * bucket_s)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}
