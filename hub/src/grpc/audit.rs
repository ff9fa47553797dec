//! `spil.v1.Audit`: the audit trail for the privacy officer.

use super::auth::caller;
use super::convert;
use crate::app::{App, Page};
use spil_proto::v1 as pb;
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct AuditService {
    app: Arc<App>,
}

impl AuditService {
    pub fn new(app: Arc<App>) -> Self {
        Self { app }
    }
}

#[tonic::async_trait]
impl pb::audit_server::Audit for AuditService {
    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Result<Response<pb::ListAuditEventsResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let query = convert::audit_query(&request)?;
        let page = Page::parse(request.page_size, request.page_token, 100, 1000)?;
        let (events, next_page_token) = self
            .app
            .audit
            .list_audit_events(&caller, query, &page)
            .await?;
        Ok(Response::new(pb::ListAuditEventsResponse {
            events: events.into_iter().map(convert::audit_event_out).collect(),
            next_page_token,
        }))
    }

    async fn verify_audit_chain(
        &self,
        request: Request<pb::VerifyAuditChainRequest>,
    ) -> Result<Response<pb::VerifyAuditChainResponse>, Status> {
        let caller = caller(&request)?;
        let report = self.app.audit.verify_audit_chain(&caller).await?;
        let broken_at_seq = report.broken.map_or(0, |broken| match broken {
            crate::domain::audit::BrokenLink::Altered { seq }
            | crate::domain::audit::BrokenLink::Unlinked { seq }
            | crate::domain::audit::BrokenLink::TimeReversed { seq } => seq,
            crate::domain::audit::BrokenLink::OutOfSequence { expected, .. } => expected,
        });
        Ok(Response::new(pb::VerifyAuditChainResponse {
            intact: report.broken.is_none(),
            records_checked: report.records_checked,
            broken_at_seq,
            problem: report.broken.map(|b| b.to_string()).unwrap_or_default(),
        }))
    }
}
