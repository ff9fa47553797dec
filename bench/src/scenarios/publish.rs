//! Publications of capacity, closed loop: each one durable.

use crate::*;

impl Bench {
    pub(crate) async fn publish(&self) -> anyhow::Result<Report> {
        let clients = self.clients("kenter", self.args.connections).await?;
        let first = self.args.publish_first_location;
        let mut report = self
            .timed(
                "publish (1 offering)",
                clients,
                move |client, n| async move {
                    client
                        .capacity()
                        .publish_capacity(publication_from(first, n))
                        .await
                        .is_ok()
                },
            )
            .await;
        report.note = format!(
            "{}; {} B a publication",
            report.note,
            publication(0).encoded_len()
        );
        Ok(report)
    }
}
