//! `spil.v1.Consultations`: thin handlers over the consultation use-cases.
//! Conversion errors go to the use-case too, so that it audits the refusal.

use super::auth::caller;
use super::convert;
use crate::app::{Actor, App, PERSON_HEADER, PERSON_HEADER_UTF8, Page, Seen, TransitionOutcome};
use crate::domain::consultation::ConsultationAction;
use futures::Stream;
use spil_proto::v1 as pb;
use std::pin::Pin;
use std::sync::Arc;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status};

pub struct ConsultationsService {
    app: Arc<App>,
}

impl ConsultationsService {
    pub fn new(app: Arc<App>) -> Self {
        Self { app }
    }

    async fn transition(
        &self,
        actor: &Actor,
        action: ConsultationAction,
        command: crate::app::Parsed<crate::app::TransitionCommand>,
    ) -> Result<(Option<pb::Consultation>, Option<pb::Consultation>), Status> {
        let Seen {
            value:
                TransitionOutcome {
                    consultation,
                    escalated,
                },
            at: now,
        } = self
            .app
            .consultations
            .transition_consultation(actor, action, command)
            .await?;
        Ok((
            Some(convert::consultation_out(consultation, now)),
            escalated.map(|c| convert::consultation_out(c, now)),
        ))
    }
}

/// The caller and the person named in the metadata: UTF-8 in
/// `x-spil-person-bin`, else visible ASCII in `x-spil-person`.
pub(super) fn actor<T>(request: &Request<T>) -> Result<Actor, Status> {
    let metadata = request.metadata();
    let person = if let Some(value) = metadata.get_bin(PERSON_HEADER_UTF8) {
        value
            .to_bytes()
            .ok()
            .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok())
            .map(Some)
            .ok_or_else(|| format!("{PERSON_HEADER_UTF8} must be base64-encoded UTF-8"))
    } else if let Some(value) = metadata.get(PERSON_HEADER) {
        value
            .to_str()
            .map(|name| Some(name.to_owned()))
            .map_err(|_| {
                format!("must be visible ASCII; send other names as UTF-8 in {PERSON_HEADER_UTF8}")
            })
    } else {
        Ok(None)
    };
    Ok(Actor {
        caller: caller(request)?,
        person,
    })
}

