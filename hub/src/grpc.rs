//! The gRPC surface: services, the authentication layer, conversions and
//! the error mapping. No SQL and no authorisation rule lives here.

mod audit;
pub mod auth;
mod capacity;
mod consultations;
pub mod convert;
mod directory;
mod insights;
pub mod status;

use crate::app::App;
use spil_proto::v1 as pb;
use std::sync::Arc;
use tonic::service::Routes;

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
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(spil_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    let mut routes = Routes::builder();
    routes
        .add_service(pb::directory_server::DirectoryServer::with_interceptor(
            directory::DirectoryService::new(Arc::clone(&app)),
            authenticate.clone(),
        ))
        .add_service(
            pb::capacity_registry_server::CapacityRegistryServer::with_interceptor(
                capacity::CapacityService::new(Arc::clone(&app)),
                authenticate.clone(),
            ),
        )
        .add_service(
            pb::consultations_server::ConsultationsServer::with_interceptor(
                consultations::ConsultationsService::new(Arc::clone(&app)),
                authenticate.clone(),
            ),
        )
        .add_service(pb::insights_server::InsightsServer::with_interceptor(
            insights::InsightsService::new(Arc::clone(&app)),
            authenticate.clone(),
        ))
        .add_service(pb::audit_server::AuditServer::with_interceptor(
            audit::AuditService::new(app),
            authenticate,
        ))
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);
    Ok(routes.routes())
}
