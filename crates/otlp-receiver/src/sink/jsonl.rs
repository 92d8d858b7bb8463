//! [`JsonLinesSink`]: appends each request as one line of OTLP/JSON, one file per signal.

use super::{Ack, Refusal, Sink};
use crate::{Error, Received};
use otlp_proto::Signal;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// A sink that appends every request, as OTLP/JSON on one line, to `traces.jsonl`,
/// `metrics.jsonl`, `logs.jsonl` or `profiles.jsonl` in a directory.
///
/// Each line is the export request object (`{"resourceSpans":[...]}` and so on), the shape the
/// Collector's file exporter writes, so the files can be read back with
/// [`Request::decode`](otlp_proto::Request::decode) line by line, or replayed. Files are opened
/// in append mode, and each line is written with one `write` call and no buffering, so a reader
/// never sees half a line from a live receiver. A write that fails is answered with
/// [`Refusal::internal`].
///
/// Writing is synchronous: it suits a local disk, not a slow network filesystem.
pub struct JsonLinesSink {
    dir: PathBuf,
    // One lock per file, so signals do not wait on each other.
    files: [Mutex<File>; 4],
}

impl JsonLinesSink {
    /// Creates `dir` if needed and opens (creating, appending to) the four files in it.
    pub fn create(dir: impl AsRef<Path>) -> Result<Self, Error> {
        let dir = dir.as_ref().to_owned();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let open = |signal: Signal| -> Result<Mutex<File>, Error> {
            let path = file_path(&dir, signal);
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map(Mutex::new)
                .map_err(|e| Error::io(&path, e))
        };
        Ok(JsonLinesSink {
            files: [
                open(Signal::Traces)?,
                open(Signal::Metrics)?,
                open(Signal::Logs)?,
                open(Signal::Profiles)?,
            ],
            dir,
        })
    }

    /// The directory written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file `signal` is written to: `<dir>/<signal>.jsonl`.
    pub fn path(&self, signal: Signal) -> PathBuf {
        file_path(&self.dir, signal)
    }
}

fn file_path(dir: &Path, signal: Signal) -> PathBuf {
    dir.join(format!("{}.jsonl", signal.name()))
}

impl Sink for JsonLinesSink {
    fn consume(&self, received: Received) -> Result<Ack, Refusal> {
        // An empty request (an empty body, a gRPC call without a message) is accepted, as
        // OTLP allows, but there is nothing to record: a line `{}` would be one `otlp send`
        // refuses to replay, as it cannot tell it from a line in another format.
        if received.request.resource_count() == 0 {
            return Ok(Ack::ok());
        }
        let signal = received.request.signal();
        let mut line = received.request.to_json();
        line.push(b'\n');
        let mut file = self.files[signal.index()]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        file.write_all(&line)
            .and_then(|()| file.flush())
            .map_err(|e| {
                Refusal::internal(format!("writing {}: {e}", self.path(signal).display()))
            })?;
        Ok(Ack::ok())
    }
}

impl fmt::Debug for JsonLinesSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonLinesSink")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Transport;
    use otlp_proto::collector::ExportTraceServiceRequest;
    use otlp_proto::trace::{ResourceSpans, ScopeSpans, Span};
    use otlp_proto::{Compression, Encoding, Request, Str};

    #[test]
    fn appends_one_decodable_line_per_request() {
        let dir = std::env::temp_dir().join(format!("otlp-jsonl-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let request: Request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        name: Str::from_static("GET /"),
                        trace_id: vec![1; 16].into(),
                        span_id: vec![2; 8].into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .into();
        let received = Received {
            request: request.clone(),
            transport: Transport::Grpc,
            encoding: Encoding::Protobuf,
            compression: Compression::None,
            wire_bytes: 0,
            headers: http::HeaderMap::new(),
        };
        JsonLinesSink::create(&dir)
            .unwrap()
            .consume(received.clone())
            .unwrap();
        // A second sink on the same directory appends rather than truncates.
        let sink = JsonLinesSink::create(&dir).unwrap();
        sink.consume(received).unwrap();

        let text = std::fs::read_to_string(sink.path(Signal::Traces)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        for line in lines {
            let bytes = bytes::Bytes::copy_from_slice(line.as_bytes());
            let back = Request::decode(Signal::Traces, Encoding::Json, &bytes).unwrap();
            assert_eq!(back, request);
        }
        assert!(line_count(&sink.path(Signal::Logs)) == 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn empty_requests_are_acknowledged_and_not_recorded() {
        let dir = std::env::temp_dir().join(format!("otlp-jsonl-empty-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let sink = JsonLinesSink::create(&dir).unwrap();
        for signal in Signal::ALL {
            // What an empty body, `{}` or a gRPC call without a message decodes to.
            let request =
                Request::decode(signal, Encoding::Json, &bytes::Bytes::from("{}")).unwrap();
            assert_eq!(request.resource_count(), 0);
            let ack = sink.consume(Received {
                request,
                transport: Transport::Http,
                encoding: Encoding::Json,
                compression: Compression::None,
                wire_bytes: 2,
                headers: http::HeaderMap::new(),
            });
            assert!(ack.is_ok());
            assert_eq!(
                line_count(&sink.path(signal)),
                0,
                "{signal}: nothing to replay"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn line_count(path: &Path) -> usize {
        std::fs::read_to_string(path).unwrap().lines().count()
    }

    #[test]
    fn unwritable_directory_is_an_io_error() {
        let file = std::env::temp_dir().join(format!("otlp-jsonl-file-{}", std::process::id()));
        std::fs::write(&file, b"not a directory").unwrap();
        let err = JsonLinesSink::create(file.join("sub")).unwrap_err();
        assert!(err.is_io(), "{err}");
        std::fs::remove_file(&file).unwrap();
    }
}
