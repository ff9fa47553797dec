//! `spil.v1.CapacityRegistry`: thin handlers over the capacity use-cases.

use super::auth::caller;
use super::convert;
use crate::app::{App, Page, Seen};
use crate::domain::identity::OrgId;
use futures::Stream;
use spil_proto::v1 as pb;
use std::pin::Pin;
use std::sync::Arc;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status};

pub struct CapacityService {
    app: Arc<App>,
}

impl CapacityService {
    pub fn new(app: Arc<App>) -> Self {
        Self { app }
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchCapacityResponse, Status>> + Send>>;

#[tonic::async_trait]
impl pb::capacity_registry_server::CapacityRegistry for CapacityService {
    async fn upsert_location(
        &self,
        request: Request<pb::UpsertLocationRequest>,
    ) -> Result<Response<pb::UpsertLocationResponse>, Status> {
        let caller = caller(&request)?;
        let spec = convert::location_spec(request.into_inner().location)?;
        let (location, created) = self.app.registry.upsert_location(&caller, spec).await?;
        Ok(Response::new(pb::UpsertLocationResponse {
            location: Some(convert::location_out(location)),
            created,
        }))
    }

    async fn list_locations(
        &self,
        request: Request<pb::ListLocationsRequest>,
    ) -> Result<Response<pb::ListLocationsResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let page = Page::parse(request.page_size, request.page_token, 100, 500)?;
        let provider = (!request.provider_id.is_empty())
            .then(|| convert::field("provider_id", OrgId::parse(&request.provider_id)))
            .transpose()?;
        let (locations, next_page_token) = self
            .app
            .registry
            .list_locations(&caller, provider, &page)
            .await?;
        Ok(Response::new(pb::ListLocationsResponse {
            locations: locations.into_iter().map(convert::location_out).collect(),
            next_page_token,
        }))
    }

    async fn publish_capacity(
        &self,
        request: Request<pb::PublishCapacityRequest>,
    ) -> Result<Response<pb::PublishCapacityResponse>, Status> {
        let caller = caller(&request)?;
        let publish = convert::publish_request(request.into_inner())?;
        let Seen { value: outcome, at } = self.app.registry.publish(&caller, publish).await?;
        Ok(Response::new(pb::PublishCapacityResponse {
            revision: outcome.revision.0,
            offerings: outcome
                .offerings
                .into_iter()
                .map(|o| convert::offering_out(o, self.app.registry.freshness(), at))
                .collect(),
        }))
    }

    async fn search_places(
        &self,
        request: Request<pb::SearchPlacesRequest>,
    ) -> Result<Response<pb::SearchPlacesResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let filter = convert::search_filter(&request)?;
        let page = Page::parse(request.page_size, request.page_token, 50, 200)?;
        let found = self.app.registry.search(&caller, filter, &page).await?;
        let at = found.at;
        Ok(Response::new(pb::SearchPlacesResponse {
            results: found
                .results
                .into_iter()
                .map(|r| convert::search_result(r, self.app.registry.freshness(), at))
                .collect(),
            next_page_token: found.next_page_token,
            total_size: found.total_size as u32,
            revision: found.revision.0,
        }))
    }

    type WatchCapacityStream = WatchStream;

    async fn watch_capacity(
        &self,
        request: Request<pb::WatchCapacityRequest>,
    ) -> Result<Response<Self::WatchCapacityStream>, Status> {
        let caller = caller(&request)?;
        let watch = convert::watch_request(request.into_inner())?;
        let items = self.app.watch.watch(&caller, watch).await?;
        let app = Arc::clone(&self.app);
        let stream = items.map(move |item| {
            item.map(|item| convert::watch_item(item, app.registry.freshness()))
                .map_err(Status::from)
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn hold_place(
        &self,
        request: Request<pb::HoldPlaceRequest>,
    ) -> Result<Response<pb::HoldPlaceResponse>, Status> {
        let caller = caller(&request)?;
        let hold = convert::hold_request(request.into_inner())?;
        let outcome = self.app.holds.hold(&caller, hold).await?;
        Ok(Response::new(pb::HoldPlaceResponse {
            hold: Some(convert::hold_out(outcome.hold)),
        }))
    }

    async fn confirm_hold(
        &self,
        request: Request<pb::ConfirmHoldRequest>,
    ) -> Result<Response<pb::ConfirmHoldResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let hold = self
            .app
            .holds
            .confirm_hold(&caller, convert::hold_id(&request.hold_id)?)
            .await?;
        Ok(Response::new(pb::ConfirmHoldResponse {
            hold: Some(convert::hold_out(hold)),
        }))
    }

    async fn release_hold(
        &self,
        request: Request<pb::ReleaseHoldRequest>,
    ) -> Result<Response<pb::ReleaseHoldResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let hold = self
            .app
            .holds
            .release_hold(&caller, convert::hold_id(&request.hold_id)?)
            .await?;
        Ok(Response::new(pb::ReleaseHoldResponse {
            hold: Some(convert::hold_out(hold)),
        }))
    }

    async fn list_holds(
        &self,
        request: Request<pb::ListHoldsRequest>,
    ) -> Result<Response<pb::ListHoldsResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let states = convert::hold_states(&request.states)?;
        let page = Page::parse(request.page_size, request.page_token, 100, 500)?;
        let (holds, next_page_token) = self.app.holds.list_holds(&caller, states, &page).await?;
        Ok(Response::new(pb::ListHoldsResponse {
            holds: holds.into_iter().map(convert::hold_out).collect(),
            next_page_token,
        }))
    }
}
