//! The Spil hub: the capacity registry over mutually authenticated gRPC.

pub mod domain;
