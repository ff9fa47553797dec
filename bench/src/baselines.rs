//! The baselines every hub figure is divided by, measured in the same run:
//! a bare mTLS unary echo (the limit) and etcd (the peer a team might build
//! this on), driven through its gRPC API with client-certificate TLS.

use super::{
    Arrivals, Bench, Report, SearchSizes, open_loop_publications, publication, watch_report,
};
use prost::Message as _;
use spil_client::SpilClient;
use spil_proto::bench::echo::EchoRequest;
use spil_proto::bench::echo::echo_client::EchoClient;
use spil_proto::bench::etcd::{
    self, Compare, PutRequest, RequestOp, TxnRequest, WatchCreateRequest, WatchRequest, compare,
    kv_client::KvClient, request_op, response_op, watch_client::WatchClient,
};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_stream::StreamExt;
use tonic::transport::Channel;

impl Bench {
    /// Channels to a baseline server, with the crisis service's certificate.
    async fn baseline_channels(&self, address: &str, n: usize) -> anyhow::Result<Vec<Channel>> {
        let identity = self.identity("crisisdienst-zkh")?;
        let mut channels = Vec::with_capacity(n);
        for _ in 0..n.max(1) {
            let client = SpilClient::connect(address, &self.ca_pem, Some(identity.clone())).await?;
            channels.push(client.channel());
        }
        Ok(channels)
    }

    /// The limit for a search: unary echo calls at the search scenario's
    /// connections and in-flight, the request as large as an encoded search
    /// and the answer as large as the scenario's mean result page.
    pub async fn echo_sized(&self, address: &str, sizes: SearchSizes) -> anyhow::Result<Report> {
        let channels = self
            .baseline_channels(address, self.args.connections)
            .await?;
        let payload = Arc::new(vec![7u8; sizes.request]);
        let response_size = sizes.response as u32;
        Ok(self
            .timed(
                &format!("echo (sized: {} B → {} B)", sizes.request, sizes.response),
                channels,
                move |channel, _| {
                    let payload = Arc::clone(&payload);
                    async move {
                        EchoClient::new(channel)
                            .echo(EchoRequest {
                                payload: payload.to_vec(),
                                response_size,
                            })
                            .await
                            .is_ok()
                    }
                },
            )
            .await)
    }

    /// The limit the first targets were set against: 100 bytes each way,
    /// 4 connections with 50 calls in flight on each.
    pub async fn echo_small(&self, address: &str) -> anyhow::Result<Report> {
        const CONNECTIONS: usize = 4;
        const IN_FLIGHT_EACH: usize = 50;
        let channels = self.baseline_channels(address, CONNECTIONS).await?;
        Ok(self
            .timed_with(
                "echo (100 B, 4 × 50 in flight)",
                channels,
                CONNECTIONS * IN_FLIGHT_EACH,
                |channel, _| async move {
                    EchoClient::new(channel)
                        .echo(EchoRequest {
                            payload: vec![7u8; 100],
                            response_size: 0,
                        })
                        .await
                        .is_ok()
                },
            )
            .await)
    }

    /// etcd puts, acknowledged after its raft log is synced.
    pub async fn etcd_put(&self, address: &str) -> anyhow::Result<Report> {
        let channels = self
            .baseline_channels(address, self.args.connections)
            .await?;
        let mut report = self
            .timed("etcd put", channels, |channel, n| async move {
                KvClient::new(channel)
                    .put(PutRequest {
                        key: format!("bench/put/{}", n % 50).into_bytes(),
                        // The hub's publication, encoded: the same bytes to make durable.
                        value: publication(n).encode_to_vec(),
                        ..Default::default()
                    })
                    .await
                    .is_ok()
            })
            .await;
        report.note = format!(
            "{}; values of {} B, as a publication",
            report.note,
            publication(0).encoded_len()
        );
        Ok(report)
    }

