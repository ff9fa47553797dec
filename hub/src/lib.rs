//! The Spil hub: the capacity registry over mutually authenticated gRPC.

pub mod app;
pub mod clock;
pub mod config;
pub mod domain;
pub mod pki;
pub mod store;
pub mod tls;
