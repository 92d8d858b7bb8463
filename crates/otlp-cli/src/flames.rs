//! `otlp serve --flamegraphs DIR`: a flame graph (SVG) of every profile received, written by a
//! thread of its own so that the receiver's tasks only hand requests over.

use otlp::profile::Profile;
use otlp_proto::Request;
use otlp_proto::collector::ExportProfilesServiceRequest;
use otlp_receiver::{Ack, Received, Refusal, Sink};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Mutex, PoisonError};

/// Passes every request to an inner sink and, for profiles, queues a flame graph per profile
/// type to be written under a directory.
pub(crate) struct FlameGraphSink<S> {
    inner: S,
    queue: Mutex<mpsc::Sender<ExportProfilesServiceRequest>>,
}

impl<S: Sink> FlameGraphSink<S> {
    /// Writes under `dir` (created if needed); `inner` answers the requests.
    pub(crate) fn new(dir: &Path, inner: S) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let (queue, requests) = mpsc::channel::<ExportProfilesServiceRequest>();
        let dir = dir.to_owned();
        std::thread::Builder::new()
            .name("otlp-flamegraphs".to_owned())
            .spawn(move || {
                let mut seq = 0u64;
                for request in requests {
                    seq += 1;
                    if let Err(e) = write(&dir, seq, &request) {
                        eprintln!("otlp: flame graph of profiles request {seq}: {e}");
                    }
                }
            })?;
        Ok(FlameGraphSink {
            inner,
            queue: Mutex::new(queue),
        })
    }
}

/// The flame graphs of one request: `DIR/profiles-<seq>-<n>-<type>.svg` for the `n`th profile
/// of the request and each of its profile types. The paths written.
pub(crate) fn write(
    dir: &Path,
    seq: u64,
    request: &ExportProfilesServiceRequest,
) -> Result<Vec<PathBuf>, String> {
    let profiles = Profile::from_request(request).map_err(|e| e.to_string())?;
    let mut written = Vec::new();
    for (n, profile) in profiles.iter().enumerate() {
        for kind in profile.profile_types() {
            let svg = profile.flamegraph_svg(kind).map_err(|e| e.to_string())?;
            let path = dir.join(format!("profiles-{seq}-{n}-{}.svg", kind.name()));
            std::fs::write(&path, svg).map_err(|e| format!("{}: {e}", path.display()))?;
            written.push(path);
        }
    }
    Ok(written)
}

impl<S: Sink> Sink for FlameGraphSink<S> {
    fn consume(&self, received: Received) -> Result<Ack, Refusal> {
        if let Request::Profiles(request) = &received.request {
            let queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = queue.send(request.clone());
        }
        self.inner.consume(received)
    }

    fn delay(&self) -> Option<std::time::Duration> {
        self.inner.delay()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otlp_proto::{Signal, sample};

    #[test]
    fn a_profiles_request_becomes_a_flame_graph_naming_its_functions() {
        let dir = std::env::temp_dir().join(format!("otlp-flames-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let Request::Profiles(request) = sample::request(Signal::Profiles) else {
            panic!("not a profiles request");
        };
        let written = write(&dir, 1, &request).unwrap();
        assert!(!written.is_empty());
        let svg = std::fs::read_to_string(&written[0]).unwrap();
        assert!(
            svg.starts_with("<?xml") || svg.contains("<svg"),
            "{svg:.200}"
        );
        let dictionary = request.dictionary.as_ref().unwrap();
        let function =
            &dictionary.string_table[dictionary.function_table[1].name_strindex as usize];
        assert!(
            svg.contains(function.as_ref() as &str),
            "{function} not in the graph"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
