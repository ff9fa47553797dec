//! The insights' answers as tables: rows of named values printed aligned,
//! as CSV or as JSON, with the line that says what they show.

use crate::render::Render;
use serde_json::{Value, json};
use spil_client::pb;

use super::labels::{care_profile, place_type};

/// Rows of named values, printed as an aligned table, CSV or JSON.
pub(super) struct Table {
    pub(super) columns: Vec<&'static str>,
    pub(super) rows: Vec<Vec<Value>>,
}

impl Table {
    pub(super) fn new(columns: Vec<&'static str>) -> Self {
        Self {
            columns,
            rows: Vec::new(),
        }
    }

    pub(super) fn text(value: &Value) -> String {
        match value {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            Value::Number(n) => match n.as_f64() {
                Some(f) if n.is_f64() => format!("{f:.2}"),
                _ => n.to_string(),
            },
            other => other.to_string(),
        }
    }

    /// The rows as JSON objects keyed by column.
    pub(super) fn json_rows(&self) -> Value {
        Value::Array(
            self.rows
                .iter()
                .map(|row| {
                    Value::Object(
                        self.columns
                            .iter()
                            .map(|c| (*c).to_owned())
                            .zip(row.iter().cloned())
                            .collect(),
                    )
                })
                .collect(),
        )
    }
}

/// Placement figures: their table, and in JSON the headline beside it.
pub(super) struct Placements {
    pub(super) titled: Titled,
    pub(super) secure: Value,
}

impl Render for Placements {
    fn table(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        self.titled.table(out)
    }

    fn json(&self) -> Vec<Value> {
        vec![json!({"rows": self.titled.table.json_rows(), "secure_outside_province": self.secure})]
    }

    fn csv(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        self.titled.csv(out)
    }
}

/// A table with the line that says what it shows.
pub(super) struct Titled {
    pub(super) title: String,
    pub(super) table: Table,
}

impl Render for Titled {
    fn table(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let table = &self.table;
        writeln!(out, "{}", self.title)?;
        let cells: Vec<Vec<String>> = table
            .rows
            .iter()
            .map(|row| row.iter().map(Table::text).collect())
            .collect();
        let widths: Vec<usize> = (0..table.columns.len())
            .map(|i| {
                cells
                    .iter()
                    .map(|r| r[i].chars().count())
                    .chain([table.columns[i].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |values: &[String]| {
            values
                .iter()
                .zip(&widths)
                .map(|(v, w)| format!("{v:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_owned()
        };
        let header: Vec<String> = table.columns.iter().map(|c| c.to_uppercase()).collect();
        writeln!(out, "{}", line(&header))?;
        for row in &cells {
            writeln!(out, "{}", line(row))?;
        }
        if table.rows.is_empty() {
            writeln!(out, "(nothing to show)")?;
        }
        Ok(())
    }

    fn json(&self) -> Vec<Value> {
        vec![self.table.json_rows()]
    }

    fn csv(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        writeln!(out, "{}", self.table.columns.join(","))?;
        for row in &self.table.rows {
            let cells: Vec<String> = row.iter().map(|v| csv_cell(&Table::text(v))).collect();
            writeln!(out, "{}", cells.join(","))?;
        }
        Ok(())
    }
}

pub(super) fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

pub(super) const CAPACITY_COLUMNS: [&str; 10] = [
    "place_type",
    "care_profile",
    "ages",
    "offerings",
    "total_places",
    "free_places",
    "held",
    "placed",
    "stale_offerings",
    "stale_share",
];

pub(super) fn capacity_row(f: &pb::CapacityFigures) -> Vec<Value> {
    vec![
        json!(place_type(f.place_type)),
        json!(care_profile(f.care_profile)),
        json!(
            f.age_band
                .map_or_else(String::new, |b| format!("{}-{}", b.min_age, b.max_age))
        ),
        json!(f.offerings),
        json!(f.total_places),
        json!(f.free_places),
        json!(f.held),
        json!(f.placed),
        json!(f.stale_offerings),
        json!(f.stale_share),
    ]
}

pub(super) const WAITING_COLUMNS: [&str; 6] = [
    "place_type",
    "care_profile",
    "offerings_with_figure",
    "offerings_without_figure",
    "median_days",
    "max_days",
];

pub(super) fn waiting_row(f: &pb::WaitingFigures) -> Vec<Value> {
    vec![
        json!(place_type(f.place_type)),
        json!(care_profile(f.care_profile)),
        json!(f.offerings_with_figure),
        json!(f.offerings_without_figure),
        json!(f.median_days),
        json!(f.max_days),
    ]
}

pub(super) fn suppressible(count: Option<pb::SuppressibleCount>) -> Value {
    match count {
        Some(c) if !c.suppressed => json!(c.value),
        _ => json!("< 5"),
    }
}
