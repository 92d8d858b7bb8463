//! `otlp send`: exports the requests of OTLP/JSON lines files to an OTLP endpoint.

use crate::error::{Failure, Result};
use crate::summary;
use bytes::Bytes;
use otlp::{Exporter, ExporterConfig, Protocol};
use otlp_proto::{Compression, Encoding, Request, Signal};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The arguments of `otlp send`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Each FILE holds one OTLP/JSON export request per line (blank lines are skipped), as written by
`otlp serve --out DIR`. The signal is taken from the file name (traces.jsonl, metrics.jsonl,
logs.jsonl, profiles.jsonl) unless --signal is given. Every line is checked before anything is
sent; a line holding no resource entries (no resourceSpans in a traces file, say) is refused, as
it is most likely not OTLP/JSON at all (the decoder skips keys it does not know).

Settings not given as options are read from the OTEL_EXPORTER_OTLP_* environment variables
(OTEL_EXPORTER_OTLP_ENDPOINT, _PROTOCOL, _COMPRESSION, _TIMEOUT, _HEADERS, _CERTIFICATE, ...
and their per-signal forms); options win over the environment.

Output (stdout, one line per request, then the totals):
  sent signal=traces items=3 attempts=1 source=out/traces.jsonl:1
  partial signal=logs rejected=1 message=\"too old\" source=out/logs.jsonl:2
  done requests=2 items=6 rejected=1

Exits 1 when a file cannot be read or decoded, an export fails, or the server rejected items.")]
pub struct SendArgs {
    /// Where to send. For OTLP/HTTP a base URL (`/v1/traces`, ... is appended), for gRPC and
    /// OTAP `http://HOST:PORT` (or `https://`) [default: http://localhost:4318, or
    /// http://localhost:4317 for grpc and otap].
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,

    /// The OTLP protocol: grpc, http/protobuf, http/json or otap (OTLP/Arrow streams on the gRPC
    /// port; profiles, which OTAP does not carry, go as OTLP gRPC) [default: http/protobuf].
    #[arg(long, value_name = "PROTOCOL")]
    protocol: Option<Protocol>,

    /// Request compression: gzip, zstd or none [default: none].
    #[arg(long, value_name = "COMPRESSION")]
    compression: Option<Compression>,

    /// The signal of every FILE (traces, metrics, logs or profiles), instead of taking it from
    /// the file names.
    #[arg(long, value_name = "SIGNAL")]
    signal: Option<Signal>,

    /// How long one export may take, retries included, in seconds (fractions allowed)
    /// [default: 10].
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    timeout: Option<Duration>,

    /// A header (gRPC metadata) to send with every request, as NAME=VALUE; may be repeated.
    #[arg(long = "header", value_name = "NAME=VALUE", value_parser = parse_header)]
    headers: Vec<HeaderArg>,

    /// OTLP/JSON lines files to send, in order.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
}

/// A positive number of seconds, fractions allowed: how every timeout option is given.
pub(crate) fn parse_secs(s: &str) -> std::result::Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if secs <= 0.0 {
        return Err(format!("{s:?}: the timeout must be positive"));
    }
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"))
}

/// One `--header` as given. Header values are often credentials: `Debug` shows the name
/// only, and a malformed one is reported by [`config`], without its text, rather than by clap,
/// whose error would quote it.
#[derive(Clone, PartialEq)]
pub(crate) struct HeaderArg(Option<(String, String)>);

impl std::fmt::Debug for HeaderArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some((name, _)) => write!(f, "{name}=<redacted>"),
            None => f.write_str("<malformed>"),
        }
    }
}

fn parse_header(s: &str) -> std::result::Result<HeaderArg, String> {
    Ok(HeaderArg(match s.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Some((name.trim().to_owned(), value.to_owned()))
        }
        _ => None,
    }))
}

/// One request read from a file, and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// `path:line`, for messages.
    pub source: String,
    /// The decoded request.
    pub request: Request,
}

/// The signal of a file: `signal` if given, otherwise the one its name says (`traces.jsonl`).
fn file_signal(path: &Path, signal: Option<Signal>) -> Result<Signal> {
    if let Some(signal) = signal {
        return Ok(signal);
    }
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    stem.parse().map_err(|_| {
        Failure::new(format!(
            "{}: cannot tell the signal from the file name (expected traces.jsonl, \
             metrics.jsonl, logs.jsonl or profiles.jsonl); use --signal",
            path.display()
        ))
    })
}

