//! The Spil hub: the capacity registry over mutually authenticated gRPC.

pub mod app;
pub mod board;
pub mod clock;
pub mod config;
pub mod deadline;
pub mod demo;
pub mod domain;
pub mod edge;
pub mod fhir;
pub mod grpc;
pub mod metrics;
pub mod pki;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tls;
