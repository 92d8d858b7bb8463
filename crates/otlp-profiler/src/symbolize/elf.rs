//! What the profiler reads from an ELF file: [`ElfInfo`] (load segments and build ids, for
//! mappings) and [`DebugInfo`] (DWARF and the symbol table, for names and lines).

use super::dwarf::RawFrame;
use super::map::{FileMap, MapSlice};
use super::sha256::Sha256;
use crate::error::{Error, Kind};
use object::elf::PF_X;
use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol, ReadCache, SegmentFlags};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

/// A DWARF reader over section bytes where they lie in the mapped file.
pub(crate) type Reader = gimli::EndianReader<gimli::RunTimeEndian, MapSlice>;

/// A file's load segments and build ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ElfInfo {
    /// `(file offset, file size, virtual address, alignment)` of each executable load
    /// segment.
    pub(crate) segments: Vec<(u64, u64, u64, u64)>,
    /// The GNU build id (the `.note.gnu.build-id` note), as hex.
    pub(crate) build_id_gnu: Option<String>,
    /// The htlhash: SHA-256 of the first 4 KiB, the last 4 KiB and the big-endian u64 length,
    /// the first 16 bytes as hex.
    pub(crate) htlhash: String,
}

impl ElfInfo {
    /// Reads `path`'s headers, notes and both ends (not the whole file).
    pub(crate) fn read(path: &Path) -> Result<ElfInfo, Error> {
        let file = open(path)?;
        let htlhash = htlhash(&file, path)?;
        let cache = ReadCache::new(file);
        let obj = parse(&cache, path)?;
        let segments = obj
            .segments()
            .filter(|s| {
                matches!(s.flags(), SegmentFlags::Elf { p_flags, .. } if p_flags.0 & PF_X.0 != 0)
            })
            .map(|s| {
                let (offset, size) = s.file_range();
                (offset, size, s.address(), s.align().max(1))
            })
            .collect();
        let build_id_gnu = obj.build_id().ok().flatten().map(hex);
        Ok(ElfInfo {
            segments,
            build_id_gnu,
            htlhash,
        })
    }

    /// The virtual address that file offset `offset` is loaded at, for an executable mapping
    /// starting at `offset`.
    pub(crate) fn vaddr_of_offset(&self, offset: u64) -> Option<u64> {
        // The loader maps a segment from its offset rounded down to a page (at most its
        // alignment), so the mapping may start before the segment's own offset.
        self.segments
            .iter()
            .find(|(start, size, _, align)| {
                offset >= start - start % align && offset < start.saturating_add(*size)
            })
            .map(|(start, _, vaddr, _)| vaddr.wrapping_add(offset).wrapping_sub(*start))
    }
}

/// How often the file's pages read are released while reading its symbol table.
const RELEASE_EVERY_SYMBOLS: usize = 4096;

/// The frames at each of the virtual addresses `addrs` (sorted, without duplicates) of the
/// ELF file `path`, from its DWARF if any and its symbol table: inlined functions first, the
/// caller last; empty where nothing resolves. The file is mapped and parsed once for both,
/// and unmapped before this returns, its pages read on the way dropped from memory.
pub(crate) fn resolve(path: &Path, addrs: &[u64]) -> Result<Vec<Vec<super::Frame>>, Error> {
    let map = Arc::new(FileMap::open(path)?);
    let obj = parse(map.bytes(), path)?;
    let raw = match dwarf_of(&obj, &map) {
        Some(d) => super::dwarf::resolve(&d, addrs, &mut || map.release_pages()),
        None => vec![Vec::new(); addrs.len()],
    };
    let symbols = symbols_at(&obj, &map, addrs);
    let frames = raw
        .into_iter()
        .zip(symbols)
        .map(|(raw, symbol)| combine(raw, symbol))
        .collect();
    map.release_pages();
    Ok(frames)
}

