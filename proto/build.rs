//! Compiles `spil/v1/*.proto` with protox (pure Rust, no system `protoc`)
//! and keeps the encoded descriptor set for server reflection.

use prost::Message;
use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "spil/v1/common.proto",
    "spil/v1/directory.proto",
    "spil/v1/capacity.proto",
    "spil/v1/consultations.proto",
    "spil/v1/placements.proto",
    "spil/v1/audit.proto",
    "spil/v1/insights.proto",
    "spil/v1/errors.proto",
];

/// The benchmark's echo baseline and the etcd subset it drives as a peer.
const BENCH_PROTOS: &[&str] = &["echo.proto", "etcd.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    #[allow(clippy::disallowed_methods)] // cargo hands build scripts their paths this way
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptors = protox::compile(PROTOS, ["."])?;
    std::fs::write(
        out_dir.join("spil_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .codec_path("crate::codec::SpilCodec")
        .compile_fds(descriptors)?;
    // Benchmark helpers, kept out of the descriptor set that reflection serves.
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(protox::compile(BENCH_PROTOS, ["bench"])?)?;
    println!("cargo:rerun-if-changed=spil");
    println!("cargo:rerun-if-changed=bench");
    Ok(())
}
