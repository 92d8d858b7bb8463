//! The base-2 exponential histogram's bucket mapping (OpenTelemetry data model, "Exponential
//! Histogram"): at scale `s` the base is `2^(2^-s)`, and bucket `i` holds the values in
//! `(base^i, base^(i+1)]`, so an exact power of the base is the upper end of its bucket.
//!
//! Scales above zero use the logarithm, with exact powers of two handled exactly; scales at or
//! below zero need only the value's binary exponent. Subnormal values map like any other.

/// The finest scale: 2^20 buckets per power of two.
pub(crate) const MAX_SCALE: i32 = 20;
/// The coarsest scale: one bucket per 2^1024, so every finite value fits in a few buckets.
pub(crate) const MIN_SCALE: i32 = -10;

/// The binary exponent `e` of a positive finite `value` (`2^e <= value < 2^(e+1)`), and whether
/// `value` is exactly `2^e`.
fn binary_exponent(value: f64) -> (i32, bool) {
    const FRACTION: u64 = (1 << 52) - 1;
    let bits = value.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & FRACTION;
    if biased == 0 {
        // Subnormal: fraction * 2^-1074, its top bit the exponent.
        let top = 63 - fraction.leading_zeros() as i32;
        (top - 1074, fraction.is_power_of_two())
    } else {
        (biased - 1023, fraction == 0)
    }
}

/// The index of the bucket holding `value` at `scale`. `value` must be positive and finite
/// (zero goes to the zero bucket, the sign to the positive or negative range) and `scale` within
/// [`MIN_SCALE`]`..=`[`MAX_SCALE`].
pub(crate) fn index(value: f64, scale: i32) -> i32 {
    debug_assert!(value > 0.0 && value.is_finite(), "{value}");
    debug_assert!((MIN_SCALE..=MAX_SCALE).contains(&scale), "{scale}");
    let (exponent, power_of_two) = binary_exponent(value);
    if scale <= 0 {
        // A power of two is the upper end of the bucket below its exponent's.
        return (exponent - i32::from(power_of_two)) >> -scale;
    }
    if power_of_two {
        return (exponent << scale) - 1;
    }
    // Within the power of two [2^e, 2^(e+1)): the bucket is the floor of log2(value) * 2^scale.
    // Rounding can put a value within an ulp of a boundary in the neighbouring bucket, which
    // the data model allows; the result is kept within the value's power of two.
    let scaled = value.log2() * f64::from(1u32 << scale);
    let lowest = exponent << scale;
    let highest = ((exponent + 1) << scale) - 1;
    (scaled.floor() as i32).clamp(lowest, highest)
}

/// The lower end of bucket `index` at `scale` (exclusive: the bucket holds values above it).
#[cfg(test)]
pub(crate) fn lower_boundary(index: i32, scale: i32) -> f64 {
    if scale <= 0 {
        return pow2(i64::from(index) << -scale);
    }
    // 2^(index / 2^scale), split into a whole power of two and a fraction of one.
    let whole = index >> scale;
    let part = index - (whole << scale);
    pow2(i64::from(whole)) * (f64::from(part) / f64::from(1u32 << scale)).exp2()
}

/// `2^e` for any `e` a bucket boundary can have, subnormal and overflowing ones included.
#[cfg(test)]
fn pow2(e: i64) -> f64 {
    match e {
        e if e > 1023 => f64::INFINITY,
        e if e >= -1022 => f64::from_bits(((e + 1023) as u64) << 52),
        e if e >= -1074 => f64::from_bits(1 << (e + 1074)),
        _ => 0.0,
    }
}

