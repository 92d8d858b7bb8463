//! String columns of a table stream, dictionary-encoded across the whole stream.
//!
//! A dictionary column keeps its values (and their keys) from batch to batch: a batch's
//! dictionary is every value the stream has seen, in first-seen order, so each one extends the
//! last and the IPC writer sends only the new values (a delta dictionary batch). Keys are
//! `u16`; when a dictionary is full (65,536 values, or more bytes than the stream allows) the
//! stream starts over with a new schema id, and a batch that alone overflows a fresh dictionary
//! is sent with plain `Utf8` columns instead.

use arrow_array::builder::{StringBuilder, UInt16Builder};
use arrow_array::types::UInt16Type;
use arrow_array::{ArrayRef, DictionaryArray};
use arrow_schema::DataType;
use std::hash::BuildHasher;
use std::sync::Arc;

/// A dictionary column cannot take another value: its stream must start over.
#[derive(Debug)]
pub(crate) struct Full;

/// One string column of a stream: dictionary-encoded (`Dictionary(UInt16, Utf8)`) or plain.
#[derive(Debug)]
pub(crate) struct StrColumn {
    dict: Option<Dict>,
    /// The current batch: keys into the dictionary, or the strings themselves.
    keys: UInt16Builder,
    plain: StringBuilder,
    /// The key of the last string appended to the dictionary: a batch's rows often repeat
    /// the string of the row before (the scope of every row, a span name), which is then
    /// compared with the dictionary's copy (recent, so in cache) rather than hashed and
    /// looked up.
    last: Option<u16>,
}

#[derive(Debug, Default)]
struct Dict {
    /// The values' keys, by the values' hashes; a value's bytes are read where `values` holds
    /// them (no copy of each string of its own).
    index: hashbrown::HashTable<u16>,
    hasher: foldhash::fast::RandomState,
    values: StringBuilder,
    /// The values as last finished, reused while nothing was added (so the IPC writer sees the
    /// same array and sends no dictionary at all).
    cached: Option<ArrayRef>,
    bytes: usize,
}

impl Dict {
    /// The bytes of value `k`.
    fn value(&self, k: u16) -> Option<&[u8]> {
        value(&self.values, k)
    }

    /// The key of `s`, if the dictionary has it.
    fn find(&self, s: &[u8], hash: u64) -> Option<u16> {
        self.index
            .find(hash, |&k| value(&self.values, k) == Some(s))
            .copied()
    }

    /// Adds `s` as key `k`.
    fn insert(&mut self, s: &str, hash: u64, k: u16) {
        let Dict {
            index,
            hasher,
            values,
            ..
        } = self;
        index.insert_unique(hash, k, |&k| {
            hasher.hash_one(value(values, k).unwrap_or_default())
        });
        values.append_value(s);
        self.bytes += s.len();
        self.cached = None;
    }
}

/// The bytes of value `k` of `values`.
fn value(values: &StringBuilder, k: u16) -> Option<&[u8]> {
    let offsets = values.offsets_slice();
    let k = usize::from(k);
    let (start, end) = (*offsets.get(k)?, *offsets.get(k + 1)?);
    values
        .values_slice()
        .get(usize::try_from(start).ok()?..usize::try_from(end).ok()?)
}

impl StrColumn {
    /// An empty column, dictionary-encoded or not.
    pub(crate) fn new(dictionary: bool) -> Self {
        StrColumn {
            dict: dictionary.then(Dict::default),
            keys: UInt16Builder::new(),
            plain: StringBuilder::new(),
            last: None,
        }
    }

    /// The Arrow type of such a column.
    pub(crate) fn data_type(dictionary: bool) -> DataType {
        if dictionary {
            DataType::Dictionary(Box::new(DataType::UInt16), Box::new(DataType::Utf8))
        } else {
            DataType::Utf8
        }
    }

    /// Appends `s`; [`Full`] when the dictionary cannot grow (by count or past `max_bytes`).
    pub(crate) fn append(&mut self, s: &str, max_bytes: usize) -> Result<(), Full> {
        let Some(dict) = &mut self.dict else {
            self.plain.append_value(s);
            return Ok(());
        };
        if let Some(k) = self.last
            && dict.value(k) == Some(s.as_bytes())
        {
            self.keys.append_value(k);
            return Ok(());
        }
        let hash = dict.hasher.hash_one(s.as_bytes());
        if let Some(k) = dict.find(s.as_bytes(), hash) {
            self.last = Some(k);
            self.keys.append_value(k);
            return Ok(());
        }
        let k = u16::try_from(dict.index.len()).map_err(|_| Full)?;
        if dict.bytes + s.len() > max_bytes {
            return Err(Full);
        }
        dict.insert(s, hash, k);
        self.last = Some(k);
        self.keys.append_value(k);
        Ok(())
    }

