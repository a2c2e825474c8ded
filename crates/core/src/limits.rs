//! Where a credential may be used from: address blocks ([`Cidr`]) and protocols
//! ([`Via`]), the two limits a personal access token may carry (`AllowedIps`,
//! `AllowedVia`). Pure rules; the service checks them after the cache hit, in O(ranges).

use std::net::IpAddr;

/// The most address blocks one token may carry: a check stays a few comparisons.
pub const MAX_RANGES: usize = 64;

/// The surface a request came through; a token's `LastUsedVia` and `AllowedVia`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Via {
    Rest,
    Io,
    Webdav,
    Sftp,
    /// `/io` spoken as S3 (a request signed with AWS Signature V4 or V2).
    S3,
}

impl Via {
    pub const ALL: [Self; 5] = [Self::Rest, Self::Io, Self::Webdav, Self::Sftp, Self::S3];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Rest => "rest",
            Self::Io => "io",
            Self::Webdav => "webdav",
            Self::Sftp => "sftp",
            Self::S3 => "s3",
        }
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl std::str::FromStr for Via {
    type Err = LimitError;

    fn from_str(text: &str) -> Result<Self, LimitError> {
        Self::ALL
            .into_iter()
            .find(|via| via.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| LimitError::Via(text.to_owned()))
    }
}

/// An address block, `10.0.0.0/8` or `::1/128` (a bare address is a /32 or /128).
/// Shown as its network (`10.1.2.3/8` is shown `10.0.0.0/8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    bits: u8,
}

impl std::str::FromStr for Cidr {
    type Err = LimitError;

    fn from_str(text: &str) -> Result<Self, LimitError> {
        let bad = || LimitError::Cidr(text.to_owned());
        let (address, bits) = text.trim().split_once('/').map_or((text.trim(), None), |(a, b)| (a, Some(b)));
        let network: IpAddr = address.parse().map_err(|_| bad())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            Some(bits) if bits.bytes().all(|b| b.is_ascii_digit()) => {
                bits.parse::<u8>().ok().filter(|b| *b <= max).ok_or_else(bad)?
            }
            Some(_) => return Err(bad()),
            None => max,
        };
        let network = match network {
            IpAddr::V4(v4) => IpAddr::V4((u32::from(v4) & mask32(bits)).into()),
            IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & mask128(bits)).into()),
        };
        Ok(Self { network, bits })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.bits)
    }
}

fn mask32(bits: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0)
}

fn mask128(bits: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0)
}

impl Cidr {
    /// Whether the block holds `ip` (an IPv4-mapped IPv6 address counts as IPv4).
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 @ IpAddr::V4(_) => v4,
        };
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => u32::from(net) == u32::from(ip) & mask32(self.bits),
            (IpAddr::V6(net), IpAddr::V6(ip)) => u128::from(net) == u128::from(ip) & mask128(self.bits),
            _ => false,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LimitError {
    #[error("{0:?} is not an address or a block such as 10.0.0.0/8 or fd00::/8")]
    Cidr(String),
    #[error("{0:?} is not a protocol: say rest, io, webdav or sftp")]
    Via(String),
    #[error("a token carries at most {MAX_RANGES} address blocks")]
    TooMany,
}

/// The limits of one credential: empty lists mean anywhere and any protocol.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    ips: Box<[Cidr]>,
    via: u8,
}

/// Why a use is outside a credential's limits: the reason in its audit fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outside {
    Address,
    Protocol,
}

impl Outside {
    #[must_use]
    pub const fn reason(self) -> &'static str {
        match self {
            Self::Address => "address",
            Self::Protocol => "protocol",
        }
    }
}

impl Limits {
    /// Limits from their parts, as given (a duplicate protocol counts once).
    ///
    /// # Errors
    /// More than [`MAX_RANGES`] blocks.
    pub fn new(ips: Vec<Cidr>, via: &[Via]) -> Result<Self, LimitError> {
        if ips.len() > MAX_RANGES {
            return Err(LimitError::TooMany);
        }
        Ok(Self { ips: ips.into(), via: via.iter().fold(0, |bits, v| bits | v.bit()) })
    }

