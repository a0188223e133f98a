//! The injected clock: [`Clock`], with [`SystemClock`] for the daemon and
//! [`ManualClock`] for tests.
//!
//! Every keep-alive, visibility timeout, retry delay, token bucket and cron
//! schedule in cloudlet reads time through a [`Clock`], so a test can drive
//! minutes of behaviour in microseconds by advancing a [`ManualClock`].
//! Nothing in this module reads the wall clock except [`SystemClock`].

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::ops::{Add, Sub};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{Notify, oneshot};

/// A point in time: nanoseconds since the Unix epoch (UTC).
///
/// Unsigned 64-bit nanoseconds reach the year 2554, which is enough for a
/// local cloud. Arithmetic saturates instead of wrapping.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    unix_nanos: u64,
}

impl Timestamp {
    /// 1970-01-01T00:00:00Z.
    pub const UNIX_EPOCH: Timestamp = Timestamp { unix_nanos: 0 };

    pub const fn from_unix_nanos(unix_nanos: u64) -> Timestamp {
        Timestamp { unix_nanos }
    }

    pub const fn from_unix_millis(unix_millis: u64) -> Timestamp {
        Timestamp { unix_nanos: unix_millis.saturating_mul(1_000_000) }
    }

    pub const fn from_unix_secs(unix_secs: u64) -> Timestamp {
        Timestamp { unix_nanos: unix_secs.saturating_mul(1_000_000_000) }
    }

    pub const fn as_unix_nanos(self) -> u64 {
        self.unix_nanos
    }

    pub const fn as_unix_millis(self) -> u64 {
        self.unix_nanos / 1_000_000
    }

    pub const fn as_unix_secs(self) -> u64 {
        self.unix_nanos / 1_000_000_000
    }

    /// The time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Timestamp) -> Duration {
        Duration::from_nanos(self.unix_nanos.saturating_sub(earlier.unix_nanos))
    }

    /// RFC 3339 in UTC with millisecond precision, e.g. `2026-11-24T22:40:20.123Z`.
    pub fn to_rfc3339_millis(self) -> String {
        let secs = self.as_unix_secs();
        let millis = (self.unix_nanos / 1_000_000) % 1000;
        let (year, month, day) = civil_from_days((secs / 86_400) as i64);
        let secs_of_day = secs % 86_400;
        format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
            secs_of_day / 3600,
            (secs_of_day / 60) % 60,
            secs_of_day % 60
        )
    }
}

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month, day).
///
/// Howard Hinnant's `civil_from_days`, which is exact for every day a
/// `Timestamp` can hold.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;

    fn add(self, rhs: Duration) -> Timestamp {
        let nanos = u64::try_from(rhs.as_nanos()).unwrap_or(u64::MAX);
        Timestamp { unix_nanos: self.unix_nanos.saturating_add(nanos) }
    }
}

impl Sub<Duration> for Timestamp {
    type Output = Timestamp;

    fn sub(self, rhs: Duration) -> Timestamp {
        let nanos = u64::try_from(rhs.as_nanos()).unwrap_or(u64::MAX);
        Timestamp { unix_nanos: self.unix_nanos.saturating_sub(nanos) }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_rfc3339_millis())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339_millis())
    }
}

/// A future that completes when a clock reaches a deadline.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The source of time for everything in cloudlet.
///
/// `now` is monotonic for a given clock: it never goes backwards unless a test
/// sets a [`ManualClock`] back on purpose.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> Timestamp;

    /// A future that completes once `now() >= deadline`.
    fn sleep_until(&self, deadline: Timestamp) -> Sleep;

    /// A future that completes once `duration` has passed on this clock.
    fn sleep(&self, duration: Duration) -> Sleep {
        self.sleep_until(self.now() + duration)
    }
}

/// How clocks are passed around: cheap to clone, shareable across threads.
pub type SharedClock = Arc<dyn Clock>;

/// The real clock.
///
/// Wall time is read once, at construction; after that time advances with the
/// monotonic clock, so `now` never jumps when the host's clock is adjusted.
/// Sleeping uses tokio's timer and therefore needs a tokio runtime with time
/// enabled.
#[derive(Debug, Clone)]
pub struct SystemClock {
    anchor_wall: Timestamp,
    anchor_instant: Instant,
}

impl SystemClock {
    pub fn new() -> SystemClock {
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        SystemClock { anchor_wall: Timestamp::UNIX_EPOCH + since_epoch, anchor_instant: Instant::now() }
    }

    /// A shareable system clock.
    pub fn shared() -> SharedClock {
        Arc::new(SystemClock::new())
    }
}

impl Default for SystemClock {
    fn default() -> SystemClock {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        self.anchor_wall + self.anchor_instant.elapsed()
    }

