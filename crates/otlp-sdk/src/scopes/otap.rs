//! A batch of [`ScopedItem`]s handed to an OTAP stream as they are ([`ScopedEncoder::stream_batch`]):
//! the stream groups them by scope, as the protobuf encoder does, and its Arrow encoder reads
//! them through their signal's [`OtapItem`] view, with no OTLP request in between.

use super::ScopedEncoder;
use super::encoder::ScopedItem;
use crate::body::EncodedBody;
use crate::transport::{OtapEncoder, StreamBatch, StreamItems};
use otlp_otap::{BatchArrowRecords, ResourceItems, ScopeItems};
use otlp_proto::Encoding;

/// An item an OTAP stream encodes as it is: what its signal's Arrow encoder reads of it.
pub(crate) trait OtapItem: ScopedItem + Send + 'static {
    /// What the Arrow encoder reads (a span view, a log record, a metric).
    type View;

    /// Makes the item ready to be read (attributes settled or placed); called before each
    /// encoding, so it must be idempotent.
    fn prepare(&mut self) {}

    /// The item as its encoder reads it (`None`: nothing to send).
    fn view(&self) -> Option<&Self::View>;

    /// `items` as `encoder`'s next batch.
    fn encode(
        encoder: &mut OtapEncoder,
        items: &[ResourceItems<'_, Self::View>],
    ) -> otlp_otap::Result<BatchArrowRecords>;
}

/// A pipeline's batch and a copy of the encoder of its requests (its resource and scopes,
/// and the protobuf encoding of the fallback).
struct Items<T> {
    items: Vec<T>,
    encoder: ScopedEncoder,
}

impl<T: OtapItem> StreamItems for Items<T> {
    fn encode_otap(&mut self, encoder: &mut OtapEncoder) -> otlp_otap::Result<BatchArrowRecords> {
        self.items.iter_mut().for_each(T::prepare);
        let resource = self.encoder.otap_items(&self.items, T::view);
        <T as OtapItem>::encode(encoder, &[resource])
    }

    fn encode_protobuf(&mut self) -> EncodedBody {
        self.encoder.encode(&mut self.items, Encoding::Protobuf)
    }
}

impl ScopedEncoder {
    /// `items` (taken) as a batch an OTAP stream encodes itself.
    pub(crate) fn stream_batch<T: OtapItem>(&self, items: &mut Vec<T>) -> StreamBatch {
        StreamBatch::new(Items {
            items: std::mem::take(items),
            encoder: self.clone(),
        })
    }

    /// `batch` grouped as the protobuf encoder groups it (scopes by first appearance, items
    /// in batch order), each item as `view` reads it.
    fn otap_items<'a, T: ScopedItem, V>(
        &'a mut self,
        batch: &'a [T],
        view: fn(&T) -> Option<&V>,
    ) -> ResourceItems<'a, V> {
        self.groups.group(batch.iter().map(T::scope));
        for g in self.groups.groups() {
            self.scopes.refresh(g.scope);
        }
        let this: &'a ScopedEncoder = self;
        let order = this.groups.order();
        ResourceItems {
            resource: this.resource.as_ref(),
            schema_url: "",
            scopes: this
                .groups
                .groups()
                .iter()
                .map(|g| {
                    let scope = this.scopes.peek(g.scope);
                    ScopeItems {
                        scope: scope.scope,
                        schema_url: scope.schema_url.as_str(),
                        items: order
                            .get(g.positions())
                            .unwrap_or_default()
                            .iter()
                            .filter_map(|&i| batch.get(i).and_then(view))
                            .collect(),
                    }
                })
                .collect(),
        }
    }
}
