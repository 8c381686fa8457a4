//! A progress line on stderr while a long transfer runs, only when stderr is a terminal:
//! a big body over an impaired link takes a while, and silence reads as a hang.

use std::io::{self, IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::output::bytes;

/// Transfers smaller than this finish before a progress line would help.
const WORTH_SHOWING: u64 = 4 << 20;
const EVERY: Duration = Duration::from_millis(250);

/// The running progress line; [`Progress::finish`] erases it.
pub struct Progress {
    ticker: Option<JoinHandle<()>>,
}

impl Progress {
    /// Shows `moved` against `total` body bytes until finished.
    pub fn start(moved: Arc<AtomicU64>, total: u64) -> Progress {
        if total < WORTH_SHOWING || !io::stderr().is_terminal() {
            return Progress { ticker: None };
        }
        let started = Instant::now();
        let ticker = tokio::spawn(async move {
            let mut tick = tokio::time::interval(EVERY);
            loop {
                tick.tick().await;
                let line = line(moved.load(Ordering::Relaxed), total, started.elapsed());
                // A closed stderr only costs the progress line.
                let _ = write!(io::stderr(), "\r\x1b[2K{line}");
            }
        });
        Progress {
            ticker: Some(ticker),
        }
    }

    pub fn finish(self) {
        if let Some(ticker) = self.ticker {
            ticker.abort();
            let _ = write!(io::stderr(), "\r\x1b[2K");
        }
    }
}

/// `  12.0 MiB of 100.0 MiB (12%) · 8.1 Mbit/s`
fn line(moved: u64, total: u64, elapsed: Duration) -> String {
    let percent = moved.saturating_mul(100) / total.max(1);
    let mbit = moved as f64 * 8.0 / elapsed.as_secs_f64().max(1e-3) / 1e6;
    format!(
        "  {} of {} ({percent}%) · {mbit:.1} Mbit/s",
        bytes(moved),
        bytes(total)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_reads_amount_share_and_rate() {
        let l = line(12 << 20, 100 << 20, Duration::from_secs(2));
        assert_eq!(l, "  12.0 MiB of 100.0 MiB (12%) · 50.3 Mbit/s");
    }
}