/// How much the scale must drop so that buckets `low..=high` (indices at the current scale)
/// span at most `max_buckets` buckets. Dropping the scale by one halves every index.
pub(crate) fn scale_reduction(mut low: i32, mut high: i32, max_buckets: u32) -> i32 {
    debug_assert!(low <= high && max_buckets >= 2);
    let mut change = 0;
    while i64::from(high) - i64::from(low) + 1 > i64::from(max_buckets) {
        low >>= 1;
        high >>= 1;
        change += 1;
    }
    change
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powers_of_two_are_the_upper_end_of_their_bucket_at_every_scale() {
        for scale in MIN_SCALE..=MAX_SCALE {
            for e in [-1074, -1073, -1022, -1021, -1, 0, 1, 2, 10, 1023] {
                let value = pow2(e);
                let i = index(value, scale);
                let (low, high) = (lower_boundary(i, scale), lower_boundary(i + 1, scale));
                // Among subnormals a boundary rounds to a representable value, maybe this one.
                let below = low < value || (low == value && low < f64::MIN_POSITIVE);
                assert!(below && value <= high, "2^{e} at scale {scale}: {i}");
                // A power of the base is exactly the upper end of its bucket.
                if scale >= 0 || e % (1 << -scale) == 0 {
                    assert_eq!(high, value, "2^{e} at scale {scale}");
                }
                if scale > 0 {
                    assert_eq!(i, ((e as i32) << scale) - 1);
                }
            }
        }
    }

    #[test]
    fn scale_zero_and_below_follow_the_binary_exponent() {
        // At scale 0 the buckets are (1, 2], (2, 4], ...: 1.5 and 2 share bucket 0, 2.5 is in 1.
        assert_eq!(
            [1.5, 2.0, 2.5, 4.0, 4.5].map(|v| index(v, 0)),
            [0, 0, 1, 1, 2]
        );
        assert_eq!([0.75, 1.0].map(|v| index(v, 0)), [-1, -1]);
        // At scale -1 the base is 4: (1, 4], (4, 16].
        assert_eq!(
            [1.5, 4.0, 4.5, 16.0, 17.0].map(|v| index(v, -1)),
            [0, 0, 1, 1, 2]
        );
        // The extremes fit in a handful of buckets at the coarsest scale.
        assert_eq!(index(f64::MAX, MIN_SCALE), 0);
        assert_eq!(index(f64::from_bits(1), MIN_SCALE), -2);
    }

    #[test]
    fn every_value_lies_within_its_bucket() {
        // Values spread over the whole range, at scales where the logarithm decides.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Positive and finite: any exponent but the one of infinities and NaN.
            let value = f64::from_bits(x & 0x7fef_ffff_ffff_ffff);
            if value == 0.0 {
                continue;
            }
            for scale in [-3, 0, 1, 3, 8, 20] {
                let i = index(value, scale);
                let (low, high) = (lower_boundary(i, scale), lower_boundary(i + 1, scale));
                // The logarithm may put a value within rounding of a boundary in the bucket
                // beside it, as the data model allows: a relative 1e-12 at the finest scale.
                let slack = value * 1e-12;
                assert!(
                    low < value + slack && value <= high + slack,
                    "{value} at {scale}: {i}"
                );
            }
        }
    }

    #[test]
    fn the_largest_and_smallest_values_map_within_range() {
        assert_eq!(index(f64::MAX, MAX_SCALE), (1024 << MAX_SCALE) - 1);
        assert_eq!(
            index(f64::MIN_POSITIVE, MAX_SCALE),
            (-1022 << MAX_SCALE) - 1
        );
        assert_eq!(
            index(f64::from_bits(1), MAX_SCALE),
            (-1074 << MAX_SCALE) - 1
        );
    }

    #[test]
    fn scale_drops_until_the_range_fits() {
        assert_eq!(scale_reduction(0, 159, 160), 0);
        assert_eq!(scale_reduction(0, 160, 160), 1);
        assert_eq!(scale_reduction(-1, 1, 2), 1, "-1..=1 halves to -1..=0");
        assert_eq!(scale_reduction(i32::MIN, i32::MAX, 160), 25);
    }
}
