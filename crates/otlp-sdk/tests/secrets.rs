//! Secrets kept secret: header values and TLS key material never appear in `Debug` output or
//! error messages, whatever path they take (code, environment, per signal; good, bad and
//! unreadable keys; failed exports).

mod common;

use common::{Pki, base_url, receiver_with};
use otlp::{ClientConfig, Exporter, ExporterConfig, OtlpClient, Protocol, RetryPolicy};
use otlp_proto::{Signal, sample};
use otlp_receiver::{MemorySink, TlsConfig};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use std::collections::HashMap;
use std::time::Duration;

/// Every header value and every key file below carries this.
const SENTINEL: &str = "s3cr3t-SENTINEL-9d1c";

/// Fails, naming `what`, if `shown` holds a secret: the sentinel, or a line of the key's base64
/// body (a Debug of the key's bytes would show neither as text, so check its DER too).
fn assert_clean(what: &str, shown: &str, key_pem: &str) {
    assert!(!shown.contains(SENTINEL), "{what} shows a secret:\n{shown}");
    // Quoted as bytes too (`[115, 51, ...]`), as some parsers' errors quote a line.
    let bytes = format!("{:?}", &SENTINEL.as_bytes()[..8]);
    let bytes = bytes.trim_start_matches('[').trim_end_matches(']');
    assert!(
        !shown.contains(bytes),
        "{what} shows a secret as bytes:\n{shown}"
    );
    for line in key_pem
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 16)
    {
        assert!(!shown.contains(line), "{what} shows key material:\n{shown}");
    }
    if let Ok(der) = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()) {
        let bytes = format!("{:?}", &der.secret_der()[..12]);
        let bytes = bytes.trim_start_matches('[').trim_end_matches(']');
        assert!(!shown.contains(bytes), "{what} shows key bytes:\n{shown}");
    }
}

/// The client key of `pki`, with the sentinel in a comment line before the PEM block (which
/// PEM parsers skip), written as `secret.key`.
fn key_with_sentinel(pki: &Pki) -> String {
    let key = std::fs::read_to_string(pki.path("client.key")).expect("client key");
    let pem = format!("{SENTINEL}\n{key}");
    std::fs::write(pki.path("secret.key"), &pem).expect("write key");
    pem
}

/// A configuration with the sentinel in every header source and the client key file.
fn secret_config(endpoint: String, pki: &Pki, protocol: Protocol) -> ExporterConfig {
    let env = HashMap::from([
        ("OTEL_EXPORTER_OTLP_HEADERS", format!("x-env={SENTINEL}")),
        (
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            format!("authorization=Bearer%20{SENTINEL}"),
        ),
    ]);
    ExporterConfig::default()
        .with_env_source(&|name| env.get(name).cloned())
        .expect("valid environment")
        .with_protocol(protocol)
        .with_endpoint(endpoint)
        .with_header("x-api-key", SENTINEL)
        .with_headers([("x-other", format!("{SENTINEL}-2"))])
        .with_signal_header(Signal::Logs, "x-logs-key", SENTINEL)
        .with_certificate(pki.ca())
        .with_client_certificate(pki.path("client.pem"))
        .with_client_key(pki.path("secret.key"))
        .with_timeout(Duration::from_secs(5))
        .with_retry(RetryPolicy::disabled())
}

#[tokio::test]
async fn debug_output_and_errors_never_show_header_values_or_key_material() {
    let pki = Pki::new();
    let key_pem = key_with_sentinel(&pki);
    // A receiver that requires a client certificate, and one signed by another CA's trust.
    let sink = MemorySink::new();
    let rx = receiver_with(
        sink.clone(),
        Some(pki.server_tls().with_client_ca(pki.ca_pem.clone())),
    )
    .await;
    let mut shown = Vec::new();
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let endpoint = base_url(&rx, protocol, "https").replace("127.0.0.1", "localhost");
        let config = secret_config(endpoint, &pki, protocol);
        shown.push(("ExporterConfig", format!("{config:?}")));
        for signal in Signal::ALL {
            let resolved = config.resolve(signal).expect("resolves");
            assert!(!resolved.headers().is_empty(), "the headers are there");
            shown.push(("SignalConfig", format!("{resolved:?}")));
        }
        let exporter = Exporter::new(config.clone()).expect("exporter");
        // The headers and key work: the export goes through, over mutual TLS.
        exporter
            .export_request(&sample::request(Signal::Traces))
            .await
            .unwrap_or_else(|e| panic!("{protocol}: {e}"));
        // After an export the exporter has its I/O thread and connections: show those too.
        shown.push(("Exporter", format!("{exporter:?}")));

        // A failed export: the server's certificate from a CA not trusted.
        let untrusted = Exporter::new(config.clone().with_certificate(pki.path("other-ca.pem")))
            .expect("exporter");
        let err = untrusted
            .export_request(&sample::request(Signal::Logs))
            .await
            .expect_err("untrusted server");
        shown.push(("TLS error", format!("{err} / {err:?}")));
        // A failed export: nothing listens.
        let nowhere =
            Exporter::new(config.clone().with_endpoint("https://localhost:1")).expect("exporter");
        let err = nowhere
            .export_request(&sample::request(Signal::Traces))
            .await
            .expect_err("nothing listens");
        shown.push(("connect error", format!("{err} / {err:?}")));

        let client = tokio::task::spawn_blocking(move || {
            let client = OtlpClient::new_blocking(ClientConfig::new().with_exporter(config))
                .expect("client");
            let shown = format!("{client:?}");
            let _ = client.shutdown_blocking(Duration::from_secs(5));
            shown
        })
        .await
        .expect("join");
        shown.push(("OtlpClient", client));
    }
    assert!(sink.item_count(Signal::Traces) > 0);
    rx.shutdown().await;
    for (what, text) in &shown {
        assert_clean(what, text, &key_pem);
    }
}

