//! [`Stats`] as OTLP metrics with the `otel.sdk.*` semantic-convention names (SDK
//! self-observability, development stability in semantic conventions v1.44.0).

use super::stats::{DropReason, Stats};
use otlp_proto::Signal;
use otlp_proto::common::KeyValue;
use otlp_proto::metrics::{
    AggregationTemporality, Metric, MetricData, NumberDataPoint, NumberValue, Sum,
};
use otlp_semconv::attribute::{ERROR_TYPE, OTEL_COMPONENT_TYPE, otel_component_type};
use otlp_semconv::metric as m;

/// The semantic-convention names for one signal: processor metrics, exporter metrics, unit,
/// processor component type.
struct Names {
    processed: &'static str,
    queue_size: &'static str,
    queue_capacity: &'static str,
    exported: &'static str,
    inflight: &'static str,
    unit: &'static str,
    component: &'static str,
}

fn names(signal: Signal) -> Option<Names> {
    match signal {
        Signal::Traces => Some(Names {
            processed: m::OTEL_SDK_PROCESSOR_SPAN_PROCESSED,
            queue_size: m::OTEL_SDK_PROCESSOR_SPAN_QUEUE_SIZE,
            queue_capacity: m::OTEL_SDK_PROCESSOR_SPAN_QUEUE_CAPACITY,
            exported: m::OTEL_SDK_EXPORTER_SPAN_EXPORTED,
            inflight: m::OTEL_SDK_EXPORTER_SPAN_INFLIGHT,
            unit: "{span}",
            component: otel_component_type::BATCHING_SPAN_PROCESSOR,
        }),
        Signal::Logs => Some(Names {
            processed: m::OTEL_SDK_PROCESSOR_LOG_PROCESSED,
            queue_size: m::OTEL_SDK_PROCESSOR_LOG_QUEUE_SIZE,
            queue_capacity: m::OTEL_SDK_PROCESSOR_LOG_QUEUE_CAPACITY,
            exported: m::OTEL_SDK_EXPORTER_LOG_EXPORTED,
            inflight: m::OTEL_SDK_EXPORTER_LOG_INFLIGHT,
            unit: "{log_record}",
            component: otel_component_type::BATCHING_LOG_PROCESSOR,
        }),
        // The conventions have no processor metrics for these, and count metric data points
        // (not the pipeline's items, which are whole metrics) at the exporter.
        Signal::Metrics | Signal::Profiles => None,
    }
}

