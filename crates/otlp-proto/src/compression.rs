//! Request-body compression: gzip and zstd, with a hard cap on decompressed size.

use std::fmt;
use std::io;
use std::str::FromStr;

/// A body compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// No compression.
    #[default]
    None,
    /// gzip (RFC 1952).
    Gzip,
    /// Zstandard (RFC 8878).
    Zstd,
}

impl Compression {
    /// The `Content-Encoding` / `grpc-encoding` token, or `None` for no compression.
    pub const fn encoding_token(self) -> Option<&'static str> {
        match self {
            Compression::None => None,
            Compression::Gzip => Some("gzip"),
            Compression::Zstd => Some("zstd"),
        }
    }

    /// The name used in configuration: `none`, `gzip`, `zstd`.
    pub const fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }

    /// Parses a `Content-Encoding` or `grpc-encoding` header value; `None` for an unsupported one.
    pub fn from_encoding_token(token: &str) -> Option<Compression> {
        match token.trim().to_ascii_lowercase().as_str() {
            "" | "identity" => Some(Compression::None),
            "gzip" | "x-gzip" => Some(Compression::Gzip),
            "zstd" => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// Whether this build can compress and decompress it: gzip and zstd are the `gzip` and
    /// `zstd` features (both default).
    pub const fn is_available(self) -> bool {
        match self {
            Compression::None => true,
            Compression::Gzip => cfg!(feature = "gzip"),
            Compression::Zstd => cfg!(feature = "zstd"),
        }
    }

    /// The compressions this build has, as a `grpc-accept-encoding` value.
    pub const fn accepted_tokens() -> &'static str {
        match (cfg!(feature = "gzip"), cfg!(feature = "zstd")) {
            (true, true) => "gzip,zstd",
            (true, false) => "gzip",
            (false, true) => "zstd",
            (false, false) => "identity",
        }
    }

    /// Compresses `input`, appending to `out`. A compression this build lacks
    /// ([`is_available`](Compression::is_available)) is an `Unsupported` error.
    pub fn compress(self, input: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        match self {
            Compression::None => {
                out.extend_from_slice(input);
                Ok(())
            }
            #[cfg(not(feature = "gzip"))]
            Compression::Gzip => Err(unavailable(self)),
            #[cfg(not(feature = "zstd"))]
            Compression::Zstd => Err(unavailable(self)),
            #[cfg(feature = "gzip")]
            Compression::Gzip => {
                // Level 6 is the common default; the fast levels cost ratio on small batches.
                use std::io::Write;
                let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::new(6));
                enc.write_all(input)?;
                enc.finish().map(drop)
            }
            #[cfg(feature = "zstd")]
            Compression::Zstd => zstd_compress(input, out),
        }
    }

    /// Decompresses `input`, refusing output larger than `limit` bytes before allocating it.
    // Without gzip and zstd every compressed body is refused before the reading below.
    #[cfg_attr(
        not(any(feature = "gzip", feature = "zstd")),
        allow(unreachable_code, unused_variables)
    )]
    pub fn decompress(self, input: &[u8], limit: usize) -> Result<Vec<u8>, DecompressError> {
        if self == Compression::None {
            if input.len() > limit {
                return Err(DecompressError::TooLarge { limit });
            }
            return Ok(input.to_vec());
        }
        match self {
            #[cfg(feature = "gzip")]
            Compression::Gzip => read_capped(
                flate2::read::MultiGzDecoder::new(input),
                input.len().saturating_mul(4),
                limit,
            ),
            #[cfg(feature = "zstd")]
            Compression::Zstd => zstd_decompress(input, limit),
            _ => Err(DecompressError::Unsupported(self)),
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error for an unknown compression name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCompression(pub String);

impl fmt::Display for UnknownCompression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown compression {:?} (expected none, gzip or zstd)",
            self.0
        )
    }
}

impl std::error::Error for UnknownCompression {}

impl FromStr for Compression {
    type Err = UnknownCompression;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" | "" | "identity" => Ok(Compression::None),
            "gzip" => Ok(Compression::Gzip),
            "zstd" => Ok(Compression::Zstd),
            _ => Err(UnknownCompression(s.to_owned())),
        }
    }
}