    /// Put → watch at the same rate and by the same definition as the hub's
    /// watch-latency scenario: puts open loop, latency from each put's
    /// intended send time, the watcher on a connection of its own.
    pub async fn etcd_watch_latency(&self, address: &str) -> anyhow::Result<Report> {
        let mut channels = self.baseline_channels(address, 2).await?;
        let (watch_channel, put_channel) = (channels.remove(0), channels.remove(0));
        let (requests, receiver) = tokio::sync::mpsc::channel(1);
        requests
            .send(WatchRequest {
                request_union: Some(etcd::watch_request::RequestUnion::CreateRequest(
                    WatchCreateRequest {
                        key: b"bench/watch/".to_vec(),
                        range_end: b"bench/watch0".to_vec(),
                        ..Default::default()
                    },
                )),
            })
            .await?;
        let mut stream = WatchClient::new(watch_channel)
            .watch(tokio_stream::wrappers::ReceiverStream::new(receiver))
            .await?
            .into_inner();
        // The first message confirms the watch exists.
        stream.next().await;
        let arrivals = Arc::new(Mutex::new(Arrivals::new()));
        let sink = Arc::clone(&arrivals);
        let reader = tokio::spawn(async move {
            let _keep_open = requests;
            while let Some(Ok(message)) = stream.next().await {
                let now = Instant::now();
                let mut seen = sink.lock().expect("arrivals");
                for event in message.events {
                    if let Some(kv) = event.kv {
                        seen.entry(kv.mod_revision as u64).or_insert((now, 0)).1 += 1;
                    }
                }
            }
        });
        let kv = KvClient::new(put_channel);
        let sent = open_loop_publications(
            self.args.publish_rate,
            self.warm_up(),
            Duration::from_secs_f64(self.args.seconds),
            move |n| {
                let mut kv = kv.clone();
                async move {
                    let put = kv
                        .put(PutRequest {
                            key: b"bench/watch/offering".to_vec(),
                            value: format!("{{\"free\":{}}}", n % 5).into_bytes(),
                            ..Default::default()
                        })
                        .await
                        .ok()?;
                    Some(put.into_inner().header.unwrap_or_default().revision as u64)
                }
            },
        )
        .await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        reader.abort();
        Ok(watch_report(
            "etcd put→watch (1 watcher)",
            &sent,
            &[arrivals],
            self.args.publish_rate,
        ))
    }

    /// etcd's fair way to grant K places to many contenders: K slot keys
    /// per round (`bench/hold/<round>/<slot>`), each attempt a
    /// create-if-absent transaction on one slot whose failure branch counts
    /// the round's taken slots; a contender that finds all K taken stops,
    /// refused. Same contenders, places and connections as the hub's race;
    /// the stored count is checked to equal K after every round.
    pub async fn etcd_holds(&self, address: &str) -> anyhow::Result<Report> {
        const PLACES: usize = 50;
        let channels = self
            .baseline_channels(address, self.args.connections)
            .await?;
        let mut report = Report::new("etcd slot keys (race for 50)", Duration::ZERO);
        let mut deadline = Instant::now() + Duration::from_secs_f64(self.args.seconds);
        let (mut rounds, mut exact, mut refused) = (0u64, true, 0u64);
        // The first round warms up, as the hub's does, and is not counted.
        let mut warming = true;
        while warming || Instant::now() < deadline {
            // A fresh prefix per round: earlier runs' slots stay taken.
            let prefix = format!("bench/hold/{}/", uuid::Uuid::new_v4().simple());
            let started = Instant::now();
            let attempts = (0..PLACES * 4).map(|i| {
                let kv = KvClient::new(channels[i % channels.len()].clone());
                let prefix = prefix.clone();
                tokio::spawn(async move {
                    let t = Instant::now();
                    (
                        take_slot(kv, &prefix, i % PLACES, PLACES).await,
                        t.elapsed(),
                    )
                })
            });
            let results = futures::future::join_all(attempts).await;
            let took_round = started.elapsed();
            let (mut granted, mut round_refused, mut round_errors) = (0, 0u64, 0u64);
            let mut latencies = Vec::new();
            for result in results {
                let (decision, took) = result?;
                latencies.push(took.as_micros() as u64);
                match decision {
                    Ok(true) => granted += 1,
                    Ok(false) => round_refused += 1,
                    Err(_) => round_errors += 1,
                }
            }
            let stored = count_under(&mut KvClient::new(channels[0].clone()), &prefix).await?;
            exact &= granted == PLACES && stored == PLACES as i64;
            if warming {
                warming = false;
                deadline = Instant::now() + Duration::from_secs_f64(self.args.seconds);
                continue;
            }
            report.elapsed += took_round;
            report.ok += granted as u64;
            refused += round_refused;
            report.errors += round_errors;
            for micros in latencies {
                let _ = report.latency_us.record(micros);
            }
            rounds += 1;
        }
        report.note = format!(
            "{rounds} rounds, {}; {:.0} decisions/s (granted + refused); ok/s counts granted places",
            if exact {
                "exactly 50 granted and stored each round"
            } else {
                "WRONG COUNT"
            },
            (report.ok + refused) as f64 / report.elapsed.as_secs_f64().max(1e-9)
        );
        Ok(report)
    }

