//! The consultation watch: a caller's consultations' events after a revision, resumable, each read audited.

use super::*;

impl ConsultationUseCases {
    /// The consultation log's latest revision: where a page drawn now
    /// resumes its watch from. A number only, so no audit record.
    pub async fn current_revision(&self) -> Result<Revision, AppError> {
        Ok(self.store.current_consultation_revision().await?)
    }

    /// Streams events on the caller's consultations after `start` (from now when `None`).
    pub async fn watch_consultations(
        &self,
        actor: &Actor,
        start: Parsed<StartFrom>,
    ) -> Result<ConsultationWatchStream, AppError> {
        let call = Call::WATCH;
        let (person, start) = self
            .admit(actor, Action::TakePartInConsultations, call, start, |_| {
                None
            })
            .await?;
        let current = self.store.current_consultation_revision().await?;
        let start = match start {
            StartFrom::Now => current,
            // The consultation log is never pruned.
            StartFrom::OldestKept => Revision(0),
            StartFrom::After(start) if start > current => {
                let error = AppError::OutOfRange(format!(
                    "revision {} is ahead of the hub (at {})",
                    start.0, current.0
                ));
                return self.refused(actor, Some(&person), call, None, error).await;
            }
            StartFrom::After(start) => start,
        };
        let slot = self
            .audited(
                ConsultationAccess::Read,
                actor,
                Some(&person),
                call,
                None,
                |_| None,
                async |_| self.0.watch_slot(&actor.caller.org.id, "consultations"),
            )
            .await?;

        let (tx, rx) = mpsc::channel(self.settings.watch_buffer);
        let app = self.clone();
        let org = actor.caller.org.id.clone();
        // The producer stays in the call's span for as long as the stream lives.
        tokio::spawn(tracing::Instrument::in_current_span(async move {
            let _slot = slot;
            if let Err(error) = app.produce_consultation_events(org, start, &tx).await {
                let _ = tx.send(Err(error)).await;
            }
        }));
        Ok(ReceiverStream::new(rx))
    }

    pub(super) async fn produce_consultation_events(
        &self,
        org: OrgId,
        mut last: Revision,
        tx: &mpsc::Sender<Result<ConsultationWatchMessage, AppError>>,
    ) -> Result<(), AppError> {
        let mut committed = self.store.subscribe_consultations();
        if tx
            .send(Ok(ConsultationWatchMessage::Start(last)))
            .await
            .is_err()
        {
            return Ok(());
        }
        loop {
            let events = self
                .store
                .consultation_events_after(&org, last, EVENT_BATCH)
                .await?;
            if events.is_empty() {
                tokio::select! {
                    _ = self.shutdown.cancelled() => {
                        return Err(AppError::ShuttingDown { resume_after: last });
                    }
                    _ = tx.closed() => return Ok(()),
                    _ = committed.changed() => {}
                    _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                }
                continue;
            }
            let ids: Vec<&str> = events.iter().map(|e| e.consultation_id.as_str()).collect();
            let consultations = self.store.consultations_by_id(&ids).await?;
            for event in events {
                let Some(consultation) = consultations.get(event.consultation_id.as_str()) else {
                    last = event.revision;
                    continue;
                };
                let item = ConsultationWatchItem {
                    revision: event.revision,
                    kind: event.kind,
                    state: event.state,
                    actor: event.actor,
                    at: event.at,
                    overdue: consultation.is_overdue(self.clock.now()),
                    consultation: consultation.clone(),
                };
                tokio::select! {
                    sent = tx.send(Ok(ConsultationWatchMessage::Event(Box::new(item)))) => match sent {
                        Ok(()) => crate::metrics::watch_delivery(
                            "consultations",
                            event.revision.0,
                            committed.borrow().0,
                        ),
                        Err(_) => return Ok(()),
                    },
                    // Not sent: the client resumes from what it has.
                    _ = self.shutdown.cancelled() => {
                        return Err(AppError::ShuttingDown { resume_after: last });
                    }
                }
                last = event.revision;
            }
        }
    }
}

/// Events read per round trip by a watch.
pub(super) const EVENT_BATCH: u64 = 256;
