//! Line charts drawn on the server as SVG: no script, nothing loaded, and
//! the numbers are in the page (each chart's points as a `<title>` per line
//! and its series in a legend), so a chart reads without a browser too.

use maud::{Markup, html};

use super::view::time;

/// Series colours, in order; past the last they repeat.
const PALETTE: usize = 8;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 180.0;
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 22.0;
const TOP: f64 = 8.0;

/// One line: its name and a value per step (`None` where there is none).
pub(super) struct Line {
    pub(super) name: String,
    pub(super) values: Vec<Option<f64>>,
}

/// The x axis shared by a page's charts: first step's start and step width.
#[derive(Clone, Copy)]
pub(super) struct Steps {
    pub(super) start_ms: i64,
    pub(super) step_ms: i64,
    pub(super) count: usize,
}

/// A round number at or above `max` (1, 2 or 5 times a power of ten).
fn nice_ceiling(max: f64) -> f64 {
    if !(max.is_finite() && max > 0.0) {
        return 1.0;
    }
    let power = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|candidate| *candidate >= max)
        .unwrap_or(10.0 * power)
}

/// The points with a gap (or the edge) on both sides, which a line cannot show.
fn isolated(values: &[Option<f64>]) -> impl Iterator<Item = (usize, f64)> + '_ {
    values.iter().enumerate().filter_map(|(i, value)| {
        let alone =
            (i == 0 || values[i - 1].is_none()) && values.get(i + 1).is_none_or(Option::is_none);
        value.filter(|_| alone).map(|v| (i, v))
    })
}

/// `points` of one line as SVG path data, a new segment after each gap.
fn path(values: &[Option<f64>], x: impl Fn(usize) -> f64, y: impl Fn(f64) -> f64) -> String {
    let mut d = String::new();
    for (i, value) in values.iter().enumerate() {
        let Some(v) = value else { continue };
        let after_gap = i == 0 || values[i - 1].is_none();
        d.push_str(&format!(
            "{}{:.1},{:.1} ",
            if after_gap { "M" } else { "L" },
            x(i),
            y(*v)
        ));
    }
    d
}

/// A chart titled `title`, its values shown with `format`.
pub(super) fn line_chart(
    title: &str,
    steps: Steps,
    lines: &[Line],
    format: fn(f64) -> String,
) -> Markup {
    let max = lines
        .iter()
        .flat_map(|line| line.values.iter().flatten())
        .copied()
        .fold(0.0, f64::max);
    let ceiling = nice_ceiling(max);
    let plot_w = WIDTH - LEFT - 8.0;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let last = steps.count.saturating_sub(1).max(1) as f64;
    let x = |i: usize| LEFT + plot_w * i as f64 / last;
    let y = |v: f64| TOP + plot_h * (1.0 - v / ceiling);
    let at = |i: usize| time((steps.start_ms + steps.step_ms * i as i64) as f64);
    let has_data = lines.iter().any(|l| l.values.iter().any(Option::is_some));
    html! {
        figure.chart {
            figcaption { (title) }
            @if has_data {
                svg viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img" aria-label=(title) {
                    title { (title) }
                    @for fraction in [0.0, 0.5, 1.0] {
                        @let gy = y(ceiling * fraction);
                        line.grid x1=(LEFT) x2=(WIDTH - 8.0) y1=(gy) y2=(gy) {}
                        text.axis x=(LEFT - 6.0) y=(gy + 4.0) text-anchor="end" { (format(ceiling * fraction)) }
                    }
                    @for (i, anchor) in [(0, "start"), (steps.count / 2, "middle"), (steps.count.saturating_sub(1), "end")] {
                        text.axis x=(x(i)) y=(HEIGHT - 6.0) text-anchor=(anchor) { (at(i)) }
                    }
                    @for (n, line) in lines.iter().enumerate() {
                        path class=(format!("series s{}", n % PALETTE)) d=(path(&line.values, x, y)) {
                            title { (line.name) }
                        }
                        @for (i, v) in isolated(&line.values) {
                            circle class=(format!("dot k{}", n % PALETTE)) cx=(format!("{:.1}", x(i))) cy=(format!("{:.1}", y(v))) r="3" {}
                        }
                    }
                }
                @if lines.len() > 1 || !lines.iter().all(|l| l.name.is_empty()) {
                    ul.legend {
                        @for (n, line) in lines.iter().enumerate() {
                            li { span class=(format!("swatch k{}", n % PALETTE)) {} (line.name) }
                        }
                    }
                }
            } @else {
                p.empty { "Nothing to chart in this range." }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_are_round() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(120.0), 200.0);
        assert_eq!(nice_ceiling(0.003), 0.005);
        assert_eq!(nice_ceiling(50.0), 50.0);
    }

    #[test]
    fn a_gap_lifts_the_pen() {
        let d = path(
            &[Some(1.0), None, Some(2.0), Some(3.0)],
            |i| i as f64,
            |v| v,
        );
        assert_eq!(d, "M0.0,1.0 M2.0,2.0 L3.0,3.0 ");
    }
}
