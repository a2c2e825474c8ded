//! When a personal access token expires, and when its use is worth writing down.
//!
//! A token follows one of two models, kept in its record as `AutoRefreshWindow` (seconds)
//! and `MaxExpiresAt`: a hard limit (window 0: valid until `ExpiresAt`, which never moves)
//! or auto refresh (window > 0: each successful use sets `ExpiresAt = now + window`, never
//! beyond `MaxExpiresAt` when that is set). [`ExpiryModel`] names them;
//! [`ExpiryModel::from_request`] turns what a creator asked for (REST `AutoRefresh` and
//! `ExpiresAt`, CLI `-a` and `-e`) into one, and the free functions are the same rules over
//! the stored columns. All times are unix seconds; nothing here reads the clock, the caller
//! passes `now` (see [`crate::now`]).
//!
//! [`should_write_usage`] is the write throttle: the expiry bump and the last-used data are
//! written at most once per [`write_interval`], so a busy token costs about one write a
//! minute rather than one per request.

use thiserror::Error;

use crate::UnixTime;
use crate::duration::MAX_SECONDS;

/// The longest auto-refresh window, the same bound as any CLI duration (about 100 years).
// MAX_SECONDS is far below i64::MAX, so the cast is exact.
pub const MAX_WINDOW: i64 = MAX_SECONDS as i64;

/// The longest time between two writes of a token's usage: one a minute at most.
pub const MAX_WRITE_INTERVAL: i64 = 60;

/// How a token's `ExpiresAt` evolves.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExpiryModel {
    /// `AutoRefreshWindow = 0`: the token is valid until `expires_at` and use never moves it.
    HardLimit { expires_at: UnixTime },
    /// `AutoRefreshWindow = window > 0`: each successful use sets `ExpiresAt = now + window`,
    /// so a token left unused for longer than its window expires; never beyond
    /// `max_expires_at` when it is set.
    AutoRefresh { window: i64, max_expires_at: Option<UnixTime> },
}

/// Why a token cannot be given the expiry that was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ExpiryError {
    #[error("a token needs an expiry: an auto-refresh window, an expiry time, or both")]
    NoExpiry,
    #[error("the auto-refresh window cannot be negative")]
    NegativeWindow,
    #[error("the auto-refresh window is too long: the longest is 36500 days (about 100 years)")]
    WindowTooLong,
    #[error("the expiry time {expires_at} is not in the future")]
    NotInTheFuture { expires_at: UnixTime },
}

impl ExpiryModel {
    /// The model for what a creator asked: an auto-refresh window (REST `AutoRefresh`, CLI
    /// `-a`) and an absolute expiry time (REST `ExpiresAt`, CLI `now + -e`).
    ///
    /// Only a time: hard limit. Only a window: auto refresh without a cap. Both: auto refresh
    /// capped at the time. A window of 0 counts as no window, as in the record.
    ///
    /// # Errors
    ///
    /// [`ExpiryError::NoExpiry`] when neither is given, [`ExpiryError::NegativeWindow`] and
    /// [`ExpiryError::WindowTooLong`] for a window out of range. Whether the time is in the
    /// future is checked by [`ExpiryModel::initial_expiry`], which knows `now`.
    pub fn from_request(auto_refresh: Option<i64>, expires_at: Option<UnixTime>) -> Result<Self, ExpiryError> {
        match (auto_refresh.filter(|&window| window != 0), expires_at) {
            (Some(window), _) if window < 0 => Err(ExpiryError::NegativeWindow),
            (Some(window), _) if window > MAX_WINDOW => Err(ExpiryError::WindowTooLong),
            (Some(window), max_expires_at) => Ok(Self::AutoRefresh { window, max_expires_at }),
            (None, Some(expires_at)) => Ok(Self::HardLimit { expires_at }),
            (None, None) => Err(ExpiryError::NoExpiry),
        }
    }

    /// The model of a stored record. A window of 0 (or, defensively, below) is a hard limit
    /// at the record's `ExpiresAt`; `MaxExpiresAt` only matters with auto refresh.
    #[must_use]
    pub const fn from_record(window: i64, expires_at: UnixTime, max_expires_at: Option<UnixTime>) -> Self {
        if window > 0 { Self::AutoRefresh { window, max_expires_at } } else { Self::HardLimit { expires_at } }
    }

