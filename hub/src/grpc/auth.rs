//! Identity: turns the verified client certificate of the connection into
//! a [`Caller`] extension on every request, or refuses the call.

use crate::admission::Admission;
use crate::app::App;
use crate::domain::identity::Caller;
use crate::tls::PeerTrust;
use std::sync::Arc;
use tonic::{Request, Status};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// A tonic interceptor: certificate → organisation.
#[derive(Clone)]
pub struct Authenticate {
    app: Arc<App>,
    trust: PeerTrust,
    admission: Arc<Admission>,
}

impl Authenticate {
    pub fn new(app: Arc<App>, trust: PeerTrust, admission: Arc<Admission>) -> Self {
        Self {
            app,
            trust,
            admission,
        }
    }
}

impl Authenticate {
    /// The organisation a connection's verified certificate chain
    /// identifies, admitted under its share of calls; or the refusal.
    pub fn identify(
        &self,
        certs: Option<&[rustls_pki_types::CertificateDer<'static>]>,
    ) -> Result<Caller, Status> {
        let certs = certs.ok_or_else(|| Status::unauthenticated("no client certificate"))?;
        let leaf = certs
            .first()
            .ok_or_else(|| Status::unauthenticated("no client certificate"))?;
        // The handshake checked the certificate against the CRL of its day;
        // this checks it against today's, so a revocation reaches open
        // connections within the reload interval.
        if !self.trust.still_trusted(certs) {
            return Err(Status::unauthenticated(
                "the client certificate is revoked or no longer trusted",
            ));
        }
        let uris = uri_sans(leaf.as_ref())
            .map_err(|_| Status::unauthenticated("unreadable client certificate"))?;
        let caller = self.app.directory.identify(&uris)?;
        crate::access::note_organisation(caller.org.id.as_str());
        self.admission.admit(&caller.org.id)?;
        Ok(caller)
    }
}

impl tonic::service::Interceptor for Authenticate {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let certs = request.peer_certs();
        let caller = self.identify(certs.as_deref().map(Vec::as_slice))?;
        request.extensions_mut().insert(caller);
        Ok(request)
    }
}

/// The URI subject alternative names of a DER certificate.
fn uri_sans(
    der: &[u8],
) -> Result<Vec<String>, x509_parser::nom::Err<x509_parser::error::X509Error>> {
    let (_, cert) = X509Certificate::from_der(der)?;
    let uris = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::URI(uri) => Some((*uri).to_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(uris)
}

/// The caller the interceptor attached.
pub fn caller<T>(request: &Request<T>) -> Result<Caller, Status> {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("no verified caller"))
}
