//! Charts of a region's figures over time, for `spil insights --chart` and
//! the report: one line per place type (and care profile).

use super::labels::time_text;
use super::nl::{care_profile, place_type};
use spil_client::pb;

/// x labels of a series: the dates of its points.
fn dates(points: impl Iterator<Item = Option<prost_types::Timestamp>>) -> Vec<String> {
    points
        .map(|at| {
            // Day and month: a year in every label leaves no room.
            let date = time_text(at);
            match (date.get(8..10), date.get(5..7)) {
                (Some(day), Some(month)) => format!("{day}-{month}"),
                _ => date,
            }
        })
        .collect()
}

/// One line per place type of `metric` over the trend's points.
pub fn trend_chart(
    trend: &pb::CapacityTrendResponse,
    title: &str,
    y_label: &str,
    metric: fn(&pb::CapacityFigures) -> u32,
) -> String {
    let mut types: Vec<i32> = trend
        .points
        .iter()
        .flat_map(|p| p.figures.iter().map(|f| f.place_type))
        .collect();
    types.sort_unstable();
    types.dedup();
    let series: Vec<super::chart::Series> = types
        .into_iter()
        .map(|t| super::chart::Series {
            name: place_type(t).to_owned(),
            values: trend
                .points
                .iter()
                .map(|p| {
                    p.figures
                        .iter()
                        .find(|f| f.place_type == t)
                        .map(|f| f64::from(metric(f)))
                })
                .collect(),
        })
        .collect();
    super::chart::line_chart(
        title,
        y_label,
        &dates(trend.points.iter().map(|p| p.at)),
        &series,
    )
}

/// One line per place type and care profile of the median waiting time.
pub fn waiting_chart(waiting: &pb::WaitingTimesResponse, title: &str) -> String {
    let mut keys: Vec<(i32, i32)> = waiting
        .weekly
        .iter()
        .flat_map(|p| p.figures.iter().map(|f| (f.place_type, f.care_profile)))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let series: Vec<super::chart::Series> = keys
        .into_iter()
        .map(|(t, c)| super::chart::Series {
            name: format!("{} / {}", place_type(t), care_profile(c)),
            values: waiting
                .weekly
                .iter()
                .map(|p| {
                    p.figures
                        .iter()
                        .find(|f| (f.place_type, f.care_profile) == (t, c))
                        .and_then(|f| f.median_days)
                })
                .collect(),
        })
        .collect();
    super::chart::line_chart(
        title,
        "mediaan (dagen)",
        &dates(waiting.weekly.iter().map(|p| p.at)),
        &series,
    )
}
