//! A consultation's thread as stored: messages, each once per request id.

use super::*;

impl AuditedTxn {
    pub async fn insert_message(
        &self,
        message: &ThreadMessage,
        request_id: &str,
    ) -> Result<(), StoreError> {
        consultation_message::ActiveModel {
            id: Set(message.id.clone()),
            consultation_id: Set(message.consultation_id.to_string()),
            author_id: Set(message.author.as_str().to_owned()),
            person: Set(message.person.clone()),
            text: Set(message.text.clone()),
            posted_at_ms: Set(millis(message.posted_at)),
            request_id: Set(request_id.to_owned()),
        }
        .insert(&self.txn)
        .await?;
        Ok(())
    }

    /// An earlier message with this request id, for idempotent retries.
    pub async fn message_by_request(
        &self,
        id: &ConsultationId,
        author: &OrgId,
        request_id: &str,
    ) -> Result<Option<ThreadMessage>, StoreError> {
        consultation_message::Entity::find()
            .filter(consultation_message::Column::ConsultationId.eq(id.as_str()))
            .filter(consultation_message::Column::AuthorId.eq(author.as_str()))
            .filter(consultation_message::Column::RequestId.eq(request_id))
            .one(&self.txn)
            .await?
            .map(message_into_domain)
            .transpose()
    }

    /// The thread, oldest first.
    pub async fn messages(
        &self,
        id: &ConsultationId,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<ThreadMessage>, StoreError> {
        consultation_message::Entity::find()
            .filter(consultation_message::Column::ConsultationId.eq(id.as_str()))
            .order_by_asc(consultation_message::Column::Id)
            .offset(offset)
            .limit(limit)
            .all(&self.txn)
            .await?
            .into_iter()
            .map(message_into_domain)
            .collect()
    }
}

pub(super) fn message_into_domain(
    row: consultation_message::Model,
) -> Result<ThreadMessage, StoreError> {
    Ok(ThreadMessage {
        consultation_id: parsed(
            ConsultationId::parse(&row.consultation_id),
            "consultation id",
        )?,
        author: parsed(OrgId::parse(&row.author_id), "author")?,
        person: row.person,
        text: row.text,
        posted_at: time(row.posted_at_ms)?,
        id: row.id,
    })
}
