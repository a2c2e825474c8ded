//! `token::parse` never panics on any input, accepts only the documented shape, and a
//! token made from any 32 bytes parses back to itself with the same hash.

#![no_main]

use cells_core::token::{self, PatSecret, TOKEN_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(secret) = token::parse(text) {
            assert_eq!(secret.expose(), text);
            assert_eq!(text.len(), TOKEN_LEN);
            assert!(token::looks_like_pat(text));
            assert!(text[5..].bytes().all(|b| b.is_ascii_alphanumeric()));
        }
    }
    if let Ok(entropy) = <[u8; 32]>::try_from(data.get(..32).unwrap_or_default()) {
        let made = PatSecret::from_entropy(entropy);
        let parsed =
            token::parse(made.expose()).unwrap_or_else(|e| panic!("a made token must parse: {e}"));
        assert_eq!(parsed.expose(), made.expose());
        assert_eq!(parsed.hash(), made.hash());
        let hex = made.hash().to_hex();
        assert_eq!(token::PatHash::from_hex(&hex), Ok(made.hash()));
    }
});
