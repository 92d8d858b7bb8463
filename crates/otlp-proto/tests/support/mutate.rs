//! Mutations of valid encoded messages: byte-level edits for both encodings, length-prefix
//! corruption for protobuf and structural edits for OTLP/JSON.

#![allow(dead_code)]

use proptest::prelude::*;
use proptest::sample::Index;

/// One edit of an encoded message. Positions are [`Index`]es, resolved against the input's
/// length when the edit is applied.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Flips one bit of a byte.
    FlipBit(Index, u8),
    /// Overwrites a byte.
    Replace(Index, u8),
    /// Cuts the input at a position.
    Truncate(Index),
    /// Inserts bytes at a position.
    Insert(Index, Vec<u8>),
    /// Removes up to `n` bytes at a position.
    Delete(Index, usize),
    /// Repeats the `n` bytes at a position right after themselves.
    Duplicate(Index, usize),
    /// Copies `n` bytes from one position over another.
    Transplant(Index, Index, usize),
    /// Rewrites one length prefix of the protobuf message tree (protobuf only).
    Length(Index, LengthEdit),
    /// Inserts a JSON token at a position (OTLP/JSON only).
    Token(Index, &'static str),
}

/// How a protobuf length prefix is rewritten.
#[derive(Debug, Clone, Copy)]
pub enum LengthEdit {
    /// One more than the real length.
    Longer,
    /// One less.
    Shorter,
    /// Zero.
    Zero,
    /// The largest varint (`u64::MAX`, ten bytes).
    Max,
    /// Any value.
    Value(u64),
    /// The same value with `k` redundant continuation bytes (an overlong varint).
    Overlong(u8),
    /// A varint with no last byte: only continuation bytes.
    Unterminated,
}

/// Tokens that make or break JSON structure.
const TOKENS: [&str; 22] = [
    "[", "]", "{", "}", ",", ":", "\"", "\\", "null", "-", "e", "0", "1e999", "\\u", "\\ud800",
    "\"NaN\"", "true", " ", "\"\":", "{\"a\":", "[[[[", "\u{1}",
];

fn common() -> BoxedStrategy<Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        3 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        2 => (any::<Index>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        2 => (any::<Index>(), 1usize..16).prop_map(|(i, n)| Mutation::Delete(i, n)),
        2 => (any::<Index>(), 1usize..64).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        1 => (any::<Index>(), any::<Index>(), 1usize..32)
            .prop_map(|(a, b, n)| Mutation::Transplant(a, b, n)),
    ]
    .boxed()
}

/// Edits for protobuf: the byte-level ones and length-prefix corruption.
pub fn protobuf_mutation() -> BoxedStrategy<Mutation> {
    let length = prop_oneof![
        Just(LengthEdit::Longer),
        Just(LengthEdit::Shorter),
        Just(LengthEdit::Zero),
        Just(LengthEdit::Max),
        Just(LengthEdit::Unterminated),
        any::<u64>().prop_map(LengthEdit::Value),
        (0u64..1 << 20).prop_map(LengthEdit::Value),
        (1u8..6).prop_map(LengthEdit::Overlong),
    ];
    prop_oneof![
        3 => common(),
        2 => (any::<Index>(), length).prop_map(|(i, e)| Mutation::Length(i, e)),
    ]
    .boxed()
}

/// Edits for OTLP/JSON: the byte-level ones and structural tokens.
pub fn json_mutation() -> BoxedStrategy<Mutation> {
    prop_oneof![
        2 => common(),
        2 => (any::<Index>(), prop::sample::select(&TOKENS[..]))
            .prop_map(|(i, t)| Mutation::Token(i, t)),
    ]
    .boxed()
}

/// Applies `edits` in order.
pub fn apply(input: &[u8], edits: &[Mutation]) -> Vec<u8> {
    let mut v = input.to_vec();
    for edit in edits {
        apply_one(&mut v, edit);
    }
    v
}

