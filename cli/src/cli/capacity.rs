//! The capacity registry's commands: search, hold, confirm, release,
//! list holds, publish and watch, each with how its answer prints.

use super::{HoldArgs, PublishArgs, SearchArgs, WatchArgs, request_id, truncate};
use crate::render::{Format, Render, show};
use anyhow::Context;
use serde_json::json;
use spil_client::{SpilClient, pb};
use std::io::Write;

/// `spil hold`: hold one place for a child.
pub(super) async fn hold(client: &SpilClient, h: &HoldArgs) -> anyhow::Result<Holds> {
    let hold = client
        .capacity()
        .hold_place(pb::HoldPlaceRequest {
            request_id: request_id(&h.request_id),
            offering_id: h.offering.clone(),
            child_municipality_code: h.child_municipality.clone(),
            duration: h.minutes.map(|m| prost_types::Duration {
                seconds: m * 60,
                nanos: 0,
            }),
        })
        .await?
        .into_inner()
        .hold;
    Ok(Holds(hold.into_iter().collect()))
}

/// `spil confirm`: the hold becomes a placement.
pub(super) async fn confirm(client: &SpilClient, hold_id: &str) -> anyhow::Result<Holds> {
    let hold = client
        .capacity()
        .confirm_hold(pb::ConfirmHoldRequest {
            hold_id: hold_id.to_owned(),
        })
        .await?
        .into_inner()
        .hold;
    Ok(Holds(hold.into_iter().collect()))
}

/// `spil release`: the hold's place returns at once.
pub(super) async fn release(client: &SpilClient, hold_id: &str) -> anyhow::Result<Holds> {
    let hold = client
        .capacity()
        .release_hold(pb::ReleaseHoldRequest {
            hold_id: hold_id.to_owned(),
        })
        .await?
        .into_inner()
        .hold;
    Ok(Holds(hold.into_iter().collect()))
}

