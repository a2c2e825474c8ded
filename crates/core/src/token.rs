//! The personal access token format: `cpat_` + 43 base62 characters of randomness + 6
//! base62 characters of CRC32 checksum, 54 characters in all (`cpat_[0-9A-Za-z]{49}`).
//!
//! [`generate`] makes a new token and [`parse`] checks one that a client sent; both give a
//! [`PatSecret`], the plaintext, which is shown once at creation and otherwise only hashed.
//! [`PatSecret::hash`] gives the [`PatHash`] (SHA-256 of the whole token) that the store
//! keeps and the caches are keyed by. [`looks_like_pat`] only tells whether a credential is
//! meant to be a token (so that a Basic-auth password can be told from one) and checks
//! nothing else. The checksum lets a mistyped or truncated token, or a random string with
//! the right prefix, be refused without any database or cache lookup.

use std::fmt;
use std::hash::{Hash, Hasher};

use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;

// NEVER CHANGE THE PREFIX: secret scanners and log filters key on it.
/// What every personal access token starts with.
pub const PREFIX: &str = "cpat_";

/// Base62 characters that carry the 32 random bytes.
pub const RANDOM_LEN: usize = 43;

/// Base62 characters of the CRC32 checksum of the random part.
pub const CHECKSUM_LEN: usize = 6;

/// Length of a whole token, prefix included.
pub const TOKEN_LEN: usize = PREFIX.len() + RANDOM_LEN + CHECKSUM_LEN;

// NEVER CHANGE THE ALPHABET OR ITS ORDER: the checksum of every token ever issued is
// written in it. Digit values are 0-9, then A-Z, then a-z.
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The plaintext of a personal access token.
///
/// It cannot be printed by accident: `Debug` shows `cpat_***` and there is no `Display`.
/// Call [`PatSecret::expose`] at the one place that must show or send it.
#[derive(Clone)]
pub struct PatSecret(String);

impl PatSecret {
    /// The token for these 32 random bytes.
    ///
    /// Use [`generate`] to make a real token; this exists so that tests and fixtures can
    /// make the same token every time.
    #[must_use]
    pub fn from_entropy(bytes: [u8; 32]) -> Self {
        let mut text = [0u8; TOKEN_LEN];
        let (prefix, rest) = text.split_at_mut(PREFIX.len());
        let (random, checksum) = rest.split_at_mut(RANDOM_LEN);
        prefix.copy_from_slice(PREFIX.as_bytes());
        encode_random(bytes, random);
        checksum.copy_from_slice(&checksum_of(random));
        // Every byte written above is an ASCII letter or digit.
        Self(text.iter().map(|&b| char::from(b)).collect())
    }

    /// The token's text, to show once at creation or to send as a credential.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The SHA-256 of the whole token: what the store keeps and what caches are keyed by.
    #[must_use]
    pub fn hash(&self) -> PatHash {
        PatHash(Sha256::digest(self.0.as_bytes()).into())
    }
}

impl fmt::Debug for PatSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}***")
    }
}

/// A new token from 32 bytes of the operating system's CSPRNG.
#[must_use]
pub fn generate() -> PatSecret {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    PatSecret::from_entropy(bytes)
}

/// Whether a credential is meant to be a personal access token, by its prefix alone.
///
/// Use it to choose how to check a credential (a Basic-auth password may be a token or a
/// user's password); [`parse`] is what decides whether the token is well formed.
#[must_use]
pub fn looks_like_pat(text: &str) -> bool {
    text.starts_with(PREFIX)
}

/// `text` with anything that may be a personal access token masked: every `cpat_`
/// (in any letter case) and the run of letters and digits after it become `cpat_***`.
/// For text that goes to a log and came from outside (a login, a header): a token typed
/// into the wrong field is still never written down. Allocates only when it masks.
#[must_use]
pub fn redact(text: &str) -> std::borrow::Cow<'_, str> {
    let lower_has_prefix =
        |t: &str| t.as_bytes().windows(PREFIX.len()).any(|w| w.eq_ignore_ascii_case(PREFIX.as_bytes()));
    if !lower_has_prefix(text) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.as_bytes().windows(PREFIX.len()).position(|w| w.eq_ignore_ascii_case(PREFIX.as_bytes())) {
        out.push_str(&rest[..at]);
        out.push_str(PREFIX);
        out.push_str("***");
        let after = &rest[at + PREFIX.len()..];
        let secret_len = after.bytes().take_while(u8::is_ascii_alphanumeric).count();
        rest = &after[secret_len..];
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// Why a string is not a well-formed personal access token.
///
/// No variant carries the text, so that an error can be logged as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TokenFormatError {
    #[error("not a personal access token: it does not start with {PREFIX}")]
    WrongPrefix,
    #[error("not a personal access token: {len} bytes long instead of {TOKEN_LEN}")]
    WrongLength { len: usize },
    #[error("not a personal access token: a character other than 0-9, A-Z, a-z at byte {at}")]
    BadCharacter { at: usize },
    #[error("not a personal access token: the checksum does not match (mistyped or cut?)")]
    BadChecksum,
}

