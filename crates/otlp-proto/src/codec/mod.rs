//! Field codecs: one module per protobuf field kind, each with the same six functions, which the
//! [`message!`](crate::message!) macro calls by name.
//!
//! - `encode(tag, &v, buf)` / `encode_always(..)`: protobuf, skipping or keeping a default value;
//! - `merge(&mut v, wire_type, reader)`: protobuf decode;
//! - `json(name, &v, w)` / `json_always(..)`: OTLP/JSON, skipping or keeping a default value;
//! - `read_json(&mut v, reader)`: OTLP/JSON decode.

#![allow(missing_docs)]

use crate::decode::Reader;
use crate::encode::RevBuf;
use crate::error::DecodeError;
use crate::json::{JsonReader, JsonWriter};
use crate::message::Message;
use crate::{Str, WireType};
use ::bytes::Bytes;

/// How one scalar protobuf type is written and read, in both encodings.
pub trait Scalar {
    /// The Rust value type.
    type T: Copy + PartialEq + Default;
    /// Its wire type when not packed.
    const WT: WireType;
    fn put(buf: &mut RevBuf, v: Self::T);
    fn get(r: &mut Reader<'_>) -> Result<Self::T, DecodeError>;
    fn json_put(w: &mut JsonWriter, v: Self::T);
    fn json_get(r: &mut JsonReader<'_>) -> Result<Self::T, DecodeError>;
}

macro_rules! scalar_type {
    ($name:ident, $t:ty, $wt:ident, |$b:ident, $v:ident| $put:expr, |$r:ident| $get:expr, $jput:ident, $jget:ident) => {
        #[derive(Debug)]
        pub struct $name;
        impl Scalar for $name {
            type T = $t;
            const WT: WireType = WireType::$wt;
            #[inline]
            fn put($b: &mut RevBuf, $v: $t) {
                $put
            }
            #[inline]
            fn get($r: &mut Reader<'_>) -> Result<$t, DecodeError> {
                $get
            }
            #[inline]
            fn json_put(w: &mut JsonWriter, v: $t) {
                w.$jput(v)
            }
            #[inline]
            fn json_get(r: &mut JsonReader<'_>) -> Result<$t, DecodeError> {
                r.$jget()
            }
        }
    };
}

// One line per protobuf scalar type: name, Rust type, wire type, write, read, JSON write, JSON read.
#[rustfmt::skip]
mod scalars {
    use super::*;
    scalar_type!(Uint32, u32, Varint, |b, v| b.put_varint(u64::from(v)), |r| Ok(r.varint()? as u32), int, u32);
    scalar_type!(Int32, i32, Varint, |b, v| b.put_varint(v as i64 as u64), |r| Ok(r.varint()? as i32), int, i32);
    scalar_type!(Sint32, i32, Varint, |b, v| b.put_varint(u64::from(((v << 1) ^ (v >> 31)) as u32)),
        |r| { let n = r.varint()? as u32; Ok(((n >> 1) as i32) ^ -((n & 1) as i32)) }, int, i32);
    scalar_type!(Uint64, u64, Varint, |b, v| b.put_varint(v), |r| r.varint(), quoted_int, u64);
    scalar_type!(Int64, i64, Varint, |b, v| b.put_varint(v as u64), |r| Ok(r.varint()? as i64), quoted_int, i64);
    scalar_type!(Fixed32, u32, Fixed32, |b, v| b.put_fixed32(v), |r| r.fixed32(), int, u32);
    scalar_type!(Fixed64, u64, Fixed64, |b, v| b.put_fixed64(v), |r| r.fixed64(), quoted_int, u64);
    scalar_type!(Sfixed64, i64, Fixed64, |b, v| b.put_fixed64(v as u64), |r| Ok(r.fixed64()? as i64), quoted_int, i64);
    scalar_type!(Double, f64, Fixed64, |b, v| b.put_fixed64(v.to_bits()), |r| Ok(f64::from_bits(r.fixed64()?)), f64, f64);
    scalar_type!(Bool, bool, Varint, |b, v| b.put_u8(u8::from(v)), |r| Ok(r.varint()? != 0), bool, bool);
}
pub use scalars::*;

#[inline]
fn is_default<S: Scalar>(v: S::T) -> bool {
    // As prost does: -0.0 counts as the default of a double, NaN does not.
    v == S::T::default()
}

macro_rules! scalar_kind {
    ($module:ident, $s:ident) => {
        pub mod $module {
            use super::*;
            #[inline]
            pub fn encode(tag: u32, v: &<$s as Scalar>::T, buf: &mut RevBuf) {
                if !is_default::<$s>(*v) {
                    encode_always(tag, v, buf);
                }
            }
            #[inline]
            pub fn encode_always(tag: u32, v: &<$s as Scalar>::T, buf: &mut RevBuf) {
                <$s>::put(buf, *v);
                buf.put_key(tag, <$s>::WT);
            }
            #[inline]
            pub fn merge(
                v: &mut <$s as Scalar>::T,
                wt: WireType,
                r: &mut Reader<'_>,
            ) -> Result<(), DecodeError> {
                if wt != <$s>::WT {
                    return Err(r.wrong_wire_type());
                }
                *v = <$s>::get(r)?;
                Ok(())
            }
            #[inline]
            pub fn json(name: &str, v: &<$s as Scalar>::T, w: &mut JsonWriter) {
                if !is_default::<$s>(*v) {
                    json_always(name, v, w);
                }
            }
            #[inline]
            pub fn json_always(name: &str, v: &<$s as Scalar>::T, w: &mut JsonWriter) {
                w.key(name);
                <$s>::json_put(w, *v);
            }
            #[inline]
            pub fn read_json(
                v: &mut <$s as Scalar>::T,
                r: &mut JsonReader<'_>,
            ) -> Result<(), DecodeError> {
                *v = <$s>::json_get(r)?;
                Ok(())
            }
            pub use {merge as merge_value, read_json as read_json_value};
        }
    };
}

scalar_kind!(uint32, Uint32);
scalar_kind!(int32, Int32);
scalar_kind!(sint32, Sint32);
scalar_kind!(uint64, Uint64);
scalar_kind!(int64, Int64);
scalar_kind!(fixed32, Fixed32);
scalar_kind!(fixed64, Fixed64);
scalar_kind!(sfixed64, Sfixed64);
scalar_kind!(double, Double);
scalar_kind!(boolean, Bool);
// Enums are int32 on the wire and integers in OTLP/JSON.
pub use int32 as enumeration;

mod room;
use room::make_room;

/// How many elements of a packed field are left: exact for fixed-width types; for varints one
/// (the vector then doubles), as a varint's width is known only once read.
fn packed_count<S: Scalar>(r: &Reader<'_>) -> usize {
    match S::WT {
        WireType::Fixed64 => r.remaining() / 8,
        WireType::Fixed32 => r.remaining() / 4,
        _ => 1,
    }
}

macro_rules! packed_kind {
    ($module:ident, $s:ident) => {
        pub mod $module {
            use super::*;
            type T = <$s as Scalar>::T;
            #[inline]
            pub fn encode(tag: u32, v: &[T], buf: &mut RevBuf) {
                if v.is_empty() {
                    return;
                }
                let mark = buf.len();
                for x in v.iter().rev() {
                    <$s>::put(buf, *x);
                }
                buf.finish_len_delimited(tag, mark);
            }
            pub use encode as encode_always;
            pub fn merge(
                v: &mut Vec<T>,
                wt: WireType,
                r: &mut Reader<'_>,
            ) -> Result<(), DecodeError> {
                if wt == WireType::Len {
                    r.packed(|r| {
                        while !r.at_end() {
                            let x = <$s>::get(r)?;
                            make_room(v, r, packed_count::<$s>)?;
                            v.push(x);
                        }
                        Ok(())
                    })
                } else if wt == <$s>::WT {
                    let x = <$s>::get(r)?;
                    make_room(v, r, |_| 1)?;
                    v.push(x);
                    Ok(())
                } else {
                    Err(r.wrong_wire_type())
                }
            }
            pub fn json(name: &str, v: &[T], w: &mut JsonWriter) {
                if !v.is_empty() {
                    json_always(name, v, w);
                }
            }
            pub fn json_always(name: &str, v: &[T], w: &mut JsonWriter) {
                w.key(name);
                w.begin_array();
                for x in v {
                    w.elem();
                    <$s>::json_put(w, *x);
                }
                w.end_array();
            }
            pub fn read_json(v: &mut Vec<T>, r: &mut JsonReader<'_>) -> Result<(), DecodeError> {
                r.begin_array()?;
                let mut first = true;
                while r.next_elem(first)? {
                    first = false;
                    let x = <$s>::json_get(r)?;
                    make_room(v, r, |_| 1)?;
                    v.push(x);
                }
                Ok(())
            }
        }
    };
}

packed_kind!(packed_int32, Int32);
packed_kind!(packed_int64, Int64);
packed_kind!(packed_uint64, Uint64);
packed_kind!(packed_fixed64, Fixed64);
packed_kind!(packed_double, Double);

/// `optional double`: present or absent, a present zero is still written.
pub mod opt_double {
    use super::*;
    #[inline]
    pub fn encode(tag: u32, v: &Option<f64>, buf: &mut RevBuf) {
        if let Some(x) = v {
            double::encode_always(tag, x, buf);
        }
    }
    pub use encode as encode_always;
    #[inline]
    pub fn merge(v: &mut Option<f64>, wt: WireType, r: &mut Reader<'_>) -> Result<(), DecodeError> {
        let mut x = 0.0;
        double::merge(&mut x, wt, r)?;
        *v = Some(x);
        Ok(())
    }
    #[inline]
    pub fn json(name: &str, v: &Option<f64>, w: &mut JsonWriter) {
        if let Some(x) = v {
            double::json_always(name, x, w);
        }
    }
    pub use json as json_always;
    #[inline]
    pub fn read_json(v: &mut Option<f64>, r: &mut JsonReader<'_>) -> Result<(), DecodeError> {
        *v = Some(r.f64()?);
        Ok(())
    }
}

/// `string`.
pub mod string {
    use super::*;
    #[inline]
    pub fn encode(tag: u32, v: &Str, buf: &mut RevBuf) {
        if !v.is_empty() {
            encode_always(tag, v, buf);
        }
    }
    #[inline]
    pub fn encode_always(tag: u32, v: &Str, buf: &mut RevBuf) {
        buf.put_bytes_field(tag, v.as_bytes());
    }
    #[inline]
    pub fn merge(v: &mut Str, wt: WireType, r: &mut Reader<'_>) -> Result<(), DecodeError> {
        if wt != WireType::Len {
            return Err(r.wrong_wire_type());
        }
        r.string_into(v)
    }
    #[inline]
    pub fn json(name: &str, v: &Str, w: &mut JsonWriter) {
        if !v.is_empty() {
            json_always(name, v, w);
        }
    }
    #[inline]
    pub fn json_always(name: &str, v: &Str, w: &mut JsonWriter) {
        w.key(name);
        w.string(v);
    }
    #[inline]
    pub fn read_json(v: &mut Str, r: &mut JsonReader<'_>) -> Result<(), DecodeError> {
        *v = r.string()?;
        Ok(())
    }
    pub use {merge as merge_value, read_json as read_json_value};
}

/// `repeated string`.
pub mod repeated_string {
    use super::*;
    pub fn encode(tag: u32, v: &[Str], buf: &mut RevBuf) {
        for s in v.iter().rev() {
            string::encode_always(tag, s, buf);
        }
    }
    pub use encode as encode_always;
    pub fn merge(v: &mut Vec<Str>, wt: WireType, r: &mut Reader<'_>) -> Result<(), DecodeError> {
        make_room(v, r, Reader::count_repeats)?;
        let mut s = Str::new();
        string::merge(&mut s, wt, r)?;
        v.push(s);
        Ok(())
    }
    pub fn json(name: &str, v: &[Str], w: &mut JsonWriter) {
        if v.is_empty() {
            return;
        }
        w.key(name);
        w.begin_array();
        for s in v {
            w.elem();
            w.string(s);
        }
        w.end_array();
    }
    pub use json as json_always;
    pub fn read_json(v: &mut Vec<Str>, r: &mut JsonReader<'_>) -> Result<(), DecodeError> {
        r.begin_array()?;
        let mut first = true;
        while r.next_elem(first)? {
            first = false;
            let s = r.string()?;
            make_room(v, r, |_| 1)?;
            v.push(s);
        }
        Ok(())
    }
}

/// `bytes`, base64 in JSON.
pub mod bytes {
    use super::*;
    #[inline]
    pub fn encode(tag: u32, v: &Bytes, buf: &mut RevBuf) {
        if !v.is_empty() {
            encode_always(tag, v, buf);
        }
    }
    #[inline]
    pub fn encode_always(tag: u32, v: &Bytes, buf: &mut RevBuf) {
        buf.put_bytes_field(tag, v);
    }
    #[inline]
    pub fn merge(v: &mut Bytes, wt: WireType, r: &mut Reader<'_>) -> Result<(), DecodeError> {
        if wt != WireType::Len {
            return Err(r.wrong_wire_type());
        }
        *v = r.bytes()?;
        Ok(())
    }
    #[inline]
    pub fn json(name: &str, v: &Bytes, w: &mut JsonWriter) {
        if !v.is_empty() {
            json_always(name, v, w);
        }
    }
    #[inline]
    pub fn json_always(name: &str, v: &Bytes, w: &mut JsonWriter) {
        w.key(name);
        w.base64(v);
    }
    #[inline]
    pub fn read_json(v: &mut Bytes, r: &mut JsonReader<'_>) -> Result<(), DecodeError> {
        *v = r.base64()?;
        Ok(())
    }
    pub use {merge as merge_value, read_json as read_json_value};
}

/// `bytes` holding a trace, span or profile id: hex in OTLP/JSON.
pub mod hex_id {
    pub use super::bytes::{encode, encode_always, merge, merge_value};
    use super::*;
    #[inline]
    pub fn json(name: &str, v: &Bytes, w: &mut JsonWriter) {
        if !v.is_empty() {
            json_always(name, v, w);
        }
    }
    #[inline]
    pub fn json_always(name: &str, v: &Bytes, w: &mut JsonWriter) {
        w.key(name);
        w.hex(v);
    }
    #[inline]
    pub fn read_json(v: &mut Bytes, r: &mut JsonReader<'_>) -> Result<(), DecodeError> {
        *v = r.hex()?;
        Ok(())
    }
    pub use read_json as read_json_value;
}

mod id;
pub use id::{span_id, trace_id};

/// An embedded message, present or absent.
pub mod message {
    use super::*;
    #[inline]
    pub fn encode<M: Message>(tag: u32, v: &Option<M>, buf: &mut RevBuf) {
        if let Some(m) = v {
            encode_always(tag, m, buf);
        }
    }
    #[inline]
    pub fn encode_always<M: Message>(tag: u32, m: &M, buf: &mut RevBuf) {
        let mark = buf.len();
        m.encode_fields(buf);
        buf.finish_len_delimited(tag, mark);
    }
    #[inline]
    pub fn merge<M: Message>(
        v: &mut Option<M>,
        wt: WireType,
        r: &mut Reader<'_>,
    ) -> Result<(), DecodeError> {
        merge_into(v.get_or_insert_with(M::default), wt, r)
    }
    #[inline]
    pub fn merge_into<M: Message>(
        m: &mut M,
        wt: WireType,
        r: &mut Reader<'_>,
    ) -> Result<(), DecodeError> {
        if wt != WireType::Len {
            return Err(r.wrong_wire_type());
        }
        r.nested(|r| m.merge(r))
    }
    #[inline]
    pub fn json<M: Message>(name: &str, v: &Option<M>, w: &mut JsonWriter) {
        if let Some(m) = v {
            json_always(name, m, w);
        }
    }
    #[inline]
    pub fn json_always<M: Message>(name: &str, m: &M, w: &mut JsonWriter) {
        w.key(name);
        m.write_json(w);
    }
    #[inline]
    pub fn read_json<M: Message>(
        v: &mut Option<M>,
        r: &mut JsonReader<'_>,
    ) -> Result<(), DecodeError> {
        v.get_or_insert_with(M::default).read_json(r)
    }
    pub use merge_into as merge_value;
    #[inline]
    pub fn read_json_value<M: Message>(
        m: &mut M,
        r: &mut JsonReader<'_>,
    ) -> Result<(), DecodeError> {
        m.read_json(r)
    }
}

/// `repeated` embedded messages.
pub mod repeated {
    use super::*;
    #[inline]
    pub fn encode<M: Message>(tag: u32, v: &[M], buf: &mut RevBuf) {
        for m in v.iter().rev() {
            message::encode_always(tag, m, buf);
        }
    }
    pub use encode as encode_always;
    #[inline]
    pub fn merge<M: Message>(
        v: &mut Vec<M>,
        wt: WireType,
        r: &mut Reader<'_>,
    ) -> Result<(), DecodeError> {
        merge_counted::<M, false>(v, wt, r)
    }

    /// Decodes one element; `ITEM` counts it against the item limit too.
    #[inline]
    pub(super) fn merge_counted<M: Message, const ITEM: bool>(
        v: &mut Vec<M>,
        wt: WireType,
        r: &mut Reader<'_>,
    ) -> Result<(), DecodeError> {
        if ITEM {
            r.count_item()?;
            // The run may claim more items than the limit leaves: reserve no more than that.
            make_room(v, r, |r| {
                r.count_repeats().min(r.items_left().saturating_add(1))
            })?;
        } else {
            make_room(v, r, Reader::count_repeats)?;
        }
        // Decoded in its slot: a message built aside and then pushed would be moved (a span
        // is over 300 bytes). Should decoding fail, the whole request is dropped with it.
        v.push(M::default());
        let at = v.len() - 1;
        message::merge_into(&mut v[at], wt, r)
    }
    pub fn json<M: Message>(name: &str, v: &[M], w: &mut JsonWriter) {
        if v.is_empty() {
            return;
        }
        w.key(name);
        w.begin_array();
        for m in v {
            w.elem();
            m.write_json(w);
        }
        w.end_array();
    }
    pub use json as json_always;
    pub fn read_json<M: Message>(
        v: &mut Vec<M>,
        r: &mut JsonReader<'_>,
    ) -> Result<(), DecodeError> {
        read_json_counted::<M, false>(v, r)
    }

    pub(super) fn read_json_counted<M: Message, const ITEM: bool>(
        v: &mut Vec<M>,
        r: &mut JsonReader<'_>,
    ) -> Result<(), DecodeError> {
        r.begin_array()?;
        let mut first = true;
        while r.next_elem(first)? {
            first = false;
            if ITEM {
                r.count_item()?;
            }
            make_room(v, r, |_| 1)?;
            let mut m = M::default();
            m.read_json(r)?;
            v.push(m);
        }
        Ok(())
    }
}

/// `repeated` embedded messages that are the request's items (spans, data points, log records,
/// profiles): each also counts against the item limit of [`DecodeLimits`](crate::DecodeLimits).
pub mod items {
    pub use super::repeated::{encode, encode_always, json, json_always};
    use super::*;
    #[inline]
    pub fn merge<M: Message>(
        v: &mut Vec<M>,
        wt: WireType,
        r: &mut Reader<'_>,
    ) -> Result<(), DecodeError> {
        repeated::merge_counted::<M, true>(v, wt, r)
    }
    pub fn read_json<M: Message>(
        v: &mut Vec<M>,
        r: &mut JsonReader<'_>,
    ) -> Result<(), DecodeError> {
        repeated::read_json_counted::<M, true>(v, r)
    }
}

/// A `oneof`: the set variant is written as its own field.
pub mod oneof {
    use super::*;
    use crate::Oneof;
    #[inline]
    pub fn encode<O: Oneof>(_tag: u32, v: &Option<O>, buf: &mut RevBuf) {
        if let Some(o) = v {
            o.encode(buf);
        }
    }
    #[inline]
    pub fn json<O: Oneof>(_name: &str, v: &Option<O>, w: &mut JsonWriter) {
        if let Some(o) = v {
            o.write_json(w);
        }
    }
}
