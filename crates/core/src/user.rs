//! Users: their login (a validated name) and their profile.

use std::fmt;
use std::str::FromStr;

/// A user's profile. Admins manage users, workspaces and every token; standard users
/// only themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Profile {
    Admin,
    Standard,
}

impl Profile {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Standard => "standard",
        }
    }
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Self::Admin),
            "standard" => Ok(Self::Standard),
            other => Err(format!("unknown profile {other:?}: expected admin or standard")),
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a login was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    #[error("a login cannot be empty")]
    Empty,
    #[error("a login is at most {max} characters", max = Login::MAX_LEN)]
    TooLong,
    #[error("a login may only hold letters, digits, '.', '_', '-' and '@', and starts with a letter or digit")]
    BadCharacter,
    #[error("a login cannot start with the prefix of personal access tokens ({prefix})", prefix = crate::token::PREFIX)]
    TokenPrefix,
}

/// A user's login: 1 to 64 ASCII letters, digits, `.`, `_`, `-`, `@`, starting with a
/// letter or digit. The restriction keeps logins safe as SFTP and Basic-auth user names
/// (no `:`) and in paths and logs.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Login(String);

impl Login {
    pub const MAX_LEN: usize = 64;

    /// Validates a login.
    ///
    /// # Errors
    /// When the text is empty, too long, or holds a character outside the allowed set.
    pub fn parse(text: &str) -> Result<Self, LoginError> {
        if text.is_empty() {
            return Err(LoginError::Empty);
        }
        if text.len() > Self::MAX_LEN {
            return Err(LoginError::TooLong);
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@');
        if !text.chars().all(allowed) || !text.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(LoginError::BadCharacter);
        }
        // A login that looks like a token would be logged as one, and redacted.
        if text.to_ascii_lowercase().starts_with(crate::token::PREFIX) {
            return Err(LoginError::TokenPrefix);
        }
        Ok(Self(text.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Login({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins() {
        for good in ["alice", "a", "bob.smith", "x_1-2@corp", "0day"] {
            assert!(Login::parse(good).is_ok(), "{good}");
        }
        assert_eq!(Login::parse(""), Err(LoginError::Empty));
        assert_eq!(Login::parse(&"a".repeat(65)), Err(LoginError::TooLong));
        for bad in ["al ice", "a:b", ".alice", "-x", "é", "a/b", "a\0"] {
            assert_eq!(Login::parse(bad), Err(LoginError::BadCharacter), "{bad:?}");
        }
        for bad in ["cpat_", "cpat_alice", "CPAT_x"] {
            assert_eq!(Login::parse(bad), Err(LoginError::TokenPrefix), "{bad:?}");
        }
        assert!(Login::parse("cpa_t").is_ok());
    }

    #[test]
    fn profiles() {
        assert_eq!("admin".parse::<Profile>(), Ok(Profile::Admin));
        assert_eq!("standard".parse::<Profile>(), Ok(Profile::Standard));
        assert!("root".parse::<Profile>().is_err());
    }
}
