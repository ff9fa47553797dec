//! `spil place …`: placement requests. A crisis service asks the providers
//! of up to three held places to take a child; a provider accepts or
//! refuses with a reason; a case nobody takes goes to the expertise team.

use crate::render::{Format, Render, show};
use crate::wire::{kebab, wire};
use clap::Subcommand;
use serde_json::json;
use spil_client::{SpilClient, pb};
use std::io::Write;

#[derive(Debug, Subcommand)]
pub enum PlaceCommand {
    /// Ask the providers of your holds (one to three) to take the child.
    Request(RequestArgs),
    /// Requests you sent (crisis service) or received (provider), newest first.
    List,
    /// One request, as you may see it.
    Show { id: String },
    /// Take the child (provider): the hold becomes the placement.
    Accept {
        /// Your provider request's id (the second column of `list`).
        provider_request_id: String,
    },
    /// Refuse, with one of the grounded reasons (provider); the hold is released.
    Refuse {
        provider_request_id: String,
        #[arg(long, value_parser = wire::<pb::PlacementRefusalReason>())]
        reason: pb::PlacementRefusalReason,
        /// Required with `--reason other`; never a BSN.
        #[arg(long, default_value = "")]
        note: String,
        /// Refer the family on to another provider's offering.
        #[arg(long = "refer")]
        referral_offering: Option<String>,
    },
    /// Withdraw every open provider request and release their holds.
    Withdraw { id: String },
    /// Hand the case to your region's expertise team, with its refusals.
    Escalate { id: String },
    /// Follow your requests as they change: a provider sees them arrive,
    /// a crisis service sees the answers. Resumes after any interruption.
    Watch {
        /// Resume after this revision (0: from now).
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Stop after this many changes.
        #[arg(long)]
        limit: Option<usize>,
    },
}

#[derive(Debug, clap::Args)]
pub struct RequestArgs {
    /// A hold of yours; up to three, on different offerings.
    #[arg(long = "hold", required = true)]
    holds: Vec<String>,
    /// Your pseudonymous case reference (never a BSN or a name).
    #[arg(long = "case")]
    case_reference: String,
    #[arg(long)]
    age: u32,
    #[arg(long = "care-profile", required = true, value_parser = wire::<pb::CareProfile>())]
    care_profiles: Vec<pb::CareProfile>,
    #[arg(long, value_parser = wire::<pb::SecurityLevel>(), default_value = "open")]
    security: pb::SecurityLevel,
    #[arg(long, value_parser = wire::<pb::PlacementUrgency>())]
    urgency: pb::PlacementUrgency,
    /// A short note for the provider; never a BSN.
    #[arg(long, default_value = "")]
    note: String,
    /// The family consented to sharing this case (required).
    #[arg(long)]
    consent: bool,
    /// Idempotency key; a retry with the same key returns the same request.
    #[arg(long)]
    request_id: Option<String>,
}

pub async fn place(
    client: &SpilClient,
    person: &str,
    command: &PlaceCommand,
    format: Format,
) -> anyhow::Result<()> {
    let mut placements = client.placements(person);
    let answer = match command {
        PlaceCommand::Request(r) => placements
            .request_placement(pb::RequestPlacementRequest {
                request_id: r
                    .request_id
                    .clone()
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                hold_ids: r.holds.clone(),
                case_reference: r.case_reference.clone(),
                age_years: r.age,
                care_profiles: r.care_profiles.iter().map(|p| *p as i32).collect(),
                security_level: r.security as i32,
                urgency: r.urgency as i32,
                note: r.note.clone(),
                consent_recorded: r.consent,
            })
            .await?
            .into_inner()
            .placement_request
            .into_iter()
            .collect(),
        PlaceCommand::List => {
            placements
                .list_placement_requests(pb::ListPlacementRequestsRequest::default())
                .await?
                .into_inner()
                .placement_requests
        }
        PlaceCommand::Show { id } => placements
            .get_placement_request(pb::GetPlacementRequestRequest {
                placement_request_id: id.clone(),
            })
            .await?
            .into_inner()
            .placement_request
            .into_iter()
            .collect(),
        PlaceCommand::Accept {
            provider_request_id,
        } => placements
            .answer_placement_request(pb::AnswerPlacementRequestRequest {
                provider_request_id: provider_request_id.clone(),
                accept: true,
                ..Default::default()
            })
            .await?
            .into_inner()
            .placement_request
            .into_iter()
            .collect(),
        PlaceCommand::Refuse {
            provider_request_id,
            reason,
            note,
            referral_offering,
        } => placements
            .answer_placement_request(pb::AnswerPlacementRequestRequest {
                provider_request_id: provider_request_id.clone(),
                accept: false,
                refusal_reason: *reason as i32,
                refusal_note: note.clone(),
                referral_offering_id: referral_offering.clone().unwrap_or_default(),
            })
            .await?
            .into_inner()
            .placement_request
            .into_iter()
            .collect(),
        PlaceCommand::Withdraw { id } => placements
            .withdraw_placement_request(pb::WithdrawPlacementRequestRequest {
                placement_request_id: id.clone(),
            })
            .await?
            .into_inner()
            .placement_request
            .into_iter()
            .collect(),
        PlaceCommand::Watch { from, limit } => {
            let mut limit = crate::follow::Limit::new(*limit);
            return crate::follow::follow(
                *from,
                |last| async move {
                    client
                        .placements(person)
                        .watch_placement_requests(pb::WatchPlacementRequestsRequest {
                            start_revision: last,
                            from_oldest_kept: false,
                        })
                        .await
                        .map(tonic::Response::into_inner)
                },
                |change| {
                    show(
                        format,
                        &Requests(change.placement_request.clone().into_iter().collect()),
                    )?;
                    Ok(limit.go_on())
                },
            )
            .await;
        }
        PlaceCommand::Escalate { id } => {
            let escalated = placements
                .escalate_placement_case(pb::EscalatePlacementCaseRequest {
                    placement_request_id: id.clone(),
                })
                .await?
                .into_inner();
            return show(format, &Escalated(escalated));
        }
    };
    show(format, &Requests(answer))
}

