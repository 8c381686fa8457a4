//! The driver task: moves packets between a device and the stack, runs its timers, and
//! wakes the tasks whose sockets became ready.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use synack_core::Instant;
use synack_core::stack::Event;
use tokio::time::Sleep;

use super::shared::{Core, Shared};
use crate::device::{Device, RecvBatch};

/// Packets taken from the device per pass.
const BATCH: usize = 64;
/// Passes per poll before yielding to other tasks, so a busy link cannot starve them.
const PASSES_PER_POLL: usize = 32;

/// The future a `Net` spawns. It owns the device; the stack lives in [`Shared`].
pub(crate) struct Driver<D> {
    shared: Arc<Shared>,
    device: D,
    rx: RecvBatch,
    /// Where `poll_transmit` writes; one MTU, reused for every packet.
    tx: Vec<u8>,
    /// Wakers and events collected under the lock and delivered after it.
    woken: Vec<Waker>,
    events: Vec<Event>,
    timer: Pin<Box<Sleep>>,
    /// What `timer` is set for (`None`: not armed, or already fired).
    timer_at: Option<Instant>,
}

// The device is only ever used through `&mut`, never pinned.
impl<D> Unpin for Driver<D> {}

/// What one pass over the stack found.
enum Pass {
    /// Wait for the device, a socket call, or the timer at this time.
    Wait(Option<Instant>),
    /// Nothing left to do: every handle is gone and no timer is pending.
    Exit,
}

impl<D: Device> Driver<D> {
    pub(crate) fn new(shared: Arc<Shared>, device: D) -> Driver<D> {
        let mtu = device.mtu();
        Driver {
            shared,
            device,
            rx: RecvBatch::new(BATCH),
            tx: vec![0; mtu],
            woken: Vec::new(),
            events: Vec::new(),
            timer: Box::pin(tokio::time::sleep(std::time::Duration::ZERO)),
            timer_at: None,
        }
    }

    /// Feeds `rx` to the stack, runs due timers, and drains its outputs in the documented
    /// order: transmit, ready, event; then reads the next timeout.
    fn pass(&mut self, cx: &Context<'_>, received: Poll<io::Result<()>>) -> Pass {
        let shared = self.shared.clone();
        let mut core = shared.lock();
        core.set_driver(cx.waker());
        if let Poll::Ready(Err(e)) = received {
            core.fail(e.kind(), format!("synack device failed: {e}"));
            return Pass::Exit;
        }
        let now = shared.clock.now();
        for packet in self.rx.iter() {
            core.stack.receive(now, packet);
        }
        if core.stack.poll_timeout().is_some_and(|t| t <= now) {
            core.stack.handle_timeout(now);
        }
        self.transmit(&mut core, now);
        while let Some(ready) = core.stack.poll_ready() {
            core.wakers.take(ready, &mut self.woken);
        }
        while let Some(event) = core.stack.poll_event() {
            self.events.push(event);
        }
        let next = core.stack.poll_timeout();
        if core.stopping && next.is_none() {
            return Pass::Exit;
        }
        Pass::Wait(next)
    }

    fn transmit(&mut self, core: &mut Core, now: Instant) {
        let mut sent = false;
        while let Some(n) = core.stack.poll_transmit(now, &mut self.tx) {
            // A packet the device refuses is lost, as on a real link; TCP retransmits it. The
            // count and the first reason are kept for `Net::device_send_errors`.
            if let Err(e) = self.device.send(&self.tx[..n]) {
                core.send_failed(&e);
            }
            sent = true;
        }
        if sent && let Err(e) = self.device.flush() {
            core.send_failed(&e);
        }
    }

    /// Wakes tasks and hands events to the sink, outside the stack's lock.
    fn deliver(&mut self) {
        for w in self.woken.drain(..) {
            w.wake();
        }
        if self.events.is_empty() {
            return;
        }
        let mut sink = self.shared.lock_sink();
        match sink.as_mut() {
            Some(sink) => self.events.drain(..).for_each(sink),
            None => self.events.clear(),
        }
    }

    /// Arms the timer for `at`; returns whether it has already fired.
    fn poll_timer(&mut self, cx: &mut Context<'_>, at: Option<Instant>) -> bool {
        let Some(at) = at else {
            self.timer_at = None;
            return false;
        };
        if self.timer_at != Some(at) {
            self.timer.as_mut().reset(self.shared.clock.to_tokio(at));
            self.timer_at = Some(at);
        }
        if self.timer.as_mut().poll(cx).is_ready() {
            // Re-arm on the next pass even if the stack asks for the same time again.
            self.timer_at = None;
            return true;
        }
        false
    }
}

impl<D: Device> Future for Driver<D> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        for _ in 0..PASSES_PER_POLL {
            this.rx.clear();
            let received = this.device.poll_recv(cx, &mut this.rx);
            let device_idle = received.is_pending();
            let pass = this.pass(cx, received);
            this.deliver();
            let next = match pass {
                Pass::Exit => return Poll::Ready(()),
                Pass::Wait(next) => next,
            };
            let fired = this.poll_timer(cx, next);
            // The device only arms its waker when it returns Pending, so poll it again
            // after a batch; likewise run the stack again after the timer fired.
            if !fired && device_idle {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl<D> Drop for Driver<D> {
    fn drop(&mut self) {
        // Whether it exited, its runtime shut down or the stack panicked: nothing will drive
        // the sockets any more, so tell every waiting task.
        self.shared.lock().fail(
            io::ErrorKind::NotConnected,
            "the synack network driver has stopped".into(),
        );
    }
}