/// The DWARF sections of `obj` (mapped by `map`), where they lie, not copied (compressed
/// sections are the exception); `None` without DWARF or where it is unreadable (the symbol
/// table serves then).
fn dwarf_of(obj: &object::File<'_>, map: &Arc<FileMap>) -> Option<gimli::Dwarf<Reader>> {
    let endian = if obj.is_little_endian() {
        gimli::RunTimeEndian::Little
    } else {
        gimli::RunTimeEndian::Big
    };
    obj.section_by_name(".debug_info")?;
    let load = |id: gimli::SectionId| -> Result<Reader, gimli::Error> {
        let data = obj
            .section_by_name(id.name())
            .and_then(|s| s.uncompressed_data().ok())
            .unwrap_or_default();
        let slice = match &data {
            std::borrow::Cow::Borrowed(bytes) => map
                .range_of(bytes)
                .map(|range| MapSlice::new(map.clone(), range)),
            // Compressed in the file: the one copy, of what was decompressed.
            std::borrow::Cow::Owned(bytes) => Some(MapSlice::owned(bytes)),
        };
        Ok(Reader::new(slice.unwrap_or_else(MapSlice::empty), endian))
    };
    gimli::Dwarf::load(load).ok()
}

/// The symbol-table name covering each of `addrs` (sorted): one pass over the table,
/// nothing kept but the answers. Symbols without a size are skipped; the dynamic table
/// serves a file without a static one.
fn symbols_at(obj: &object::File<'_>, map: &FileMap, addrs: &[u64]) -> Vec<Option<String>> {
    let mut best: Vec<Option<(u64, &str)>> = vec![None; addrs.len()];
    let mut read = 0usize;
    let mut any = false;
    for symbol in obj.symbols() {
        any = true;
        closest_symbol(&symbol, addrs, &mut best);
        read += 1;
        // A large program's symbol and string tables are megabytes of pages.
        if read.is_multiple_of(RELEASE_EVERY_SYMBOLS) {
            map.release_pages();
        }
    }
    if !any {
        for symbol in obj.dynamic_symbols() {
            closest_symbol(&symbol, addrs, &mut best);
        }
    }
    best.into_iter()
        .map(|b| b.map(|(_, name)| name.to_owned()))
        .collect()
}

/// A file's DWARF sections, kept mapped (the tests' view of what [`resolve`] reads).
#[cfg(test)]
pub(crate) struct DebugInfo {
    dwarf: Option<gimli::Dwarf<Reader>>,
}

#[cfg(test)]
impl DebugInfo {
    /// Maps `path` and finds its DWARF sections.
    pub(crate) fn load(path: &Path) -> Result<DebugInfo, Error> {
        let map = Arc::new(FileMap::open(path)?);
        let dwarf = dwarf_of(&parse(map.bytes(), path)?, &map);
        Ok(DebugInfo { dwarf })
    }

    /// Whether it has DWARF.
    pub(crate) fn has_dwarf(&self) -> bool {
        self.dwarf.is_some()
    }

    /// Its DWARF sections.
    pub(crate) fn dwarf(&self) -> Option<&gimli::Dwarf<Reader>> {
        self.dwarf.as_ref()
    }

    /// Its DWARF sections, owned.
    pub(crate) fn into_dwarf(self) -> Option<gimli::Dwarf<Reader>> {
        self.dwarf
    }
}