impl Stats {
    /// The snapshot as OTLP metrics named by the `otel.sdk.*` semantic conventions, cumulative
    /// from `start_time_unix_nano` to `time_unix_nano`, for spans and log records (metrics and
    /// profiles have no such conventions for a batching pipeline: empty).
    ///
    /// - `otel.sdk.processor.{span,log}.processed`: items handed to the exporter, and with
    ///   `error.type` the items the processor dropped (`queue_full`, `shutdown_timeout`,
    ///   `after_shutdown`);
    /// - `otel.sdk.processor.{span,log}.queue.size` and `.queue.capacity`;
    /// - `otel.sdk.exporter.{span,log}.exported`: exported, and with `error.type` those rejected
    ///   (`rejected`) or failed (`non_retryable`, `retries_exhausted`);
    /// - `otel.sdk.exporter.{span,log}.inflight`: items in batches taken but not settled.
    ///
    /// Export them through a *different* pipeline or exporter call, never back into the one
    /// they describe, so that self-observability cannot feed itself.
    pub fn to_otlp_metrics(
        &self,
        queue_capacity: usize,
        start_time_unix_nano: u64,
        time_unix_nano: u64,
    ) -> Vec<Metric> {
        let Some(n) = names(self.signal) else {
            return Vec::new();
        };
        let component = KeyValue::new(OTEL_COMPONENT_TYPE, n.component);
        let point = |value: u64, error: Option<&'static str>, start: u64| NumberDataPoint {
            start_time_unix_nano: start,
            time_unix_nano,
            value: Some(NumberValue::AsInt(i64::try_from(value).unwrap_or(i64::MAX))),
            attributes: match error {
                Some(e) => vec![component.clone(), KeyValue::new(ERROR_TYPE, e)],
                None => vec![component.clone()],
            },
            ..NumberDataPoint::default()
        };
        let sum = |name: &str, monotonic: bool, points: Vec<NumberDataPoint>| Metric {
            name: name.to_owned().into(),
            unit: n.unit.into(),
            data: Some(MetricData::Sum(Sum {
                data_points: points,
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                is_monotonic: monotonic,
            })),
            ..Metric::default()
        };
        let d = &self.dropped;
        let handed_to_exporter =
            self.exported + self.rejected + d.non_retryable + d.retries_exhausted;
        let mut processed = vec![point(handed_to_exporter, None, start_time_unix_nano)];
        for reason in [
            DropReason::QueueFull,
            DropReason::ShutdownTimeout,
            DropReason::AfterShutdown,
        ] {
            if d.get(reason) > 0 {
                processed.push(point(
                    d.get(reason),
                    Some(reason.name()),
                    start_time_unix_nano,
                ));
            }
        }
        let mut exported = vec![point(self.exported, None, start_time_unix_nano)];
        for (count, error) in [
            (self.rejected, "rejected"),
            (d.non_retryable, DropReason::NonRetryable.name()),
            (d.retries_exhausted, DropReason::RetriesExhausted.name()),
        ] {
            if count > 0 {
                exported.push(point(count, Some(error), start_time_unix_nano));
            }
        }
        let in_worker = self.queued.saturating_sub(self.queue_length as u64);
        vec![
            sum(n.processed, true, processed),
            sum(
                n.queue_size,
                false,
                vec![point(self.queue_length as u64, None, start_time_unix_nano)],
            ),
            sum(
                n.queue_capacity,
                false,
                vec![point(queue_capacity as u64, None, start_time_unix_nano)],
            ),
            sum(n.exported, true, exported),
            sum(
                n.inflight,
                false,
                vec![point(in_worker, None, start_time_unix_nano)],
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(metric: &Metric, error: Option<&str>) -> Option<i64> {
        let Some(MetricData::Sum(sum)) = &metric.data else {
            return None;
        };
        sum.data_points
            .iter()
            .find(|p| {
                p.attributes
                    .iter()
                    .find(|kv| &*kv.key == ERROR_TYPE)
                    .and_then(|kv| {
                        kv.value
                            .as_ref()
                            .and_then(|v| v.as_str().map(str::to_owned))
                    })
                    == error.map(str::to_owned)
            })
            .and_then(|p| match p.value {
                Some(NumberValue::AsInt(v)) => Some(v),
                _ => None,
            })
    }

    #[test]
    fn span_stats_map_to_the_semantic_convention_metrics() {
        let mut s = Stats::new(Signal::Traces, 64);
        s.accepted = 100;
        s.exported = 60;
        s.rejected = 5;
        s.dropped.queue_full = 10;
        s.dropped.retries_exhausted = 7;
        s.queued = 18;
        s.queue_length = 8;
        assert!(s.is_consistent());
        let metrics = s.to_otlp_metrics(2048, 1, 2);
        let get = |name: &str| {
            metrics
                .iter()
                .find(|m| &*m.name == name)
                .unwrap_or_else(|| panic!("{name} missing"))
        };
        let processed = get("otel.sdk.processor.span.processed");
        assert_eq!(value(processed, None), Some(72));
        assert_eq!(value(processed, Some("queue_full")), Some(10));
        assert_eq!(
            value(get("otel.sdk.processor.span.queue.size"), None),
            Some(8)
        );
        assert_eq!(
            value(get("otel.sdk.processor.span.queue.capacity"), None),
            Some(2048)
        );
        let exported = get("otel.sdk.exporter.span.exported");
        assert_eq!(value(exported, None), Some(60));
        assert_eq!(value(exported, Some("rejected")), Some(5));
        assert_eq!(value(exported, Some("retries_exhausted")), Some(7));
        assert_eq!(
            value(exported, Some("non_retryable")),
            None,
            "zero counts are left out"
        );
        assert_eq!(
            value(get("otel.sdk.exporter.span.inflight"), None),
            Some(10)
        );
        assert_eq!(processed.unit.as_str(), "{span}");
        let logs = Stats::new(Signal::Logs, 64).to_otlp_metrics(10, 0, 0);
        assert_eq!(&*logs[0].name, "otel.sdk.processor.log.processed");
        assert!(
            Stats::new(Signal::Metrics, 1)
                .to_otlp_metrics(1, 0, 0)
                .is_empty()
        );
    }
}
