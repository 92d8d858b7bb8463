//! `container.id` from `/proc/self/cgroup` and `/proc/self/mountinfo`.

use super::{Detector, Source};
use otlp_proto::common::KeyValue;
use otlp_semconv::attribute as a;

/// `container.id` (and `container.runtime.name` when the runtime shows in the path).
///
/// The id is looked for first in `/proc/self/cgroup`: with cgroup v1 every line names the
/// container's cgroup (`…/docker/<id>`, `…/kubepods/…/cri-containerd-<id>.scope`,
/// `…/crio-<id>.scope`, `…/libpod-<id>.scope`); with cgroup v2 there is one line `0::<path>`
/// with the same shapes when the cgroup namespace is not private. When the namespace is private
/// (`0::/`), the id is taken from `/proc/self/mountinfo`, where Docker and containerd mount the
/// container's `hostname`, `hosts` and `resolv.conf` from `…/containers/<id>/…`. An id is 64
/// hexadecimal digits.
#[derive(Debug, Clone, Copy, Default)]
pub struct ContainerDetector;

impl Detector for ContainerDetector {
    fn detect(&self, source: &Source) -> Vec<KeyValue> {
        let found = source
            .read("/proc/self/cgroup")
            .and_then(|s| s.lines().find_map(from_cgroup_line))
            .or_else(|| {
                source
                    .read("/proc/self/mountinfo")
                    .and_then(|s| s.lines().find_map(from_mountinfo_line))
            });
        let Some((id, runtime)) = found else {
            return Vec::new();
        };
        let mut out = vec![KeyValue::new(a::CONTAINER_ID, id)];
        if let Some(r) = runtime {
            out.push(KeyValue::new(a::CONTAINER_RUNTIME_NAME, r));
        }
        out
    }
}

fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The id in the last segment of a cgroup path, with the runtime its prefix names.
fn from_cgroup_line(line: &str) -> Option<(String, Option<&'static str>)> {
    let path = line.splitn(3, ':').nth(2)?;
    let mut segments = path.rsplit('/');
    let last = segments.next()?;
    let parent = segments.next().unwrap_or("");
    let base = last.strip_suffix(".scope").unwrap_or(last);
    for (prefix, runtime) in [
        ("docker-", Some("docker")),
        ("cri-containerd-", Some("containerd")),
        ("crio-", Some("cri-o")),
        ("libpod-", Some("podman")),
        ("", None),
    ] {
        if let Some(id) = base.strip_prefix(prefix)
            && is_id(id)
        {
            let runtime = runtime.or(match parent {
                "docker" => Some("docker"),
                _ => None,
            });
            return Some((id.to_owned(), runtime));
        }
    }
    None
}

/// The id in a `…/containers/<id>/…` mount source of a mountinfo line.
fn from_mountinfo_line(line: &str) -> Option<(String, Option<&'static str>)> {
    let root = line.split_whitespace().nth(3)?;
    let mut parts = root.split('/');
    while let Some(p) = parts.next() {
        if p == "containers"
            && let Some(id) = parts.clone().next()
            && is_id(id)
        {
            let runtime = if root.contains("/docker/") {
                Some("docker")
            } else {
                None
            };
            return Some((id.to_owned(), runtime));
        }
    }
    None
}
