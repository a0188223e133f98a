//! Tests of the manual clock's semantics and of timestamp formatting.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;

fn start() -> Timestamp {
    Timestamp::from_unix_secs(1_700_000_000)
}

#[test]
fn manual_clock_reads_what_it_was_set_to() {
    let clock = ManualClock::new(start());
    assert_eq!(clock.now(), start());
    clock.advance(Duration::from_millis(1500));
    assert_eq!(clock.now(), start() + Duration::from_millis(1500));
    clock.set(start());
    assert_eq!(clock.now(), start(), "set may move time backwards");
    let shared = clock.shared();
    clock.advance(Duration::from_secs(1));
    assert_eq!(shared.now(), start() + Duration::from_secs(1), "clones share time");
}

#[tokio::test]
async fn sleep_completes_only_when_the_deadline_is_reached() {
    let clock = ManualClock::new(start());
    let shared = clock.shared();
    let task = tokio::spawn(async move { shared.sleep(Duration::from_secs(60)).await });
    clock.wait_for_sleepers(1).await;

    clock.advance(Duration::from_secs(59));
    tokio::task::yield_now().await;
    assert!(!task.is_finished(), "woke one second early");
    assert_eq!(clock.sleeper_count(), 1);

    clock.advance(Duration::from_secs(1));
    task.await.expect("sleeper task");
    assert_eq!(clock.sleeper_count(), 0);
}

#[tokio::test]
async fn a_deadline_in_the_past_is_ready_at_once() {
    let clock = ManualClock::new(start());
    clock.sleep_until(start()).await;
    clock.sleep_until(Timestamp::UNIX_EPOCH).await;
    clock.sleep(Duration::ZERO).await;
    assert_eq!(clock.sleeper_count(), 0);
}

#[tokio::test]
async fn sleepers_wake_in_deadline_order_then_registration_order() {
    let clock = ManualClock::new(start());
    let woken = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    // Registered out of deadline order; "b1" and "b2" share a deadline.
    for (name, secs) in [("c", 30), ("b1", 20), ("a", 10), ("b2", 20)] {
        let sleep = clock.sleep(Duration::from_secs(secs));
        let woken = Arc::clone(&woken);
        let clock = clock.clone();
        tasks.push(tokio::spawn(async move {
            sleep.await;
            woken.lock().expect("lock").push((name, clock.now()));
        }));
    }
    assert_eq!(clock.next_deadline(), Some(start() + Duration::from_secs(10)));

    // Step through deadlines one at a time: each step wakes exactly one group.
    let mut seen = Vec::new();
    while let Some(deadline) = clock.advance_to_next_deadline() {
        seen.push(deadline.saturating_duration_since(start()).as_secs());
        tokio::task::yield_now().await;
    }
    for task in tasks {
        task.await.expect("sleeper task");
    }
    assert_eq!(seen, [10, 20, 30]);
    let names: Vec<_> = woken.lock().expect("lock").iter().map(|(name, _)| *name).collect();
    assert_eq!(names, ["a", "b1", "b2", "c"]);
}

#[tokio::test]
async fn one_big_advance_wakes_everything_due() {
    let clock = ManualClock::new(start());
    let sleeps: Vec<_> = (1..=5).map(|i| clock.sleep(Duration::from_secs(i * 60))).collect();
    assert_eq!(clock.sleeper_count(), 5);
    clock.advance(Duration::from_secs(180));
    assert_eq!(clock.sleeper_count(), 2);
    let mut sleeps = sleeps.into_iter();
    for sleep in sleeps.by_ref().take(3) {
        sleep.await;
    }
    let fourth = sleeps.next().expect("fourth sleep");
    let timed_out = tokio::time::timeout(Duration::from_millis(1), fourth).await;
    assert!(timed_out.is_err(), "a sleeper past the new time woke");
}

#[tokio::test]
async fn dropped_sleepers_are_not_counted() {
    let clock = ManualClock::new(start());
    let sleep = clock.sleep(Duration::from_secs(5));
    assert_eq!(clock.sleeper_count(), 1);
    drop(sleep);
    assert_eq!(clock.sleeper_count(), 0);
    assert_eq!(clock.advance_to_next_deadline(), None);
    assert_eq!(clock.now(), start(), "no deadline means no movement");
}

#[tokio::test]
async fn sleeping_on_a_dropped_clock_never_completes() {
    let clock = ManualClock::new(start());
    let sleep = clock.sleep(Duration::from_secs(1));
    drop(clock);
    let timed_out = tokio::time::timeout(Duration::from_millis(1), sleep).await;
    assert!(timed_out.is_err());
}

#[tokio::test(start_paused = true)]
async fn system_clock_sleeps_on_tokio_time() {
    let clock = SystemClock::new();
    let before = tokio::time::Instant::now();
    clock.sleep(Duration::from_secs(3600)).await;
    assert!(before.elapsed() >= Duration::from_secs(3600));
}

#[test]
fn system_clock_is_monotonic_and_near_the_wall_clock() {
    let clock = SystemClock::new();
    let first = clock.now();
    let second = clock.now();
    assert!(second >= first);
    let wall = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970");
    let drift = wall.abs_diff(Duration::from_nanos(first.as_unix_nanos()));
    assert!(drift < Duration::from_secs(5), "drift {drift:?}");
}

#[test]
fn rfc3339_formatting() {
    assert_eq!(Timestamp::UNIX_EPOCH.to_rfc3339_millis(), "1970-01-01T00:00:00.000Z");
    assert_eq!(Timestamp::from_unix_millis(1_700_000_000_123).to_rfc3339_millis(), "2023-11-14T22:13:20.123Z");
    // A leap day and the last millisecond of a year.
    assert_eq!(Timestamp::from_unix_secs(951_782_400).to_rfc3339_millis(), "2000-02-29T00:00:00.000Z");
    assert_eq!(Timestamp::from_unix_millis(1_798_761_599_999).to_rfc3339_millis(), "2026-12-31T23:59:59.999Z");
}

#[test]
fn arithmetic_saturates() {
    assert_eq!(Timestamp::UNIX_EPOCH - Duration::from_secs(1), Timestamp::UNIX_EPOCH);
    assert_eq!(Timestamp::from_unix_nanos(u64::MAX) + Duration::from_secs(1), Timestamp::from_unix_nanos(u64::MAX));
    assert_eq!(start().saturating_duration_since(start() + Duration::from_secs(1)), Duration::ZERO);
}
