//! The gRPC surface: services, the authentication layer, conversions and
//! the error mapping. No SQL and no authorisation rule lives here.

mod audit;
pub mod auth;
mod calls;
mod capacity;
mod consultations;
pub mod convert;
mod directory;
mod insights;
mod placements;
pub mod status;

use crate::app::App;
pub use calls::GrpcWire;
use spil_proto::v1 as pb;
use std::sync::Arc;
use tonic::codec::CompressionEncoding;
use tonic::service::Routes;
use tonic::service::interceptor::InterceptedService;

/// Every encoding a client may compress its requests with (grpcio, grpc-java
/// and grpc-go offer gzip and deflate; zstd is the newer one), and that the
/// hub answers in when the caller lists it in `grpc-accept-encoding`.
/// Generated servers share no trait for this, hence a macro.
macro_rules! compressed {
    ($server:expr) => {
        $server
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Deflate)
            .accept_compressed(CompressionEncoding::Zstd)
            .send_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Deflate)
            .send_compressed(CompressionEncoding::Zstd)
    };
}

/// Every service on the mTLS port: the Spil services behind the
/// certificate → organisation interceptor, plus health and reflection.
pub fn routes(
    app: Arc<App>,
    authenticate: auth::Authenticate,
    health: tonic_health::pb::health_server::HealthServer<
        impl tonic_health::pb::health_server::Health,
    >,
) -> anyhow::Result<Routes> {
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(spil_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1 = compressed!(reflection_v1);
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(spil_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    let reflection_v1alpha = compressed!(reflection_v1alpha);
    let mut routes = Routes::builder();
    routes
        .add_service(InterceptedService::new(
            compressed!(pb::directory_server::DirectoryServer::new(
                directory::DirectoryService::new(Arc::clone(&app)),
            )),
            authenticate.clone(),
        ))
        .add_service(InterceptedService::new(
            compressed!(pb::capacity_registry_server::CapacityRegistryServer::new(
                capacity::CapacityService::new(Arc::clone(&app)),
            )),
            authenticate.clone(),
        ))
        .add_service(InterceptedService::new(
            compressed!(pb::consultations_server::ConsultationsServer::new(
                consultations::ConsultationsService::new(Arc::clone(&app)),
            )),
            authenticate.clone(),
        ))
        .add_service(InterceptedService::new(
            compressed!(pb::placements_server::PlacementsServer::new(
                placements::PlacementsService::new(Arc::clone(&app)),
            )),
            authenticate.clone(),
        ))
        .add_service(InterceptedService::new(
            compressed!(pb::insights_server::InsightsServer::new(
                insights::InsightsService::new(Arc::clone(&app)),
            )),
            authenticate.clone(),
        ))
        .add_service(InterceptedService::new(
            compressed!(pb::audit_server::AuditServer::new(
                audit::AuditService::new(app)
            )),
            authenticate,
        ))
        .add_service(compressed!(health))
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);
    Ok(routes.routes())
}