/// Reads and decodes every non-blank line of `path` as an OTLP/JSON request of `signal`.
pub fn read_file(path: &Path, signal: Signal) -> Result<Vec<Line>> {
    let text = std::fs::read(path)
        .map_err(|e| Failure::with_cause(format!("cannot read {}", path.display()), e))?;
    let text = Bytes::from(text);
    let mut lines = Vec::new();
    let mut start = 0;
    for (index, chunk) in text.split(|&b| b == b'\n').enumerate() {
        let end = start + chunk.len();
        let body = text.slice(start..end);
        start = end + 1;
        if body.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let source = format!("{}:{}", path.display(), index + 1);
        let request = Request::decode(signal, Encoding::Json, &body).map_err(|e| {
            Failure::new(format!(
                "{source}: not an OTLP/JSON {signal} export request: {e}"
            ))
        })?;
        // The decoder skips unknown keys, so a line in another format decodes to an empty
        // request: refuse it rather than send nothing.
        if request.resource_count() == 0 {
            let key = resource_key(&request);
            return Err(Failure::new(format!(
                "{source}: holds no {key}: not an OTLP/JSON {signal} export request"
            )));
        }
        lines.push(Line { source, request });
    }
    Ok(lines)
}

/// The OTLP/JSON key the resource entries of `request` stand under.
fn resource_key(request: &Request) -> &'static str {
    match request {
        Request::Traces(_) => "resourceSpans",
        Request::Metrics(_) => "resourceMetrics",
        Request::Logs(_) => "resourceLogs",
        Request::Profiles(_) => "resourceProfiles",
    }
}

/// Builds the exporter configuration: the environment, then the options on top.
fn config(args: &SendArgs) -> Result<ExporterConfig> {
    let mut config = ExporterConfig::from_env()
        .map_err(|e| Failure::with_cause("invalid OTLP exporter environment", e))?;
    if let Some(endpoint) = &args.endpoint {
        config = config.with_endpoint(endpoint.clone());
    }
    if let Some(protocol) = args.protocol {
        config = config.with_protocol(protocol);
    }
    if let Some(compression) = args.compression {
        config = config.with_compression(compression);
    }
    if let Some(timeout) = args.timeout {
        config = config.with_timeout(timeout);
    }
    let mut headers = Vec::with_capacity(args.headers.len());
    for (i, header) in args.headers.iter().enumerate() {
        match &header.0 {
            Some(pair) => headers.push(pair.clone()),
            None => {
                return Err(Failure::new(format!(
                    "--header number {}: expected NAME=VALUE (its text is not shown: it may \
                     hold a credential)",
                    i + 1
                )));
            }
        }
    }
    Ok(config.with_headers(headers))
}

/// Reads every file, then exports each request in order; stops at the first failure.
pub async fn run(args: SendArgs) -> Result<()> {
    let mut lines = Vec::new();
    for path in &args.files {
        let signal = file_signal(path, args.signal)?;
        lines.extend(read_file(path, signal)?);
    }
    if lines.is_empty() {
        return Err(Failure::new("nothing to send: the files hold no requests"));
    }
    let config = config(&args)?;
    if config.is_disabled() {
        return Err(Failure::new(
            "exporting is disabled by OTEL_SDK_DISABLED=true: nothing would be sent",
        ));
    }
    let exporter = Exporter::new(config)
        .map_err(|e| Failure::with_cause("invalid exporter configuration", e))?;

    let sent = send_all(&exporter, &lines).await;
    // OTAP streams end as finished calls, whatever became of the exports.
    let closed = exporter
        .shutdown()
        .await
        .map_err(|e| Failure::with_cause("closing the exporter's streams", e));
    sent.and(closed)
}

