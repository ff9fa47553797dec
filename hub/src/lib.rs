//! The Spil hub: the capacity registry over mutually authenticated gRPC.

pub mod clock;
pub mod domain;
pub mod pki;
pub mod tls;
pub mod store;
