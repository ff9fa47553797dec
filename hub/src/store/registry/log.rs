//! The change log the watch replays: read after a revision, pruned by age.

use super::*;

impl Store {
    /// The change log after `after`, whole revisions only, up to about `max_rows` rows.
    pub async fn changes_after(
        &self,
        after: Revision,
        max_rows: u64,
    ) -> Result<Vec<RevisionBatch>, StoreError> {
        let mut rows = capacity_event::Entity::find()
            .filter(capacity_event::Column::Revision.gt(after.0 as i64))
            .order_by_asc(capacity_event::Column::Revision)
            .order_by_asc(capacity_event::Column::OfferingId)
            .limit(max_rows + 1)
            .all(&self.reader)
            .await?;
        if rows.len() as u64 > max_rows {
            // Never hand out part of a revision: drop the last one, unless it
            // is the only one, then read it whole.
            let last = rows.last().map(|r| r.revision).unwrap_or_default();
            if rows.first().map(|r| r.revision) == Some(last) {
                rows = capacity_event::Entity::find()
                    .filter(capacity_event::Column::Revision.eq(last))
                    .order_by_asc(capacity_event::Column::OfferingId)
                    .all(&self.reader)
                    .await?;
            } else {
                rows.retain(|r| r.revision != last);
            }
        }
        let mut location_ids = BTreeSet::new();
        let mut payloads = Vec::with_capacity(rows.len());
        for row in rows {
            let payload = CapacityEvent::decode(&row.payload)?;
            location_ids.insert(payload.offering.location_id.clone());
            payloads.push((row.revision, payload));
        }
        let locations = location::Entity::find()
            .filter(location::Column::Id.is_in(location_ids))
            .all(&self.reader)
            .await?
            .into_iter()
            .map(|l| Ok((l.id.clone(), l.into_domain()?)))
            .collect::<Result<HashMap<String, Location>, StoreError>>()?;
        let mut batches: Vec<RevisionBatch> = Vec::new();
        for (revision, payload) in payloads {
            let location = locations
                .get(&payload.offering.location_id)
                .cloned()
                .ok_or_else(|| StoreError::Corrupt("event for a missing location".into()))?;
            let offering = payload
                .row()
                .into_domain(location, &payload.holds_until_ms)?;
            let revision = Revision(revision as u64);
            match batches.last_mut() {
                Some(batch) if batch.revision == revision => batch.offerings.push(offering),
                _ => batches.push(RevisionBatch {
                    revision,
                    offerings: vec![offering],
                }),
            }
        }
        Ok(batches)
    }

    /// Deletes change-log revisions recorded before `before`; a watch can
    /// then no longer resume from them. Returns the rows deleted.
    pub async fn prune_change_log(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let newest_old: Option<i64> = capacity_event::Entity::find()
            .select_only()
            .column_as(capacity_event::Column::Revision.max(), "revision")
            .filter(capacity_event::Column::AtMs.lt(millis(before)))
            .into_tuple::<Option<i64>>()
            .one(&self.reader)
            .await?
            .flatten();
        let Some(through) = newest_old else {
            return Ok(0);
        };
        self.write("prune_change_log", async |write| {
            let txn = write.txn();
            let deleted = capacity_event::Entity::delete_many()
                .filter(capacity_event::Column::Revision.lte(through))
                .exec(txn)
                .await?
                .rows_affected;
            crate::store::entities::registry_meta::Entity::update_many()
                .col_expr(
                    crate::store::entities::registry_meta::Column::Value,
                    through.into(),
                )
                .filter(crate::store::entities::registry_meta::Column::Key.eq("log_starts_after"))
                .filter(crate::store::entities::registry_meta::Column::Value.lt(through))
                .exec(txn)
                .await?;
            Ok(deleted)
        })
        .await
    }
}
