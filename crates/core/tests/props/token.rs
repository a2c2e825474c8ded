//! The token format: every token made from any 32 bytes parses, any one-character change
//! is refused with the right reason, and the hash never shows the plaintext.

use cells_core::token::{self, CHECKSUM_LEN, PREFIX, PatSecret, RANDOM_LEN, TOKEN_LEN, TokenFormatError};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

fn secret() -> impl Strategy<Value = PatSecret> {
    any::<[u8; 32]>().prop_map(PatSecret::from_entropy)
}

/// Base62 text of `len` characters.
fn base62(len: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".to_vec()),
        len,
    )
    .prop_map(|bytes| bytes.into_iter().map(char::from).collect())
}

proptest! {
    #[test]
    fn a_token_from_any_entropy_has_the_format_and_parses(secret in secret()) {
        let text = secret.expose();
        prop_assert_eq!(text.len(), TOKEN_LEN);
        prop_assert!(text.starts_with(PREFIX));
        prop_assert!(text[PREFIX.len()..].bytes().all(|b| b.is_ascii_alphanumeric()), "{}", text);
        prop_assert!(token::looks_like_pat(text));
        let parsed = token::parse(text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(parsed.expose(), text);
        prop_assert_eq!(parsed.hash(), secret.hash());
    }

    /// The random part is the 32 bytes in base62, big-endian and fixed-width: two
    /// different entropies never give one token, and their order is kept.
    #[test]
    fn the_encoding_is_one_to_one(a in any::<[u8; 32]>(), b in any::<[u8; 32]>()) {
        let (ta, tb) = (PatSecret::from_entropy(a), PatSecret::from_entropy(b));
        let random = |t: &PatSecret| t.expose()[PREFIX.len()..PREFIX.len() + RANDOM_LEN].to_owned();
        prop_assert_eq!(random(&ta).cmp(&random(&tb)), a.cmp(&b));
        prop_assert_eq!(ta.expose() == tb.expose(), a == b);
        prop_assert_eq!(ta.hash() == tb.hash(), a == b);
    }

    /// Any one character replaced by any other character is refused, and for the reason
    /// that applies: the prefix, then the length (a multi-byte character), then the
    /// alphabet, then the checksum.
    #[test]
    fn any_single_character_change_is_refused(secret in secret(), at in 0..TOKEN_LEN, replacement in any::<char>()) {
        let text = secret.expose();
        let original = char::from(text.as_bytes()[at]);
        prop_assume!(replacement != original);
        let changed = format!("{}{replacement}{}", &text[..at], &text[at + 1..]);
        let want = if at < PREFIX.len() {
            TokenFormatError::WrongPrefix
        } else if replacement.len_utf8() != 1 {
            TokenFormatError::WrongLength { len: changed.len() }
        } else if !replacement.is_ascii_alphanumeric() {
            TokenFormatError::BadCharacter { at }
        } else {
            TokenFormatError::BadChecksum
        };
        prop_assert_eq!(token::parse(&changed).err(), Some(want), "{:?} at {}", replacement, at);
    }

    #[test]
    fn a_wrong_prefix_is_refused(text in prop_oneof!["\\PC{0,60}", "[cpat_CPAT]{0,6}[0-9A-Za-z]{49}"], secret in secret(), lead in "[ \\t\\n\"'a-z]{1,3}") {
        prop_assume!(!text.starts_with(PREFIX));
        prop_assert_eq!(token::parse(&text).err(), Some(TokenFormatError::WrongPrefix));
        prop_assert!(!token::looks_like_pat(&text));
        let led = format!("{lead}{}", secret.expose());
        prop_assert_eq!(token::parse(&led).err(), Some(TokenFormatError::WrongPrefix), "{:?}", led);
        let upper = secret.expose().replacen(PREFIX, &PREFIX.to_uppercase(), 1);
        prop_assert_eq!(token::parse(&upper).err(), Some(TokenFormatError::WrongPrefix));
    }

    #[test]
    fn a_wrong_length_is_refused(secret in secret(), keep in PREFIX.len()..TOKEN_LEN, extra in "\\PC{1,8}") {
        let text = secret.expose();
        prop_assert_eq!(token::parse(&text[..keep]).err(), Some(TokenFormatError::WrongLength { len: keep }));
        let longer = format!("{text}{extra}");
        prop_assert_eq!(token::parse(&longer).err(), Some(TokenFormatError::WrongLength { len: longer.len() }));
    }

    /// A checksum that is not the one of the random part is refused, whichever half was
    /// changed. (A random part with the same CRC32 as another is a 1 in 2^32 chance.)
    #[test]
    fn a_wrong_checksum_is_refused(secret in secret(), checksum in base62(CHECKSUM_LEN), random in base62(RANDOM_LEN)) {
        let text = secret.expose();
        let (head, own) = text.split_at(PREFIX.len() + RANDOM_LEN);
        prop_assume!(checksum != own);
        prop_assert_eq!(token::parse(&format!("{head}{checksum}")).err(), Some(TokenFormatError::BadChecksum));
        prop_assume!(random != text[PREFIX.len()..PREFIX.len() + RANDOM_LEN]);
        prop_assert_eq!(token::parse(&format!("{PREFIX}{random}{own}")).err(), Some(TokenFormatError::BadChecksum));
    }

    /// Right prefix and length with any other character inside: refused at the first one.
    #[test]
    fn a_character_outside_base62_is_refused_where_it_is(secret in secret(), at in PREFIX.len()..TOKEN_LEN, bad in "[\\x00-\\x2f\\x3a-\\x40\\x5b-\\x60\\x7b-\\x7f]") {
        let text = secret.expose();
        let changed = format!("{}{bad}{}", &text[..at], &text[at + 1..]);
        prop_assert_eq!(token::parse(&changed).err(), Some(TokenFormatError::BadCharacter { at }));
    }

    /// The hash is SHA-256 of the whole token, and neither it (raw or in hex) nor any
    /// `Debug` output contains the token or its secret part.
    #[test]
    fn the_hash_never_shows_the_plaintext(secret in secret()) {
        let text = secret.expose();
        let body = &text[PREFIX.len()..];
        let random = &body[..RANDOM_LEN];
        let hash = secret.hash();
        let expected: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        prop_assert_eq!(hash.as_bytes(), &expected);
        prop_assert!(hash.as_bytes().as_slice() != text.as_bytes());
        prop_assert!(!text.as_bytes().windows(32).any(|w| w == hash.as_bytes()), "the token holds its hash");
        let hex = hash.to_hex();
        for shown in [hex.as_str(), &format!("{hash:?}"), &format!("{secret:?}"), &format!("{:?}", Some(&secret))] {
            prop_assert_ne!(shown, text);
            prop_assert!(!shown.contains(body) && !shown.contains(random), "{:?}", shown);
        }
        prop_assert!(!text.contains(&hex));
    }
}
