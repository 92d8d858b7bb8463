//! [`CountingSink`]: the soak receiver's sink. It puts a [`ModeSink`] (the chaos) in front of
//! nothing, and counts every item of every request the chaos let through, by id, per transport
//! and signal: answered OK, or rejected in a partial success.

use crate::{COUNTER, SEQ_ATTRIBUTE};
use otlp_proto::common::{KeyValue, Value};
use otlp_proto::metrics::MetricData;
use otlp_proto::{Request, Signal};
use otlp_receiver::{Ack, Received, Refusal, Sink, Transport};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use test_support::chaos::ModeSink;

/// What the receiver got of one signal on one transport.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Requests that reached the sink.
    pub requests: u64,
    /// Times each id arrived in a request answered OK (the items not rejected of a partial
    /// success included).
    pub ok: HashMap<u64, u32>,
    /// Times each id was rejected in a partial success.
    pub rejected: HashMap<u64, u32>,
    /// Items of requests refused whole (503 / `UNAVAILABLE`): the client sends them again or
    /// drops them.
    pub refused_items: u64,
    /// Items without an id (none expected: a span or log record without `soak.seq`, a metric
    /// other than the workload's counter).
    pub no_id: u64,
}

impl Tally {
    /// Items answered OK, duplicates included.
    pub fn ok_items(&self) -> u64 {
        self.ok.values().map(|&n| u64::from(n)).sum()
    }

    /// Items rejected in partial successes, duplicates included.
    pub fn rejected_items(&self) -> u64 {
        self.rejected.values().map(|&n| u64::from(n)).sum()
    }

    /// Distinct ids that arrived at all (answered OK or rejected).
    pub fn distinct(&self) -> u64 {
        let only_rejected = self.rejected.keys().filter(|id| !self.ok.contains_key(id));
        self.ok.len() as u64 + only_rejected.count() as u64
    }

    /// Ids at or past `sent`: items the workload never made (expected none).
    pub fn beyond(&self, sent: u64) -> u64 {
        self.ok
            .keys()
            .chain(self.rejected.keys())
            .filter(|&&id| id >= sent)
            .count() as u64
    }
}

type Tallies = HashMap<(Transport, Signal), Tally>;

/// The soak receiver's sink: the chaos ([`ModeSink`]) decides the answer, then every item is
/// counted by id. Clones share the counts and the mode.
#[derive(Debug, Clone)]
pub struct CountingSink {
    chaos: ModeSink,
    tallies: Arc<Mutex<Tallies>>,
}

impl Default for CountingSink {
    fn default() -> Self {
        CountingSink::new()
    }
}

impl CountingSink {
    /// A sink in normal mode, with nothing counted.
    pub fn new() -> Self {
        CountingSink {
            chaos: ModeSink::new(Discard),
            tallies: Arc::default(),
        }
    }

    /// The chaos in front: switch its mode.
    pub fn chaos(&self) -> &ModeSink {
        &self.chaos
    }

    fn lock(&self) -> MutexGuard<'_, Tallies> {
        self.tallies.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What arrived of `signal` on `transport` so far.
    pub fn tally(&self, transport: Transport, signal: Signal) -> Tally {
        self.lock()
            .get(&(transport, signal))
            .cloned()
            .unwrap_or_default()
    }
}

/// Keeps nothing: the counts are the soak's record.
#[derive(Debug)]
struct Discard;

impl Sink for Discard {
    fn consume(&self, _: Received) -> Result<Ack, Refusal> {
        Ok(Ack::ok())
    }
}

impl Sink for CountingSink {
    fn delay(&self) -> Option<Duration> {
        self.chaos.delay()
    }

