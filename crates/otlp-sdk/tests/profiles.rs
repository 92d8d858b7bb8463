//! Profiles through the client's profiles pipeline (`send_profile`): they arrive under the
//! client's resource over every protocol, the accounting balances (`Stats::is_consistent`:
//! `accepted == exported + dropped + rejected + queued`), a receiver down at first
//! gets them once it is up, a full queue drops the new profile and counts it, and a profile
//! sent after the shutdown is counted as dropped.

mod common;

use common::PROTOCOLS;
use common::pipeline::{PATIENCE, resetting_server, wait_until_async};
use otlp::pipeline::{DropReason, Enqueued};
use otlp::profiles::{DEFAULT_QUEUE_SIZE, ProfilesPayload};
use otlp::{ClientConfig, ExporterConfig, OtlpClient, Protocol, RetryPolicy};
use otlp_proto::collector::ExportProfilesServiceRequest;
use otlp_proto::{Request, sample};
use otlp_receiver::{MemorySink, Receiver, RunningReceiver};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use test_support::client::{Harness, WAIT};

/// The sample profile as a payload, tagged `i` (its scope's version) to be told apart.
fn payload(i: usize) -> ProfilesPayload {
    let mut request = sample::profiles();
    let resource_profiles = request.resource_profiles.remove(0);
    let scope_profiles = resource_profiles.scope_profiles.into_iter().next();
    let scope_profiles = scope_profiles.expect("the sample has a scope");
    let mut scope = scope_profiles.scope.unwrap_or_default();
    scope.version = i.to_string().into();
    ProfilesPayload {
        dictionary: request.dictionary.unwrap_or_default(),
        profiles: scope_profiles.profiles,
        scope,
        schema_url: scope_profiles.schema_url,
    }
}

/// The profiles requests among `requests`.
fn profiles_of(requests: impl IntoIterator<Item = Request>) -> Vec<ExportProfilesServiceRequest> {
    requests
        .into_iter()
        .filter_map(|r| match r {
            Request::Profiles(p) => Some(p),
            _ => None,
        })
        .collect()
}

/// The tags of the profiles a receiver got, in arrival order.
fn tags(sink: &MemorySink) -> Vec<usize> {
    profiles_of(sink.requests().into_iter().map(|r| r.request))
        .iter()
        .map(|p| {
            let scope = p.resource_profiles[0].scope_profiles[0].scope.as_ref();
            let version = scope.expect("a scope").version.as_str();
            version.parse().expect("a tag")
        })
        .collect()
}

