//! Mutual TLS: the server configuration (client certificates verified
//! against the organisations' CA and its revocation list) and the accept
//! loop that hands verified connections to tonic.
//!
//! tonic's own `ServerTlsConfig` has no CRL hook and would accept revoked
//! client certificates, so the hub builds the rustls configuration itself.

use anyhow::Context;
use arc_swap::ArcSwap;
use rustls::RootCertStore;
use rustls::server::danger::ClientCertVerifier;
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
/// certificate required from the client CA, checked against its CRLs. The
/// verifier is returned too, to check open connections' peers again.
pub fn server_config(
    files: &TlsFiles,
) -> anyhow::Result<(Arc<ServerConfig>, Arc<dyn ClientCertVerifier>)> {
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
    record_expiries(&certs, &crls);
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .with_crls(crls)
        .build()
        .context("failed to build the client certificate verifier")?;

    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("failed to choose TLS versions")?
        .with_client_cert_verifier(Arc::clone(&verifier))
        .with_single_cert(certs, key)
        .context("the server certificate and key do not match")?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok((Arc::new(config), verifier))
}

/// Tells the metrics when the server certificate expires and when the
/// earliest CRL must be replaced, so an operator is warned before either
/// stops the hub's clients.
fn record_expiries(
    certs: &[CertificateDer<'static>],
    crls: &[CertificateRevocationListDer<'static>],
) {
    use x509_parser::prelude::FromDer;
    let metrics = crate::metrics::metrics();
    if let Some(Ok((_, leaf))) = certs
        .first()
        .map(|der| x509_parser::certificate::X509Certificate::from_der(der.as_ref()))
    {
        metrics
            .server_certificate_expiry
            .set(leaf.validity().not_after.timestamp() as f64);
    }
    let next_update = crls
        .iter()
        .filter_map(|der| {
            let (_, crl) =
                x509_parser::revocation_list::CertificateRevocationList::from_der(der.as_ref())
                    .ok()?;
            Some(crl.next_update()?.timestamp())
        })
        .min();
    if let Some(next_update) = next_update {
        metrics.crl_next_update.set(next_update as f64);
    }
}

/// The client verifier of the configuration in force, and what it said of
/// the certificates it has seen since it was loaded.
struct Trust {
    verifier: Arc<dyn ClientCertVerifier>,
    /// SHA-256 of a leaf certificate → whether it still verifies. Emptied by
    /// every reload, so a new CRL or CA is applied to open connections too.
    verdicts: std::sync::Mutex<std::collections::HashMap<[u8; 32], bool>>,
}

/// Checks an open connection's client certificate against the TLS
/// configuration in force now, not the one its handshake met: after a CRL
/// (or client CA) reload, a revoked or no longer trusted certificate is
/// refused on its next request.
#[derive(Clone)]
pub struct PeerTrust(Arc<ArcSwap<Trust>>);

impl PeerTrust {
    pub fn still_trusted(&self, chain: &[CertificateDer<'_>]) -> bool {
        use sha2::Digest;
        let Some((leaf, intermediates)) = chain.split_first() else {
            return false;
        };
        let trust = self.0.load();
        let key: [u8; 32] = sha2::Sha256::digest(leaf.as_ref()).into();
        if let Some(verdict) = trust.verdicts.lock().expect("verdicts").get(&key) {
            return *verdict;
        }
        let verdict = trust
            .verifier
            .verify_client_cert(leaf, intermediates, rustls_pki_types::UnixTime::now())
            .is_ok();
        let mut verdicts = trust.verdicts.lock().expect("verdicts");
        // Bounded: a flood of distinct certificates cannot grow it forever.
        if verdicts.len() > 10_000 {
            verdicts.clear();
        }
        verdicts.insert(key, verdict);
        verdict
    }
}

/// The TLS configuration new connections get, rebuilt when one of its files
/// changes: a revocation (a new CRL) or a renewed certificate takes effect
/// without a restart. Open connections keep their handshake, but every
/// request checks its peer again through [`PeerTrust`].
#[derive(Clone)]
pub struct LiveConfig {
    current: Arc<ArcSwap<ServerConfig>>,
    trust: PeerTrust,
    files: TlsFiles,
}

fn trust_in(verifier: Arc<dyn ClientCertVerifier>) -> Trust {
    Trust {
        verifier,
        verdicts: Default::default(),
    }
}

impl LiveConfig {
    pub fn load(files: &TlsFiles) -> anyhow::Result<Self> {
        let (config, verifier) = server_config(files)?;
        Ok(Self {
            current: Arc::new(ArcSwap::new(config)),
            trust: PeerTrust(Arc::new(ArcSwap::from_pointee(trust_in(verifier)))),
            files: files.clone(),
        })
    }

    /// The handle requests use to check their connection's peer again.
    pub fn peer_trust(&self) -> PeerTrust {
        self.trust.clone()
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
                Ok((config, verifier)) => {
                    self.current.store(config);
                    self.trust.0.store(Arc::new(trust_in(verifier)));
                    seen = now;
                    crate::metrics::metrics()
                        .tls_reloads
                        .get_or_create(&crate::metrics::OutcomeLabels { outcome: "ok" })
                        .inc();
                    tracing::info!("tls configuration reloaded");
                }
                Err(error) => {
                    crate::metrics::metrics()
                        .tls_reloads
                        .get_or_create(&crate::metrics::OutcomeLabels { outcome: "failed" })
                        .inc();
                    tracing::error!(
                        error = format!("{error:#}"),
                        "tls files changed but do not load"
                    );
                }
            }
        }
    }
}

/// Accepts TCP connections, completes each TLS handshake on its own task
/// (a slow client blocks nobody) and yields the verified streams. Stops
/// accepting when `shutdown` is cancelled.
/// What a listener speaks over TLS, as ALPN announces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocols {
    /// HTTP/2 only: gRPC.
    Grpc,
    /// HTTP/2 or HTTP/1.1: REST clients (FHIR) mostly speak the latter.
    Http,
}

