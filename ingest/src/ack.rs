//! Acknowledging a message only after all of its readings are committed.
//!
//! Every reading (or rejection) of one message holds a clone of the message's [`Ack`]. A holder
//! whose batch committed calls [`Ack::settle`]; a holder dropped without settling (the process is
//! stopping, the batch never committed) marks the message abandoned. When the last holder is
//! gone, the callback runs once with `true` (every holder settled: acknowledge) or `false`
//! (abandoned: do not acknowledge, so the broker delivers it again).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

type Callback = Box<dyn FnOnce(bool) + Send + Sync>;

struct Shared {
    abandoned: AtomicBool,
    callback: std::sync::Mutex<Option<Callback>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        let settled = !self.abandoned.load(Ordering::Acquire);
        if let Some(callback) = self.callback.lock().ok().and_then(|mut c| c.take()) {
            callback(settled);
        }
    }
}

/// One holder's share of a message's acknowledgement.
pub struct Ack {
    shared: Arc<Shared>,
    settled: bool,
}

impl Ack {
    /// An acknowledgement that calls `callback(settled)` once, when the last holder is gone.
    pub fn new(callback: impl FnOnce(bool) + Send + Sync + 'static) -> Ack {
        Ack {
            shared: Arc::new(Shared {
                abandoned: AtomicBool::new(false),
                callback: std::sync::Mutex::new(Some(Box::new(callback))),
            }),
            settled: false,
        }
    }

    /// This holder's part is durably done.
    pub fn settle(mut self) {
        self.settled = true;
    }
}

impl Clone for Ack {
    fn clone(&self) -> Self {
        Ack {
            shared: Arc::clone(&self.shared),
            settled: false,
        }
    }
}

impl Drop for Ack {
    fn drop(&mut self) {
        if !self.settled {
            self.shared.abandoned.store(true, Ordering::Release);
        }
    }
}

impl std::fmt::Debug for Ack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ack")
            .field("holders", &Arc::strong_count(&self.shared))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn tracked() -> (Ack, mpsc::Receiver<bool>) {
        let (tx, rx) = mpsc::channel();
        let ack = Ack::new(move |settled| tx.send(settled).unwrap());
        (ack, rx)
    }

    #[test]
    fn acknowledges_once_when_every_holder_settled() {
        let (ack, rx) = tracked();
        let copies: Vec<Ack> = (0..3).map(|_| ack.clone()).collect();
        ack.settle();
        for (i, copy) in copies.into_iter().enumerate() {
            assert!(rx.try_recv().is_err(), "not before the last holder ({i})");
            copy.settle();
        }
        assert_eq!(rx.try_recv(), Ok(true));
        assert!(rx.try_recv().is_err(), "exactly once");
    }

    #[test]
    fn one_holder_dropped_unsettled_abandons_the_message() {
        let (ack, rx) = tracked();
        let copy = ack.clone();
        ack.settle();
        drop(copy);
        assert_eq!(rx.try_recv(), Ok(false));
    }
}
