//! [`FileMap`]: an ELF file mapped read-only, so that DWARF and symbol names are read where
//! they lie (pages the kernel can drop and share with the page cache) rather than copied onto
//! the heap; and [`MapSlice`], a shared range of it, what the DWARF reader reads.

#![allow(unsafe_code)]

use crate::error::{Error, Kind};
use std::fs::File;
use std::ops::{Deref, Range};
use std::path::Path;
use std::sync::Arc;

/// A whole file mapped read-only and private.
pub(crate) struct FileMap {
    ptr: *const u8,
    len: usize,
}

// SAFETY: the mapping is read-only and never written through; its bytes may be read from any
// thread, and unmapping happens once, in `drop`, when no reference is left.
unsafe impl Send for FileMap {}
// SAFETY: as above: shared references only read.
unsafe impl Sync for FileMap {}

impl FileMap {
    /// Maps `path`; an empty file maps to an empty slice.
    #[cfg(unix)]
    pub(crate) fn open(path: &Path) -> Result<FileMap, Error> {
        use std::os::fd::AsRawFd;
        let file = File::open(path).map_err(|e| {
            Error::new(Kind::Output, format!("opening {} failed", path.display())).with_source(e)
        })?;
        let len = file
            .metadata()
            .map_err(|e| {
                Error::new(Kind::Output, format!("reading {} failed", path.display()))
                    .with_source(e)
            })
            .and_then(|m| {
                usize::try_from(m.len()).map_err(|_| {
                    Error::new(Kind::Output, format!("{} is too large", path.display()))
                })
            })?;
        if len == 0 {
            return Ok(FileMap {
                ptr: std::ptr::NonNull::<u8>::dangling().as_ptr(),
                len: 0,
            });
        }
        // SAFETY: a fresh read-only private mapping of an open file descriptor, at an address
        // the kernel picks; the descriptor may close afterwards (the mapping keeps the file).
        // The files mapped are the process's own executable and libraries, which the system
        // does not let be written while they run (ETXTBSY); replaced ones are new inodes.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(Error::last_os(&format!("mapping {}", path.display())));
        }
        Ok(FileMap {
            ptr: ptr.cast::<u8>().cast_const(),
            len,
        })
    }

    /// Mapping files needs Unix.
    #[cfg(not(unix))]
    pub(crate) fn open(path: &Path) -> Result<FileMap, Error> {
        Err(Error::new(
            Kind::Unsupported,
            format!("reading {} needs a Unix system", path.display()),
        ))
    }

    /// The file's bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr..ptr + len` is the live read-only mapping made in `open` (or a dangling
        // pointer with length 0), unmapped only in `drop`, which `&self` outlives.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// Where `inner` (a slice of [`bytes`](Self::bytes)) lies in the file.
    pub(crate) fn range_of(&self, inner: &[u8]) -> Option<Range<usize>> {
        let start = (inner.as_ptr() as usize).checked_sub(self.ptr as usize)?;
        let end = start.checked_add(inner.len())?;
        (end <= self.len).then_some(start..end)
    }
}

impl FileMap {
    /// Drops the file's pages from the process's resident set (they stay in the page cache,
    /// and are read again if touched): reading a large file's debug information should not
    /// leave it all resident.
    pub(crate) fn release_pages(&self) {
        #[cfg(unix)]
        if self.len > 0 {
            // SAFETY: `MADV_DONTNEED` on the private read-only file mapping made in `open`,
            // which is never written: the next read of a page loads the same bytes from the
            // file, so every slice into the mapping keeps its contents.
            unsafe {
                libc::madvise(self.ptr.cast_mut().cast(), self.len, libc::MADV_DONTNEED);
            }
        }
    }
}

impl Drop for FileMap {
    fn drop(&mut self) {
        #[cfg(unix)]
        if self.len > 0 {
            // SAFETY: the mapping made in `open`, unmapped once; no reference to it outlives
            // `self` (slices borrow `self`; `MapSlice`s hold the `Arc` that owns it).
            unsafe {
                libc::munmap(self.ptr.cast_mut().cast(), self.len);
            }
        }
    }
}

/// A range of a shared [`FileMap`] (or, for a section stored compressed, of its decompressed
/// copy): cheap to clone, and its bytes never move.
#[derive(Clone)]
pub(crate) struct MapSlice {
    source: Source,
    range: Range<usize>,
}

#[derive(Clone)]
enum Source {
    Map(Arc<FileMap>),
    Owned(Arc<[u8]>),
}

impl MapSlice {
    /// `range` of `map` (empty if out of it).
    pub(crate) fn new(map: Arc<FileMap>, range: Range<usize>) -> MapSlice {
        let range = if range.end <= map.len && range.start <= range.end {
            range
        } else {
            0..0
        };
        MapSlice {
            source: Source::Map(map),
            range,
        }
    }

    /// A copy of `bytes`.
    pub(crate) fn owned(bytes: &[u8]) -> MapSlice {
        MapSlice {
            source: Source::Owned(Arc::from(bytes)),
            range: 0..bytes.len(),
        }
    }

    /// No bytes.
    pub(crate) fn empty() -> MapSlice {
        MapSlice::owned(&[])
    }
}

impl Deref for MapSlice {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        let all = match &self.source {
            Source::Map(map) => map.bytes(),
            Source::Owned(bytes) => bytes,
        };
        all.get(self.range.clone()).unwrap_or_default()
    }
}

impl std::fmt::Debug for MapSlice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MapSlice({:?})", self.range)
    }
}

// SAFETY: the bytes a `MapSlice` derefs to live in the mapping (or the `Arc<[u8]>`) its `Arc`
// owns, which neither moves nor changes while any clone lives: moving or cloning the
// `MapSlice` leaves them where they are.
unsafe impl gimli::StableDeref for MapSlice {}
// SAFETY: as above: a clone derefs to the same bytes.
unsafe impl gimli::CloneStableDeref for MapSlice {}
