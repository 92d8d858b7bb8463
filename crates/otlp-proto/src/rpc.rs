//! `google.rpc.Status` and `google.rpc.RetryInfo`: the details a gRPC server attaches to an error
//! (in the `grpc-status-details-bin` trailer) and an OTLP/HTTP server puts in an error body.

use crate::{Str, message};
use bytes::Bytes;
use std::time::Duration as StdDuration;

/// `type_url` of a packed [`RetryInfo`].
pub const RETRY_INFO_TYPE_URL: &str = "type.googleapis.com/google.rpc.RetryInfo";

message! {
    /// `google.rpc.Status`.
    Status {
        /// gRPC status code.
        code: i32 = 1 => int32 "code";
        /// Developer-facing message.
        message: Str = 2 => string "message";
        /// Packed detail messages.
        details: Vec<Any> = 3 => repeated "details";
    }
}

message! {
    /// `google.protobuf.Any`.
    Any {
        /// Type of the packed message.
        type_url: Str = 1 => string "typeUrl";
        /// The packed message.
        value: Bytes = 2 => bytes "value";
    }
}

message! {
    /// `google.rpc.RetryInfo`: how long to wait before retrying.
    RetryInfo {
        /// The delay.
        retry_delay: Option<Duration> = 1 => message "retryDelay";
    }
}

message! {
    /// `google.protobuf.Duration`.
    Duration {
        /// Whole seconds.
        seconds: i64 = 1 => int64 "seconds";
        /// Nanoseconds.
        nanos: i32 = 2 => int32 "nanos";
    }
}

impl Status {
    /// The retry delay from a packed `RetryInfo` detail, if the status carries one.
    pub fn retry_delay(&self) -> Option<StdDuration> {
        use crate::Message;
        self.details
            .iter()
            .filter(|d| &*d.type_url == RETRY_INFO_TYPE_URL)
            .find_map(|d| RetryInfo::decode(&d.value).ok()?.retry_delay)
            .map(|d| {
                StdDuration::from_secs(d.seconds.max(0) as u64)
                    + StdDuration::from_nanos(d.nanos.max(0) as u64)
            })
    }

    /// A status with a `RetryInfo` detail asking the client to wait `delay`.
    pub fn with_retry_delay(code: i32, message: impl Into<Str>, delay: StdDuration) -> Self {
        use crate::Message;
        let info = RetryInfo {
            retry_delay: Some(Duration {
                seconds: delay.as_secs() as i64,
                nanos: delay.subsec_nanos() as i32,
            }),
        };
        Status {
            code,
            message: message.into(),
            details: vec![Any {
                type_url: Str::from_static(RETRY_INFO_TYPE_URL),
                value: info.encode_to_bytes(),
            }],
        }
    }
}
