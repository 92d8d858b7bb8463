//! Addresses to frames from DWARF, one compilation unit at a time.
//!
//! A general-purpose DWARF index (`addr2line`'s) parses and keeps every unit it touches:
//! each one's whole line table as rows and each one's whole function tree, until the index is
//! dropped. A profile asks for a few thousand addresses at once, so this module reads each
//! unit once per request instead and keeps only the answers: it walks the units' address
//! ranges, and for a unit holding some of the addresses runs its line program and walks its
//! entries, noting the rows and the functions (and inlined calls) that cover those addresses;
//! the unit's parsed state is dropped before the next. Memory is then the answers plus one
//! unit's abbreviations, whatever the size of the debug information.
//!
//! The frames are the ones a DWARF symbolizer gives: the innermost inlined call first, at the
//! line the line table gives for the address; each caller after it, at the line its inlined
//! callee was called from (`DW_AT_call_file`, `DW_AT_call_line`); the function the calls were
//! inlined into last.

use super::elf::Reader;
use gimli::{AttributeValue, Reader as _, UnitRef};
use std::collections::HashMap;

/// One frame as DWARF gives it, before demangling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawFrame {
    /// The function's linkage (mangled) name, else its plain name; `None` when the address has
    /// a line but no function.
    pub(crate) name: Option<String>,
    /// The source file, empty when unknown.
    pub(crate) file: String,
    /// The line, 0 when unknown.
    pub(crate) line: u32,
}

/// How deep `DW_AT_abstract_origin`/`DW_AT_specification` chains are followed for a name.
const NAME_DEPTH: usize = 8;

/// How often pages read are released: every this many unit headers, line rows, entries. Each
/// unit's header touches a few pages in several sections, and the kernel maps the pages
/// around each one touched too, so a full pass would otherwise leave megabytes resident.
const RELEASE_EVERY_UNITS: usize = 8;
const RELEASE_EVERY_ROWS: usize = 1 << 14;
const RELEASE_EVERY_ENTRIES: usize = 1 << 12;

/// The frames of each of `addrs` (sorted, without duplicates), innermost first; empty for an
/// address no unit covers. `release` runs every so often while reading (to drop the pages read
/// from memory), and after each unit that held some of the addresses.
pub(crate) fn resolve(
    dwarf: &gimli::Dwarf<Reader>,
    addrs: &[u64],
    release: &mut dyn FnMut(),
) -> Vec<Vec<RawFrame>> {
    resolve_counting(dwarf, addrs, release).0
}

/// What a [`resolve`] read, for tests.
#[derive(Debug, Default)]
#[cfg_attr(not(test), allow(dead_code))]
struct Counts {
    /// Units parsed looking for addresses.
    units_parsed: usize,
    /// Names looked up in another unit (`DW_FORM_ref_addr`).
    cross_lookups: usize,
    /// Unit headers read to find those units.
    cross_headers: usize,
}

/// [`resolve`], and what it read.
fn resolve_counting(
    dwarf: &gimli::Dwarf<Reader>,
    addrs: &[u64],
    release: &mut dyn FnMut(),
) -> (Vec<Vec<RawFrame>>, Counts) {
    let mut found = Found {
        out: vec![Vec::new(); addrs.len()],
        resolved: vec![false; addrs.len()],
        pending: addrs.len(),
        units_parsed: 0,
        cross: CrossUnits::default(),
    };
    // The address index first: only the units it names are read. Whatever it does not place
    // is looked for in the units it leaves out (all of them without an index): a unit the
    // index describes holds none of the addresses still pending, so an address no unit
    // covers (code without debug information) costs a walk over the unit headers, not the
    // parsing of every unit.
    let (indexed, holding) = aranges_index(dwarf, addrs);
    for offset in holding {
        if let Ok(header) = dwarf.debug_info.header_from_offset(offset) {
            found.read_unit(dwarf, header, addrs, release);
        }
    }
    let mut headers = Headers::new(dwarf);
    while found.pending > 0 {
        let Some(header) = headers.next(release) else {
            break;
        };
        // Units from `units()` are `.debug_info`'s.
        if indexed
            .binary_search(&gimli::DebugInfoOffset(header.offset().0))
            .is_ok()
        {
            continue;
        }
        found.read_unit(dwarf, header, addrs, release);
    }
    let counts = Counts {
        units_parsed: found.units_parsed,
        cross_lookups: found.cross.lookups,
        cross_headers: found.cross.headers_read,
    };
    (found.out, counts)
}

