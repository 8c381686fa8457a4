//! State shared by a driver and its sockets: the stack, the wakers, and how to reach the
//! driver.

use std::collections::HashMap;
use std::io;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::Waker;

use synack_core::Stack;
use synack_core::stack::{Event, ListenerHandle, Ready, SocketHandle};

use crate::Clock;

/// Receives the stack's trace events.
pub(crate) type EventSink = Box<dyn FnMut(Event) + Send>;

/// What a `Net` handle, its sockets and its driver share.
pub(crate) struct Shared {
    pub(crate) clock: Clock,
    core: Mutex<Core>,
    /// Apart from `core` so the sink runs without holding the stack.
    pub(crate) sink: Mutex<Option<EventSink>>,
}

impl Shared {
    pub(crate) fn new(clock: Clock, stack: Stack) -> Shared {
        Shared {
            clock,
            core: Mutex::new(Core {
                stack,
                wakers: Wakers::default(),
                driver: None,
                stopping: false,
                failure: None,
                send_errors: 0,
                first_send_error: None,
            }),
            sink: Mutex::new(None),
        }
    }

    /// Locks the stack. A panic while it was held (a bug in the core) leaves it marked
    /// failed, so later calls return an error instead of panicking in turn.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|poisoned| {
            let mut core = poisoned.into_inner();
            if core.failure.is_none() {
                core.failure = Some(Failure {
                    kind: io::ErrorKind::Other,
                    message: "the synack stack panicked".into(),
                });
            }
            core
        })
    }

    pub(crate) fn lock_sink(&self) -> MutexGuard<'_, Option<EventSink>> {
        self.sink.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The stack and everything that must change together with it.
pub(crate) struct Core {
    pub(crate) stack: Stack,
    pub(crate) wakers: Wakers,
    /// The driver task, woken when a socket call may have produced output.
    driver: Option<Waker>,
    /// Every `Net` handle is gone: the driver finishes what is in flight, then exits.
    pub(crate) stopping: bool,
    /// Why the driver stopped, reported to every later socket call.
    failure: Option<Failure>,
    /// Packets the device refused to send (lost, as on a real link).
    pub(crate) send_errors: u64,
    /// Why the device refused the first of them.
    first_send_error: Option<Failure>,
}

struct Failure {
    kind: io::ErrorKind,
    message: String,
}

impl Core {
    /// Wakes the driver to drain the stack's outputs after a socket call.
    pub(crate) fn kick(&self) {
        if let Some(w) = &self.driver {
            w.wake_by_ref();
        }
    }

    /// Remembers the driver's waker for [`Core::kick`].
    pub(crate) fn set_driver(&mut self, waker: &Waker) {
        register(&mut self.driver, waker);
    }

    /// Fails with the reason the driver stopped, if it has.
    pub(crate) fn check(&self) -> io::Result<()> {
        match &self.failure {
            None => Ok(()),
            Some(f) => Err(io::Error::new(f.kind, f.message.clone())),
        }
    }

    /// Counts a packet the device refused, keeping the first reason for
    /// [`Core::first_send_error`].
    pub(crate) fn send_failed(&mut self, e: &io::Error) {
        self.send_errors += 1;
        if self.first_send_error.is_none() {
            self.first_send_error = Some(Failure {
                kind: e.kind(),
                message: format!("synack device refused a packet: {e}"),
            });
        }
    }

    /// Why the device refused the first packet it did, if any.
    pub(crate) fn first_send_error(&self) -> Option<io::Error> {
        let f = self.first_send_error.as_ref()?;
        Some(io::Error::new(f.kind, f.message.clone()))
    }

    /// Marks the driver stopped (keeping the first reason) and wakes every waiting task.
    pub(crate) fn fail(&mut self, kind: io::ErrorKind, message: String) {
        if self.failure.is_none() {
            self.failure = Some(Failure { kind, message });
        }
        self.wakers.wake_all();
    }
}

/// The tasks waiting on each socket and listener.
#[derive(Default)]
pub(crate) struct Wakers {
    sockets: HashMap<SocketHandle, SocketWakers>,
    listeners: HashMap<ListenerHandle, Option<Waker>>,
}

#[derive(Default)]
struct SocketWakers {
    read: Option<Waker>,
    write: Option<Waker>,
}

impl Wakers {
    /// Waits for `socket` to become readable.
    pub(crate) fn read(&mut self, socket: SocketHandle, waker: &Waker) {
        register(&mut self.sockets.entry(socket).or_default().read, waker);
    }

    /// Waits for `socket` to become writable (or connected).
    pub(crate) fn write(&mut self, socket: SocketHandle, waker: &Waker) {
        register(&mut self.sockets.entry(socket).or_default().write, waker);
    }

    /// Waits for `listener` to have a connection to accept.
    pub(crate) fn accept(&mut self, listener: ListenerHandle, waker: &Waker) {
        register(self.listeners.entry(listener).or_default(), waker);
    }

    pub(crate) fn forget_socket(&mut self, socket: SocketHandle) {
        self.sockets.remove(&socket);
    }

    pub(crate) fn forget_listener(&mut self, listener: ListenerHandle) {
        self.listeners.remove(&listener);
    }

    /// Moves the wakers waiting on `ready` into `out`, to be woken once the lock is released.
    pub(crate) fn take(&mut self, ready: Ready, out: &mut Vec<Waker>) {
        match ready {
            Ready::Socket(s) => {
                if let Some(w) = self.sockets.get_mut(&s) {
                    out.extend(w.read.take());
                    out.extend(w.write.take());
                }
            }
            Ready::Listener(l) => {
                if let Some(w) = self.listeners.get_mut(&l) {
                    out.extend(w.take());
                }
            }
        }
    }

    fn wake_all(&mut self) {
        let sockets = self
            .sockets
            .values_mut()
            .flat_map(|w| [w.read.take(), w.write.take()]);
        let listeners = self.listeners.values_mut().map(Option::take);
        sockets.chain(listeners).flatten().for_each(Waker::wake);
    }
}

/// Stores `waker` in `slot` unless it already holds one that wakes the same task.
fn register(slot: &mut Option<Waker>, waker: &Waker) {
    match slot {
        Some(w) if w.will_wake(waker) => {}
        _ => *slot = Some(waker.clone()),
    }
}