#[test]
fn bad_keys_fail_without_showing_their_contents() {
    let pki = Pki::new();
    let key = std::fs::read_to_string(pki.path("client.key")).expect("client key");
    let body: Vec<&str> = key.lines().filter(|l| !l.starts_with("-----")).collect();
    let cases = [
        // Not base64 inside the block.
        format!("-----BEGIN PRIVATE KEY-----\n{SENTINEL}!!\n-----END PRIVATE KEY-----\n"),
        // No END line.
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n{SENTINEL}\n",
            body.join("\n")
        ),
        // A BEGIN line that is not one.
        format!(
            "-----BEGIN {SENTINEL}\n{}\n-----END PRIVATE KEY-----\n",
            body.join("\n")
        ),
        // No key at all, only text.
        format!("{SENTINEL}\n"),
        // A key of another certificate: valid PEM, the wrong key.
        format!(
            "{SENTINEL}\n{}",
            std::fs::read_to_string(pki.path("server.key")).expect("server key")
        ),
    ];
    for (i, pem) in cases.iter().enumerate() {
        std::fs::write(pki.path("bad.key"), pem).expect("write");
        let config = ExporterConfig::default()
            .with_endpoint("https://localhost:4318")
            .with_header("authorization", SENTINEL)
            .with_client_certificate(pki.path("client.pem"))
            .with_client_key(pki.path("bad.key"));
        let err = Exporter::new(config).expect_err("a bad key");
        assert!(err.is_config(), "case {i}: {err:?}");
        assert!(
            err.to_string().contains("bad.key"),
            "case {i}: names the file: {err}"
        );
        assert_clean(&format!("case {i}"), &format!("{err} / {err:?}"), &key);

        // Our receiver, given the same key, fails to start without showing it either.
        let tls = TlsConfig::new(pki.server_cert_pem.clone(), pem.clone().into_bytes());
        assert_clean(
            &format!("receiver TlsConfig {i}"),
            &format!("{tls:?}"),
            &key,
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let started = rt.block_on(
            otlp_receiver::Receiver::builder()
                .with_free_loopback_ports()
                .with_tls(tls)
                .start(),
        );
        match started {
            Ok(rx) => rt.block_on(rx.shutdown()),
            Err(err) => assert_clean(
                &format!("receiver error {i}"),
                &format!("{err} / {err:?}"),
                &key,
            ),
        }
    }
}

#[test]
fn malformed_header_variables_name_the_variable_not_the_value() {
    let cases = [
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            format!("authorization Bearer {SENTINEL}"),
        ),
        (
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            format!("a=1,Bearer {SENTINEL}=x"),
        ),
        (
            "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
            format!("k={SENTINEL}%zz"),
        ),
        (
            "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
            format!("k={SENTINEL}%0A"),
        ),
        (
            "OTEL_EXPORTER_OTLP_PROFILES_HEADERS",
            format!("k={SENTINEL}%ff"),
        ),
    ];
    for (var, value) in cases {
        let err = ExporterConfig::default()
            .with_env_source(&|name| (name == var).then(|| value.clone()))
            .expect_err("malformed");
        let msg = err.to_string();
        assert!(msg.starts_with(&format!("{var}: ")), "{msg}");
        assert!(!msg.contains(SENTINEL), "{msg}");
        assert!(!format!("{err:?}").contains(SENTINEL), "{err:?}");
    }
    // A header set in code with an invalid value: named, not shown.
    let err = Exporter::new(ExporterConfig::default().with_header("k", format!("{SENTINEL}\n")))
        .expect_err("invalid value");
    assert!(err.to_string().contains("\"k\""), "{err}");
    assert!(!format!("{err} {err:?}").contains(SENTINEL), "{err:?}");
}

#[test]
fn credentials_in_an_endpoint_url_are_refused_without_being_shown() {
    let endpoint = format!("https://collector:{SENTINEL}@localhost:4318");
    let config = ExporterConfig::default()
        .with_protocol(Protocol::HttpProtobuf)
        .with_endpoint(endpoint.clone());
    assert_clean("ExporterConfig's Debug", &format!("{config:?}"), "");
    let err = Exporter::new(config).expect_err("credentials in the URL");
    assert!(err.is_config(), "{err}");
    assert!(err.to_string().contains("header"), "says what to do: {err}");
    assert!(err.to_string().contains("<redacted>@localhost"), "{err}");
    assert_clean("the error", &format!("{err} {err:?}"), "");

    let env = HashMap::from([("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint)]);
    let err = ExporterConfig::default()
        .with_env_source(&|name| env.get(name).cloned())
        .and_then(Exporter::new)
        .expect_err("credentials in the variable's URL");
    assert!(
        err.to_string()
            .contains("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        "{err}"
    );
    assert_clean("the error", &format!("{err} {err:?}"), "");
}
