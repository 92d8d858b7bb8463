//! What the commands print: one `key=value` line per event, and the demo's table.
//!
//! Lines start with a word saying what they report (`listening`, `request`, `sent`, `partial`),
//! followed by `key=value` fields; values holding spaces are quoted, so scripts can split on
//! spaces. Every line is flushed at once, since `serve` is often read through a pipe.

use otlp_proto::{Compression, Encoding, Signal};
use otlp_receiver::{RequestSummary, Transport};
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;

/// Prints `line` on stdout and flushes it. A closed stdout is ignored: there is no one left to
/// tell, and the command's exit status still says how it went.
pub fn print_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// The OTLP protocol name of a transport and encoding: `grpc`, `http/protobuf`, `http/json`,
/// or `otap` (OTLP/Arrow).
pub fn protocol_name(transport: Transport, encoding: Encoding) -> &'static str {
    match (transport, encoding) {
        (Transport::Grpc, _) => "grpc",
        (Transport::Otap, _) => "otap",
        (Transport::Http, Encoding::Protobuf) => "http/protobuf",
        (Transport::Http, Encoding::Json) => "http/json",
    }
}

/// `value` as a field value: as it is when it is a plain word, otherwise quoted with `"` and `\`
/// escaped, so that a line always splits into fields on spaces.
pub fn field_value(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && c != '"' && c != '\\');
    if plain {
        return value.to_owned();
    }
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(quoted, "\\u{{{:x}}}", u32::from(c));
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// `listening grpc=127.0.0.1:4317 http=127.0.0.1:4318`: where `serve` accepts requests (`off`
/// for a transport that is not served).
pub fn listening_line(grpc: Option<SocketAddr>, http: Option<SocketAddr>) -> String {
    let addr = |a: Option<SocketAddr>| a.map_or_else(|| "off".to_owned(), |a| a.to_string());
    format!("listening grpc={} http={}", addr(grpc), addr(http))
}

/// One request `serve` answered:
/// `request signal=traces items=3 bytes=412 protocol=grpc compression=gzip outcome=ok`, with
/// `outcome=partial rejected=N` or `outcome=error message="..."` when it did not go well.
pub fn request_line(s: &RequestSummary) -> String {
    let mut line = format!(
        "request signal={} items={} bytes={} protocol={} compression={} outcome=",
        s.signal,
        s.items,
        s.wire_bytes,
        protocol_name(s.transport, s.encoding),
        s.compression,
    );
    match &s.outcome {
        Ok(()) if s.rejected > 0 => {
            let _ = write!(line, "partial rejected={}", s.rejected);
        }
        Ok(()) => line.push_str("ok"),
        Err(message) => {
            let _ = write!(line, "error message={}", field_value(message));
        }
    }
    line
}

/// `stopped requests=N`: printed by `serve` once it has shut down.
pub fn stopped_line(requests: u64) -> String {
    format!("stopped requests={requests}")
}

/// One request `send` exported:
/// `sent signal=traces items=3 attempts=1 source=traces.jsonl:1`.
pub fn sent_line(signal: Signal, items: usize, attempts: u32, source: &str) -> String {
    format!(
        "sent signal={signal} items={items} attempts={attempts} source={}",
        field_value(source)
    )
}

/// A partial success the server answered an export of `send` with:
/// `partial signal=logs rejected=2 message="too old" source=logs.jsonl:3`.
pub fn partial_line(signal: Signal, rejected: i64, message: &str, source: &str) -> String {
    format!(
        "partial signal={signal} rejected={rejected} message={} source={}",
        field_value(message),
        field_value(source)
    )
}

/// The totals `send` ends with: `done requests=4 items=14 rejected=0`.
pub fn send_done_line(requests: usize, items: usize, rejected: i64) -> String {
    format!("done requests={requests} items={items} rejected={rejected}")
}

