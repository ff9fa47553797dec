//! Arbitrary messages of every request type, sent over real mTLS to every
//! method the hub serves: no request panics a handler, and every refusal is
//! one of the documented codes, naming a field when it is INVALID_ARGUMENT.
//!
//! The messages are generated from the contract's own descriptors, so a
//! method or field added later is fuzzed without touching this file.

use super::support::epoch_offering;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor,
    Value,
};
use spil_tests::TestHub;
use std::time::Duration;
use tonic::Code;
use tonic::codegen::http::uri::PathAndQuery;
use tonic_types::StatusExt;

/// Organisations the calls are made as: one of each role, so that
/// conversion and use-case code behind every role check is reached.
const CALLERS: &[&str] = &[
    "crisisdienst-zkh",
    "kenter",
    "ret-zkh-ijmond",
    "ben-nh",
    "cjg-haarlem",
    "regio-zuid-kennemerland",
    "spil-privacy",
    "spil-beheer",
];

/// Codes a request may be refused with (STYLE's table, less the ones that
/// only the hub's own condition explains: INTERNAL, UNKNOWN, UNAVAILABLE).
const DOCUMENTED: &[Code] = &[
    Code::InvalidArgument,
    Code::PermissionDenied,
    Code::NotFound,
    Code::FailedPrecondition,
    Code::AlreadyExists,
    Code::OutOfRange,
    Code::Aborted,
    Code::ResourceExhausted,
];

/// The `ErrorInfo` reasons the contract lists, as the hub spells them.
fn listed_reasons() -> Vec<String> {
    pool()
        .get_enum_by_name("spil.v1.ErrorReason")
        .expect("the contract lists its error reasons")
        .values()
        .filter(|v| v.number() != 0)
        .map(|v| v.name().trim_start_matches("ERROR_REASON_").to_owned())
        .collect()
}

fn pool() -> DescriptorPool {
    DescriptorPool::decode(spil_proto::FILE_DESCRIPTOR_SET).expect("the contract's descriptors")
}

/// Every method of every `spil.v1` service.
fn methods() -> Vec<MethodDescriptor> {
    pool()
        .services()
        .filter(|s| s.package_name() == "spil.v1")
        .flat_map(|s| s.methods().collect::<Vec<_>>())
        .collect()
}

/// Strings a request may carry: plausible identifiers (some of them real),
/// edge cases of length and script, and anything at all.
fn string_value(known: Vec<String>) -> BoxedStrategy<String> {
    prop_oneof![
        3 => proptest::sample::select(known),
        2 => "[a-z0-9-]{0,12}",
        1 => Just(String::new()),
        1 => Just("x".repeat(70_000)),
        1 => Just("GM0392".to_owned()),
        1 => Just("111 - 222 - 333".to_owned()),
        1 => "\\PC{0,40}",
        1 => any::<String>(),
    ]
    .boxed()
}

fn i64_value() -> BoxedStrategy<i64> {
    prop_oneof![
        Just(0),
        Just(-1),
        Just(i64::MAX),
        Just(i64::MIN),
        Just(10_i64.pow(16)),
        Just(253_402_300_800), // year 10000
        1_700_000_000_i64..1_900_000_000,
        0_i64..100_000,
        any::<i64>(),
    ]
    .boxed()
}

fn i32_value() -> BoxedStrategy<i32> {
    prop_oneof![
        Just(0),
        Just(-1),
        Just(i32::MAX),
        Just(i32::MIN),
        Just(1_000_000_000),
        0_i32..300,
        any::<i32>(),
    ]
    .boxed()
}

fn u32_value() -> BoxedStrategy<u32> {
    prop_oneof![Just(0), Just(u32::MAX), 0_u32..40, any::<u32>()].boxed()
}

fn u64_value() -> BoxedStrategy<u64> {
    prop_oneof![Just(0), Just(u64::MAX), 0_u64..1000, any::<u64>()].boxed()
}

fn single_value(field: &FieldDescriptor, known: &[String], depth: u32) -> BoxedStrategy<Value> {
    match field.kind() {
        Kind::Double => any::<f64>().prop_map(Value::F64).boxed(),
        Kind::Float => any::<f32>().prop_map(Value::F32).boxed(),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => i32_value().prop_map(Value::I32).boxed(),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => i64_value().prop_map(Value::I64).boxed(),
        Kind::Uint32 | Kind::Fixed32 => u32_value().prop_map(Value::U32).boxed(),
        Kind::Uint64 | Kind::Fixed64 => u64_value().prop_map(Value::U64).boxed(),
        Kind::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Kind::String => string_value(known.to_vec()).prop_map(Value::String).boxed(),
        Kind::Bytes => proptest::collection::vec(any::<u8>(), 0..64)
            .prop_map(|b| Value::Bytes(b.into()))
            .boxed(),
        Kind::Enum(e) => {
            let numbers: Vec<i32> = e.values().map(|v| v.number()).collect();
            prop_oneof![
                4 => proptest::sample::select(numbers),
                1 => any::<i32>(),
            ]
            .prop_map(Value::EnumNumber)
            .boxed()
        }
        Kind::Message(m) => message(m, known.to_vec(), depth + 1)
            .prop_map(Value::Message)
            .boxed(),
    }
}