type WatchStream =
    Pin<Box<dyn Stream<Item = Result<pb::WatchConsultationsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl pb::consultations_server::Consultations for ConsultationsService {
    async fn file_consultation(
        &self,
        request: Request<pb::FileConsultationRequest>,
    ) -> Result<Response<pb::FileConsultationResponse>, Status> {
        let actor = actor(&request)?;
        let command = convert::new_consultation(request.into_inner());
        let Seen { value, at } = self
            .app
            .consultations
            .file_consultation(&actor, command)
            .await?;
        Ok(Response::new(pb::FileConsultationResponse {
            consultation: Some(convert::consultation_out(value, at)),
        }))
    }

    async fn get_consultation(
        &self,
        request: Request<pb::GetConsultationRequest>,
    ) -> Result<Response<pb::GetConsultationResponse>, Status> {
        let actor = actor(&request)?;
        let id = convert::consultation_id("consultation_id", &request.get_ref().consultation_id);
        let Seen {
            value: (consultation, history),
            at,
        } = self.app.consultations.get_consultation(&actor, id).await?;
        Ok(Response::new(pb::GetConsultationResponse {
            consultation: Some(convert::consultation_out(consultation, at)),
            history: history.into_iter().map(convert::state_change_out).collect(),
        }))
    }

    async fn list_consultations(
        &self,
        request: Request<pb::ListConsultationsRequest>,
    ) -> Result<Response<pb::ListConsultationsResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let query = convert::consultation_query(&request);
        let page = Page::parse(request.page_size, request.page_token, 50, 500);
        let Seen {
            value: (consultations, next_page_token),
            at: now,
        } = self
            .app
            .consultations
            .list_consultations(&actor, query, page)
            .await?;
        Ok(Response::new(pb::ListConsultationsResponse {
            consultations: consultations
                .into_iter()
                .map(|c| convert::consultation_out(c, now))
                .collect(),
            next_page_token,
        }))
    }

    async fn accept_consultation(
        &self,
        request: Request<pb::AcceptConsultationRequest>,
    ) -> Result<Response<pb::AcceptConsultationResponse>, Status> {
        let actor = actor(&request)?;
        let r = request.into_inner();
        let action = ConsultationAction::Accept;
        let command = convert::transition(
            action,
            &r.consultation_id,
            "note",
            &r.note,
            false,
            &r.request_id,
        );
        let (consultation, _) = self.transition(&actor, action, command).await?;
        Ok(Response::new(pb::AcceptConsultationResponse {
            consultation,
        }))
    }

    async fn decline_consultation(
        &self,
        request: Request<pb::DeclineConsultationRequest>,
    ) -> Result<Response<pb::DeclineConsultationResponse>, Status> {
        let actor = actor(&request)?;
        let command = convert::decline(request.into_inner());
        let (consultation, _) = self
            .transition(&actor, ConsultationAction::Decline, command)
            .await?;
        Ok(Response::new(pb::DeclineConsultationResponse {
            consultation,
        }))
    }

    async fn start_work(
        &self,
        request: Request<pb::StartWorkRequest>,
    ) -> Result<Response<pb::StartWorkResponse>, Status> {
        let actor = actor(&request)?;
        let r = request.into_inner();
        let action = ConsultationAction::StartWork;
        let command = convert::transition(
            action,
            &r.consultation_id,
            "note",
            &r.note,
            false,
            &r.request_id,
        );
        let (consultation, _) = self.transition(&actor, action, command).await?;
        Ok(Response::new(pb::StartWorkResponse { consultation }))
    }

    async fn give_advice(
        &self,
        request: Request<pb::GiveAdviceRequest>,
    ) -> Result<Response<pb::GiveAdviceResponse>, Status> {
        let actor = actor(&request)?;
        let r = request.into_inner();
        let action = ConsultationAction::GiveAdvice;
        let command = convert::transition(
            action,
            &r.consultation_id,
            "advice",
            &r.advice,
            true,
            &r.request_id,
        );
        let (consultation, _) = self.transition(&actor, action, command).await?;
        Ok(Response::new(pb::GiveAdviceResponse { consultation }))
    }

    async fn escalate_consultation(
        &self,
        request: Request<pb::EscalateConsultationRequest>,
    ) -> Result<Response<pb::EscalateConsultationResponse>, Status> {
        let actor = actor(&request)?;
        let command = convert::escalate(request.into_inner());
        let (consultation, escalated) = self
            .transition(&actor, ConsultationAction::Escalate, command)
            .await?;
        Ok(Response::new(pb::EscalateConsultationResponse {
            consultation,
            escalated,
        }))
    }

    async fn withdraw_consultation(
        &self,
        request: Request<pb::WithdrawConsultationRequest>,
    ) -> Result<Response<pb::WithdrawConsultationResponse>, Status> {
        let actor = actor(&request)?;
        let r = request.into_inner();
        let action = ConsultationAction::Withdraw;
        let command = convert::transition(
            action,
            &r.consultation_id,
            "note",
            &r.note,
            false,
            &r.request_id,
        );
        let (consultation, _) = self.transition(&actor, action, command).await?;
        Ok(Response::new(pb::WithdrawConsultationResponse {
            consultation,
        }))
    }

    async fn close_consultation(
        &self,
        request: Request<pb::CloseConsultationRequest>,
    ) -> Result<Response<pb::CloseConsultationResponse>, Status> {
        let actor = actor(&request)?;
        let r = request.into_inner();
        let action = ConsultationAction::Close;
        let command = convert::transition(
            action,
            &r.consultation_id,
            "note",
            &r.note,
            false,
            &r.request_id,
        );
        let (consultation, _) = self.transition(&actor, action, command).await?;
        Ok(Response::new(pb::CloseConsultationResponse {
            consultation,
        }))
    }

    async fn post_message(
        &self,
        request: Request<pb::PostMessageRequest>,
    ) -> Result<Response<pb::PostMessageResponse>, Status> {
        let actor = actor(&request)?;
        let command = convert::post_message(request.into_inner());
        let message = self.app.consultations.post_message(&actor, command).await?;
        Ok(Response::new(pb::PostMessageResponse {
            message: Some(convert::message_out(message)),
        }))
    }

    async fn list_messages(
        &self,
        request: Request<pb::ListMessagesRequest>,
    ) -> Result<Response<pb::ListMessagesResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let id = convert::consultation_id("consultation_id", &request.consultation_id);
        let page = Page::parse(request.page_size, request.page_token, 100, 500);
        let (messages, next_page_token) = self
            .app
            .consultations
            .list_messages(&actor, id, page)
            .await?;
        Ok(Response::new(pb::ListMessagesResponse {
            messages: messages.into_iter().map(convert::message_out).collect(),
            next_page_token,
        }))
    }

    type WatchConsultationsStream = WatchStream;

    async fn watch_consultations(
        &self,
        request: Request<pb::WatchConsultationsRequest>,
    ) -> Result<Response<Self::WatchConsultationsStream>, Status> {
        let actor = actor(&request)?;
        let start = convert::start_from(
            request.get_ref().start_revision,
            request.get_ref().from_oldest_kept,
        );
        let stream = self
            .app
            .consultations
            .watch_consultations(&actor, start)
            .await?;
        let stream = stream.map(|item| item.map(convert::watch_message_out).map_err(Status::from));
        Ok(Response::new(Box::pin(stream)))
    }
}
