//! The codecs of embedded messages: present or absent, repeated, counted as items, `oneof`.

use super::room::make_room;
use crate::WireType;
use crate::decode::Reader;
use crate::encode::RevBuf;
use crate::error::DecodeError;
#[cfg(feature = "json")]
use crate::json::{JsonReader, JsonWriter};
use crate::message::Message;

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
    #[cfg(feature = "json")]
    #[inline]
    pub fn json<M: Message>(name: &str, v: &Option<M>, w: &mut JsonWriter) {
        if let Some(m) = v {
            json_always(name, m, w);
        }
    }
    #[cfg(feature = "json")]
    #[inline]
    pub fn json_always<M: Message>(name: &str, m: &M, w: &mut JsonWriter) {
        w.key(name);
        m.write_json(w);
    }
    #[cfg(feature = "json")]
    #[inline]
    pub fn read_json<M: Message>(
        v: &mut Option<M>,
        r: &mut JsonReader<'_>,
    ) -> Result<(), DecodeError> {
        v.get_or_insert_with(M::default).read_json(r)
    }
    pub use merge_into as merge_value;
    #[cfg(feature = "json")]
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
    #[cfg(feature = "json")]
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
    #[cfg(feature = "json")]
    pub use json as json_always;
    #[cfg(feature = "json")]
    pub fn read_json<M: Message>(
        v: &mut Vec<M>,
        r: &mut JsonReader<'_>,
    ) -> Result<(), DecodeError> {
        read_json_counted::<M, false>(v, r)
    }

    #[cfg(feature = "json")]
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
    pub use super::repeated::{encode, encode_always};
    #[cfg(feature = "json")]
    pub use super::repeated::{json, json_always};
    use super::*;
    #[inline]
    pub fn merge<M: Message>(
        v: &mut Vec<M>,
        wt: WireType,
        r: &mut Reader<'_>,
    ) -> Result<(), DecodeError> {
        repeated::merge_counted::<M, true>(v, wt, r)
    }
    #[cfg(feature = "json")]
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
    #[cfg(feature = "json")]
    #[inline]
    pub fn json<O: Oneof>(_name: &str, v: &Option<O>, w: &mut JsonWriter) {
        if let Some(o) = v {
            o.write_json(w);
        }
    }
}