    fn sleep_until(&self, deadline: Timestamp) -> Sleep {
        let offset = deadline.saturating_duration_since(self.anchor_wall);
        let instant = self.anchor_instant.checked_add(offset);
        Box::pin(async move {
            match instant {
                Some(instant) => tokio::time::sleep_until(instant.into()).await,
                // A deadline beyond what `Instant` can represent never comes.
                None => std::future::pending().await,
            }
        })
    }
}

/// A clock that moves only when told to.
///
/// Sleepers are kept in deadline order (ties in registration order) and are
/// woken in that order by [`ManualClock::advance`] or [`ManualClock::set`], so
/// a test that advances the clock sees the same wake-ups on every run. A test
/// that needs a task to be parked before it advances the clock waits for that
/// with [`ManualClock::wait_for_sleepers`] instead of sleeping.
///
/// Clones share the same time.
#[derive(Clone)]
pub struct ManualClock {
    shared: Arc<ManualShared>,
}

struct ManualShared {
    state: Mutex<ManualState>,
    sleeper_added: Notify,
}

struct ManualState {
    now: Timestamp,
    next_seq: u64,
    sleepers: BTreeMap<(Timestamp, u64), oneshot::Sender<()>>,
}

impl ManualClock {
    /// A manual clock that reads `start` until it is moved.
    pub fn new(start: Timestamp) -> ManualClock {
        ManualClock {
            shared: Arc::new(ManualShared {
                state: Mutex::new(ManualState { now: start, next_seq: 0, sleepers: BTreeMap::new() }),
                sleeper_added: Notify::new(),
            }),
        }
    }

    /// This clock as a [`SharedClock`]; the clone keeps following this one.
    pub fn shared(&self) -> SharedClock {
        Arc::new(self.clone())
    }

    /// Moves time forward by `duration` and wakes every sleeper whose deadline
    /// has been reached, earliest first.
    pub fn advance(&self, duration: Duration) {
        let mut state = self.lock();
        let to = state.now + duration;
        Self::move_to(&mut state, to);
    }

    /// Sets the time to `to` (forwards or backwards) and wakes every sleeper
    /// whose deadline has been reached, earliest first.
    pub fn set(&self, to: Timestamp) {
        let mut state = self.lock();
        Self::move_to(&mut state, to);
    }

    /// Moves time to the earliest pending deadline, waking the sleepers due
    /// then, and returns that deadline; `None` if nobody is sleeping.
    pub fn advance_to_next_deadline(&self) -> Option<Timestamp> {
        let mut state = self.lock();
        Self::forget_dropped(&mut state);
        let (deadline, _) = *state.sleepers.keys().next()?;
        let to = deadline.max(state.now);
        Self::move_to(&mut state, to);
        Some(to)
    }

    /// The number of live sleepers (futures dropped before their deadline do
    /// not count).
    pub fn sleeper_count(&self) -> usize {
        let mut state = self.lock();
        Self::forget_dropped(&mut state);
        state.sleepers.len()
    }

    /// The earliest deadline anyone is sleeping until.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        let mut state = self.lock();
        Self::forget_dropped(&mut state);
        state.sleepers.keys().next().map(|(deadline, _)| *deadline)
    }

    /// Waits (without consuming time) until at least `n` sleepers are parked.
    pub async fn wait_for_sleepers(&self, n: usize) {
        loop {
            let added = self.shared.sleeper_added.notified();
            if self.sleeper_count() >= n {
                return;
            }
            added.await;
        }
    }

    fn lock(&self) -> MutexGuard<'_, ManualState> {
        // A panic while holding this lock cannot leave the state half-updated
        // (every update is a single map operation), so poisoning is ignored.
        self.shared.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn move_to(state: &mut ManualState, to: Timestamp) {
        state.now = to;
        let later = state.sleepers.split_off(&(to + Duration::from_nanos(1), 0));
        let due = std::mem::replace(&mut state.sleepers, later);
        for (_, wake) in due {
            // The receiver may be gone: its sleep future was dropped.
            let _ = wake.send(());
        }
    }

    fn forget_dropped(state: &mut ManualState) {
        state.sleepers.retain(|_, wake| !wake.is_closed());
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("ManualClock").field("now", &state.now).field("sleepers", &state.sleepers.len()).finish()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.lock().now
    }

    fn sleep_until(&self, deadline: Timestamp) -> Sleep {
        let mut state = self.lock();
        if deadline <= state.now {
            return Box::pin(std::future::ready(()));
        }
        let (wake, woken) = oneshot::channel();
        let seq = state.next_seq;
        state.next_seq += 1;
        state.sleepers.insert((deadline, seq), wake);
        drop(state);
        self.shared.sleeper_added.notify_waiters();
        Box::pin(async move {
            if woken.await.is_err() {
                // The clock itself was dropped: time will never move again.
                std::future::pending::<()>().await;
            }
        })
    }
}

#[cfg(test)]
mod tests;
