//! The demultiplexer: which connection a 4-tuple belongs to.
//!
//! IPv4 tuples, the common case, are packed into 12 bytes (two addresses, two ports) rather
//! than two 32-byte `SocketAddr`s: an entry (with its handle) takes 20 bytes instead of 72,
//! so a million connections' table stays small, and hashing one is two writes instead of a
//! walk over two enums. IPv6 tuples keep the plain form.

use core::hash::{Hash, Hasher};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::{IpAddr, SocketAddr};

use foldhash::fast::FixedState;

use super::SocketHandle;

/// (local address, remote address) to connection.
#[derive(Debug)]
pub(super) struct Demux {
    v4: HashMap<V4Key, SocketHandle, FixedState>,
    v6: HashMap<(SocketAddr, SocketAddr), SocketHandle, FixedState>,
    /// The IPv4 tuple last found, and its connection: a transfer's packets come in runs for
    /// one connection, and comparing 12 bytes costs less than hashing them. Forgotten
    /// whenever the table changes.
    last: Option<(V4Key, SocketHandle)>,
}

/// An IPv4 tuple: local and remote address, then both ports. Three `u32`s, so that an entry
/// needs no padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct V4Key([u32; 3]);

impl Hash for V4Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let [local, remote, ports] = self.0;
        state.write_u64((u64::from(local) << 32) | u64::from(remote));
        state.write_u32(ports);
    }
}

/// The packed form of an IPv4 tuple, or `None` for any other.
fn packed(local: SocketAddr, remote: SocketAddr) -> Option<V4Key> {
    match (local.ip(), remote.ip()) {
        (IpAddr::V4(l), IpAddr::V4(r)) => Some(V4Key([
            l.to_bits(),
            r.to_bits(),
            (u32::from(local.port()) << 16) | u32::from(remote.port()),
        ])),
        _ => None,
    }
}

impl Demux {
    /// An empty table hashing with `hasher`.
    pub(super) fn new(hasher: FixedState) -> Demux {
        Demux {
            v4: HashMap::with_hasher(hasher.clone()),
            v6: HashMap::with_hasher(hasher),
            last: None,
        }
    }

    /// The connection of this tuple.
    #[inline(always)]
    pub(super) fn get(&mut self, local: SocketAddr, remote: SocketAddr) -> Option<SocketHandle> {
        match packed(local, remote) {
            Some(key) => {
                if let Some((last, socket)) = self.last
                    && last == key
                {
                    return Some(socket);
                }
                let found = self.v4.get(&key).copied();
                if let Some(socket) = found {
                    self.last = Some((key, socket));
                }
                found
            }
            None => self.v6.get(&(local, remote)).copied(),
        }
    }

    /// Whether a connection holds this tuple.
    pub(super) fn contains(&mut self, local: SocketAddr, remote: SocketAddr) -> bool {
        self.get(local, remote).is_some()
    }

    /// Files `socket` under this tuple, replacing whatever held it.
    pub(super) fn insert(&mut self, local: SocketAddr, remote: SocketAddr, socket: SocketHandle) {
        self.last = None;
        match packed(local, remote) {
            Some(key) => self.v4.insert(key, socket),
            None => self.v6.insert((local, remote), socket),
        };
    }

    /// Removes the tuple if `socket` holds it (a newer connection may have taken it over).
    pub(super) fn remove_if(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        socket: SocketHandle,
    ) {
        match packed(local, remote) {
            // One probe, not a lookup and then a removal.
            Some(key) => {
                if let Entry::Occupied(held) = self.v4.entry(key)
                    && *held.get() == socket
                {
                    held.remove();
                    self.last = None;
                }
            }
            None => {
                let key = (local, remote);
                if self.v6.get(&key) == Some(&socket) {
                    self.v6.remove(&key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(index: u32) -> SocketHandle {
        SocketHandle {
            index,
            generation: 0,
        }
    }

    #[test]
    fn tuples_differing_in_any_part_are_distinct() {
        let mut d = Demux::new(FixedState::with_seed(7));
        let a: SocketAddr = "10.0.0.1:1000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:80".parse().unwrap();
        let a6: SocketAddr = "[2001:db8::1]:1000".parse().unwrap();
        let b6: SocketAddr = "[2001:db8::2]:80".parse().unwrap();
        d.insert(a, b, h(1));
        d.insert(b, a, h(2));
        d.insert(a6, b6, h(3));
        d.insert(SocketAddr::new(a.ip(), 1001), b, h(4));
        assert_eq!(d.get(a, b), Some(h(1)));
        assert_eq!(d.get(b, a), Some(h(2)));
        assert_eq!(d.get(a6, b6), Some(h(3)));
        assert_eq!(d.get(SocketAddr::new(a.ip(), 1001), b), Some(h(4)));
        assert_eq!(d.get(a, SocketAddr::new(b.ip(), 81)), None);
        assert_eq!(d.get(b6, a6), None);
        // A tuple taken over is found under its new holder, not the one last looked up.
        d.insert(b, a, h(5));
        assert_eq!(d.get(b, a), Some(h(5)));
        d.insert(b, a, h(2));
        assert_eq!(d.get(b, a), Some(h(2)));
        // Only the holder removes a tuple.
        d.remove_if(a, b, h(9));
        assert!(d.contains(a, b));
        d.remove_if(a, b, h(1));
        assert!(!d.contains(a, b));
        d.remove_if(a6, b6, h(3));
        assert!(!d.contains(a6, b6));
    }
}
