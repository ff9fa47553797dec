//! Small assertions shared by the end-to-end tests.

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// The call failed with `code`.
#[track_caller]
pub fn assert_code<T: std::fmt::Debug>(result: Result<T, Status>, code: Code) -> Status {
    match result {
        Ok(value) => panic!("expected {code:?}, got Ok({value:?})"),
        Err(status) => {
            assert_eq!(status.code(), code, "unexpected status: {status:?}");
            status
        }
    }
}

/// The call failed with INVALID_ARGUMENT naming `field` in its BadRequest details.
#[track_caller]
pub fn assert_bad_field<T: std::fmt::Debug>(result: Result<T, Status>, field: &str) {
    let status = assert_code(result, Code::InvalidArgument);
    let bad_request = status
        .get_details_bad_request()
        .unwrap_or_else(|| panic!("no BadRequest details in {status:?}"));
    let fields: Vec<&str> = bad_request
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert!(
        fields.contains(&field),
        "expected a violation of {field}, got {fields:?}"
    );
}

/// The call failed with FAILED_PRECONDITION for `reason`.
#[track_caller]
pub fn assert_precondition<T: std::fmt::Debug>(result: Result<T, Status>, reason: &str) {
    let status = assert_code(result, Code::FailedPrecondition);
    let failure = status
        .get_details_precondition_failure()
        .unwrap_or_else(|| panic!("no PreconditionFailure details in {status:?}"));
    assert_eq!(failure.violations[0].r#type, reason, "{status:?}");
}

/// A published crisis bed at Kenter and a consultation filed with the RET:
/// real identifiers for tests that need something to point at.
pub async fn epoch_offering(hub: &spil_tests::TestHub) -> (String, String) {
    use spil_tests::fixtures::{consultation, crisis_key, publish, update};
    let kenter = hub.kenter_with_location().await;
    let published = kenter
        .capacity()
        .publish_capacity(publish(
            "seed",
            vec![update(crisis_key("kenter-haarlem"), 4, 3)],
        ))
        .await
        .unwrap()
        .into_inner();
    let offering_id = published.offerings[0].id.clone();
    let filed = hub
        .client_as("crisisdienst-zkh")
        .await
        .consultations("J. de Vries")
        .file_consultation(consultation("seed", "ret-zkh-ijmond"))
        .await
        .unwrap()
        .into_inner();
    (offering_id, filed.consultation.unwrap().id)
}

const PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// A stream's first message, which every watch sends at once.
async fn first<T>(stream: &mut tonic::Streaming<T>) -> T {
    tokio::time::timeout(PATIENCE, stream.message())
        .await
        .expect("the first message at once")
        .expect("a message, not an error")
        .expect("the stream is open")
}

/// A capacity watch's first message: no offerings, only the revision it
/// starts after.
pub async fn capacity_watch_start(
    stream: &mut tonic::Streaming<spil_tests::pb::WatchCapacityResponse>,
) -> u64 {
    let first = first(stream).await;
    assert!(
        first.stream_start && first.offerings.is_empty(),
        "{first:?}"
    );
    first.revision
}

/// A consultation watch's first message: no event, only the revision it
/// starts after.
pub async fn consultation_watch_start(
    stream: &mut tonic::Streaming<spil_tests::pb::WatchConsultationsResponse>,
) -> u64 {
    let first = first(stream).await;
    assert!(
        first.stream_start && first.consultation_id.is_empty(),
        "{first:?}"
    );
    first.revision
}
