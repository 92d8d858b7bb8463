//! The chaos schedule: what happens to the receiver when, scaled to the run's duration.
//!
//! The run is cut into cycles (half the run, at least 30 s and at most 4 minutes: two cycles
//! in the 2-minute test, fifteen in the hour). Each cycle, at these fractions of it:
//!
//! | at | for | what |
//! |---|---|---|
//! | 10 % | 5 % of the cycle (2 to 10 s) | restart: stopped, down, started again on the same ports |
//! | 25 % | 13 % | slow: answers delayed from a quarter of the client's export timeout to 1.2 times it, so that some exports time out |
//! | 50 % | 12 % | 503 / `UNAVAILABLE`, `Retry-After` 1 s |
//! | 72 % | 13 % | partial success: 2 items of each request rejected |
//!
//! and normal answers in between. A phase that would not end before the run does is left
//! out, so the run ends with the receiver up and normal, and the clients' shutdowns can flush.

use std::fmt;
use std::time::Duration;
use test_support::chaos::Mode;

/// Items a partial success rejects per request.
pub const REJECTED_PER_REQUEST: i64 = 2;

/// One change to the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Answer as `Mode` says from now on.
    Set(Mode),
    /// Stop, stay down for `downtime`, start again on the same ports.
    Restart {
        /// How long the receiver is down.
        downtime: Duration,
    },
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Set(Mode::Normal) => f.write_str("normal"),
            Action::Set(Mode::Slow { min, max }) => write!(f, "slow {min:?}..{max:?}"),
            Action::Set(Mode::Unavailable { .. }) => f.write_str("unavailable"),
            Action::Set(Mode::Partial { rejected }) => write!(f, "partial (-{rejected})"),
            Action::Restart { downtime } => write!(f, "restart ({downtime:?} down)"),
        }
    }
}

/// An action and when, from the start of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// When, from the start.
    pub at: Duration,
    /// What.
    pub action: Action,
}

/// The cycle length for a run of `duration`: half of it, within 30 s and 4 minutes.
pub fn cycle_for(duration: Duration) -> Duration {
    (duration / 2).clamp(Duration::from_secs(30), Duration::from_secs(240))
}

/// The steps of a run of `duration` in cycles of `cycle`, against clients whose export
/// timeout is `export_timeout`, in time order.
pub fn schedule(duration: Duration, cycle: Duration, export_timeout: Duration) -> Vec<Step> {
    let downtime = cycle
        .mul_f64(0.05)
        .clamp(Duration::from_secs(2), Duration::from_secs(10));
    let slow = Mode::Slow {
        min: export_timeout / 4,
        max: export_timeout.mul_f64(1.2),
    };
    let unavailable = Mode::Unavailable {
        retry_after: Duration::from_secs(1),
    };
    let partial = Mode::Partial {
        rejected: REJECTED_PER_REQUEST,
    };
    let mut steps = Vec::new();
    let mut start = Duration::ZERO;
    while start < duration {
        let at = |fraction: f64| start + cycle.mul_f64(fraction);
        if at(0.10) + downtime < duration {
            steps.push(Step {
                at: at(0.10),
                action: Action::Restart { downtime },
            });
        }
        for (from, to, mode) in [
            (0.25, 0.38, slow),
            (0.50, 0.62, unavailable),
            (0.72, 0.85, partial),
        ] {
            if at(to) < duration {
                steps.push(Step {
                    at: at(from),
                    action: Action::Set(mode),
                });
                steps.push(Step {
                    at: at(to),
                    action: Action::Set(Mode::Normal),
                });
            }
        }
        start += cycle;
    }
    steps
}

/// How many steps of each kind: restarts, slow, unavailable and partial phases.
pub fn counts(steps: &[Step]) -> [usize; 4] {
    let mut n = [0; 4];
    for step in steps {
        let i = match step.action {
            Action::Restart { .. } => 0,
            Action::Set(Mode::Slow { .. }) => 1,
            Action::Set(Mode::Unavailable { .. }) => 2,
            Action::Set(Mode::Partial { .. }) => 3,
            Action::Set(Mode::Normal) => continue,
        };
        n[i] += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn two_minutes_have_every_phase_twice_and_end_normal() {
        let d = S(120);
        assert_eq!(cycle_for(d), S(60));
        let steps = schedule(d, cycle_for(d), S(5));
        assert_eq!(counts(&steps), [2, 2, 2, 2]);
        assert!(steps.windows(2).all(|w| w[0].at <= w[1].at));
        assert!(steps.iter().all(|s| s.at < d));
        let last_mode = steps.iter().rev().find_map(|s| match s.action {
            Action::Set(m) => Some(m),
            Action::Restart { .. } => None,
        });
        assert_eq!(last_mode, Some(Mode::Normal));
        assert_eq!(steps[0].action, Action::Restart { downtime: S(3) });
    }

    #[test]
    fn the_hour_restarts_every_four_minutes() {
        let d = S(3600);
        let steps = schedule(d, cycle_for(d), S(5));
        assert_eq!(counts(&steps), [15, 15, 15, 15]);
        assert_eq!(steps[0].action, Action::Restart { downtime: S(10) });
        // A run too short for a whole cycle keeps what fits.
        assert_eq!(counts(&schedule(S(20), S(30), S(5))), [1, 1, 1, 0]);
    }
}