    /// Appends `s`, which the caller knows equals the value the last [`append`](Self::append)
    /// took (a run in a sorted table), without looking it up in the dictionary.
    pub(crate) fn append_repeat(&mut self, s: &str, max_bytes: usize) -> Result<(), Full> {
        match (&self.dict, self.last) {
            (Some(_), Some(k)) => {
                self.keys.append_value(k);
                Ok(())
            }
            _ => self.append(s, max_bytes),
        }
    }

    /// Appends `s`: as [`append_repeat`](Self::append_repeat) when `repeat` (the caller knows
    /// the value appended last is the same string), as [`append`](Self::append) otherwise.
    pub(crate) fn append_run(
        &mut self,
        s: &str,
        repeat: bool,
        max_bytes: usize,
    ) -> Result<(), Full> {
        if repeat {
            self.append_repeat(s, max_bytes)
        } else {
            self.append(s, max_bytes)
        }
    }

    /// Appends a null.
    pub(crate) fn append_null(&mut self) {
        if self.dict.is_some() {
            self.keys.append_null();
        } else {
            self.plain.append_null();
        }
    }

    /// The batch's column; the dictionary carries over to the next batch.
    pub(crate) fn finish(&mut self) -> ArrayRef {
        let Some(dict) = &mut self.dict else {
            return Arc::new(self.plain.finish());
        };
        let values = dict
            .cached
            .get_or_insert_with(|| Arc::new(dict.values.finish_cloned()))
            .clone();
        // The keys index `values` by construction, so this cannot fail; an empty column is
        // the fallback that keeps it panic-free.
        match DictionaryArray::<UInt16Type>::try_new(self.keys.finish(), values) {
            Ok(a) => Arc::new(a),
            Err(_) => Arc::new(DictionaryArray::<UInt16Type>::from_iter(
                std::iter::empty::<&str>(),
            )),
        }
    }

    /// Forgets the current batch's rows (after a [`Full`] elsewhere in the batch).
    pub(crate) fn discard_batch(&mut self) {
        drop(self.keys.finish());
        drop(self.plain.finish());
    }

    /// Whether the column is dictionary-encoded.
    pub(crate) fn is_dictionary(&self) -> bool {
        self.dict.is_some()
    }

    /// Bytes of dictionary values the column holds.
    pub(crate) fn held_bytes(&self) -> usize {
        self.dict.as_ref().map_or(0, |d| d.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;
    use arrow_array::cast::AsArray;

    #[test]
    fn the_dictionary_only_grows_and_is_shared_while_unchanged() {
        let mut c = StrColumn::new(true);
        for s in ["a", "b", "a"] {
            c.append(s, 100).expect("room");
        }
        let first = c.finish();
        c.append("b", 100).expect("room");
        let second = c.finish();
        let (d1, d2) = (first.as_any_dictionary(), second.as_any_dictionary());
        assert_eq!(d1.values().len(), 2);
        assert_eq!(d1.normalized_keys(), vec![0, 1, 0]);
        assert!(
            d1.values().to_data().ptr_eq(&d2.values().to_data()),
            "unchanged: same array"
        );
        c.append("c", 100).expect("room");
        let third = c.finish();
        let values = third
            .as_any_dictionary()
            .values()
            .as_string::<i32>()
            .clone();
        assert_eq!(values.iter().flatten().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(c.held_bytes(), 3);
    }

    #[test]
    fn repeats_take_the_key_of_the_last_string_and_only_an_equal_one() {
        let mut c = StrColumn::new(true);
        // Each string its own allocation, freed before the next: only content counts.
        for s in ["x", "x", "y", "x", "z"] {
            let owned: String = s.chars().collect();
            c.append(&owned, 100).expect("room");
        }
        c.append_null();
        c.append_repeat("z", 100).expect("room");
        let column = c.finish();
        let keys = column.as_any_dictionary().normalized_keys();
        assert_eq!(keys, vec![0, 0, 1, 0, 2, 0, 2]);
        assert!(column.is_null(5) && !column.is_null(6));
        let mut plain = StrColumn::new(false);
        plain.append("p", 0).expect("plain");
        plain.append_repeat("p", 0).expect("plain");
        let plain = plain.finish();
        assert_eq!(
            plain.as_string::<i32>().iter().collect::<Vec<_>>(),
            [Some("p"); 2]
        );
    }

    #[test]
    fn full_by_bytes_or_count() {
        let mut c = StrColumn::new(true);
        c.append("abc", 4).expect("room");
        assert!(c.append("de", 4).is_err());
        let mut c = StrColumn::new(true);
        for i in 0..=u32::from(u16::MAX) {
            c.append(&i.to_string(), usize::MAX)
                .expect("65,536 values fit");
        }
        assert!(c.append("one more", usize::MAX).is_err());
        let mut plain = StrColumn::new(false);
        plain.append("x", 0).expect("plain never fills");
        assert_eq!(plain.finish().data_type(), &DataType::Utf8);
    }
}
