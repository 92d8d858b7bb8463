//! Trace and span identifiers, and the per-thread generator that makes them.

use std::cell::Cell;
use std::fmt;
use std::str::FromStr;

/// A 16-byte trace identifier; all zeros is [invalid](TraceId::INVALID).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TraceId([u8; 16]);

/// An 8-byte span identifier; all zeros is [invalid](SpanId::INVALID).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SpanId([u8; 8]);

/// A string that is not a well-formed lowercase-or-uppercase hex id of the right length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseIdError;

impl fmt::Display for ParseIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a hex id of the expected length")
    }
}

impl std::error::Error for ParseIdError {}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

fn parse_hex<const N: usize>(s: &str) -> Result<[u8; N], ParseIdError> {
    let s = s.as_bytes();
    if s.len() != N * 2 {
        return Err(ParseIdError);
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(ParseIdError),
    };
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = (nibble(s[2 * i])? << 4) | nibble(s[2 * i + 1])?;
    }
    Ok(out)
}

macro_rules! id_impls {
    ($t:ident, $n:literal) => {
        impl $t {
            /// The all-zero, invalid id.
            pub const INVALID: $t = $t([0; $n]);

            /// The id with these bytes.
            pub const fn from_bytes(bytes: [u8; $n]) -> Self {
                $t(bytes)
            }

            /// The id's bytes.
            pub const fn to_bytes(self) -> [u8; $n] {
                self.0
            }

            /// Whether the id is not all zeros.
            pub fn is_valid(&self) -> bool {
                self.0 != [0; $n]
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_hex(f, &self.0)
            }
        }

        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}(", stringify!($t))?;
                write_hex(f, &self.0)?;
                f.write_str(")")
            }
        }

        impl FromStr for $t {
            type Err = ParseIdError;

            /// Parses exactly
            #[doc = stringify!($n)]
            /// bytes as hex (either case).
            fn from_str(s: &str) -> Result<Self, ParseIdError> {
                parse_hex::<$n>(s).map($t)
            }
        }
    };
}

id_impls!(TraceId, 16);
id_impls!(SpanId, 8);

impl TraceId {
    /// A random, valid trace id from this thread's generator.
    pub fn random() -> Self {
        loop {
            let hi = next_u64();
            let lo = next_u64();
            if hi | lo != 0 {
                let mut b = [0u8; 16];
                b[..8].copy_from_slice(&hi.to_be_bytes());
                b[8..].copy_from_slice(&lo.to_be_bytes());
                return TraceId(b);
            }
        }
    }
}

impl SpanId {
    /// A random, valid span id from this thread's generator.
    pub fn random() -> Self {
        loop {
            let v = next_u64();
            if v != 0 {
                return SpanId(v.to_be_bytes());
            }
        }
    }
}

thread_local! {
    // wyrand state, seeded once per thread from fastrand (itself seeded from the OS).
    static STATE: Cell<u64> = Cell::new(fastrand::u64(..));
}

/// One step of wyrand: no lock, no syscall.
fn next_u64() -> u64 {
    STATE.with(|state| {
        let s = state.get().wrapping_add(0xa076_1d64_78bd_642f);
        state.set(s);
        let t = u128::from(s) * u128::from(s ^ 0xe703_7ed1_a0b4_28db);
        ((t >> 64) as u64) ^ (t as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let t: TraceId = "4bf92f3577b34da6a3ce929d0e0e4736".parse().expect("valid");
        assert_eq!(t.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        let s: SpanId = "00F067AA0BA902B7".parse().expect("valid");
        assert_eq!(s.to_string(), "00f067aa0ba902b7");
        assert!(t.is_valid() && s.is_valid());
        assert!(!TraceId::INVALID.is_valid());
        assert!("xyz".parse::<SpanId>().is_err());
        assert!("00f067aa0ba902bz".parse::<SpanId>().is_err());
        assert!("00f067aa0ba902b".parse::<SpanId>().is_err());
    }

    #[test]
    fn random_ids_are_valid_and_distinct() {
        let ids: std::collections::HashSet<SpanId> =
            (0..10_000).map(|_| SpanId::random()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(TraceId::random().is_valid());
        assert_ne!(TraceId::random(), TraceId::random());
    }
}
