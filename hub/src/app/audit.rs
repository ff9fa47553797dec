//! The audit trail for the privacy officer: listing records and verifying
//! the hash chain. Reading the trail is not itself consultation content.

use super::{AppError, AuditUseCases, Page};
use crate::domain::audit::AuditQuery;
use crate::domain::audit::{BrokenLink, ChainLink, ChainVerifier};
use crate::domain::authz::Action;
use crate::domain::identity::Caller;

/// What a verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    pub records_checked: u64,
    pub broken: Option<BrokenLink>,
}

/// Records read per round trip while verifying.
const VERIFY_BATCH: u64 = 5000;

impl AuditUseCases {
    pub async fn list_audit_events(
        &self,
        caller: &Caller,
        query: AuditQuery,
        page: &Page,
    ) -> Result<(Vec<ChainLink>, String), AppError> {
        self.authorise(caller, Action::ReadAuditTrail)?;
        if let (Some(from), Some(until)) = (query.from, query.until)
            && from > until
        {
            return Err(AppError::invalid(
                "start_time",
                "must not be after end_time",
            ));
        }
        let scope = format!("audit:{query:?}");
        let offset = self.pages.offset(page, &scope)?;
        let mut records = self
            .store
            .audit_records(&query, offset as u64, page.size as u64 + 1)
            .await?;
        let next = if records.len() > page.size {
            records.truncate(page.size);
            self.pages.encode_offset(&scope, offset + page.size)
        } else {
            String::new()
        };
        Ok((records, next))
    }

    /// Walks the whole trail in stored order and stops at the first broken link.
    pub async fn verify_audit_chain(&self, caller: &Caller) -> Result<ChainReport, AppError> {
        self.authorise(caller, Action::ReadAuditTrail)?;
        let mut verifier = ChainVerifier::default();
        let mut after = 0i64;
        loop {
            let batch = self.store.audit_chain_after(after, VERIFY_BATCH).await?;
            let Some(last) = batch.last() else {
                return Ok(ChainReport {
                    records_checked: verifier.checked(),
                    broken: None,
                });
            };
            after = last.entry.seq as i64;
            for link in &batch {
                if let Err(broken) = verifier.check(link) {
                    return Ok(ChainReport {
                        records_checked: verifier.checked(),
                        broken: Some(broken),
                    });
                }
            }
        }
    }
}