/// Why a body could not be decompressed.
#[derive(Debug)]
#[non_exhaustive]
pub enum DecompressError {
    /// The decompressed body exceeds the limit (a zip bomb, or simply too large).
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The compressed stream is corrupt.
    Corrupt(io::Error),
    /// This build lacks the compression (its feature is off).
    Unsupported(Compression),
}

/// What `reader` decompresses, refused past `limit` bytes; `expected` is the size the input
/// says it decompresses to, or a guess (the room reserved first, at most `limit`).
#[cfg(any(feature = "gzip", feature = "zstd"))]
fn read_capped(
    reader: impl io::Read,
    expected: usize,
    limit: usize,
) -> Result<Vec<u8>, DecompressError> {
    use std::io::Read;
    let mut out = Vec::with_capacity(expected.min(limit));
    // Read at most limit + 1 bytes: one byte past the limit proves the body is too large.
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(DecompressError::Corrupt)?;
    if out.len() > limit {
        return Err(DecompressError::TooLarge { limit });
    }
    Ok(out)
}

/// A decompression context larger than this (a frame with a large window made it grow) is
/// not kept for the thread's next body.
#[cfg(feature = "zstd")]
const MAX_KEPT_ZSTD_CONTEXT: usize = 8 << 20;

/// The zstd level of compressed bodies: zstd's default, fast and a good ratio on telemetry.
#[cfg(feature = "zstd")]
const ZSTD_LEVEL: i32 = 3;

#[cfg(feature = "zstd")]
thread_local! {
    /// This thread's zstd contexts: one made per body costs its allocation and the zeroing of
    /// its tables (and, decompressing, an input buffer), more than a small batch's work.
    static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::zstd_safe::DCtx<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `f` with this thread's context in `kept` (made by `make` the first time), kept for the
/// next call while `keep` says so; with one of its own if the thread's is in use (only if the
/// call re-entered itself on this thread).
#[cfg(feature = "zstd")]
fn with_context<C, R>(
    kept: &'static std::thread::LocalKey<std::cell::RefCell<Option<C>>>,
    make: impl Fn() -> io::Result<C>,
    f: impl FnOnce(&mut C) -> R,
    keep: impl FnOnce(&C) -> bool,
) -> io::Result<R> {
    kept.with(|cell| match cell.try_borrow_mut() {
        Ok(mut slot) => {
            let context = match &mut *slot {
                Some(context) => context,
                None => slot.insert(make()?),
            };
            let out = f(context);
            if !keep(context) {
                *slot = None;
            }
            Ok(out)
        }
        Err(_) => Ok(f(&mut make()?)),
    })
}

/// Decompresses zstd `input` (one frame or several) with this thread's context, refused past
/// `limit` bytes.
#[cfg(feature = "zstd")]
fn zstd_decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, DecompressError> {
    // The size the (first) frame declares, as zstd encoders write it, or a guess; never
    // more than 32 times the input, so that a small body declaring a large size cannot make
    // the server reserve memory for it.
    let guess = input.len().saturating_mul(4);
    let expected = match zstd::zstd_safe::get_frame_content_size(input) {
        Ok(Some(n)) => usize::try_from(n).unwrap_or(usize::MAX),
        _ => guess,
    }
    .min(input.len().saturating_mul(32));
    with_context(
        &DECOMPRESSOR,
        || Ok(zstd::zstd_safe::DCtx::create()),
        |context| {
            let reader = zstd::stream::read::Decoder::with_context(input, context);
            read_capped(reader, expected, limit)
        },
        |context| context.sizeof() <= MAX_KEPT_ZSTD_CONTEXT,
    )
    .unwrap_or_else(|e| Err(DecompressError::Corrupt(e)))
}

/// Compresses `input` as one zstd frame appended to `out`, with this thread's context; the
/// frame declares the input's size, so that zstd sizes its tables to it.
#[cfg(feature = "zstd")]
fn zstd_compress(input: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
    let start = out.len();
    out.resize(start + zstd::zstd_safe::compress_bound(input.len()), 0);
    let written = with_context(
        &COMPRESSOR,
        || zstd::bulk::Compressor::new(ZSTD_LEVEL),
        |compressor| compressor.compress_to_buffer(input, &mut out[start..]),
        |_| true,
    )
    .and_then(|written| written);
    match written {
        Ok(n) => {
            out.truncate(start + n);
            Ok(())
        }
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

/// The error of a compression this build lacks.
#[cfg(not(all(feature = "gzip", feature = "zstd")))]
fn unavailable(c: Compression) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("{c} support is not built in (the `{c}` feature of otlp-proto)"),
    )
}

impl fmt::Display for DecompressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecompressError::TooLarge { limit } => {
                write!(f, "decompressed body exceeds the limit of {limit} bytes")
            }
            DecompressError::Corrupt(e) => write!(f, "corrupt compressed body: {e}"),
            DecompressError::Unsupported(c) => {
                write!(
                    f,
                    "{c} support is not built in (the `{c}` feature of otlp-proto)"
                )
            }
        }
    }
}

