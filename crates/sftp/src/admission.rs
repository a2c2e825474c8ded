//! Who may hold a connection, and how many: connections not yet logged in are capped
//! per client address and in all (as OpenSSH's `MaxStartups`), counted from the accept,
//! before any handshake; logged-in connections are capped per user. Past a cap a
//! connection is refused at once, so that clients that hold sockets cannot take the file
//! descriptors (and memory) everyone else needs. docs/sftp.md, "Bounds", says why each
//! number.
//!
//! Each place held is a guard ([`Pending`], [`Seat`]) that gives it back when dropped,
//! so a connection that ends in any way (closed, refused, timed out, cut) frees what it
//! held.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use cells_core::UserId;

/// Connections not yet logged in from one address (an IPv6 client: from one /64).
pub const UNAUTHENTICATED_PER_ADDRESS: usize = 10;

/// Connections not yet logged in, from everywhere.
pub const UNAUTHENTICATED_TOTAL: usize = 100;

/// Logged-in connections one user may hold at once.
pub const CONNECTIONS_PER_USER: usize = 16;

/// The counts of one server; clones share them.
#[derive(Clone, Default)]
pub struct Admission {
    counts: Arc<Mutex<Counts>>,
}

#[derive(Default)]
struct Counts {
    pending: HashMap<IpAddr, usize>,
    pending_total: usize,
    users: HashMap<UserId, usize>,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// [`UNAUTHENTICATED_PER_ADDRESS`] from this address already.
    Address,
    /// [`UNAUTHENTICATED_TOTAL`] already.
    Total,
}

/// A place among the connections not yet logged in.
pub struct Pending {
    admission: Admission,
    source: IpAddr,
}

/// A place among a user's logged-in connections.
pub struct Seat {
    admission: Admission,
    user: UserId,
}

/// What counts as one address: an IPv4 address, or the /64 of an IPv6 one (a single
/// client commonly holds a whole /64).
fn source_of(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1_u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 @ IpAddr::V4(_) => v4,
    }
}

impl Admission {
    fn counts(&self) -> MutexGuard<'_, Counts> {
        // The counts stay consistent whatever panicked while they were held: each change
        // is one statement.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A place for a connection just accepted from `ip`, not yet logged in.
    ///
    /// # Errors
    /// When its address, or the server, has as many as it may.
    pub fn admit(&self, ip: IpAddr) -> Result<Pending, Full> {
        let source = source_of(ip);
        let mut counts = self.counts();
        if counts.pending_total >= UNAUTHENTICATED_TOTAL {
            return Err(Full::Total);
        }
        let from_source = counts.pending.entry(source).or_default();
        if *from_source >= UNAUTHENTICATED_PER_ADDRESS {
            return Err(Full::Address);
        }
        *from_source += 1;
        counts.pending_total += 1;
        Ok(Pending { admission: self.clone(), source })
    }

    /// A place for a connection that `user` has just logged in on; `None` when the user
    /// holds [`CONNECTIONS_PER_USER`] already.
    pub fn seat(&self, user: UserId) -> Option<Seat> {
        let mut counts = self.counts();
        let held = counts.users.entry(user).or_default();
        if *held >= CONNECTIONS_PER_USER {
            return None;
        }
        *held += 1;
        Some(Seat { admission: self.clone(), user })
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let mut counts = self.admission.counts();
        counts.pending_total = counts.pending_total.saturating_sub(1);
        if let Some(n) = counts.pending.get_mut(&self.source) {
            *n -= 1;
            if *n == 0 {
                counts.pending.remove(&self.source);
            }
        }
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut counts = self.admission.counts();
        if let Some(n) = counts.users.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                counts.users.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn an_address_holds_its_share_and_gets_it_back() {
        let admission = Admission::default();
        let held: Vec<Pending> =
            (0..UNAUTHENTICATED_PER_ADDRESS).map(|_| admission.admit(ip("10.0.0.1")).expect("a place")).collect();
        assert_eq!(admission.admit(ip("10.0.0.1")).err(), Some(Full::Address));
        assert!(admission.admit(ip("::ffff:10.0.0.1")).is_err(), "the same address, IPv4-mapped");
        assert!(admission.admit(ip("10.0.0.2")).is_ok(), "another address");
        drop(held);
        assert!(admission.admit(ip("10.0.0.1")).is_ok());
        assert!(admission.counts().pending.len() <= 1, "counts of nothing are removed");
    }

    #[test]
    fn an_ipv6_client_is_one_slash_64() {
        let admission = Admission::default();
        let _held: Vec<Pending> = (0..UNAUTHENTICATED_PER_ADDRESS)
            .map(|i| admission.admit(ip(&format!("2001:db8:1:2::{i:x}"))).expect("a place"))
            .collect();
        assert_eq!(admission.admit(ip("2001:db8:1:2:ffff::1")).err(), Some(Full::Address));
        assert!(admission.admit(ip("2001:db8:1:3::1")).is_ok(), "another /64");
    }

    #[test]
    fn the_total_caps_many_addresses() {
        let admission = Admission::default();
        let mut held = Vec::new();
        for i in 0..UNAUTHENTICATED_TOTAL {
            held.push(admission.admit(ip(&format!("10.1.{}.{}", i / 200, i % 200))).expect("a place"));
        }
        assert_eq!(admission.admit(ip("192.0.2.1")).err(), Some(Full::Total));
        held.pop();
        assert!(admission.admit(ip("192.0.2.1")).is_ok());
    }

    #[test]
    fn a_user_holds_a_bounded_number_of_seats() {
        let admission = Admission::default();
        let (alice, bob) = (UserId::random(), UserId::random());
        let mut seats: Vec<Seat> = (0..CONNECTIONS_PER_USER).map(|_| admission.seat(alice).expect("a seat")).collect();
        assert!(admission.seat(alice).is_none(), "past the cap");
        assert!(admission.seat(bob).is_some(), "another user");
        seats.pop();
        assert!(admission.seat(alice).is_some());
    }
}
