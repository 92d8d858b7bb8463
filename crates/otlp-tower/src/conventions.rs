//! [`RpcConventions`]: which RPC attribute names the layers write, for backends that still read
//! the names semantic conventions before v1.44 used.

use otlp_proto::common::KeyValue;
use otlp_semconv::attribute as a;

/// The variable of the semantic conventions' transition: a comma-separated list of what to
/// opt in to; `rpc/dup` asks for the old RPC names beside the new ones.
pub const STABILITY_OPT_IN: &str = "OTEL_SEMCONV_STABILITY_OPT_IN";

/// Which RPC attribute names the layers write on gRPC spans and measurements.
///
/// The default is read once, when a layer is made, from `OTEL_SEMCONV_STABILITY_OPT_IN`
/// ([`RpcConventions::from_env`]): [`Duplicate`](RpcConventions::Duplicate) when its list holds
/// `rpc/dup`, else [`Current`](RpcConventions::Current) (`rpc` asks for the current names,
/// which are the default anyway). `with_rpc_conventions` on a layer overrides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RpcConventions {
    /// The names of semantic conventions v1.44: `rpc.system.name`, `rpc.method` fully
    /// qualified (`shop.Orders/Place`), `rpc.response.status_code` (`NOT_FOUND`).
    #[default]
    Current,
    /// Those, and beside them the old names many backends still read: `rpc.system` (`grpc`),
    /// `rpc.service` (`shop.Orders`) and `rpc.grpc.status_code` (the code, an integer). The key
    /// both conventions share, `rpc.method`, keeps the current, fully-qualified value (the old
    /// one was the bare method, `Place`): one key cannot hold both, and `rpc.service` with it
    /// still gives the old pair.
    Duplicate,
}

impl RpcConventions {
    /// From `OTEL_SEMCONV_STABILITY_OPT_IN`, as a layer reads it when made.
    pub fn from_env() -> Self {
        RpcConventions::from_opt_in(std::env::var(STABILITY_OPT_IN).ok().as_deref())
    }

    /// From a value of `OTEL_SEMCONV_STABILITY_OPT_IN` (`None`: unset). Entries other than
    /// `rpc` and `rpc/dup` are other conventions' business and ignored.
    pub fn from_opt_in(value: Option<&str>) -> Self {
        let dup = value.is_some_and(|v| v.split(',').any(|entry| entry.trim() == "rpc/dup"));
        if dup {
            RpcConventions::Duplicate
        } else {
            RpcConventions::Current
        }
    }

    /// The old names of a call to the fully-qualified `method` (`package.Service/Method`).
    pub(crate) fn old_request_attributes(self, method: &str) -> Vec<KeyValue> {
        if self != RpcConventions::Duplicate {
            return Vec::new();
        }
        // Written on purpose: these are the deprecated names this switch exists for.
        #[allow(deprecated)]
        let (system, service) = (a::RPC_SYSTEM, a::RPC_SERVICE);
        let mut old = vec![KeyValue::new(system, "grpc")];
        if let Some((svc, _)) = method.rsplit_once('/') {
            old.push(KeyValue::new(service, svc.to_owned()));
        }
        old
    }

    /// The old name of a call's status: the code as an integer.
    pub(crate) fn old_status(self, code: i32) -> Option<KeyValue> {
        #[allow(deprecated)]
        let key = a::RPC_GRPC_STATUS_CODE;
        (self == RpcConventions::Duplicate).then(|| KeyValue::new(key, i64::from(code)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpc_dup_anywhere_in_the_opt_in_list_asks_for_both_names() {
        for value in [
            "rpc/dup",
            "http,rpc/dup",
            " http/dup , rpc/dup ",
            "rpc/dup,rpc",
        ] {
            assert_eq!(
                RpcConventions::from_opt_in(Some(value)),
                RpcConventions::Duplicate,
                "{value:?}"
            );
        }
    }

    #[test]
    fn anything_else_keeps_the_current_names() {
        for value in [
            None,
            Some(""),
            Some("rpc"),
            Some("http/dup"),
            Some("rpc/dupe"),
        ] {
            assert_eq!(
                RpcConventions::from_opt_in(value),
                RpcConventions::Current,
                "{value:?}"
            );
        }
    }

    #[test]
    fn the_old_names_are_written_only_when_duplicating() {
        let current = RpcConventions::Current;
        assert!(
            current
                .old_request_attributes("shop.Orders/Place")
                .is_empty()
        );
        assert_eq!(current.old_status(5), None);
        let dup = RpcConventions::Duplicate;
        assert_eq!(
            dup.old_request_attributes("shop.Orders/Place"),
            [
                KeyValue::new("rpc.system", "grpc"),
                KeyValue::new("rpc.service", "shop.Orders")
            ]
        );
        // `_OTHER` (no path): no service to name.
        assert_eq!(
            dup.old_request_attributes("_OTHER"),
            [KeyValue::new("rpc.system", "grpc")]
        );
        assert_eq!(
            dup.old_status(5),
            Some(KeyValue::new("rpc.grpc.status_code", 5i64))
        );
    }
}
