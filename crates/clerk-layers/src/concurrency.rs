//! A cap on requests in flight, shared by every clone of the stack.
//!
//! [`GlobalConcurrencyLimitLayer`] hands one set of permits to every service it
//! builds, so clones of the client share the cap instead of each getting its own:
//! the semantics of tower's `GlobalConcurrencyLimitLayer`, not of tower's
//! per-service `ConcurrencyLimitLayer`. Unlike tower's, it tells how many requests
//! are in flight ([`GlobalConcurrencyLimitLayer::in_flight`]).
//!
//! A permit is taken in `poll_ready` and given back when the response future is
//! dropped, as with tower's `ConcurrencyLimit`. Waiters queue fairly (FIFO): while
//! anyone waits, a freed permit goes to the head of the line and newcomers queue
//! behind it. The common case, a free permit and nobody waiting, is one atomic
//! compare-and-swap to take it and one to give it back; the line's mutex is taken
//! only when a request has to wait, or a permit is given back while one does (a
//! tokio semaphore takes its mutex on every release).
//!
//! Where it goes, and why: [the default stack](crate#the-default-stack). The default is
//! [`DEFAULT_MAX_IN_FLIGHT`] (64), far above what Clerk's 100 requests per second
//! need at typical latencies.
//!
//! # Example
//!
//! ```
//! use clerk_core::{Body, Error};
//! use clerk_layers::concurrency::GlobalConcurrencyLimitLayer;
//! use http::{Request, Response};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Error> {
//! let limit = GlobalConcurrencyLimitLayer::new(8);
//! let service = ServiceBuilder::new()
//!     .layer(limit.clone())
//!     .service(service_fn(|_req: Request<Body>| async {
//!         Ok::<_, Error>(Response::new(Body::empty()))
//!     }));
//! service
//!     .clone()
//!     .oneshot(Request::get("http://127.0.0.1/v1/users").body(Body::empty()).unwrap())
//!     .await?;
//! assert_eq!(limit.in_flight(), 0);
//! # Ok(())
//! # }
//! ```

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, ready};

use futures_util::task::AtomicWaker;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

/// Default cap on requests in flight.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;

/// The most permits a layer can have (the state keeps a flag beside the count).
const MAX_PERMITS: usize = usize::MAX >> 3;

/// Caps requests in flight across every service it builds. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct GlobalConcurrencyLimitLayer {
    permits: Arc<Permits>,
}

impl GlobalConcurrencyLimitLayer {
    /// At most `max` requests in flight (at least 1).
    pub fn new(max: usize) -> Self {
        let max = max.clamp(1, MAX_PERMITS);
        Self {
            permits: Arc::new(Permits {
                state: AtomicUsize::new(max * PERMIT),
                max,
                line: Mutex::new(VecDeque::new()),
            }),
        }
    }

    /// The cap.
    pub fn max_in_flight(&self) -> usize {
        self.permits.max
    }

    /// Requests holding a permit right now.
    pub fn in_flight(&self) -> usize {
        self.permits.max - self.permits.state.load(Ordering::Acquire) / PERMIT
    }
}

impl Default for GlobalConcurrencyLimitLayer {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_IN_FLIGHT)
    }
}

impl From<usize> for GlobalConcurrencyLimitLayer {
    fn from(max: usize) -> Self {
        Self::new(max)
    }
}

impl<S> Layer<S> for GlobalConcurrencyLimitLayer {
    type Service = ConcurrencyLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ConcurrencyLimit {
            inner,
            permits: Arc::clone(&self.permits),
            permit: None,
            waiter: None,
        }
    }
}

/// `state`: the free permits times [`PERMIT`], plus [`WAITING`] while the line is
/// not empty. The flag changes only under the line's lock, so "no flag" means
/// nobody waits, and a permit may then be taken or given back without the lock.
const WAITING: usize = 1;
const PERMIT: usize = 2;

/// The permits of one layer, shared by every service it built.
#[derive(Debug)]
struct Permits {
    state: AtomicUsize,
    max: usize,
    /// Requests waiting for a permit, first come first served.
    line: Mutex<VecDeque<Arc<Waiter>>>,
}

/// A request in line: a freed permit is handed to it (`granted`) and it is woken.
#[derive(Debug, Default)]
struct Waiter {
    granted: AtomicBool,
    waker: AtomicWaker,
}

impl Permits {
    fn line(&self) -> MutexGuard<'_, VecDeque<Arc<Waiter>>> {
        // Nothing panics while holding it; a poisoned line is still consistent.
        self.line.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a free permit if nobody waits for one.
    #[inline]
    fn try_take(&self) -> bool {
        let mut state = self.state.load(Ordering::Acquire);
        while state & WAITING == 0 && state >= PERMIT {
            match self.state.compare_exchange_weak(
                state,
                state - PERMIT,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(now) => state = now,
            }
        }
        false
    }

