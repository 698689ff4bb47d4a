//! The per-socket queue of packets waiting to be written to the client.
//!
//! Batiyoun patch (see `PATCHES.md`): upstream used a tokio `mpsc::channel(max_buffer_size)` of
//! [`PacketBuf`] plus a `watch` channel for volatile packets. tokio allocates the first block of 32
//! slots when a channel is created, and a `PacketBuf` slot is large (two inline packets), so every
//! socket paid several kilobytes for a queue that an idle connection almost never uses. This queue
//! keeps the same contract — bounded by `max_buffer_size` counting queued packet buffers plus
//! outstanding permits, `Full`/`Closed` errors from [`TrySendError`], permits reserved ahead of an
//! atomic multi-packet send, FIFO order, a single "latest value wins" volatile slot delivered after
//! the buffered packets — but allocates nothing until a packet is queued and gives its buffer back
//! as soon as the receiver has drained it.
//!
//! There is one receiver at a time: the transport that holds the socket's `internal_rx` lock.

use std::{
    collections::VecDeque,
    sync::{Mutex, MutexGuard, PoisonError},
    task::{Context, Poll, Waker},
};

use engineioxide_core::{Packet, PacketBuf};
use smallvec::smallvec;
use tokio::sync::{Notify, mpsc::error::TrySendError};

pub(crate) struct PacketQueue {
    capacity: usize,
    state: Mutex<State>,
    /// Woken when room is freed for a waiting [`PacketQueue::send`] or when the queue closes.
    changed: Notify,
}

#[derive(Debug, Default)]
struct State {
    packets: VecDeque<PacketBuf>,
    /// Permits handed out and neither used nor dropped yet; they count against the capacity.
    reserved: usize,
    /// Boxed: it is rarely used and would otherwise make every socket larger.
    volatile: Option<Box<PacketBuf>>,
    rx_waker: Option<Waker>,
    /// Set by a [`PacketQueue::send`] waiting for room, so that the receiver only pays for a
    /// notification when someone waits.
    space_wanted: bool,
    closed: bool,
}

