//! `otlp serve` accepts OTLP/Arrow (OTAP) streams on its gRPC port: each batch is answered,
//! reported on a `request` line with `protocol=otap`, and recorded as the request it encodes.

mod support;

use otlp_proto::{Encoding, Signal, sample};
use std::time::Duration;
use support::{recorded, serve, stop};
use test_support::clients::h2_client;
use test_support::otap::{OtapStream, StreamEncoder, method, normalize};
use test_support::temp_dir;

#[tokio::test]
async fn serve_accepts_otap_streams_on_its_grpc_port() {
    let dir = temp_dir("serve-otap");
    let (server, grpc, _) = serve(&dir);
    let addr = grpc.parse().expect("a socket address");
    let client = h2_client();
    let signals = [Signal::Traces, Signal::Logs, Signal::Metrics];
    for signal in signals {
        let request = sample::request(signal);
        let mut stream = OtapStream::open(&client, addr, method(signal), &[]);
        let status = stream
            .exchange(&StreamEncoder::new(signal).encode(&request))
            .await;
        assert_eq!(
            (status.batch_id, status.status_code),
            (0, 0),
            "{signal}: {}",
            status.status_message
        );
        assert_eq!(stream.finish().await.code, Some(0), "{signal}");
        let (line, _) = server.wait_line(Duration::from_secs(10), |l| l.starts_with("request "));
        let want = format!("request signal={signal} items={} ", request.item_count());
        assert!(line.starts_with(&want), "{line}");
        assert!(line.contains(" protocol=otap "), "{line}");
        assert!(line.ends_with(" outcome=ok"), "{line}");
    }
    stop(server, signals.len());
    for signal in signals {
        let got = recorded(&dir, signal);
        assert_eq!(got.len(), 1, "{signal}");
        assert_eq!(
            got[0].encode(Encoding::Protobuf),
            normalize(sample::request(signal)).encode(Encoding::Protobuf),
            "{signal}"
        );
    }
}
