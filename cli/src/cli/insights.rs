//! `spil insights …`: a region's figures as a table, JSON or CSV.

use crate::render::{Format, show};
use crate::wire::wire;
use chrono::{DateTime, NaiveDate, Utc};
use clap::Subcommand;
use serde_json::json;
use spil_client::{SpilClient, pb};
use std::path::PathBuf;

use super::labels::{care_profile, name, place_type, place_type_or_any, time_text};
use super::tables::*;
use super::timestamp as ts;
use super::trend_charts::{trend_chart, waiting_chart};

#[derive(Debug, Subcommand)]
pub enum InsightsCommand {
    /// Capacity per place type, now or as of a moment.
    Capacity(CapacityArgs),
    /// Capacity per place type at the end of each day or week of a period.
    Trend(TrendArgs),
    /// Published waiting times per place type and care profile.
    Waiting(WaitingArgs),
    /// Searches that found no fresh free place, per week; biggest gaps first.
    /// Counts below 5 show as "< 5".
    Unmet(PeriodArgs),
    /// Holds for the region's children per place type: outcomes, hours to
    /// confirm, placements outside the region and province.
    Placements(PeriodArgs),
    /// Consultations for the region's children: outcomes and lead times,
    /// overall, by urgency and problem domain; never content.
    Consultations(PeriodArgs),
    /// The acceptance duty: providers asked to take the region's children,
    /// their answers, refusals by reason, overdue answers; overall, by
    /// provider and by place type. Then each provider's update discipline.
    PlacementRequests(PeriodArgs),
    /// The region's figures for a period as one self-contained HTML page,
    /// with charts, ready to print and hand to the councils.
    Report(ReportArgs),
}

/// The arguments of `insights capacity`.
#[derive(Debug, clap::Args)]
pub struct CapacityArgs {
    #[command(flatten)]
    pub region: RegionArg,
    /// As of this moment (RFC 3339 or YYYY-MM-DD, midnight UTC); default now.
    #[arg(long, value_parser = moment)]
    pub as_of: Option<DateTime<Utc>>,
    /// Also per care profile (an offering counts in each of its profiles).
    #[arg(long)]
    pub by_care_profile: bool,
    /// Also per age band.
    #[arg(long)]
    pub by_age_band: bool,
    #[command(flatten)]
    pub output: OutputArg,
}

/// The arguments of `insights trend`.
#[derive(Debug, clap::Args)]
pub struct TrendArgs {
    #[command(flatten)]
    pub region: RegionArg,
    #[command(flatten)]
    pub period: PeriodArg,
    #[arg(long, value_parser = wire::<pb::Bucket>(), default_value = "week")]
    pub bucket: pb::Bucket,
    /// Also write a chart of places per type (SVG).
    #[arg(long)]
    pub chart: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArg,
}

/// The arguments of `insights waiting`.
#[derive(Debug, clap::Args)]
pub struct WaitingArgs {
    #[command(flatten)]
    pub region: RegionArg,
    /// As of this moment; default now.
    #[arg(long, value_parser = moment)]
    pub as_of: Option<DateTime<Utc>>,
    /// With --to: also weekly over this period.
    #[arg(long, value_parser = moment, requires = "to")]
    pub from: Option<DateTime<Utc>>,
    #[arg(long, value_parser = moment, requires = "from")]
    pub to: Option<DateTime<Utc>>,
    /// With --from and --to: also write a chart of the weekly medians (SVG).
    #[arg(long, requires = "from")]
    pub chart: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArg,
}

/// The arguments of `insights report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub region: RegionArg,
    #[command(flatten)]
    pub period: PeriodArg,
    /// Where to write it.
    #[arg(long, default_value = "report.html")]
    pub out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct PeriodArgs {
    #[command(flatten)]
    region: RegionArg,
    #[command(flatten)]
    period: PeriodArg,
    #[command(flatten)]
    output: OutputArg,
}

#[derive(Debug, clap::Args)]
pub struct RegionArg {
    /// The region, e.g. zuid-kennemerland.
    #[arg(long)]
    region: String,
}

#[derive(Debug, clap::Args)]
pub struct PeriodArg {
    /// Start of the period (RFC 3339 or YYYY-MM-DD).
    #[arg(long, value_parser = moment)]
    from: DateTime<Utc>,
    /// End of the period; default now.
    #[arg(long, value_parser = moment)]
    to: Option<DateTime<Utc>>,
}

impl PeriodArg {
    /// The period on the wire; without --to it ends now.
    fn range(
        &self,
    ) -> (
        Option<prost_types::Timestamp>,
        Option<prost_types::Timestamp>,
    ) {
        (Some(ts(self.from)), Some(ts(self.to.unwrap_or_else(now))))
    }
}