impl std::error::Error for DecompressError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DecompressError::Corrupt(e) => Some(e),
            DecompressError::TooLarge { .. } | DecompressError::Unsupported(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The compressions this build has round-trip; the others are refused with an error that
    /// names their feature (`cargo test -p otlp-proto --lib --no-default-features` checks those).
    #[test]
    fn round_trips_each_compression_built_in_and_refuses_the_others() {
        let data = b"hello hello hello hello".repeat(100);
        for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let mut z = Vec::new();
            if c.is_available() {
                c.compress(&data, &mut z).unwrap();
                assert_eq!(c.decompress(&z, 1 << 20).unwrap(), data, "{c}");
                assert!(
                    Compression::accepted_tokens().contains(c.name()) || c == Compression::None
                );
            } else {
                let err = c.compress(&data, &mut z).unwrap_err();
                assert_eq!(err.kind(), io::ErrorKind::Unsupported);
                assert!(err.to_string().contains("feature"), "{err}");
                let err = c.decompress(&data, 1 << 20).unwrap_err();
                assert!(matches!(err, DecompressError::Unsupported(u) if u == c));
                assert!(!Compression::accepted_tokens().contains(c.name()));
            }
        }
    }

    /// zstd reuses a context per thread: bodies of any size one after another, on several
    /// threads, each appended after what `out` held, each one frame declaring its size.
    #[cfg(feature = "zstd")]
    #[test]
    fn zstd_bodies_in_a_row_each_round_trip_after_what_out_held() {
        let threads: Vec<_> = (0..3u8)
            .map(|t| {
                std::thread::spawn(move || {
                    // A body cut short, then garbage: errors that leave the context usable.
                    let mut whole = Vec::new();
                    Compression::Zstd
                        .compress(&[t; 100_000], &mut whole)
                        .unwrap();
                    assert!(
                        Compression::Zstd
                            .decompress(&whole[..whole.len() / 2], 1 << 20)
                            .is_err()
                    );
                    assert!(Compression::Zstd.decompress(b"not zstd", 1 << 20).is_err());
                    for (i, len) in [0usize, 1, 100, 200_000, 7, 3_000_000, 64]
                        .iter()
                        .enumerate()
                    {
                        let data: Vec<u8> = (0..*len).map(|j| (j % 251) as u8 ^ t).collect();
                        let prefix = vec![0xaa; i];
                        let mut out = prefix.clone();
                        Compression::Zstd.compress(&data, &mut out).unwrap();
                        assert_eq!(&out[..i], &prefix[..]);
                        let frame = &out[i..];
                        assert_eq!(
                            zstd::zstd_safe::get_frame_content_size(frame).ok(),
                            Some(Some(*len as u64)),
                            "the frame declares its size"
                        );
                        assert_eq!(Compression::Zstd.decompress(frame, 4 << 20).unwrap(), data);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }

    #[test]
    fn zip_bomb_is_refused_without_inflating_it() {
        let data = vec![0u8; 50 << 20];
        for c in [Compression::Gzip, Compression::Zstd]
            .into_iter()
            .filter(|c| c.is_available())
        {
            let mut z = Vec::new();
            c.compress(&data, &mut z).unwrap();
            assert!(z.len() < 1 << 20);
            let err = c.decompress(&z, 4 << 20).unwrap_err();
            assert!(matches!(err, DecompressError::TooLarge { limit } if limit == 4 << 20));
        }
    }

    #[test]
    fn garbage_is_corrupt_not_a_panic() {
        for c in [Compression::Gzip, Compression::Zstd]
            .into_iter()
            .filter(|c| c.is_available())
        {
            assert!(matches!(
                c.decompress(b"not compressed", 1024),
                Err(DecompressError::Corrupt(_))
            ));
        }
    }
}
