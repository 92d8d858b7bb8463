//! What the Collector's Prometheus exporter serves: a scrape of `GET /metrics` in the text
//! exposition format (version 0.0.4, the format served without an `Accept` header), parsed into
//! its `# TYPE` and `# HELP` lines and its samples.

use crate::http_request;
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// One sample line: `name{label="value",...} value [timestamp]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The sample's name (for a histogram, with its `_bucket`, `_sum` or `_count` suffix).
    pub name: String,
    /// Its labels, unescaped.
    pub labels: BTreeMap<String, String>,
    /// Its value (`+Inf`, `-Inf` and `NaN` included).
    pub value: f64,
}

/// A parsed exposition.
#[derive(Debug, Clone, Default)]
pub struct Exposition {
    /// `# TYPE` lines: metric family name -> type (`counter`, `gauge`, `histogram`, ...).
    pub types: BTreeMap<String, String>,
    /// `# HELP` lines: metric family name -> help text, unescaped.
    pub helps: BTreeMap<String, String>,
    /// Every sample, in the order served.
    pub samples: Vec<Sample>,
}

/// `GET /metrics` from the exporter at `addr`, parsed. Errors name the status or the line that
/// did not parse.
pub fn scrape(addr: SocketAddr) -> Result<Exposition, String> {
    let (status, body) =
        http_request(addr, "GET", "/metrics", "", b"").map_err(|e| format!("GET /metrics: {e}"))?;
    let text = String::from_utf8(body).map_err(|e| format!("GET /metrics: not UTF-8: {e}"))?;
    if status != 200 {
        return Err(format!("GET /metrics: status {status}: {text}"));
    }
    Exposition::parse(&text)
}

impl Exposition {
    /// Parses the text format; the error names the first line that does not parse.
    pub fn parse(text: &str) -> Result<Exposition, String> {
        let mut out = Exposition::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            let bad = |why: &str| format!("line {}: {why}: {line:?}", i + 1);
            if line.is_empty() {
                continue;
            }
            if let Some(comment) = line.strip_prefix('#') {
                let mut words = comment.trim_start().splitn(3, ' ');
                match (words.next(), words.next(), words.next()) {
                    (Some("TYPE"), Some(name), Some(kind)) => {
                        out.types.insert(name.to_owned(), kind.trim().to_owned());
                    }
                    (Some("HELP"), Some(name), help) => {
                        out.helps
                            .insert(name.to_owned(), unescape(help.unwrap_or_default(), false));
                    }
                    _ => {} // any other comment
                }
                continue;
            }
            let name_end = line
                .find(|c: char| c == '{' || c.is_whitespace())
                .ok_or_else(|| bad("no value"))?;
            let name = line[..name_end].to_owned();
            let mut rest = &line[name_end..];
            let mut labels = BTreeMap::new();
            if let Some(after) = rest.strip_prefix('{') {
                let (parsed, tail) = parse_labels(after).map_err(|e| bad(&e))?;
                labels = parsed;
                rest = tail;
            }
            let value = rest
                .split_whitespace()
                .next()
                .ok_or_else(|| bad("no value"))?;
            let value = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                "NaN" => f64::NAN,
                v => v.parse().map_err(|_| bad("the value is not a number"))?,
            };
            out.samples.push(Sample {
                name,
                labels,
                value,
            });
        }
        Ok(out)
    }

    /// The samples named `name` whose labels include every `(label, value)` of `labels`.
    pub fn find<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&str, &str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).is_some_and(|got| got == v))
        })
    }

    /// The value of the one sample named `name` with `labels` (see [`Exposition::find`]); an
    /// error if there is none or more than one.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Result<f64, String> {
        let found: Vec<&Sample> = self.find(name, labels).collect();
        match found[..] {
            [one] => Ok(one.value),
            [] => Err(format!("no sample {name} with {labels:?}")),
            _ => Err(format!(
                "{} samples {name} with {labels:?}: {found:?}",
                found.len()
            )),
        }
    }
}

/// Parses `key="value",...}` (after the opening brace); returns the labels and what follows
/// the closing brace.
fn parse_labels(mut s: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix('}') {
            return Ok((labels, rest));
        }
        let eq = s.find('=').ok_or("a label without '='")?;
        let key = s[..eq].trim().to_owned();
        let quoted = s[eq + 1..].trim_start();
        let body = quoted
            .strip_prefix('"')
            .ok_or("a label value without quotes")?;
        // The value ends at the first quote not escaped by a backslash.
        let mut end = None;
        let mut escaped = false;
        for (i, c) in body.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let end = end.ok_or("an unterminated label value")?;
        labels.insert(key, unescape(&body[..end], true));
        s = body[end + 1..].trim_start();
        s = s.strip_prefix(',').unwrap_or(s);
    }
}

/// Undoes the format's escapes: `\\` and `\n` everywhere, `\"` in label values only.
fn unescape(s: &str, quotes: bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('\\') => out.push('\\'),
            Some('"') if quotes => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_types_helps_labels_and_special_values() {
        let text = "# HELP a_total Requests \\\\ served\n# TYPE a_total counter\n\
                    a_total{route=\"/a\",q=\"x\\\"y\\\\z\\n\"} 7\n\
                    h_bucket{le=\"+Inf\"} 3 1700000000000\n\
                    g 1e+06\nn NaN\n";
        let e = Exposition::parse(text).expect("parses");
        assert_eq!(e.types["a_total"], "counter");
        assert_eq!(e.helps["a_total"], "Requests \\ served");
        assert_eq!(e.value("a_total", &[("route", "/a")]), Ok(7.0));
        assert_eq!(e.samples[0].labels["q"], "x\"y\\z\n");
        assert_eq!(e.value("h_bucket", &[("le", "+Inf")]), Ok(3.0));
        assert_eq!(e.value("g", &[]), Ok(1e6));
        assert!(e.value("n", &[]).expect("NaN").is_nan());
        assert!(e.value("a_total", &[("route", "/b")]).is_err());
        assert!(Exposition::parse("x{a=\"1} 2\n").is_err());
        assert!(Exposition::parse("x{a=\"1\"} two\n").is_err());
    }
}