/// What [`resolve`] has found so far.
struct Found {
    out: Vec<Vec<RawFrame>>,
    resolved: Vec<bool>,
    pending: usize,
    units_parsed: usize,
    cross: CrossUnits,
}

impl Found {
    /// Resolves the addresses not yet resolved that the unit of `header` covers.
    fn read_unit(
        &mut self,
        dwarf: &gimli::Dwarf<Reader>,
        header: gimli::UnitHeader<Reader>,
        addrs: &[u64],
        release: &mut dyn FnMut(),
    ) {
        self.units_parsed += 1;
        let Ok(unit) = dwarf.unit(header) else {
            return;
        };
        let unit = unit.unit_ref(dwarf);
        let targets = targets_in(unit, addrs, &self.resolved);
        if targets.is_empty() {
            return;
        }
        let frames = resolve_in_unit(unit, addrs, &targets, &mut self.cross, release);
        for (&t, frames) in targets.iter().zip(frames) {
            self.out[t] = frames;
            self.resolved[t] = true;
            self.pending -= 1;
        }
        release();
    }
}

/// What `.debug_aranges` says (nothing without the section), in one read of it: every unit it
/// describes, and the units holding some of `addrs` (sorted); both ascending.
fn aranges_index(dwarf: &gimli::Dwarf<Reader>, addrs: &[u64]) -> (Vec<Offset>, Vec<Offset>) {
    let (mut described, mut holding) = (Vec::new(), Vec::new());
    let mut headers = dwarf.debug_aranges.headers();
    while let Ok(Some(header)) = headers.next() {
        described.push(header.debug_info_offset());
        let mut entries = header.entries();
        while let Ok(Some(entry)) = entries.next() {
            let r = entry.range();
            if r.begin == 0 || r.begin >= r.end {
                continue;
            }
            let lo = addrs.partition_point(|a| *a < r.begin);
            if addrs.get(lo).is_some_and(|a| *a < r.end) {
                holding.push(header.debug_info_offset());
                break;
            }
        }
    }
    for units in [&mut described, &mut holding] {
        units.sort_unstable();
        units.dedup();
    }
    (described, holding)
}

/// A unit's offset in `.debug_info`.
type Offset = gimli::DebugInfoOffset<usize>;

/// The unit headers of `.debug_info` in order, the pages read dropped every
/// `RELEASE_EVERY_UNITS` headers.
struct Headers {
    units: gimli::DebugInfoUnitHeadersIter<Reader>,
    read: usize,
}

impl Headers {
    fn new(dwarf: &gimli::Dwarf<Reader>) -> Self {
        Headers {
            units: dwarf.units(),
            read: 0,
        }
    }

    /// The next header; `None` at the end or at a header that does not parse.
    fn next(&mut self, release: &mut dyn FnMut()) -> Option<gimli::UnitHeader<Reader>> {
        let header = self.units.next().ok().flatten()?;
        self.read += 1;
        if self.read.is_multiple_of(RELEASE_EVERY_UNITS) {
            release();
        }
        Some(header)
    }
}

/// The indices of the addresses not yet resolved that `unit`'s ranges cover, ascending.
fn targets_in(unit: UnitRef<'_, Reader>, addrs: &[u64], resolved: &[bool]) -> Vec<usize> {
    let mut targets = Vec::new();
    let Ok(mut ranges) = unit.unit_ranges() else {
        return targets;
    };
    while let Ok(Some(r)) = ranges.next() {
        // A range at 0 is code the linker removed (its addresses were zeroed).
        if r.begin == 0 || r.begin >= r.end {
            continue;
        }
        let lo = addrs.partition_point(|a| *a < r.begin);
        let hi = addrs.partition_point(|a| *a < r.end);
        targets.extend((lo..hi).filter(|&i| !resolved[i]));
    }
    targets.sort_unstable();
    targets.dedup();
    targets
}

