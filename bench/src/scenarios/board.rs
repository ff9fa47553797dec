//! The board's live latency: open boards do what the board's script does
//! (follow `/board/live` and fetch the results fragment again on every
//! change, folding changes during a fetch into one more fetch), each over
//! HTTPS connections of its own with the organisation's certificate, while
//! a provider publishes open loop. A publication is on a board's screen
//! when a fragment drawn at its revision or later has arrived.

use crate::{Arrivals, Bench, Report, bench_key, open_loop_publications, watch_report};
use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use spil_client::pb;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// The crisis worker's search the boards show.
const SEARCH: &str = "leeftijd=15&gemeente=GM0392&soort=CrisisBed";

/// HTTPS to the board as one organisation, one connection per `connect`.
struct BoardConnector {
    tls: tokio_rustls::TlsConnector,
    host: String,
    port: u16,
}

impl BoardConnector {
    fn new(board: &str, bench: &Bench, org: &str) -> anyhow::Result<Self> {
        let authority = board
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .to_owned();
        let (host, port) = authority
            .rsplit_once(':')
            .context("--board must be https://host:port")?;
        let mut roots = rustls::RootCertStore::empty();
        for ca in CertificateDer::pem_slice_iter(bench.ca_pem.as_bytes()) {
            roots.add(ca?)?;
        }
        let orgs = bench.args.pki.join("orgs");
        let chain = CertificateDer::pem_file_iter(orgs.join(format!("{org}.pem")))?
            .collect::<Result<Vec<_>, _>>()?;
        let key = PrivateKeyDer::from_pem_file(orgs.join(format!("{org}-key.pem")))?;
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)?;
        Ok(Self {
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
            host: host.to_owned(),
            port: port.parse()?,
        })
    }

    async fn connect(&self) -> anyhow::Result<SendRequest<Empty<Bytes>>> {
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port)).await?;
        tcp.set_nodelay(true)?;
        let name = ServerName::try_from(self.host.clone())?;
        let tls = self.tls.connect(name, tcp).await?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
        tokio::spawn(connection);
        Ok(sender)
    }

    fn get(&self, path: &str) -> hyper::Request<Empty<Bytes>> {
        hyper::Request::get(path)
            .header(hyper::header::HOST, format!("{}:{}", self.host, self.port))
            .header(hyper::header::ACCEPT, "text/html")
            .body(Empty::new())
            .expect("a GET request")
    }
}

/// The revision a results fragment was drawn at.
fn drawn_at(html: &str) -> Option<u64> {
    let start = html.find("data-revision=\"")? + "data-revision=\"".len();
    let end = html[start..].find('"')? + start;
    html[start..end].parse().ok()
}

/// One open board: its fragments as they arrived, (revision, when).
async fn one_board(
    connector: Arc<BoardConnector>,
    shown: Arc<std::sync::Mutex<Vec<(u64, Instant)>>>,
    ready: Arc<tokio::sync::Barrier>,
) -> anyhow::Result<()> {
    let fragment = format!("/board/zoeken/resultaten?{SEARCH}");
    let mut fetcher = connector.connect().await?;
    let first = fetcher.send_request(connector.get(&fragment)).await?;
    let html = first.into_body().collect().await?.to_bytes();
    let revision = drawn_at(&String::from_utf8_lossy(&html)).context("no data-revision")?;
    let mut events = connector.connect().await?;
    let live = events
        .send_request(connector.get(&format!("/board/live?seit={revision}")))
        .await?;
    anyhow::ensure!(live.status().is_success(), "/board/live: {}", live.status());
    let changed = Arc::new(Notify::new());
    // The script's fetch loop: one fetch at a time, the latest state fetched.
    let refresher = {
        let changed = Arc::clone(&changed);
        let connector = Arc::clone(&connector);
        tokio::spawn(async move {
            loop {
                changed.notified().await;
                let Ok(answer) = fetcher.send_request(connector.get(&fragment)).await else {
                    return;
                };
                let Ok(body) = answer.into_body().collect().await else {
                    return;
                };
                let at = Instant::now();
                if let Some(revision) = drawn_at(&String::from_utf8_lossy(&body.to_bytes())) {
                    shown.lock().expect("shown").push((revision, at));
                }
            }
        })
    };
    ready.wait().await;
    let mut body = live.into_body();
    let mut pending = String::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        pending.push_str(&String::from_utf8_lossy(&data));
        while let Some(end) = pending.find("\n\n") {
            let event: String = pending.drain(..end + 2).collect();
            let change = event.lines().any(|line| {
                line.strip_prefix("event:")
                    .is_some_and(|name| name.trim() == "change")
            });
            if change {
                changed.notify_one();
            }
        }
    }
    refresher.abort();
    Ok(())
}

