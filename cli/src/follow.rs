//! Following a watch that resumes after a revision: every `spil … watch`
//! goes through here, so a dropped stream, a hub that stops or restarts,
//! and a replica that goes away all end the same way: reopened after the
//! last revision seen, missing nothing.

use std::future::Future;
use std::time::Duration;
use tokio_stream::StreamExt;

/// Where a watch message leaves the follower: its revision, and whether it
/// is only the stream's start.
pub trait Position {
    fn position(&self) -> (u64, bool);
}

/// Opens the watch after `from` with `open`, hands each message past the
/// start to `each` (which answers whether to go on), and after an
/// interruption or while the hub is unavailable reopens it after the last
/// revision seen (or the one the hub named when it stopped), backing off
/// from 250 ms up to 10 s.
pub async fn follow<T, Open, Opened>(
    from: u64,
    mut open: Open,
    mut each: impl FnMut(&T) -> anyhow::Result<bool>,
) -> anyhow::Result<()>
where
    T: Position,
    Open: FnMut(u64) -> Opened,
    Opened: Future<Output = Result<tonic::Streaming<T>, tonic::Status>>,
{
    const FIRST_BACKOFF: Duration = Duration::from_millis(250);
    let mut last = from;
    let mut backoff = FIRST_BACKOFF;
    loop {
        let mut stream = match open(last).await {
            Ok(stream) => stream,
            Err(status) if status.code() == tonic::Code::Unavailable => {
                eprintln!("hub unavailable, retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
            Err(status) => return Err(status.into()),
        };
        backoff = FIRST_BACKOFF;
        while let Some(message) = stream.next().await {
            let message = match message {
                Ok(message) => message,
                Err(status) => {
                    last = spil_client::resume_revision(&status).unwrap_or(last);
                    eprintln!(
                        "watch interrupted ({:?}: {}); resuming after revision {last}",
                        status.code(),
                        status.message()
                    );
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

/// Stops after `limit` messages, when there is one.
pub struct Limit {
    limit: Option<usize>,
    seen: usize,
}

impl Limit {
    pub fn new(limit: Option<usize>) -> Self {
        Self { limit, seen: 0 }
    }

    /// Counts one message; whether to go on.
    pub fn go_on(&mut self) -> bool {
        self.seen += 1;
        self.limit.is_none_or(|limit| self.seen < limit)
    }
}

impl Position for spil_client::pb::WatchCapacityResponse {
    fn position(&self) -> (u64, bool) {
        (self.revision, self.stream_start)
    }
}

impl Position for spil_client::pb::WatchConsultationsResponse {
    fn position(&self) -> (u64, bool) {
        (self.revision, self.stream_start)
    }
}

impl Position for spil_client::pb::WatchPlacementRequestsResponse {
    fn position(&self) -> (u64, bool) {
        (self.revision, self.stream_start)
    }
}
