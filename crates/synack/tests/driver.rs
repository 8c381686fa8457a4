//! The driver's life: it reports a broken device to every socket, and ends with its handles.

mod common;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use common::{config, within};
use synack::{Clock, Device, MemoryLink, MemoryPort, Net, RecvBatch};

/// A device that fails on its first receive.
struct Broken;

impl Device for Broken {
    fn mtu(&self) -> usize {
        1500
    }
    fn poll_recv(&mut self, _: &mut Context<'_>, _: &mut RecvBatch) -> Poll<io::Result<()>> {
        Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, "cable cut")))
    }
    fn send(&mut self, _: &[u8]) -> io::Result<()> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_broken_device_fails_every_socket_call() {
    let net = Net::new(config([10, 0, 0, 1].into(), 1), Broken, Clock::new());
    let err = within(60, net.connect("10.0.0.2:80".parse().unwrap()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    assert!(err.to_string().contains("cable cut"), "{err}");
    let err = net.listen("10.0.0.1:80".parse().unwrap()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
}

/// A memory port that says when it is dropped, i.e. when its driver has ended.
struct Watched(MemoryPort, Arc<AtomicBool>);

impl Device for Watched {
    fn mtu(&self) -> usize {
        self.0.mtu()
    }
    fn poll_recv(&mut self, cx: &mut Context<'_>, batch: &mut RecvBatch) -> Poll<io::Result<()>> {
        self.0.poll_recv(cx, batch)
    }
    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        self.0.send(packet)
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.1.store(true, Ordering::Relaxed);
    }
}

#[tokio::test(start_paused = true)]
async fn the_driver_ends_after_its_last_handle() {
    let dropped = Arc::new(AtomicBool::new(false));
    let (a, _b) = MemoryLink::pair(1500);
    let net = Net::new(
        config([10, 0, 0, 1].into(), 1),
        Watched(a, dropped.clone()),
        Clock::new(),
    );
    let listener = net.listen("10.0.0.1:80".parse().unwrap()).unwrap();
    drop(net);
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert!(
        !dropped.load(Ordering::Relaxed),
        "the listener still needs the driver"
    );
    drop(listener);
    within(60, async {
        while !dropped.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
}