/// One field's value: absent, or a value (a few of them when repeated).
fn field_value(
    field: FieldDescriptor,
    known: &[String],
    depth: u32,
) -> BoxedStrategy<Option<(FieldDescriptor, Value)>> {
    if depth > 3 {
        return Just(None).boxed();
    }
    let value = if field.is_list() {
        proptest::collection::vec(single_value(&field, known, depth), 0..4)
            .prop_map(Value::List)
            .boxed()
    } else if field.is_map() {
        return Just(None).boxed();
    } else {
        single_value(&field, known, depth)
    };
    proptest::option::weighted(0.8, value)
        .prop_map(move |v| v.map(|v| (field.clone(), v)))
        .boxed()
}

fn message(
    descriptor: MessageDescriptor,
    known: Vec<String>,
    depth: u32,
) -> BoxedStrategy<DynamicMessage> {
    let fields: Vec<_> = descriptor
        .fields()
        .map(|f| field_value(f, &known, depth))
        .collect();
    fields
        .prop_map(move |values| {
            let mut message = DynamicMessage::new(descriptor.clone());
            for (field, value) in values.into_iter().flatten() {
                // A value of another oneof member may replace it: fine.
                message.set_field(&field, value);
            }
            message
        })
        .boxed()
}

/// Raw bytes as a gRPC message body, to send what no message encodes to.
#[derive(Clone, PartialEq, Default)]
struct RawBody(Vec<u8>);

impl std::fmt::Debug for RawBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RawBody({:02x?})", self.0)
    }
}

impl prost::Message for RawBody {
    fn encode_raw(&self, buf: &mut impl prost::bytes::BufMut) {
        buf.put_slice(&self.0);
    }
    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: prost::encoding::WireType,
        buf: &mut impl prost::bytes::Buf,
        ctx: prost::encoding::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        prost::encoding::skip_field(wire_type, tag, buf, ctx)
    }
    fn encoded_len(&self) -> usize {
        self.0.len()
    }
    fn clear(&mut self) {
        self.0.clear();
    }
}

/// Calls `method` with `body` as `org`, and returns the status the call
/// ended with (`Ok` for a unary success or a stream's first message).
async fn call<B: prost::Message + Send + 'static>(
    channel: tonic::transport::Channel,
    method: &MethodDescriptor,
    body: B,
) -> Result<(), tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unknown(e.to_string()))?;
    let path = PathAndQuery::try_from(format!(
        "/{}/{}",
        method.parent_service().full_name(),
        method.name()
    ))
    .unwrap();
    let mut request = tonic::Request::new(body);
    request.metadata_mut().insert_bin(
        "x-spil-person-bin",
        tonic::metadata::MetadataValue::from_bytes("Zoë Fuzz".as_bytes()),
    );
    let codec = tonic_prost::ProstCodec::<B, ()>::default();
    if method.is_server_streaming() {
        let mut stream = grpc
            .server_streaming(request, path, codec)
            .await?
            .into_inner();
        match tokio::time::timeout(Duration::from_millis(200), stream.message()).await {
            Ok(next) => next.map(|_| ()),
            // A watch with nothing to send yet is a live, healthy stream.
            Err(_) => Ok(()),
        }
    } else {
        grpc.unary(request, path, codec).await.map(|_| ())
    }
}

fn check(
    method: &MethodDescriptor,
    result: Result<(), tonic::Status>,
) -> Result<(), TestCaseError> {
    let Err(status) = result else { return Ok(()) };
    prop_assert!(
        DOCUMENTED.contains(&status.code()),
        "{} answered {:?}: {}",
        method.full_name(),
        status.code(),
        status.message()
    );
    // Every error names a reason the contract lists, in the hub's domain;
    // a load refusal says when to retry, unless no retry can pass.
    let Some(info) = status.get_details_error_info() else {
        return Err(TestCaseError::fail(format!(
            "{} answered {:?} without ErrorInfo: {}",
            method.full_name(),
            status.code(),
            status.message()
        )));
    };
    prop_assert_eq!(info.domain.as_str(), spil_proto::ERROR_DOMAIN);
    prop_assert!(
        listed_reasons().contains(&info.reason),
        "{} answered reason {:?}, which spil.v1.ErrorReason does not list",
        method.full_name(),
        info.reason
    );
    if matches!(status.code(), Code::Unavailable | Code::ResourceExhausted)
        && info.reason != "MESSAGE_TOO_LARGE"
    {
        prop_assert!(
            status.get_details_retry_info().is_some(),
            "{} answered {:?} without RetryInfo",
            method.full_name(),
            status.code()
        );
    }
    if status.code() == Code::InvalidArgument && !status.message().starts_with("the request body") {
        let named = status.get_details_bad_request().is_some_and(|bad| {
            bad.field_violations.iter().all(|v| !v.field.is_empty())
                && !bad.field_violations.is_empty()
        });
        prop_assert!(
            named,
            "{} refused without naming a field: {}",
            method.full_name(),
            status.message()
        );
    }
    Ok(())
}

