//! Batch sizing: the AIMD controller that adapts the batch size to export latency, and the
//! split of a batch under the request byte cap.

use super::config::AdaptiveBatchConfig;
use std::time::Duration;

/// Adapts the batch size to measured export latency, as TCP adapts its window: additive increase
/// while exports finish in under half the target latency, multiplicative decrease (halving) when
/// one takes longer than the target or fails, always within `[min, max]`.
///
/// It only grows after a *full* batch: a batch sent because the scheduled delay passed says
/// nothing about whether a larger one would still be fast. A pure function of what it is fed,
/// so it is tested alone.
///
/// ```
/// use otlp::pipeline::{AdaptiveBatchConfig, AimdController};
/// use std::time::Duration;
///
/// let mut aimd = AimdController::new(&AdaptiveBatchConfig::default()); // 64..=1024, 100 ms
/// assert_eq!(aimd.batch_size(), 64);
/// aimd.on_export(Duration::from_millis(10), true, true);
/// assert_eq!(aimd.batch_size(), 128); // + min_batch_size
/// aimd.on_export(Duration::from_millis(250), true, true);
/// assert_eq!(aimd.batch_size(), 64); // halved, not below the minimum
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AimdController {
    size: usize,
    min: usize,
    max: usize,
    step: usize,
    target: Duration,
}

impl AimdController {
    /// A controller for `config`'s bounds and target, starting at the minimum batch size and
    /// growing by the minimum batch size per fast export.
    pub fn new(config: &AdaptiveBatchConfig) -> Self {
        let min = config.min_batch_size().max(1);
        let max = config.max_batch_size().max(min);
        AimdController {
            size: min,
            min,
            max,
            step: min,
            target: config.target_latency(),
        }
    }

    /// The size of the next batch.
    pub fn batch_size(&self) -> usize {
        self.size
    }

    /// Feeds one export's latency (retries included); returns the new batch size.
    ///
    /// - failed, or slower than the target: halve (not below the minimum);
    /// - succeeded in under half the target, with a full batch: add the step (up to the maximum);
    /// - otherwise: keep the size.
    pub fn on_export(&mut self, latency: Duration, batch_was_full: bool, succeeded: bool) -> usize {
        if !succeeded || latency > self.target {
            self.size = (self.size / 2).max(self.min);
        } else if batch_was_full && latency < self.target / 2 {
            self.size = self.size.saturating_add(self.step).min(self.max);
        }
        self.size
    }
}

/// Splits items with the given size estimates into consecutive chunks of at most `max_items`
/// items whose estimated sizes add up to at most `max_bytes` (an item larger than that alone is a
/// chunk of its own). Returns the chunk lengths, which add up to the number of items.
pub(crate) fn split_by_size(
    hints: impl IntoIterator<Item = usize>,
    max_bytes: usize,
    max_items: usize,
) -> Vec<usize> {
    let mut chunks = Vec::new();
    let (mut len, mut bytes) = (0usize, 0usize);
    for hint in hints {
        if len > 0 && (len >= max_items || bytes.saturating_add(hint) > max_bytes) {
            chunks.push(len);
            (len, bytes) = (0, 0);
        }
        len += 1;
        bytes = bytes.saturating_add(hint);
    }
    if len > 0 {
        chunks.push(len);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn controller(min: usize, max: usize, target_ms: u64) -> AimdController {
        AimdController::new(
            &AdaptiveBatchConfig::default()
                .with_min_batch_size(min)
                .with_max_batch_size(max)
                .with_target_latency(Duration::from_millis(target_ms)),
        )
    }

    fn feed(c: &mut AimdController, latencies_ms: &[u64]) -> Vec<usize> {
        latencies_ms
            .iter()
            .map(|&ms| c.on_export(Duration::from_millis(ms), true, true))
            .collect()
    }

    #[test]
    fn grows_additively_while_fast_up_to_the_maximum() {
        let mut c = controller(10, 45, 100);
        assert_eq!(c.batch_size(), 10);
        assert_eq!(feed(&mut c, &[1, 49, 1, 1, 1]), [20, 30, 40, 45, 45]);
    }

    #[test]
    fn halves_when_slow_or_failed_down_to_the_minimum() {
        let mut c = controller(10, 1000, 100);
        let _ = feed(&mut c, &[1; 20]);
        assert_eq!(c.batch_size(), 210);
        assert_eq!(feed(&mut c, &[101, 500, 200]), [105, 52, 26]);
        assert_eq!(
            c.on_export(Duration::from_millis(1), true, false),
            13,
            "failure halves"
        );
        assert_eq!(feed(&mut c, &[300, 300]), [10, 10]);
    }

    #[test]
    fn holds_in_the_band_and_after_partial_batches() {
        let mut c = controller(10, 1000, 100);
        let _ = feed(&mut c, &[1]);
        // Between half the target and the target: steady.
        assert_eq!(feed(&mut c, &[50, 75, 100]), [20, 20, 20]);
        // Fast, but the batch was not full: no evidence that a bigger one would be.
        assert_eq!(c.on_export(Duration::from_millis(1), false, true), 20);
    }

    #[test]
    fn converges_to_the_size_whose_latency_meets_the_target() {
        // A simulated server: latency grows linearly with batch size, 1 ms per 10 items.
        let mut c = controller(16, 4096, 100);
        let mut sizes = Vec::new();
        for _ in 0..200 {
            let latency = Duration::from_millis((c.batch_size() / 10) as u64);
            sizes.push(c.on_export(latency, true, true));
        }
        // Oscillates below ~1000 items (100 ms) and above ~250 after it first got there.
        let tail = &sizes[100..];
        assert!(tail.iter().all(|&s| (250..=1016).contains(&s)), "{tail:?}");
    }

    #[test]
    fn split_respects_bytes_and_items_and_keeps_every_item() {
        assert_eq!(split_by_size([10, 10, 10, 10], 25, usize::MAX), [2, 2]);
        assert_eq!(split_by_size([10, 10, 10, 10], 100, 3), [3, 1]);
        assert_eq!(
            split_by_size([100, 1, 1], 50, usize::MAX),
            [1, 2],
            "big item alone"
        );
        assert_eq!(split_by_size([1, 100, 1], 50, usize::MAX), [1, 1, 1]);
        assert_eq!(split_by_size([], 50, 10), Vec::<usize>::new());
        let hints: Vec<usize> = (0..1000).map(|i| i % 37).collect();
        let chunks = split_by_size(hints.iter().copied(), 200, 64);
        assert_eq!(chunks.iter().sum::<usize>(), 1000);
        let mut at = 0;
        for len in chunks {
            let bytes: usize = hints[at..at + len].iter().sum();
            assert!(len <= 64 && (bytes <= 200 || len == 1));
            at += len;
        }
    }
}
