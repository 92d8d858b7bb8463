//! The traces side of a client: its [`SignalHub`] (the one traces pipeline, started with the
//! first tracer) and its tracers, one per instrumentation scope. The client asks it for
//! tracers and registers its hub; the encoder and the record pool's sizing stay in here.

use super::export::TraceEncoder;
use super::limits::SpanLimits;
use super::record::{RecordedSpan, pool_for_queue};
use super::sampler::Sampler;
use super::tracer::{ScopeId, Tracer};
use crate::hub::{Component, SignalHub};
use crate::pipeline::{AdaptiveBatchConfig, Pipeline};
use crate::scopes::Scopes;
use crate::{Exporter, Signal};
use otlp_proto::Str;
use otlp_proto::resource::Resource;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

/// A client's tracers and traces pipeline.
pub(crate) struct Traces {
    hub: Arc<SignalHub<RecordedSpan>>,
    scopes: Arc<Scopes>,
    sampler: Arc<Sampler>,
    limits: SpanLimits,
    /// One tracer per scope: asking twice gives the same one.
    tracers: Mutex<Vec<Tracer>>,
}

impl Traces {
    /// The traces side of a client exporting through `exporter` under `resource`; `config` is
    /// validated by the caller.
    pub(crate) fn new(
        exporter: Exporter,
        resource: Resource,
        scopes: Arc<Scopes>,
        sampler: Sampler,
        limits: SpanLimits,
        config: AdaptiveBatchConfig,
    ) -> Traces {
        let encoder_scopes = scopes.clone();
        let start = Box::new(move |config: &AdaptiveBatchConfig| {
            // The pool keeps as many records as a full queue holds (see `record.rs`).
            pool_for_queue(config.max_queue_size());
            let encoder = TraceEncoder::new(resource.clone(), encoder_scopes.clone());
            Pipeline::new(exporter.clone(), encoder, config.clone())
        });
        Traces {
            hub: Arc::new(SignalHub::new(Signal::Traces, config, start)),
            scopes,
            sampler: Arc::new(sampler),
            limits,
            tracers: Mutex::new(Vec::new()),
        }
    }

    /// The hub, as the client registers it.
    pub(crate) fn component(&self) -> Arc<dyn Component> {
        self.hub.clone()
    }

    /// The sampler of every tracer.
    pub(crate) fn sampler(&self) -> &Sampler {
        &self.sampler
    }

    /// The span limits of every tracer.
    pub(crate) fn limits(&self) -> SpanLimits {
        self.limits
    }

    /// The tracer of scope `name`/`version`/`schema_url`, made on first request. After a
    /// shutdown (or when the pipeline cannot start), a tracer of a new scope is a no-op.
    pub(crate) fn tracer(
        &self,
        name: Str,
        version: Option<Str>,
        schema_url: Option<Str>,
    ) -> Tracer {
        let mut tracers = self.tracers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(t) = tracers.iter().find(|t| {
            t.name() == name.as_str()
                && t.version() == version.as_deref()
                && t.schema_url() == schema_url.as_deref()
        }) {
            return t.clone();
        }
        if self.hub.is_closed() {
            return Tracer::noop();
        }
        let Some(pipeline) = self.hub.pipeline() else {
            return Tracer::noop();
        };
        let index = self
            .scopes
            .register(name.clone(), version.clone(), schema_url.clone());
        let tracer = Tracer::new(
            ScopeId {
                name,
                version,
                schema_url,
                index,
            },
            self.sampler.clone(),
            self.limits,
            pipeline.clone(),
        );
        tracers.push(tracer.clone());
        tracer
    }
}

impl fmt::Debug for Traces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Traces")
            .field("hub", &self.hub)
            .field("sampler", &self.sampler)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}
