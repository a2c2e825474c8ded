//! Durations as written on the command line (`-e 90d`, `-a 15m`): a whole number and a
//! unit, `s`, `m`, `h` or `d`, or several of them largest first (`1d12h`, `2h30m`).
//!
//! [`parse_duration`] (or `str::parse::<Seconds>`) turns the text into [`Seconds`], which is
//! always more than zero and at most [`MAX_SECONDS`]; its `Display` writes the canonical
//! form back. Anything else is a [`DurationError`] that says what to write instead: a
//! duration is never read as zero by accident (a fraction like `1.5d` is refused, not
//! truncated).

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// The longest duration accepted: 36500 days, about 100 years. Anything longer is a typo,
/// and the bound keeps `now + duration` far from overflowing an `i64`.
pub const MAX_SECONDS: u64 = 36_500 * DAY;

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// The units, largest first, which is also the order they must be written in.
const UNITS: [(char, u64); 4] = [('d', DAY), ('h', HOUR), ('m', MINUTE), ('s', 1)];

/// A duration of a whole number of seconds, more than zero and at most [`MAX_SECONDS`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Seconds(u64);

impl Seconds {
    /// A duration of `seconds`.
    ///
    /// # Errors
    ///
    /// [`DurationError::Zero`] for zero, [`DurationError::TooLong`] above [`MAX_SECONDS`].
    pub const fn new(seconds: u64) -> Result<Self, DurationError> {
        if seconds == 0 {
            Err(DurationError::Zero)
        } else if seconds > MAX_SECONDS {
            Err(DurationError::TooLong)
        } else {
            Ok(Self(seconds))
        }
    }

    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The same number as an `i64`, the type of unix times: lossless, since the value is at
    /// most [`MAX_SECONDS`].
    #[must_use]
    pub const fn as_i64(self) -> i64 {
        // MAX_SECONDS < i64::MAX, so this never wraps.
        self.0 as i64
    }
}

impl From<Seconds> for std::time::Duration {
    fn from(value: Seconds) -> Self {
        Self::from_secs(value.0)
    }
}

/// The canonical form: each non-zero unit once, largest first (`90d`, `1d12h`, `1h1s`).
impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        for (unit, size) in UNITS {
            let count = rest / size;
            rest %= size;
            if count > 0 {
                write!(f, "{count}{unit}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Seconds({}: {self})", self.0)
    }
}

impl FromStr for Seconds {
    type Err = DurationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_duration(text)
    }
}

/// Why a text is not a duration. Each message says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DurationError {
    #[error("empty duration: write a whole number and a unit, like 90d, 12h, 15m or 20s")]
    Empty,
    #[error("a duration has no spaces: write it like 1d12h")]
    Whitespace,
    #[error("a duration cannot be negative")]
    Negative,
    #[error("fractions are not allowed in a duration: combine units instead, like 1d12h")]
    Fraction,
    #[error("expected a whole number, found {found:?}: write a duration like 90d or 1d12h")]
    MissingNumber { found: char },
    #[error("the number {number} has no unit: add s, m, h or d, like {number}d")]
    MissingUnit { number: String },
    #[error("unknown unit {unit:?}: use s (seconds), m (minutes), h (hours) or d (days)")]
    UnknownUnit { unit: String },
    #[error("unexpected {found:?} in a duration: write it like 90d or 1d12h")]
    UnexpectedCharacter { found: char },
    #[error("the unit {unit:?} is written twice: write each unit once, like 1d12h")]
    RepeatedUnit { unit: char },
    #[error("{unit:?} comes after {after:?}: write units largest first, like 1d2h3m4s")]
    OutOfOrder { unit: char, after: char },
    #[error("a duration must be more than zero")]
    Zero,
    #[error("duration too long: the longest is 36500d (about 100 years)")]
    TooLong,
}

