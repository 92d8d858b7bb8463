//! Kafka messaging attributes (`messaging.*`, `messaging.kafka.*`).

use super::push;
use crate::attribute as a;
use otlp_proto::common::KeyValue;

/// The attributes of a Kafka produce or consume operation: `messaging.system = kafka`, the
/// topic, consumer group, partition, offset, message key and tombstone flag.
///
/// ```
/// use otlp_semconv::helpers::KafkaMessage;
///
/// let attrs = KafkaMessage::new("orders")
///     .with_consumer_group("billing")
///     .with_partition(3)
///     .with_offset(42)
///     .with_key("order-17")
///     .build();
/// assert_eq!(attrs.len(), 6);
/// ```
#[must_use]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KafkaMessage {
    topic: String,
    consumer_group: Option<String>,
    partition: Option<i64>,
    offset: Option<i64>,
    key: Option<String>,
    tombstone: bool,
}

impl KafkaMessage {
    /// A message on `topic` (`messaging.destination.name`).
    pub fn new(topic: impl Into<String>) -> Self {
        KafkaMessage {
            topic: topic.into(),
            ..KafkaMessage::default()
        }
    }

    /// `messaging.consumer.group.name`.
    pub fn with_consumer_group(self, group: impl Into<String>) -> Self {
        KafkaMessage {
            consumer_group: Some(group.into()),
            ..self
        }
    }

    /// `messaging.destination.partition.id` (a string in the conventions: the partition number
    /// is written in decimal).
    pub fn with_partition(self, partition: i64) -> Self {
        KafkaMessage {
            partition: Some(partition),
            ..self
        }
    }

    /// `messaging.kafka.offset` (int).
    pub fn with_offset(self, offset: i64) -> Self {
        KafkaMessage {
            offset: Some(offset),
            ..self
        }
    }

    /// `messaging.kafka.message.key`.
    pub fn with_key(self, key: impl Into<String>) -> Self {
        KafkaMessage {
            key: Some(key.into()),
            ..self
        }
    }

    /// `messaging.kafka.message.tombstone` (boolean; set only when true, as the conventions ask).
    pub fn with_tombstone(self, tombstone: bool) -> Self {
        KafkaMessage { tombstone, ..self }
    }

    /// The attributes, in a stable order.
    #[must_use]
    pub fn build(&self) -> Vec<KeyValue> {
        let mut out = vec![
            KeyValue::new(a::MESSAGING_SYSTEM, a::messaging_system::KAFKA),
            KeyValue::new(a::MESSAGING_DESTINATION_NAME, self.topic.clone()),
        ];
        push(
            &mut out,
            a::MESSAGING_CONSUMER_GROUP_NAME,
            self.consumer_group.clone(),
        );
        push(
            &mut out,
            a::MESSAGING_DESTINATION_PARTITION_ID,
            self.partition.map(|p| p.to_string()),
        );
        push(&mut out, a::MESSAGING_KAFKA_OFFSET, self.offset);
        push(&mut out, a::MESSAGING_KAFKA_MESSAGE_KEY, self.key.clone());
        if self.tombstone {
            out.push(KeyValue::new(a::MESSAGING_KAFKA_MESSAGE_TOMBSTONE, true));
        }
        out
    }
}
