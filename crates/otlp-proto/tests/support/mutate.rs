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
        pos = pos.checked_add(match key & 7 {
            0 => varint(&msg[pos..])?.1,
            1 => 8,
            5 => 4,
            2 => {
                let (len, n) = varint(&msg[pos..])?;
                n.checked_add(usize::try_from(len).ok()?)?
            }
            _ => return None,
        })?;
        if pos > msg.len() {
            return None;
        }
        out.push(pos);
    }
    Some(out)
}

/// A protobuf field as parsed without a schema: length-delimited bodies that parse as messages
/// are kept as their fields.
#[derive(Debug, Clone)]
enum Node {
    Varint(u64, u64),
    Fixed(u64, Vec<u8>),
    Bytes(u64, Vec<u8>),
    Message(u64, Vec<Node>),
}

fn parse(msg: &[u8], depth: u32) -> Option<Vec<Node>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < msg.len() {
        let (key, n) = varint(&msg[pos..])?;
        pos += n;
        if key >> 3 == 0 {
            return None;
        }
        let node = match key & 7 {
            0 => {
                let (v, n) = varint(&msg[pos..])?;
                pos += n;
                Node::Varint(key, v)
            }
            1 | 5 => {
                let n = if key & 7 == 1 { 8 } else { 4 };
                let body = msg.get(pos..pos + n)?.to_vec();
                pos += n;
                Node::Fixed(key, body)
            }
            2 => {
                let (len, n) = varint(&msg[pos..])?;
                pos += n;
                let body = msg.get(pos..pos.checked_add(usize::try_from(len).ok()?)?)?;
                pos += body.len();
                match (depth < 64).then(|| parse(body, depth + 1)).flatten() {
                    Some(fields) if !body.is_empty() => Node::Message(key, fields),
                    _ => Node::Bytes(key, body.to_vec()),
                }
            }
            _ => return None,
        };
        out.push(node);
    }
    Some(out)
}

fn serialize(nodes: &[Node], out: &mut Vec<u8>) {
    for node in nodes {
        match node {
            Node::Varint(k, v) => {
                out.extend(encode_varint(*k));
                out.extend(encode_varint(*v));
            }
            Node::Fixed(k, b) | Node::Bytes(k, b) => {
                out.extend(encode_varint(*k));
                if matches!(node, Node::Bytes(..)) {
                    out.extend(encode_varint(b.len() as u64));
                }
                out.extend_from_slice(b);
            }
            Node::Message(k, fields) => {
                let mut body = Vec::new();
                serialize(fields, &mut body);
                out.extend(encode_varint(*k));
                out.extend(encode_varint(body.len() as u64));
                out.extend(body);
            }
        }
    }
}

/// An edit of one field anywhere in a protobuf message tree that keeps the input well-formed
/// (every length prefix is recomputed): what a valid but unusual encoder could send.
#[derive(Debug, Clone)]
pub enum FieldEdit {
    /// The field twice in a row (a singular field repeated: the last wins; a message: merged).
    Duplicate(Index),
    /// The field removed.
    Delete(Index),
    /// The field after its next sibling (fields out of number order).
    SwapWithNext(Index),
    /// A varint field's value replaced.
    SetVarint(Index, u64),
    /// The field copied to the end of its message (a repeated field's elements not contiguous).
    CopyToEnd(Index),
}

/// Any [`FieldEdit`].
pub fn field_edit() -> BoxedStrategy<FieldEdit> {
    let value = prop_oneof![
        Just(0u64),
        Just(1),
        Just(u64::MAX),
        Just(u64::from(u32::MAX)),
        Just(1 << 31),
        any::<u64>()
    ];
    prop_oneof![
        3 => any::<Index>().prop_map(FieldEdit::Duplicate),
        1 => any::<Index>().prop_map(FieldEdit::Delete),
        2 => any::<Index>().prop_map(FieldEdit::SwapWithNext),
        2 => (any::<Index>(), value).prop_map(|(i, v)| FieldEdit::SetVarint(i, v)),
        2 => any::<Index>().prop_map(FieldEdit::CopyToEnd),
    ]
    .boxed()
}

/// Applies field edits to a protobuf message (unchanged if it does not parse).
pub fn apply_field_edits(msg: &[u8], edits: &[FieldEdit]) -> Vec<u8> {
    let Some(mut nodes) = parse(msg, 0) else {
        return msg.to_vec();
    };
    for edit in edits {
        let count = count_fields(&nodes);
        if count == 0 {
            break;
        }
        let target = match edit {
            FieldEdit::Duplicate(i)
            | FieldEdit::Delete(i)
            | FieldEdit::SwapWithNext(i)
            | FieldEdit::SetVarint(i, _)
            | FieldEdit::CopyToEnd(i) => i.index(count),
        };
        edit_at(&mut nodes, &mut { target }, edit);
    }
    let mut out = Vec::new();
    serialize(&nodes, &mut out);
    out
}

fn count_fields(nodes: &[Node]) -> usize {
    nodes
        .iter()
        .map(|n| match n {
            Node::Message(_, f) => 1 + count_fields(f),
            _ => 1,
        })
        .sum()
}

/// Finds the `target`-th field in depth-first order and edits it in its parent's list.
fn edit_at(nodes: &mut Vec<Node>, target: &mut usize, edit: &FieldEdit) -> bool {
    for i in 0..nodes.len() {
        if *target == 0 {
            match edit {
                FieldEdit::Duplicate(_) => nodes.insert(i, nodes[i].clone()),
                FieldEdit::Delete(_) => {
                    nodes.remove(i);
                }
                FieldEdit::SwapWithNext(_) if i + 1 < nodes.len() => nodes.swap(i, i + 1),
                FieldEdit::SetVarint(_, v) => {
                    if let Node::Varint(_, x) = &mut nodes[i] {
                        *x = *v;
                    }
                }
                FieldEdit::CopyToEnd(_) => nodes.push(nodes[i].clone()),
                _ => {}
            }
            return true;
        }
        *target -= 1;
        if let Node::Message(_, fields) = &mut nodes[i]
            && edit_at(fields, target, edit)
        {
            return true;
        }
    }
    false
}