    /// Limits from their text forms, as the REST API and the CLI take them.
    ///
    /// # Errors
    /// A bad block or protocol name, or too many blocks.
    pub fn parse<S: AsRef<str>>(ips: &[S], via: &[S]) -> Result<Self, LimitError> {
        let ips = ips.iter().map(|s| s.as_ref().parse()).collect::<Result<Vec<Cidr>, _>>()?;
        let via = via.iter().map(|s| s.as_ref().parse()).collect::<Result<Vec<Via>, _>>()?;
        Self::new(ips, &via)
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ips.is_empty() && self.via == 0
    }

    #[must_use]
    pub fn ips(&self) -> &[Cidr] {
        &self.ips
    }

    /// The protocols allowed, in their fixed order; empty for any.
    #[must_use]
    pub fn via(&self) -> Vec<Via> {
        Via::ALL.into_iter().filter(|v| self.via & v.bit() != 0).collect()
    }

    /// Whether a use from `ip` through `via` is allowed. An unknown address is outside
    /// any address limit.
    ///
    /// # Errors
    /// Which limit the use is outside of.
    pub fn check(&self, ip: Option<IpAddr>, via: Via) -> Result<(), Outside> {
        if self.via != 0 && self.via & via.bit() == 0 {
            return Err(Outside::Protocol);
        }
        if !self.ips.is_empty() && !ip.is_some_and(|ip| self.ips.iter().any(|net| net.contains(ip))) {
            return Err(Outside::Address);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn blocks_parse_and_contain() {
        let net: Cidr = "10.1.0.0/16".parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(net.contains(ip("10.1.200.3")));
        assert!(!net.contains(ip("10.2.0.1")));
        assert!(net.contains(ip("::ffff:10.1.0.9")));
        let v6: Cidr = "fd00::/8".parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(v6.contains(ip("fd12::1")));
        assert!(!v6.contains(ip("fe80::1")));
        assert!("0.0.0.0/0".parse::<Cidr>().is_ok_and(|all| all.contains([1, 2, 3, 4].into())));
        assert!("::/0".parse::<Cidr>().is_ok_and(|all| all.contains(ip("2001:db8::1"))));
        for bad in ["", "10.0.0.0/33", "::/129", "x", "10.0.0.0/-1", "10.0.0/8", "10.0.0.0/+8", "10.0.0.0/"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn blocks_show_their_network() {
        let shown = |t: &str| t.parse::<Cidr>().map(|c| c.to_string()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(shown("10.1.2.3/8"), "10.0.0.0/8");
        assert_eq!(shown("192.0.2.7"), "192.0.2.7/32");
        assert_eq!(shown("2001:db8::5/32"), "2001:db8::/32");
    }

    #[test]
    fn limits_check_protocol_then_address() {
        let limits =
            Limits::parse(&["10.0.0.0/8", "2001:db8::/32"], &["sftp", "WebDAV"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(limits.check(Some(ip("10.9.9.9")), Via::Sftp), Ok(()));
        assert_eq!(limits.check(Some(ip("2001:db8::1")), Via::Webdav), Ok(()));
        assert_eq!(limits.check(Some(ip("10.9.9.9")), Via::Rest), Err(Outside::Protocol));
        assert_eq!(limits.check(Some(ip("192.0.2.1")), Via::Sftp), Err(Outside::Address));
        assert_eq!(limits.check(None, Via::Sftp), Err(Outside::Address));
        assert_eq!(limits.via(), vec![Via::Webdav, Via::Sftp]);
        let open = Limits::default();
        assert!(open.is_empty());
        assert_eq!(open.check(None, Via::Io), Ok(()));
    }

    #[test]
    fn bad_limits_are_named() {
        assert_eq!(Limits::parse(&["10.0.0.0/8"], &["ftp"]), Err(LimitError::Via("ftp".into())));
        assert_eq!(Limits::parse(&["nope"], &[]), Err(LimitError::Cidr("nope".into())));
        let many: Vec<String> = (0..=MAX_RANGES).map(|i| format!("10.0.{i}.0/24")).collect();
        assert_eq!(Limits::parse(&many, &[]), Err(LimitError::TooMany));
    }
}