impl PacketQueue {
    /// A queue holding at most `capacity` packet buffers (queued plus reserved).
    ///
    /// Panics if `capacity` is 0, like the tokio channel it replaces.
    pub(crate) fn new(capacity: usize) -> Self {
        assert!(
            capacity > 0,
            "the socket buffer size must be greater than 0"
        );
        Self {
            capacity,
            state: Mutex::new(State::default()),
            changed: Notify::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held; a poisoned state is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_full(&self, state: &State) -> bool {
        state.packets.len() + state.reserved >= self.capacity
    }

    /// Queues a single packet, or hands it back if the queue is full or closed.
    pub(crate) fn try_send_one(&self, packet: Packet) -> Result<(), TrySendError<Packet>> {
        let mut state = self.state();
        if state.closed {
            return Err(TrySendError::Closed(packet));
        }
        if self.is_full(&state) {
            return Err(TrySendError::Full(packet));
        }
        state.packets.push_back(smallvec![packet]);
        let waker = state.rx_waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// Queues a packet buffer, waiting for room if the queue is full. Fails if the queue is closed.
    pub(crate) async fn send(&self, packets: PacketBuf) -> Result<(), PacketBuf> {
        loop {
            // Registered before trying, so that room freed in between is not missed.
            let notified = self.changed.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = self.state();
                if state.closed {
                    return Err(packets);
                }
                if !self.is_full(&state) {
                    state.packets.push_back(packets);
                    let waker = state.rx_waker.take();
                    drop(state);
                    if let Some(waker) = waker {
                        waker.wake();
                    }
                    return Ok(());
                }
                state.space_wanted = true;
            }
            notified.await;
        }
    }

    /// Reserves room for one packet buffer, to be sent later with [`QueuePermit::send`].
    pub(crate) fn try_reserve(&self) -> Result<QueuePermit<'_>, TrySendError<()>> {
        let mut state = self.state();
        if state.closed {
            return Err(TrySendError::Closed(()));
        }
        if self.is_full(&state) {
            return Err(TrySendError::Full(()));
        }
        state.reserved += 1;
        Ok(QueuePermit { queue: Some(self) })
    }

    /// Replaces the pending volatile packet buffer, if any. Returns `false` if the queue is closed.
    pub(crate) fn send_volatile(&self, packets: PacketBuf) -> bool {
        let mut state = self.state();
        if state.closed {
            return false;
        }
        state.volatile = Some(Box::new(packets));
        let waker = state.rx_waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        true
    }

    /// The next packet buffer: the buffered ones first, in order, then the volatile one.
    /// `Ready(None)` once the queue is closed and drained.
    pub(crate) fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<PacketBuf>> {
        let mut state = self.state();
        if let Some(packets) = state.packets.pop_front() {
            if state.packets.is_empty() {
                // Give the buffer back: an idle socket should not keep the peak of its last burst.
                state.packets = VecDeque::new();
            }
            let notify = std::mem::take(&mut state.space_wanted);
            drop(state);
            if notify {
                self.changed.notify_waiters();
            }
            return Poll::Ready(Some(packets));
        }
        if let Some(packets) = state.volatile.take() {
            return Poll::Ready(Some(*packets));
        }
        if state.closed {
            return Poll::Ready(None);
        }
        match &mut state.rx_waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            waker => *waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// The next packet buffer if one is ready, without waiting.
    pub(crate) fn try_recv(&self) -> Option<PacketBuf> {
        let mut cx = Context::from_waker(Waker::noop());
        match self.poll_recv(&mut cx) {
            Poll::Ready(packets) => packets,
            Poll::Pending => None,
        }
    }

    /// Waits for the next packet buffer; `None` once the queue is closed and drained.
    #[cfg(any(test, feature = "__test_harness"))]
    pub(crate) async fn recv(&self) -> Option<PacketBuf> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Refuses new packets. What is already queued can still be received.
    pub(crate) fn close(&self) {
        let mut state = self.state();
        state.closed = true;
        let waker = state.rx_waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        self.changed.notify_waiters();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state().closed
    }

    /// Completes once the queue is closed.
    pub(crate) async fn closed(&self) {
        loop {
            let notified = self.changed.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }

    fn release_permit(&self, packets: Option<PacketBuf>) {
        let mut state = self.state();
        state.reserved = state.reserved.saturating_sub(1);
        let waker = match packets {
            Some(packets) => {
                state.packets.push_back(packets);
                state.rx_waker.take()
            }
            None => None,
        };
        let notify = waker.is_none() && std::mem::take(&mut state.space_wanted);
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        if notify {
            self.changed.notify_waiters();
        }
    }
}

impl std::fmt::Debug for PacketQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state();
        f.debug_struct("PacketQueue")
            .field("capacity", &self.capacity)
            .field("queued", &state.packets.len())
            .field("reserved", &state.reserved)
            .field("volatile", &state.volatile.is_some())
            .field("closed", &state.closed)
            .finish()
    }
}

/// Room for one packet buffer in a [`PacketQueue`]; given back if dropped unused.
pub(crate) struct QueuePermit<'a> {
    queue: Option<&'a PacketQueue>,
}

impl QueuePermit<'_> {
    /// Queues the packet buffer in the reserved room. Like a tokio permit, this succeeds even if
    /// the queue was closed in the meantime (the receiver may still drain it).
    pub(crate) fn send(mut self, packets: PacketBuf) {
        if let Some(queue) = self.queue.take() {
            queue.release_permit(Some(packets));
        }
    }
}