#[derive(Debug, clap::Args)]
pub struct OutputArg {
    /// Comma-separated values, for spreadsheets.
    #[arg(long, conflicts_with = "json")]
    csv: bool,
}

impl OutputArg {
    /// `--csv` where given, else the command line's format.
    fn format(&self, format: Format) -> Format {
        if self.csv { Format::Csv } else { format }
    }
}

/// RFC 3339, or a date meaning its midnight in UTC.
fn moment(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc())
        .map_err(|_| format!("{text:?} is neither RFC 3339 nor YYYY-MM-DD"))
}

/// The user's present, for a period that ends now.
fn now() -> DateTime<Utc> {
    #[allow(clippy::disallowed_methods)] // a command line's "now" is the wall clock
    Utc::now()
}

fn write_chart(path: &Option<PathBuf>, svg: impl FnOnce() -> String) -> anyhow::Result<()> {
    if let Some(path) = path {
        std::fs::write(path, svg())?;
        eprintln!("chart written to {}", path.display());
    }
    Ok(())
}

pub async fn insights(
    client: &SpilClient,
    command: &InsightsCommand,
    format: Format,
) -> anyhow::Result<()> {
    match command {
        InsightsCommand::Capacity(args) => insights_capacity(client, args, format).await?,
        InsightsCommand::Trend(args) => insights_trend(client, args, format).await?,
        InsightsCommand::Waiting(args) => insights_waiting(client, args, format).await?,
        InsightsCommand::Unmet(args) => insights_unmet(client, args, format).await?,
        InsightsCommand::Report(args) => insights_report(client, args).await?,
        InsightsCommand::Consultations(args) => {
            insights_consultations(client, args, format).await?
        }
        InsightsCommand::PlacementRequests(args) => {
            insights_placement_requests(client, args, format).await?
        }
        InsightsCommand::Placements(args) => insights_placements(client, args, format).await?,
    }
    Ok(())
}

async fn insights_capacity(
    client: &SpilClient,
    args: &CapacityArgs,
    format: Format,
) -> anyhow::Result<()> {
    let CapacityArgs {
        region,
        as_of,
        by_care_profile,
        by_age_band,
        output,
    } = args;
    let found = client
        .insights()
        .capacity_overview(pb::CapacityOverviewRequest {
            region_id: region.region.clone(),
            as_of: as_of.map(ts),
            by_care_profile: *by_care_profile,
            by_age_band: *by_age_band,
        })
        .await?
        .into_inner();
    let mut table = Table::new(CAPACITY_COLUMNS.to_vec());
    table.rows = found.figures.iter().map(capacity_row).collect();
    show(
        output.format(format),
        &Titled {
            title: format!(
                "capacity in {} as of {} (revision {})",
                found.region_id,
                time_text(found.as_of),
                found.revision
            ),
            table,
        },
    )?;
    Ok(())
}

async fn insights_trend(
    client: &SpilClient,
    args: &TrendArgs,
    format: Format,
) -> anyhow::Result<()> {
    let TrendArgs {
        region,
        period,
        bucket,
        chart,
        output,
    } = args;
    let (from, to) = period.range();
    let found = client
        .insights()
        .capacity_trend(pb::CapacityTrendRequest {
            region_id: region.region.clone(),
            from,
            to,
            bucket: *bucket as i32,
        })
        .await?
        .into_inner();
    write_chart(chart, || {
        trend_chart(&found, "Plaatsen per soort", "plaatsen", |f| f.total_places)
    })?;
    let mut columns = vec!["at"];
    columns.extend(CAPACITY_COLUMNS);
    let mut table = Table::new(columns);
    for point in &found.points {
        for figures in &point.figures {
            let mut row = vec![json!(time_text(point.at))];
            row.extend(capacity_row(figures));
            table.rows.push(row);
        }
    }
    show(
        output.format(format),
        &Titled {
            title: format!(
                "capacity trend in {} (revision {})",
                found.region_id, found.revision
            ),
            table,
        },
    )?;
    Ok(())
}

