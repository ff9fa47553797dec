//! Capacity use-cases: locations, publications and search, with the
//! ownership rules the role table cannot express.

use super::{AppError, FieldViolation, Page, RegistryUseCases, Seen};
use crate::domain::authz::Action;
use crate::domain::capacity::{
    Intake, Location, LocationSpec, Offering, OfferingKey, OfferingUpdate, PlaceCounts, RequestId,
    Revision,
};
use crate::domain::identity::{Caller, OrgId};
use crate::domain::search::{SearchFilter, rank_page};
use crate::store::PublishOutcome;
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Clock skew tolerated on a provider's `observed_at`.
const MAX_OBSERVED_SKEW: Duration = Duration::minutes(5);

/// One offering update as sent: `observed_at` may be absent (meaning "now").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UpdateRequest {
    pub key: OfferingKey,
    pub intake: Intake,
    pub lead_time_days: u32,
    pub counts: PlaceCounts,
    pub waiting_days: u32,
    pub observed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PublishRequest {
    pub request_id: RequestId,
    pub updates: Vec<UpdateRequest>,
}

impl PublishRequest {
    /// Identifies the request's parameters, to tell a retry from a reuse.
    fn fingerprint(&self) -> String {
        hex::encode(Sha256::digest(format!("{:?}", self.updates)))
    }
}

/// Bounds on when an offering was last published, each inclusive or not.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PublishedWithin {
    pub after: Option<(DateTime<Utc>, bool)>,
    pub before: Option<(DateTime<Utc>, bool)>,
}

impl PublishedWithin {
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        let after = self
            .after
            .is_none_or(|(bound, inclusive)| at > bound || (inclusive && at == bound));
        let before = self
            .before
            .is_none_or(|(bound, inclusive)| at < bound || (inclusive && at == bound));
        after && before
    }
}

/// One search result: the offering and its distance from the child's home.
#[derive(Debug, Clone)]
pub struct SearchHit {
    pub offering: Offering,
    pub distance_km: Option<f64>,
}

/// One page of search results.
#[derive(Debug, Clone)]
pub struct SearchPage {
    pub results: Vec<SearchHit>,
    pub next_page_token: String,
    pub total_size: usize,
    pub revision: Revision,
    /// The moment the results were ranked at, and are shown at.
    pub at: DateTime<Utc>,
}

impl RegistryUseCases {
    /// The region an unmet search counts for: the child's municipality's,
    /// or else the one region searched in; none for a wider search.
    fn unmet_demand_region(&self, filter: &SearchFilter) -> Option<String> {
        let directory = self.directory();
        filter
            .child_municipality
            .as_ref()
            .and_then(|code| directory.municipalities.get(code.as_str()))
            .map(|m| m.region_id.clone())
            .or_else(|| match filter.region_ids.as_slice() {
                [only] => Some(only.clone()),
                _ => None,
            })
    }

    /// Per place type (every type, zeros too), as the registry stands now:
    /// (offerings, those whose publication is too old to show as free).
    pub async fn stale_offerings(
        &self,
    ) -> Result<Vec<(crate::domain::capacity::PlaceType, u64, u64)>, AppError> {
        use crate::domain::capacity::{Freshness, PlaceType};
        let now = self.clock.now();
        let revision = self.store.current_revision().await?;
        self.view.catch_up(&self.store, revision, now).await?;
        Ok(self.view.read(&[], |offerings| {
            let mut counts: Vec<(PlaceType, u64, u64)> =
                PlaceType::ALL.iter().map(|&t| (t, 0, 0)).collect();
            for offering in offerings {
                if let Some(count) = counts
                    .iter_mut()
                    .find(|(t, _, _)| *t == offering.key.place_type)
                {
                    count.1 += 1;
                    if offering.freshness(&self.settings.freshness, now) == Freshness::Stale {
                        count.2 += 1;
                    }
                }
            }
            counts
        }))
    }

    pub async fn upsert_location(
        &self,
        caller: &Caller,
        spec: LocationSpec,
    ) -> Result<(Location, bool), AppError> {
        self.authorise(caller, Action::UpsertLocation)?;
        if !self
            .directory()
            .municipalities
            .contains_key(spec.municipality.as_str())
        {
            return Err(AppError::invalid(
                "location.municipality_code",
                format!("unknown municipality {}", spec.municipality.as_str()),
            ));
        }
        Ok(self
            .store
            .upsert_location(&caller.org.id, &spec, self.clock.now())
            .await?)
    }

