//! The loaded objects (`dl_iterate_phdr`) and their unwind sections, read with `object` from
//! the object's file (the vDSO, which has none, from memory). Run outside signal handlers
//! only: `dl_iterate_phdr` takes the loader's lock.

// Signals, timers and raw memory reads: the unsafe this module exists for.
#![allow(unsafe_code)]

use framehop::{ExplicitModuleSectionInfo, Module};
use object::{Object, ObjectSection};
use std::ffi::CStr;
use std::ops::Range;

/// A loaded object as the loader lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Loaded {
    /// The file (empty for the main program).
    pub(crate) name: String,
    /// Load bias: an address in the object plus `base` is its address in memory.
    pub(crate) base: u64,
    /// The executable segments' span in memory.
    pub(crate) code: Range<u64>,
    /// The whole image in memory when the object has no file (the vDSO).
    image: Option<Range<u64>>,
}

/// Every loaded object with executable code.
pub(crate) fn loaded() -> Vec<Loaded> {
    let mut list: Vec<Loaded> = Vec::new();
    // SAFETY: the callback only reads the phdr array the loader hands it, for its duration,
    // and `data` is the `Vec` above, alive for the call.
    unsafe {
        libc::dl_iterate_phdr(Some(visit), (&raw mut list).cast());
    }
    list
}

unsafe extern "C" fn visit(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut libc::c_void,
) -> libc::c_int {
    // SAFETY: `data` is the `Vec<Loaded>` passed by `loaded`; `info` and its phdr array are
    // valid during the callback, as dl_iterate_phdr promises.
    let (list, info) = unsafe { (&mut *data.cast::<Vec<Loaded>>(), &*info) };
    let name = if info.dlpi_name.is_null() {
        String::new()
    } else {
        // SAFETY: a non-null dlpi_name is a NUL-terminated string owned by the loader.
        unsafe { CStr::from_ptr(info.dlpi_name) }
            .to_string_lossy()
            .into_owned()
    };
    let phdrs: &[libc::Elf64_Phdr] = if info.dlpi_phdr.is_null() {
        &[]
    } else {
        // SAFETY: dlpi_phdr points at dlpi_phnum program headers.
        unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) }
    };
    let base = info.dlpi_addr;
    let mut code: Option<Range<u64>> = None;
    let mut first_load: Option<Range<u64>> = None;
    for p in phdrs.iter().filter(|p| p.p_type == libc::PT_LOAD) {
        let start = base.wrapping_add(p.p_vaddr);
        if first_load.is_none() && p.p_offset == 0 {
            first_load = Some(start..start.wrapping_add(p.p_filesz));
        }
        if p.p_flags & libc::PF_X != 0 {
            let end = start.wrapping_add(p.p_memsz);
            code = Some(match code {
                Some(c) => c.start.min(start)..c.end.max(end),
                None => start..end,
            });
        }
    }
    if let Some(code) = code {
        let image = name
            .starts_with("linux-vdso")
            .then_some(first_load)
            .flatten();
        list.push(Loaded {
            name,
            base,
            code,
            image,
        });
    }
    0
}

/// The framehop module of `loaded`, or `None` when its unwind sections cannot be read.
pub(crate) fn module(loaded: &Loaded) -> Option<Module<Vec<u8>>> {
    let bytes = match &loaded.image {
        Some(image) => {
            let len = usize::try_from(image.end.checked_sub(image.start)?).ok()?;
            // SAFETY: the vDSO's first load segment is mapped read-only for the life of the
            // process; `len` is its file size, within the mapping.
            unsafe { std::slice::from_raw_parts(image.start as *const u8, len) }.to_vec()
        }
        None => {
            let path = if loaded.name.is_empty() {
                "/proc/self/exe"
            } else {
                loaded.name.as_str()
            };
            return from_file(path, loaded);
        }
    };
    sections(&object::File::parse(&*bytes).ok()?, loaded)
}

fn from_file(path: &str, loaded: &Loaded) -> Option<Module<Vec<u8>>> {
    let file = std::fs::File::open(path).ok()?;
    // Reads only the headers and the sections asked for, not the whole file.
    let cache = object::ReadCache::new(file);
    let parsed = object::File::parse(&cache).ok()?;
    sections(&parsed, loaded)
}

fn sections<'d, R: object::ReadRef<'d>>(
    file: &object::File<'d, R>,
    loaded: &Loaded,
) -> Option<Module<Vec<u8>>> {
    let range = |name: &str| {
        file.section_by_name(name)
            .map(|s| s.address()..s.address() + s.size())
    };
    let data = |name: &str| {
        file.section_by_name(name)
            .and_then(|s| s.data().ok())
            .map(<[u8]>::to_vec)
    };
    let eh_frame = data(".eh_frame");
    eh_frame.as_ref()?;
    let info = ExplicitModuleSectionInfo {
        base_svma: 0,
        text_svma: range(".text"),
        got_svma: range(".got"),
        eh_frame_svma: range(".eh_frame"),
        eh_frame,
        eh_frame_hdr_svma: range(".eh_frame_hdr"),
        eh_frame_hdr: data(".eh_frame_hdr"),
        ..Default::default()
    };
    let name = if loaded.name.is_empty() {
        "[main]".to_owned()
    } else {
        loaded.name.clone()
    };
    Some(Module::new(name, loaded.code.clone(), loaded.base, info))
}
