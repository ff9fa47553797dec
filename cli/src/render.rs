//! How `spil` prints an answer: each response is a type that renders itself
//! as lines for a person or as JSON for a script (and as CSV where it is a
//! table), so commands fetch and the format is chosen once, in `main`.

use std::io::Write;

/// The output format, from `--json` (and `--csv` where a command has it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// A response the command line can print.
pub trait Render {
    /// Lines for a person.
    fn table(&self, out: &mut dyn Write) -> std::io::Result<()>;

    /// JSON for a script: one value per line.
    fn json(&self) -> Vec<serde_json::Value>;

    /// CSV, where the answer is a table; JSON lines otherwise.
    fn csv(&self, out: &mut dyn Write) -> std::io::Result<()> {
        json_lines(self, out)
    }
}

fn json_lines(answer: &(impl Render + ?Sized), out: &mut dyn Write) -> std::io::Result<()> {
    for value in answer.json() {
        writeln!(out, "{value}")?;
    }
    Ok(())
}

/// Prints `answer` to standard output. A closed pipe comes back as an
/// error, which `main` turns into a quiet exit.
pub fn show(format: Format, answer: &impl Render) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        Format::Table => answer.table(&mut out)?,
        Format::Json => json_lines(answer, &mut out)?,
        Format::Csv => answer.csv(&mut out)?,
    }
    out.flush()?;
    Ok(())
}

/// A moment as a Dutch reader expects it: Amsterdam's time, with its zone
/// (CET or CEST). JSON keeps UTC for scripts.
pub fn local_time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.with_timezone(&chrono_tz::Europe::Amsterdam)
        .format("%Y-%m-%d %H:%M %Z")
        .to_string()
}

/// A wire timestamp as [`local_time`], or `-` when absent.
pub fn local_timestamp(at: &Option<prost_types::Timestamp>) -> String {
    at.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
        .map_or("-".into(), local_time)
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_read_in_amsterdam_summer_and_winter() {
        let winter = chrono::DateTime::from_timestamp(1_796_404_800, 0).unwrap();
        assert_eq!(super::local_time(winter), "2026-12-04 18:20 CET");
        let summer = chrono::DateTime::from_timestamp(1_782_000_000, 0).unwrap();
        assert_eq!(super::local_time(summer), "2026-06-21 02:00 CEST");
    }
}