/// Cases per method; `PROPTEST_CASES` raises it for a longer run.
fn config() -> Config {
    #[allow(clippy::disallowed_methods)] // a knob of the test run, not of the hub
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(40);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

#[test]
fn arbitrary_requests_to_every_method_get_a_documented_answer() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (hub, channels, known) = runtime.block_on(async {
        let hub = TestHub::spawn().await;
        // Real identifiers in the pool, so that generated requests reach
        // past "not found" into the use-cases now and then.
        let (offering_id, consultation_id) = epoch_offering(&hub).await;
        // A placement request under a real hold, so that answering,
        // withdrawing, escalating and reading reach the use-cases too.
        let crisis = hub.client_as("crisisdienst-zkh").await;
        let hold = crisis
            .capacity()
            .hold_place(spil_tests::fixtures::hold("fuzz-hold", &offering_id))
            .await
            .expect("a hold on the seeded offering")
            .into_inner()
            .hold
            .expect("the hold");
        let requested = crisis
            .placements("J. de Vries")
            .request_placement(spil_tests::pb::RequestPlacementRequest {
                request_id: "fuzz-placement".into(),
                hold_ids: vec![hold.id.clone()],
                case_reference: "FUZZ-CASE-1".into(),
                age_years: 15,
                care_profiles: vec![spil_tests::pb::CareProfile::YouthAndParenting as i32],
                security_level: spil_tests::pb::SecurityLevel::Open as i32,
                urgency: spil_tests::pb::PlacementUrgency::Crisis as i32,
                note: "Vannacht uit huis geplaatst.".into(),
                consent_recorded: true,
            })
            .await
            .expect("a placement request")
            .into_inner()
            .placement_request
            .expect("the placement request");
        let mut channels = Vec::new();
        for org in CALLERS {
            channels.push(hub.client_as(org).await.channel());
        }
        let known = vec![
            offering_id,
            consultation_id,
            "kenter-haarlem".to_owned(),
            "kenter".to_owned(),
            "ret-zkh-ijmond".to_owned(),
            "ben-nh".to_owned(),
            "zuid-kennemerland".to_owned(),
            "GM0392".to_owned(),
            "r-1".to_owned(),
            hold.id,
            requested.provider_requests[0].id.clone(),
            requested.id,
        ];
        (hub, channels, known)
    });
    for method in methods() {
        let strategy = (0..channels.len(), message(method.input(), known.clone(), 0));
        TestRunner::new(config())
            .run(&strategy, |(caller, request)| {
                let result = runtime.block_on(async {
                    let first = call(channels[caller].clone(), &method, request.clone()).await;
                    match &first {
                        // A call cut off without an answer: a handler that
                        // panicked, or the connection lost under load. Again,
                        // on a connection of its own: a panic happens again.
                        Err(status) if matches!(status.code(), Code::Cancelled | Code::Unknown) => {
                            let fresh = hub.client_as(CALLERS[caller]).await.channel();
                            call(fresh, &method, request).await
                        }
                        _ => first,
                    }
                });
                check(&method, result)
            })
            .unwrap_or_else(|failure| panic!("{}: {failure}", method.full_name()));
        // A body that is no valid message of the request type at all.
        let garbage = [
            vec![0xff, 0xff, 0xff],
            vec![0x0a, 0x05, 0xff],
            vec![0x08],
            vec![0x0a, 0x02, 0xc3, 0x28],
        ];
        for body in garbage {
            let result =
                runtime.block_on(call(channels[0].clone(), &method, RawBody(body.clone())));
            if let Err(status) = &result {
                assert!(
                    status.code() != Code::Internal && DOCUMENTED.contains(&status.code()),
                    "{} answered {status:?} to {body:02x?}",
                    method.full_name()
                );
            }
        }
    }
    runtime.block_on(hub.stop());
}

#[test]
fn every_service_of_the_contract_is_fuzzed() {
    let names: Vec<String> = methods().iter().map(|m| m.full_name().to_owned()).collect();
    for expected in [
        "spil.v1.CapacityRegistry.HoldPlace",
        "spil.v1.Consultations.FileConsultation",
        "spil.v1.Insights.PlacementFigures",
        "spil.v1.Placements.RequestPlacement",
        "spil.v1.Placements.AnswerPlacementRequest",
        "spil.v1.Placements.EscalatePlacementCase",
        "spil.v1.Audit.ListAuditEvents",
        "spil.v1.Directory.WhoAmI",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
}
