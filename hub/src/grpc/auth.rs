//! The gRPC side of identity: an interceptor that puts the edge-neutral
//! [`Identify`]'s [`Caller`] on every request, or refuses the call.

use crate::domain::identity::Caller;
use crate::edge::Identify;
use tonic::{Request, Status};

/// A tonic interceptor: certificate → organisation.
#[derive(Clone)]
pub struct Authenticate(pub Identify);

impl tonic::service::Interceptor for Authenticate {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let certs = request.peer_certs();
        let caller = self.0.identify(certs.as_deref().map(Vec::as_slice))?;
        request.extensions_mut().insert(caller);
        Ok(request)
    }
}

/// The caller the interceptor attached.
pub fn caller<T>(request: &Request<T>) -> Result<Caller, Status> {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("no verified caller"))
}
