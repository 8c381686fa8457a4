//! Initial sequence numbers (RFC 6528) and other keyed choices an outsider must not guess.

use core::hash::Hasher;
use std::net::{IpAddr, SocketAddr};

use siphasher::sip::SipHasher24;

use crate::tcp::SeqNum;
use crate::time::Instant;

/// Secrets drawn once from the stack's seed.
#[derive(Debug, Clone)]
pub(crate) struct Secrets {
    isn_key: (u64, u64),
    ts_key: (u64, u64),
}

impl Secrets {
    pub(crate) fn new(isn_key: (u64, u64), ts_key: (u64, u64)) -> Secrets {
        Secrets { isn_key, ts_key }
    }

    /// ISN = M + F(localip, localport, remoteip, remoteport, secretkey), with M a 4 µs clock
    /// (RFC 6528 §3; MUST-8, MUST-9, SHLD-1).
    pub(crate) fn isn(&self, now: Instant, local: SocketAddr, remote: SocketAddr) -> SeqNum {
        let m = (now.as_nanos() / 4_000) as u32;
        SeqNum(m.wrapping_add(keyed(self.isn_key, local, remote) as u32))
    }

    /// A per-connection offset for the timestamp clock (RFC 7323 §5.4).
    pub(crate) fn ts_offset(&self, local: SocketAddr, remote: SocketAddr) -> u32 {
        keyed(self.ts_key, local, remote) as u32
    }

    /// Where to start looking for a free ephemeral port for this pair (RFC 6056 §3.3.3 idea:
    /// a keyed hash, so different destinations see unrelated port sequences).
    pub(crate) fn port_offset(&self, local: IpAddr, remote: SocketAddr) -> u32 {
        keyed(self.ts_key, SocketAddr::new(local, 0), remote).rotate_left(17) as u32
    }
}

fn keyed(key: (u64, u64), local: SocketAddr, remote: SocketAddr) -> u64 {
    let mut h = SipHasher24::new_with_keys(key.0, key.1);
    for addr in [local, remote] {
        match addr.ip() {
            IpAddr::V4(ip) => h.write(&ip.octets()),
            IpAddr::V6(ip) => h.write(&ip.octets()),
        }
        h.write_u16(addr.port());
    }
    h.finish()
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
        assert_ne!(s.isn(t, a, b), s.isn(t, a, c));
        // The clock moves it forward: 1 ms is 250 ticks of 4 µs.
        assert_eq!(
            s.isn(Instant::from_millis(6), a, b)
                .0
                .wrapping_sub(s.isn(t, a, b).0),
            250
        );
        let other = Secrets::new((9, 9), (3, 4));
        assert_ne!(s.isn(t, a, b), other.isn(t, a, b));
    }
}
