//! Line charts as self-contained SVG, for trends people would rather look
//! at than read. A few dozen lines of SVG need no plotting library.

use std::fmt::Write;

/// One line of a chart: a name and a value per x position (`None`: no value).
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
}

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 320.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 36.0;
const BOTTOM: f64 = 92.0;
const PALETTE: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A round step for about five gridlines up to `max`.
fn step_for(max: f64) -> f64 {
    let raw = (max / 5.0).max(1.0);
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(raw)
}

/// A line chart of `series` over `x_labels`, titled, with a legend below.
pub fn line_chart(title: &str, y_label: &str, x_labels: &[String], series: &[Series]) -> String {
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .fold(0.0f64, |a, b| a.max(*b));
    let step = step_for(max);
    let top_value = (max / step).ceil().max(1.0) * step;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |i: usize| {
        if x_labels.len() <= 1 {
            LEFT + plot_w / 2.0
        } else {
            LEFT + plot_w * i as f64 / (x_labels.len() - 1) as f64
        }
    };
    let y = |v: f64| TOP + plot_h * (1.0 - v / top_value);

    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-label="{title}" data-chart="{title}" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="11">"#,
        title = escape(title)
    );
    let _ = write!(
        svg,
        r##"<rect width="100%" height="100%" fill="#fff"/><text x="{LEFT}" y="20" font-size="14" font-weight="bold">{}</text>"##,
        escape(title)
    );
    let mut value = 0.0;
    while value <= top_value + f64::EPSILON {
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{value}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y(value) + 4.0,
            y = y(value),
        );
        value += step;
    }
    let _ = write!(
        svg,
        r#"<text x="14" y="{:.1}" transform="rotate(-90 14 {:.1})" text-anchor="middle">{}</text>"#,
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0,
        escape(y_label)
    );
    let every = x_labels.len().div_ceil(8).max(1);
    for (i, label) in x_labels.iter().enumerate() {
        let last = i + 1 == x_labels.len();
        if i % every == 0 || last {
            // The last label ends at the plot's edge rather than running
            // past the picture; the first starts at its left edge.
            let anchor = match (i, last) {
                (_, true) if x_labels.len() > 1 => "end",
                (0, _) if x_labels.len() > 1 => "start",
                _ => "middle",
            };
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="{anchor}">{}</text>"#,
                x(i),
                TOP + plot_h + 16.0,
                escape(label)
            );
        }
    }
    for (n, line) in series.iter().enumerate() {
        let colour = PALETTE[n % PALETTE.len()];
        let points: Vec<String> = line
            .values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| format!("{:.1},{:.1}", x(i), y(v))))
            .collect();
        if points.len() > 1 {
            let _ = write!(
                svg,
                r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
                points.join(" ")
            );
        }
        for point in &points {
            let (px, py) = point.split_once(',').unwrap_or(("0", "0"));
            let _ = write!(
                svg,
                r#"<circle cx="{px}" cy="{py}" r="2.5" fill="{colour}"/>"#
            );
        }
        let legend_x = LEFT + (n % 3) as f64 * 230.0;
        let legend_y = HEIGHT - BOTTOM + 40.0 + (n / 3) as f64 * 16.0;
        let _ = write!(
            svg,
            r#"<rect x="{legend_x}" y="{:.1}" width="12" height="4" fill="{colour}"/><text x="{:.1}" y="{legend_y:.1}">{}</text>"#,
            legend_y - 4.0,
            legend_x + 16.0,
            escape(&line.name)
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_draws_a_line_per_series_and_escapes_its_text() {
        let svg = line_chart(
            "Plaatsen <per type>",
            "places",
            &["w1".into(), "w2".into(), "w3".into()],
            &[
                Series {
                    name: "crisis_bed".into(),
                    values: vec![Some(4.0), Some(6.0), Some(5.0)],
                },
                Series {
                    name: "family_home & more".into(),
                    values: vec![None, Some(2.0), Some(3.0)],
                },
            ],
        );
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("Plaatsen &lt;per type&gt;"));
        assert!(svg.contains("family_home &amp; more"));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }

    #[test]
    fn gridlines_step_in_round_numbers() {
        assert_eq!(step_for(23.0), 5.0);
        assert_eq!(step_for(140.0), 50.0);
        assert_eq!(step_for(3.0), 1.0);
    }
}
