//! Captures: pcapng written from a recording, pcap and pcapng read back into one.