/// Notes `symbol` as the name of the addresses (sorted) it covers, where no symbol starting
/// later covers them.
fn closest_symbol<'data>(
    symbol: &impl ObjectSymbol<'data>,
    addrs: &[u64],
    best: &mut [Option<(u64, &'data str)>],
) {
    let (start, size) = (symbol.address(), symbol.size());
    if symbol.kind() != object::SymbolKind::Text || size == 0 || start == 0 {
        return;
    }
    let Ok(name) = symbol.name() else { return };
    let lo = addrs.partition_point(|a| *a < start);
    let hi = addrs.partition_point(|a| *a < start.saturating_add(size));
    for b in &mut best[lo..hi] {
        // Nested symbols: the innermost (latest starting) names the address.
        if b.is_none_or(|(s, _)| start > s) {
            *b = Some((start, name));
        }
    }
}

/// An address's frames from its DWARF frames and its symbol-table name.
fn combine(raw: Vec<RawFrame>, symbol: Option<String>) -> Vec<super::Frame> {
    let mut out = Vec::with_capacity(raw.len().max(1));
    // A line without a function: the symbol table names it.
    let mut unnamed = ("".to_owned(), 0);
    for frame in raw {
        match frame.name {
            Some(name) => out.push(super::Frame::new(&name, &frame.file, i64::from(frame.line))),
            None => unnamed = (frame.file, i64::from(frame.line)),
        }
    }
    match (out.last_mut(), symbol) {
        (None, Some(name)) => out.push(super::Frame::new(&name, &unnamed.0, unnamed.1)),
        // Line tables alone name functions without their path (`capture`, not
        // `otlp_profiler::heap::stack::capture`); the symbol table names the function the
        // others were inlined into in full, keeping DWARF's file and line.
        (Some(outer), Some(name)) if !outer.name.contains("::") => {
            let full = super::Frame::new(&name, &outer.file, outer.line);
            if full.name.contains("::") {
                *outer = full;
            }
        }
        _ => {}
    }
    out
}

fn open(path: &Path) -> Result<File, Error> {
    File::open(path).map_err(|e| {
        Error::new(Kind::Output, format!("opening {} failed", path.display())).with_source(e)
    })
}

/// `data` (the file `path`, read through a cache or mapped) parsed as ELF.
fn parse<'data, R: object::ReadRef<'data>>(
    data: R,
    path: &Path,
) -> Result<object::File<'data, R>, Error> {
    object::File::parse(data).map_err(|e| {
        Error::new(
            Kind::Output,
            format!("{} is not a readable ELF file", path.display()),
        )
        .with_source(e)
    })
}

/// The htlhash of `file`: SHA-256(first 4 KiB ‖ last 4 KiB ‖ length as big-endian u64), its
/// first 16 bytes in hex.
fn htlhash(mut file: &File, path: &Path) -> Result<String, Error> {
    const CHUNK: u64 = 4096;
    let io = |e: std::io::Error| {
        Error::new(Kind::Output, format!("reading {} failed", path.display())).with_source(e)
    };
    let len = file.metadata().map_err(io)?.len();
    let mut ctx = Sha256::new();
    let mut buf = vec![0; CHUNK.min(len) as usize];
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    file.read_exact(&mut buf).map_err(io)?;
    ctx.update(&buf);
    let tail = CHUNK.min(len);
    buf.resize(tail as usize, 0);
    file.seek(SeekFrom::Start(len - tail)).map_err(io)?;
    file.read_exact(&mut buf).map_err(io)?;
    ctx.update(&buf);
    ctx.update(&len.to_be_bytes());
    Ok(hex(&ctx.finish()[..16]))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htlhash_matches_its_definition() {
        let dir = std::env::temp_dir().join(format!("htlhash-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let mut input = data[..4096].to_vec();
        input.extend_from_slice(&data[data.len() - 4096..]);
        input.extend_from_slice(&(data.len() as u64).to_be_bytes());
        let mut whole = Sha256::new();
        whole.update(&input);
        let got = htlhash(&File::open(&path).unwrap(), &path).unwrap();
        assert_eq!(got, hex(&whole.finish()[..16]));
        assert_eq!(got.len(), 32);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn reads_the_test_binary() {
        let exe = std::env::current_exe().unwrap();
        let info = ElfInfo::read(&exe).unwrap();
        assert!(!info.segments.is_empty());
        assert!(info.build_id_gnu.as_ref().is_some_and(|b| b.len() >= 16));
    }
}
