//! Generated code for the `spil.v1` wire contract. Nothing here is written by hand.

#![allow(clippy::all, clippy::pedantic)]

pub mod codec;

pub mod v1 {
    tonic::include_proto!("spil.v1");
}

/// Benchmark helpers: the echo baseline and the part of etcd's API the
/// benchmark drives. Not part of the Spil contract.
pub mod bench {
    pub mod echo {
        tonic::include_proto!("spil.bench.v1");
    }
    pub mod etcd {
        tonic::include_proto!("etcdserverpb");
    }
}

/// The encoded `FileDescriptorSet` of every `spil.v1` file, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("spil_descriptor");
