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
#[cfg(feature = "json")]
use crate::json::{JsonReader, JsonWriter};
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
    #[cfg(feature = "json")]
    fn json_put(w: &mut JsonWriter, v: Self::T);
    #[cfg(feature = "json")]
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
            #[cfg(feature = "json")]
            #[inline]
            fn json_put(w: &mut JsonWriter, v: $t) {
                w.$jput(v)
            }
            #[cfg(feature = "json")]
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
            #[cfg(feature = "json")]
            #[inline]
            pub fn json(name: &str, v: &<$s as Scalar>::T, w: &mut JsonWriter) {
                if !is_default::<$s>(*v) {
                    json_always(name, v, w);
                }
            }
            #[cfg(feature = "json")]
            #[inline]
            pub fn json_always(name: &str, v: &<$s as Scalar>::T, w: &mut JsonWriter) {
                w.key(name);
                <$s>::json_put(w, *v);
            }
            #[cfg(feature = "json")]
            #[inline]
            pub fn read_json(
                v: &mut <$s as Scalar>::T,
                r: &mut JsonReader<'_>,
            ) -> Result<(), DecodeError> {
                *v = <$s>::json_get(r)?;
                Ok(())
            }
            pub use merge as merge_value;
            #[cfg(feature = "json")]
            pub use read_json as read_json_value;
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
            #[cfg(feature = "json")]
            pub fn json(name: &str, v: &[T], w: &mut JsonWriter) {
                if !v.is_empty() {
                    json_always(name, v, w);
                }
            }
            #[cfg(feature = "json")]
            pub fn json_always(name: &str, v: &[T], w: &mut JsonWriter) {
                w.key(name);
                w.begin_array();
                for x in v {
                    w.elem();
                    <$s>::json_put(w, *x);
                }
                w.end_array();
            }
            #[cfg(feature = "json")]
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
    #[cfg(feature = "json")]
    #[inline]
    pub fn json(name: &str, v: &Option<f64>, w: &mut JsonWriter) {
        if let Some(x) = v {
            double::json_always(name, x, w);
        }
    }
    #[cfg(feature = "json")]
    pub use json as json_always;
    #[cfg(feature = "json")]
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
    #[cfg(feature = "json")]
    #[inline]
    pub fn json(name: &str, v: &Str, w: &mut JsonWriter) {
        if !v.is_empty() {
            json_always(name, v, w);
        }
    }
    #[cfg(feature = "json")]
    #[inline]
    pub fn json_always(name: &str, v: &Str, w: &mut JsonWriter) {
        w.key(name);
        w.string(v);
    }
    #[cfg(feature = "json")]
    #[inline]
    pub fn read_json(v: &mut Str, r: &mut JsonReader<'_>) -> Result<(), DecodeError> {
        *v = r.string()?;
        Ok(())
    }
    pub use merge as merge_value;
    #[cfg(feature = "json")]
    pub use read_json as read_json_value;
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
    #[cfg(feature = "json")]
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
    #[cfg(feature = "json")]
    pub use json as json_always;
    #[cfg(feature = "json")]
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
    #[cfg(feature = "json")]
    #[inline]
    pub fn json(name: &str, v: &Bytes, w: &mut JsonWriter) {
        if !v.is_empty() {
            json_always(name, v, w);
        }
    }
    #[cfg(feature = "json")]
    #[inline]
    pub fn json_always(name: &str, v: &Bytes, w: &mut JsonWriter) {
        w.key(name);
        w.base64(v);
    }
    #[cfg(feature = "json")]
    #[inline]
    pub fn read_json(v: &mut Bytes, r: &mut JsonReader<'_>) -> Result<(), DecodeError> {
        *v = r.base64()?;
        Ok(())
    }
    pub use merge as merge_value;
    #[cfg(feature = "json")]
    pub use read_json as read_json_value;
}

/// `bytes` holding a trace, span or profile id: hex in OTLP/JSON.
pub mod hex_id {
    pub use super::bytes::{encode, encode_always, merge, merge_value};
    #[cfg(feature = "json")]
    use super::*;
    #[cfg(feature = "json")]
    #[inline]
    pub fn json(name: &str, v: &Bytes, w: &mut JsonWriter) {
        if !v.is_empty() {
            json_always(name, v, w);
        }
    }
    #[cfg(feature = "json")]
    #[inline]
    pub fn json_always(name: &str, v: &Bytes, w: &mut JsonWriter) {
        w.key(name);
        w.hex(v);
    }
    #[cfg(feature = "json")]
    #[inline]
    pub fn read_json(v: &mut Bytes, r: &mut JsonReader<'_>) -> Result<(), DecodeError> {
        *v = r.hex()?;
        Ok(())
    }
    #[cfg(feature = "json")]
    pub use read_json as read_json_value;
}

mod id;
pub use id::{span_id, trace_id};

mod nested;
pub use nested::{items, message, oneof, repeated};