/// One row of the demo's table: one signal sent through one protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoRow {
    /// The signal sent.
    pub signal: Signal,
    /// The protocol name (`grpc`, `http/protobuf`, `http/json`).
    pub protocol: &'static str,
    /// The compression used.
    pub compression: Compression,
    /// Items in the request sent.
    pub sent: usize,
    /// Items in the request that arrived (0 if none did).
    pub received: usize,
    /// `None` when what arrived equals what was sent; otherwise what went wrong.
    pub problem: Option<String>,
}

/// The demo's table, one row per export, with aligned columns:
///
/// ```text
/// signal    protocol       compression  sent  received  ok
/// traces    grpc           gzip            3         3  ok
/// ```
///
/// A row that failed ends with `FAILED: <problem>`.
pub fn demo_table(rows: &[DemoRow]) -> String {
    const HEADER: [&str; 6] = [
        "signal",
        "protocol",
        "compression",
        "sent",
        "received",
        "ok",
    ];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.signal.to_string(),
                r.protocol.to_owned(),
                r.compression.to_string(),
                r.sent.to_string(),
                r.received.to_string(),
                match &r.problem {
                    None => "ok".to_owned(),
                    Some(p) => format!("FAILED: {p}"),
                },
            ]
        })
        .collect();
    let mut widths = HEADER.map(str::len);
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut table = String::new();
    let mut push_row = |row: [&str; 6]| {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            match i {
                // Counts are right-aligned, the last column is not padded.
                3 | 4 => {
                    let _ = write!(line, "{cell:>width$}  ");
                }
                5 => line.push_str(cell),
                _ => {
                    let _ = write!(line, "{cell:<width$}  ");
                }
            }
        }
        table.push_str(line.trim_end());
        table.push('\n');
    };
    push_row(HEADER);
    for row in &cells {
        push_row(row.each_ref().map(String::as_str));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_values_are_quoted_only_when_needed() {
        assert_eq!(field_value("ok"), "ok");
        assert_eq!(field_value("traces.jsonl:3"), "traces.jsonl:3");
        assert_eq!(field_value(""), r#""""#);
        assert_eq!(field_value("a b"), r#""a b""#);
        assert_eq!(field_value("say \"hi\"\n"), r#""say \"hi\"\n""#);
    }

    #[test]
    fn listening_line_is_stable() {
        let grpc: SocketAddr = ([127, 0, 0, 1], 4317).into();
        let http: SocketAddr = ([127, 0, 0, 1], 4318).into();
        assert_eq!(
            listening_line(Some(grpc), Some(http)),
            "listening grpc=127.0.0.1:4317 http=127.0.0.1:4318"
        );
        assert_eq!(
            listening_line(None, Some(http)),
            "listening grpc=off http=127.0.0.1:4318"
        );
    }

    #[test]
    fn send_lines() {
        assert_eq!(
            sent_line(Signal::Logs, 3, 2, "dir/logs.jsonl:7"),
            "sent signal=logs items=3 attempts=2 source=dir/logs.jsonl:7"
        );
        assert_eq!(
            partial_line(Signal::Traces, 1, "too old", "t.jsonl:1"),
            r#"partial signal=traces rejected=1 message="too old" source=t.jsonl:1"#
        );
    }

    #[test]
    fn table_columns_line_up() {
        let rows = [
            DemoRow {
                signal: Signal::Traces,
                protocol: "grpc",
                compression: Compression::Gzip,
                sent: 3,
                received: 3,
                problem: None,
            },
            DemoRow {
                signal: Signal::Profiles,
                protocol: "http/protobuf",
                compression: Compression::Zstd,
                sent: 1,
                received: 0,
                problem: Some("nothing arrived".into()),
            },
        ];
        let table = demo_table(&rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[0],
            "signal    protocol       compression  sent  received  ok"
        );
        assert_eq!(
            lines[1],
            "traces    grpc           gzip            3         3  ok"
        );
        assert_eq!(
            lines[2],
            "profiles  http/protobuf  zstd            1         0  FAILED: nothing arrived"
        );
    }
}