    /// Providers see their own locations; other permitted roles see all or one provider's.
    pub async fn list_locations(
        &self,
        caller: &Caller,
        provider: Option<OrgId>,
        page: &Page,
    ) -> Result<(Vec<Location>, String), AppError> {
        let scope = self.scope(caller, Action::ListLocations)?;
        let only_own = !scope.everything;
        let provider = match (only_own, provider) {
            (true, Some(other)) if other != caller.org.id => {
                return Err(AppError::PermissionDenied(
                    "a provider sees only its own locations".into(),
                ));
            }
            (true, _) => Some(caller.org.id.clone()),
            (false, provider) => provider,
        };
        let scope = format!("locations:{}", provider.as_ref().map_or("", |p| p.as_str()));
        let after = if page.token.is_empty() {
            None
        } else {
            Some(self.pages.decode(&scope, &page.token)?)
        };
        let locations = self
            .store
            .list_locations(provider.as_ref(), after.as_deref(), page.size as u64 + 1)
            .await?;
        let mut locations = locations;
        let next = if locations.len() > page.size {
            locations.truncate(page.size);
            let last = locations.last().expect("page size is at least 1");
            self.pages.encode(&scope, last.id.as_str())
        } else {
            String::new()
        };
        Ok((locations, next))
    }

    /// One location, to whoever may list it: a provider only its own.
    pub async fn location(&self, caller: &Caller, id: &str) -> Result<Location, AppError> {
        let scope = self.scope(caller, Action::ListLocations)?;
        let location = self
            .store
            .location(id)
            .await?
            .filter(|l| scope.everything || l.provider_id == caller.org.id)
            .ok_or_else(|| AppError::NotFound(format!("location {id} not found")))?;
        Ok(location)
    }

    /// Publishes a provider's numbers for its own locations, all or nothing.
    pub async fn publish(
        &self,
        caller: &Caller,
        request: PublishRequest,
    ) -> Result<Seen<PublishOutcome>, AppError> {
        self.authorise(caller, Action::PublishCapacity)?;
        let now = self.clock.now();
        let mut violations = Vec::new();
        let mut first_index: HashMap<&OfferingKey, usize> = HashMap::new();
        for (i, update) in request.updates.iter().enumerate() {
            if let Some(j) = first_index.insert(&update.key, i) {
                violations.push(FieldViolation::new(
                    format!("updates[{i}].key"),
                    format!("the same offering as updates[{j}]"),
                ));
            }
            if update
                .observed_at
                .is_some_and(|at| at > now + MAX_OBSERVED_SKEW)
            {
                violations.push(FieldViolation::new(
                    format!("updates[{i}].observed_at"),
                    "must not be in the future",
                ));
            }
        }
        if !violations.is_empty() {
            return Err(AppError::Invalid(violations));
        }

        // Whether each location exists and is the caller's is decided by
        // the store under the registry lock (`hold::Refusal::NotOwner`).
        let fingerprint = request.fingerprint();
        let updates: Vec<OfferingUpdate> = request
            .updates
            .into_iter()
            .map(|u| OfferingUpdate {
                key: u.key,
                intake: u.intake,
                lead_time_days: u.lead_time_days,
                counts: u.counts,
                waiting_days: u.waiting_days,
                observed_at: u.observed_at.unwrap_or(now).min(now),
            })
            .collect();
        let outcome = self
            .store
            .publish(
                &caller.org.id,
                request.request_id.as_str(),
                &fingerprint,
                &updates,
                now,
            )
            .await?;
        crate::metrics::metrics()
            .publications
            .inc_by(updates.len() as u64);
        Ok(Seen {
            value: outcome,
            at: now,
        })
    }

    /// Searches offerings; records unmet demand when nothing fresh and free turned up.
    pub async fn search(
        &self,
        caller: &Caller,
        filter: SearchFilter,
        page: &Page,
    ) -> Result<SearchPage, AppError> {
        self.authorise(caller, Action::SearchPlaces)?;
        let child_home = self.check_places(&filter)?;
        // A token belongs to one query: its scope is the filter's fingerprint.
        let scope = format!(
            "search:{}",
            hex::encode(Sha256::digest(format!("{filter:?}")))
        );
        let offset = self.pages.offset(page, &scope)?;
        let (revision, now) = self.caught_up().await?;
        let (total_size, results, unmet) = self.view.read(&filter.region_ids, |offerings| {
            let ranked = rank_page(
                offerings,
                &filter,
                &self.settings.freshness,
                now,
                child_home,
                offset,
                page.size,
            );
            let hits: Vec<SearchHit> = ranked
                .hits
                .iter()
                .map(|r| SearchHit {
                    offering: r.offering.clone(),
                    distance_km: r.distance_km,
                })
                .collect();
            (ranked.total, hits, ranked.unmet)
        });
        if offset == 0 && unmet {
            let region_id = self.unmet_demand_region(&filter);
            // A failed signal must not fail the search a crisis worker is waiting on.
            match self
                .store
                .record_unmet_demand(&caller.org.id, &filter, region_id.as_deref(), now)
                .await
            {
                Ok(_) => {
                    crate::metrics::metrics().unmet_demand_signals.inc();
                }
                Err(error) => tracing::warn!(error = %error, "failed to record unmet demand"),
            }
        }
        Ok(self.page_at(&scope, offset, results, total_size, revision, now))
    }

