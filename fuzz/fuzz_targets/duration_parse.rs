//! `duration::parse_duration` never panics, never yields zero or more than the maximum,
//! and what it accepts prints in a canonical form that parses back to the same value.

#![no_main]

use cells_core::duration::{MAX_SECONDS, Seconds, parse_duration};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(seconds) = parse_duration(text) else {
        return;
    };
    assert!(seconds.get() > 0 && seconds.get() <= MAX_SECONDS);
    let canonical = seconds.to_string();
    assert_eq!(
        parse_duration(&canonical),
        Ok(seconds),
        "{text:?} -> {canonical:?}"
    );
    assert_eq!(canonical.parse::<Seconds>(), Ok(seconds));
    assert_eq!(Seconds::new(seconds.get()), Ok(seconds));
});
