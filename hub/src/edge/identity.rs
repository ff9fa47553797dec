//! Identity for every edge: the verified client certificate of a connection
//! becomes a [`Caller`] (its organisation, admitted under its share of
//! calls), or a refusal in the use-cases' own error. gRPC, FHIR and any
//! later edge map that refusal to their own wire form.

use super::admission::Admission;
use crate::app::{App, AppError};
use crate::domain::identity::Caller;
use crate::tls::PeerTrust;
use std::sync::Arc;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Certificate → organisation, with the organisation's share of calls.
#[derive(Clone)]
pub struct Identify {
    app: Arc<App>,
    trust: PeerTrust,
    admission: Arc<Admission>,
}

impl Identify {
    pub fn new(app: Arc<App>, trust: PeerTrust, admission: Arc<Admission>) -> Self {
        Self {
            app,
            trust,
            admission,
        }
    }

    /// The organisation a connection's verified certificate chain
    /// identifies, admitted under its share of calls; or the refusal.
    pub fn identify(
        &self,
        certs: Option<&[rustls_pki_types::CertificateDer<'static>]>,
    ) -> Result<Caller, AppError> {
        let unauthenticated = |why: &str| AppError::Unauthenticated(why.to_owned());
        let certs = certs.ok_or_else(|| unauthenticated("no client certificate"))?;
        let leaf = certs
            .first()
            .ok_or_else(|| unauthenticated("no client certificate"))?;
        // The handshake checked the certificate against the CRL of its day;
        // this checks it against today's, so a revocation reaches open
        // connections within the reload interval.
        if !self.trust.still_trusted(certs) {
            return Err(unauthenticated(
                "the client certificate is revoked or no longer trusted",
            ));
        }
        let uris = uri_sans(leaf.as_ref())
            .map_err(|_| unauthenticated("unreadable client certificate"))?;
        let caller = self.app.directory.identify(&uris)?;
        super::calls::note_organisation(caller.org.id.as_str());
        self.admission.admit(&caller.org.id)?;
        Ok(caller)
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