    /// The `AutoRefreshWindow` column: 0 for a hard limit.
    #[must_use]
    pub const fn window(&self) -> i64 {
        match *self {
            Self::HardLimit { .. } => 0,
            Self::AutoRefresh { window, .. } => window,
        }
    }

    /// When a token of this model ends whatever its use: the hard limit (`expires_at`,
    /// its record's `ExpiresAt`), or the cap of an auto refresh; `None` for an auto
    /// refresh without a cap, which lives as long as it is used. What expiry warnings
    /// are about: an auto-refresh token in use is never about to lapse.
    #[must_use]
    pub const fn hard_end(&self, expires_at: UnixTime) -> Option<UnixTime> {
        match *self {
            Self::HardLimit { .. } => Some(expires_at),
            Self::AutoRefresh { max_expires_at, .. } => max_expires_at,
        }
    }

    /// The `MaxExpiresAt` column: set only for a capped auto refresh.
    #[must_use]
    pub const fn max_expires_at(&self) -> Option<UnixTime> {
        match *self {
            Self::HardLimit { .. } => None,
            Self::AutoRefresh { max_expires_at, .. } => max_expires_at,
        }
    }

    /// The `ExpiresAt` of a token created at `now`: the hard limit itself, or `now + window`
    /// capped at `MaxExpiresAt`.
    ///
    /// # Errors
    ///
    /// [`ExpiryError::NotInTheFuture`] when the hard limit or the cap is not after `now`:
    /// such a token would be dead on arrival, which is refused rather than issued.
    pub fn initial_expiry(&self, now: UnixTime) -> Result<UnixTime, ExpiryError> {
        match *self {
            Self::HardLimit { expires_at } | Self::AutoRefresh { max_expires_at: Some(expires_at), .. }
                if expires_at <= now =>
            {
                Err(ExpiryError::NotInTheFuture { expires_at })
            }
            Self::HardLimit { expires_at } => Ok(expires_at),
            Self::AutoRefresh { window, max_expires_at } => Ok(refreshed(now, window, max_expires_at)),
        }
    }

    /// The new `ExpiresAt` after a successful use at `now`, or `None` when use does not move
    /// it (hard limit). See [`bumped_expiry`].
    #[must_use]
    pub fn bumped_expiry(&self, now: UnixTime) -> Option<UnixTime> {
        bumped_expiry(now, self.window(), self.max_expires_at())
    }

    /// See [`write_interval`].
    #[must_use]
    pub fn write_interval(&self) -> i64 {
        write_interval(self.window())
    }
}

/// `now + window`, never beyond `max`; saturating, so no input can wrap around.
fn refreshed(now: UnixTime, window: i64, max: Option<UnixTime>) -> UnixTime {
    let refreshed = now.saturating_add(window);
    max.map_or(refreshed, |max| refreshed.min(max))
}

/// The `ExpiresAt` of a token created at `now`, from the record's columns.
///
/// - `window == 0` (hard limit): `hard_expires_at`, which is required; `max`, if also
///   given, lowers it.
/// - `window > 0` (auto refresh): `now + window`, never beyond `max` nor
///   `hard_expires_at`. Store the smaller of the two as `MaxExpiresAt`, or the bumps will
///   not respect it: [`ExpiryModel::from_request`] does this for you.
///
/// # Errors
///
/// A window out of range, no expiry at all for a hard limit, or an absolute limit that is
/// not after `now` (the token would be dead on arrival).
pub fn initial_expiry(
    now: UnixTime,
    window: i64,
    hard_expires_at: Option<UnixTime>,
    max: Option<UnixTime>,
) -> Result<UnixTime, ExpiryError> {
    if window < 0 {
        return Err(ExpiryError::NegativeWindow);
    }
    if window > MAX_WINDOW {
        return Err(ExpiryError::WindowTooLong);
    }
    let cap = match (hard_expires_at, max) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let model = if window == 0 {
        ExpiryModel::HardLimit { expires_at: hard_expires_at.and(cap).ok_or(ExpiryError::NoExpiry)? }
    } else {
        ExpiryModel::AutoRefresh { window, max_expires_at: cap }
    };
    model.initial_expiry(now)
}

/// Whether a token whose `ExpiresAt` is `expires_at` is expired at `now`.
///
/// The expiry instant itself is already expired: a token is valid while
/// `now < expires_at`.
#[must_use]
pub const fn is_expired(now: UnixTime, expires_at: UnixTime) -> bool {
    now >= expires_at
}

