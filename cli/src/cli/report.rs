//! `spil insights report`: one self-contained HTML page a policy officer can
//! hand to the councils: the region's figures for a period, in Dutch, with
//! charts, suppressed cells as "< 5", and the revision they were drawn from.
//! Readable at 360 px, printable, and without serious accessibility faults.

use super::chart::{self, Series, escape};
use super::nl;
use super::timestamp as ts;
use super::trend_charts::{trend_chart, waiting_chart};
use chrono::{DateTime, Duration, Utc};
use spil_client::{SpilClient, pb};
use spil_words::nl::REPORT as R;
use std::fmt::Write;
use std::path::Path;

fn count(c: Option<pb::SuppressibleCount>) -> String {
    match c {
        Some(c) if !c.suppressed => c.value.to_string(),
        _ => "&lt; 5".into(),
    }
}

fn shown(c: Option<pb::SuppressibleCount>) -> Option<f64> {
    c.filter(|c| !c.suppressed).map(|c| f64::from(c.value))
}

fn hours(h: Option<f64>) -> String {
    h.map_or_else(|| "–".into(), |h| format!("{h:.1}").replace('.', ","))
}

fn place_type(value: i32) -> String {
    nl::place_type(value).to_owned()
}

/// An HTML table from a header and rows of already escaped cells, in a box
/// that scrolls sideways on a narrow screen rather than widening the page.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut html = String::from("<div class=\"table\"><table><thead><tr>");
    for h in header {
        let _ = write!(html, "<th scope=\"col\">{h}</th>");
    }
    html.push_str("</tr></thead><tbody>");
    for row in rows {
        html.push_str("<tr>");
        for cell in row {
            let _ = write!(html, "<td>{cell}</td>");
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table></div>");
    html
}

/// The weeks of a period, from `from`; the last may be shorter.
fn weeks(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut out = Vec::new();
    let mut start = from;
    while start < to {
        let end = (start + Duration::weeks(1)).min(to);
        out.push((start, end));
        start = end;
    }
    out
}

/// The figures the report is drawn from, for the whole period.
struct Figures {
    region_name: String,
    province: String,
    capacity: pb::CapacityOverviewResponse,
    trend: pb::CapacityTrendResponse,
    waiting: pb::WaitingTimesResponse,
    unmet: pb::UnmetDemandResponse,
    placements: pb::PlacementFiguresResponse,
    consultations: pb::ConsultationFiguresResponse,
    requests: pb::PlacementRequestFiguresResponse,
}

/// Weekly series for the far-from-home, lead-time and acceptance-duty
/// charts, one value per week (`None` where withheld).
struct Weekly {
    labels: Vec<String>,
    asked: Vec<Option<f64>>,
    refused: Vec<Option<f64>>,
    overdue: Vec<Option<f64>>,
    /// Per week, each provider's share of fresh offering-hours (percent).
    fresh: Vec<Vec<(String, f64)>>,
    outside_region: Vec<Option<f64>>,
    placed: Vec<Option<f64>>,
    to_acceptance: Vec<Option<f64>>,
    to_advice: Vec<Option<f64>>,
}

/// Writes the region's figures for a period as one self-contained HTML page.
pub async fn write_report(
    client: &SpilClient,
    region_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    out: &Path,
) -> anyhow::Result<()> {
    let figures = figures(client, region_id, from, to).await?;
    let weekly = weekly(client, region_id, from, to).await?;
    let mut body = opening(&figures, from, to);
    body.push_str(&capacity_section(&figures.trend, &figures.capacity));
    body.push_str(&waiting_section(&figures.waiting));
    body.push_str(&unmet_section(&figures.unmet));
    body.push_str(&placements_section(&figures.placements, &weekly));
    body.push_str(&consultations_section(&figures.consultations, &weekly));
    body.push_str(&acceptance_duty(
        &figures.requests,
        &weekly.labels,
        [weekly.asked, weekly.refused, weekly.overdue],
        &weekly.fresh,
    ));
    let html = format!(
        "<!DOCTYPE html><html lang=\"nl\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head>\
         <body><main>{body}</main><footer>{footer}</footer>{CHECK}</body></html>",
        title = R
            .page_title
            .replace("{regio}", &escape(&figures.region_name)),
        footer = R.footer,
    );
    std::fs::write(out, html)?;
    Ok(())
}

/// The region's figures over the period.
async fn figures(
    client: &SpilClient,
    region_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> anyhow::Result<Figures> {
    let insights = || client.insights();
    let regions = client
        .directory()
        .list_regions(pb::ListRegionsRequest {})
        .await?
        .into_inner()
        .regions;
    let region = regions
        .iter()
        .find(|r| r.id == region_id)
        .ok_or_else(|| anyhow::anyhow!("unknown region {region_id}"))?;
    let period = (Some(ts(from)), Some(ts(to)));
    let capacity = insights()
        .capacity_overview(pb::CapacityOverviewRequest {
            region_id: region_id.into(),
            as_of: Some(ts(to)),
            ..Default::default()
        })
        .await?
        .into_inner();
    let trend = insights()
        .capacity_trend(pb::CapacityTrendRequest {
            region_id: region_id.into(),
            from: period.0,
            to: period.1,
            bucket: pb::Bucket::Week as i32,
        })
        .await?
        .into_inner();
    let waiting = insights()
        .waiting_times(pb::WaitingTimesRequest {
            region_id: region_id.into(),
            as_of: Some(ts(to)),
            from: period.0,
            to: period.1,
        })
        .await?
        .into_inner();
    let unmet = insights()
        .unmet_demand(pb::UnmetDemandRequest {
            region_id: region_id.into(),
            from: period.0,
            to: period.1,
        })
        .await?
        .into_inner();
    let placements = insights()
        .placement_figures(pb::PlacementFiguresRequest {
            region_id: region_id.into(),
            from: period.0,
            to: period.1,
        })
        .await?
        .into_inner();
    let consultations = insights()
        .consultation_figures(pb::ConsultationFiguresRequest {
            region_id: region_id.into(),
            from: period.0,
            to: period.1,
        })
        .await?
        .into_inner();
    let requests = insights()
        .placement_request_figures(pb::PlacementRequestFiguresRequest {
            region_id: region_id.into(),
            from: period.0,
            to: period.1,
        })
        .await?
        .into_inner();
    Ok(Figures {
        region_name: region.name.clone(),
        province: region.province.clone(),
        capacity,
        trend,
        waiting,
        unmet,
        placements,
        consultations,
        requests,
    })
}

/// The weekly series, a call per figure and week.
async fn weekly(
    client: &SpilClient,
    region_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> anyhow::Result<Weekly> {
    let insights = || client.insights();
    let mut asked_weekly = Vec::new();
    // Per week, each provider's share of fresh offering-hours (percent).
    let mut fresh_weekly: Vec<Vec<(String, f64)>> = Vec::new();
    let mut refused_weekly = Vec::new();
    let mut overdue_weekly = Vec::new();
    let mut week_labels = Vec::new();
    let mut outside_region = Vec::new();
    let mut placed = Vec::new();
    let mut to_acceptance = Vec::new();
    let mut to_advice = Vec::new();
    for (start, end) in weeks(from, to) {
        week_labels.push(start.format("%d-%m").to_string());
        let week = insights()
            .placement_figures(pb::PlacementFiguresRequest {
                region_id: region_id.into(),
                from: Some(ts(start)),
                to: Some(ts(end)),
            })
            .await?
            .into_inner();
        let sum: Option<f64> = week
            .rows
            .iter()
            .map(|r| shown(r.outside_region))
            .sum::<Option<f64>>();
        outside_region.push(sum);
        placed.push(
            week.rows
                .iter()
                .map(|r| shown(r.confirmed))
                .sum::<Option<f64>>(),
        );
        let lead = insights()
            .consultation_figures(pb::ConsultationFiguresRequest {
                region_id: region_id.into(),
                from: Some(ts(start)),
                to: Some(ts(end)),
            })
            .await?
            .into_inner()
            .total
            .unwrap_or_default();
        to_acceptance.push(lead.hours_to_acceptance_median);
        to_advice.push(lead.hours_to_advice_median);
        let week_requests = insights()
            .placement_request_figures(pb::PlacementRequestFiguresRequest {
                region_id: region_id.into(),
                from: Some(ts(start)),
                to: Some(ts(end)),
            })
            .await?
            .into_inner();
        fresh_weekly.push(
            week_requests
                .update_discipline
                .iter()
                .map(|d| (d.provider_id.clone(), d.fresh_share * 100.0))
                .collect::<Vec<_>>(),
        );
        let asked = week_requests.total.unwrap_or_default();
        asked_weekly.push(shown(asked.asked));
        refused_weekly.push(shown(asked.refused));
        overdue_weekly.push(shown(asked.overdue));
    }
    Ok(Weekly {
        labels: week_labels,
        asked: asked_weekly,
        refused: refused_weekly,
        overdue: overdue_weekly,
        fresh: fresh_weekly,
        outside_region,
        placed,
        to_acceptance,
        to_advice,
    })
}

/// The title, the period and the key figures.
fn opening(figures: &Figures, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let mut body = String::new();
    let total = figures.consultations.total.unwrap_or_default();
    let _ = write!(
        body,
        "<h1>{title}</h1><p class=\"meta\">{meta}</p>",
        title = R.title.replace("{regio}", &escape(&figures.region_name)),
        meta = R
            .meta
            .replace("{provincie}", &escape(&figures.province))
            .replace("{van}", &from.format("%d-%m-%Y").to_string())
            .replace("{tot}", &to.format("%d-%m-%Y").to_string())
            .replace("{revisie}", &figures.capacity.revision.to_string())
            .replace("{moment}", &crate::render::local_time(to)),
    );
    let places: u32 = figures
        .capacity
        .figures
        .iter()
        .map(|f| f.total_places)
        .sum();
    let free: u32 = figures.capacity.figures.iter().map(|f| f.free_places).sum();
    // A withheld median is said in words, never as a dash in a sentence.
    let advice = total.hours_to_advice_median.map_or_else(
        || R.advice_withheld.to_owned(),
        |h| R.advice_after.replace("{uren}", &hours(Some(h))),
    );
    let _ = write!(
        body,
        "<section class=\"kpis\" aria-label=\"{label}\">\
         <div><b>{places}</b>{places_text}</div>\
         <div><b>{secure}</b>{secure_text}</div>\
         <div><b>{filed}</b>{filed_text}</div>\
         </section>",
        label = R.key_figures,
        places_text = R.places_at_end.replace("{vrij}", &free.to_string()),
        secure = count(figures.placements.secure_outside_province),
        secure_text = R.secure_outside_province,
        filed = count(total.filed),
        filed_text = R.consultations_with.replace("{advies}", &advice),
    );
    body
}

/// Places per type over the period and as it ends.
fn capacity_section(
    trend: &pb::CapacityTrendResponse,
    capacity: &pb::CapacityOverviewResponse,
) -> String {
    let mut html = String::new();
    html.push_str(&format!("<h2>{}</h2>", R.capaciteit_per_soort_plek));
    html.push_str(&trend_chart(trend, R.places_chart_title, R.plaatsen, |f| {
        f.total_places
    }));
    html.push_str(&trend_chart(
        trend,
        R.free_chart_title,
        R.vrije_plaatsen,
        |f| f.free_places,
    ));
    let rows: Vec<Vec<String>> = capacity
        .figures
        .iter()
        .map(|f| {
            vec![
                place_type(f.place_type),
                f.offerings.to_string(),
                f.total_places.to_string(),
                f.free_places.to_string(),
                format!("{:.0} %", f.stale_share * 100.0),
            ]
        })
        .collect();
    html.push_str(&table(
        &[R.soort_plek, R.aanbod, R.plaatsen, R.vrij, R.verouderd],
        &rows,
    ));
    html
}

/// Published waiting times.
fn waiting_section(waiting: &pb::WaitingTimesResponse) -> String {
    let mut html = String::new();
    html.push_str(&format!("<h2>{}</h2>", R.wachttijden));
    html.push_str(&waiting_chart(waiting, R.waiting_chart_title));
    let rows: Vec<Vec<String>> = waiting
        .figures
        .iter()
        .map(|f| {
            vec![
                place_type(f.place_type),
                nl::care_profile(f.care_profile).to_owned(),
                hours(f.median_days),
                f.max_days.map_or_else(|| "–".into(), |d| d.to_string()),
                f.offerings_without_figure.to_string(),
            ]
        })
        .collect();
    html.push_str(&table(
        &[
            R.soort_plek,
            R.zorgprofiel,
            R.mediaan_dagen,
            R.hoogste_dagen,
            R.zonder_actueel_cijfer,
        ],
        &rows,
    ));
    html
}

/// Searches that found no fresh free place, per week, the biggest gaps.
fn unmet_section(unmet: &pb::UnmetDemandResponse) -> String {
    let mut html = String::new();
    html.push_str(&format!("<h2>{}</h2>", R.onvervulde_vraag));
    let unmet_series = Series {
        name: R.unmet_series.into(),
        values: unmet.weeks.iter().map(|w| shown(w.searches)).collect(),
    };
    let unmet_labels: Vec<String> = unmet
        .weeks
        .iter()
        .map(|w| {
            w.start
                .and_then(|t| DateTime::from_timestamp(t.seconds, 0))
                .map(|t| t.format("%d-%m").to_string())
                .unwrap_or_default()
        })
        .collect();
    html.push_str(&chart::line_chart(
        R.unmet_chart_title,
        R.zoekvragen,
        &unmet_labels,
        &[unmet_series],
    ));
    let rows: Vec<Vec<String>> = unmet
        .weeks
        .iter()
        .zip(&unmet_labels)
        .flat_map(|(w, week)| {
            w.gaps.iter().take(3).map(move |g| {
                vec![
                    week.clone(),
                    place_type(g.place_type),
                    g.age_band
                        .map_or_else(|| "–".into(), |b| format!("{}–{}", b.min_age, b.max_age)),
                    escape(&g.child_municipality_code),
                    count(g.searches),
                ]
            })
        })
        .collect();
    html.push_str(&table(
        &[
            R.week,
            R.soort_plek,
            R.leeftijden,
            R.woongemeente_kind,
            R.zoekvragen,
        ],
        &rows,
    ));
    html
}

/// Placements, and how many were far from home.
fn placements_section(placements: &pb::PlacementFiguresResponse, weekly: &Weekly) -> String {
    let mut html = String::new();
    html.push_str(&format!("<h2>{}</h2>", R.plaatsingen_en_afstand_tot_thuis));
    html.push_str(&chart::line_chart(
        R.placements_chart_title,
        R.plaatsingen,
        &weekly.labels,
        &[
            Series {
                name: R.plaatsingen.into(),
                values: weekly.placed.clone(),
            },
            Series {
                name: R.buiten_de_regio_van_het_kind.into(),
                values: weekly.outside_region.clone(),
            },
        ],
    ));
    let rows: Vec<Vec<String>> = placements
        .rows
        .iter()
        .map(|r| {
            vec![
                place_type(r.place_type),
                count(r.made),
                count(r.confirmed),
                count(r.released),
                count(r.expired),
                hours(r.hours_to_confirm_median),
                count(r.outside_region),
                count(r.outside_province),
            ]
        })
        .collect();
    html.push_str(&table(
        &[
            R.soort_plek,
            R.vastgehouden,
            R.geplaatst,
            R.vrijgegeven,
            R.verlopen,
            R.uren_tot_bevestiging_mediaan,
            R.buiten_de_regio,
            R.buiten_de_provincie,
        ],
        &rows,
    ));
    html
}

/// Consultations: lead times per week, outcomes per urgency.
fn consultations_section(
    consultations: &pb::ConsultationFiguresResponse,
    weekly: &Weekly,
) -> String {
    let mut html = String::new();
    html.push_str(&format!("<h2>{}</h2>", R.consultaties));
    html.push_str(&chart::line_chart(
        R.consultation_chart_title,
        R.uren,
        &weekly.labels,
        &[
            Series {
                name: R.tot_acceptatie.into(),
                values: weekly.to_acceptance.clone(),
            },
            Series {
                name: R.tot_advies.into(),
                values: weekly.to_advice.clone(),
            },
        ],
    ));
    let total = consultations.total.unwrap_or_default();
    let mut groups = vec![(R.alle.to_owned(), total)];
    groups.extend(consultations.by_urgency.iter().map(|u| {
        (
            R.urgency_group
                .replace("{urgentie}", nl::urgency(u.urgency)),
            u.counts.unwrap_or_default(),
        )
    }));
    let rows: Vec<Vec<String>> = groups
        .into_iter()
        .map(|(group, c)| {
            vec![
                group,
                count(c.filed),
                count(c.accepted),
                count(c.declined),
                count(c.escalated),
                count(c.advised),
                count(c.overdue),
                hours(c.hours_to_acceptance_median),
                hours(c.hours_to_advice_median),
            ]
        })
        .collect();
    html.push_str(&table(
        &[
            R.groep,
            R.ingediend,
            R.geaccepteerd,
            R.afgewezen,
            R.opgeschaald,
            R.geadviseerd,
            R.te_laat,
            R.uren_tot_acceptatie,
            R.uren_tot_advies,
        ],
        &rows,
    ));
    html
}

/// The "Acceptatieplicht" section: what providers answered when asked to
/// take the region's children, refusals by reason, the providers with the
/// most refusals and the slowest answers (suppressed where small), and how
/// each provider kept its figures fresh.
fn acceptance_duty(
    figures: &pb::PlacementRequestFiguresResponse,
    week_labels: &[String],
    [asked, refused, overdue]: [Vec<Option<f64>>; 3],
    fresh_weekly: &[Vec<(String, f64)>],
) -> String {
    let mut html = format!("<h2>{}</h2>", R.acceptatieplicht);
    html.push_str(&chart::line_chart(
        R.requests_chart_title,
        R.verzoeken,
        week_labels,
        &[
            Series {
                name: R.gevraagd.into(),
                values: asked,
            },
            Series {
                name: R.geweigerd.into(),
                values: refused,
            },
            Series {
                name: R.niet_op_tijd_beantwoord.into(),
                values: overdue,
            },
        ],
    ));
    let total = figures.total.unwrap_or_default();
    let share = |c: &pb::PlacementRequestCounts| {
        c.share_answered_in_time
            .map_or_else(|| "–".into(), |s| format!("{:.0} %", s * 100.0))
    };
    let reasons: Vec<Vec<String>> = figures
        .refused_by_reason
        .iter()
        .map(|r| vec![nl::refusal_reason(r.reason).to_owned(), count(r.refused)])
        .collect();
    html.push_str(&table(&[R.reden_van_weigeren, R.weigeringen], &reasons));
    // Most refusals first, then the slowest answers; withheld rows last.
    let mut providers: Vec<&pb::ProviderPlacementRequests> = figures.by_provider.iter().collect();
    providers.sort_by(|a, b| {
        let key = |p: &pb::ProviderPlacementRequests| {
            let c = p.counts.unwrap_or_default();
            (
                shown(c.refused).unwrap_or(-1.0),
                c.hours_to_answer_median.unwrap_or(-1.0),
            )
        };
        key(b)
            .partial_cmp(&key(a))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut rows = vec![{
        let c = total;
        vec![
            R.alle_aanbieders.to_owned(),
            count(c.asked),
            count(c.accepted),
            count(c.refused),
            count(c.overdue),
            share(&c),
            hours(c.hours_to_answer_median),
        ]
    }];
    rows.extend(providers.iter().map(|p| {
        let c = p.counts.unwrap_or_default();
        vec![
            escape(&p.provider_id),
            count(c.asked),
            count(c.accepted),
            count(c.refused),
            count(c.overdue),
            share(&c),
            hours(c.hours_to_answer_median),
        ]
    }));
    html.push_str(&table(
        &[
            R.aanbieder,
            R.gevraagd,
            R.opgenomen,
            R.geweigerd,
            R.niet_op_tijd_beantwoord,
            R.op_tijd_beantwoord,
            R.uren_tot_antwoord_mediaan,
        ],
        &rows,
    ));
    html.push_str(&update_discipline(
        &figures.update_discipline,
        week_labels,
        fresh_weekly,
    ));
    html
}

/// How each provider kept its figures fresh: the share of fresh hours per
/// week as a chart, and over the period as a table.
fn update_discipline(
    discipline: &[pb::UpdateDiscipline],
    week_labels: &[String],
    fresh_weekly: &[Vec<(String, f64)>],
) -> String {
    let mut html = String::new();
    let rows: Vec<Vec<String>> = discipline
        .iter()
        .map(|d| {
            vec![
                escape(&d.provider_id),
                d.offerings.to_string(),
                format!("{:.0} %", d.fresh_share * 100.0),
                hours(Some(d.longest_stale_hours)),
                d.stale_at_end.to_string(),
            ]
        })
        .collect();
    html.push_str(&format!(
        "<h3>{}</h3><p>{}</p>",
        R.actualiteit_van_het_aanbod, R.discipline_explained
    ));
    let mut providers: Vec<&str> = fresh_weekly
        .iter()
        .flatten()
        .map(|(provider, _)| provider.as_str())
        .collect();
    providers.sort_unstable();
    providers.dedup();
    let series: Vec<Series> = providers
        .into_iter()
        .map(|provider| Series {
            name: provider.to_owned(),
            values: fresh_weekly
                .iter()
                .map(|week| {
                    week.iter()
                        .find(|(p, _)| p == provider)
                        .map(|(_, share)| *share)
                })
                .collect(),
        })
        .collect();
    html.push_str(&chart::line_chart(
        R.fresh_chart_title,
        R.percent_fresh,
        week_labels,
        &series,
    ));
    html.push_str(&table(
        &[
            R.aanbieder,
            R.aanbod,
            R.vers,
            R.langst_verouderd_uren,
            R.nu_verouderd,
        ],
        &rows,
    ));
    html
}

// Text at 4.5:1 contrast or more; tables scroll inside their box on a
// phone; charts scale down; print keeps headings with what follows and
// charts and table rows whole.
const STYLE: &str = "body{font-family:sans-serif;max-width:800px;margin:2em auto;padding:0 .75em;color:#222}\
h1{font-size:1.6em;overflow-wrap:anywhere}h2{margin-top:2em;border-bottom:1px solid #ccc;page-break-after:avoid}\
h3{page-break-after:avoid}.meta{color:#4d4d4d}.kpis{display:flex;flex-wrap:wrap;gap:1em}\
.kpis div{flex:1 1 12em;border:1px solid #ccc;padding:.6em}.kpis b{display:block;font-size:1.6em}\
.table{overflow-x:auto}table{border-collapse:collapse;width:100%;margin:1em 0}\
th,td{border-bottom:1px solid #ddd;padding:.25em .4em;text-align:left}tr{page-break-inside:avoid}\
svg.chart{display:block;max-width:100%;height:auto;page-break-inside:avoid}\
footer{margin-top:3em;color:#4d4d4d;font-size:.9em}\
@media print{body{margin:0;max-width:none}.table{overflow:visible}}";

/// Marks the page once every chart has drawn, so a headless browser (and
/// CI) can tell a complete report from a broken one.
const CHECK: &str = "<script>window.addEventListener('load',function(){var c=document.querySelectorAll('svg.chart');\
var ok=Array.prototype.every.call(c,function(s){var b=s.getBBox();return b.width>0&&b.height>0&&s.querySelector('text');});\
document.body.setAttribute('data-charts',(ok?'ok ':'broken ')+c.length);});</script>";
