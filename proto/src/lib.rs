//! Generated code for the `spil.v1` wire contract. Nothing here is written by hand.

#![allow(clippy::all, clippy::pedantic)]

pub mod v1 {
    tonic::include_proto!("spil.v1");
}

/// The encoded `FileDescriptorSet` of every `spil.v1` file, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("spil_descriptor");
