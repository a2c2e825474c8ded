//! Throttling of failed authentications per client address. Successes never count and
//! are never slowed: once an address is over the limit, only credentials that cannot be
//! guesses still pass (a token already in use and still valid, a password verified in the
//! last minute); every other attempt from it is answered "too many attempts" until its
//! window ends.
//!
//! An IPv6 client is counted by its /64, the block one host or one home network holds
//! (a single machine can use millions of addresses inside it); IPv4 by its address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed per address per window.
pub const MAX_FAILURES: u32 = 30;
/// The length of a window.
pub const WINDOW: Duration = Duration::from_secs(60);

#[derive(Default)]
pub(crate) struct FailureLimiter {
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
    /// When an address last reached the limit (milliseconds after `epoch`, 0 for never):
    /// while that is more than a window ago, no address can be throttled, and a request
    /// checks one atomic instead of taking the lock.
    last_over_ms: std::sync::atomic::AtomicU64,
    epoch: std::sync::OnceLock<Instant>,
}

impl FailureLimiter {
    /// Milliseconds since the limiter's first use, never 0.
    fn now_ms(&self) -> u64 {
        let epoch = self.epoch.get_or_init(Instant::now);
        u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX).saturating_add(1)
    }

    /// Seconds until the address may try again, if it is over the limit now.
    pub(crate) fn retry_after(&self, ip: Option<IpAddr>) -> Option<u64> {
        let ip = block(ip?);
        let last_over = self.last_over_ms.load(std::sync::atomic::Ordering::Acquire);
        if last_over == 0
            || self.now_ms().saturating_sub(last_over) >= u64::try_from(WINDOW.as_millis()).unwrap_or(u64::MAX)
        {
            return None;
        }
        let windows = self.windows.lock().ok()?;
        let (start, failures) = windows.get(&ip)?;
        let elapsed = start.elapsed();
        (elapsed < WINDOW && *failures >= MAX_FAILURES).then(|| (WINDOW - elapsed).as_secs().max(1))
    }

    /// Counts one failure from the address.
    pub(crate) fn record_failure(&self, ip: Option<IpAddr>) {
        let Some(ip) = ip.map(block) else { return };
        let Ok(mut windows) = self.windows.lock() else { return };
        if windows.len() > 100_000 {
            windows.retain(|_, (start, _)| start.elapsed() < WINDOW);
        }
        let entry = windows.entry(ip).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= WINDOW {
            *entry = (Instant::now(), 0);
        }
        entry.1 = entry.1.saturating_add(1);
        if entry.1 >= MAX_FAILURES {
            self.last_over_ms.store(self.now_ms(), std::sync::atomic::Ordering::Release);
        }
    }
}

impl FailureLimiter {
    /// Takes back one failure counted ahead of an attempt that then succeeded.
    pub(crate) fn forgive(&self, ip: Option<IpAddr>) {
        let Some(ip) = ip.map(block) else { return };
        let Ok(mut windows) = self.windows.lock() else { return };
        if let Some(entry) = windows.get_mut(&ip) {
            entry.1 = entry.1.saturating_sub(1);
        }
    }
}

/// What one client is counted as: an IPv4 address, or an IPv6 /64 (an IPv4-mapped IPv6
/// address is its IPv4 address).
fn block(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_throttled_after_too_many_failures_and_others_are_not() {
        let limiter = FailureLimiter::default();
        let bad: IpAddr = [10, 0, 0, 1].into();
        let good: IpAddr = [10, 0, 0, 2].into();
        for _ in 0..MAX_FAILURES - 1 {
            limiter.record_failure(Some(bad));
        }
        assert_eq!(limiter.retry_after(Some(bad)), None);
        limiter.record_failure(Some(bad));
        let wait = limiter.retry_after(Some(bad));
        assert!(wait.is_some_and(|s| (1..=60).contains(&s)), "{wait:?}");
        assert_eq!(limiter.retry_after(Some(good)), None);
        assert_eq!(limiter.retry_after(None), None);
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_block() {
        let limiter = FailureLimiter::default();
        for n in 0..MAX_FAILURES {
            let ip: IpAddr = format!("2001:db8:1:2::{:x}", n + 1).parse().unwrap_or_else(|e| panic!("{e}"));
            limiter.record_failure(Some(ip));
        }
        let same_block: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap_or_else(|e| panic!("{e}"));
        let other_block: IpAddr = "2001:db8:1:3::1".parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(limiter.retry_after(Some(same_block)).is_some());
        assert_eq!(limiter.retry_after(Some(other_block)), None);
    }

    #[test]
    fn a_forgiven_attempt_does_not_count() {
        let limiter = FailureLimiter::default();
        let ip: IpAddr = [10, 0, 0, 3].into();
        for _ in 0..MAX_FAILURES * 2 {
            limiter.record_failure(Some(ip));
            limiter.forgive(Some(ip));
        }
        assert_eq!(limiter.retry_after(Some(ip)), None);
        for _ in 0..MAX_FAILURES {
            limiter.record_failure(Some(ip));
        }
        assert!(limiter.retry_after(Some(ip)).is_some());
    }
}
