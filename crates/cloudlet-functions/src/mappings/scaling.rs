//! How many batches an SQS event source mapping processes at once: a pure,
//! clock-driven controller.
//!
//! Lambda's SQS pollers start with five concurrent batches when messages
//! appear, add up to 300 more per minute while every batch slot finds
//! messages, stop at 1,000 (or the mapping's `MaximumConcurrency`, or what
//! the function can run), and scale back down when the queue runs dry or
//! invocations fail. [`PollerScaling`] makes those decisions from explicit
//! inputs and the injected clock, so tests step through a minute of scaling
//! without waiting for it.

use std::time::Duration;

use cloudlet_core::Timestamp;

/// Concurrent batches a mapping starts with.
pub const INITIAL_CONCURRENCY: u32 = 5;
/// The most concurrent batches one mapping runs.
pub const MAX_CONCURRENCY: u32 = 1000;
/// Batch slots added per minute at most while messages keep coming.
pub const ADDED_PER_MINUTE: u32 = 300;
/// The refill time one added slot costs.
const PER_SLOT: Duration = Duration::from_millis(60_000 / ADDED_PER_MINUTE as u64);
/// The most refill time kept banked: one second.
const MAX_BANKED: Duration = Duration::from_secs(1);

/// The scaling state of one mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct PollerScaling {
    /// The least the target falls to: five, or `MaximumConcurrency` when
    /// that is lower.
    floor: u32,
    /// `MaximumConcurrency`, else 1,000.
    ceiling: u32,
    target: u32,
    /// Refill time banked towards added slots: one slot costs
    /// [`PER_SLOT`] (300 a minute), and at most one second's worth is kept,
    /// so no 60-second window ever sees more than 300 additions. Integer
    /// time, so the arithmetic is exact.
    banked: Duration,
    refilled_at: Timestamp,
}

impl PollerScaling {
    /// A mapping whose `ScalingConfig.MaximumConcurrency` is
    /// `maximum_concurrency` (2–1,000), or unlimited up to 1,000.
    pub fn new(maximum_concurrency: Option<u32>, now: Timestamp) -> PollerScaling {
        let ceiling = maximum_concurrency.unwrap_or(MAX_CONCURRENCY).clamp(1, MAX_CONCURRENCY);
        let floor = INITIAL_CONCURRENCY.min(ceiling);
        PollerScaling { floor, ceiling, target: floor, banked: Duration::ZERO, refilled_at: now }
    }

    /// How many batches should be in progress now.
    pub fn target(&self) -> u32 {
        self.target
    }

    pub fn ceiling(&self) -> u32 {
        self.ceiling
    }

    /// A batch slot found messages while `busy` slots were processing
    /// batches and the function could run `available` more instances in
    /// all. Returns whether the target grew.
    pub fn found_messages(&mut self, busy: u32, available: u32, now: Timestamp) -> bool {
        self.refill(now);
        let limit = self.ceiling.min(available.max(self.floor));
        if busy < self.target || self.target >= limit || self.banked < PER_SLOT {
            return false;
        }
        self.banked -= PER_SLOT;
        self.target += 1;
        true
    }

    /// A batch slot's long poll came back empty: the queue has run dry, one
    /// slot goes away (never below the floor).
    pub fn found_nothing(&mut self) {
        if self.target > self.floor {
            self.target -= 1;
        }
    }

    /// A batch failed as a whole or was throttled: halve, not below the
    /// floor.
    pub fn back_off(&mut self) {
        self.target = (self.target / 2).max(self.floor);
    }

    /// When the next slot can be added, if the target is below its ceiling.
    pub fn next_growth_at(&self) -> Option<Timestamp> {
        if self.target >= self.ceiling || self.banked >= PER_SLOT {
            return None;
        }
        Some(self.refilled_at + (PER_SLOT - self.banked))
    }

    fn refill(&mut self, now: Timestamp) {
        let elapsed = now.saturating_duration_since(self.refilled_at);
        self.banked = (self.banked + elapsed).min(MAX_BANKED);
        self.refilled_at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: f64) -> Timestamp {
        Timestamp::from_unix_millis(1_700_000_000_000) + Duration::from_millis((seconds * 1000.0).round() as u64)
    }

    #[test]
    fn starts_at_five_and_respects_a_lower_maximum() {
        assert_eq!(PollerScaling::new(None, at(0.0)).target(), 5);
        let two = PollerScaling::new(Some(2), at(0.0));
        assert_eq!((two.target(), two.ceiling()), (2, 2));
    }

    #[test]
    fn adds_at_most_three_hundred_a_minute_while_every_slot_is_busy() {
        let mut scaling = PollerScaling::new(None, at(0.0));
        let mut added = 0;
        // Every 10 ms for a minute, a busy slot finds messages.
        let start = at(0.0);
        for step in 1..=6000 {
            let now = start + Duration::from_millis(step * 10);
            if scaling.found_messages(scaling.target(), 10_000, now) {
                added += 1;
            }
        }
        assert_eq!(added, 300);
        assert_eq!(scaling.target(), 305);
    }

    #[test]
    fn does_not_grow_while_slots_are_idle() {
        let mut scaling = PollerScaling::new(None, at(0.0));
        assert!(!scaling.found_messages(3, 10_000, at(10.0)));
        assert!(scaling.found_messages(5, 10_000, at(10.0)));
        assert_eq!(scaling.target(), 6);
    }

    #[test]
    fn stops_at_the_maximum_and_at_what_the_function_can_run() {
        let mut scaling = PollerScaling::new(Some(7), at(0.0));
        for second in 1..=60 {
            scaling.found_messages(scaling.target(), 10_000, at(f64::from(second)));
        }
        assert_eq!(scaling.target(), 7);
        let mut scaling = PollerScaling::new(None, at(0.0));
        for second in 1..=60 {
            scaling.found_messages(scaling.target(), 9, at(f64::from(second)));
        }
        assert_eq!(scaling.target(), 9);
        // A function that can run fewer than five still gets the floor:
        // the throttles it meets back the slots off.
        let mut scaling = PollerScaling::new(None, at(0.0));
        assert!(!scaling.found_messages(5, 1, at(30.0)));
        assert_eq!(scaling.target(), 5);
    }

    #[test]
    fn scales_down_when_dry_and_backs_off_on_failure() {
        let mut scaling = PollerScaling::new(None, at(0.0));
        for second in 1..=20 {
            scaling.found_messages(scaling.target(), 10_000, at(f64::from(second)));
        }
        assert_eq!(scaling.target(), 25);
        scaling.back_off();
        assert_eq!(scaling.target(), 12);
        for _ in 0..20 {
            scaling.found_nothing();
        }
        assert_eq!(scaling.target(), 5);
        scaling.back_off();
        assert_eq!(scaling.target(), 5);
    }

    #[test]
    fn tells_when_the_next_slot_can_be_added() {
        let mut scaling = PollerScaling::new(None, at(0.0));
        assert_eq!(scaling.next_growth_at(), Some(at(0.2)));
        assert!(!scaling.found_messages(5, 10_000, at(0.1)));
        assert!(scaling.found_messages(5, 10_000, at(0.2)));
        assert_eq!(scaling.next_growth_at(), Some(at(0.4)));
        let full = PollerScaling::new(Some(5), at(0.0));
        assert_eq!(full.next_growth_at(), None);
    }
}
