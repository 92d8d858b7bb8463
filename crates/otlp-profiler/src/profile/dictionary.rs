//! [`Dictionary`]: builds an OTLP `ProfilesDictionary` with every table deduplicated and
//! its element 0 the zero value.

use crate::mappings::Mapped;
use crate::symbolize::Frame;
use otlp_sdk::otlp_proto::common::{AnyValue, Value};
use otlp_sdk::otlp_proto::profiles::{
    Function, KeyValueAndUnit, Line, Link, Location, Mapping, ProfilesDictionary, Stack,
};
use std::collections::HashMap;
use std::hash::Hash;

/// A table whose entries are unique: an entry's key maps to its index.
#[derive(Debug)]
struct Table<K> {
    index: HashMap<K, i32>,
}

impl<K: Hash + Eq> Table<K> {
    fn new() -> Self {
        Table {
            index: HashMap::new(),
        }
    }

    /// The index of `key`, pushing `make()` onto `rows` when new.
    fn intern<T>(&mut self, key: K, rows: &mut Vec<T>, make: impl FnOnce() -> T) -> i32 {
        *self.index.entry(key).or_insert_with(|| {
            rows.push(make());
            // Tables past i32::MAX entries cannot be indexed by OTLP; saturate rather than wrap.
            i32::try_from(rows.len() - 1).unwrap_or(i32::MAX)
        })
    }
}

/// An attribute value the profiler writes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum AttrValue {
    Int(i64),
    Str(String),
}

/// The dictionary under construction.
#[derive(Debug)]
pub(crate) struct Dictionary {
    out: ProfilesDictionary,
    strings: Table<String>,
    functions: Table<(i32, i32, i32)>,
    mappings: Table<(u64, u64, u64, i32)>,
    locations: Table<(i32, u64)>,
    links: Table<([u8; 16], [u8; 8])>,
    attributes: Table<(i32, AttrValue)>,
    stacks: Table<Vec<i32>>,
}

impl Dictionary {
    /// Tables holding only their zero values (`link_table[0]` with 16 and 8 zero bytes).
    pub(crate) fn new() -> Self {
        let mut d = Dictionary {
            out: ProfilesDictionary::default(),
            strings: Table::new(),
            functions: Table::new(),
            mappings: Table::new(),
            locations: Table::new(),
            links: Table::new(),
            attributes: Table::new(),
            stacks: Table::new(),
        };
        d.string("");
        d.functions
            .intern((0, 0, 0), &mut d.out.function_table, Function::default);
        d.mappings
            .intern((0, 0, 0, 0), &mut d.out.mapping_table, Mapping::default);
        d.locations
            .intern((0, 0), &mut d.out.location_table, Location::default);
        d.link([0; 16], [0; 8]);
        d.stacks
            .intern(Vec::new(), &mut d.out.stack_table, Stack::default);
        d.out.attribute_table.push(KeyValueAndUnit::default());
        d
    }

    /// The index of string `s`.
    pub(crate) fn string(&mut self, s: &str) -> i32 {
        let table = &mut self.out.string_table;
        self.strings
            .intern(s.to_owned(), table, || s.to_owned().into())
    }

    /// The index of the attribute `key` = `value`.
    pub(crate) fn attribute(&mut self, key: &str, value: AttrValue) -> i32 {
        let key_strindex = self.string(key);
        let table = &mut self.out.attribute_table;
        self.attributes
            .intern((key_strindex, value.clone()), table, || KeyValueAndUnit {
                key_strindex,
                value: Some(AnyValue::new(match value {
                    AttrValue::Int(i) => Value::IntValue(i),
                    AttrValue::Str(s) => Value::StringValue(s.into()),
                })),
                unit_strindex: 0,
            })
    }

    /// The index of the link to `trace_id`/`span_id`.
    pub(crate) fn link(&mut self, trace_id: [u8; 16], span_id: [u8; 8]) -> i32 {
        let table = &mut self.out.link_table;
        self.links.intern((trace_id, span_id), table, || Link {
            trace_id: trace_id.to_vec().into(),
            span_id: span_id.to_vec().into(),
        })
    }