    fn consume(&self, received: Received) -> Result<Ack, Refusal> {
        let key = (received.transport, received.request.signal());
        let ids = item_ids(&received.request);
        let answer = self.chaos.consume(received);
        let mut tallies = self.lock();
        let tally = tallies.entry(key).or_default();
        tally.requests += 1;
        match &answer {
            Ok(ack) => {
                // The client learns a count only: take the first ones as the rejected.
                let rejected = usize::try_from(ack.rejected.max(0)).unwrap_or(usize::MAX);
                for (i, id) in ids.iter().enumerate() {
                    let Some(id) = *id else {
                        tally.no_id += 1;
                        continue;
                    };
                    let map = if i < rejected {
                        &mut tally.rejected
                    } else {
                        &mut tally.ok
                    };
                    *map.entry(id).or_default() += 1;
                }
            }
            Err(_) => tally.refused_items += ids.len() as u64,
        }
        answer
    }
}

/// Each item's id, in the order the receiver counts items (one per span, log record, or data
/// point): the `soak.seq` attribute of spans and log records, the time of the workload
/// counter's data points.
pub fn item_ids(request: &Request) -> Vec<Option<u64>> {
    let seq = |attributes: &[KeyValue]| {
        attributes
            .iter()
            .find(|kv| kv.key.as_ref() == SEQ_ATTRIBUTE)
            .and_then(|kv| kv.value.as_ref()?.value.as_ref())
            .and_then(|v| match v {
                Value::IntValue(n) => u64::try_from(*n).ok(),
                _ => None,
            })
    };
    match request {
        Request::Traces(r) => r.spans().map(|p| seq(&p.item.attributes)).collect(),
        Request::Logs(r) => r.log_records().map(|p| seq(&p.item.attributes)).collect(),
        Request::Metrics(r) => r
            .metrics()
            .flat_map(|p| match &p.item.data {
                Some(MetricData::Sum(sum)) => sum
                    .data_points
                    .iter()
                    .map(|d| (p.item.name.as_ref() == COUNTER).then_some(d.time_unix_nano))
                    .collect(),
                // Any other metric counts as its points, none of them ours.
                _ => vec![None; p.item.data_point_count()],
            })
            .collect(),
        Request::Profiles(_) => vec![None; request.item_count()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otlp_proto::collector::ExportLogsServiceRequest;
    use otlp_proto::logs::{LogRecord, ResourceLogs, ScopeLogs};
    use otlp_proto::{Compression, Encoding};
    use test_support::chaos::Mode;

    fn logs(seqs: &[i64]) -> Received {
        let records = seqs
            .iter()
            .map(|&n| LogRecord {
                attributes: vec![KeyValue::new(SEQ_ATTRIBUTE, n)],
                ..Default::default()
            })
            .collect();
        let request = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: records,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        Received {
            request: request.into(),
            transport: Transport::Http,
            encoding: Encoding::Protobuf,
            compression: Compression::None,
            wire_bytes: 0,
            headers: Default::default(),
        }
    }

    #[test]
    fn counts_ok_rejected_refused_and_duplicates_by_id() {
        let sink = CountingSink::new();
        sink.consume(logs(&[0, 1, 2])).unwrap();
        sink.chaos().set(Mode::Partial { rejected: 2 });
        assert_eq!(sink.consume(logs(&[3, 4, 5])).unwrap().rejected, 2);
        sink.chaos().set(Mode::Unavailable {
            retry_after: Duration::from_secs(1),
        });
        sink.consume(logs(&[6, 7])).unwrap_err();
        sink.chaos().set(Mode::Normal);
        sink.consume(logs(&[6, 7, 2])).unwrap();

        let t = sink.tally(Transport::Http, Signal::Logs);
        assert_eq!(t.requests, 4);
        assert_eq!((t.ok_items(), t.ok.len()), (7, 6));
        assert_eq!(t.rejected_items(), 2);
        assert_eq!(t.refused_items, 2);
        assert_eq!(t.distinct(), 8);
        assert_eq!(t.beyond(7), 1);
        assert_eq!(t.no_id, 0);
        assert_eq!(sink.tally(Transport::Grpc, Signal::Logs), Tally::default());
    }
}
