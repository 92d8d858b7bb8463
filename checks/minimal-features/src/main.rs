//! Exits non-zero, saying why, if the minimal build of `otlp` (OTLP/HTTP only) has gzip, zstd,
//! TLS or gRPC, or does not refuse them clearly.

use otlp::{ClientConfig, Compression, ExporterConfig, OtlpClient, Protocol};

fn check(ok: bool, what: &str) -> Result<(), String> {
    if ok { Ok(()) } else { Err(what.to_owned()) }
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
        let err = OtlpClient::new_blocking(ClientConfig::new().with_exporter(exporter))
            .err()
            .ok_or(format!("a client with {c} compression was built"))?;
        check(
            err.is_config() && err.to_string().contains(&format!("`{c}` feature of otlp")),
            &format!("{c}: {err}"),
        )?;
    }
    check(
        Compression::accepted_tokens() == "identity",
        Compression::accepted_tokens(),
    )?;
    let https = ExporterConfig::new().with_endpoint("https://collector.example.com:4318");
    let err = OtlpClient::new_blocking(ClientConfig::new().with_exporter(https))
        .err()
        .ok_or("a client of an https endpoint was built")?;
    check(
        err.is_config() && err.to_string().contains("`tls` feature of"),
        &format!("https: {err}"),
    )?;
    let grpc = ExporterConfig::new()
        .with_protocol(Protocol::Grpc)
        .with_endpoint("http://127.0.0.1:4317");
    let err = OtlpClient::new_blocking(ClientConfig::new().with_exporter(grpc))
        .err()
        .ok_or("a gRPC client was built")?;
    check(
        err.is_config() && err.to_string().contains("`grpc` feature of otlp"),
        &format!("grpc: {err}"),
    )?;
    let client = OtlpClient::new_blocking(
        ClientConfig::new()
            .with_exporter(ExporterConfig::new().with_endpoint("http://127.0.0.1:4318")),
    )
    .map_err(|e| e.to_string())?;
    let _ = client.shutdown_blocking(std::time::Duration::from_millis(100));
    println!("minimal build: gzip, zstd, TLS and gRPC left out and refused by name");
    Ok(())
}
