//! [`Symbolizer`]: addresses to function names, files and lines, on the collector thread
//! (never in a signal handler: it allocates, locks and reads files).
//!
//! DWARF (read with `gimli`, one compilation unit at a time: [`dwarf`]) when the file has
//! it, and the ELF symbol table; an address that resolves to nothing gets no frames (its
//! location keeps its mapping and address).
//!
//! **Bounds.** Addresses are resolved in batches, a file at a time: the file is mapped, read
//! and unmapped within the call, and its pages are dropped from memory as it is read, so no
//! file's debug information stays loaded between profiles. The symbolizer keeps at most
//! `max_addresses` resolved addresses (default [`DEFAULT_MAX_ADDRESSES`], the least recently
//! used evicted) and the small per-file headers (segments, build ids) of at most
//! [`MAX_ELF_INFOS`] files.

mod dwarf;
mod elf;
mod lru;
mod map;
mod sha256;

pub(crate) use elf::ElfInfo;

#[cfg(test)]
use elf::DebugInfo;
use lru::Lru;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// Resolved addresses cached, by default.
pub(crate) const DEFAULT_MAX_ADDRESSES: usize = 1024;
/// Files whose headers stay cached.
pub(crate) const MAX_ELF_INFOS: usize = 1024;

/// One frame of a location: a function (demangled and raw names), its file and line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Frame {
    /// The demangled name, without Rust's hash suffix.
    pub(crate) name: String,
    /// The name as in the binary (mangled).
    pub(crate) system_name: String,
    /// The source file, empty when unknown.
    pub(crate) file: String,
    /// The line, 0 when unknown.
    pub(crate) line: i64,
}

impl Frame {
    pub(crate) fn new(raw: &str, file: &str, line: i64) -> Frame {
        Frame {
            name: format!("{:#}", rustc_demangle::demangle(raw)),
            system_name: raw.to_owned(),
            file: file.to_owned(),
            line,
        }
    }
}

/// Resolves addresses of mapped ELF files, with bounded caches. Shared (`Arc`) by the
/// collector's builders; its caches sit behind one mutex.
pub(crate) struct Symbolizer {
    state: Mutex<State>,
}

struct State {
    infos: Lru<PathBuf, Option<Arc<ElfInfo>>>,
    /// Resolved addresses, keyed by file (its number in `files`) and address: a key is two
    /// integers, not a path copied at every lookup.
    addresses: Lru<(u32, u64), Arc<[Frame]>>,
    /// The files addresses were resolved in, numbered; at most [`MAX_ELF_INFOS`], past which
    /// the numbering and the addresses start over.
    files: HashMap<PathBuf, u32>,
}

impl State {
    /// The number of `path`, given on first sight.
    fn file_id(&mut self, path: &Path) -> u32 {
        if let Some(&id) = self.files.get(path) {
            return id;
        }
        if self.files.len() >= MAX_ELF_INFOS {
            self.files.clear();
            self.addresses.clear();
        }
        let id = u32::try_from(self.files.len()).unwrap_or(u32::MAX);
        self.files.insert(path.to_path_buf(), id);
        id
    }
}

impl std::fmt::Debug for Symbolizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Symbolizer")
            .field("addresses", &self.cached_addresses())
            .finish()
    }
}

impl Default for Symbolizer {
    fn default() -> Self {
        Symbolizer::new(DEFAULT_MAX_ADDRESSES)
    }
}