async fn insights_waiting(
    client: &SpilClient,
    args: &WaitingArgs,
    format: Format,
) -> anyhow::Result<()> {
    let WaitingArgs {
        region,
        as_of,
        from,
        to,
        chart,
        output,
    } = args;
    let found = client
        .insights()
        .waiting_times(pb::WaitingTimesRequest {
            region_id: region.region.clone(),
            as_of: as_of.map(ts),
            from: from.map(ts),
            to: to.map(ts),
        })
        .await?
        .into_inner();
    write_chart(chart, || waiting_chart(&found, "Wachttijden"))?;
    let mut columns = vec!["at"];
    columns.extend(WAITING_COLUMNS);
    let mut table = Table::new(columns);
    let points = found
        .weekly
        .iter()
        .map(|p| (p.at, &p.figures))
        .chain([(found.as_of, &found.figures)]);
    for (at, figures) in points {
        for figures in figures {
            let mut row = vec![json!(time_text(at))];
            row.extend(waiting_row(figures));
            table.rows.push(row);
        }
    }
    show(
        output.format(format),
        &Titled {
            title: format!(
                "waiting times in {} (days; stale offerings counted apart; revision {})",
                found.region_id, found.revision
            ),
            table,
        },
    )?;
    Ok(())
}

async fn insights_unmet(
    client: &SpilClient,
    args: &PeriodArgs,
    format: Format,
) -> anyhow::Result<()> {
    let PeriodArgs {
        region,
        period,
        output,
    } = args;
    let (from, to) = period.range();
    let found = client
        .insights()
        .unmet_demand(pb::UnmetDemandRequest {
            region_id: region.region.clone(),
            from,
            to,
        })
        .await?
        .into_inner();
    let mut table = Table::new(vec![
        "week",
        "week_searches",
        "place_type",
        "care_profile",
        "ages",
        "child_municipality",
        "searches",
    ]);
    for week in &found.weeks {
        for gap in &week.gaps {
            table.rows.push(vec![
                json!(time_text(week.start)),
                suppressible(week.searches),
                json!(place_type_or_any(gap.place_type)),
                json!(match care_profile(gap.care_profile).as_str() {
                    "" => "any".to_owned(),
                    name => name.to_owned(),
                }),
                json!(
                    gap.age_band
                        .map_or_else(String::new, |b| format!("{}-{}", b.min_age, b.max_age))
                ),
                json!(gap.child_municipality_code),
                suppressible(gap.searches),
            ]);
        }
    }
    show(
        output.format(format),
        &Titled {
            title: format!(
                "unmet demand in {} per week, counts below 5 withheld (revision {})",
                found.region_id, found.revision
            ),
            table,
        },
    )?;
    Ok(())
}

async fn insights_report(client: &SpilClient, args: &ReportArgs) -> anyhow::Result<()> {
    let ReportArgs {
        region,
        period,
        out,
    } = args;
    let to = period.to.unwrap_or_else(now);
    super::report::write_report(client, &region.region, period.from, to, out).await?;
    say!("report written to {}", out.display());
    Ok(())
}

async fn insights_consultations(
    client: &SpilClient,
    args: &PeriodArgs,
    format: Format,
) -> anyhow::Result<()> {
    let PeriodArgs {
        region,
        period,
        output,
    } = args;
    let (from, to) = period.range();
    let found = client
        .insights()
        .consultation_figures(pb::ConsultationFiguresRequest {
            region_id: region.region.clone(),
            from,
            to,
        })
        .await?
        .into_inner();
    let mut table = Table::new(vec![
        "group",
        "filed",
        "accepted",
        "declined",
        "escalated",
        "advised",
        "overdue",
        "hours_to_acceptance_median",
        "hours_to_acceptance_p90",
        "hours_to_advice_median",
        "hours_to_advice_p90",
    ]);
    let row = |group: String, c: pb::ConsultationCounts| {
        vec![
            json!(group),
            suppressible(c.filed),
            suppressible(c.accepted),
            suppressible(c.declined),
            suppressible(c.escalated),
            suppressible(c.advised),
            suppressible(c.overdue),
            json!(c.hours_to_acceptance_median),
            json!(c.hours_to_acceptance_p90),
            json!(c.hours_to_advice_median),
            json!(c.hours_to_advice_p90),
        ]
    };
    table
        .rows
        .push(row("all".into(), found.total.unwrap_or_default()));
    for u in &found.by_urgency {
        let urgency = pb::Urgency::try_from(u.urgency).unwrap_or_default();
        table.rows.push(row(
            format!("urgency {}", name(urgency.as_str_name(), "URGENCY_")),
            u.counts.unwrap_or_default(),
        ));
    }
    for d in &found.by_problem_domain {
        let domain = pb::ProblemDomain::try_from(d.problem_domain).unwrap_or_default();
        table.rows.push(row(
            format!("domain {}", name(domain.as_str_name(), "PROBLEM_DOMAIN_")),
            d.counts.unwrap_or_default(),
        ));
    }
    for r in &found.declined_by_reason {
        let reason = pb::DeclineReason::try_from(r.reason).unwrap_or_default();
        let mut cells = vec![json!(null); 11];
        cells[0] = json!(format!(
            "declined: {}",
            name(reason.as_str_name(), "DECLINE_REASON_")
        ));
        cells[3] = suppressible(r.declined);
        table.rows.push(cells);
    }
    show(
        output.format(format),
        &Titled {
            title: format!(
                "consultations for children from {} (counts below 5 withheld; revision {})",
                found.region_id, found.revision
            ),
            table,
        },
    )?;
    Ok(())
}