/// Reads a CLI duration: `20s`, `15m`, `12h`, `90d`, or a compound written largest unit
/// first with each unit once (`1d12h`, `2h30m`, `1d2h3m4s`).
///
/// Zero units inside a compound are allowed (`1d0h`) as long as the total is not zero.
/// Leading zeros are allowed (`05m`). No spaces, signs, fractions or other units.
///
/// # Errors
///
/// A [`DurationError`] for anything else.
pub fn parse_duration(text: &str) -> Result<Seconds, DurationError> {
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    if text.contains(char::is_whitespace) {
        return Err(DurationError::Whitespace);
    }
    if text.starts_with('-') {
        return Err(DurationError::Negative);
    }
    let mut total: u64 = 0;
    // Index into UNITS of the last unit read: the next one must come after it.
    let mut last: Option<usize> = None;
    let mut rest = text;
    while !rest.is_empty() {
        let digits_end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let (digits, after_digits) = rest.split_at(digits_end);
        let unit_end = after_digits.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(after_digits.len());
        let (unit, after_unit) = after_digits.split_at(unit_end);
        if digits.is_empty() {
            return Err(match rest.chars().next() {
                Some('.' | ',') => DurationError::Fraction,
                Some(found) if found.is_ascii_alphabetic() => DurationError::MissingNumber { found },
                Some(found) => DurationError::UnexpectedCharacter { found },
                None => DurationError::Empty,
            });
        }
        if unit.is_empty() {
            return Err(match after_digits.chars().next() {
                Some('.' | ',') => DurationError::Fraction,
                None => DurationError::MissingUnit { number: digits.to_owned() },
                Some(found) => DurationError::UnexpectedCharacter { found },
            });
        }
        let Some(index) = UNITS.iter().position(|&(name, _)| unit.len() == 1 && unit.starts_with(name)) else {
            return Err(DurationError::UnknownUnit { unit: unit.to_owned() });
        };
        let (name, size) = UNITS[index];
        if let Some(previous) = last {
            if previous == index {
                return Err(DurationError::RepeatedUnit { unit: name });
            }
            if previous > index {
                return Err(DurationError::OutOfOrder { unit: name, after: UNITS[previous].0 });
            }
        }
        last = Some(index);
        // Digits only, so the one way to fail is a number too big for a u64.
        let count: u64 = digits.parse().map_err(|_| DurationError::TooLong)?;
        total = count.checked_mul(size).and_then(|seconds| total.checked_add(seconds)).ok_or(DurationError::TooLong)?;
        rest = after_unit;
    }
    Seconds::new(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seconds(text: &str) -> u64 {
        parse_duration(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}")).get()
    }

    fn error(text: &str) -> DurationError {
        match parse_duration(text) {
            Ok(value) => panic!("{text:?} should be refused, got {value:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn single_units() {
        assert_eq!(seconds("20s"), 20);
        assert_eq!(seconds("15m"), 15 * 60);
        assert_eq!(seconds("12h"), 12 * 3600);
        assert_eq!(seconds("90d"), 90 * 86_400);
        assert_eq!(seconds("1s"), 1);
        assert_eq!(seconds("05m"), 300);
        assert_eq!(seconds("3600s"), 3600);
        assert_eq!(seconds("48h"), 2 * 86_400);
    }

    #[test]
    fn compounds_largest_first() {
        assert_eq!(seconds("1d12h"), 36 * 3600);
        assert_eq!(seconds("2h30m"), 2 * 3600 + 30 * 60);
        assert_eq!(seconds("1d2h3m4s"), 86_400 + 2 * 3600 + 3 * 60 + 4);
        assert_eq!(seconds("1d4s"), 86_400 + 4);
        assert_eq!(seconds("1h90m"), 3600 + 90 * 60);
        assert_eq!(seconds("1d0h"), 86_400);
        assert_eq!(seconds("0d1s"), 1);
    }

    #[test]
    fn the_bounds_are_exact() {
        assert_eq!(seconds("36500d"), MAX_SECONDS);
        assert_eq!(seconds(&format!("{MAX_SECONDS}s")), MAX_SECONDS);
        assert_eq!(error("36500d1s"), DurationError::TooLong);
        assert_eq!(error(&format!("{}s", MAX_SECONDS + 1)), DurationError::TooLong);
        assert_eq!(error("36501d"), DurationError::TooLong);
        assert_eq!(error("99999999999999999999d"), DurationError::TooLong);
        assert_eq!(error("99999999999999999999s"), DurationError::TooLong);
        // Fits a u64 but not once multiplied by a day.
        assert_eq!(error("999999999999999999d"), DurationError::TooLong);
        assert_eq!(error(&format!("{}d{}s", u64::MAX / DAY, u64::MAX)), DurationError::TooLong);
        assert_eq!(Seconds::new(MAX_SECONDS).map(Seconds::get), Ok(MAX_SECONDS));
        assert_eq!(Seconds::new(MAX_SECONDS + 1), Err(DurationError::TooLong));
        assert_eq!(Seconds::new(0), Err(DurationError::Zero));
        assert_eq!(Seconds::new(1).map(Seconds::get), Ok(1));
    }

    #[test]
    fn never_a_silent_zero() {
        assert_eq!(error("0s"), DurationError::Zero);
        assert_eq!(error("0d"), DurationError::Zero);
        assert_eq!(error("0d0h"), DurationError::Zero);
        assert_eq!(error("00m"), DurationError::Zero);
        assert_eq!(error("1.5d"), DurationError::Fraction);
        assert_eq!(error("0.5h"), DurationError::Fraction);
        assert_eq!(error(".5d"), DurationError::Fraction);
        assert_eq!(error("1,5d"), DurationError::Fraction);
        assert_eq!(error("1d.5h"), DurationError::Fraction);
    }

    #[test]
    fn bad_inputs_have_clear_errors() {
        assert_eq!(error(""), DurationError::Empty);
        assert_eq!(error("-1h"), DurationError::Negative);
        assert_eq!(error("-0s"), DurationError::Negative);
        assert_eq!(error("+1h"), DurationError::UnexpectedCharacter { found: '+' });
        assert_eq!(error("1h-30m"), DurationError::UnexpectedCharacter { found: '-' });
        assert_eq!(error("abc"), DurationError::MissingNumber { found: 'a' });
        assert_eq!(error("h"), DurationError::MissingNumber { found: 'h' });
        assert_eq!(error("1dh"), DurationError::UnknownUnit { unit: "dh".into() });
        assert_eq!(error("30"), DurationError::MissingUnit { number: "30".into() });
        assert_eq!(error("1d30"), DurationError::MissingUnit { number: "30".into() });
        assert_eq!(error("3w"), DurationError::UnknownUnit { unit: "w".into() });
        assert_eq!(error("3ms"), DurationError::UnknownUnit { unit: "ms".into() });
        assert_eq!(error("3min"), DurationError::UnknownUnit { unit: "min".into() });
        assert_eq!(error("2hours"), DurationError::UnknownUnit { unit: "hours".into() });
        assert_eq!(error("3H"), DurationError::UnknownUnit { unit: "H".into() });
        assert_eq!(error("3D"), DurationError::UnknownUnit { unit: "D".into() });
        assert_eq!(error("1h1h"), DurationError::RepeatedUnit { unit: 'h' });
        assert_eq!(error("1d2d"), DurationError::RepeatedUnit { unit: 'd' });
        assert_eq!(error("1m1h"), DurationError::OutOfOrder { unit: 'h', after: 'm' });
        assert_eq!(error("1s1d"), DurationError::OutOfOrder { unit: 'd', after: 's' });
        assert_eq!(error("1d1s1m"), DurationError::OutOfOrder { unit: 'm', after: 's' });
        assert_eq!(error("1h_"), DurationError::UnexpectedCharacter { found: '_' });
        assert_eq!(error("1h5é"), DurationError::UnexpectedCharacter { found: 'é' });
        assert_eq!(error("١h"), DurationError::UnexpectedCharacter { found: '١' });
        assert_eq!(error("1ｈ"), DurationError::UnexpectedCharacter { found: 'ｈ' });
    }

    #[test]
    fn whitespace_is_refused() {
        for text in [" ", " 1h", "1h ", "1 h", "1d 12h", "1h\n", "\t1h", "1h\u{a0}"] {
            assert_eq!(error(text), DurationError::Whitespace, "{text:?}");
        }
    }

    #[test]
    fn messages_say_what_to_write() {
        assert!(error("1.5d").to_string().contains("1d12h"));
        assert!(error("30").to_string().contains("30d"));
        assert!(error("3w").to_string().contains("s (seconds)"));
        assert!(error("0s").to_string().contains("more than zero"));
        assert!(error("1m1h").to_string().contains("largest first"));
    }

    #[test]
    fn display_is_canonical_and_round_trips() {
        let cases = [
            (1, "1s"),
            (59, "59s"),
            (60, "1m"),
            (61, "1m1s"),
            (3600, "1h"),
            (3661, "1h1m1s"),
            (86_399, "23h59m59s"),
            (86_400, "1d"),
            (86_401, "1d1s"),
            (36 * 3600, "1d12h"),
            (MAX_SECONDS, "36500d"),
        ];
        for (value, text) in cases {
            let duration = Seconds::new(value).unwrap_or_else(|e| panic!("{value}: {e}"));
            assert_eq!(duration.to_string(), text);
            assert_eq!(text.parse::<Seconds>(), Ok(duration));
        }
        for text in ["90m", "1h90m", "48h", "0d3600s"] {
            let once = seconds(text);
            let canonical = Seconds::new(once).map(|s| s.to_string()).unwrap_or_default();
            assert_eq!(seconds(&canonical), once, "{text} -> {canonical}");
        }
    }

    #[test]
    fn conversions() {
        let day = Seconds::new(DAY).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(day.as_i64(), 86_400);
        assert_eq!(std::time::Duration::from(day).as_secs(), 86_400);
        assert_eq!(Seconds::new(MAX_SECONDS).map(Seconds::as_i64), Ok(i64::try_from(MAX_SECONDS).unwrap_or(i64::MIN)));
        assert_eq!(format!("{day:?}"), "Seconds(86400: 1d)");
    }
}
