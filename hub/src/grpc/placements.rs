//! `spil.v1.Placements`: thin handlers over the placement use-cases.
//! Conversion errors go to the use-case too, so that it audits the refusal.

use super::consultations::actor;
use super::convert;
use crate::app::{App, Page, PlacementWatchMessage, Seen};
use crate::domain::placement::PlacementAction;
use spil_proto::v1 as pb;
use std::sync::Arc;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status};

pub struct PlacementsService {
    app: Arc<App>,
}

impl PlacementsService {
    pub fn new(app: Arc<App>) -> Self {
        Self { app }
    }

    /// A placement request as the wire shows it at the moment it was read.
    fn out(
        &self,
        seen: Seen<crate::domain::placement::PlacementRequest>,
    ) -> Option<pb::PlacementRequest> {
        Some(convert::placement_request_out(seen.value, seen.at))
    }
}

type WatchStream = std::pin::Pin<
    Box<dyn futures::Stream<Item = Result<pb::WatchPlacementRequestsResponse, Status>> + Send>,
>;

#[tonic::async_trait]
impl pb::placements_server::Placements for PlacementsService {
    type WatchPlacementRequestsStream = WatchStream;

    async fn watch_placement_requests(
        &self,
        request: Request<pb::WatchPlacementRequestsRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        let actor = actor(&request)?;
        let start = convert::start_from(
            request.get_ref().start_revision,
            request.get_ref().from_oldest_kept,
        );
        let stream = self.app.placements.watch(&actor, start).await?;
        let stream = stream.map(|item| {
            item.map(|message| match message {
                PlacementWatchMessage::Start(revision) => pb::WatchPlacementRequestsResponse {
                    revision: revision.0,
                    stream_start: true,
                    placement_request: None,
                },
                PlacementWatchMessage::Changed {
                    revision,
                    request,
                    at,
                } => pb::WatchPlacementRequestsResponse {
                    revision: revision.0,
                    stream_start: false,
                    placement_request: Some(convert::placement_request_out(*request, at)),
                },
            })
            .map_err(Status::from)
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn request_placement(
        &self,
        request: Request<pb::RequestPlacementRequest>,
    ) -> Result<Response<pb::RequestPlacementResponse>, Status> {
        let actor = actor(&request)?;
        let new = convert::new_placement_request(request.into_inner());
        let sent = self.app.placements.request(&actor, new).await?;
        Ok(Response::new(pb::RequestPlacementResponse {
            placement_request: self.out(sent),
        }))
    }

    async fn answer_placement_request(
        &self,
        request: Request<pb::AnswerPlacementRequestRequest>,
    ) -> Result<Response<pb::AnswerPlacementRequestResponse>, Status> {
        let actor = actor(&request)?;
        let answer = convert::placement_answer(request.into_inner());
        let answered = self.app.placements.act(&actor, answer).await?;
        Ok(Response::new(pb::AnswerPlacementRequestResponse {
            placement_request: self.out(answered),
        }))
    }

    async fn withdraw_placement_request(
        &self,
        request: Request<pb::WithdrawPlacementRequestRequest>,
    ) -> Result<Response<pb::WithdrawPlacementRequestResponse>, Status> {
        let actor = actor(&request)?;
        let placement_request_id = request.into_inner().placement_request_id;
        let withdrawal = Ok(PlacementAction::Withdraw {
            placement_request_id,
        });
        let withdrawn = self.app.placements.act(&actor, withdrawal).await?;
        Ok(Response::new(pb::WithdrawPlacementRequestResponse {
            placement_request: self.out(withdrawn),
        }))
    }

    async fn escalate_placement_case(
        &self,
        request: Request<pb::EscalatePlacementCaseRequest>,
    ) -> Result<Response<pb::EscalatePlacementCaseResponse>, Status> {
        let actor = actor(&request)?;
        let id = request.into_inner().placement_request_id;
        let Seen {
            value: (placement, consultation),
            at,
        } = self.app.placements.escalate(&actor, &id).await?;
        Ok(Response::new(pb::EscalatePlacementCaseResponse {
            placement_request: self.out(Seen {
                value: placement,
                at,
            }),
            consultation_id: consultation.id.to_string(),
            expertise_team_id: consultation.addressee.as_str().to_owned(),
        }))
    }

    async fn get_placement_request(
        &self,
        request: Request<pb::GetPlacementRequestRequest>,
    ) -> Result<Response<pb::GetPlacementRequestResponse>, Status> {
        let actor = actor(&request)?;
        let id = request.into_inner().placement_request_id;
        let found = self.app.placements.get(&actor, &id).await?;
        Ok(Response::new(pb::GetPlacementRequestResponse {
            placement_request: self.out(found),
        }))
    }

    async fn list_placement_requests(
        &self,
        request: Request<pb::ListPlacementRequestsRequest>,
    ) -> Result<Response<pb::ListPlacementRequestsResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let page = Page::parse(request.page_size, request.page_token, 50, 200)?;
        let Seen {
            value: (requests, next_page_token),
            at: now,
        } = self.app.placements.list(&actor, &page).await?;
        Ok(Response::new(pb::ListPlacementRequestsResponse {
            placement_requests: requests
                .into_iter()
                .map(|r| convert::placement_request_out(r, now))
                .collect(),
            next_page_token,
        }))
    }
}
