//! Pure domain types and rules: no I/O, no clock, no wire or row types.
//!
//! Everything here is parsed once at the edge (`grpc::convert`, `store`) and
//! trusted afterwards: a function that takes a [`capacity::AgeBand`] never
//! checks it again.

pub mod audit;
pub mod authz;
pub mod capacity;
pub mod consultation;
pub mod geo;
pub mod hold;
pub mod identity;
pub mod insights;
pub mod placement;
pub mod privacy;
pub mod search;
pub mod suppression;

/// Why a value could not be parsed into a domain type. The edge that parsed
/// it attaches the field name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(description: impl Into<String>) -> Self {
        Self(description.into())
    }
}