/// `spil holds`: your holds, or the holds on your offerings.
pub(super) async fn holds(client: &SpilClient, states: &[pb::HoldState]) -> anyhow::Result<Holds> {
    let holds = client
        .capacity()
        .list_holds(pb::ListHoldsRequest {
            states: states.iter().map(|s| *s as i32).collect(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .holds;
    Ok(Holds(holds))
}

/// Holds, one line (or JSON object) each.
pub(super) struct Holds(Vec<pb::Hold>);

pub(super) fn expires(h: &pb::Hold) -> Option<chrono::DateTime<chrono::Utc>> {
    h.expires_at
        .map(|t| chrono::DateTime::from_timestamp(t.seconds, 0).unwrap_or_default())
}

impl Render for Holds {
    fn table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for h in &self.0 {
            writeln!(
                out,
                "{}  {:<9} offering {}  child from {}  expires {}",
                h.id,
                crate::wire::kebab(h.state()),
                h.offering_id,
                h.child_municipality_code,
                expires(h).map_or("-".into(), crate::render::local_time),
            )?;
        }
        if self.0.is_empty() {
            writeln!(out, "no holds")?;
        }
        Ok(())
    }

    fn json(&self) -> Vec<serde_json::Value> {
        self.0
            .iter()
            .map(|h| {
                json!({"id": h.id, "offering_id": h.offering_id, "holder_id": h.holder_id, "state": h.state().as_str_name(),
                       "child_municipality_code": h.child_municipality_code, "expires_at": expires(h).map(|e| e.to_rfc3339())})
            })
            .collect()
    }
}

/// `spil search`: places for a child, nearest and freshest first.
pub(super) async fn search(client: &SpilClient, s: &SearchArgs) -> anyhow::Result<Found> {
    let request = pb::SearchPlacesRequest {
        place_types: s.place_types.iter().map(|t| *t as i32).collect(),
        care_profiles: s.care_profiles.iter().map(|p| *p as i32).collect(),
        child_age: s.age,
        child_gender: s.gender.map(|g| g as i32),
        security_level: s.security.map(|l| l as i32),
        region_ids: s.regions.clone(),
        municipality_codes: s.municipalities.clone(),
        child_municipality_code: s.child_municipality.clone().unwrap_or_default(),
        min_free_places: s.min_free,
        include_unavailable: s.all,
        page_size: s.page_size,
        page_token: s.page_token.clone(),
    };
    let found = client.capacity().search_places(request).await?.into_inner();
    Ok(Found { found, all: s.all })
}

/// A page of search results.
pub(super) struct Found {
    found: pb::SearchPlacesResponse,
    /// Stale and full offerings were asked for too.
    all: bool,
}

impl Render for Found {
    fn table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let found = &self.found;
        if found.results.is_empty() {
            return writeln!(
                out,
                "no {}place found (recorded as unmet demand)",
                if self.all { "" } else { "fresh free " }
            );
        }
        writeln!(
            out,
            "{:<36}  {:<22} {:<32} {:<7} {:>5} {:>5} {:>7}  {:<15} STATUS",
            "OFFERING", "TYPE", "LOCATION", "AGES", "FREE", "HELD", "KM", "INTAKE PHONE"
        )?;
        for r in &found.results {
            let o = r.offering.clone().unwrap_or_default();
            let key = o.key.clone().unwrap_or_default();
            let band = key.age_band.unwrap_or_default();
            let location = o.location.clone().unwrap_or_default();
            writeln!(
                out,
                "{:<36}  {:<22} {:<32} {:<7} {:>5} {:>5} {:>7}  {:<15} {}",
                o.id,
                crate::wire::kebab(key.place_type()),
                truncate(&location.name, 32),
                format!("{}-{}", band.min_age, band.max_age),
                format!("{}/{}", o.available_places, o.total_places),
                o.held_places,
                r.distance_km.map_or("-".into(), |d| format!("{d:.1}")),
                if location.intake_phone.is_empty() {
                    "-"
                } else {
                    &location.intake_phone
                },
                if o.freshness() == pb::Freshness::Stale {
                    "STALE".to_string()
                } else {
                    format!("fresh, waiting {}d", o.waiting_days)
                },
            )?;
        }
        writeln!(
            out,
            "{} of {} at revision {}",
            found.results.len(),
            found.total_size,
            found.revision
        )?;
        if !found.next_page_token.is_empty() {
            writeln!(out, "next page: --page-token {}", found.next_page_token)?;
        }
        Ok(())
    }

    fn json(&self) -> Vec<serde_json::Value> {
        let found = &self.found;
        let results: Vec<serde_json::Value> = found
            .results
            .iter()
            .map(|r| {
                let mut value =
                    offering_json(r.offering.as_ref().unwrap_or(&pb::Offering::default()));
                value["distance_km"] = json!(r.distance_km);
                value
            })
            .collect();
        vec![
            json!({"results": results, "total_size": found.total_size, "revision": found.revision, "next_page_token": found.next_page_token}),
        ]
    }
}

/// `spil publish`: new numbers for one of your offerings.
pub(super) async fn publish(
    client: &SpilClient,
    p: &PublishArgs,
) -> anyhow::Result<pb::PublishCapacityResponse> {
    let (min_age, max_age) = p
        .ages
        .split_once('-')
        .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)))
        .context("--ages must look like 12-17")?;
    let update = pb::OfferingUpdate {
        key: Some(pb::OfferingKey {
            location_id: p.location.clone(),
            place_type: p.place_type as i32,
            care_profiles: p.care_profiles.iter().map(|c| *c as i32).collect(),
            age_band: Some(pb::AgeBand { min_age, max_age }),
            gender_policy: p.gender as i32,
            security_level: p.security as i32,
        }),
        intake: (if p.around_the_clock {
            pb::Intake::AroundTheClock
        } else {
            pb::Intake::OfficeHours
        }) as i32,
        lead_time_days: p.lead_time_days,
        total_places: p.total,
        free_places: p.free,
        waiting_days: p.waiting_days,
        observed_at: None,
    };
    Ok(client
        .capacity()
        .publish_capacity(pb::PublishCapacityRequest {
            request_id: request_id(&p.request_id),
            updates: vec![update],
        })
        .await?
        .into_inner())
}