/// At most `max_handshakes` handshakes run at once: a burst of new
/// connections waits for a slot instead of taking every core from the calls
/// in flight.
pub fn incoming(
    listener: TcpListener,
    config: LiveConfig,
    protocols: Protocols,
    max_handshakes: usize,
    max_connections: usize,
    shutdown: CancellationToken,
) -> ReceiverStream<Result<Counted, std::io::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel(ACCEPTED_BACKLOG);
    let handshakes = Arc::new(tokio::sync::Semaphore::new(max_handshakes.max(1)));
    let connections = Arc::new(tokio::sync::Semaphore::new(max_connections.max(1)));
    tokio::spawn(async move {
        loop {
            let slot = tokio::select! {
                _ = shutdown.cancelled() => break,
                slot = Arc::clone(&handshakes).acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_) => break,
                },
            };
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
            // Over the cap a connection is closed at once, before any TLS
            // work; its client retries (another replica, or later).
            let Ok(open) = Arc::clone(&connections).try_acquire_owned() else {
                tracing::warn!(%peer, "connection refused: at max_connections");
                drop(tcp);
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let server = match protocols {
                Protocols::Grpc => config.current(),
                Protocols::Http => {
                    let mut server = (*config.current()).clone();
                    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
                    Arc::new(server)
                }
            };
            let acceptor = TlsAcceptor::from(server);
            let tx = tx.clone();
            tokio::spawn(async move {
                let _slot = slot;
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        let _ = tx
                            .send(Ok(Counted {
                                stream,
                                _open: open,
                            }))
                            .await;
                    }
                    Ok(Err(error)) => tracing::info!(%peer, %error, "tls handshake refused"),
                    Err(_) => tracing::info!(%peer, "tls handshake timed out"),
                }
            });
        }
    });
    ReceiverStream::new(rx)
}

/// An accepted connection, counted against `max_connections` until it
/// closes (the count is released when tonic drops the stream).
pub struct Counted {
    stream: TlsStream<TcpStream>,
    _open: tokio::sync::OwnedSemaphorePermit,
}

impl tokio::io::AsyncRead for Counted {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Counted {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

impl tonic::transport::server::Connected for Counted {
    type ConnectInfo = <TlsStream<TcpStream> as tonic::transport::server::Connected>::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.connect_info()
    }
}