impl Symbolizer {
    /// A symbolizer keeping at most `max_addresses` resolved addresses.
    pub(crate) fn new(max_addresses: usize) -> Self {
        Symbolizer {
            state: Mutex::new(State {
                infos: Lru::new(MAX_ELF_INFOS),
                addresses: Lru::new(max_addresses),
                files: HashMap::new(),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The caches stay consistent if a holder panicked: keep using them.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The segments and build ids of `path`; `None` when it cannot be read as ELF.
    pub(crate) fn elf_info(&self, path: &Path) -> Option<Arc<ElfInfo>> {
        let key = path.to_path_buf();
        if let Some(info) = self.state().infos.get(&key) {
            return info.clone();
        }
        // Read without the lock: it is file I/O.
        let info = ElfInfo::read(path).ok().map(Arc::new);
        self.state().infos.insert(key, info.clone());
        info
    }

    /// The frames at ELF virtual address `vaddr` of `path`: inlined functions first, the
    /// caller last; empty when nothing resolves.
    #[cfg(test)]
    pub(crate) fn symbolize(&self, path: &Path, vaddr: u64) -> Arc<[Frame]> {
        self.symbolize_all(path, &[vaddr])
            .pop()
            .unwrap_or_else(|| Arc::from(Vec::new()))
    }

    /// The frames at each of the ELF virtual addresses `vaddrs` of `path` (any order,
    /// repeats allowed), in the same order: what the cache lacks is resolved in one pass
    /// over the file.
    pub(crate) fn symbolize_all(&self, path: &Path, vaddrs: &[u64]) -> Vec<Arc<[Frame]>> {
        let mut found: Vec<Option<Arc<[Frame]>>> = {
            let mut state = self.state();
            let file = state.file_id(path);
            vaddrs
                .iter()
                .map(|&v| state.addresses.get(&(file, v)).cloned())
                .collect()
        };
        let mut missing: Vec<u64> = vaddrs
            .iter()
            .zip(&found)
            .filter(|(_, f)| f.is_none())
            .map(|(&v, _)| v)
            .collect();
        if missing.is_empty() {
            return found.into_iter().flatten().collect();
        }
        missing.sort_unstable();
        missing.dedup();
        // File I/O and parsing, without the lock.
        let resolved: Vec<Arc<[Frame]>> = match elf::resolve(path, &missing) {
            Ok(frames) => frames.into_iter().map(Arc::from).collect(),
            // An unreadable file resolves to nothing.
            Err(_) => vec![Arc::from(Vec::new()); missing.len()],
        };
        {
            let mut state = self.state();
            // Numbered again: the numbering may have started over meanwhile.
            let file = state.file_id(path);
            for (&v, frames) in missing.iter().zip(&resolved) {
                state.addresses.insert((file, v), frames.clone());
            }
        }
        for (f, &v) in found.iter_mut().zip(vaddrs) {
            if f.is_none() {
                *f = missing
                    .binary_search(&v)
                    .ok()
                    .and_then(|i| resolved.get(i).cloned());
            }
        }
        found
            .into_iter()
            .map(|f| f.unwrap_or_else(|| Arc::from(Vec::new())))
            .collect()
    }

    /// Hands memory the C allocator keeps after frees back to the system: once a profile is
    /// built (its symbolization's), and once its export freed it.
    pub(crate) fn release_memory(&self) {
        give_back_freed_memory();
    }

    /// How many addresses are cached.
    pub(crate) fn cached_addresses(&self) -> usize {
        self.state().addresses.len()
    }
}

/// Hands the pages of memory freed by an unload back to the system. The C allocator keeps
/// freed memory for reuse, so the debug information parsed for one profile would otherwise
/// stay resident until the process ends; the profile's symbolization is then a peak, not a
/// plateau.
fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: `malloc_trim` only returns free pages of the C allocator's heaps to the system;
    // it takes the allocator's own locks and touches no memory in use.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn a_function_to_find() -> u64 {
        std::hint::black_box(7)
    }

    /// The test binary's path and the ELF virtual address of `f`.
    pub(crate) fn vaddr_in_test_binary(addr: usize) -> (PathBuf, u64) {
        let maps = crate::mappings::Mappings::read_self().unwrap();
        let m = maps.find(addr as u64).unwrap();
        (m.path.clone(), m.vaddr(addr as u64))
    }

    #[test]
    fn resolves_a_function_of_the_test_binary() {
        assert_eq!(a_function_to_find(), 7);
        let (path, vaddr) = vaddr_in_test_binary(a_function_to_find as *const () as usize);
        let s = Symbolizer::default();
        let frames = s.symbolize(&path, vaddr);
        let last = frames.last().unwrap();
        assert!(last.name.ends_with("a_function_to_find"), "{frames:?}");
        assert!(last.file.ends_with("mod.rs"), "{frames:?}");
        assert!(last.line > 0);
        assert!(!last.system_name.is_empty());
    }

    #[inline(always)]
    fn inlined_helper(x: u64) -> u64 {
        std::hint::black_box(x).wrapping_mul(3)
    }

    #[inline(never)]
    fn calls_an_inlined_helper(x: u64) -> u64 {
        inlined_helper(x) + 1
    }

    #[test]
    fn inlined_frames_come_first_and_the_caller_last() {
        assert_eq!(calls_an_inlined_helper(2), 7);
        let (path, start) = vaddr_in_test_binary(calls_an_inlined_helper as *const () as usize);
        let s = Symbolizer::default();
        let frames = (0..256)
            .map(|i| s.symbolize(&path, start + i))
            .find(|f| f.len() >= 2)
            .expect("an address in the inlined helper");
        assert!(frames[0].name.ends_with("inlined_helper"), "{frames:?}");
        assert!(
            frames[1].name.ends_with("calls_an_inlined_helper"),
            "{frames:?}"
        );
    }

    #[test]
    fn the_symbol_table_names_functions_without_dwarf() {
        let getpid = libc::getpid as *const () as usize;
        let (path, vaddr) = vaddr_in_test_binary(getpid);
        let has_dwarf = DebugInfo::load(&path).unwrap().has_dwarf();
        if has_dwarf || path == std::env::current_exe().unwrap() {
            println!("skipped: {} has DWARF or libc is linked in", path.display());
            return;
        }
        let frames = Symbolizer::default().symbolize(&path, vaddr);
        assert_eq!(frames.len(), 1, "{frames:?}");
        assert!(frames[0].name.contains("getpid"), "{frames:?}");
        assert_eq!((frames[0].file.as_str(), frames[0].line), ("", 0));
    }

    #[test]
    fn is_shared_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Symbolizer>();
    }

    #[test]
    fn caches_stay_bounded() {
        let (path, vaddr) = vaddr_in_test_binary(a_function_to_find as *const () as usize);
        let s = Symbolizer::new(16);
        for i in 0..100 {
            s.symbolize(&path, vaddr + i);
        }
        s.symbolize(Path::new("/nonexistent/lib.so"), 1);
        assert_eq!(s.cached_addresses(), 16);
        // An unreadable file resolves to nothing.
        assert!(s.symbolize(Path::new("/nonexistent/lib.so"), 2).is_empty());
    }

    #[test]
    fn files_numbered_stay_bounded_and_answers_stay_right() {
        let (path, vaddr) = vaddr_in_test_binary(a_function_to_find as *const () as usize);
        let s = Symbolizer::new(64);
        let right = s.symbolize(&path, vaddr);
        assert!(right.iter().any(|f| f.name.contains("a_function_to_find")));
        for i in 0..MAX_ELF_INFOS + 10 {
            s.symbolize(Path::new(&format!("/nonexistent/{i}.so")), vaddr);
            assert!(s.state().files.len() <= MAX_ELF_INFOS);
        }
        // Numbered again after the numbering started over, and resolved the same.
        assert_eq!(s.symbolize(&path, vaddr), right);
        assert!(
            s.symbolize(Path::new("/nonexistent/0.so"), vaddr)
                .is_empty()
        );
    }
}
