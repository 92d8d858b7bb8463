//! What a request says about its call, per the HTTP and RPC semantic conventions: the span's
//! name and attributes, and the (fewer, low-cardinality) attributes of its duration.

use crate::call::Side;
use crate::conventions::RpcConventions;
use http::{HeaderMap, Method, Request, Uri, Version};
use otlp_proto::common::KeyValue;
use otlp_semconv::attribute as a;

/// HTTP, or gRPC over it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Http,
    Grpc,
}

/// A request's contribution to its call.
#[derive(Debug)]
pub(crate) struct RequestInfo {
    pub(crate) protocol: Protocol,
    pub(crate) span_name: String,
    pub(crate) span_attributes: Vec<KeyValue>,
    pub(crate) metric_attributes: Vec<KeyValue>,
}

/// The methods the conventions know; others are `_OTHER` (with the original beside it).
fn known_method(method: &Method) -> Option<&'static str> {
    Some(match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::CONNECT => "CONNECT",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::PATCH => "PATCH",
        _ => return None,
    })
}

fn protocol_version(version: Version) -> Option<&'static str> {
    Some(match version {
        Version::HTTP_10 => "1.0",
        Version::HTTP_11 => "1.1",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => return None,
    })
}

/// Whether the request is a gRPC call (`content-type: application/grpc`, `+proto`, ...).
fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

/// `host[:port]` of the request: the URI's authority (HTTP/2's `:authority`, a client's
/// absolute URI), else the `Host` header.
fn authority<B>(request: &Request<B>) -> Option<(String, Option<u16>)> {
    if let Some(auth) = request.uri().authority() {
        return Some((auth.host().to_owned(), auth.port_u16()));
    }
    let host = request.headers().get(http::header::HOST)?.to_str().ok()?;
    let auth: http::uri::Authority = host.parse().ok()?;
    Some((auth.host().to_owned(), auth.port_u16()))
}

/// The URI without user info (the conventions forbid credentials in `url.full`).
fn full_url(uri: &Uri) -> String {
    match uri.authority() {
        Some(auth) if auth.as_str().contains('@') => {
            let host_port = auth.as_str().rsplit('@').next().unwrap_or_default();
            let scheme = uri.scheme_str().unwrap_or("http");
            let path = uri.path_and_query().map_or("/", |p| p.as_str());
            format!("{scheme}://{host_port}{path}")
        }
        _ => uri.to_string(),
    }
}

/// What the framework says of a request beyond the request itself (servers): the matched
/// route template and the peer's address.
#[derive(Debug, Default)]
pub(crate) struct Framework {
    pub(crate) route: Option<String>,
    pub(crate) peer: Option<std::net::IpAddr>,
}