struct Requests(Vec<pb::PlacementRequest>);

fn at(t: &Option<prost_types::Timestamp>) -> String {
    crate::render::local_timestamp(t)
}

/// For scripts: UTC, RFC 3339.
fn utc(t: &Option<prost_types::Timestamp>) -> Option<String> {
    t.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
        .map(|t| t.to_rfc3339())
}

impl Render for Requests {
    fn table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for r in &self.0 {
            writeln!(
                out,
                "{}  case {}  age {}  from {}  {}  answer due {}  by {}",
                r.id,
                r.case_reference,
                r.age_years,
                r.child_municipality_code,
                kebab(r.urgency()),
                at(&r.answer_due),
                r.requester_id,
            )?;
            let needs: Vec<String> = r.care_profiles().map(kebab).collect();
            writeln!(
                out,
                "  needs {} ({}){}",
                needs.join(", "),
                kebab(r.security_level()),
                if r.note.is_empty() {
                    String::new()
                } else {
                    format!("; note: {}", r.note)
                }
            )?;
            for p in &r.provider_requests {
                let mut line = format!(
                    "  {}  {:<9} {}  offering {}",
                    p.id,
                    kebab(p.state()),
                    p.provider_id,
                    p.offering_id
                );
                if p.refusal_reason() != pb::PlacementRefusalReason::Unspecified {
                    line.push_str(&format!("  reason {}", kebab(p.refusal_reason())));
                }
                if !p.referral_offering_id.is_empty() {
                    line.push_str(&format!("  referred to {}", p.referral_offering_id));
                }
                writeln!(out, "{line}")?;
            }
        }
        if self.0.is_empty() {
            writeln!(out, "no placement requests")?;
        }
        Ok(())
    }

    fn json(&self) -> Vec<serde_json::Value> {
        self.0
            .iter()
            .map(|r| {
                let parts: Vec<serde_json::Value> = r
                    .provider_requests
                    .iter()
                    .map(|p| {
                        json!({"id": p.id, "provider_id": p.provider_id, "offering_id": p.offering_id,
                               "hold_id": p.hold_id, "state": p.state().as_str_name(),
                               "refusal_reason": p.refusal_reason().as_str_name(),
                               "refusal_note": p.refusal_note, "referral_offering_id": p.referral_offering_id})
                    })
                    .collect();
                json!({"id": r.id, "requester_id": r.requester_id, "case_reference": r.case_reference,
                       "age_years": r.age_years, "child_municipality_code": r.child_municipality_code,
                       "urgency": r.urgency().as_str_name(), "note": r.note,
                       "answer_due": utc(&r.answer_due), "provider_requests": parts})
            })
            .collect()
    }
}

struct Escalated(pb::EscalatePlacementCaseResponse);

impl Render for Escalated {
    fn table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(
            out,
            "consultation {} filed with {}",
            self.0.consultation_id, self.0.expertise_team_id
        )
    }

    fn json(&self) -> Vec<serde_json::Value> {
        vec![json!({"consultation_id": self.0.consultation_id,
                    "expertise_team_id": self.0.expertise_team_id})]
    }
}