fn apply_one(v: &mut Vec<u8>, edit: &Mutation) {
    // Positions in 0..=len (inserting at the end is allowed).
    let at = |i: &Index, len: usize| i.index(len + 1);
    match edit {
        Mutation::FlipBit(i, bit) if !v.is_empty() => {
            let i = i.index(v.len());
            v[i] ^= 1 << bit;
        }
        Mutation::Replace(i, b) if !v.is_empty() => {
            let i = i.index(v.len());
            v[i] = *b;
        }
        Mutation::Truncate(i) => v.truncate(at(i, v.len())),
        Mutation::Insert(i, bytes) => {
            let i = at(i, v.len());
            v.splice(i..i, bytes.iter().copied());
        }
        Mutation::Delete(i, n) => {
            let i = at(i, v.len());
            let end = (i + n).min(v.len());
            v.drain(i..end);
        }
        Mutation::Duplicate(i, n) => {
            let i = at(i, v.len());
            let end = (i + n).min(v.len());
            let copy = v[i..end].to_vec();
            v.splice(end..end, copy);
        }
        Mutation::Transplant(from, to, n) if !v.is_empty() => {
            let from = from.index(v.len());
            let end = (from + n).min(v.len());
            let copy = v[from..end].to_vec();
            let to = to.index(v.len());
            let stop = (to + copy.len()).min(v.len());
            v.splice(to..stop, copy);
        }
        Mutation::Length(i, e) => {
            let prefixes = length_prefixes(v);
            if !prefixes.is_empty() {
                let (pos, len) = prefixes[i.index(prefixes.len())];
                rewrite_length(v, pos, len, *e);
            }
        }
        Mutation::Token(i, t) => {
            let i = at(i, v.len());
            v.splice(i..i, t.bytes());
        }
        _ => {}
    }
}

fn rewrite_length(v: &mut Vec<u8>, pos: usize, len: usize, e: LengthEdit) {
    let Some((old, _)) = varint(&v[pos..]) else {
        return;
    };
    let new: Vec<u8> = match e {
        LengthEdit::Longer => encode_varint(old.wrapping_add(1)),
        LengthEdit::Shorter => encode_varint(old.wrapping_sub(1)),
        LengthEdit::Zero => encode_varint(0),
        LengthEdit::Max => encode_varint(u64::MAX),
        LengthEdit::Value(n) => encode_varint(n),
        LengthEdit::Overlong(k) => {
            let mut b = encode_varint(old);
            let last = b.len() - 1;
            b[last] |= 0x80;
            b.extend(std::iter::repeat_n(0x80, usize::from(k) - 1));
            b.push(0);
            b
        }
        LengthEdit::Unterminated => vec![0xff; 3],
    };
    v.splice(pos..pos + len, new);
}

fn encode_varint(mut n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        if n < 0x80 {
            out.push(n as u8);
            return out;
        }
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
}

/// A varint at the start of `b`: its value and length.
fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut n = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        n |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Some((n, i + 1));
        }
    }
    None
}

/// Where the length prefixes of `msg` are, as `(offset, varint length)`: those of its own
/// length-delimited fields and, recursively, of every field whose body parses as a message
/// (strings and packed fields sometimes do too; that is harmless here).
pub fn length_prefixes(msg: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    walk(msg, 0, 0, &mut out);
    out
}

/// Walks the fields of `msg` (found at `base` in the whole input); returns false if it is not a
/// well-formed message.
fn walk(msg: &[u8], base: usize, depth: u32, out: &mut Vec<(usize, usize)>) -> bool {
    if depth > 64 {
        return false;
    }
    let mark = out.len();
    let mut pos = 0;
    while pos < msg.len() {
        let Some((key, n)) = varint(&msg[pos..]) else {
            out.truncate(mark);
            return false;
        };
        pos += n;
        let size = match key & 7 {
            0 => match varint(&msg[pos..]) {
                Some((_, n)) => n,
                None => usize::MAX,
            },
            1 => 8,
            5 => 4,
            2 => match varint(&msg[pos..]) {
                Some((len, n)) if len <= (msg.len() - pos - n) as u64 => {
                    out.push((base + pos, n));
                    let body = pos + n;
                    walk(&msg[body..body + len as usize], base + body, depth + 1, out);
                    n + len as usize
                }
                _ => usize::MAX,
            },
            _ => usize::MAX,
        };
        if key >> 3 == 0 || size > msg.len() - pos {
            out.truncate(mark);
            return false;
        }
        pos += size;
    }
    true
}

/// Where the top-level fields of `msg` start and end: every offset at which cutting `msg` leaves
/// whole fields only (0 and the length included), or `None` if `msg` is not a message.
pub fn field_boundaries(msg: &[u8]) -> Option<Vec<usize>> {
    let mut out = vec![0];
    let mut pos = 0;
    while pos < msg.len() {
        let (key, n) = varint(&msg[pos..])?;
        pos += n;
        pos += match key & 7 {
            0 => varint(&msg[pos..])?.1,
            1 => 8,
            5 => 4,
            2 => {
                let (len, n) = varint(&msg[pos..])?;
                n + usize::try_from(len).ok()?
            }
            _ => return None,
        };
        if pos > msg.len() {
            return None;
        }
        out.push(pos);
    }
    Some(out)
}
