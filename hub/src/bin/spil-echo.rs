//! `spil-echo`: the benchmark's limit. A unary echo over the hub's own mTLS
//! setup (the same rustls verifier, CRLs, accept loop and transport limits)
//! and nothing else: no identity lookup, no database.

use clap::Parser;
use spil_hub::tls::{self, TlsFiles};
use spil_proto::bench::echo::echo_server::{Echo, EchoServer};
use spil_proto::bench::echo::{EchoRequest, EchoResponse};
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

#[derive(Debug, Parser)]
#[command(
    name = "spil-echo",
    about = "A bare mTLS unary echo server, the benchmark's limit"
)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:50061")]
    listen: SocketAddr,
    /// A PKI folder as `spil-hub pki init` makes it.
    #[arg(long, default_value = "spil-demo/pki")]
    pki: PathBuf,
}

struct EchoService;

#[tonic::async_trait]
impl Echo for EchoService {
    async fn echo(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        let request = request.into_inner();
        // An answer as large as asked, so a baseline can be sized like the
        // call it is compared with (a small search, a large result page).
        let payload = match request.response_size {
            0 => request.payload,
            size => vec![7u8; size as usize],
        };
        Ok(Response::new(EchoResponse { payload }))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = Args::parse();
    let files = TlsFiles {
        server_cert: args.pki.join("server.pem"),
        server_key: args.pki.join("server-key.pem"),
        client_ca: args.pki.join("client-ca.pem"),
        client_crls: vec![args.pki.join("client-ca.crl.pem")],
    };
    let config = tls::LiveConfig::load(&files)?;
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("spil-echo listening on {}", listener.local_addr()?);
    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        signal.cancel();
    });
    // The hub's own default for concurrent handshakes: the same work.
    let defaults = spil_hub::config::HubConfig::default();
    let incoming = tls::incoming(
        listener,
        config,
        tls::Protocols::Grpc,
        defaults.max_tls_handshakes as usize,
        defaults.max_connections as usize,
        shutdown.clone(),
    );
    spil_hub::startup::grpc_server()
        .add_service(EchoServer::new(EchoService))
        .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
        .await?;
    Ok(())
}
