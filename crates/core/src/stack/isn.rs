//! Initial sequence numbers (RFC 6528) and other keyed choices an outsider must not guess.

use core::hash::Hasher;
use std::net::{IpAddr, SocketAddr};

use siphasher::sip128::{Hasher128, SipHasher24};

use crate::tcp::SeqNum;
use crate::time::Instant;

/// Secrets drawn once from the stack's seed.
#[derive(Debug, Clone)]
pub(crate) struct Secrets {
    isn_key: (u64, u64),
    ts_key: (u64, u64),
}

/// What a new connection draws from the secrets: its initial sequence number and its
/// timestamp clock offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Keyed {
    pub(crate) iss: SeqNum,
    pub(crate) ts_offset: u32,
}

impl Secrets {
    pub(crate) fn new(isn_key: (u64, u64), ts_key: (u64, u64)) -> Secrets {
        Secrets { isn_key, ts_key }
    }

    /// ISN = M + F(localip, localport, remoteip, remoteport, secretkey), with M a 4 µs clock
    /// (RFC 6528 §3; MUST-8, MUST-9, SHLD-1), and a per-connection offset for the timestamp
    /// clock (RFC 7323 §5.4, §7.1), from one keyed 128-bit hash of the 4-tuple: each half
    /// is a secret-keyed function of the tuple, and one hash costs half of two.
    pub(crate) fn keyed(&self, now: Instant, local: SocketAddr, remote: SocketAddr) -> Keyed {
        let mut h = SipHasher24::new_with_keys(self.isn_key.0, self.isn_key.1);
        write_tuple(&mut h, local, remote);
        let hash = h.finish128();
        let m = (now.as_nanos() / 4_000) as u32;
        Keyed {
            iss: SeqNum(m.wrapping_add(hash.h1 as u32)),
            ts_offset: hash.h2 as u32,
        }
    }

    /// Where to start looking for a free ephemeral port for this pair (RFC 6056 §3.3.3 idea:
    /// a keyed hash, so different destinations see unrelated port sequences).
    pub(crate) fn port_offset(&self, local: IpAddr, remote: SocketAddr) -> u32 {
        let mut h = SipHasher24::new_with_keys(self.ts_key.0, self.ts_key.1);
        write_tuple(&mut h, SocketAddr::new(local, 0), remote);
        (h.finish128().h1 as u32).rotate_left(17)
    }
}

/// Feeds both endpoints to `h` in one write (each `write` call has a fixed cost).
fn write_tuple(h: &mut SipHasher24, local: SocketAddr, remote: SocketAddr) {
    let mut bytes = [0u8; 36];
    let mut n = 0;
    for addr in [local, remote] {
        match addr.ip() {
            IpAddr::V4(ip) => {
                bytes[n..n + 4].copy_from_slice(&ip.octets());
                n += 4;
            }
            IpAddr::V6(ip) => {
                bytes[n..n + 16].copy_from_slice(&ip.octets());
                n += 16;
            }
        }
        bytes[n..n + 2].copy_from_slice(&addr.port().to_le_bytes());
        n += 2;
    }
    h.write(&bytes[..n]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isn_depends_on_the_tuple_the_clock_and_the_key() {
        let s = Secrets::new((1, 2), (3, 4));
        let a: SocketAddr = "10.0.0.1:1000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:80".parse().unwrap();
        let c: SocketAddr = "10.0.0.2:81".parse().unwrap();
        let t = Instant::from_millis(5);
        assert_ne!(s.keyed(t, a, b).iss, s.keyed(t, a, c).iss);
        // The clock moves it forward: 1 ms is 250 ticks of 4 µs.
        assert_eq!(
            s.keyed(Instant::from_millis(6), a, b)
                .iss
                .0
                .wrapping_sub(s.keyed(t, a, b).iss.0),
            250
        );
        let other = Secrets::new((9, 9), (3, 4));
        assert_ne!(s.keyed(t, a, b).iss, other.keyed(t, a, b).iss);
    }

    #[test]
    fn ts_offset_is_keyed_per_tuple_and_not_the_isn() {
        let s = Secrets::new((1, 2), (3, 4));
        let a: SocketAddr = "10.0.0.1:1000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:80".parse().unwrap();
        let c: SocketAddr = "10.0.0.2:81".parse().unwrap();
        let t = Instant::from_millis(5);
        let k = s.keyed(t, a, b);
        assert_ne!(k.ts_offset, s.keyed(t, a, c).ts_offset);
        assert_ne!(
            k.ts_offset,
            Secrets::new((9, 9), (3, 4)).keyed(t, a, b).ts_offset
        );
        // Unlike the ISN, the offset does not follow the clock.
        assert_eq!(
            k.ts_offset,
            s.keyed(Instant::from_millis(9), a, b).ts_offset
        );
        assert_ne!(k.ts_offset, k.iss.0.wrapping_sub(1250));
    }
}
