//! The demo as a newcomer starts it: its replayed history stays in the past.

mod common;

use common::{client, start_demo};
use spil_client::pb;

#[tokio::test]
async fn the_demo_records_nothing_after_the_moment_it_is_recorded() {
    let dir = std::env::temp_dir().join(format!("spil-demo-{}", uuid::Uuid::new_v4()));
    let (_hub, address) = start_demo(&dir).await;
    let auditor = client(&dir, &address, "spil-privacy").await;

    let mut events = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = auditor
            .audit()
            .list_audit_events(pb::ListAuditEventsRequest {
                page_size: 1000,
                page_token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        events.extend(page.events);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert!(
        events.len() > 100,
        "the demo has a history: {}",
        events.len()
    );
    #[allow(clippy::disallowed_methods)] // the demo runs on the wall clock; so does this check
    let now = chrono::Utc::now().timestamp();
    let times: Vec<i64> = events.iter().map(|e| e.at.unwrap().seconds).collect();
    let future: Vec<&i64> = times.iter().filter(|t| **t > now).collect();
    assert!(
        future.is_empty(),
        "{} records dated after now",
        future.len()
    );
    let mut ordered = events.clone();
    ordered.sort_by_key(|e| e.seq);
    assert!(
        ordered
            .windows(2)
            .all(|w| w[0].at.unwrap().seconds <= w[1].at.unwrap().seconds),
        "audit times follow the sequence"
    );
    let verdict = auditor
        .audit()
        .verify_audit_chain(pb::VerifyAuditChainRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(verdict.intact, "{verdict:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
