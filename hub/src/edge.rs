//! What every edge shares, below its wire form: identity (a verified
//! certificate becomes a [`Caller`](crate::domain::identity::Caller)),
//! admission (each organisation's share of calls, the hub's cap on calls in
//! flight) and one tower layer per call (request id, span, deadline, access
//! line, counts). Refusals are given as [`AppError`](crate::app::AppError)
//! and its reasons; gRPC, FHIR and the board each write them in their own
//! wire form, through a [`Wire`].

pub mod admission;
pub mod calls;
pub mod identity;

pub use calls::{CallLayer, HttpWire, Outcome, Wire, note_organisation, routed};
pub use identity::Identify;
