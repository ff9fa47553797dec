//! `spil.v1.Directory`: who is who.

use super::auth::caller;
use super::convert;
use crate::app::{App, Page};
use spil_proto::v1 as pb;
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct DirectoryService {
    app: Arc<App>,
}

impl DirectoryService {
    pub fn new(app: Arc<App>) -> Self {
        Self { app }
    }
}

#[tonic::async_trait]
impl pb::directory_server::Directory for DirectoryService {
    async fn who_am_i(
        &self,
        request: Request<pb::WhoAmIRequest>,
    ) -> Result<Response<pb::WhoAmIResponse>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(pb::WhoAmIResponse {
            certificate_identity: caller.certificate_identity,
            organisation: Some(convert::organisation_out(caller.org)),
        }))
    }

    async fn list_organisations(
        &self,
        request: Request<pb::ListOrganisationsRequest>,
    ) -> Result<Response<pb::ListOrganisationsResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let page = Page::parse(request.page_size, request.page_token, 100, 500)?;
        let (organisations, next_page_token) =
            self.app.directory.list_organisations(&caller, &page)?;
        Ok(Response::new(pb::ListOrganisationsResponse {
            organisations: organisations
                .into_iter()
                .map(convert::organisation_out)
                .collect(),
            next_page_token,
        }))
    }

    async fn list_regions(
        &self,
        request: Request<pb::ListRegionsRequest>,
    ) -> Result<Response<pb::ListRegionsResponse>, Status> {
        let caller = caller(&request)?;
        let regions = self.app.directory.list_regions(&caller)?;
        Ok(Response::new(pb::ListRegionsResponse {
            regions: regions.into_iter().map(convert::region_out).collect(),
        }))
    }
}