/// Checks a token that a client sent: prefix, length, characters and checksum.
///
/// This runs before any cache or database lookup, and allocates nothing but the secret it
/// returns. A well-formed token may still be unknown, revoked or expired.
///
/// # Errors
///
/// [`TokenFormatError`] says which check failed, without repeating the text.
pub fn parse(text: &str) -> Result<PatSecret, TokenFormatError> {
    let bytes = text.as_bytes();
    let Some(body) = bytes.strip_prefix(PREFIX.as_bytes()) else {
        return Err(TokenFormatError::WrongPrefix);
    };
    if bytes.len() != TOKEN_LEN {
        return Err(TokenFormatError::WrongLength { len: bytes.len() });
    }
    if let Some(at) = body.iter().position(|&b| !b.is_ascii_alphanumeric()) {
        return Err(TokenFormatError::BadCharacter { at: PREFIX.len() + at });
    }
    let (random, checksum) = body.split_at(RANDOM_LEN);
    if checksum != checksum_of(random) {
        return Err(TokenFormatError::BadChecksum);
    }
    Ok(PatSecret(text.to_owned()))
}

/// The SHA-256 of a whole token, the only form in which a token is stored.
///
/// Equality is constant-time. `Debug` shows `PatHash(***)`: the hash is kept out of logs
/// and answers too, since it is what a stolen database would be matched against.
#[derive(Clone, Copy)]
pub struct PatHash([u8; 32]);

impl PatHash {
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 lowercase hex digits, for a text column.
    #[must_use]
    pub fn to_hex(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(64);
        for byte in self.0 {
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        out
    }

    /// Reads 64 hex digits (either case) as written by [`PatHash::to_hex`].
    ///
    /// # Errors
    ///
    /// When the text is not exactly 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Self, PatHashHexError> {
        let digits = text.as_bytes();
        if digits.len() != 64 {
            return Err(PatHashHexError);
        }
        let mut out = [0u8; 32];
        for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
            *byte = (hex_value(pair[0])? << 4) | hex_value(pair[1])?;
        }
        Ok(Self(out))
    }
}

fn hex_value(digit: u8) -> Result<u8, PatHashHexError> {
    match digit {
        b'0'..=b'9' => Ok(digit - b'0'),
        b'a'..=b'f' => Ok(digit - b'a' + 10),
        b'A'..=b'F' => Ok(digit - b'A' + 10),
        _ => Err(PatHashHexError),
    }
}

/// A stored token hash that is not 64 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("a token hash is written as 64 hex digits")]
pub struct PatHashHexError;

impl ConstantTimeEq for PatHash {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.ct_eq(&other.0)
    }
}

impl PartialEq for PatHash {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for PatHash {}

// Written by hand because `PartialEq` is; equal hashes still hash equally.
impl Hash for PatHash {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl fmt::Debug for PatHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PatHash(***)")
    }
}

/// Writes the 256-bit big-endian number `bytes` in base62 into `out`, most significant
/// digit first, left-padded with '0'. 62^43 > 2^256, so 43 digits always suffice.
fn encode_random(mut bytes: [u8; 32], out: &mut [u8]) {
    for slot in out.iter_mut().rev() {
        // Long division of the whole number by 62; the remainder is the next digit.
        let mut remainder: u32 = 0;
        for byte in &mut bytes {
            let value = (remainder << 8) | u32::from(*byte);
            // value < 62 * 256, so the quotient fits in a byte.
            *byte = u8::try_from(value / 62).unwrap_or(u8::MAX);
            remainder = value % 62;
        }
        *slot = ALPHABET[remainder as usize];
    }
}

