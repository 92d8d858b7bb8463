//! Tests of the DWARF reader: its answers against `addr2line`'s on this test binary, the
//! address index against the unit scan, and the units it parses.

use super::*;
use crate::symbolize::elf::DebugInfo;
use object::{Object, ObjectSymbol};

/// Addresses across the test binary's own functions: each function's start and points
/// inside it, sorted and without repeats.
fn addresses_of_this_binary(limit: usize) -> Vec<u64> {
    let bytes = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    let obj = object::File::parse(&*bytes).unwrap();
    let mut addrs: Vec<u64> = obj
        .symbols()
        .filter(|s| s.kind() == object::SymbolKind::Text && s.size() > 8)
        .filter(|s| s.name().is_ok_and(|n| n.contains("otlp_profiler")))
        .flat_map(|s| [0, s.size() / 3, s.size() / 2, s.size() - 1].map(|o| s.address() + o))
        .take(limit)
        .collect();
    addrs.sort_unstable();
    addrs.dedup();
    addrs
}

#[test]
fn answers_as_addr2line_does() {
    let exe = std::env::current_exe().unwrap();
    let info = DebugInfo::load(&exe).unwrap();
    let Some(dwarf) = info.dwarf() else {
        println!("skipped: the test binary has no DWARF");
        return;
    };
    let addrs = addresses_of_this_binary(4000);
    assert!(addrs.len() > 500, "{}", addrs.len());
    let mut releases = 0;
    let ours = resolve(dwarf, &addrs, &mut || releases += 1);
    assert!(releases > 0);
    // The reference reads the same sections.
    let reference = DebugInfo::load(&exe).unwrap();
    let context = addr2line::Context::from_dwarf(reference.into_dwarf().unwrap()).unwrap();
    let mut compared = 0;
    let mut inlined = 0;
    for (addr, ours) in addrs.iter().zip(&ours) {
        let mut expected = Vec::new();
        let mut frames = context.find_frames(*addr).skip_all_loads().unwrap();
        while let Some(frame) = frames.next().unwrap() {
            let (file, line) = frame
                .location
                .as_ref()
                .map(|l| (l.file.unwrap_or("").to_owned(), l.line.unwrap_or(0)))
                .unwrap_or_default();
            let name = frame
                .function
                .as_ref()
                .map(|f| f.raw_name().unwrap().into_owned());
            expected.push(RawFrame { name, file, line });
        }
        // With line tables only (the workspace's dev profile) an outer function's DIE
        // carries no name: both then answer the file and line without it.
        if !expected.is_empty() {
            assert_eq!(ours, &expected, "at {addr:#x}");
            compared += 1;
            inlined += usize::from(expected.len() > 1);
        }
    }
    assert!(
        compared * 10 > addrs.len() * 9,
        "{compared} of {}",
        addrs.len()
    );
    assert!(inlined > 10, "{inlined} addresses with inlined frames");
}

#[test]
fn the_address_index_and_the_unit_scan_agree() {
    let exe = std::env::current_exe().unwrap();
    let Some(mut dwarf) = DebugInfo::load(&exe).unwrap().into_dwarf() else {
        return;
    };
    let addrs = addresses_of_this_binary(1000);
    assert!(
        !aranges_index(&dwarf, &addrs).1.is_empty(),
        "the test binary has .debug_aranges"
    );
    let indexed = resolve(&dwarf, &addrs, &mut || {});
    // Without the index every unit is scanned.
    let endian = gimli::RunTimeEndian::Little;
    dwarf.debug_aranges = gimli::DebugAranges::from(Reader::new(
        crate::symbolize::map::MapSlice::empty(),
        endian,
    ));
    assert!(aranges_index(&dwarf, &addrs).1.is_empty());
    let scanned = resolve(&dwarf, &addrs, &mut || {});
    assert_eq!(indexed, scanned);
    assert!(indexed.iter().filter(|f| !f.is_empty()).count() * 10 > addrs.len() * 9);
}

#[test]
fn addresses_outside_every_unit_resolve_to_nothing() {
    let exe = std::env::current_exe().unwrap();
    let info = DebugInfo::load(&exe).unwrap();
    let Some(dwarf) = info.dwarf() else { return };
    let (out, counts) = resolve_counting(dwarf, &[1, 2, u64::MAX - 1], &mut || {});
    let parsed = counts.units_parsed;
    assert!(out.iter().all(Vec::is_empty), "{out:?}");
    // Only the units the address index leaves out are parsed looking for them.
    let mut units = dwarf.units();
    let mut total = 0;
    while let Ok(Some(_)) = units.next() {
        total += 1;
    }
    let unindexed = total - aranges_index(dwarf, &[]).0.len();
    assert!(total > 50, "{total} units");
    assert_eq!(parsed, unindexed, "{parsed} of {total} units parsed");
}

