//! Read and write rights, as granted on a workspace and as narrowed by token scopes.

use std::fmt;

/// What a principal may do on a node. `Rights::NONE` means the node is invisible.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rights {
    pub read: bool,
    pub write: bool,
}

impl Rights {
    pub const NONE: Self = Self { read: false, write: false };
    pub const READ: Self = Self { read: true, write: false };
    pub const WRITE: Self = Self { read: false, write: true };
    pub const READ_WRITE: Self = Self { read: true, write: true };

    /// Rights allowed by both sides.
    #[must_use]
    pub const fn intersect(self, other: Self) -> Self {
        Self { read: self.read && other.read, write: self.write && other.write }
    }

    /// Rights allowed by either side.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self { read: self.read || other.read, write: self.write || other.write }
    }

    #[must_use]
    pub const fn is_none(self) -> bool {
        !self.read && !self.write
    }

    /// Parses a grant as written in the CLI and the API: `r`, `w`, `rw` or `wr`.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "r" => Some(Self::READ),
            "w" => Some(Self::WRITE),
            "rw" | "wr" => Some(Self::READ_WRITE),
            _ => None,
        }
    }

    /// The canonical text form: `r`, `w`, `rw`, or the empty string for none.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match (self.read, self.write) {
            (true, true) => "rw",
            (true, false) => "r",
            (false, true) => "w",
            (false, false) => "",
        }
    }
}

impl fmt::Display for Rights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Rights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rights({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_the_four_spellings_only() {
        assert_eq!(Rights::parse("r"), Some(Rights::READ));
        assert_eq!(Rights::parse("w"), Some(Rights::WRITE));
        assert_eq!(Rights::parse("rw"), Some(Rights::READ_WRITE));
        assert_eq!(Rights::parse("wr"), Some(Rights::READ_WRITE));
        for bad in ["", "R", "rwx", "x", " r"] {
            assert_eq!(Rights::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn intersect_and_union() {
        assert_eq!(Rights::READ.intersect(Rights::WRITE), Rights::NONE);
        assert_eq!(Rights::READ_WRITE.intersect(Rights::READ), Rights::READ);
        assert_eq!(Rights::READ.union(Rights::WRITE), Rights::READ_WRITE);
        assert!(Rights::NONE.is_none());
        assert_eq!(Rights::READ_WRITE.to_string(), "rw");
    }
}
