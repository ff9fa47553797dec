//! Locations and the municipalities they lie in.

use super::*;

impl Store {
    /// Creates or updates a provider's location. The region follows from the municipality.
    pub async fn upsert_location(
        &self,
        provider: &OrgId,
        spec: &LocationSpec,
        now: DateTime<Utc>,
    ) -> Result<(Location, bool), WriteError> {
        self.write("upsert_location", async |write| {
            let txn = write.txn();
            let municipality = municipality::Entity::find_by_id(spec.municipality.as_str())
                .one(txn)
                .await?
                .ok_or_else(|| {
                    StoreError::UnknownMunicipality(spec.municipality.as_str().to_owned())
                })?;
            let existing = location::Entity::find_by_id(spec.id.as_str())
                .one(txn)
                .await?;
            let owner = existing
                .as_ref()
                .map(|l| OrgId::parse(&l.provider_id))
                .transpose()
                .map_err(|_| StoreError::Corrupt("location owner".into()))?;
            rules::may_change_location(&spec.id, owner.as_ref(), provider)?;
            let row = location::ActiveModel {
                id: Set(spec.id.as_str().to_owned()),
                provider_id: Set(provider.as_str().to_owned()),
                name: Set(spec.name.as_str().to_owned()),
                municipality_code: Set(municipality.code.clone()),
                region_id: Set(municipality.region_id.clone()),
                latitude: Set(spec.coordinates.map(|c| c.latitude)),
                longitude: Set(spec.coordinates.map(|c| c.longitude)),
                updated_at_ms: Set(millis(now)),
                intake_phone: Set(spec.intake_phone.as_ref().map(|p| p.as_str().to_owned())),
            };
            let created = existing.is_none();
            let saved = if created {
                row.insert(txn).await?
            } else {
                row.update(txn).await?
            };
            let offerings = offering::Entity::find()
                .filter(offering::Column::LocationId.eq(spec.id.as_str()))
                .all(txn)
                .await?;
            if !offerings.is_empty() {
                // Its offerings changed too (name, place, perhaps region): log
                // them, so that watchers and every replica's search see the
                // new location.
                let revision = write.next_revision().await?;
                let txn = write.txn();
                let ids: Vec<&str> = offerings.iter().map(|o| o.id.as_str()).collect();
                let holds = active_holds(txn, Some(&ids), now).await?;
                for row in &offerings {
                    let mut changed = row.clone().into_active_model();
                    changed.region_id = Set(municipality.region_id.clone());
                    changed.revision = Set(revision.0 as i64);
                    let changed = changed.update(txn).await?;
                    append_event(txn, revision, &changed, holds_of(&holds, &changed.id), now)
                        .await?;
                }
            }
            Ok((saved.into_domain()?, created))
        })
        .await
    }

    /// Locations ordered by id, after `after_id`, optionally of one provider.
    pub async fn list_locations(
        &self,
        provider: Option<&OrgId>,
        after_id: Option<&str>,
        limit: u64,
    ) -> Result<Vec<Location>, StoreError> {
        let mut query = location::Entity::find().order_by_asc(location::Column::Id);
        if let Some(provider) = provider {
            query = query.filter(location::Column::ProviderId.eq(provider.as_str()));
        }
        if let Some(after) = after_id {
            query = query.filter(location::Column::Id.gt(after));
        }
        query
            .limit(limit)
            .all(&self.reader)
            .await?
            .into_iter()
            .map(location::Model::into_domain)
            .collect()
    }

    /// One location, by id.
    pub async fn location(&self, id: &str) -> Result<Option<Location>, StoreError> {
        location::Entity::find_by_id(id.to_owned())
            .one(&self.reader)
            .await?
            .map(location::Model::into_domain)
            .transpose()
    }

    /// Whether a municipality is known; returns it.
    pub async fn municipality(
        &self,
        code: &str,
    ) -> Result<Option<crate::domain::geo::Municipality>, StoreError> {
        municipality::Entity::find_by_id(code)
            .one(&self.reader)
            .await?
            .map(crate::store::directory::municipality_domain)
            .transpose()
    }
}
