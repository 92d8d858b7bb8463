//! Exits non-zero, saying why, if the minimal build of `otlp` (OTLP/HTTP only) has gzip, zstd,
//! TLS, gRPC or OTLP/JSON, or does not refuse them clearly.

use otlp::{ClientConfig, Compression, Encoding, ExporterConfig, OtlpClient, Protocol, Signal};

fn check(ok: bool, what: &str) -> Result<(), String> {
    if ok { Ok(()) } else { Err(what.to_owned()) }
}

/// Checks that a client of `exporter` is refused with a configuration error naming `feature`.
fn refused(exporter: ExporterConfig, what: &str, feature: &str) -> Result<(), String> {
    let err = OtlpClient::new_blocking(ClientConfig::new().with_exporter(exporter))
        .err()
        .ok_or(format!("a client with {what} was built"))?;
    check(
        err.is_config()
            && err
                .to_string()
                .contains(&format!("`{feature}` feature of otlp")),
        &format!("{what}: {err}"),
    )
}

fn main() -> Result<(), String> {
    for c in [Compression::Gzip, Compression::Zstd] {
        check(!c.is_available(), &format!("{c} is built in"))?;
        let mut out = Vec::new();
        let err = c
            .compress(b"body", &mut out)
            .err()
            .ok_or(format!("{c} compressed"))?;
        check(
            err.to_string().contains(&format!("`{c}` feature")),
            &format!("{c}: {err}"),
        )?;
        let exporter = ExporterConfig::new()
            .with_endpoint("http://127.0.0.1:4318")
            .with_compression(c);
        refused(exporter, &format!("{c} compression"), c.name())?;
    }
    check(
        Compression::accepted_tokens() == "identity",
        Compression::accepted_tokens(),
    )?;
    let https = ExporterConfig::new().with_endpoint("https://collector.example.com:4318");
    refused(https, "an https endpoint", "tls")?;
    let grpc = ExporterConfig::new()
        .with_protocol(Protocol::Grpc)
        .with_endpoint("http://127.0.0.1:4317");
    refused(grpc, "protocol grpc", "grpc")?;
    check(!Encoding::Json.is_available(), "OTLP/JSON is built in")?;
    let http = || ExporterConfig::new().with_endpoint("http://127.0.0.1:4318");
    let json = http().with_protocol(Protocol::HttpJson);
    refused(json, "protocol http/json", "json")?;
    let json_logs = http().with_signal_protocol(Signal::Logs, Protocol::HttpJson);
    refused(json_logs, "protocol http/json for logs", "json")?;
    // The variables as `OTEL_EXPORTER_OTLP_PROTOCOL=http/json` sets them, per signal too.
    for variable in [
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    ] {
        let from_env = http()
            .with_env_source(&|name| (name == variable).then(|| "http/json".to_owned()))
            .map_err(|e| format!("{variable}=http/json does not parse: {e}"))?;
        refused(from_env, &format!("{variable}=http/json"), "json")?;
    }
    let client = OtlpClient::new_blocking(
        ClientConfig::new()
            .with_exporter(ExporterConfig::new().with_endpoint("http://127.0.0.1:4318")),
    )
    .map_err(|e| e.to_string())?;
    let _ = client.shutdown_blocking(std::time::Duration::from_millis(100));
    println!("minimal build: gzip, zstd, TLS, gRPC and OTLP/JSON left out and refused by name");
    Ok(())
}