/// Reads `request`, on `side`, with what its framework says of it; a gRPC call's attributes
/// by `rpc`.
pub(crate) fn describe<B>(
    request: &Request<B>,
    side: Side,
    framework: &Framework,
    rpc: RpcConventions,
) -> RequestInfo {
    let route = framework.route.as_deref();
    let mut span = Vec::with_capacity(10);
    let mut metric = Vec::with_capacity(6);
    let version = protocol_version(request.version());
    if is_grpc(request.headers()) {
        // `/package.Service/Method`: the fully-qualified method the conventions name.
        let method = request.uri().path().trim_start_matches('/').to_owned();
        let method = if method.is_empty() {
            "_OTHER".to_owned()
        } else {
            method
        };
        for list in [&mut span, &mut metric] {
            list.push(KeyValue::new(a::RPC_SYSTEM_NAME, "grpc"));
            list.push(KeyValue::new(a::RPC_METHOD, method.clone()));
            list.extend(rpc.old_request_attributes(&method));
        }
        if side == Side::Client
            && let Some((host, port)) = authority(request)
        {
            for list in [&mut span, &mut metric] {
                list.push(KeyValue::new(a::SERVER_ADDRESS, host.clone()));
                if let Some(port) = port {
                    list.push(KeyValue::new(a::SERVER_PORT, i64::from(port)));
                }
            }
        }
        return RequestInfo {
            protocol: Protocol::Grpc,
            span_name: method,
            span_attributes: span,
            metric_attributes: metric,
        };
    }

    let method = known_method(request.method());
    let method_name = method.unwrap_or("_OTHER");
    for list in [&mut span, &mut metric] {
        list.push(KeyValue::new(a::HTTP_REQUEST_METHOD, method_name));
        if let Some(v) = version {
            list.push(KeyValue::new(a::NETWORK_PROTOCOL_VERSION, v));
        }
    }
    if method.is_none() {
        span.push(KeyValue::new(
            a::HTTP_REQUEST_METHOD_ORIGINAL,
            request.method().as_str().to_owned(),
        ));
    }
    let span_name = match side {
        Side::Server => {
            let uri = request.uri();
            let scheme = uri.scheme_str().unwrap_or("http").to_owned();
            span.push(KeyValue::new(a::URL_PATH, uri.path().to_owned()));
            if let Some(q) = uri.query() {
                span.push(KeyValue::new(a::URL_QUERY, q.to_owned()));
            }
            span.push(KeyValue::new(a::URL_SCHEME, scheme.clone()));
            metric.push(KeyValue::new(a::URL_SCHEME, scheme));
            if let Some((host, port)) = authority(request) {
                span.push(KeyValue::new(a::SERVER_ADDRESS, host));
                if let Some(port) = port {
                    span.push(KeyValue::new(a::SERVER_PORT, i64::from(port)));
                }
            }
            if let Some(peer) = framework.peer {
                span.push(KeyValue::new(a::CLIENT_ADDRESS, peer.to_string()));
            }
            if let Some(route) = route {
                for list in [&mut span, &mut metric] {
                    list.push(KeyValue::new(a::HTTP_ROUTE, route.to_owned()));
                }
                format!("{method_name} {route}")
            } else {
                method_name.to_owned()
            }
        }
        Side::Client => {
            span.push(KeyValue::new(a::URL_FULL, full_url(request.uri())));
            if let Some((host, port)) = authority(request) {
                for list in [&mut span, &mut metric] {
                    list.push(KeyValue::new(a::SERVER_ADDRESS, host.clone()));
                    if let Some(port) = port {
                        list.push(KeyValue::new(a::SERVER_PORT, i64::from(port)));
                    }
                }
            }
            method_name.to_owned()
        }
    };
    if let Some(agent) = request
        .headers()
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    {
        span.push(KeyValue::new(a::USER_AGENT_ORIGINAL, agent.to_owned()));
    }
    RequestInfo {
        protocol: Protocol::Http,
        span_name,
        span_attributes: span,
        metric_attributes: metric,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otlp_proto::common::AnyValue;

    fn get<'a>(list: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
        list.iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref())
    }

    #[test]
    fn a_server_request_by_the_http_conventions() {
        let request = Request::get("/users/7?full=1")
            .header("host", "api.example.com:8080")
            .header("user-agent", "curl/8")
            .body(())
            .expect("request");
        let framework = Framework {
            route: Some("/users/{id}".to_owned()),
            peer: Some(std::net::Ipv4Addr::new(10, 0, 0, 7).into()),
        };
        let info = describe(&request, Side::Server, &framework, RpcConventions::Current);
        assert_eq!(info.span_name, "GET /users/{id}");
        let s = &info.span_attributes;
        assert_eq!(get(s, a::URL_PATH), Some(&AnyValue::from("/users/7")));
        assert_eq!(get(s, a::URL_QUERY), Some(&AnyValue::from("full=1")));
        assert_eq!(
            get(s, a::SERVER_ADDRESS),
            Some(&AnyValue::from("api.example.com"))
        );
        assert_eq!(get(s, a::SERVER_PORT), Some(&AnyValue::from(8080i64)));
        assert_eq!(
            get(s, a::USER_AGENT_ORIGINAL),
            Some(&AnyValue::from("curl/8"))
        );
        let keys: Vec<&str> = info.metric_attributes.iter().map(|kv| &*kv.key).collect();
        assert_eq!(
            keys,
            [
                a::HTTP_REQUEST_METHOD,
                a::NETWORK_PROTOCOL_VERSION,
                a::URL_SCHEME,
                a::HTTP_ROUTE
            ],
            "no path, query or address in the measurement: unbounded cardinality"
        );
    }

    #[test]
    fn unknown_methods_and_credentials() {
        let request = Request::builder()
            .method("PURGE")
            .uri("https://user:secret@cache.example.com/a?b=c")
            .body(())
            .expect("request");
        let info = describe(
            &request,
            Side::Client,
            &Framework::default(),
            RpcConventions::Current,
        );
        assert_eq!(info.span_name, "_OTHER");
        let s = &info.span_attributes;
        assert_eq!(
            get(s, a::HTTP_REQUEST_METHOD_ORIGINAL),
            Some(&AnyValue::from("PURGE"))
        );
        assert_eq!(
            get(s, a::URL_FULL),
            Some(&AnyValue::from("https://cache.example.com/a?b=c"))
        );
    }

    #[test]
    fn grpc_calls_by_the_rpc_conventions() {
        let request = Request::post("http://orders.internal:50051/shop.Orders/Place")
            .header("content-type", "application/grpc+proto")
            .body(())
            .expect("request");
        let info = describe(
            &request,
            Side::Client,
            &Framework::default(),
            RpcConventions::Current,
        );
        assert_eq!(info.span_name, "shop.Orders/Place");
        let s = &info.span_attributes;
        assert_eq!(get(s, a::RPC_SYSTEM_NAME), Some(&AnyValue::from("grpc")));
        assert_eq!(
            get(s, a::RPC_METHOD),
            Some(&AnyValue::from("shop.Orders/Place"))
        );
        assert_eq!(get(s, a::SERVER_PORT), Some(&AnyValue::from(50051i64)));
        assert_eq!(get(s, "rpc.system"), None, "the old names only on request");
        assert_eq!(get(s, "rpc.service"), None);
    }

    #[test]
    fn grpc_calls_with_the_old_rpc_names_beside_the_new() {
        let request = Request::post("http://orders.internal:50051/shop.Orders/Place")
            .header("content-type", "application/grpc")
            .body(())
            .expect("request");
        let info = describe(
            &request,
            Side::Server,
            &Framework::default(),
            RpcConventions::Duplicate,
        );
        for list in [&info.span_attributes, &info.metric_attributes] {
            assert_eq!(get(list, a::RPC_SYSTEM_NAME), Some(&AnyValue::from("grpc")));
            assert_eq!(get(list, "rpc.system"), Some(&AnyValue::from("grpc")));
            assert_eq!(
                get(list, "rpc.service"),
                Some(&AnyValue::from("shop.Orders"))
            );
            // The shared key keeps the current, fully-qualified value.
            assert_eq!(
                get(list, a::RPC_METHOD),
                Some(&AnyValue::from("shop.Orders/Place"))
            );
        }
    }
}