    /// The steady-state peer of the hub's steady holds: compare-and-put
    /// decrements spread over as many counters as the hub has offerings,
    /// at the same concurrency and connections.
    pub async fn etcd_steady(&self, address: &str) -> anyhow::Result<Report> {
        let counters = self.args.seed_locations.clamp(1, 200);
        let channels = self
            .baseline_channels(address, self.args.connections)
            .await?;
        let prefix = format!("bench/steady/{}/", uuid::Uuid::new_v4().simple());
        let mut kv = KvClient::new(channels[0].clone());
        for i in 0..counters {
            kv.put(PutRequest {
                key: format!("{prefix}{i:03}").into_bytes(),
                value: b"1000000".to_vec(),
                ..Default::default()
            })
            .await?;
        }
        let prefix = Arc::new(prefix);
        Ok(self
            .timed(
                &format!("etcd compare-and-put ({counters} counters)"),
                channels,
                move |channel, n| {
                    let key = format!("{prefix}{:03}", n as usize % counters).into_bytes();
                    async move { matches!(take_one(KvClient::new(channel), key).await, Ok(true)) }
                },
            )
            .await)
    }
}

/// The keys stored under `prefix`.
async fn count_under(kv: &mut KvClient<Channel>, prefix: &str) -> Result<i64, tonic::Status> {
    Ok(kv
        .range(etcd::RangeRequest {
            key: prefix.as_bytes().to_vec(),
            range_end: prefix_end(prefix),
            count_only: true,
            ..Default::default()
        })
        .await?
        .into_inner()
        .count)
}

/// The end of the key range that holds every key starting with `prefix`.
fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    if let Some(last) = end.last_mut() {
        *last += 1;
    }
    end
}

/// One decrement of a counter of free places: read it (a read, not a raft
/// write), then compare its mod revision and put one less; on a conflict
/// the failure branch returns the current value and it tries again. False
/// when no place is left.
async fn take_one(mut kv: KvClient<Channel>, key: Vec<u8>) -> Result<bool, tonic::Status> {
    let mut current = kv
        .range(etcd::RangeRequest {
            key: key.clone(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .kvs
        .into_iter()
        .next();
    loop {
        let Some(counter) = current else {
            return Ok(false);
        };
        let free: i64 = String::from_utf8_lossy(&counter.value).parse().unwrap_or(0);
        if free <= 0 {
            return Ok(false);
        }
        let response = kv
            .txn(TxnRequest {
                compare: vec![Compare {
                    result: compare::CompareResult::Equal as i32,
                    target: compare::CompareTarget::Mod as i32,
                    key: key.clone(),
                    target_union: Some(compare::TargetUnion::ModRevision(counter.mod_revision)),
                    ..Default::default()
                }],
                success: vec![RequestOp {
                    request: Some(request_op::Request::RequestPut(PutRequest {
                        key: key.clone(),
                        value: (free - 1).to_string().into_bytes(),
                        ..Default::default()
                    })),
                }],
                failure: vec![RequestOp {
                    request: Some(request_op::Request::RequestRange(etcd::RangeRequest {
                        key: key.clone(),
                        ..Default::default()
                    })),
                }],
            })
            .await?
            .into_inner();
        if response.succeeded {
            return Ok(true);
        }
        current = response
            .responses
            .into_iter()
            .find_map(|r| match r.response {
                Some(response_op::Response::ResponseRange(range)) => range.kvs.into_iter().next(),
                _ => None,
            });
    }
}

/// One contender: create slot `first` if nobody has, else learn how many
/// slots are taken and try the next one, until it holds a slot (true) or
/// all `places` are taken (false).
async fn take_slot(
    mut kv: KvClient<Channel>,
    prefix: &str,
    first: usize,
    places: usize,
) -> Result<bool, tonic::Status> {
    for step in 0..places {
        let key = format!("{prefix}{:03}", (first + step) % places).into_bytes();
        let response = kv
            .txn(TxnRequest {
                compare: vec![Compare {
                    result: compare::CompareResult::Equal as i32,
                    target: compare::CompareTarget::Create as i32,
                    key: key.clone(),
                    target_union: Some(compare::TargetUnion::CreateRevision(0)),
                    ..Default::default()
                }],
                success: vec![RequestOp {
                    request: Some(request_op::Request::RequestPut(PutRequest {
                        key,
                        value: b"held".to_vec(),
                        ..Default::default()
                    })),
                }],
                failure: vec![RequestOp {
                    request: Some(request_op::Request::RequestRange(etcd::RangeRequest {
                        key: prefix.as_bytes().to_vec(),
                        range_end: prefix_end(prefix),
                        count_only: true,
                        ..Default::default()
                    })),
                }],
            })
            .await?
            .into_inner();
        if response.succeeded {
            return Ok(true);
        }
        let taken = response
            .responses
            .into_iter()
            .find_map(|r| match r.response {
                Some(response_op::Response::ResponseRange(range)) => Some(range.count),
                _ => None,
            })
            .unwrap_or(0);
        if taken >= places as i64 {
            return Ok(false);
        }
    }
    Ok(false)
}
