//! The pcapng writer: one section, one raw-IP interface with nanosecond timestamps, the key
//! log in a Decryption Secrets Block ahead of the packets, then one Enhanced Packet Block per
//! packet. Little-endian throughout.

use std::io;

use super::WriteOptions;
use super::linktype;
use crate::recorder::Recorder;

pub(super) const SHB: u32 = 0x0a0d_0d0a;
pub(super) const IDB: u32 = 0x0000_0001;
pub(super) const PB: u32 = 0x0000_0002;
pub(super) const SPB: u32 = 0x0000_0003;
pub(super) const EPB: u32 = 0x0000_0006;
pub(super) const DSB: u32 = 0x0000_000a;
pub(super) const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
/// Secrets type of an NSS key log: "TLSK".
pub(super) const TLS_KEY_LOG: u32 = 0x544c_534b;

pub(super) const OPT_END: u16 = 0;
pub(super) const OPT_COMMENT: u16 = 1;
const SHB_USERAPPL: u16 = 4;
pub(super) const IF_TSRESOL: u16 = 9;
pub(super) const IF_TSOFFSET: u16 = 14;

pub(super) fn write_pcapng<W: io::Write>(
    mut out: W,
    recorder: &Recorder,
    options: &WriteOptions,
) -> io::Result<()> {
    let mut block = Block::default();

    block.begin(SHB);
    block.u32(BYTE_ORDER_MAGIC);
    block.u16(1); // major version
    block.u16(0); // minor version
    block.bytes(&(-1i64).to_le_bytes()); // section length: not given
    let appl = concat!("synack-trace ", env!("CARGO_PKG_VERSION"));
    block.option(SHB_USERAPPL, appl.as_bytes())?;
    if let Some(comment) = &options.comment {
        block.option(OPT_COMMENT, comment.as_bytes())?;
    }
    block.option(OPT_END, &[])?;
    block.finish(&mut out)?;

    block.begin(IDB);
    block.u16(linktype::RAW as u16);
    block.u16(0); // reserved
    block.u32(0); // snapshot length: none
    block.option(IF_TSRESOL, &[9])?; // 10^-9 s
    block.option(OPT_END, &[])?;
    block.finish(&mut out)?;

    // Before the first packet, so a reader has the secrets before anything they decrypt.
    let key_log = recorder.key_log_text();
    if !key_log.is_empty() {
        block.begin(DSB);
        block.u32(TLS_KEY_LOG);
        block.u32(len32(key_log.len())?);
        block.bytes(key_log.as_bytes());
        block.pad();
        block.finish(&mut out)?;
    }

    for (t_ns, packet, original) in recorder.packets_with_len() {
        let ts = options.epoch_unix_ns.saturating_add(t_ns);
        let len = len32(packet.len())?;
        let original = len32(original)?;
        block.begin(EPB);
        block.u32(0); // interface
        block.u32((ts >> 32) as u32);
        block.u32(ts as u32);
        block.u32(len); // captured
        block.u32(original); // on the wire: more when snapped
        block.bytes(packet);
        block.pad();
        block.finish(&mut out)?;
    }
    out.flush()
}

/// A length as the u32 pcapng stores.
fn len32(n: usize) -> io::Result<u32> {
    u32::try_from(n).map_err(|_| too_long())
}

fn too_long() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "too long for a pcapng field")
}

/// One block being built; the buffer is reused from block to block.
#[derive(Default)]
struct Block {
    buf: Vec<u8>,
}

impl Block {
    fn begin(&mut self, block_type: u32) {
        self.buf.clear();
        self.u32(block_type);
        self.u32(0); // total length, filled in by `finish`
    }

    fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// Zeros up to the next 32-bit boundary.
    fn pad(&mut self) {
        let padded = self.buf.len().next_multiple_of(4);
        self.buf.resize(padded, 0);
    }

    /// An option: code, length, value padded to 32 bits.
    fn option(&mut self, code: u16, value: &[u8]) -> io::Result<()> {
        let len = u16::try_from(value.len()).map_err(|_| too_long())?;
        self.u16(code);
        self.u16(len);
        self.bytes(value);
        self.pad();
        Ok(())
    }

    /// Writes the total length at both ends and the block to `out`.
    fn finish<W: io::Write>(&mut self, out: &mut W) -> io::Result<()> {
        let total = len32(self.buf.len() + 4)?;
        self.buf[4..8].copy_from_slice(&total.to_le_bytes());
        self.u32(total);
        out.write_all(&self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn le32(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn blocks_are_framed_and_padded() {
        let mut rec = Recorder::new();
        rec.key_log("CLIENT_RANDOM 00 11"); // 19 bytes + the newline the recorder adds
        rec.packet(5, &[0x45; 21]);
        let options = WriteOptions {
            epoch_unix_ns: 1 << 33,
            comment: Some("x".into()),
        };
        let mut out = Vec::new();
        write_pcapng(&mut out, &rec, &options).unwrap();

        let mut at = 0;
        let mut types = Vec::new();
        while at < out.len() {
            let len = le32(&out, at + 4) as usize;
            assert_eq!(len % 4, 0);
            assert_eq!(le32(&out, at + len - 4) as usize, len, "trailing length");
            types.push(le32(&out, at));
            match le32(&out, at) {
                DSB => {
                    assert_eq!(le32(&out, at + 8), TLS_KEY_LOG);
                    assert_eq!(le32(&out, at + 12), 20);
                    assert_eq!(len, 12 + 8 + 20);
                }
                EPB => {
                    assert_eq!(le32(&out, at + 12), 2, "timestamp high word");
                    assert_eq!(le32(&out, at + 16), 5, "timestamp low word");
                    assert_eq!(le32(&out, at + 20), 21);
                    assert_eq!(len, 12 + 20 + 24); // 21 bytes padded to 24
                }
                _ => {}
            }
            at += len;
        }
        assert_eq!(at, out.len());
        assert_eq!(types, [SHB, IDB, DSB, EPB]);
    }
}
