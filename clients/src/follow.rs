//! Following a watch that resumes after a revision: a dropped stream, a hub
//! that stops or restarts and a replica that goes away all end the same
//! way, reopened after the last revision seen, missing nothing.

use crate::{pb, resume_revision};
use std::future::Future;
use std::time::Duration;
use tokio_stream::StreamExt;

/// Where a watch message leaves the follower: its revision, and whether it
/// is only the stream's start.
pub trait Position {
    fn position(&self) -> (u64, bool);
}

impl Position for pb::WatchCapacityResponse {
    fn position(&self) -> (u64, bool) {
        (self.revision, self.stream_start)
    }
}

impl Position for pb::WatchConsultationsResponse {
    fn position(&self) -> (u64, bool) {
        (self.revision, self.stream_start)
    }
}

impl Position for pb::WatchPlacementRequestsResponse {
    fn position(&self) -> (u64, bool) {
        (self.revision, self.stream_start)
    }
}

/// Why a follower reopens its watch, for the caller to tell its user.
#[derive(Debug)]
pub enum Interruption<'a> {
    /// The hub could not be reached or refused for now; the next try is
    /// after `retry_in`.
    Unavailable { retry_in: Duration },
    /// The stream ended with `status`; it reopens after `resume_after`.
    Ended {
        status: &'a tonic::Status,
        resume_after: u64,
    },
}

/// The first pause before reopening, doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Opens the watch after `from` with `open`, hands each message past the
/// start to `each` (which answers whether to go on), and after an
/// interruption, or while the hub is unavailable, reopens it after the
/// last revision seen (or the one the hub named when it stopped), backing
/// off from 250 ms up to 10 s and telling `interrupted` why. Any other
/// refusal to open ends the follow with that status.
pub async fn follow<T, E, Open, Opened>(
    from: u64,
    mut open: Open,
    mut each: impl FnMut(&T) -> Result<bool, E>,
    mut interrupted: impl FnMut(Interruption<'_>),
) -> Result<(), E>
where
    T: Position,
    E: From<tonic::Status>,
    Open: FnMut(u64) -> Opened,
    Opened: Future<Output = Result<tonic::Streaming<T>, tonic::Status>>,
{
    let mut last = from;
    let mut backoff = FIRST_BACKOFF;
    loop {
        let mut stream = match open(last).await {
            Ok(stream) => stream,
            Err(status) if status.code() == tonic::Code::Unavailable => {
                interrupted(Interruption::Unavailable { retry_in: backoff });
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
            Err(status) => return Err(status.into()),
        };
        backoff = FIRST_BACKOFF;
        while let Some(message) = stream.next().await {
            let message = match message {
                Ok(message) => message,
                Err(status) => {
                    last = resume_revision(&status).unwrap_or(last);
                    interrupted(Interruption::Ended {
                        status: &status,
                        resume_after: last,
                    });
                    break;
                }
            };
            let (revision, start) = message.position();
            last = revision;
            if !start && !each(&message)? {
                return Ok(());
            }
        }
        tokio::time::sleep(backoff).await;
    }
}