/// A function or inlined call covering a target.
#[derive(Clone)]
struct Scope {
    depth: isize,
    name: Option<String>,
    call_file: Option<u64>,
    call_line: u32,
}

/// The frames of `addrs[targets[i]]` for each `i`, from one unit.
fn resolve_in_unit(
    unit: UnitRef<'_, Reader>,
    addrs: &[u64],
    targets: &[usize],
    cross: &mut CrossUnits,
    release: &mut dyn FnMut(),
) -> Vec<Vec<RawFrame>> {
    let wanted: Vec<u64> = targets.iter().map(|&i| addrs[i]).collect();
    let mut files = FileNames::default();
    let locations = line_locations(unit, &wanted, &mut files, release);
    let scopes = scopes_covering(unit, &wanted, cross, release);
    scopes
        .into_iter()
        .zip(locations)
        .map(|(chain, (file, line))| {
            let mut frames = Vec::with_capacity(chain.len().max(1));
            let mut at = (files.name(unit, file), line);
            for scope in chain.iter().rev() {
                frames.push(RawFrame {
                    name: scope.name.clone(),
                    file: at.0,
                    line: at.1,
                });
                at = (files.name(unit, scope.call_file), scope.call_line);
            }
            if frames.is_empty() && (!at.0.is_empty() || at.1 != 0) {
                frames.push(RawFrame {
                    name: None,
                    file: at.0,
                    line: at.1,
                });
            }
            frames
        })
        .collect()
}

/// The line table's `(file index, line)` of each of `wanted` (sorted): the row at or before
/// the address in its sequence.
fn line_locations(
    unit: UnitRef<'_, Reader>,
    wanted: &[u64],
    files: &mut FileNames,
    release: &mut dyn FnMut(),
) -> Vec<(Option<u64>, u32)> {
    let mut locations = vec![(None, 0); wanted.len()];
    let Some(program) = unit.line_program.clone() else {
        return locations;
    };
    let mut rows = program.rows();
    // The row that starts the address range being read: (address, file, line).
    let mut open: Option<(u64, u64, u32)> = None;
    let mut read = 0usize;
    while let Ok(Some((_, row))) = rows.next_row() {
        read += 1;
        if read.is_multiple_of(RELEASE_EVERY_ROWS) {
            release();
        }
        let address = row.address();
        if let Some((start, file, line)) = open
            && address > start
        {
            let lo = wanted.partition_point(|a| *a < start);
            let hi = wanted.partition_point(|a| *a < address);
            for l in &mut locations[lo..hi] {
                *l = (Some(file), line);
            }
        }
        open = (!row.end_sequence()).then(|| {
            let line = row
                .line()
                .map_or(0, |l| u32::try_from(l.get()).unwrap_or(0));
            (address, row.file_index(), line)
        });
    }
    files.header = Some(rows.header().clone());
    locations
}