/// The CRC32 of the random part, in base62, left-padded with '0' to six digits
/// (62^6 > 2^32).
fn checksum_of(random: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut crc = crc32fast::hash(random);
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(crc % 62) as usize];
        crc /= 62;
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn redact_masks_every_token_like_run_and_nothing_else() {
        let token = generate();
        let text = token.expose();
        assert_eq!(redact("alice"), "alice");
        assert!(matches!(redact("alice"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(redact(text), "cpat_***");
        assert_eq!(redact(&format!("{text}:")), "cpat_***:");
        assert_eq!(redact(&format!("a {text} b CPAT_xyz c")), "a cpat_*** b cpat_*** c");
        assert_eq!(redact("cpat_"), "cpat_***");
        assert!(!redact(&format!("x{text}y")).contains(&text[5..]));
    }

    use super::*;

    fn must_parse(text: &str) -> PatSecret {
        parse(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
    }

    #[test]
    fn generated_tokens_have_the_documented_shape_and_parse() {
        for _ in 0..200 {
            let token = generate();
            let text = token.expose();
            assert_eq!(text.len(), 54);
            assert_eq!(TOKEN_LEN, 54);
            assert!(text.starts_with("cpat_"));
            assert!(text[5..].bytes().all(|b| b.is_ascii_alphanumeric()), "{text}");
            assert!(looks_like_pat(text));
            assert_eq!(must_parse(text).expose(), text);
        }
    }

    #[test]
    fn generated_tokens_differ() {
        let a = generate();
        let b = generate();
        assert_ne!(a.expose(), b.expose());
        assert_ne!(a.hash(), b.hash());
    }

    // Pinned vectors, computed apart from this code: if one of these fails, every token
    // already issued has stopped parsing or hashing the same way.
    #[test]
    fn the_format_is_stable() {
        let zeros = PatSecret::from_entropy([0; 32]);
        assert_eq!(zeros.expose(), "cpat_00000000000000000000000000000000000000000002CZclj");
        let ones = PatSecret::from_entropy([0xff; 32]);
        assert_eq!(ones.expose(), "cpat_yhjskwdA6OZ1AL1YmHWZWm8LLG7HjnuCA2j5rOw8Xp13sRzl1");
        let mut counting = [0u8; 32];
        for (i, b) in counting.iter_mut().enumerate() {
            *b = u8::try_from(i).unwrap_or_else(|e| panic!("{e}"));
        }
        let counting = PatSecret::from_entropy(counting);
        assert_eq!(counting.expose(), "cpat_003aUlTJC7tjlCTQj2uNU3MFagCXG9LRKRcwGkBIDlf1Yo7hP");
        assert_eq!(counting.hash().to_hex(), "e6eeffe195c92936a3d66efd1fe22498a4eee694eafd42ea6be74a770c7d50ea");
        for token in [&zeros, &ones, &counting] {
            must_parse(token.expose());
        }
    }

    #[test]
    fn every_single_character_change_is_refused() {
        let token = generate();
        let original = token.expose().as_bytes().to_vec();
        for at in 0..original.len() {
            for &replacement in ALPHABET.iter().chain(b"_-") {
                if replacement == original[at] {
                    continue;
                }
                let mut changed = original.clone();
                changed[at] = replacement;
                let changed = String::from_utf8(changed).unwrap_or_else(|e| panic!("{e}"));
                assert!(parse(&changed).is_err(), "change at {at} to {replacement} accepted");
            }
        }
    }

    #[test]
    fn swapping_two_adjacent_characters_is_refused() {
        let token = generate();
        let original = token.expose().as_bytes().to_vec();
        for at in PREFIX.len()..original.len() - 1 {
            if original[at] == original[at + 1] {
                continue;
            }
            let mut changed = original.clone();
            changed.swap(at, at + 1);
            let changed = String::from_utf8(changed).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(parse(&changed).err(), Some(TokenFormatError::BadChecksum), "{at}");
        }
    }

    #[test]
    fn parse_says_which_check_failed() {
        let good = generate();
        let good = good.expose();
        assert_eq!(parse("").err(), Some(TokenFormatError::WrongPrefix));
        assert_eq!(parse("cpat").err(), Some(TokenFormatError::WrongPrefix));
        assert_eq!(parse(&good.replacen("cpat_", "CPAT_", 1)).err(), Some(TokenFormatError::WrongPrefix));
        assert_eq!(parse(&good.replacen("cpat_", "gpat_", 1)).err(), Some(TokenFormatError::WrongPrefix));
        assert_eq!(parse(&format!(" {good}")).err(), Some(TokenFormatError::WrongPrefix));
        assert_eq!(parse("cpat_").err(), Some(TokenFormatError::WrongLength { len: 5 }));
        assert_eq!(parse(&good[..53]).err(), Some(TokenFormatError::WrongLength { len: 53 }));
        assert_eq!(parse(&format!("{good}0")).err(), Some(TokenFormatError::WrongLength { len: 55 }));
        assert_eq!(parse(&format!("{good}\n")).err(), Some(TokenFormatError::WrongLength { len: 55 }));
        let with_space = format!("{} ", &good[..53]);
        assert_eq!(parse(&with_space).err(), Some(TokenFormatError::BadCharacter { at: 53 }));
        // A multi-byte character of the right byte length is a bad character, not a panic.
        let with_unicode = format!("cpat_é{}", &good[7..]);
        assert_eq!(with_unicode.len(), 54);
        assert_eq!(parse(&with_unicode).err(), Some(TokenFormatError::BadCharacter { at: 5 }));
        let all_zeros = format!("cpat_{}", "0".repeat(49));
        assert_eq!(parse(&all_zeros).err(), Some(TokenFormatError::BadChecksum));
    }

    #[test]
    fn errors_never_repeat_the_token() {
        let good = generate();
        // The last character changed, so the checksum fails.
        let last = if good.expose().ends_with('0') { '1' } else { '0' };
        let bad = format!("{}{last}", &good.expose()[..53]);
        for error in [parse(&bad).err(), parse(&good.expose()[..50]).err()] {
            let message = error.map(|e| e.to_string()).unwrap_or_default();
            assert!(!message.is_empty());
            assert!(!message.contains(&good.expose()[5..20]), "{message}");
        }
    }

    #[test]
    fn looks_like_pat_checks_the_prefix_only() {
        assert!(looks_like_pat("cpat_"));
        assert!(looks_like_pat("cpat_not-valid"));
        assert!(!looks_like_pat("hunter2"));
        assert!(!looks_like_pat("Cpat_x"));
        assert!(!looks_like_pat(""));
    }

    #[test]
    fn debug_never_shows_the_secret_or_its_hash() {
        let token = generate();
        assert_eq!(format!("{token:?}"), "cpat_***");
        assert_eq!(format!("{:?}", token.hash()), "PatHash(***)");
        assert_eq!(format!("{:#?}", Some(&token)), "Some(\n    cpat_***,\n)");
    }

    #[test]
    fn the_hash_is_sha256_of_the_whole_token() {
        let token = generate();
        let expected: [u8; 32] = Sha256::digest(token.expose().as_bytes()).into();
        assert_eq!(token.hash().as_bytes(), &expected);
        assert_eq!(token.hash(), must_parse(token.expose()).hash());
        assert_eq!(token.hash(), PatHash::from_bytes(expected));
    }

    #[test]
    fn hash_hex_round_trips() {
        let hash = generate().hash();
        let hex = hash.to_hex();
        assert_eq!(hex.len(), 64);
        assert!(hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(PatHash::from_hex(&hex), Ok(hash));
        assert_eq!(PatHash::from_hex(&hex.to_uppercase()), Ok(hash));
        assert_eq!(PatHash::from_bytes([0xab; 32]).to_hex(), "ab".repeat(32));
        for bad in ["", &hex[..63], &format!("{hex}0"), &format!("{}g", &hex[..63])] {
            assert_eq!(PatHash::from_hex(bad), Err(PatHashHexError), "{bad:?}");
        }
        // 64 bytes but not 64 ASCII characters.
        let unicode = format!("é{}", &hex[..62]);
        assert_eq!(PatHash::from_hex(&unicode), Err(PatHashHexError));
    }

    #[test]
    fn equal_hashes_are_one_map_key() {
        let token = generate();
        let mut map = std::collections::HashMap::new();
        map.insert(token.hash(), 1);
        map.insert(must_parse(token.expose()).hash(), 2);
        assert_eq!(map.len(), 1);
        assert_eq!(map.get(&token.hash()), Some(&2));
    }
}
