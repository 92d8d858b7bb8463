//! Where detectors read from: a filesystem root and an environment, both injectable.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

type EnvFn = dyn Fn(&str) -> Option<String> + Send + Sync;

/// The filesystem root and environment that resource detectors read.
///
/// [`Source::system`] is the real machine: `/` and the process environment. Tests point a source
/// at a fixture tree and a map of variables, so that detectors run the same code on both. Every
/// read is fallible and quiet: a missing or unreadable file, or an unset or empty variable, is
/// `None`.
#[derive(Clone)]
pub struct Source {
    root: PathBuf,
    env: Arc<EnvFn>,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl Default for Source {
    fn default() -> Self {
        Source::system()
    }
}

impl Source {
    /// The real machine: the filesystem from `/` and the process environment.
    pub fn system() -> Self {
        Source {
            root: PathBuf::from("/"),
            env: Arc::new(|name| std::env::var(name).ok()),
        }
    }

    /// A fixture tree at `root` with an empty environment.
    pub fn fixture(root: impl Into<PathBuf>) -> Self {
        Source {
            root: root.into(),
            env: Arc::new(|_| None),
        }
    }

    /// Reads files under `root` instead (absolute paths such as `/proc/self/cgroup` are taken
    /// relative to it).
    #[must_use]
    pub fn with_root(self, root: impl Into<PathBuf>) -> Self {
        Source {
            root: root.into(),
            ..self
        }
    }

    /// Reads variables from `vars` instead of the process environment.
    #[must_use]
    pub fn with_env<K, V>(self, vars: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        let map: HashMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Source {
            env: Arc::new(move |name| map.get(name).cloned()),
            ..self
        }
    }

    /// Reads variables through `lookup` instead of the process environment.
    #[must_use]
    pub fn with_env_fn(
        self,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        Source {
            env: Arc::new(lookup),
            ..self
        }
    }

    /// The filesystem root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether this is the real machine (root `/`), where process facts such as the pid are
    /// also taken from the running process.
    pub fn is_system_root(&self) -> bool {
        self.root == Path::new("/")
    }

    /// A variable, if set and not empty (surrounding whitespace removed).
    pub fn var(&self, name: &str) -> Option<String> {
        (self.env)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// `path` under the root.
    pub fn path(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    /// A file's contents, if it exists and is readable UTF-8.
    pub fn read(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(self.path(path)).ok()
    }

    /// A file's first line, trimmed, if not empty.
    pub fn read_line(&self, path: &str) -> Option<String> {
        self.read(path)
            .and_then(|s| s.lines().next().map(|l| l.trim().to_owned()))
            .filter(|l| !l.is_empty())
    }
}
