//! A profile through the real OpenTelemetry Collector (v0.148.0 `peercol`, built by
//! `interop/build-peers.sh`, profiles feature gate on): exported over gRPC, HTTP/protobuf and
//! HTTP/JSON, its file exporter's output reads back as the same profile (dictionary, samples,
//! stacks, links, attributes). A Collector that fails to build or start fails the test.

mod common;

use common::cpu_profile;
use otlp_interop::{Collector, compare, temp_dir};
use otlp_profiler::Profile;
use otlp_sdk::otlp_proto::{Request, Signal};
use otlp_sdk::{ClientConfig, ExporterConfig, OtlpClient, Protocol};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_collector_writes_our_profile_intact() {
    let dir = temp_dir("profiler-collector");
    let collector = Collector::start(&dir, None);
    let profile = cpu_profile();
    let protocols = [Protocol::Grpc, Protocol::HttpProtobuf, Protocol::HttpJson];
    for protocol in protocols {
        let addr = match protocol {
            Protocol::Grpc => collector.grpc,
            _ => collector.http,
        };
        let exporter = ExporterConfig::default()
            .with_protocol(protocol)
            .with_endpoint(format!("http://{addr}"))
            .with_timeout(Duration::from_secs(10));
        let client = OtlpClient::new(ClientConfig::new().with_exporter(exporter))
            .await
            .unwrap();
        let outcome = client
            .export_profile(profile.clone())
            .await
            .unwrap_or_else(|e| panic!("{protocol:?}: {e}\nCollector log:\n{}", collector.log()));
        assert!(!outcome.is_partial_success(), "{protocol:?}: {outcome:?}");
        client.shutdown(Duration::from_secs(10)).await.unwrap();
    }
    let lines = collector.read_output(Signal::Profiles, protocols.len(), Duration::from_secs(30));
    assert_eq!(lines.len(), protocols.len());
    for (i, line) in lines.into_iter().enumerate() {
        let Request::Profiles(mut got) = compare::normalize(line) else {
            panic!("line {i}: not profiles");
        };
        // The Collector writes all-zero ids as empty strings in OTLP/JSON (pdata's empty
        // TraceID/SpanID): the same link, the zero one.
        for link in got.dictionary.iter_mut().flat_map(|d| &mut d.link_table) {
            if link.trace_id.iter().all(|b| *b == 0) && link.span_id.iter().all(|b| *b == 0) {
                link.trace_id = vec![0; 16].into();
                link.span_id = vec![0; 8].into();
            }
        }
        let got = Profile::from_request(&got).unwrap();
        assert_eq!(got, std::slice::from_ref(&profile), "line {}", i + 1);
    }
}
