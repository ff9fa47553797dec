//! A typed client for the Spil hub over mutual TLS.
//!
//! ```no_run
//! # async fn demo() -> Result<(), spil_client::ClientError> {
//! let identity = spil_client::Identity::from_files("org.pem", "org-key.pem")?;
//! let client = spil_client::SpilClient::connect(
//!     "https://localhost:50051", &std::fs::read_to_string("server-ca.pem")?, Some(identity)).await?;
//! let me = client.directory().who_am_i(spil_client::pb::WhoAmIRequest {}).await?;
//! # Ok(()) }
//! ```

pub use spil_proto::v1 as pb;

pub mod follow;

use pb::audit_client::AuditClient;
use pb::capacity_registry_client::CapacityRegistryClient;
use pb::consultations_client::ConsultationsClient;
use pb::directory_client::DirectoryClient;
use pb::placements_client::PlacementsClient;
use std::path::Path;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("failed to read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid hub address {0}")]
    Address(String),
    #[error("failed to connect to the hub: {0}")]
    Connect(#[from] tonic::transport::Error),
    #[error(transparent)]
    Status(#[from] tonic::Status),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// An organisation's client certificate and key, PEM.
#[derive(Clone)]
pub struct Identity {
    pub cert_pem: String,
    pub key_pem: String,
}

impl Identity {
    pub fn from_files(cert: impl AsRef<Path>, key: impl AsRef<Path>) -> Result<Self, ClientError> {
        Ok(Self {
            cert_pem: read(cert.as_ref())?,
            key_pem: read(key.as_ref())?,
        })
    }
}

fn read(path: &Path) -> Result<String, ClientError> {
    std::fs::read_to_string(path).map_err(|source| ClientError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Both services over one connection.
#[derive(Clone)]
pub struct SpilClient {
    channel: Channel,
}

impl SpilClient {
    /// Connects to `hub` (e.g. `https://localhost:50051`), trusting
    /// `server_ca_pem`, presenting `identity` (a test may present none).
    pub async fn connect(
        hub: &str,
        server_ca_pem: &str,
        identity: Option<Identity>,
    ) -> Result<Self, ClientError> {
        // One crypto provider for the whole process (tonic, sea-orm and rustls agree on ring).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let uri: tonic::transport::Uri = hub
            .parse()
            .map_err(|_| ClientError::Address(hub.to_owned()))?;
        let host = uri
            .host()
            .ok_or_else(|| ClientError::Address(hub.to_owned()))?
            .to_owned();
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(server_ca_pem))
            .domain_name(host.trim_start_matches('[').trim_end_matches(']'));
        if let Some(identity) = identity {
            tls = tls.identity(tonic::transport::Identity::from_pem(
                identity.cert_pem,
                identity.key_pem,
            ));
        }
        let channel = Endpoint::from(uri)
            .tls_config(tls)?
            .connect_timeout(std::time::Duration::from_secs(10))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(std::time::Duration::from_secs(30))
            .connect()
            .await?;
        Ok(Self { channel })
    }

    pub fn directory(&self) -> DirectoryClient<Channel> {
        DirectoryClient::new(self.channel.clone())
    }

    pub fn capacity(&self) -> CapacityRegistryClient<Channel> {
        CapacityRegistryClient::new(self.channel.clone())
    }

    /// Consultations, acting as `person` (a name or staff id, sent as
    /// UTF-8 in `x-spil-person-bin` on every call and recorded in the audit
    /// trail).
    pub fn consultations(
        &self,
        person: &str,
    ) -> ConsultationsClient<InterceptedService<Channel, PersonHeader>> {
        ConsultationsClient::with_interceptor(self.channel.clone(), PersonHeader::new(person))
    }

    /// Placement requests, as `person` (named on every call and recorded in
    /// the audit trail, like consultations).
    pub fn placements(
        &self,
        person: &str,
    ) -> PlacementsClient<InterceptedService<Channel, PersonHeader>> {
        PlacementsClient::with_interceptor(self.channel.clone(), PersonHeader::new(person))
    }

    pub fn audit(&self) -> AuditClient<Channel> {
        AuditClient::new(self.channel.clone())
    }

    pub fn insights(&self) -> pb::insights_client::InsightsClient<Channel> {
        pb::insights_client::InsightsClient::new(self.channel.clone())
    }

    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }
}

/// Adds the acting person to every request as UTF-8 binary metadata
/// (`x-spil-person-bin`), so any name travels as written.
#[derive(Clone)]
pub struct PersonHeader(tonic::metadata::MetadataValue<tonic::metadata::Binary>);

impl PersonHeader {
    pub fn new(person: &str) -> Self {
        Self(tonic::metadata::MetadataValue::from_bytes(
            person.as_bytes(),
        ))
    }
}

impl tonic::service::Interceptor for PersonHeader {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert_bin("x-spil-person-bin", self.0.clone());
        Ok(request)
    }
}

/// The revision to resume a watch from after the hub ended it (at shutdown
/// it answers UNAVAILABLE with `resume_revision` in `google.rpc.ErrorInfo`).
pub fn resume_revision(status: &tonic::Status) -> Option<u64> {
    use tonic_types::StatusExt;
    status
        .get_details_error_info()?
        .metadata
        .get("resume_revision")?
        .parse()
        .ok()
}
