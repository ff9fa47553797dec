//! The Spil hub: the capacity registry over mutually authenticated gRPC.

pub mod app;
pub mod clock;
pub mod config;
pub mod domain;
pub mod grpc;
pub mod pki;
pub mod startup;
pub mod store;
pub mod tls;
pub mod demo;
pub mod cli;
pub mod telemetry;