/// The new `ExpiresAt` after a successful use at `now`: `now + window`, never beyond `max`
/// (`MaxExpiresAt`). `None` for a hard limit (`window <= 0`): its `ExpiresAt` never moves,
/// and a bump to `now + 0` would expire it on the spot.
///
/// Only call it for a use that passed validation, so an expired token is never revived.
#[must_use]
pub fn bumped_expiry(now: UnixTime, window: i64, max: Option<UnixTime>) -> Option<UnixTime> {
    (window > 0).then(|| refreshed(now, window, max))
}

/// The shortest time between two writes of a token's usage (expiry bump, `LastUsedAt`,
/// `LastUsedIp`, `LastUsedVia`): `min(60 s, window / 10)`, at least 1 s.
///
/// A tenth of the window bounds what the throttle costs: the stored `ExpiresAt` lags the
/// true last use by less than the interval, so a token in steady use never lapses and an
/// idle one expires at most 10% of its window early. A hard-limit token (`window <= 0`)
/// has no expiry to bump, only last-used data, which is written once a minute.
#[must_use]
pub fn write_interval(window: i64) -> i64 {
    if window <= 0 { MAX_WRITE_INTERVAL } else { (window / 10).clamp(1, MAX_WRITE_INTERVAL) }
}

/// Whether a use at `now` should be written, given when this token's usage was last
/// written (`None`: never, so yes). True once [`write_interval`] has passed.
///
/// A `last_written_at` in the future (clocks of two servers disagreeing) waits until the
/// interval has passed after it, rather than writing on every request.
#[must_use]
pub fn should_write_usage(now: UnixTime, last_written_at: Option<UnixTime>, window: i64) -> bool {
    last_written_at.is_none_or(|last| now.saturating_sub(last) >= write_interval(window))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixTime = 1_750_000_000;
    const DAY: i64 = 86_400;

    #[test]
    fn expired_from_the_expiry_instant_on() {
        assert!(!is_expired(NOW - 1, NOW));
        assert!(is_expired(NOW, NOW));
        assert!(is_expired(NOW + 1, NOW));
        assert!(is_expired(i64::MAX, i64::MAX));
        assert!(!is_expired(i64::MIN, i64::MAX));
    }

    #[test]
    fn the_request_picks_the_model() {
        assert_eq!(
            ExpiryModel::from_request(None, Some(NOW + DAY)),
            Ok(ExpiryModel::HardLimit { expires_at: NOW + DAY })
        );
        assert_eq!(
            ExpiryModel::from_request(Some(0), Some(NOW + DAY)),
            Ok(ExpiryModel::HardLimit { expires_at: NOW + DAY })
        );
        assert_eq!(
            ExpiryModel::from_request(Some(900), None),
            Ok(ExpiryModel::AutoRefresh { window: 900, max_expires_at: None })
        );
        assert_eq!(
            ExpiryModel::from_request(Some(900), Some(NOW + DAY)),
            Ok(ExpiryModel::AutoRefresh { window: 900, max_expires_at: Some(NOW + DAY) })
        );
        assert_eq!(ExpiryModel::from_request(None, None), Err(ExpiryError::NoExpiry));
        assert_eq!(ExpiryModel::from_request(Some(0), None), Err(ExpiryError::NoExpiry));
        assert_eq!(ExpiryModel::from_request(Some(-1), None), Err(ExpiryError::NegativeWindow));
        assert_eq!(ExpiryModel::from_request(Some(i64::MIN), Some(NOW)), Err(ExpiryError::NegativeWindow));
        assert_eq!(ExpiryModel::from_request(Some(MAX_WINDOW), None).map(|m| m.window()), Ok(MAX_WINDOW));
        assert_eq!(ExpiryModel::from_request(Some(MAX_WINDOW + 1), None), Err(ExpiryError::WindowTooLong));
        assert_eq!(ExpiryModel::from_request(Some(i64::MAX), None), Err(ExpiryError::WindowTooLong));
    }

    #[test]
    fn the_model_gives_the_record_columns_back() {
        let hard = ExpiryModel::HardLimit { expires_at: NOW + DAY };
        assert_eq!((hard.window(), hard.max_expires_at()), (0, None));
        assert_eq!(ExpiryModel::from_record(0, NOW + DAY, Some(NOW + 2 * DAY)), hard);
        assert_eq!(ExpiryModel::from_record(-5, NOW + DAY, None), hard);
        let capped = ExpiryModel::AutoRefresh { window: 600, max_expires_at: Some(NOW + DAY) };
        assert_eq!((capped.window(), capped.max_expires_at()), (600, Some(NOW + DAY)));
        assert_eq!(ExpiryModel::from_record(600, NOW + 600, Some(NOW + DAY)), capped);
    }

    #[test]
    fn hard_limit_starts_at_its_limit_and_never_moves() {
        let hard = ExpiryModel::HardLimit { expires_at: NOW + DAY };
        assert_eq!(hard.initial_expiry(NOW), Ok(NOW + DAY));
        assert_eq!(hard.initial_expiry(NOW + DAY - 1), Ok(NOW + DAY));
        assert_eq!(hard.initial_expiry(NOW + DAY), Err(ExpiryError::NotInTheFuture { expires_at: NOW + DAY }));
        assert_eq!(hard.bumped_expiry(NOW + 5), None);
        assert_eq!(bumped_expiry(NOW, 0, Some(NOW + DAY)), None);
        assert_eq!(bumped_expiry(NOW, -1, None), None);
    }

    #[test]
    fn auto_refresh_starts_one_window_ahead_and_follows_use() {
        let auto = ExpiryModel::AutoRefresh { window: 900, max_expires_at: None };
        assert_eq!(auto.initial_expiry(NOW), Ok(NOW + 900));
        assert_eq!(auto.bumped_expiry(NOW + 100), Some(NOW + 1000));
        assert_eq!(bumped_expiry(NOW, 1, None), Some(NOW + 1));
        // Used one second before it lapses: pushed back a whole window from then.
        assert_eq!(auto.bumped_expiry(NOW + 899), Some(NOW + 899 + 900));
        assert!(!is_expired(NOW + 899, NOW + 900));
        assert!(is_expired(NOW + 900, NOW + 900));
    }

    #[test]
    fn auto_refresh_never_goes_beyond_its_cap() {
        let max = NOW + 1000;
        let capped = ExpiryModel::AutoRefresh { window: 900, max_expires_at: Some(max) };
        assert_eq!(capped.initial_expiry(NOW), Ok(NOW + 900));
        assert_eq!(capped.bumped_expiry(NOW + 99), Some(NOW + 999));
        assert_eq!(capped.bumped_expiry(NOW + 100), Some(max));
        assert_eq!(capped.bumped_expiry(NOW + 101), Some(max));
        assert_eq!(capped.bumped_expiry(NOW + 999), Some(max));
        // A cap closer than one window shortens the very first expiry too.
        let close = ExpiryModel::AutoRefresh { window: 900, max_expires_at: Some(NOW + 10) };
        assert_eq!(close.initial_expiry(NOW), Ok(NOW + 10));
        assert_eq!(close.initial_expiry(NOW + 10), Err(ExpiryError::NotInTheFuture { expires_at: NOW + 10 }));
    }

    #[test]
    fn nothing_overflows() {
        assert_eq!(bumped_expiry(i64::MAX - 1, 10, None), Some(i64::MAX));
        assert_eq!(initial_expiry(i64::MAX - 1, MAX_WINDOW, None, None), Ok(i64::MAX));
        assert!(!should_write_usage(i64::MIN, Some(i64::MAX), 600));
        assert!(should_write_usage(i64::MAX, Some(i64::MIN), 600));
    }

    #[test]
    fn initial_expiry_over_the_columns() {
        assert_eq!(initial_expiry(NOW, 0, Some(NOW + DAY), None), Ok(NOW + DAY));
        assert_eq!(initial_expiry(NOW, 0, Some(NOW + DAY), Some(NOW + 10)), Ok(NOW + 10));
        assert_eq!(initial_expiry(NOW, 0, None, None), Err(ExpiryError::NoExpiry));
        assert_eq!(initial_expiry(NOW, 0, None, Some(NOW + DAY)), Err(ExpiryError::NoExpiry));
        assert_eq!(initial_expiry(NOW, 0, Some(NOW), None), Err(ExpiryError::NotInTheFuture { expires_at: NOW }));
        assert_eq!(
            initial_expiry(NOW, 0, Some(NOW - 1), None),
            Err(ExpiryError::NotInTheFuture { expires_at: NOW - 1 })
        );
        assert_eq!(initial_expiry(NOW, 0, Some(NOW + 1), None), Ok(NOW + 1));
        assert_eq!(initial_expiry(NOW, 600, None, None), Ok(NOW + 600));
        assert_eq!(initial_expiry(NOW, 600, None, Some(NOW + 60)), Ok(NOW + 60));
        assert_eq!(initial_expiry(NOW, 600, Some(NOW + 60), None), Ok(NOW + 60));
        assert_eq!(initial_expiry(NOW, 600, Some(NOW + 90), Some(NOW + 60)), Ok(NOW + 60));
        assert_eq!(initial_expiry(NOW, 600, None, Some(NOW + DAY)), Ok(NOW + 600));
        assert_eq!(initial_expiry(NOW, 600, None, Some(NOW)), Err(ExpiryError::NotInTheFuture { expires_at: NOW }));
        assert_eq!(initial_expiry(NOW, -1, Some(NOW + DAY), None), Err(ExpiryError::NegativeWindow));
        assert_eq!(initial_expiry(NOW, MAX_WINDOW + 1, None, None), Err(ExpiryError::WindowTooLong));
    }

    #[test]
    fn the_write_interval_is_a_tenth_of_the_window_between_one_second_and_a_minute() {
        assert_eq!(write_interval(0), 60);
        assert_eq!(write_interval(-10), 60);
        assert_eq!(write_interval(1), 1);
        assert_eq!(write_interval(19), 1);
        assert_eq!(write_interval(20), 2);
        assert_eq!(write_interval(30 * 60), 60);
        assert_eq!(write_interval(599), 59);
        assert_eq!(write_interval(600), 60);
        assert_eq!(write_interval(601), 60);
        assert_eq!(write_interval(90 * DAY), 60);
        assert_eq!(write_interval(i64::MAX), 60);
        let model = ExpiryModel::AutoRefresh { window: 300, max_expires_at: None };
        assert_eq!(model.write_interval(), 30);
        // The interval is always shorter than a window of more than a second, so a token in
        // steady use is written again before its stored expiry lapses.
        for window in 2..=700 {
            assert!(write_interval(window) < window, "{window}");
        }
    }

    #[test]
    fn usage_is_written_once_per_interval() {
        let window = 30 * 60;
        assert!(should_write_usage(NOW, None, window));
        assert!(!should_write_usage(NOW, Some(NOW), window));
        assert!(!should_write_usage(NOW + 59, Some(NOW), window));
        assert!(should_write_usage(NOW + 60, Some(NOW), window));
        assert!(should_write_usage(NOW + DAY, Some(NOW), window));
        // Short windows are written more often, never less than a second apart.
        assert!(!should_write_usage(NOW + 1, Some(NOW), 20));
        assert!(should_write_usage(NOW + 2, Some(NOW), 20));
        assert!(!should_write_usage(NOW, Some(NOW), 5));
        assert!(should_write_usage(NOW + 1, Some(NOW), 5));
        // Hard limit: once a minute.
        assert!(!should_write_usage(NOW + 59, Some(NOW), 0));
        assert!(should_write_usage(NOW + 60, Some(NOW), 0));
        // Written in the future by a server whose clock runs ahead.
        assert!(!should_write_usage(NOW, Some(NOW + 30), window));
        assert!(should_write_usage(NOW + 90, Some(NOW + 30), window));
    }

    #[test]
    fn a_token_in_steady_use_never_lapses_under_the_throttle() {
        // One use a second for a long while, bumping only when the throttle says so: the
        // stored expiry must stay ahead of every use.
        for window in [2, 7, 20, 61, 600, 3600] {
            let model = ExpiryModel::AutoRefresh { window, max_expires_at: None };
            let mut stored = model.initial_expiry(NOW).unwrap_or_else(|e| panic!("{e}"));
            let mut written = Some(NOW);
            for now in NOW..NOW + 5 * window {
                assert!(!is_expired(now, stored), "window {window}, at {now}");
                if should_write_usage(now, written, window) {
                    stored = model.bumped_expiry(now).unwrap_or_else(|| panic!("no bump"));
                    written = Some(now);
                }
            }
        }
    }
}
