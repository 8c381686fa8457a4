//! The device `serve` and `get` run on: a TUN device for the kernel's side, recorded both
//! ways into a [`Book`], and impaired at its boundary when the link flags ask for it.

use std::net::IpAddr;

use synack::{Clock, Impaired, ImpairedStats, LinkConditions, Net, Tun, TunConfig};
use synack_core::StackConfig;

use super::record::{Book, Recorded};
use crate::cli::TunArgs;

/// The TUN options, checked.
#[derive(Debug, Clone)]
pub struct TunSetup {
    pub config: TunConfig,
    /// Our stack's addresses.
    pub addrs: Vec<IpAddr>,
    pub seed: u64,
}

impl TunSetup {
    /// Checks `--tun`, `--host-addr` and `--addr`; errors are one line naming the option.
    pub fn new(args: &TunArgs) -> Result<TunSetup, String> {
        let Some(name) = args.tun.clone() else {
            return Err("--tun NAME is needed (the TUN device to create, e.g. syn0)".into());
        };
        if args.host_addr.is_empty() {
            return Err(
                "--host-addr ADDR/LEN is needed (the kernel's side, e.g. 10.77.0.1/24)".into(),
            );
        }
        let mut config = TunConfig {
            name,
            host_v4: None,
            host_v6: None,
            mtu: args.mtu,
        };
        for text in &args.host_addr {
            let (addr, prefix) = parse_prefix(text)?;
            let taken = match addr {
                IpAddr::V4(_) => config.host_v4.is_some(),
                IpAddr::V6(_) => config.host_v6.is_some(),
            };
            if taken {
                return Err(format!("--host-addr {text}: give one address per family"));
            }
            config.add_host_addr(addr, prefix);
        }
        if args.addr.is_empty() {
            return Err("--addr ADDR is needed (our stack's address, e.g. 10.77.0.2)".into());
        }
        for addr in &args.addr {
            let family_ok = match addr {
                IpAddr::V4(_) => config.host_v4.is_some(),
                IpAddr::V6(_) => config.host_v6.is_some(),
            };
            if !family_ok {
                return Err(format!(
                    "--addr {addr}: the kernel's side needs an address of that family too \
                     (--host-addr)"
                ));
            }
            if config.host_v4.is_some_and(|(a, _)| IpAddr::V4(a) == *addr)
                || config.host_v6.is_some_and(|(a, _)| IpAddr::V6(a) == *addr)
            {
                return Err(format!(
                    "--addr {addr} is the kernel's address: pick another"
                ));
            }
        }
        let min = if config.host_v6.is_some() { 1280 } else { 576 };
        if args.mtu < min {
            return Err(format!(
                "--mtu {} is too small: use {min}..=65535",
                args.mtu
            ));
        }
        Ok(TunSetup {
            config,
            addrs: args.addr.clone(),
            seed: args.seed.unwrap_or(1),
        })
    }

    /// Creates the device (inside a tokio runtime) and starts a stack on it; every packet
    /// goes into `book`. Returns the stack and, when impaired, what the link did.
    pub fn start(
        &self,
        link: LinkConditions,
        book: &Book,
        clock: Clock,
    ) -> std::io::Result<(Net, Option<ImpairedStats>)> {
        let tun = Tun::create(&self.config)?;
        let stack = StackConfig {
            addrs: self.addrs.clone(),
            mtu: usize::from(self.config.mtu),
            seed: self.seed,
            ..StackConfig::default()
        };
        // Recorded next to the TUN device: the trace is what the kernel sees, and packets
        // the impaired link drops on the way in show up as sent but not answered.
        let recorded = Recorded::new(tun, book.clone(), clock);
        let (net, stats) = if link.is_perfect() {
            (Net::new(stack, recorded, clock), None)
        } else {
            let impaired = Impaired::new(recorded, clock, link, link, self.seed ^ 0x5e_7e);
            let stats = impaired.stats_handle();
            (Net::new(stack, impaired, clock), Some(stats))
        };
        book.follow(&net);
        Ok((net, stats))
    }
}

/// "10.77.0.1/24" → (address, 24).
fn parse_prefix(text: &str) -> Result<(IpAddr, u8), String> {
    let bad = || format!("--host-addr {text:?} is not ADDR/LEN (e.g. 10.77.0.1/24 or fd77::1/64)");
    let (addr, len) = text.split_once('/').ok_or_else(bad)?;
    let addr: IpAddr = addr.parse().map_err(|_| bad())?;
    let len: u8 = len.parse().map_err(|_| bad())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if len == 0 || len > max {
        return Err(format!(
            "--host-addr {text}: the prefix length is 1..={max}"
        ));
    }
    Ok((addr, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(host: &[&str], addr: &[&str]) -> TunArgs {
        TunArgs {
            tun: Some("syn0".into()),
            host_addr: host.iter().map(|s| s.to_string()).collect(),
            addr: addr.iter().map(|s| s.parse().unwrap()).collect(),
            mtu: 1500,
            seed: Some(1),
        }
    }

    #[test]
    fn addresses_are_checked_per_family() {
        let ok = TunSetup::new(&args(
            &["10.77.0.1/24", "fd77::1/64"],
            &["10.77.0.2", "fd77::2"],
        ))
        .unwrap();
        assert_eq!(ok.config.host_v4, Some(("10.77.0.1".parse().unwrap(), 24)));
        assert_eq!(ok.config.host_v6, Some(("fd77::1".parse().unwrap(), 64)));
        let err = |h: &[&str], a: &[&str]| TunSetup::new(&args(h, a)).unwrap_err();
        assert!(err(&["10.77.0.1"], &["10.77.0.2"]).contains("ADDR/LEN"));
        assert!(err(&["10.77.0.1/33"], &["10.77.0.2"]).contains("prefix"));
        assert!(err(&["10.77.0.1/24"], &["fd77::2"]).contains("family"));
        assert!(err(&["10.77.0.1/24"], &["10.77.0.1"]).contains("kernel's address"));
        assert!(err(&[], &["10.77.0.2"]).contains("--host-addr"));
    }
}
