//! [`ExportOutcome`]: what an export the server accepted reports.

/// What an export that the server accepted reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExportOutcome {
    /// Items (spans, data points, log records, profiles) the server rejected in a partial
    /// success; 0 when everything was accepted.
    pub rejected: i64,
    /// The server's partial-success message (an error, or a warning when nothing was rejected).
    pub message: Option<String>,
    /// Requests sent, the first one included; 0 when exporting is disabled.
    pub attempts: u32,
    /// Size of the request body on the wire: after compression, with the gRPC frame header.
    pub wire_bytes: usize,
    /// Exporting is disabled (`OTEL_SDK_DISABLED=true`): nothing was sent.
    pub disabled: bool,
}

impl ExportOutcome {
    /// Whether the server reported a partial success: items rejected, or a warning.
    pub fn is_partial_success(&self) -> bool {
        self.rejected > 0 || self.message.is_some()
    }

    /// Whether nothing was sent because exporting is disabled.
    pub fn is_disabled(&self) -> bool {
        self.disabled
    }

    /// The outcome of an export while exporting is disabled.
    pub(crate) fn not_sent() -> Self {
        ExportOutcome {
            disabled: true,
            ..ExportOutcome::default()
        }
    }
}
