//! Graceful shutdown of the server's connections, without a shared lock per poll.
//!
//! hyper-util's `GracefulShutdown` has every connection poll a tokio `watch` channel on each
//! of its polls; while a connection waits, that poll takes a mutex shared by all connections
//! (the channel's `Notify` list), so under load both workers contended for one lock per
//! request. Here a connection registers its task's waker once, and each poll reads one
//! atomic flag; shutting down sets the flag and wakes every registered task, and each
//! connection then finishes the request in flight and closes.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use hyper_util::server::graceful::GracefulConnection;

/// The shutdown signal shared by the server's connections.
#[derive(Debug, Default)]
pub(crate) struct Shutdown {
    closing: AtomicBool,
    next_id: AtomicU64,
    /// The task of each open connection, to wake the idle ones when closing.
    tasks: Mutex<HashMap<u64, Waker>>,
}

impl Shutdown {
    fn tasks(&self) -> MutexGuard<'_, HashMap<u64, Waker>> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `conn`, closed gracefully once [`begin`](Self::begin) is called.
    pub(crate) fn watch<C: GracefulConnection>(self: &Arc<Self>, conn: C) -> Watched<C> {
        Watched {
            conn: Box::pin(conn),
            shutdown: Arc::clone(self),
            id: None,
            closing: false,
        }
    }

    /// Asks every open connection (and any opened later) to finish its request in flight
    /// and close.
    pub(crate) fn begin(&self) {
        self.closing.store(true, Ordering::SeqCst);
        for waker in self.tasks().values() {
            waker.wake_by_ref();
        }
    }
}

/// A connection under a [`Shutdown`].
pub(crate) struct Watched<C> {
    conn: Pin<Box<C>>,
    shutdown: Arc<Shutdown>,
    /// Set once the task's waker is registered (at the first poll).
    id: Option<u64>,
    closing: bool,
}

impl<C: GracefulConnection> Future for Watched<C> {
    type Output = C::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.id.is_none() {
            // A task's waker stays valid for the task's life: registering once is enough.
            let id = this.shutdown.next_id.fetch_add(1, Ordering::Relaxed);
            this.shutdown.tasks().insert(id, cx.waker().clone());
            this.id = Some(id);
        }
        // After registering: a shutdown that began before it is seen here, and one that
        // begins after it wakes this task.
        if !this.closing && this.shutdown.closing.load(Ordering::SeqCst) {
            this.closing = true;
            this.conn.as_mut().graceful_shutdown();
        }
        this.conn.as_mut().poll(cx)
    }
}

impl<C> Drop for Watched<C> {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.shutdown.tasks().remove(&id);
        }
    }
}
