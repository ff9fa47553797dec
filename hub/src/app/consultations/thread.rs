//! A consultation's thread: messages posted and read, each call audited.

use super::*;

impl ConsultationUseCases {
    /// Adds a message to the thread of an open consultation.
    pub async fn post_message(
        &self,
        actor: &Actor,
        command: Parsed<PostMessageCommand>,
    ) -> Result<ThreadMessage, AppError> {
        let call = Call::POST_MESSAGE;
        let (person, command) = self
            .admit(actor, Action::TakePartInConsultations, call, command, |c| {
                Some(c.id.to_string())
            })
            .await?;
        let id = command.id.to_string();
        let work = async |txn: &AuditedTxn| {
            let org = &actor.caller.org.id;
            let consultation = visible(txn, &command.id, org).await?;
            if let Some(earlier) = txn
                .message_by_request(&command.id, org, command.request_id.as_str())
                .await?
            {
                return if earlier.text.as_deref() == Some(command.text.as_str()) {
                    Ok(earlier)
                } else {
                    Err(AppError::AlreadyExists(
                        "request_id was already used for another message".into(),
                    ))
                };
            }
            if consultation.state.is_final() {
                return Err(AppError::FailedPrecondition {
                    reason: crate::app::Reason::ConsultationEnded,
                    subject: format!("consultations/{}", command.id),
                    description: format!(
                        "the consultation is {}: its thread is closed",
                        consultation.state.name()
                    ),
                });
            }
            let now = self.clock.now();
            let message = ThreadMessage {
                id: uuid::Uuid::now_v7().to_string(),
                consultation_id: command.id.clone(),
                author: org.clone(),
                person: person.as_str().to_owned(),
                text: Some(command.text.as_str().to_owned()),
                posted_at: now,
            };
            txn.insert_message(&message, command.request_id.as_str())
                .await?;
            txn.append_event(&consultation, EventKind::MessagePosted, Some(org), now)
                .await?;
            Ok(message)
        };
        self.audited(
            ConsultationAccess::Change,
            actor,
            Some(&person),
            call,
            Some(&id),
            |_| None,
            work,
        )
        .await
    }

    /// The thread, oldest first.
    pub async fn list_messages(
        &self,
        actor: &Actor,
        id: Parsed<ConsultationId>,
        page: Parsed<Page>,
    ) -> Result<(Vec<ThreadMessage>, String), AppError> {
        let call = Call::LIST_MESSAGES;
        let (person, id) = self
            .admit(actor, Action::TakePartInConsultations, call, id, |id| {
                Some(id.to_string())
            })
            .await?;
        let scope = format!("messages:{id}");
        let paging = page.and_then(|page| {
            let offset = self.pages.offset(&page, &scope)?;
            Ok((page, offset))
        });
        let (page, offset) = match paging {
            Ok(paging) => paging,
            Err(e) => {
                return self
                    .refused(actor, Some(&person), call, Some(id.as_str()), e)
                    .await;
            }
        };
        let work = async |txn: &AuditedTxn| {
            visible(txn, &id, &actor.caller.org.id).await?;
            let mut messages = txn
                .messages(&id, offset as u64, page.size as u64 + 1)
                .await?;
            let next = if messages.len() > page.size {
                messages.truncate(page.size);
                self.pages.encode_offset(&scope, offset + page.size)
            } else {
                String::new()
            };
            Ok((messages, next))
        };
        self.audited(
            ConsultationAccess::Read,
            actor,
            Some(&person),
            call,
            Some(id.as_str()),
            |_| None,
            work,
        )
        .await
    }
}
