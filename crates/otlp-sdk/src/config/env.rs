//! Reading the `OTEL_EXPORTER_OTLP_*` environment variables.
//!
//! Each variable is checked here, so that a malformed value is reported with its name; what the
//! values mean together (precedence, endpoint paths) is decided in `resolve`.

use super::{HistogramAggregation, Layer, Protocol, Settings, Sourced, TemporalityPreference};
use crate::error::Error;
use otlp_proto::{Compression, Signal};
use std::path::PathBuf;
use std::time::Duration;

const PREFIX: &str = "OTEL_EXPORTER_OTLP_";

/// Reads every variable of the specification through `lookup`. Empty values count as unset.
pub(super) fn read(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Layer, Error> {
    let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    let mut layer = Layer {
        generic: read_settings(PREFIX, &get)?,
        ..Layer::default()
    };
    for signal in Signal::ALL {
        let prefix = format!("{PREFIX}{}_", signal.env_name());
        layer.signals[signal.index()] = read_settings(&prefix, &get)?;
    }
    layer.disabled = parse_var(
        &get,
        "OTEL_SDK_DISABLED",
        parse_bool,
        "expected true or false",
    )?;
    layer.temporality = parse_var(
        &get,
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
        TemporalityPreference::parse,
        "expected cumulative, delta or lowmemory",
    )?;
    layer.histogram = parse_var(
        &get,
        "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
        HistogramAggregation::parse,
        "expected explicit_bucket_histogram or base2_exponential_bucket_histogram",
    )?;
    Ok(layer)
}

fn read_settings(prefix: &str, get: &dyn Fn(&str) -> Option<String>) -> Result<Settings, Error> {
    let name = |suffix: &str| format!("{prefix}{suffix}");
    let path = |suffix: &str| {
        let var = name(suffix);
        get(&var).map(|v| Sourced {
            value: PathBuf::from(v.trim()),
            var: Some(var),
        })
    };
    let endpoint = match get(&name("ENDPOINT")) {
        Some(v) => {
            let var = name("ENDPOINT");
            let v = v.trim().to_owned();
            if v.parse::<http::Uri>().is_err() {
                return Err(Error::env(&var, &v, "expected a URL"));
            }
            Some(Sourced {
                value: v,
                var: Some(var),
            })
        }
        None => None,
    };
    Ok(Settings {
        endpoint,
        protocol: parse_var(
            get,
            &name("PROTOCOL"),
            |v| v.parse::<Protocol>().ok(),
            "expected grpc, http/protobuf, http/json or otap",
        )?,
        compression: parse_var(
            get,
            &name("COMPRESSION"),
            |v| v.parse::<Compression>().ok(),
            "expected gzip, zstd or none",
        )?,
        headers: match get(&name("HEADERS")) {
            // The value holds credentials: the error names the variable, never the value.
            Some(v) => Some(
                parse_headers(&v)
                    .map_err(|why| Error::config(format!("{}: {why}", name("HEADERS"))))?,
            ),
            None => None,
        },
        timeout: parse_var(get, &name("TIMEOUT"), parse_millis, "expected milliseconds")?,
        insecure: parse_var(get, &name("INSECURE"), parse_bool, "expected true or false")?,
        certificate: path("CERTIFICATE"),
        client_certificate: path("CLIENT_CERTIFICATE"),
        client_key: path("CLIENT_KEY"),
    })
}

fn parse_var<T>(
    get: &dyn Fn(&str) -> Option<String>,
    var: &str,
    parse: impl Fn(&str) -> Option<T>,
    expected: &str,
) -> Result<Option<T>, Error> {
    match get(var) {
        Some(v) => parse(&v)
            .map(Some)
            .ok_or_else(|| Error::env(var, &v, expected)),
        None => Ok(None),
    }
}

/// `true` or `false`, in any ASCII case.
pub(crate) fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// A non-negative whole number of milliseconds.
pub(crate) fn parse_millis(v: &str) -> Option<Duration> {
    v.trim().parse::<u64>().ok().map(Duration::from_millis)
}

/// Parses `key1=value1,key2=value2` as the specification describes (the W3C Baggage format):
/// blanks around keys and values are dropped, values are percent-decoded, empty members skipped.
///
/// The errors say which member (by position, and by name once the name is known to be one) and
/// what is wrong, and quote nothing of the text: a malformed member may be a credential.
pub(crate) fn parse_headers(v: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (i, member) in v.split(',').enumerate() {
        if member.trim().is_empty() {
            continue;
        }
        let n = i + 1;
        let Some((key, value)) = member.split_once('=') else {
            return Err(format!(
                "member {n} is not key=value (no '='; values are not shown)"
            ));
        };
        let key = key.trim();
        if http::HeaderName::from_bytes(key.as_bytes()).is_err() {
            return Err(format!(
                "member {n}: the key is not a valid header name (values are not shown)"
            ));
        }
        let value = percent_decode(value.trim())
            .map_err(|why| format!("the value of {key:?} (member {n}) {why}"))?;
        if http::HeaderValue::from_str(&value).is_err() {
            return Err(format!(
                "the value of {key:?} (member {n}) is not a valid header value"
            ));
        }
        out.push((key.to_owned(), value));
    }
    Ok(out)
}

/// Decodes `%XX` escapes; the error quotes nothing of `s`.
fn percent_decode(s: &str) -> Result<String, &'static str> {
    let raw = s.as_bytes();
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let byte = raw
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("has invalid percent-encoding")?;
            out.push(byte);
            i += 3;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "does not decode to UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read_map(vars: &[(&str, &str)]) -> Result<Layer, Error> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        read(&|name| map.get(name).cloned())
    }

    fn err_of(vars: &[(&str, &str)]) -> String {
        let err = read_map(vars).expect_err("malformed value is an error");
        assert!(err.is_config());
        err.to_string()
    }

    #[test]
    fn reads_every_generic_variable() {
        let layer = read_map(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318/base"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "api-key=s3cr%20t, tenant = acme ,,",
            ),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_INSECURE", "TRUE"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/ca.pem"),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", "/key.pem"),
            ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/cert.pem"),
            ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "Delta"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
                "base2_exponential_bucket_histogram",
            ),
            ("OTEL_SDK_DISABLED", "false"),
        ])
        .expect("valid");
        let g = &layer.generic;
        let endpoint = g.endpoint.as_ref().expect("endpoint");
        assert_eq!(endpoint.value, "https://collector:4318/base");
        assert_eq!(endpoint.var.as_deref(), Some("OTEL_EXPORTER_OTLP_ENDPOINT"));
        assert_eq!(g.protocol, Some(Protocol::HttpJson));
        assert_eq!(
            g.headers,
            Some(vec![
                ("api-key".into(), "s3cr t".into()),
                ("tenant".into(), "acme".into())
            ])
        );
        assert_eq!(g.timeout, Some(Duration::from_millis(2500)));
        assert_eq!(g.compression, Some(Compression::Gzip));
        assert_eq!(g.insecure, Some(true));
        let path = |p: &Option<Sourced<PathBuf>>| p.as_ref().map(|s| s.value.clone());
        assert_eq!(path(&g.certificate), Some("/ca.pem".into()));
        assert_eq!(path(&g.client_key), Some("/key.pem".into()));
        assert_eq!(path(&g.client_certificate), Some("/cert.pem".into()));
        assert_eq!(layer.temporality, Some(TemporalityPreference::Delta));
        assert_eq!(
            layer.histogram,
            Some(HistogramAggregation::Base2Exponential)
        );
        assert_eq!(layer.disabled, Some(false));
        assert!(layer.signals.iter().all(|s| *s == Settings::default()));
    }

    #[test]
    fn reads_every_per_signal_variable_of_every_signal() {
        for signal in Signal::ALL {
            let n = signal.env_name();
            let var = |s: &str| format!("OTEL_EXPORTER_OTLP_{n}_{s}");
            let vars = [
                (var("ENDPOINT"), "http://x:1/p".to_string()),
                (var("PROTOCOL"), "grpc".into()),
                (var("HEADERS"), "k=v".into()),
                (var("TIMEOUT"), "7".into()),
                (var("COMPRESSION"), "zstd".into()),
                (var("INSECURE"), "false".into()),
                (var("CERTIFICATE"), "ca".into()),
                (var("CLIENT_KEY"), "key".into()),
                (var("CLIENT_CERTIFICATE"), "cert".into()),
            ];
            let borrowed: Vec<(&str, &str)> =
                vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let layer = read_map(&borrowed).expect("valid");
            assert_eq!(layer.generic, Settings::default());
            for other in Signal::ALL {
                let s = &layer.signals[other.index()];
                if other != signal {
                    assert_eq!(*s, Settings::default());
                    continue;
                }
                assert_eq!(
                    s.endpoint.as_ref().map(|e| e.value.as_str()),
                    Some("http://x:1/p")
                );
                assert_eq!(
                    s.endpoint.as_ref().and_then(|e| e.var.clone()),
                    Some(var("ENDPOINT"))
                );
                assert_eq!(s.protocol, Some(Protocol::Grpc));
                assert_eq!(s.headers, Some(vec![("k".into(), "v".into())]));
                assert_eq!(s.timeout, Some(Duration::from_millis(7)));
                assert_eq!(s.compression, Some(Compression::Zstd));
                assert_eq!(s.insecure, Some(false));
                assert_eq!(
                    s.certificate.as_ref().map(|c| c.value.clone()),
                    Some("ca".into())
                );
                assert_eq!(
                    s.client_key.as_ref().map(|c| c.value.clone()),
                    Some("key".into())
                );
                assert_eq!(
                    s.client_certificate.as_ref().map(|c| c.value.clone()),
                    Some("cert".into())
                );
            }
        }
    }

    #[test]
    fn empty_values_are_unset() {
        let layer = read_map(&[
            ("OTEL_EXPORTER_OTLP_TIMEOUT", ""),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "  "),
            ("OTEL_SDK_DISABLED", ""),
        ])
        .expect("valid");
        assert_eq!(layer, Layer::default());
    }

    #[test]
    fn malformed_values_name_the_variable_and_the_value() {
        assert_eq!(
            err_of(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "ten")]),
            r#"OTEL_EXPORTER_OTLP_TIMEOUT="ten": expected milliseconds"#
        );
        assert_eq!(
            err_of(&[("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "-1")]),
            r#"OTEL_EXPORTER_OTLP_LOGS_TIMEOUT="-1": expected milliseconds"#
        );
        let cases = [
            (
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                "http",
                "expected grpc, http/protobuf, http/json or otap",
            ),
            (
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                "thrift",
                "expected grpc",
            ),
            (
                "OTEL_EXPORTER_OTLP_COMPRESSION",
                "brotli",
                "expected gzip, zstd or none",
            ),
            (
                "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
                "lz4",
                "expected gzip",
            ),
            (
                "OTEL_EXPORTER_OTLP_INSECURE",
                "yes",
                "expected true or false",
            ),
            (
                "OTEL_EXPORTER_OTLP_PROFILES_INSECURE",
                "1",
                "expected true or false",
            ),
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "http://exa mple",
                "expected a URL",
            ),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://[::1",
                "expected a URL",
            ),
            ("OTEL_SDK_DISABLED", "on", "expected true or false"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                "both",
                "expected cumulative",
            ),
            (
                "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
                "x",
                "expected explicit",
            ),
        ];
        for (var, value, expected) in cases {
            let msg = err_of(&[(var, value)]);
            assert!(msg.starts_with(&format!("{var}={value:?}: ")), "{msg}");
            assert!(msg.contains(expected), "{msg}");
        }
    }

    #[test]
    fn malformed_headers_name_the_variable_and_the_problem_but_not_the_value() {
        let cases = [
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "a=1,s3cr3t",
                "member 2 is not key=value",
            ),
            (
                "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
                "Bearer s3cr3t=v",
                "member 1: the key is not a valid header name",
            ),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "k=s3cr3t%zz",
                r#"the value of "k" (member 1) has invalid percent-encoding"#,
            ),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "k=s3cr3t%e9",
                "does not decode to UTF-8",
            ),
            (
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                "k=s3cr3t%0A",
                r#"the value of "k" (member 1) is not a valid header value"#,
            ),
        ];
        for (var, value, expected) in cases {
            let msg = err_of(&[(var, value)]);
            assert!(msg.starts_with(&format!("{var}: ")), "{msg}");
            assert!(msg.contains(expected), "{msg}");
            assert!(!msg.contains("s3cr3t"), "{msg}");
        }
    }

    #[test]
    fn sdk_disabled_is_read() {
        assert_eq!(
            read_map(&[("OTEL_SDK_DISABLED", "True")])
                .expect("valid")
                .disabled,
            Some(true)
        );
    }

    #[test]
    fn headers_follow_the_baggage_format() {
        assert_eq!(
            parse_headers("a=1,b=x%3Dy%2Cz, c = two words ").expect("valid"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x=y,z".into()),
                ("c".into(), "two words".into())
            ]
        );
        assert_eq!(
            parse_headers("k=").expect("valid"),
            vec![("k".into(), String::new())]
        );
        assert!(parse_headers("=v").is_err());
        assert!(parse_headers("k=%e9").is_err());
        assert_eq!(parse_headers("k=%C3%A9").expect("valid")[0].1, "\u{e9}");
    }
}