/// A port that resets every connection (a receiver that is down) until [`Down::up`] starts a
/// receiver on it.
struct Down {
    addr: SocketAddr,
    attempts: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Down {
    async fn new() -> Down {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (attempts, task) = resetting_server(listener);
        Down {
            addr,
            attempts,
            task,
        }
    }

    /// A client exporting to this port over gRPC, retrying quickly for as long as it takes.
    async fn client(&self, config: ClientConfig) -> OtlpClient {
        let retry = RetryPolicy::default()
            .with_max_attempts(1000)
            .with_initial_backoff(Duration::from_millis(10))
            .with_max_backoff(Duration::from_millis(50));
        let exporter = ExporterConfig::default()
            .with_protocol(Protocol::Grpc)
            .with_endpoint(format!("http://{}", self.addr))
            .with_timeout(WAIT)
            .with_retry(retry);
        OtlpClient::new(
            config
                .with_exporter(exporter)
                .with_resource_detection(false),
        )
        .await
        .expect("client")
    }

    /// Waits for `n` refused attempts.
    async fn refused(&self, n: usize) {
        let attempts = self.attempts.clone();
        wait_until_async("refused attempts", || attempts.load(Ordering::SeqCst) >= n).await;
    }

    /// Stops refusing and starts a receiver on the port.
    async fn up(self) -> (RunningReceiver, MemorySink) {
        self.task.abort();
        let _ = self.task.await;
        let sink = MemorySink::new();
        let receiver = Receiver::builder()
            .with_grpc_addr(self.addr)
            .without_http()
            .with_sink(sink.clone())
            .start()
            .await
            .expect("receiver starts on the same port");
        (receiver, sink)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_sent_arrive_under_the_resource_and_are_accounted() {
    for protocol in PROTOCOLS {
        let h = Harness::builder()
            .protocol(protocol)
            .service_name("profiles-test")
            .start(|config| config)
            .await;
        assert_eq!(h.client.profiles_stats().accepted, 0, "nothing before");
        for i in 0..3 {
            assert!(h.client.send_profile(payload(i)).is_queued(), "{protocol}");
        }
        // `force_flush` includes profiles; `requests` flushes.
        let received = profiles_of(h.requests().await);
        let want: Vec<_> = (0..3)
            .map(|i| payload(i).into_request(h.client.resource().clone()))
            .collect();
        assert_eq!(
            received, want,
            "{protocol}: one request per profile, in order"
        );
        let s = h.client.profiles_stats();
        assert_eq!((s.accepted, s.exported, s.queued), (3, 3, 0), "{s:?}");
        assert!(s.is_consistent(), "{s:?}");
        assert_eq!(h.client.stats_for(otlp::Signal::Profiles), s);
        h.client.shutdown(WAIT).await.expect("shut down");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_at_first_gets_the_profile_once_up() {
    let down = Down::new().await;
    let client = down.client(ClientConfig::new()).await;
    let _ = client.send_profile(payload(7));
    down.refused(3).await;
    let s = client.profiles_stats();
    assert_eq!((s.accepted, s.exported, s.queued), (1, 0, 1), "{s:?}");
    assert!(s.is_consistent(), "{s:?}");
    let (receiver, sink) = down.up().await;
    client.flush_profiles().await.expect("flushed");
    assert_eq!(tags(&sink), [7]);
    let s = client.profiles_stats();
    assert_eq!(
        (s.exported, s.dropped.total(), s.queued),
        (1, 0, 0),
        "{s:?}"
    );
    assert!(s.retried >= 2, "{s:?}");
    assert!(s.is_consistent(), "{s:?}");
    client.shutdown(WAIT).await.expect("shut down");
    receiver.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_the_new_profile_and_counts_it() {
    let down = Down::new().await;
    let client = down.client(ClientConfig::new()).await;
    // The first is in flight (refused, retried) before the others come.
    assert!(client.send_profile(payload(0)).is_queued());
    down.refused(1).await;
    let sent = 20;
    let mut kept = vec![0];
    for i in 1..sent {
        match client.send_profile(payload(i)) {
            Enqueued::Queued => kept.push(i),
            Enqueued::Dropped(reason) => assert_eq!(reason, DropReason::QueueFull, "{i}"),
            other => panic!("{i}: {other:?}"),
        }
        let s = client.profiles_stats();
        assert!(s.is_consistent(), "{s:?}");
        assert!(s.queue_length <= DEFAULT_QUEUE_SIZE, "{s:?}");
    }
    let s = client.profiles_stats();
    // The queue, the one in flight and at most one encoded ahead of it.
    assert!(
        (DEFAULT_QUEUE_SIZE + 1..=DEFAULT_QUEUE_SIZE + 2).contains(&kept.len()),
        "{kept:?}"
    );
    assert_eq!(s.queue_length, DEFAULT_QUEUE_SIZE, "{s:?}");
    assert_eq!(s.queued, kept.len() as u64, "{s:?}");
    assert_eq!(s.dropped.queue_full, (sent - kept.len()) as u64, "{s:?}");
    assert_eq!(s.accepted, sent as u64);
    // The profiles queued are the ones that arrive: the new ones were dropped, not the queued.
    let (receiver, sink) = down.up().await;
    client.shutdown(PATIENCE).await.expect("shut down");
    assert_eq!(tags(&sink), kept);
    let s = client.profiles_stats();
    assert_eq!((s.exported, s.queued), (kept.len() as u64, 0), "{s:?}");
    assert!(s.is_consistent(), "{s:?}");
    receiver.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_sent_after_the_shutdown_is_counted_as_dropped() {
    let h = Harness::start(|config| config).await;
    // Shut down before any profile: no pipeline ever starts, the hub counts it.
    h.client.shutdown(WAIT).await.expect("shut down");
    let sent = h.client.send_profile(payload(0));
    assert_eq!(sent, Enqueued::Dropped(DropReason::AfterShutdown));
    let s = h.client.profiles_stats();
    assert_eq!((s.accepted, s.dropped.after_shutdown), (1, 1), "{s:?}");
    assert!(s.is_consistent(), "{s:?}");

    // Shut down after profiles went through: the pipeline counts it.
    let h = Harness::start(|config| config).await;
    assert!(h.client.send_profile(payload(1)).is_queued());
    h.client.shutdown(WAIT).await.expect("shut down");
    assert_eq!(tags(&h.sink), [1]);
    let sent = h.client.send_profile(payload(2));
    assert_eq!(sent, Enqueued::Dropped(DropReason::AfterShutdown));
    let s = h.client.profiles_stats();
    assert_eq!(
        (s.accepted, s.exported, s.dropped.after_shutdown),
        (2, 1, 1),
        "{s:?}"
    );
    assert!(s.is_consistent(), "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_profiles_queue_is_configured_like_the_other_pipelines() {
    let down = Down::new().await;
    let config = otlp::profiles::default_pipeline().with_max_queue_size(1);
    let client = down
        .client(ClientConfig::new().with_profiles_pipeline(config))
        .await;
    let results: Vec<Enqueued> = (0..10).map(|i| client.send_profile(payload(i))).collect();
    let s = client.profiles_stats();
    assert!(s.queue_length <= 1 && s.queued <= 3, "{s:?}");
    let queued = results.iter().filter(|r| r.is_queued()).count();
    assert_eq!(s.queued, queued as u64, "{results:?}");
    assert!(s.is_consistent(), "{s:?}");
    // An invalid configuration fails the build, naming the problem.
    let bad = otlp::profiles::default_pipeline().with_max_batch_size(5);
    let err = OtlpClient::new(
        ClientConfig::new()
            .with_exporter(ExporterConfig::default().with_disabled(true))
            .with_profiles_pipeline(bad),
    )
    .await
    .expect_err("max batch above the queue");
    assert!(err.to_string().contains("max_batch_size"), "{err}");
    let _ = client.shutdown(Duration::from_millis(50)).await;
    drop(down);
}