impl Bench {
    /// Time from each publication's intended send to a fragment drawn at
    /// its revision (or later) arriving at each of `boards` boards.
    pub(crate) async fn board_latency(&self, board: &str, boards: usize) -> anyhow::Result<Report> {
        let connector = Arc::new(BoardConnector::new(board, self, "crisisdienst-zkh")?);
        let provider = self.clients("kenter", 1).await?.remove(0);
        let ready = Arc::new(tokio::sync::Barrier::new(boards + 1));
        let mut screens = Vec::with_capacity(boards);
        let mut tasks = Vec::with_capacity(boards);
        for _ in 0..boards {
            let shown = Arc::new(std::sync::Mutex::new(Vec::new()));
            screens.push(Arc::clone(&shown));
            tasks.push(tokio::spawn(one_board(
                Arc::clone(&connector),
                shown,
                Arc::clone(&ready),
            )));
        }
        tokio::select! {
            _ = ready.wait() => {}
            _ = tokio::time::sleep(Duration::from_secs(30)) => {
                for task in tasks {
                    if task.is_finished() {
                        task.await??;
                    }
                }
                anyhow::bail!("the boards did not open within 30 s");
            }
        }
        let rate = self.args.board_publish_rate;
        let sent = open_loop_publications(
            rate,
            self.warm_up(),
            Duration::from_secs_f64(self.args.seconds),
            move |n| {
                let mut capacity = provider.capacity();
                async move {
                    let request = pb::PublishCapacityRequest {
                        request_id: uuid::Uuid::new_v4().to_string(),
                        updates: vec![pb::OfferingUpdate {
                            key: Some(bench_key(&format!("bench-{:05}", 1 + n % 8))),
                            intake: pb::Intake::AroundTheClock as i32,
                            lead_time_days: 0,
                            total_places: 4,
                            free_places: (n % 5) as u32,
                            waiting_days: 0,
                            observed_at: None,
                        }],
                    };
                    capacity
                        .publish_capacity(request)
                        .await
                        .ok()
                        .map(|published| published.into_inner().revision)
                }
            },
        )
        .await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        for task in tasks {
            task.abort();
        }
        // Each publication's arrival: the first fragment drawn at or after it.
        let revisions: Vec<u64> = sent.sent.iter().filter_map(|p| p.revision).collect();
        let sinks: Vec<Arc<std::sync::Mutex<Arrivals>>> = screens
            .iter()
            .map(|shown| {
                let shown = shown.lock().expect("shown");
                let arrivals: Arrivals = revisions
                    .iter()
                    .filter_map(|revision| {
                        shown
                            .iter()
                            .find(|(drawn, _)| drawn >= revision)
                            .map(|(_, at)| (*revision, (*at, 1)))
                    })
                    .collect();
                Arc::new(std::sync::Mutex::new(arrivals))
            })
            .collect();
        let name = format!(
            "board latency ({boards} board{})",
            if boards == 1 { "" } else { "s" }
        );
        let mut report = watch_report(&name, &sent, &sinks, rate);
        report.note = format!(
            "{}; to the fragment's arrival at the board's connection (parsing and painting not counted)",
            report.note
        );
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::drawn_at;

    #[test]
    fn the_revision_a_fragment_was_drawn_at() {
        let html = r#"<div id="results" data-revision="4711" data-live-fragment="/x">"#;
        assert_eq!(drawn_at(html), Some(4711));
        assert_eq!(drawn_at("<div>"), None);
    }
}