    /// The index of the mapping `m` (ELF virtual addresses), with its build-id attributes.
    pub(crate) fn mapping(&mut self, m: &Mapped) -> i32 {
        let filename_strindex = self.string(&m.path.to_string_lossy());
        let memory_start = m.vaddr(m.start);
        let memory_limit = m.vaddr(m.end);
        let key = (memory_start, memory_limit, m.offset, filename_strindex);
        if let Some(i) = self.mappings.index.get(&key) {
            return *i;
        }
        let mut attribute_indices = Vec::new();
        if let Some(id) = &m.build_id_gnu {
            let a = self.attribute(
                "process.executable.build_id.gnu",
                AttrValue::Str(id.clone()),
            );
            attribute_indices.push(a);
        }
        if let Some(h) = &m.htlhash {
            let a = self.attribute(
                "process.executable.build_id.htlhash",
                AttrValue::Str(h.clone()),
            );
            attribute_indices.push(a);
        }
        let table = &mut self.out.mapping_table;
        self.mappings.intern(key, table, || Mapping {
            memory_start,
            memory_limit,
            file_offset: m.offset,
            filename_strindex,
            attribute_indices,
        })
    }

    /// The index of the function named by `frame`.
    fn function(&mut self, frame: &Frame) -> i32 {
        let name = self.string(&frame.name);
        let system = self.string(&frame.system_name);
        let file = self.string(&frame.file);
        let table = &mut self.out.function_table;
        self.functions
            .intern((name, system, file), table, || Function {
                name_strindex: name,
                system_name_strindex: system,
                filename_strindex: file,
                start_line: 0,
            })
    }

    /// The index of the location at `address` of mapping `mapping_index`; `frames` (inlined
    /// first, the caller last) become its lines when the location is new.
    pub(crate) fn location(&mut self, mapping_index: i32, address: u64, frames: &[Frame]) -> i32 {
        if let Some(i) = self.locations.index.get(&(mapping_index, address)) {
            return *i;
        }
        let lines: Vec<Line> = frames
            .iter()
            .map(|f| Line {
                function_index: self.function(f),
                line: f.line,
                column: 0,
            })
            .collect();
        let table = &mut self.out.location_table;
        self.locations
            .intern((mapping_index, address), table, || Location {
                mapping_index,
                address,
                lines,
                attribute_indices: Vec::new(),
            })
    }

    /// The index of the stack of `location_indices` (leaf first).
    pub(crate) fn stack(&mut self, location_indices: Vec<i32>) -> i32 {
        let table = &mut self.out.stack_table;
        let key = location_indices.clone();
        self.stacks
            .intern(key, table, || Stack { location_indices })
    }

    /// The finished tables.
    pub(crate) fn finish(self) -> ProfilesDictionary {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_unique_and_zero_first() {
        let mut d = Dictionary::new();
        assert_eq!(d.string("a"), 1);
        assert_eq!(d.string("a"), 1);
        assert_eq!(d.link([1; 16], [2; 8]), 1);
        assert_eq!(d.link([1; 16], [2; 8]), 1);
        assert_eq!(d.attribute("thread.id", AttrValue::Int(3)), 1);
        assert_eq!(d.attribute("thread.id", AttrValue::Int(3)), 1);
        assert_eq!(d.stack(vec![]), 0);
        assert_eq!(d.stack(vec![1]), 1);
        let out = d.finish();
        assert_eq!(out.string_table[0], "");
        assert_eq!(out.link_table[0].trace_id.len(), 16);
        assert_eq!(out.link_table[0].span_id.len(), 8);
        assert_eq!(out.link_table.len(), 2);
        assert_eq!(out.mapping_table, vec![Mapping::default()]);
        assert_eq!(out.location_table, vec![Location::default()]);
        assert_eq!(out.function_table, vec![Function::default()]);
        assert_eq!(out.attribute_table[0], KeyValueAndUnit::default());
    }
}