async fn insights_placement_requests(
    client: &SpilClient,
    args: &PeriodArgs,
    format: Format,
) -> anyhow::Result<()> {
    let PeriodArgs {
        region,
        period,
        output,
    } = args;
    let (from, to) = period.range();
    let found = client
        .insights()
        .placement_request_figures(pb::PlacementRequestFiguresRequest {
            region_id: region.region.clone(),
            from,
            to,
        })
        .await?
        .into_inner();
    let mut table = Table::new(vec![
        "group",
        "asked",
        "answered",
        "accepted",
        "refused",
        "withdrawn",
        "overdue",
        "share_answered_in_time",
        "hours_to_answer_median",
        "hours_to_answer_p90",
    ]);
    let row = |group: String, c: pb::PlacementRequestCounts| {
        vec![
            json!(group),
            suppressible(c.asked),
            suppressible(c.answered),
            suppressible(c.accepted),
            suppressible(c.refused),
            suppressible(c.withdrawn),
            suppressible(c.overdue),
            json!(c.share_answered_in_time),
            json!(c.hours_to_answer_median),
            json!(c.hours_to_answer_p90),
        ]
    };
    table
        .rows
        .push(row("all".into(), found.total.unwrap_or_default()));
    for p in &found.by_provider {
        table.rows.push(row(
            format!("provider {}", p.provider_id),
            p.counts.unwrap_or_default(),
        ));
    }
    for t in &found.by_place_type {
        table.rows.push(row(
            format!("place type {}", place_type(t.place_type)),
            t.counts.unwrap_or_default(),
        ));
    }
    for r in &found.refused_by_reason {
        let reason = pb::PlacementRefusalReason::try_from(r.reason).unwrap_or_default();
        let mut cells = vec![json!(null); 10];
        cells[0] = json!(format!(
            "refused: {}",
            name(reason.as_str_name(), "PLACEMENT_REFUSAL_REASON_")
        ));
        cells[4] = suppressible(r.refused);
        table.rows.push(cells);
    }
    show(
        output.format(format),
        &Titled {
            title: format!(
                "providers asked to take children from {} (counts below 5 withheld; revision {})",
                found.region_id, found.revision
            ),
            table,
        },
    )?;
    let mut discipline = Table::new(vec![
        "provider",
        "offerings",
        "fresh_share",
        "longest_stale_hours",
        "stale_at_end",
    ]);
    for d in &found.update_discipline {
        discipline.rows.push(vec![
            json!(d.provider_id),
            json!(d.offerings),
            json!(d.fresh_share),
            json!(d.longest_stale_hours),
            json!(d.stale_at_end),
        ]);
    }
    show(
        output.format(format),
        &Titled {
            title: "update discipline: the share of offering-hours fresh, the longest \
                    stale stretch (hours, not children: nothing withheld)"
                .into(),
            table: discipline,
        },
    )?;
    Ok(())
}

async fn insights_placements(
    client: &SpilClient,
    args: &PeriodArgs,
    format: Format,
) -> anyhow::Result<()> {
    let PeriodArgs {
        region,
        period,
        output,
    } = args;
    let (from, to) = period.range();
    let found = client
        .insights()
        .placement_figures(pb::PlacementFiguresRequest {
            region_id: region.region.clone(),
            from,
            to,
        })
        .await?
        .into_inner();
    let mut table = Table::new(vec![
        "place_type",
        "made",
        "confirmed",
        "released",
        "expired",
        "active",
        "hours_to_confirm_median",
        "hours_to_confirm_p90",
        "outside_region",
        "outside_province",
    ]);
    for row in &found.rows {
        table.rows.push(vec![
            json!(place_type(row.place_type)),
            suppressible(row.made),
            suppressible(row.confirmed),
            suppressible(row.released),
            suppressible(row.expired),
            suppressible(row.active),
            json!(row.hours_to_confirm_median),
            json!(row.hours_to_confirm_p90),
            suppressible(row.outside_region),
            suppressible(row.outside_province),
        ]);
    }
    let secure = suppressible(found.secure_outside_province);
    show(
        output.format(format),
        &Placements {
            titled: Titled {
                title: format!(
                    "holds for children from {} (revision {}); secure placements outside the province: {}",
                    found.region_id,
                    found.revision,
                    Table::text(&secure)
                ),
                table,
            },
            secure,
        },
    )?;
    Ok(())
}