/// DWARF of `units` units: the last holds one abstract function per other unit; unit `i`
/// holds `outer_i` at `0x1000 * (i + 1)` with, inlined into its first half, the function
/// the last unit holds for it, named through a reference across units (`DW_FORM_ref_addr`).
fn dwarf_with_references_between_units(units: usize) -> gimli::Dwarf<Reader> {
    use gimli::write::{self, Address, AttributeValue as Value, LineProgram, Unit};
    let encoding = gimli::Encoding {
        format: gimli::Format::Dwarf32,
        version: 4,
        address_size: 8,
    };
    let mut dwarf = write::Dwarf::new();
    let ids: Vec<_> = (0..units)
        .map(|_| dwarf.units.add(Unit::new(encoding, LineProgram::none())))
        .collect();
    let last = ids[units - 1];
    let origins: Vec<_> = (0..units - 1)
        .map(|i| {
            let unit = dwarf.units.get_mut(last);
            let root = unit.root();
            let entry = unit.add(root, gimli::DW_TAG_subprogram);
            let name = format!("inlined_{i}").into_bytes();
            unit.get_mut(entry)
                .set(gimli::DW_AT_name, Value::String(name));
            entry
        })
        .collect();
    for (i, (&id, &origin)) in ids.iter().zip(&origins).enumerate() {
        let start = 0x1000 * (i as u64 + 1);
        let unit = dwarf.units.get_mut(id);
        let root = unit.root();
        let range = |unit: &mut Unit, entry, len| {
            let entry = unit.get_mut(entry);
            entry.set(
                gimli::DW_AT_low_pc,
                Value::Address(Address::Constant(start)),
            );
            entry.set(gimli::DW_AT_high_pc, Value::Udata(len));
        };
        range(unit, root, 0x100);
        let outer = unit.add(root, gimli::DW_TAG_subprogram);
        let name = format!("outer_{i}").into_bytes();
        unit.get_mut(outer)
            .set(gimli::DW_AT_name, Value::String(name));
        range(unit, outer, 0x100);
        let inlined = unit.add(outer, gimli::DW_TAG_inlined_subroutine);
        let reference = write::DebugInfoRef::Entry(last, origin);
        unit.get_mut(inlined)
            .set(gimli::DW_AT_abstract_origin, Value::DebugInfoRef(reference));
        range(unit, inlined, 0x80);
    }
    let mut sections = write::Sections::new(write::EndianVec::new(gimli::LittleEndian));
    dwarf.write(&mut sections).unwrap();
    let mut bytes = std::collections::HashMap::new();
    sections
        .for_each(|id, data| {
            bytes.insert(id, data.slice().to_vec());
            Ok::<_, ()>(())
        })
        .unwrap();
    gimli::Dwarf::load(|id| {
        let data = bytes.get(&id).map_or(&[][..], Vec::as_slice);
        Ok::<_, ()>(Reader::new(
            crate::symbolize::map::MapSlice::owned(data),
            gimli::RunTimeEndian::Little,
        ))
    })
    .unwrap()
}

/// Names of entries in other units (code inlined across codegen units or crates) are found,
/// at the cost of one pass over the unit headers per resolve, not one per name.
#[test]
fn names_in_other_units_cost_one_pass_over_the_headers() {
    let units = 40;
    let dwarf = dwarf_with_references_between_units(units);
    let addrs: Vec<u64> = (0..units as u64 - 1)
        .flat_map(|i| [0x1000 * (i + 1) + 0x10, 0x1000 * (i + 1) + 0x90])
        .collect();
    let (frames, counts) = resolve_counting(&dwarf, &addrs, &mut || {});
    for (i, pair) in frames.chunks(2).enumerate() {
        let names = |f: &Vec<RawFrame>| f.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
        let (inner, outer) = (format!("inlined_{i}"), format!("outer_{i}"));
        assert_eq!(names(&pair[0]), [Some(inner), Some(outer.clone())]);
        assert_eq!(names(&pair[1]), [Some(outer)]);
    }
    assert_eq!(counts.cross_lookups, units - 1, "{counts:?}");
    assert_eq!(counts.cross_headers, units, "{counts:?}");
}

#[test]
fn paths_join_as_dwarf_means() {
    let mut p = "/src".to_owned();
    push_path(&mut p, "crate/lib.rs");
    assert_eq!(p, "/src/crate/lib.rs");
    push_path(&mut p, "/abs/x.rs");
    assert_eq!(p, "/abs/x.rs");
    let mut empty = String::new();
    push_path(&mut empty, "a.rs");
    assert_eq!(empty, "a.rs");
}
