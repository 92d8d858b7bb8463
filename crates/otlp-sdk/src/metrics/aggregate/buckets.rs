//! Explicit bucket boundaries of a histogram: validated once, searched per measurement.

use std::fmt;

/// The specification's default boundaries (for durations in milliseconds).
pub(crate) const DEFAULT_BOUNDARIES: [f64; 15] = [
    0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0,
    10000.0,
];

/// Boundaries that cannot be used: not finite, or not strictly increasing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BadBoundaries {
    at: usize,
    value: f64,
}

impl fmt::Display for BadBoundaries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "histogram boundary {} at position {} is not a finite number above the one before it",
            self.value, self.at
        )
    }
}

impl std::error::Error for BadBoundaries {}

/// Strictly increasing finite boundaries; `n` of them make `n + 1` buckets, bucket `i` holding
/// the values in `(b[i - 1], b[i]]` (the first from minus infinity, the last to infinity).
#[derive(Debug, Clone, PartialEq)]
pub struct Boundaries(std::sync::Arc<[f64]>);

impl Boundaries {
    /// Checks `boundaries`.
    pub(crate) fn new(boundaries: &[f64]) -> Result<Self, BadBoundaries> {
        let mut previous = f64::NEG_INFINITY;
        for (at, &value) in boundaries.iter().enumerate() {
            if !value.is_finite() || value <= previous {
                return Err(BadBoundaries { at, value });
            }
            previous = value;
        }
        Ok(Boundaries(boundaries.into()))
    }

    /// The boundaries.
    pub(crate) fn as_slice(&self) -> &[f64] {
        &self.0
    }

    /// How many buckets: one more than the boundaries.
    pub(crate) fn buckets(&self) -> usize {
        self.0.len() + 1
    }

    /// The bucket holding `value`: the number of boundaries below it (histograms drop NaN
    /// before asking). Up to 32 boundaries, every one is compared: the comparisons are
    /// independent and vectorise, where a binary search's are a chain of dependent loads and
    /// compares; beyond, a binary search.
    #[inline]
    pub(crate) fn bucket(&self, value: f64) -> usize {
        if self.0.len() <= 32 {
            self.0.iter().map(|&b| usize::from(b < value)).sum()
        } else {
            self.0.partition_point(|&b| b < value)
        }
    }
}

impl Default for Boundaries {
    fn default() -> Self {
        Boundaries(DEFAULT_BOUNDARIES.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_boundary_is_the_upper_end_of_its_bucket() {
        let b = Boundaries::default();
        assert_eq!(b.buckets(), 16);
        let cases = [
            (-1.0, 0),
            (0.0, 0),
            (0.5, 1),
            (5.0, 1),
            (5.000001, 2),
            (10000.0, 14),
            (10000.5, 15),
            (f64::INFINITY, 15),
            (f64::NEG_INFINITY, 0),
        ];
        for (value, bucket) in cases {
            assert_eq!(b.bucket(value), bucket, "{value}");
        }
        assert_eq!(Boundaries::new(&[]).unwrap().bucket(42.0), 0, "one bucket");
    }

    #[test]
    fn bad_boundaries_are_refused_by_position() {
        let err = Boundaries::new(&[1.0, 2.0, 2.0]).unwrap_err();
        assert_eq!(err, BadBoundaries { at: 2, value: 2.0 });
        assert!(err.to_string().contains("position 2"), "{err}");
        assert!(Boundaries::new(&[1.0, f64::NAN]).is_err());
        assert!(Boundaries::new(&[f64::NEG_INFINITY, 0.0]).is_err());
        assert!(Boundaries::new(&[3.0, 1.0]).is_err());
        assert_eq!(
            Boundaries::new(&[-1.0, 0.0, 1.0]).unwrap().as_slice(),
            [-1.0, 0.0, 1.0]
        );
    }

    #[test]
    fn counting_and_searching_agree_on_every_size() {
        for n in [0usize, 1, 15, 32, 33, 100] {
            let b: Vec<f64> = (0..n).map(|i| i as f64 * 2.0).collect();
            let boundaries = Boundaries::new(&b).unwrap();
            for v in [
                -1.0,
                0.0,
                0.5,
                2.0,
                3.0,
                63.0,
                64.0,
                1e9,
                f64::INFINITY,
                -0.0,
            ] {
                let expected = b.partition_point(|&x| x < v);
                assert_eq!(boundaries.bucket(v), expected, "{n} boundaries, {v}");
            }
        }
    }
}
