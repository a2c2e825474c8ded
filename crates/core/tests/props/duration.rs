//! Durations: every value writes itself in the canonical form and reads back the same,
//! every well-formed compound is the sum of its parts, and everything else is an error:
//! never zero, never a value that overflowed.

use cells_core::duration::{DurationError, MAX_SECONDS, Seconds, parse_duration};
use proptest::prelude::*;

const UNITS: [(char, u128); 4] = [('d', 86_400), ('h', 3600), ('m', 60), ('s', 1)];

/// The grammar, written apart from the parser: `(N d)? (N h)? (N m)? (N s)?`, not empty,
/// N one or more ASCII digits. The total is exact (digit strings too long even for a
/// `u128` count as `u128::MAX`).
fn reference(text: &str) -> Option<u128> {
    if text.is_empty() {
        return None;
    }
    let mut total: u128 = 0;
    let mut units = &UNITS[..];
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return None;
        }
        let count = rest[..digits].parse::<u128>().unwrap_or(u128::MAX);
        let unit = rest[digits..].chars().next()?;
        let at = units.iter().position(|&(name, _)| name == unit)?;
        total = total.saturating_add(count.saturating_mul(units[at].1));
        units = &units[at + 1..];
        rest = &rest[digits + 1..];
    }
    Some(total)
}

/// A count as written: small, any `u64`, or a digit string longer than any `u64`.
fn count() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..100).prop_map(|n| n.to_string()),
        (0u64..100, 1usize..4).prop_map(|(n, zeros)| format!("{}{n}", "0".repeat(zeros))),
        any::<u64>().prop_map(|n| n.to_string()),
        (MAX_SECONDS - 10..MAX_SECONDS + 10).prop_map(|n| n.to_string()),
        "[0-9]{20,30}",
    ]
}

/// A well-formed compound: a subset of the units, largest first, each with a count.
fn compound() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::option::of(count()), 4)
        .prop_filter("at least one unit", |counts| counts.iter().any(Option::is_some))
        .prop_map(|counts| {
            counts
                .iter()
                .zip(UNITS)
                .filter_map(|(count, (unit, _))| count.as_ref().map(|n| format!("{n}{unit}")))
                .collect()
        })
}

/// What the canonical form looks like: each unit at most once, largest first, no zero
/// count, no leading zero, hours below 24, minutes and seconds below 60.
fn is_canonical(text: &str) -> bool {
    let mut rest = text;
    let mut units = &UNITS[..];
    let mut parts = 0;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let Ok(count) = rest[..digits].parse::<u64>() else { return false };
        let Some(unit) = rest[digits..].chars().next() else { return false };
        let Some(at) = units.iter().position(|&(name, _)| name == unit) else { return false };
        let limit = match unit {
            'd' => u64::MAX,
            'h' => 24,
            _ => 60,
        };
        if count == 0 || count >= limit || rest.starts_with('0') {
            return false;
        }
        units = &units[at + 1..];
        rest = &rest[digits + 1..];
        parts += 1;
    }
    parts > 0
}

