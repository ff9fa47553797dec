//! The audit trail: each record appended with the hash of the one before, and read back as a chain.

use super::*;

impl Store {
    /// Audit records, oldest first.
    pub async fn audit_records(
        &self,
        query: &AuditQuery,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<ChainLink>, StoreError> {
        let _timed = Timed::start("audit_records");
        let mut condition = Condition::all();
        if let Some(id) = &query.consultation_id {
            condition = condition.add(audit_event::Column::ConsultationId.eq(id.as_str()));
        }
        if let Some(org) = &query.organisation {
            condition = condition.add(audit_event::Column::OrganisationId.eq(org.as_str()));
        }
        if let Some(from) = query.from {
            condition = condition.add(audit_event::Column::AtUs.gte(from.timestamp_micros()));
        }
        if let Some(until) = query.until {
            condition = condition.add(audit_event::Column::AtUs.lt(until.timestamp_micros()));
        }
        audit_event::Entity::find()
            .filter(condition)
            .order_by_asc(audit_event::Column::Seq)
            .offset(offset)
            .limit(limit)
            .all(&self.reader)
            .await?
            .into_iter()
            .map(audit_into_domain)
            .collect()
    }

    /// The trail in stored order, from after `after_seq`, a batch at a time.
    pub async fn audit_chain_after(
        &self,
        after_seq: i64,
        limit: u64,
    ) -> Result<Vec<ChainLink>, StoreError> {
        audit_event::Entity::find()
            .filter(audit_event::Column::Seq.gt(after_seq))
            .order_by_asc(audit_event::Column::Seq)
            .limit(limit)
            .all(&self.reader)
            .await?
            .into_iter()
            .map(audit_into_domain)
            .collect()
    }
}

impl AuditedTxn {
    /// Appends one record to the audit trail, chained to the latest one.
    pub(super) async fn audit(&self, record: NewAuditRecord) -> Result<u64, StoreError> {
        let seq = append_audit(&self.store, &self.txn, record).await?;
        self.audited
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(seq)
    }
}

/// Appends one audit record to the chain in `txn`: the audit sequence row
/// is taken here, after whatever the caller locked first.
pub(in crate::store) async fn append_audit(
    store: &Store,
    txn: &DatabaseTransaction,
    record: NewAuditRecord,
) -> Result<u64, StoreError> {
    let seq = store.next_meta_value(txn, "audit_seq").await?;
    let (prev_hash, prev_at_us) = match audit_event::Entity::find()
        .order_by_desc(audit_event::Column::Seq)
        .one(txn)
        .await?
    {
        Some(row) => (hash_from_hex(&row.hash)?, row.at_us),
        None => (GENESIS, i64::MIN),
    };
    // Times run in sequence order. A call that read the clock before
    // another but took the audit lock after it is dated at its
    // predecessor's moment, never before it (microseconds, as stored).
    let at = DateTime::from_timestamp_micros(record.at.timestamp_micros().max(prev_at_us))
        .ok_or_else(|| StoreError::Corrupt(format!("bad time {prev_at_us}")))?;
    let entry = AuditEntry {
        seq,
        at,
        event_type: record.event_type,
        organisation: record.organisation,
        person: record.person,
        certificate_identity: record.certificate_identity,
        consultation_id: record.consultation_id,
        action: record.action,
        outcome: record.outcome,
    };
    let link = ChainLink::after(prev_hash, entry);
    audit_event::ActiveModel {
        seq: Set(seq as i64),
        at_us: Set(link.entry.at.timestamp_micros()),
        event_type: Set(link.entry.event_type.clone()),
        organisation_id: Set(link.entry.organisation.clone()),
        person: Set(link.entry.person.clone()),
        certificate_identity: Set(link.entry.certificate_identity.clone()),
        consultation_id: Set(link.entry.consultation_id.clone()),
        action: Set(code(&AuditAction::ALL, link.entry.action)),
        outcome: Set(code(&AuditOutcome::ALL, link.entry.outcome)),
        prev_hash: Set(hex::encode(link.prev_hash)),
        hash: Set(hex::encode(link.hash)),
    }
    .insert(txn)
    .await?;
    Ok(seq)
}

pub(super) fn hash_from_hex(text: &str) -> Result<Hash, StoreError> {
    hex::decode(text)
        .ok()
        .and_then(|bytes| Hash::try_from(bytes.as_slice()).ok())
        .ok_or_else(|| StoreError::Corrupt("audit hash is not 32 hex bytes".into()))
}

pub(super) fn audit_into_domain(row: audit_event::Model) -> Result<ChainLink, StoreError> {
    Ok(ChainLink {
        entry: AuditEntry {
            seq: row.seq as u64,
            at: DateTime::from_timestamp_micros(row.at_us)
                .ok_or_else(|| StoreError::Corrupt(format!("bad time {}", row.at_us)))?,
            event_type: row.event_type,
            organisation: row.organisation_id,
            person: row.person,
            certificate_identity: row.certificate_identity,
            consultation_id: row.consultation_id,
            action: decode(&AuditAction::ALL, row.action, "audit action")?,
            outcome: decode(&AuditOutcome::ALL, row.outcome, "audit outcome")?,
        },
        prev_hash: hash_from_hex(&row.prev_hash)?,
        hash: hash_from_hex(&row.hash)?,
    })
}