    /// A permit, or `waiter` queued (and `false`): a permit is handed to it later.
    fn take_or_queue(&self, waiter: &Arc<Waiter>) -> bool {
        let mut line = self.line();
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            let next = if state & WAITING == 0 && state >= PERMIT {
                state - PERMIT
            } else {
                state | WAITING
            };
            match self
                .state
                .compare_exchange(state, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) if next < state => return true,
                Ok(_) => break,
                Err(now) => state = now,
            }
        }
        line.push_back(Arc::clone(waiter));
        false
    }

    /// Gives a permit back: to the head of the line if anyone waits.
    #[inline]
    fn give_back(&self) {
        let mut state = self.state.load(Ordering::Acquire);
        while state & WAITING == 0 {
            match self.state.compare_exchange_weak(
                state,
                state + PERMIT,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(now) => state = now,
            }
        }
        self.give_back_in_line(&mut self.line());
    }

    fn give_back_in_line(&self, line: &mut VecDeque<Arc<Waiter>>) {
        match line.pop_front() {
            Some(next) => {
                if line.is_empty() {
                    self.state.fetch_and(!WAITING, Ordering::AcqRel);
                }
                next.granted.store(true, Ordering::Release);
                next.waker.wake();
            }
            None => {
                // The flag was set but the line emptied before this lock.
                let _ = self
                    .state
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| {
                        Some((state & !WAITING) + PERMIT)
                    });
            }
        }
    }

    /// A permit for the caller, now or once `waiter` (kept by the caller) is handed one.
    fn poll_take(self: &Arc<Self>, cx: &mut Context<'_>, waiter: &mut Option<Queued>) -> Poll<()> {
        if let Some(queued) = waiter {
            queued.waiter.waker.register(cx.waker());
            if queued.waiter.granted.load(Ordering::Acquire) {
                // Ours now: dropping the place in line must not pass it on.
                queued.permits = None;
                *waiter = None;
                return Poll::Ready(());
            }
            return Poll::Pending;
        }
        if self.try_take() {
            return Poll::Ready(());
        }
        let queued = Arc::new(Waiter::default());
        queued.waker.register(cx.waker());
        if self.take_or_queue(&queued) {
            return Poll::Ready(());
        }
        *waiter = Some(Queued {
            waiter: queued,
            permits: Some(Arc::clone(self)),
        });
        Poll::Pending
    }

    /// `waiter` gives up its place; a permit already handed to it goes on.
    fn leave(&self, waiter: &Arc<Waiter>) {
        let mut line = self.line();
        // `granted` is only set under this lock.
        if waiter.granted.load(Ordering::Acquire) {
            self.give_back_in_line(&mut line);
            return;
        }
        line.retain(|queued| !Arc::ptr_eq(queued, waiter));
        if line.is_empty() {
            self.state.fetch_and(!WAITING, Ordering::AcqRel);
        }
    }
}

/// A permit held; given back when dropped.
#[derive(Debug)]
struct Permit(Arc<Permits>);

impl Drop for Permit {
    #[inline]
    fn drop(&mut self) {
        self.0.give_back();
    }
}

/// The service of [`GlobalConcurrencyLimitLayer`]: takes a permit in
/// `poll_ready`, which the response future holds until it is dropped.
#[derive(Debug)]
pub struct ConcurrencyLimit<S> {
    inner: S,
    permits: Arc<Permits>,
    permit: Option<Permit>,
    /// Our place in line while `poll_ready` waits for a permit.
    waiter: Option<Queued>,
}

impl<S> ConcurrencyLimit<S> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service (a permit held, or a place in line, is given back).
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone> Clone for ConcurrencyLimit<S> {
    /// A clone holds no permit and has no place in line.
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            permits: Arc::clone(&self.permits),
            permit: None,
            waiter: None,
        }
    }
}

/// A place in line, given up when dropped (a permit already handed over goes on).
#[derive(Debug)]
struct Queued {
    waiter: Arc<Waiter>,
    /// `None` once the permit handed over is taken.
    permits: Option<Arc<Permits>>,
}

impl Drop for Queued {
    fn drop(&mut self) {
        if let Some(permits) = self.permits.take() {
            permits.leave(&self.waiter);
        }
    }
}

impl<S, Request> Service<Request> for ConcurrencyLimit<S>
where
    S: Service<Request>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.permit.is_none() {
            ready!(self.permits.poll_take(cx, &mut self.waiter));
            self.permit = Some(Permit(Arc::clone(&self.permits)));
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let permit = self
            .permit
            .take()
            .expect("max requests in flight; poll_ready must be called first");
        ResponseFuture {
            inner: self.inner.call(request),
            _permit: permit,
        }
    }
}

pin_project! {
    /// Response future of [`ConcurrencyLimit`]: holds the permit.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        _permit: Permit,
    }
}

