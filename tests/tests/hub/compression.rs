//! Compressed calls through tonic's own codecs (not this project's code):
//! every Spil service and health accept gzip, deflate and zstd requests,
//! and answer compressed in the encoding the caller accepts, and plainly
//! to a caller that accepts none.

use spil_tests::fixtures::*;
use spil_tests::{TestHub, pb};
use tonic::codec::CompressionEncoding;
use tonic_health::pb::health_client::HealthClient;

const ENCODINGS: [(CompressionEncoding, &str); 3] = [
    (CompressionEncoding::Gzip, "gzip"),
    (CompressionEncoding::Deflate, "deflate"),
    (CompressionEncoding::Zstd, "zstd"),
];

/// The encoding the hub answered in, from the response's headers.
fn answered_in(metadata: &tonic::metadata::MetadataMap) -> Option<String> {
    metadata
        .get("grpc-encoding")
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn every_service_takes_and_gives_every_encoding() {
    let hub = TestHub::spawn().await;
    let kenter = hub.kenter_with_location().await;
    crisis_bed_offering(&kenter, "kenter-haarlem", 4, 2).await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    let ret = hub.client_as("ret-zkh-ijmond").await;
    let region = hub.client_as("regio-zuid-kennemerland").await;
    let auditor = hub.client_as("spil-privacy").await;

    for (encoding, name) in ENCODINGS {
        let mut answers = Vec::new();
        let found = crisis
            .capacity()
            .send_compressed(encoding)
            .accept_compressed(encoding)
            .search_places(crisis_search())
            .await
            .unwrap_or_else(|s| panic!("{name} search: {s:?}"));
        assert!(!found.get_ref().results.is_empty());
        answers.push(("CapacityRegistry", answered_in(found.metadata())));

        let me = crisis
            .directory()
            .send_compressed(encoding)
            .accept_compressed(encoding)
            .who_am_i(pb::WhoAmIRequest::default())
            .await
            .unwrap_or_else(|s| panic!("{name} WhoAmI: {s:?}"));
        answers.push(("Directory", answered_in(me.metadata())));

        let filed = crisis
            .consultations("J. de Vries")
            .send_compressed(encoding)
            .accept_compressed(encoding)
            .file_consultation(consultation(&format!("zip-{name}"), "ret-zkh-ijmond"))
            .await
            .unwrap_or_else(|s| panic!("{name} FileConsultation: {s:?}"));
        answers.push(("Consultations", answered_in(filed.metadata())));
        let listed = ret
            .consultations("A. Jansen")
            .send_compressed(encoding)
            .accept_compressed(encoding)
            .list_consultations(pb::ListConsultationsRequest::default())
            .await
            .unwrap_or_else(|s| panic!("{name} ListConsultations: {s:?}"));
        assert!(!listed.get_ref().consultations.is_empty());

        let overview = region
            .insights()
            .send_compressed(encoding)
            .accept_compressed(encoding)
            .capacity_overview(pb::CapacityOverviewRequest {
                region_id: "zuid-kennemerland".into(),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|s| panic!("{name} CapacityOverview: {s:?}"));
        answers.push(("Insights", answered_in(overview.metadata())));

        let verified = auditor
            .audit()
            .send_compressed(encoding)
            .accept_compressed(encoding)
            .verify_audit_chain(pb::VerifyAuditChainRequest::default())
            .await
            .unwrap_or_else(|s| panic!("{name} VerifyAuditChain: {s:?}"));
        answers.push(("Audit", answered_in(verified.metadata())));

        let health = HealthClient::new(crisis.channel())
            .send_compressed(encoding)
            .accept_compressed(encoding)
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await
            .unwrap_or_else(|s| panic!("{name} health: {s:?}"));
        answers.push(("Health", answered_in(health.metadata())));

        for (service, answer) in answers {
            assert_eq!(
                answer.as_deref(),
                Some(name),
                "{service} answered {name} in {answer:?}"
            );
        }
    }

    // A caller that accepts no compression gets plain answers.
    let plain = crisis
        .capacity()
        .search_places(crisis_search())
        .await
        .unwrap();
    assert_eq!(answered_in(plain.metadata()), None);
}

#[tokio::test]
async fn a_watch_streams_compressed() {
    let hub = TestHub::spawn().await;
    let kenter = hub.kenter_with_location().await;
    crisis_bed_offering(&kenter, "kenter-haarlem", 4, 2).await;
    let mut watch = kenter
        .capacity()
        .send_compressed(CompressionEncoding::Zstd)
        .accept_compressed(CompressionEncoding::Zstd)
        .watch_capacity(pb::WatchCapacityRequest {
            include_snapshot: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(answered_in(watch.metadata()).as_deref(), Some("zstd"));
    let first = watch.get_mut().message().await.unwrap().unwrap();
    assert!(first.revision > 0);
}