/// For each of `wanted` (sorted), the function covering it and the inlined calls within it
/// that also cover it, outermost first.
fn scopes_covering(
    unit: UnitRef<'_, Reader>,
    wanted: &[u64],
    cross: &mut CrossUnits,
    release: &mut dyn FnMut(),
) -> Vec<Vec<Scope>> {
    let mut chains: Vec<Vec<Scope>> = vec![Vec::new(); wanted.len()];
    let mut entries = unit.entries();
    let mut covered = Vec::new();
    let mut read = 0usize;
    while let Ok(Some(entry)) = entries.next_dfs() {
        read += 1;
        if read.is_multiple_of(RELEASE_EVERY_ENTRIES) {
            release();
        }
        let tag = entry.tag();
        let inlined = tag == gimli::DW_TAG_inlined_subroutine;
        if !inlined && tag != gimli::DW_TAG_subprogram {
            continue;
        }
        covered.clear();
        let Ok(mut ranges) = unit.die_ranges(entry) else {
            continue;
        };
        while let Ok(Some(r)) = ranges.next() {
            if r.begin == 0 || r.begin >= r.end {
                continue;
            }
            let lo = wanted.partition_point(|a| *a < r.begin);
            let hi = wanted.partition_point(|a| *a < r.end);
            covered.extend(lo..hi);
        }
        if covered.is_empty() {
            continue;
        }
        let scope = scope_of(unit, entry, cross, release);
        for &i in &covered {
            let chain = &mut chains[i];
            // Entries come parents first: a scope at this depth or deeper already noted was a
            // sibling's, which this one replaces.
            chain.retain(|s| s.depth < scope.depth);
            if !inlined {
                chain.clear();
            } else if chain.is_empty() {
                continue;
            }
            chain.push(scope.clone());
        }
    }
    chains
}

/// The name, call site and depth of a function or inlined-call entry.
fn scope_of(
    unit: UnitRef<'_, Reader>,
    entry: &gimli::DebuggingInformationEntry<Reader>,
    cross: &mut CrossUnits,
    release: &mut dyn FnMut(),
) -> Scope {
    let mut call_file = None;
    let mut call_line = 0;
    for attr in entry.attrs() {
        match attr.name() {
            gimli::DW_AT_call_file => {
                // Before DWARF 5, file 0 meant "no file"; from 5 on it is the unit's first.
                if let AttributeValue::FileIndex(f) = attr.value()
                    && (f > 0 || unit.header.version() >= 5)
                {
                    call_file = Some(f);
                }
            }
            gimli::DW_AT_call_line => {
                call_line = attr
                    .udata_value()
                    .and_then(|l| u32::try_from(l).ok())
                    .unwrap_or(0);
            }
            _ => {}
        }
    }
    Scope {
        depth: entry.depth(),
        name: name_of(unit, entry, NAME_DEPTH, cross, release),
        call_file,
        call_line,
    }
}

/// An entry's linkage name, else its name, else its abstract origin's or specification's.
fn name_of(
    unit: UnitRef<'_, Reader>,
    entry: &gimli::DebuggingInformationEntry<Reader>,
    depth: usize,
    cross: &mut CrossUnits,
    release: &mut dyn FnMut(),
) -> Option<String> {
    let string = |value| {
        unit.attr_string(value)
            .ok()
            .and_then(|s| s.to_string_lossy().ok().map(|s| s.into_owned()))
    };
    for at in [gimli::DW_AT_linkage_name, gimli::DW_AT_MIPS_linkage_name] {
        if let Some(name) = entry.attr_value(at).and_then(string) {
            return Some(name);
        }
    }
    if let Some(name) = entry.attr_value(gimli::DW_AT_name).and_then(string) {
        return Some(name);
    }
    let origin = entry
        .attr_value(gimli::DW_AT_abstract_origin)
        .or_else(|| entry.attr_value(gimli::DW_AT_specification))?;
    let depth = depth.checked_sub(1)?;
    match origin {
        AttributeValue::UnitRef(offset) => {
            let origin = unit.entry(offset).ok()?;
            name_of(unit, &origin, depth, cross, release)
        }
        // Another unit's entry (inlining across codegen units or crates).
        AttributeValue::DebugInfoRef(offset) => cross.name_at(unit.dwarf, offset, depth, release),
        _ => None,
    }
}

/// Entries of other units that entries refer to (`DW_FORM_ref_addr`), for one [`resolve`]:
/// where each unit starts, read on first need in one pass over the unit headers, and the
/// names found so far. Looking for the unit at every reference instead read every header
/// before it each time, which left most of `.debug_info` mapped between two releases.
#[derive(Default)]
struct CrossUnits {
    starts: Option<Vec<usize>>,
    names: HashMap<usize, Option<String>>,
    lookups: usize,
    headers_read: usize,
}

