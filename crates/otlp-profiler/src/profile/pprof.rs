//! [`Profile::to_pprof`]: a profile type as a gzipped pprof `profile.proto`, written with a
//! small protobuf encoder (the few messages pprof has need nothing more).

use super::Profile;
use crate::config::ProfileType;
use crate::error::{Error, Kind};
use std::collections::HashMap;
use std::io::Write;

/// A protobuf message being written, field by field.
#[derive(Default)]
struct Enc(Vec<u8>);

impl Enc {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn key(&mut self, field: u32, wire_type: u8) {
        self.varint(u64::from(field) << 3 | u64::from(wire_type));
    }

    /// A varint field (uint64, or int64 as two's complement), left out when 0.
    fn uint(&mut self, field: u32, v: u64) {
        if v != 0 {
            self.key(field, 0);
            self.varint(v);
        }
    }

    fn int(&mut self, field: u32, v: i64) {
        self.uint(field, v as u64);
    }

    fn bytes(&mut self, field: u32, b: &[u8]) {
        self.key(field, 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
    }

    fn msg(&mut self, field: u32, write: impl FnOnce(&mut Enc)) {
        let mut inner = Enc::default();
        write(&mut inner);
        self.bytes(field, &inner.0);
    }

    fn packed(&mut self, field: u32, vs: impl Iterator<Item = u64>) {
        let mut inner = Enc::default();
        vs.for_each(|v| inner.varint(v));
        if !inner.0.is_empty() {
            self.bytes(field, &inner.0);
        }
    }
}

/// A pprof label's value.
enum Label {
    Str(String),
    /// A string already in the pprof string table.
    Index(i64),
    Num(i64),
}

impl Profile {
    /// The pprof labels of a sample: its string and integer attributes (`thread.id`,
    /// `thread.name`), and its link as `trace_id` and `span_id` in hex, as Pyroscope names
    /// them.
    fn labels(&self, attributes: &[i32], link_index: i32) -> Vec<(String, Label)> {
        use otlp_sdk::otlp_proto::common::Value;
        let mut labels = Vec::new();
        for a in attributes.iter().filter_map(|&a| {
            self.dictionary
                .attribute_table
                .get(usize::try_from(a).ok()?)
        }) {
            let key = self.string(a.key_strindex).to_owned();
            match a.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Value::StringValue(s)) => labels.push((key, Label::Str(s.to_string()))),
                Some(Value::IntValue(n)) => labels.push((key, Label::Num(*n))),
                _ => {}
            }
        }
        let link = usize::try_from(link_index)
            .ok()
            .filter(|&i| i > 0)
            .and_then(|i| self.dictionary.link_table.get(i));
        if let Some(link) = link {
            let hex = |b: &[u8]| b.iter().map(|b| format!("{b:02x}")).collect::<String>();
            labels.push(("trace_id".to_owned(), Label::Str(hex(&link.trace_id))));
            labels.push(("span_id".to_owned(), Label::Str(hex(&link.span_id))));
        }
        labels
    }

    /// `kind`'s samples as a gzipped pprof profile (`profile.proto`), as `go tool pprof`
    /// reads it: one value per sample type of `kind`, functions, files and lines as
    /// symbolized, mappings with their GNU build id, and the labels `thread.id`,
    /// `thread.name`, `trace_id` and `span_id`.
    ///
    /// Fails when the profile has no samples of `kind`'s type or the compression fails.
    pub fn to_pprof(&self, kind: ProfileType) -> Result<Vec<u8>, Error> {
        let typed: Vec<_> = self.profiles.iter().filter(|p| p.kind == kind).collect();
        let Some(first) = typed.first() else {
            return Err(Error::new(
                Kind::Output,
                format!("the profile has no {} profile", kind.name()),
            ));
        };
        let n_types = kind.sample_types().len();
        let mut strings: Vec<String> = self
            .dictionary
            .string_table
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect();
        let mut string_index: HashMap<String, i64> = HashMap::new();
        let mut intern = |s: &str, strings: &mut Vec<String>| -> i64 {
            if let Some(i) = string_index.get(s) {
                return *i;
            }
            strings.push(s.to_owned());
            let i = strings.len() as i64 - 1;
            string_index.insert(s.to_owned(), i);
            i
        };

        // Samples: one per (stack, attributes, link), a value per sample type.
        let mut values: HashMap<(i32, Vec<i32>, i32), Vec<i64>> = HashMap::new();
        for t in &typed {
            for s in &t.profile.samples {
                let key = (s.stack_index, s.attribute_indices.clone(), s.link_index);
                let entry = values.entry(key).or_insert_with(|| vec![0; n_types]);
                if let Some(v) = entry.get_mut(t.value_index) {
                    *v = s.values.iter().fold(*v, |a, x| a.saturating_add(*x));
                }
            }
        }
        let mut out = Enc::default();
        for (name, unit) in kind.sample_types() {
            let (t, u) = (intern(name, &mut strings), intern(unit, &mut strings));
            out.msg(1, |m| {
                m.int(1, t);
                m.int(2, u);
            });
        }
        let mut keys: Vec<_> = values.into_iter().collect();
        keys.sort_by(|a, b| a.0.cmp(&b.0));
        for ((stack_index, attributes, link_index), vs) in &keys {
            let locations: Vec<u64> = usize::try_from(*stack_index)
                .ok()
                .and_then(|i| self.dictionary.stack_table.get(i))
                .map(|s| s.location_indices.iter().map(|&l| l as u64).collect())
                .unwrap_or_default();
            let mut labels: Vec<(i64, Label)> = Vec::new();
            for (key, value) in self.labels(attributes, *link_index) {
                let key = intern(&key, &mut strings);
                let value = match value {
                    Label::Str(s) => Label::Index(intern(&s, &mut strings)),
                    other => other,
                };
                labels.push((key, value));
            }
            out.msg(2, |m| {
                m.packed(1, locations.into_iter());
                m.packed(2, vs.iter().map(|&v| v as u64));
                for (key, value) in labels {
                    m.msg(3, |l| {
                        l.int(1, key);
                        match value {
                            Label::Index(i) => l.int(2, i),
                            Label::Num(n) => l.int(3, n),
                            Label::Str(_) => {}
                        }
                    });
                }
            });
        }
        for (id, mapping) in self.dictionary.mapping_table.iter().enumerate().skip(1) {
            let build_id = mapping
                .attribute_indices
                .iter()
                .filter_map(|&a| {
                    self.dictionary
                        .attribute_table
                        .get(usize::try_from(a).ok()?)
                })
                .find(|a| self.string(a.key_strindex) == "process.executable.build_id.gnu")
                .and_then(|a| a.value.as_ref()?.as_str().map(str::to_owned));
            let build_id = build_id.map_or(0, |b| intern(&b, &mut strings));
            out.msg(3, |m| {
                m.uint(1, id as u64);
                m.uint(2, mapping.memory_start);
                m.uint(3, mapping.memory_limit);
                m.uint(4, mapping.file_offset);
                m.int(5, i64::from(mapping.filename_strindex));
                m.int(6, build_id);
                for field in 7..=10 {
                    m.uint(field, 1);
                }
            });
        }
        // Functions: the dictionary's, then one per unresolved location (named file+0xaddr).
        let n_functions = self.dictionary.function_table.len() as u64;
        let mut extra_functions: Vec<i64> = Vec::new();
        for (id, location) in self.dictionary.location_table.iter().enumerate().skip(1) {
            let lines: Vec<(u64, i64)> = if location.lines.is_empty() {
                let name = self.location_names(location).join("");
                extra_functions.push(intern(&name, &mut strings));
                vec![(n_functions + extra_functions.len() as u64 - 1, 0)]
            } else {
                location
                    .lines
                    .iter()
                    .map(|l| (l.function_index as u64, l.line))
                    .collect()
            };
            out.msg(4, |m| {
                m.uint(1, id as u64);
                m.uint(2, location.mapping_index as u64);
                m.uint(3, location.address);
                for (function, line) in lines {
                    m.msg(4, |l| {
                        l.uint(1, function);
                        l.int(2, line);
                    });
                }
            });
        }
        for (id, f) in self.dictionary.function_table.iter().enumerate().skip(1) {
            out.msg(5, |m| {
                m.uint(1, id as u64);
                m.int(2, i64::from(f.name_strindex));
                m.int(3, i64::from(f.system_name_strindex));
                m.int(4, i64::from(f.filename_strindex));
                m.int(5, f.start_line);
            });
        }
        for (i, name) in extra_functions.iter().enumerate() {
            out.msg(5, |m| {
                m.uint(1, n_functions + i as u64);
                m.int(2, *name);
                m.int(3, *name);
            });
        }
        let p = &first.profile;
        let (period_type, period_unit) = p.period_type.as_ref().map_or((0, 0), |t| {
            (i64::from(t.type_strindex), i64::from(t.unit_strindex))
        });
        for s in &strings {
            out.bytes(6, s.as_bytes());
        }
        out.int(9, p.time_unix_nano as i64);
        out.int(10, p.duration_nano as i64);
        out.msg(11, |m| {
            m.int(1, period_type);
            m.int(2, period_unit);
        });
        out.int(12, p.period);

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&out.0)
            .and_then(|()| gz.finish())
            .map_err(|e| {
                Error::new(Kind::Output, "compressing the pprof profile failed").with_source(e)
            })
    }
}
