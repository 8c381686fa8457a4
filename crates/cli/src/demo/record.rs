//! What the demo records: every packet that crosses the link (tapped on send at each end)
//! and every state change either stack reports; and when each side has finished closing.

use std::sync::{Arc, Mutex, PoisonError};

use synack::{Clock, Device, Net, Tap};
use synack_core::Event;
use synack_core::tcp::State;
use synack_trace::{Recorder, Trace};
use tokio::sync::watch;

/// A recorder shared by both ends' taps and event sinks.
#[derive(Clone, Default)]
pub struct Recording {
    recorder: Arc<Mutex<Recorder>>,
}

impl Recording {
    /// Wraps one end of the link so every packet it sends is recorded.
    pub fn tap<D: Device>(&self, port: D, clock: Clock) -> Tap<D> {
        let recording = self.clone();
        Tap::new(port, clock, move |t, packet| {
            recording.with(|r| r.packet(t.as_nanos(), packet))
        })
    }

    /// Records `net`'s state changes; the returned watch follows its connection's state.
    pub fn states(&self, net: &Net) -> watch::Receiver<Option<State>> {
        let (tx, rx) = watch::channel(None);
        let recording = self.clone();
        net.set_event_sink(move |event| {
            if let Event::StateChanged {
                at,
                local,
                remote,
                from,
                to,
                ..
            } = event
            {
                recording.with(|r| r.state_change(at.as_nanos(), local, remote, from, to));
                tx.send_replace(Some(to));
            }
        });
        rx
    }

    /// Adds TLS secrets (NSS key log lines) so the analysis can decrypt.
    pub fn key_log(&self, lines: &str) {
        self.with(|r| r.key_log(lines));
    }

    /// Analyzes what was recorded.
    pub fn finish(&self) -> Trace {
        self.with(|r| r.finish())
    }

    /// Runs `f` on the recorder, holding it for that long.
    pub fn with<T>(&self, f: impl FnOnce(&mut Recorder) -> T) -> T {
        // A panic elsewhere cannot leave a half-appended packet: appends are single pushes.
        f(&mut self.recorder.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Waits until a side's connection has finished its part of the close: TIME-WAIT for the
/// side that closed first (without waiting out its 2 MSL), CLOSED for the other.
pub async fn closed(states: &mut watch::Receiver<Option<State>>) {
    let done = |s: &Option<State>| matches!(s, Some(State::TimeWait | State::Closed));
    // An error means the stack is gone, which is closed enough.
    let _ = states.wait_for(done).await;
}
