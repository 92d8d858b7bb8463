//! [`Symbolizer`]: addresses to function names, files and lines, on the collector thread
//! (never in a signal handler: it allocates, locks and reads files).
//!
//! DWARF through `addr2line` when the file has it, else the ELF symbol table; an address that
//! resolves to nothing gets no frames (its location keeps its mapping and address).
//!
//! **Bounds.** The symbolizer keeps at most `max_objects` files' debug information loaded
//! (default [`DEFAULT_MAX_OBJECTS`]) and at most `max_addresses` resolved addresses (default
//! [`DEFAULT_MAX_ADDRESSES`]), each evicting the least recently used; the small per-file
//! headers (segments, build ids) are kept for at most [`MAX_ELF_INFOS`] files.

mod elf;
mod lru;
mod map;

pub(crate) use elf::ElfInfo;

use elf::DebugInfo;
use lru::Lru;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// Files whose debug information stays loaded, by default.
pub(crate) const DEFAULT_MAX_OBJECTS: usize = 8;
/// Resolved addresses cached, by default.
pub(crate) const DEFAULT_MAX_ADDRESSES: usize = 64 * 1024;
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
    objects: Lru<PathBuf, Option<DebugInfo>>,
    addresses: Lru<(PathBuf, u64), Arc<[Frame]>>,
}

impl std::fmt::Debug for Symbolizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (objects, addresses) = self.cache_sizes();
        f.debug_struct("Symbolizer")
            .field("objects", &objects)
            .field("addresses", &addresses)
            .finish()
    }
}

impl Default for Symbolizer {
    fn default() -> Self {
        Symbolizer::new(DEFAULT_MAX_OBJECTS, DEFAULT_MAX_ADDRESSES)
    }
}

impl Symbolizer {
    /// A symbolizer keeping at most `max_objects` files loaded and `max_addresses` addresses.
    pub(crate) fn new(max_objects: usize, max_addresses: usize) -> Self {
        Symbolizer {
            state: Mutex::new(State {
                infos: Lru::new(MAX_ELF_INFOS),
                objects: Lru::new(max_objects),
                addresses: Lru::new(max_addresses),
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
    pub(crate) fn symbolize(&self, path: &Path, vaddr: u64) -> Arc<[Frame]> {
        let key = (path.to_path_buf(), vaddr);
        // Lookups run under the lock: DWARF contexts fill caches lazily and are not `Sync`.
        // Only the collector thread symbolizes, so the lock is not contended.
        let mut state = self.state();
        if let Some(frames) = state.addresses.get(&key) {
            return frames.clone();
        }
        if state.objects.get(&key.0).is_none() {
            let loaded = DebugInfo::load(path).ok();
            state.objects.insert(key.0.clone(), loaded);
        }
        let frames: Arc<[Frame]> = state
            .objects
            .get(&key.0)
            .and_then(Option::as_ref)
            .map(|o| o.frames(vaddr))
            .unwrap_or_default()
            .into();
        state.addresses.insert(key, frames.clone());
        frames
    }

    /// Unloads every file's debug information (the resolved addresses stay cached): a
    /// profile's symbolization loads what it needs, and the memory goes back between
    /// profiles rather than staying for the next window.
    pub(crate) fn release_files(&self) {
        self.state().objects.clear();
        give_back_freed_memory();
    }

    /// How many files are loaded and how many addresses cached.
    pub(crate) fn cache_sizes(&self) -> (usize, usize) {
        let state = self.state();
        (state.objects.len(), state.addresses.len())
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
        let s = Symbolizer::new(1, 16);
        for i in 0..100 {
            s.symbolize(&path, vaddr + i);
        }
        s.symbolize(Path::new("/nonexistent/lib.so"), 1);
        assert_eq!(s.cache_sizes(), (1, 16));
        // An unreadable file resolves to nothing.
        assert!(s.symbolize(Path::new("/nonexistent/lib.so"), 2).is_empty());
    }
}