    /// The registry as a read-only catalogue, for the FHIR edge: the
    /// offerings `filter` admits (stale and full ones too) whose latest
    /// publication lies in `published`, of `ids` when any are named,
    /// ordered by id, one page. Whoever may
    /// search places may read it; no unmet demand is recorded, for nobody
    /// is looking for a place here.
    pub async fn catalogue(
        &self,
        caller: &Caller,
        filter: &SearchFilter,
        published: &PublishedWithin,
        ids: &[String],
        page: &Page,
    ) -> Result<SearchPage, AppError> {
        self.authorise(caller, Action::SearchPlaces)?;
        self.check_places(filter)?;
        let scope = format!(
            "catalogue:{}",
            hex::encode(Sha256::digest(format!("{filter:?}{published:?}{ids:?}")))
        );
        let offset = self.pages.offset(page, &scope)?;
        let (revision, now) = self.caught_up().await?;
        let (total_size, results) = self.view.read(&filter.region_ids, |offerings| {
            let mut admitted: Vec<&Offering> = offerings
                .filter(|o| {
                    filter.admits(o)
                        && published.contains(o.published_at)
                        && (ids.is_empty() || ids.contains(&o.id))
                })
                .collect();
            admitted.sort_by(|a, b| a.id.cmp(&b.id));
            let results: Vec<SearchHit> = admitted
                .iter()
                .skip(offset)
                .take(page.size)
                .map(|o| SearchHit {
                    offering: (*o).clone(),
                    distance_km: None,
                })
                .collect();
            (admitted.len(), results)
        });
        Ok(self.page_at(&scope, offset, results, total_size, revision, now))
    }

    /// A page of `results` found at `offset` among `total_size`, with the
    /// token of the next page when there is one.
    fn page_at(
        &self,
        scope: &str,
        offset: usize,
        results: Vec<SearchHit>,
        total_size: usize,
        revision: Revision,
        at: DateTime<Utc>,
    ) -> SearchPage {
        let next_page_token = if offset + results.len() < total_size {
            self.pages.encode_offset(scope, offset + results.len())
        } else {
            String::new()
        };
        SearchPage {
            results,
            next_page_token,
            total_size,
            revision,
            at,
        }
    }

    /// A provider's own offerings, fresh or not, as the search view holds
    /// them, with the revision and moment they were read at.
    pub async fn own_offerings(
        &self,
        caller: &Caller,
    ) -> Result<Seen<(Vec<Offering>, Revision)>, AppError> {
        self.authorise(caller, Action::PublishCapacity)?;
        let (revision, at) = self.caught_up().await?;
        let offerings = self.view.read(&[], |offerings| {
            offerings
                .filter(|o| o.location.provider_id == caller.org.id)
                .cloned()
                .collect::<Vec<_>>()
        });
        Ok(Seen {
            value: (offerings, revision),
            at,
        })
    }

    /// One offering of the catalogue, as [`Self::catalogue`] shows it.
    pub async fn catalogue_offering(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<Seen<(Offering, Revision)>, AppError> {
        self.authorise(caller, Action::SearchPlaces)?;
        let (revision, now) = self.caught_up().await?;
        let offering = self
            .view
            .read(&[], |offerings| {
                for offering in offerings {
                    if offering.id == id {
                        return Some(offering.clone());
                    }
                }
                None
            })
            .ok_or_else(|| AppError::NotFound(format!("offering {id} not found")))?;
        Ok(Seen {
            value: (offering, revision),
            at: now,
        })
    }

    /// The registry view brought up to the newest revision: that revision
    /// and the moment it is read at.
    async fn caught_up(&self) -> Result<(Revision, DateTime<Utc>), AppError> {
        let now = self.clock.now();
        let revision = self.store.current_revision().await?;
        self.view.catch_up(&self.store, revision, now).await?;
        Ok((revision, now))
    }

    /// Refuses a filter naming unknown regions or municipalities; returns
    /// where the child's municipality lies, when it has coordinates.
    fn check_places(
        &self,
        filter: &SearchFilter,
    ) -> Result<Option<crate::domain::capacity::Coordinates>, AppError> {
        let directory = self.directory();
        let mut violations = Vec::new();
        for (i, region) in filter.region_ids.iter().enumerate() {
            if !directory.regions.iter().any(|r| &r.id == region) {
                violations.push(FieldViolation::new(
                    format!("region_ids[{i}]"),
                    format!("unknown region {region}"),
                ));
            }
        }
        for (i, m) in filter.municipalities.iter().enumerate() {
            if !directory.municipalities.contains_key(m.as_str()) {
                violations.push(FieldViolation::new(
                    format!("municipality_codes[{i}]"),
                    format!("unknown municipality {}", m.as_str()),
                ));
            }
        }
        let child_home = match &filter.child_municipality {
            None => None,
            Some(m) => match directory.municipalities.get(m.as_str()) {
                Some(known) => known.coordinates,
                None => {
                    violations.push(FieldViolation::new(
                        "child_municipality_code",
                        format!("unknown municipality {}", m.as_str()),
                    ));
                    None
                }
            },
        };
        if violations.is_empty() {
            Ok(child_home)
        } else {
            Err(AppError::Invalid(violations))
        }
    }

    /// Drops change-log revisions older than the retention; run periodically.
    pub async fn prune_change_log(&self) -> Result<u64, AppError> {
        let before = self.clock.now() - self.settings.change_log_retention;
        Ok(self.store.prune_change_log(before).await?)
    }
}
