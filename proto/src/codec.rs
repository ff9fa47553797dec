//! The protobuf codec of every generated service: prost's, except that a
//! request body that is not a valid message is the caller's error, and a
//! request larger than its kind needs is refused before it is decoded.

use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

/// prost's codec with one change: a request that fails to decode is
/// `INVALID_ARGUMENT` (prost says `INTERNAL`, which would blame the hub).
/// Requests are told from responses by name: every RPC has its own
/// `…Request` message, a rule the contract keeps.
#[derive(Debug, Clone)]
pub struct SpilCodec<T, U>(ProstCodec<T, U>);

impl<T, U> Default for SpilCodec<T, U> {
    fn default() -> Self {
        Self(ProstCodec::default())
    }
}

impl<T, U> Codec for SpilCodec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ResponseEncoder<T>;
    type Decoder = RequestDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ResponseEncoder(self.0.encoder())
    }

    fn decoder(&mut self) -> Self::Decoder {
        RequestDecoder(self.0.decoder())
    }
}

/// Encodes like prost; a watch stream starts with a small buffer.
#[derive(Debug)]
pub struct ResponseEncoder<T>(ProstEncoder<T>);

/// The first buffer of a watch stream's encoder. A stream is open for hours
/// and most of its messages are one offering or one event (a few hundred
/// bytes): prost's 8 KiB per open stream was half of a stream's memory. A
/// larger message grows the buffer as it needs.
const WATCH_BUFFER_BYTES: usize = 256;

impl<T: prost::Message> tonic::codec::Encoder for ResponseEncoder<T> {
    type Item = T;
    type Error = Status;

    fn encode(&mut self, item: T, buf: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), Status> {
        self.0.encode(item, buf)
    }

    fn buffer_settings(&self) -> tonic::codec::BufferSettings {
        let name = std::any::type_name::<T>();
        if name.ends_with("WatchCapacityResponse") || name.ends_with("WatchConsultationsResponse") {
            tonic::codec::BufferSettings::new(WATCH_BUFFER_BYTES, 32 * 1024)
        } else {
            self.0.buffer_settings()
        }
    }
}

/// The largest request body decoded: publication batches (up to 500
/// offerings) get room, every other request is small.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;
pub const MAX_PUBLICATION_BYTES: usize = 1024 * 1024;

/// Decodes like prost, refuses an oversized request with
/// RESOURCE_EXHAUSTED, and re-labels a request's decode failure.
#[derive(Debug)]
pub struct RequestDecoder<U>(ProstDecoder<U>);

impl<U: prost::Message + Default> Decoder for RequestDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        let name = std::any::type_name::<U>();
        if name.ends_with("Request") {
            use prost::bytes::Buf;
            let limit = if name.ends_with("PublishCapacityRequest") {
                MAX_PUBLICATION_BYTES
            } else {
                MAX_REQUEST_BYTES
            };
            if buf.remaining() > limit {
                let short = name.rsplit("::").next().unwrap_or(name);
                let mut details = tonic_types::ErrorDetails::new();
                details.set_error_info(
                    crate::reason_name(crate::v1::ErrorReason::MessageTooLarge),
                    crate::ERROR_DOMAIN,
                    std::collections::HashMap::new(),
                );
                return Err(<Status as tonic_types::StatusExt>::with_error_details(
                    tonic::Code::ResourceExhausted,
                    format!(
                        "a {short} of {} bytes is larger than the {limit} bytes it may have",
                        buf.remaining()
                    ),
                    details,
                ));
            }
        }
        self.0.decode(buf).map_err(|status| {
            if name.ends_with("Request") {
                let short = name.rsplit("::").next().unwrap_or(name);
                Status::invalid_argument(format!(
                    "the request body is not a valid {short}: {}",
                    status.message()
                ))
            } else {
                status
            }
        })
    }

    fn buffer_settings(&self) -> tonic::codec::BufferSettings {
        self.0.buffer_settings()
    }
}
