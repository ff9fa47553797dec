//! Generated code for the `spil.v1` wire contract, with the codec and error
//! spellings every side of it shares.

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

/// The error domain every `google.rpc.ErrorInfo` of the hub names.
pub const ERROR_DOMAIN: &str = "spil.local";

/// `ErrorInfo.reason` as the contract spells it: the value's name without
/// the enum's prefix, e.g. `NO_FREE_PLACE`.
pub fn reason_name(reason: v1::ErrorReason) -> &'static str {
    let name = reason.as_str_name();
    name.strip_prefix("ERROR_REASON_").unwrap_or(name)
}

/// The encoded `FileDescriptorSet` of every `spil.v1` file, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("spil_descriptor");
