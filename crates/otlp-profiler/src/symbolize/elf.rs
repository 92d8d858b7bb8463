//! What the profiler reads from an ELF file: [`ElfInfo`] (load segments and build ids, for
//! mappings) and [`DebugInfo`] (DWARF and the symbol table, for names and lines).

use super::map::{FileMap, MapSlice};
use crate::error::{Error, Kind};
use object::elf::PF_X;
use object::{Object, ObjectSection, ObjectSegment, ReadCache, SegmentFlags};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
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

/// Names and lines of one ELF file: its DWARF if any, and its symbol table.
pub(crate) struct DebugInfo {
    dwarf: Option<addr2line::Context<Reader>>,
    /// `(address, size, where the mangled name lies in the file)`, sorted by address.
    symbols: Vec<(u64, u64, Range<usize>)>,
    map: Arc<FileMap>,
}

impl DebugInfo {
    /// Maps `path` and reads its DWARF (where it lies, not copied; compressed sections are
    /// the exception) and its symbol table.
    pub(crate) fn load(path: &Path) -> Result<DebugInfo, Error> {
        let map = Arc::new(FileMap::open(path)?);
        let obj = object::File::parse(map.bytes()).map_err(|e| {
            Error::new(
                Kind::Output,
                format!("{} is not a readable ELF file", path.display()),
            )
            .with_source(e)
        })?;
        let endian = if obj.is_little_endian() {
            gimli::RunTimeEndian::Little
        } else {
            gimli::RunTimeEndian::Big
        };
        let has_dwarf = obj.section_by_name(".debug_info").is_some();
        let dwarf = if has_dwarf {
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
            // Unreadable DWARF falls back to the symbol table rather than failing the file.
            gimli::Dwarf::load(load)
                .ok()
                .and_then(|d| addr2line::Context::from_dwarf(d).ok())
        } else {
            None
        };
        let mut symbols: Vec<(u64, u64, Range<usize>)> = obj
            .symbol_map()
            .symbols()
            .iter()
            .filter_map(|s| Some((s.address(), 0, map.range_of(s.name().as_bytes())?)))
            .collect();
        symbols.sort_by_key(|s| s.0);
        // The symbol map has no sizes: a symbol ends where the next one starts.
        let sizes: Vec<u64> = symbols
            .windows(2)
            .map(|w| w[1].0.saturating_sub(w[0].0))
            .chain(std::iter::once(u64::MAX))
            .collect();
        for (s, size) in symbols.iter_mut().zip(sizes) {
            s.1 = size;
        }
        drop(obj);
        Ok(DebugInfo {
            dwarf,
            symbols,
            map,
        })
    }

    /// Whether it has DWARF.
    #[cfg(test)]
    pub(crate) fn has_dwarf(&self) -> bool {
        self.dwarf.is_some()
    }

    /// The frames at virtual address `vaddr`: inlined functions first, the caller last.
    pub(crate) fn frames(&self, vaddr: u64) -> Vec<super::Frame> {
        let mut out = Vec::new();
        if let Some(ctx) = &self.dwarf
            && let Ok(mut iter) = ctx.find_frames(vaddr).skip_all_loads()
        {
            while let Ok(Some(frame)) = iter.next() {
                let Some(function) = &frame.function else {
                    continue;
                };
                let Ok(name) = function.raw_name() else {
                    continue;
                };
                let (file, line) = frame
                    .location
                    .as_ref()
                    .map(|l| (l.file.unwrap_or(""), l.line.unwrap_or(0)))
                    .unwrap_or(("", 0));
                out.push(super::Frame::new(&name, file, i64::from(line)));
            }
        }
        match (out.last_mut(), self.symbol(vaddr)) {
            (None, Some(name)) => out.push(super::Frame::new(name, "", 0)),
            // Line tables alone name functions without their path (`capture`, not
            // `otlp_profiler::heap::stack::capture`); the symbol table names the function the
            // others were inlined into in full, keeping DWARF's file and line.
            (Some(outer), Some(name)) if !outer.name.contains("::") => {
                let full = super::Frame::new(name, &outer.file, outer.line);
                if full.name.contains("::") {
                    *outer = full;
                }
            }
            _ => {}
        }
        out
    }

    /// The symbol-table name covering `vaddr`.
    fn symbol(&self, vaddr: u64) -> Option<&str> {
        let i = self
            .symbols
            .partition_point(|s| s.0 <= vaddr)
            .checked_sub(1)?;
        let (start, size, name) = &self.symbols[i];
        let name = self.map.bytes().get(name.clone())?;
        (vaddr - start < *size)
            .then(|| std::str::from_utf8(name).ok())
            .flatten()
    }
}

fn open(path: &Path) -> Result<File, Error> {
    File::open(path).map_err(|e| {
        Error::new(Kind::Output, format!("opening {} failed", path.display())).with_source(e)
    })
}

fn parse<'a>(
    cache: &'a ReadCache<File>,
    path: &Path,
) -> Result<object::File<'a, &'a ReadCache<File>>, Error> {
    object::File::parse(cache).map_err(|e| {
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
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
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
    Ok(hex(&ctx.finish().as_ref()[..16]))
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
        let digest = ring::digest::digest(&ring::digest::SHA256, &input);
        let got = htlhash(&File::open(&path).unwrap(), &path).unwrap();
        assert_eq!(got, hex(&digest.as_ref()[..16]));
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