impl CrossUnits {
    /// The name of the entry at `offset` of `.debug_info`, following its origins `depth`
    /// deep at most.
    fn name_at(
        &mut self,
        dwarf: &gimli::Dwarf<Reader>,
        offset: gimli::DebugInfoOffset<usize>,
        depth: usize,
        release: &mut dyn FnMut(),
    ) -> Option<String> {
        if let Some(name) = self.names.get(&offset.0) {
            return name.clone();
        }
        self.lookups += 1;
        let name = self.find_name(dwarf, offset, depth, release);
        self.names.insert(offset.0, name.clone());
        name
    }

    fn find_name(
        &mut self,
        dwarf: &gimli::Dwarf<Reader>,
        offset: gimli::DebugInfoOffset<usize>,
        depth: usize,
        release: &mut dyn FnMut(),
    ) -> Option<String> {
        let starts = self.starts(dwarf, release);
        let start = *starts.get(starts.partition_point(|s| *s <= offset.0).checked_sub(1)?)?;
        let header = dwarf
            .debug_info
            .header_from_offset(gimli::DebugInfoOffset(start))
            .ok()?;
        let local = offset.to_unit_offset(&header)?;
        let other = dwarf.unit(header).ok()?;
        let other = other.unit_ref(dwarf);
        let origin = other.entry(local).ok()?;
        name_of(other, &origin, depth, self, release)
    }

    /// Where each unit of `.debug_info` starts, ascending.
    fn starts(&mut self, dwarf: &gimli::Dwarf<Reader>, release: &mut dyn FnMut()) -> &[usize] {
        let headers_read = &mut self.headers_read;
        self.starts.get_or_insert_with(|| {
            let mut starts = Vec::new();
            let mut headers = Headers::new(dwarf);
            while let Some(header) = headers.next(release) {
                // Units from `units()` are `.debug_info`'s.
                starts.push(header.offset().0);
            }
            *headers_read += headers.read;
            starts
        })
    }
}

/// A unit's line-table file names, rendered once each.
#[derive(Default)]
struct FileNames {
    header: Option<gimli::LineProgramHeader<Reader>>,
    names: HashMap<u64, String>,
}

impl FileNames {
    /// The path of file `index` of the unit's line table: the compilation directory, the
    /// file's directory and its name joined (an absolute part replacing what came before).
    fn name(&mut self, unit: UnitRef<'_, Reader>, index: Option<u64>) -> String {
        let (Some(index), Some(header)) = (index, &self.header) else {
            return String::new();
        };
        self.names
            .entry(index)
            .or_insert_with(|| render(unit, header, index))
            .clone()
    }
}

fn render(
    unit: UnitRef<'_, Reader>,
    header: &gimli::LineProgramHeader<Reader>,
    index: u64,
) -> String {
    let Some(file) = header.file(index) else {
        return String::new();
    };
    let string = |value| {
        unit.attr_string(value)
            .ok()
            .and_then(|s| s.to_string_lossy().ok().map(|s| s.into_owned()))
    };
    let mut path = unit
        .comp_dir
        .as_ref()
        .and_then(|d| d.to_string_lossy().ok().map(|s| s.into_owned()))
        .unwrap_or_default();
    // Directory 0 is the compilation directory itself.
    if file.directory_index() != 0
        && let Some(dir) = file.directory(header).and_then(string)
    {
        push_path(&mut path, &dir);
    }
    if let Some(name) = string(file.path_name()) {
        push_path(&mut path, &name);
    }
    path
}

fn push_path(path: &mut String, part: &str) {
    let absolute = part.starts_with('/') || part.starts_with('\\') || part.get(1..3) == Some(":\\");
    if absolute {
        *path = part.to_owned();
        return;
    }
    let separator = if path.starts_with('\\') || path.get(1..3) == Some(":\\") {
        '\\'
    } else {
        '/'
    };
    if !path.is_empty() && !path.ends_with(separator) {
        path.push(separator);
    }
    path.push_str(part);
}

#[cfg(test)]
#[path = "dwarf_tests.rs"]
mod tests;
