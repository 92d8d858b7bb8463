//! The 24 OTLP severity levels.

use std::fmt;

macro_rules! severities {
    ($($(#[$doc:meta])* $variant:ident = $number:literal, $text:literal;)*) => {
        /// A log record's severity: the 24 numbers of the OTLP data model, in six ranges of four
        /// (`Trace`, `Debug`, `Info`, `Warn`, `Error`, `Fatal`), each with its short name as
        /// text (`INFO`, `INFO2`, ...).
        ///
        /// A higher number is more severe; within a range, `Info2` is a little more severe than
        /// `Info`. [`Severity::Error`] and above travel as high-priority items in the pipeline:
        /// a full queue drops them last (see
        /// [`DropPolicy::DropLowPriority`](crate::pipeline::DropPolicy::DropLowPriority)).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Severity {
            $($(#[$doc])* $variant = $number,)*
        }

        impl Severity {
            /// Every level, least severe first.
            pub const ALL: [Severity; 24] = [$(Severity::$variant,)*];

            /// The OTLP severity number, 1 (`Trace`) to 24 (`Fatal4`).
            pub const fn number(self) -> i32 {
                self as i32
            }

            /// The level's short name, as sent in `severity_text` by default: `TRACE`, `DEBUG2`,
            /// `INFO`, `WARN`, `ERROR3`, `FATAL4`, ...
            pub const fn text(self) -> &'static str {
                match self {
                    $(Severity::$variant => $text,)*
                }
            }

            /// The level of an OTLP severity number; `None` outside 1..=24 (0 is "unspecified").
            pub const fn from_number(number: i32) -> Option<Severity> {
                match number {
                    $($number => Some(Severity::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

severities! {
    /// A fine-grained debugging event, typically disabled by default.
    Trace = 1, "TRACE";
    /// A finer-grained `Trace`.
    Trace2 = 2, "TRACE2";
    /// A finer-grained `Trace`.
    Trace3 = 3, "TRACE3";
    /// A finer-grained `Trace`.
    Trace4 = 4, "TRACE4";
    /// A debugging event.
    Debug = 5, "DEBUG";
    /// A more severe `Debug`.
    Debug2 = 6, "DEBUG2";
    /// A more severe `Debug`.
    Debug3 = 7, "DEBUG3";
    /// A more severe `Debug`.
    Debug4 = 8, "DEBUG4";
    /// An informational event: something happened as expected.
    Info = 9, "INFO";
    /// A more severe `Info`.
    Info2 = 10, "INFO2";
    /// A more severe `Info`.
    Info3 = 11, "INFO3";
    /// A more severe `Info`.
    Info4 = 12, "INFO4";
    /// A warning: not an error, but likely more important than an informational event.
    Warn = 13, "WARN";
    /// A more severe `Warn`.
    Warn2 = 14, "WARN2";
    /// A more severe `Warn`.
    Warn3 = 15, "WARN3";
    /// A more severe `Warn`.
    Warn4 = 16, "WARN4";
    /// An error: something went wrong.
    Error = 17, "ERROR";
    /// A more severe `Error`.
    Error2 = 18, "ERROR2";
    /// A more severe `Error`.
    Error3 = 19, "ERROR3";
    /// A more severe `Error`.
    Error4 = 20, "ERROR4";
    /// A fatal error: the application or system cannot go on.
    Fatal = 21, "FATAL";
    /// A more severe `Fatal`.
    Fatal2 = 22, "FATAL2";
    /// A more severe `Fatal`.
    Fatal3 = 23, "FATAL3";
    /// A more severe `Fatal`.
    Fatal4 = 24, "FATAL4";
}

impl Severity {
    /// Whether this level is `Error` or above (a high-priority record in the pipeline).
    pub const fn is_error(self) -> bool {
        self.number() >= Severity::Error.number()
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

impl From<Severity> for otlp_proto::logs::SeverityNumber {
    fn from(s: Severity) -> Self {
        use otlp_proto::logs::SeverityNumber as N;
        const NUMBERS: [N; 24] = [
            N::Trace,
            N::Trace2,
            N::Trace3,
            N::Trace4,
            N::Debug,
            N::Debug2,
            N::Debug3,
            N::Debug4,
            N::Info,
            N::Info2,
            N::Info3,
            N::Info4,
            N::Warn,
            N::Warn2,
            N::Warn3,
            N::Warn4,
            N::Error,
            N::Error2,
            N::Error3,
            N::Error4,
            N::Fatal,
            N::Fatal2,
            N::Fatal3,
            N::Fatal4,
        ];
        NUMBERS[(s.number() - 1) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_texts() {
        for (i, s) in Severity::ALL.into_iter().enumerate() {
            assert_eq!(s.number(), i as i32 + 1);
            assert_eq!(Severity::from_number(s.number()), Some(s));
            assert_eq!(otlp_proto::logs::SeverityNumber::from(s) as i32, s.number());
        }
        assert_eq!(Severity::from_number(0), None);
        assert_eq!(Severity::from_number(25), None);
        assert_eq!(Severity::Info.text(), "INFO");
        assert_eq!(Severity::Warn3.to_string(), "WARN3");
        assert_eq!(Severity::Fatal4.text(), "FATAL4");
        assert!(!Severity::Warn4.is_error());
        assert!(Severity::Error.is_error());
        assert!(Severity::Trace < Severity::Fatal);
    }
}
