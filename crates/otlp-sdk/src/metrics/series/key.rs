//! The canonical key of a set of attributes, and its hash: what the series map is keyed by.

use otlp_proto::RevBuf;
use otlp_proto::codec;
use otlp_proto::common::KeyValue;
use std::cell::RefCell;
use std::hash::{BuildHasher, Hasher};

thread_local! {
    /// Scratch for building keys: reused, so finding an existing series allocates nothing.
    pub(super) static SCRATCH: RefCell<(Vec<usize>, RevBuf)> = RefCell::new((Vec::new(), RevBuf::new()));
}

/// Writes the canonical key of `attrs` into `buf`: the attributes sorted by key, the last of each
/// repeated key kept, encoded as the protobuf `values` of a `KeyValueList`. `order` is scratch.
pub(super) fn canonical(attrs: &[KeyValue], order: &mut Vec<usize>, buf: &mut RevBuf) {
    order.clear();
    order.extend(0..attrs.len());
    // Stable: among equal keys the later attribute stays later, so the last one can be kept.
    order.sort_by(|&a, &b| attrs[a].key.as_bytes().cmp(attrs[b].key.as_bytes()));
    buf.clear();
    // The buffer is written back to front: walk from the end, keeping each key's last attribute.
    let mut next_key: Option<&[u8]> = None;
    for &i in order.iter().rev() {
        let key = attrs[i].key.as_bytes();
        if next_key == Some(key) {
            continue;
        }
        next_key = Some(key);
        codec::message::encode_always(1, &attrs[i], buf);
    }
}

/// A hasher for keys already canonical: multiply and rotate over eight bytes at a time (keys
/// are short and come from the program, not from a network, so no keyed hash is needed).
#[derive(Default, Clone, Copy)]
pub(super) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
    }
    fn write_u64(&mut self, v: u64) {
        // Keys hash themselves once (`Key::hash`): the map takes that hash as it is.
        self.0 = v;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The hash of a canonical key, computed once per lookup.
#[inline]
pub(super) fn hash_key(bytes: &[u8]) -> u64 {
    let mut hasher = KeyHasher::default();
    hasher.write(bytes);
    // The length too, so that keys differing only in trailing zero bytes differ.
    hasher.0 ^ bytes.len() as u64
}

/// A key as the map stores it: its canonical bytes and their hash.
#[derive(Clone)]
pub(super) struct Key {
    pub(super) hash: u64,
    pub(super) bytes: Box<[u8]>,
}

/// A key stored or probed: lets the map find a stored [`Key`] from borrowed bytes and a hash
/// computed once.
pub(super) trait KeyLike {
    fn key_hash(&self) -> u64;
    fn key_bytes(&self) -> &[u8];
}

impl KeyLike for Key {
    fn key_hash(&self) -> u64 {
        self.hash
    }
    fn key_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// A lookup's key: borrowed bytes and their hash.
pub(super) struct Probe<'a> {
    pub(super) hash: u64,
    pub(super) bytes: &'a [u8],
}

impl KeyLike for Probe<'_> {
    fn key_hash(&self) -> u64 {
        self.hash
    }
    fn key_bytes(&self) -> &[u8] {
        self.bytes
    }
}

impl std::hash::Hash for dyn KeyLike + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.key_hash());
    }
}

impl PartialEq for dyn KeyLike + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.key_hash() == other.key_hash() && self.key_bytes() == other.key_bytes()
    }
}

impl Eq for dyn KeyLike + '_ {}

impl std::hash::Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.bytes == other.bytes
    }
}

impl Eq for Key {}

impl<'a> std::borrow::Borrow<dyn KeyLike + 'a> for Key {
    fn borrow(&self) -> &(dyn KeyLike + 'a) {
        self
    }
}

#[derive(Default, Clone, Copy)]
pub(super) struct BuildKeyHasher;

impl BuildHasher for BuildKeyHasher {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher::default()
    }
}