impl Render for pb::PublishCapacityResponse {
    fn table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for o in &self.offerings {
            writeln!(
                out,
                "published offering {} at revision {}: {} of {} available",
                o.id, self.revision, o.available_places, o.total_places
            )?;
        }
        Ok(())
    }

    fn json(&self) -> Vec<serde_json::Value> {
        let offerings: Vec<_> = self.offerings.iter().map(offering_json).collect();
        vec![json!({"revision": self.revision, "offerings": offerings})]
    }
}

/// One message of the capacity watch, a line (or JSON object) per offering.
pub(super) struct Changed<'a>(&'a pb::WatchCapacityResponse);

impl Render for Changed<'_> {
    fn table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let message = self.0;
        for o in &message.offerings {
            let key = o.key.clone().unwrap_or_default();
            writeln!(
                out,
                "rev {:>6}{} {:<28} {:<20} free {}/{} held {} placed {} {}",
                message.revision,
                if message.snapshot { " (snapshot)" } else { "" },
                key.location_id,
                crate::wire::kebab(key.place_type()),
                o.available_places,
                o.total_places,
                o.held_places,
                o.placed_places,
                if o.freshness() == pb::Freshness::Stale {
                    "STALE"
                } else {
                    "fresh"
                },
            )?;
        }
        Ok(())
    }

    fn json(&self) -> Vec<serde_json::Value> {
        let message = self.0;
        message
            .offerings
            .iter()
            .map(|o| {
                let mut value = offering_json(o);
                value["watch_revision"] = json!(message.revision);
                value["snapshot"] = json!(message.snapshot);
                value
            })
            .collect()
    }
}

/// `spil watch`: changes as they commit, resumed after any interruption.
/// A start the hub no longer keeps begins again from a snapshot.
pub(super) async fn watch(
    client: &SpilClient,
    w: &WatchArgs,
    format: Format,
) -> anyhow::Result<()> {
    let snapshot = std::cell::Cell::new(w.snapshot);
    let mut limit = crate::follow::Limit::new(w.limit);
    let open = |last: u64| {
        let snapshot = &snapshot;
        async move {
            loop {
                let request = pb::WatchCapacityRequest {
                    start_revision: last,
                    include_snapshot: snapshot.get(),
                    filter: Some(pb::WatchFilter {
                        region_ids: w.regions.clone(),
                        place_types: w.place_types.iter().map(|t| *t as i32).collect(),
                        location_ids: vec![],
                    }),
                    from_oldest_kept: w.from_oldest && last == 0,
                };
                match client.capacity().watch_capacity(request).await {
                    Err(status) if status.code() == tonic::Code::OutOfRange && !snapshot.get() => {
                        eprintln!("revision {last} is no longer kept; starting from a snapshot");
                        snapshot.set(true);
                    }
                    opened => {
                        if opened.is_ok() {
                            snapshot.set(false);
                        }
                        return opened.map(tonic::Response::into_inner);
                    }
                }
            }
        }
    };
    crate::follow::follow(w.from, open, |message| {
        show(format, &Changed(message))?;
        Ok(limit.go_on())
    })
    .await
}

pub(super) fn offering_json(o: &pb::Offering) -> serde_json::Value {
    let key = o.key.clone().unwrap_or_default();
    let band = key.age_band.unwrap_or_default();
    let location = o.location.clone().unwrap_or_default();
    json!({
        "id": o.id,
        "location_id": key.location_id,
        "location_name": location.name,
        "municipality_code": location.municipality_code,
        "intake_phone": location.intake_phone,
        "region_id": location.region_id,
        "place_type": key.place_type().as_str_name(),
        "care_profiles": key.care_profiles().map(|p| p.as_str_name()).collect::<Vec<_>>(),
        "min_age": band.min_age,
        "max_age": band.max_age,
        "total_places": o.total_places,
        "published_free_places": o.published_free_places,
        "held_places": o.held_places,
        "placed_places": o.placed_places,
        "available_places": o.available_places,
        "waiting_days": o.waiting_days,
        "freshness": o.freshness().as_str_name(),
        "revision": o.revision,
    })
}
