//! `otlp serve` accepts OTLP/Arrow (OTAP) streams on its gRPC port: each batch is answered,
//! reported on a `request` line with `protocol=otap`, and recorded as the request it encodes;
//! `otlp send --protocol otap` sends through them.

mod support;

use otlp_proto::{Encoding, Signal, sample};
use std::time::Duration;
use support::{otlp, recorded, serve, stop};
use test_support::clients::h2_client;
use test_support::otap::{OtapStream, StreamEncoder, method, normalize};
use test_support::{run, temp_dir};

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

/// `otlp send --protocol otap`: traces, logs and metrics go as OTAP batches, profiles (which
/// OTAP does not carry) as OTLP gRPC; the server records what the files held.
#[test]
fn send_sends_otap_streams() {
    let dir = temp_dir("send-otap");
    let files = dir.join("in");
    std::fs::create_dir_all(&files).expect("the input directory");
    for signal in Signal::ALL {
        let line = sample::request(signal).encode(Encoding::Json);
        let path = files.join(format!("{}.jsonl", signal.name()));
        std::fs::write(&path, [&line[..], b"\n"].concat()).expect("write the file");
    }
    let out = dir.join("out");
    let (server, grpc, _) = serve(&out);
    let mut cmd = otlp();
    cmd.args([
        "send",
        "--protocol",
        "otap",
        "--timeout",
        "10",
        "--endpoint",
    ])
    .arg(format!("http://{grpc}"));
    for signal in Signal::ALL {
        cmd.arg(files.join(format!("{}.jsonl", signal.name())));
    }
    let done = run("otlp send --protocol otap", cmd, Duration::from_secs(60));
    done.assert_success();
    assert!(
        done.stdout.contains("done requests=4 items=14 rejected=0"),
        "{}",
        done.stdout
    );
    let mut protocols = Vec::new();
    for _ in Signal::ALL {
        let (line, _) = server.wait_line(Duration::from_secs(10), |l| l.starts_with("request "));
        assert!(line.ends_with(" outcome=ok"), "{line}");
        let signal = line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let protocol = line
            .split_whitespace()
            .find_map(|f| f.strip_prefix("protocol="))
            .unwrap_or_default()
            .to_owned();
        protocols.push((signal, protocol));
    }
    protocols.sort();
    assert_eq!(
        protocols,
        [
            ("signal=logs", "otap"),
            ("signal=metrics", "otap"),
            ("signal=profiles", "grpc"),
            ("signal=traces", "otap"),
        ]
        .map(|(s, p)| (s.to_owned(), p.to_owned()))
    );
    stop(server, Signal::ALL.len());
    for signal in Signal::ALL {
        let got = recorded(&out, signal);
        assert_eq!(got.len(), 1, "{signal}");
        let want = match signal {
            Signal::Profiles => sample::request(signal),
            _ => normalize(sample::request(signal)),
        };
        assert_eq!(
            got[0].encode(Encoding::Protobuf),
            want.encode(Encoding::Protobuf),
            "{signal}"
        );
    }
    std::fs::remove_dir_all(&dir).expect("clean up");
}