/// Exports each of `lines` in order, printing a line for each; stops at the first failure.
async fn send_all(exporter: &Exporter, lines: &[Line]) -> Result<()> {
    let (mut items, mut rejected) = (0, 0);
    for line in lines {
        let signal = line.request.signal();
        let outcome = exporter
            .export_request(&line.request)
            .await
            .map_err(|e| Failure::with_cause(&line.source, e))?;
        items += line.request.item_count();
        summary::print_line(&summary::sent_line(
            signal,
            line.request.item_count(),
            outcome.attempts,
            &line.source,
        ));
        if outcome.is_partial_success() {
            rejected += outcome.rejected.max(0);
            summary::print_line(&summary::partial_line(
                signal,
                outcome.rejected,
                outcome.message.as_deref().unwrap_or_default(),
                &line.source,
            ));
        }
    }
    summary::print_line(&summary::send_done_line(lines.len(), items, rejected));
    if rejected > 0 {
        return Err(Failure::new(format!(
            "the server rejected {rejected} item(s); see the `partial` lines"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_from_file_name() {
        let s = |p: &str| file_signal(Path::new(p), None);
        assert_eq!(s("out/traces.jsonl"), Ok(Signal::Traces));
        assert_eq!(s("metrics.jsonl"), Ok(Signal::Metrics));
        assert_eq!(s("/tmp/x/logs.json"), Ok(Signal::Logs));
        assert_eq!(s("profiles"), Ok(Signal::Profiles));
        let err = s("data.jsonl").unwrap_err().to_string();
        assert!(
            err.contains("data.jsonl") && err.contains("--signal"),
            "{err}"
        );
        assert_eq!(
            file_signal(Path::new("data.jsonl"), Some(Signal::Logs)),
            Ok(Signal::Logs)
        );
    }

    #[test]
    fn option_values() {
        assert_eq!(parse_secs("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_secs("0").is_err());
        assert!(parse_secs("soon").is_err());
        assert_eq!(
            parse_header("x-key=a=b"),
            Ok(HeaderArg(Some(("x-key".to_owned(), "a=b".to_owned()))))
        );
        assert_eq!(parse_header("novalue"), Ok(HeaderArg(None)));
    }

    #[test]
    fn header_values_are_never_shown() {
        use clap::Parser;
        #[derive(Debug, clap::Parser)]
        struct Cli {
            #[command(flatten)]
            send: SendArgs,
        }
        let parse = |header: &str| {
            Cli::try_parse_from(["otlp", "--header", header, "x.jsonl"])
                .expect("clap accepts any --header")
                .send
        };
        let args = parse("authorization=Bearer s3cr3t");
        let shown = format!("{args:?}");
        assert!(shown.contains("authorization=<redacted>"), "{shown}");
        assert!(!shown.contains("s3cr3t"), "{shown}");

        let args = parse("Bearer s3cr3t");
        assert!(!format!("{args:?}").contains("s3cr3t"));
        let err = config(&args).expect_err("malformed").to_string();
        assert!(
            err.contains("--header number 1: expected NAME=VALUE"),
            "{err}"
        );
        assert!(!err.contains("s3cr3t"), "{err}");
    }

    #[test]
    fn reads_lines_and_names_the_bad_one() {
        let dir = std::env::temp_dir().join(format!("otlp-cli-send-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("logs.jsonl");
        let good = otlp_proto::sample::request(Signal::Logs);
        let mut text = good.to_json();
        text.extend_from_slice(b"\n\n");
        text.extend_from_slice(&good.to_json());
        text.push(b'\n');
        std::fs::write(&path, &text).unwrap();
        let lines = read_file(&path, Signal::Logs).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].source, format!("{}:3", path.display()));
        assert_eq!(lines[1].request, good);

        text.extend_from_slice(b"{\"resourceLogs\": [\n");
        std::fs::write(&path, &text).unwrap();
        let err = read_file(&path, Signal::Logs).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{}:4: ", path.display())), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_line_without_resource_entries_is_refused() {
        let dir = std::env::temp_dir().join(format!("otlp-cli-send-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (signal, key) in [
            (Signal::Traces, "resourceSpans"),
            (Signal::Metrics, "resourceMetrics"),
            (Signal::Logs, "resourceLogs"),
            (Signal::Profiles, "resourceProfiles"),
        ] {
            let path = dir.join(format!("{signal}.jsonl"));
            // Another format, whose keys the decoder skips; and an empty list, no better.
            for bad in [
                r#"{"signal":"x","request":{}}"#.to_owned(),
                format!(r#"{{"{key}":[]}}"#),
            ] {
                let mut text = otlp_proto::sample::request(signal).to_json();
                text.push(b'\n');
                text.extend_from_slice(bad.as_bytes());
                text.push(b'\n');
                std::fs::write(&path, &text).unwrap();
                let err = read_file(&path, signal).unwrap_err().to_string();
                assert_eq!(
                    err,
                    format!(
                        "{}:2: holds no {key}: not an OTLP/JSON {signal} export request",
                        path.display()
                    ),
                    "{bad}"
                );
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