impl<F: Future> Future for ResponseFuture<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use tokio_test::task::{Spawn, spawn};
    use tower::{ServiceExt, service_fn};

    use super::*;

    type Limited =
        ConcurrencyLimit<tower::util::ServiceFn<fn(()) -> std::future::Ready<Result<(), ()>>>>;

    fn service(layer: &GlobalConcurrencyLimitLayer) -> Limited {
        layer.layer(service_fn(|()| std::future::ready(Ok(()))))
    }

    /// A service of `layer` waiting in line (polled once, pending).
    fn queued(layer: &GlobalConcurrencyLimitLayer) -> (Limited, Spawn<()>) {
        let mut waiting = service(layer);
        let mut task = spawn(());
        assert!(task.enter(|cx, _| waiting.poll_ready(cx)).is_pending());
        (waiting, task)
    }

    fn is_ready(service: &mut Limited, task: &mut Spawn<()>) -> bool {
        task.enter(|cx, _| service.poll_ready(cx)).is_ready()
    }

    #[test]
    fn a_freed_permit_goes_to_the_head_of_the_line_not_to_a_newcomer() {
        let layer = GlobalConcurrencyLimitLayer::new(1);
        let mut holder = service(&layer);
        assert!(is_ready(&mut holder, &mut spawn(())));
        let held = holder.call(());
        let (mut first, mut first_task) = queued(&layer);
        let (mut second, mut second_task) = queued(&layer);
        let (third, _third_task) = queued(&layer);
        drop(held);
        assert!(first_task.is_woken());
        // A newcomer queues behind, though no permit is taken yet.
        let (mut newcomer, mut newcomer_task) = queued(&layer);
        assert!(!is_ready(&mut second, &mut second_task));
        assert!(is_ready(&mut first, &mut first_task));
        assert_eq!(layer.in_flight(), 1);
        // The third leaves the line: the second, then the newcomer.
        drop(third);
        drop(first.call(()));
        assert!(second_task.is_woken());
        assert!(!is_ready(&mut newcomer, &mut newcomer_task));
        assert!(is_ready(&mut second, &mut second_task));
        drop(second.call(()));
        assert!(is_ready(&mut newcomer, &mut newcomer_task));
        drop(newcomer);
        assert_eq!(layer.in_flight(), 0);
    }

    #[test]
    fn a_permit_handed_to_a_waiter_that_leaves_goes_on_to_the_next() {
        let layer = GlobalConcurrencyLimitLayer::new(1);
        let mut holder = service(&layer);
        assert!(is_ready(&mut holder, &mut spawn(())));
        let held = holder.call(());
        let (first, _first_task) = queued(&layer);
        let (mut second, mut second_task) = queued(&layer);
        drop(held); // handed to `first`, which never takes it
        drop(first);
        assert!(second_task.is_woken());
        assert!(is_ready(&mut second, &mut second_task));
        drop(second);
        assert_eq!(layer.in_flight(), 0);
        assert!(is_ready(&mut service(&layer), &mut spawn(())));
    }

    /// Many tasks on four threads through a cap of 3, some giving up while in line:
    /// never more than 3 in flight, nobody stranded, no permit lost.
    #[test]
    fn the_cap_holds_and_no_permit_is_lost_under_contention() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_time()
            .build()
            .unwrap();
        let layer = GlobalConcurrencyLimitLayer::new(3);
        let now = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let inner = {
            let (now, most) = (now.clone(), most.clone());
            service_fn(move |()| {
                let (now, most) = (now.clone(), most.clone());
                async move {
                    let current = now.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(current, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    now.fetch_sub(1, Ordering::SeqCst);
                    Ok::<(), ()>(())
                }
            })
        };
        let limited = layer.layer(inner);
        runtime.block_on(async {
            let mut tasks = Vec::new();
            for task in 0..64_usize {
                let limited = limited.clone();
                tasks.push(tokio::spawn(async move {
                    for call in 0..200_usize {
                        if (task + call) % 7 == 0 {
                            // Gives up after one poll, in line or not.
                            let mut ready = spawn(limited.clone().ready_oneshot());
                            let _ = ready.poll();
                            continue;
                        }
                        limited.clone().oneshot(()).await.unwrap();
                    }
                }));
            }
            let all = async {
                for task in tasks {
                    task.await.unwrap();
                }
            };
            // A lost wake-up fails the test instead of hanging it.
            tokio::time::timeout(Duration::from_secs(300), all)
                .await
                .expect("a request was stranded in line");
        });
        assert!(most.load(Ordering::SeqCst) <= 3, "{most:?} in flight");
        assert_eq!(layer.in_flight(), 0);
        let mut holders: Vec<Limited> = (0..3).map(|_| service(&layer)).collect();
        for holder in &mut holders {
            assert!(is_ready(holder, &mut spawn(())), "a permit was lost");
        }
    }
}
