//! Mutual TLS: the server configuration (client certificates verified
//! against the organisations' CA and its revocation list) and the accept
//! loop that hands verified connections to tonic.
//!
//! tonic's own `ServerTlsConfig` has no CRL hook and would accept revoked
//! client certificates, so the hub builds the rustls configuration itself.

use anyhow::Context;
use arc_swap::ArcSwap;
use rustls::RootCertStore;
use rustls::server::{ServerConfig, WebPkiClientVerifier};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

/// The PEM files the hub's TLS needs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct TlsFiles {
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// The CA (or bundle) that issues organisations' client certificates.
    pub client_ca: PathBuf,
    /// Revocation lists of the client CA; revoked certificates are refused.
    #[serde(default)]
    pub client_crls: Vec<PathBuf>,
}

/// How long a client may take to complete its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections handed to tonic that have finished their handshake but not yet been served.
const ACCEPTED_BACKLOG: usize = 128;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the server configuration: our certificate, and a client
/// certificate required from the client CA, checked against its CRLs.
pub fn server_config(files: &TlsFiles) -> anyhow::Result<Arc<ServerConfig>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.server_cert)
        .with_context(|| format!("failed to open {}", files.server_cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("failed to parse {}", files.server_cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(&files.server_key)
        .with_context(|| format!("failed to read the key {}", files.server_key.display()))?;

    let mut roots = RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(&files.client_ca)
        .with_context(|| format!("failed to open {}", files.client_ca.display()))?
    {
        let ca = ca.with_context(|| format!("failed to parse {}", files.client_ca.display()))?;
        roots.add(ca).context("failed to trust the client CA")?;
    }
    let mut crls: Vec<CertificateRevocationListDer<'static>> = Vec::new();
    for path in &files.client_crls {
        for crl in CertificateRevocationListDer::pem_file_iter(path)
            .with_context(|| format!("failed to open {}", path.display()))?
        {
            crls.push(crl.with_context(|| format!("failed to parse {}", path.display()))?);
        }
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .with_crls(crls)
        .build()
        .context("failed to build the client certificate verifier")?;

    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("failed to choose TLS versions")?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .context("the server certificate and key do not match")?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// The TLS configuration new connections get, rebuilt when one of its files
/// changes: a revocation (a new CRL) or a renewed certificate takes effect
/// without a restart. Open connections keep the configuration they began with.
#[derive(Clone)]
pub struct LiveConfig {
    current: Arc<ArcSwap<ServerConfig>>,
    files: TlsFiles,
}

impl LiveConfig {
    pub fn load(files: &TlsFiles) -> anyhow::Result<Self> {
        Ok(Self {
            current: Arc::new(ArcSwap::new(server_config(files)?)),
            files: files.clone(),
        })
    }

    pub fn current(&self) -> Arc<ServerConfig> {
        self.current.load_full()
    }

    fn stamp(&self) -> Vec<Option<(std::time::SystemTime, u64)>> {
        let files = &self.files;
        [&files.server_cert, &files.server_key, &files.client_ca]
            .into_iter()
            .chain(files.client_crls.iter())
            .map(|path| {
                std::fs::metadata(path)
                    .ok()
                    .and_then(|m| Some((m.modified().ok()?, m.len())))
            })
            .collect()
    }

    /// Looks at the files every `every`; when they changed, rebuilds the
    /// configuration. A broken new file keeps the old configuration and is
    /// logged, so a bad deploy of a CRL cannot take the hub down.
    pub async fn follow_files(self, every: Duration, shutdown: CancellationToken) {
        let mut seen = self.stamp();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            let now = self.stamp();
            if now == seen {
                continue;
            }
            match server_config(&self.files) {
                Ok(config) => {
                    self.current.store(config);
                    seen = now;
                    tracing::info!("tls configuration reloaded");
                }
                Err(error) => tracing::error!(
                    error = format!("{error:#}"),
                    "tls files changed but do not load"
                ),
            }
        }
    }
}

/// Accepts TCP connections, completes each TLS handshake on its own task
/// (a slow client blocks nobody) and yields the verified streams. Stops
/// accepting when `shutdown` is cancelled.
pub fn incoming(
    listener: TcpListener,
    config: LiveConfig,
    shutdown: CancellationToken,
) -> ReceiverStream<Result<TlsStream<TcpStream>, std::io::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel(ACCEPTED_BACKLOG);
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(%error, "failed to accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = TlsAcceptor::from(config.current());
            let tx = tx.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        let _ = tx.send(Ok(stream)).await;
                    }
                    Ok(Err(error)) => tracing::info!(%peer, %error, "tls handshake refused"),
                    Err(_) => tracing::info!(%peer, "tls handshake timed out"),
                }
            });
        }
    });
    ReceiverStream::new(rx)
}
