//! Exits non-zero, saying why, if the minimal build of `otlp` (OTLP/HTTP only) has gzip, zstd,
//! TLS or gRPC, or does not refuse them clearly.

use otlp::{ClientConfig, Compression, ExporterConfig, OtlpClient, Protocol};

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
    let client = OtlpClient::new_blocking(
        ClientConfig::new()
            .with_exporter(ExporterConfig::new().with_endpoint("http://127.0.0.1:4318")),
    )
    .map_err(|e| e.to_string())?;
    let _ = client.shutdown_blocking(std::time::Duration::from_millis(100));
    println!("minimal build: gzip, zstd, TLS and gRPC left out and refused by name");
    Ok(())
}