impl Drop for QueuePermit<'_> {
    fn drop(&mut self) {
        if let Some(queue) = self.queue.take() {
            queue.release_permit(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::Arc, time::Duration};

    use super::*;
    use engineioxide_core::Str;

    fn msg(s: &'static str) -> PacketBuf {
        smallvec![Packet::Message(Str::from(s))]
    }

    fn one(s: &'static str) -> Packet {
        Packet::Message(Str::from(s))
    }

    fn text(packets: Option<PacketBuf>) -> Vec<String> {
        packets.into_iter().flatten().map(String::from).collect()
    }

    #[test]
    fn a_new_queue_allocates_nothing() {
        let queue = PacketQueue::new(128);
        let state = queue.state();
        assert_eq!(state.packets.capacity(), 0);
        assert!(state.volatile.is_none());
    }

    #[test]
    fn full_queue_hands_the_packet_back() {
        let queue = PacketQueue::new(2);
        queue.try_send_one(one("a")).expect("room for a");
        queue
            .try_send_one(Packet::Message("b".into()))
            .expect("room for b");
        match queue.try_send_one(Packet::Message("d".into())) {
            Err(TrySendError::Full(Packet::Message(m))) => assert_eq!(m, "d"),
            other => panic!("expected Full, got {other:?}"),
        }
        assert!(matches!(queue.try_reserve(), Err(TrySendError::Full(()))));
        // Receiving frees room again.
        assert_eq!(text(queue.try_recv()), ["4a"]);
        queue.try_send_one(one("c")).expect("room after a receive");
    }

    #[test]
    fn permits_count_against_the_capacity_until_used_or_dropped() {
        let queue = PacketQueue::new(2);
        let first = queue.try_reserve().expect("first permit");
        let second = queue.try_reserve().expect("second permit");
        assert!(matches!(
            queue.try_send_one(one("x")),
            Err(TrySendError::Full(_))
        ));
        drop(first);
        queue
            .try_send_one(one("x"))
            .expect("a dropped permit gives its room back");
        second.send(smallvec![
            Packet::Message("y".into()),
            Packet::Binary(vec![1].into())
        ]);
        assert_eq!(text(queue.try_recv()), ["4x"]);
        let many = queue.try_recv().expect("the permit's packets");
        assert_eq!(many.len(), 2, "a permit sends its packets as one unit");
        assert!(queue.try_recv().is_none());
    }

    #[test]
    fn order_is_kept_and_volatile_comes_after_the_buffered_packets() {
        let queue = PacketQueue::new(8);
        assert!(queue.send_volatile(msg("dropped")));
        queue.try_send_one(one("1")).expect("room");
        let permit = queue.try_reserve().expect("permit");
        queue.try_send_one(one("2")).expect("room");
        permit.send(msg("3"));
        assert!(queue.send_volatile(msg("kept")));
        let received: Vec<_> = std::iter::from_fn(|| queue.try_recv())
            .flat_map(|p| text(Some(p)))
            .collect();
        assert_eq!(received, ["41", "42", "43", "4kept"]);
    }

    #[test]
    fn the_buffer_is_given_back_once_drained() {
        let queue = PacketQueue::new(128);
        for _ in 0..10 {
            queue.try_send_one(one("x")).expect("room");
        }
        assert!(queue.state().packets.capacity() >= 10);
        while queue.try_recv().is_some() {}
        assert_eq!(queue.state().packets.capacity(), 0);
    }

    #[test]
    fn a_closed_queue_refuses_packets_but_can_be_drained() {
        let queue = PacketQueue::new(4);
        queue.try_send_one(one("before")).expect("room");
        queue.close();
        assert!(queue.is_closed());
        assert!(matches!(
            queue.try_send_one(one("after")),
            Err(TrySendError::Closed(_))
        ));
        assert!(matches!(queue.try_reserve(), Err(TrySendError::Closed(()))));
        assert!(!queue.send_volatile(msg("volatile")));
        assert_eq!(text(queue.try_recv()), ["4before"]);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(queue.poll_recv(&mut cx), Poll::Ready(None)));
    }

    #[tokio::test]
    async fn recv_waits_for_a_packet() {
        let queue = Arc::new(PacketQueue::new(4));
        let receiver = tokio::spawn({
            let queue = queue.clone();
            async move { queue.recv().await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!receiver.is_finished());
        queue.try_send_one(one("late")).expect("room");
        let got = tokio::time::timeout(Duration::from_secs(1), receiver)
            .await
            .expect("the receiver is woken")
            .expect("task");
        assert_eq!(text(got), ["4late"]);
    }

    #[tokio::test]
    async fn send_waits_for_room_and_fails_once_closed() {
        let queue = Arc::new(PacketQueue::new(1));
        queue.try_send_one(one("first")).expect("room");
        let sender = tokio::spawn({
            let queue = queue.clone();
            async move { queue.send(msg("second")).await.is_ok() }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!sender.is_finished(), "send waits while the queue is full");
        assert_eq!(text(queue.try_recv()), ["4first"]);
        let sent = tokio::time::timeout(Duration::from_secs(1), sender)
            .await
            .expect("send is woken when room is freed")
            .expect("task");
        assert!(sent);
        assert_eq!(text(queue.try_recv()), ["4second"]);

        queue.try_send_one(one("fill")).expect("room");
        let sender = tokio::spawn({
            let queue = queue.clone();
            async move { queue.send(msg("never")).await.is_ok() }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        queue.close();
        let sent = tokio::time::timeout(Duration::from_secs(1), sender)
            .await
            .expect("send is woken when the queue closes")
            .expect("task");
        assert!(!sent);
    }

    #[tokio::test]
    async fn closed_completes_when_the_queue_closes() {
        let queue = Arc::new(PacketQueue::new(1));
        let waiter = tokio::spawn({
            let queue = queue.clone();
            async move { queue.closed().await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!waiter.is_finished());
        queue.close();
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("closed() completes")
            .expect("task");
    }
}