proptest! {
    #[test]
    fn every_value_round_trips_through_its_canonical_form(seconds in prop_oneof![1..=MAX_SECONDS, 1u64..200_000, MAX_SECONDS - 100_000..=MAX_SECONDS]) {
        let value = Seconds::new(seconds).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let text = value.to_string();
        prop_assert!(is_canonical(&text), "{} -> {:?}", seconds, text);
        prop_assert_eq!(parse_duration(&text), Ok(value));
        prop_assert_eq!(text.parse::<Seconds>().map(|v| v.to_string()), Ok(text));
    }

    /// A compound is the exact sum of its parts; a zero total is `Zero`; a total over the
    /// limit, or one that would overflow a `u64` on the way, is `TooLong`.
    #[test]
    fn a_compound_is_the_sum_of_its_parts(text in compound()) {
        let total = reference(&text).ok_or_else(|| TestCaseError::fail(format!("{text:?} is well formed")))?;
        let want = match total {
            0 => Err(DurationError::Zero),
            t if t > u128::from(MAX_SECONDS) => Err(DurationError::TooLong),
            t => Ok(u64::try_from(t).unwrap_or(0)),
        };
        prop_assert_eq!(parse_duration(&text).map(Seconds::get), want, "{:?}", text);
    }

    /// Counts chosen so that a product or a sum that wrapped around a `u64` would land
    /// back in range: each is `TooLong`, never the wrapped value (random huge counts miss
    /// this, since a wrapped value almost always stays over the limit).
    #[test]
    fn overflow_is_refused_not_wrapped(unit in 0..3usize, extra in 0u64..60, minutes in 1u64..1000) {
        let (name, size) = UNITS[unit];
        let size = u64::try_from(size).unwrap_or(1);
        // count * size is 2^64 + extra * size + (a little): the wrapped product is small.
        let count = u64::MAX / size + 1 + extra;
        prop_assert_eq!(parse_duration(&format!("{count}{name}")), Err(DurationError::TooLong));
        // minutes * 60 + seconds is 2^64 + extra: the wrapped sum is `extra`.
        let seconds = u64::MAX - minutes * 60 + 1 + extra;
        prop_assert_eq!(parse_duration(&format!("{minutes}m{seconds}s")), Err(DurationError::TooLong));
        prop_assert_eq!(parse_duration(&format!("1d{}s", u64::MAX - extra)), Err(DurationError::TooLong));
    }

    /// Whatever the text, the parser agrees with the grammar: an `Ok` only for a
    /// well-formed text whose total is in range, and then that exact total.
    #[test]
    fn any_text_parses_as_the_grammar_says(text in prop_oneof!["[0-9dhms]{0,10}", "[0-9dhmsw .,+_Hé-]{0,10}", "\\PC{0,8}", "\\p{Nd}{1,3}[dhms]"]) {
        let parsed = parse_duration(&text);
        match reference(&text) {
            Some(0) => prop_assert_eq!(parsed, Err(DurationError::Zero), "{:?}", text),
            Some(t) if t > u128::from(MAX_SECONDS) => prop_assert_eq!(parsed, Err(DurationError::TooLong), "{:?}", text),
            Some(t) => prop_assert_eq!(parsed.map(|v| u128::from(v.get())), Ok(t), "{:?}", text),
            None => prop_assert!(parsed.is_err(), "{:?} parsed as {:?}", text, parsed),
        }
    }

    /// One stray character anywhere in a good duration (a space, a sign, a decimal point,
    /// another unit, a non-ASCII digit or letter) makes it an error.
    #[test]
    fn one_stray_character_is_an_error(
        text in compound(),
        stray in prop::sample::select(vec![' ', '\t', '\u{a0}', '.', ',', '-', '+', '_', 'w', 'x', 'D', 'H', 'M', 'S', 'é', '١', 'ｈ', '\0']),
        at in any::<prop::sample::Index>(),
    ) {
        let at = at.index(text.len() + 1);
        let changed = format!("{}{stray}{}", &text[..at], &text[at..]);
        prop_assert!(parse_duration(&changed).is_err(), "{:?} accepted", changed);
    }

    /// Writing units out of order, twice, or without a number or a unit is an error.
    #[test]
    fn misplaced_units_are_errors(first in 0..4usize, second in 0..4usize, a in 1u64..1000, b in 1u64..1000) {
        let (x, y) = (UNITS[first].0, UNITS[second].0);
        let text = format!("{a}{x}{b}{y}");
        let parsed = parse_duration(&text);
        if first < second {
            prop_assert!(parsed.is_ok(), "{:?}", text);
        } else if first == second {
            prop_assert_eq!(parsed, Err(DurationError::RepeatedUnit { unit: x }));
        } else {
            prop_assert_eq!(parsed, Err(DurationError::OutOfOrder { unit: y, after: x }));
        }
        prop_assert_eq!(parse_duration(&format!("{a}{x}{b}")), Err(DurationError::MissingUnit { number: b.to_string() }));
        prop_assert_eq!(parse_duration(&format!("{a}{x}{y}")), Err(DurationError::UnknownUnit { unit: format!("{x}{y}") }));
        prop_assert_eq!(parse_duration(&format!("{x}{a}{y}")), Err(DurationError::MissingNumber { found: x }));
    }
}
