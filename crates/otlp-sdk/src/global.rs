//! A process-wide [`OtlpClient`], for code that cannot be handed one.
//!
//! Libraries call [`tracer`] to instrument themselves; the application builds a client and
//! [`set_client`]s it at start-up, and [`shutdown`]s it before it exits.
//!
//! ```no_run
//! use otlp::{ClientConfig, OtlpClient};
//! use std::time::Duration;
//!
//! # async fn demo() -> Result<(), otlp::Error> {
//! otlp::global::set_client(OtlpClient::new(ClientConfig::new()).await?);
//!
//! // Anywhere in the program:
//! otlp::global::tracer("checkout").in_span("load cart", |_span| {});
//!
//! otlp::global::shutdown(Duration::from_secs(5)).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Until a client is set, [`tracer`] gives a no-op tracer ([`Tracer::noop`]): its spans record
//! nothing, but still take their parent's trace id and flags, so that a context extracted
//! from a request and made current is passed on. A tracer obtained that way stays a no-op
//! after a client is set: ask again.

use crate::trace::Tracer;
use crate::{Error, OtlpClient};
use otlp_proto::Str;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

static CLIENT: RwLock<Option<OtlpClient>> = RwLock::new(None);

/// Makes `client` the global client, giving back the one set before, if any (which keeps
/// running: shut it down if it is no longer wanted).
pub fn set_client(client: OtlpClient) -> Option<OtlpClient> {
    CLIENT
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .replace(client)
}

/// The global client, if one is set.
pub fn client() -> Option<OtlpClient> {
    CLIENT
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// A tracer of the global client for the instrumentation scope `name`, or a no-op tracer that
/// still propagates contexts when no client is set.
pub fn tracer(name: impl Into<Str>) -> Tracer {
    match client() {
        Some(c) => c.tracer(name),
        None => Tracer::noop(),
    }
}

/// Takes the global client out and [shuts it down](OtlpClient::shutdown) within `timeout`.
/// Tracers asked for afterwards are no-ops. Without a global client, does nothing.
pub async fn shutdown(timeout: Duration) -> Result<(), Error> {
    let taken = CLIENT
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    match taken {
        Some(c) => c.shutdown(timeout).await,
        None => Ok(()),
    }
}

/// [`shutdown`], blocking the calling thread.
pub fn shutdown_blocking(timeout: Duration) -> Result<(), Error> {
    crate::blocking::block_on(shutdown(timeout))
}
