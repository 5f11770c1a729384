//! Deadlines returning [`Error::timeout`]: one per attempt, one per operation.
//!
//! One [`TimeoutLayer`] used at two positions of the stack ([the default
//! stack](crate#the-default-stack) says where, and why):
//!
//! * **per attempt**: [`TimeoutLayer::attempt`], 10 s by default
//!   ([`DEFAULT_ATTEMPT_TIMEOUT`]). A timed-out attempt is retried if the call is
//!   idempotent; for a create it becomes an outcome-unknown error.
//! * **per operation**: [`TimeoutLayer::operation`], 60 s by default
//!   ([`DEFAULT_OPERATION_TIMEOUT`]), the whole call including waits and retries.
//!
//! The connect timeout lives in the transport. Unlike `tower::timeout`, the error
//! is a [`clerk_core::Error`] (`is_timeout()`), which the retry policy classifies.
//! The deadline is taken when the service is *called*, not when it is polled.
//!
//! # Nested deadlines share a timer
//!
//! A timer is armed (created and registered with tokio's timer wheel) only when
//! the inner future is pending, and not at all while a `Timeout` nested inside
//! this one, polled in the same poll with the same waker, has armed one with an
//! earlier or equal deadline: that timer wakes the task first, and this one
//! looks again then. In the default stack the operation's deadline (60 s) thus
//! costs no timer while an attempt (10 s) is in flight; it arms its own during a
//! retry's backoff, a rate-limit wait or a wait for a concurrency permit. Every
//! deadline holds as before: a call fails with [`Error::timeout`] no later than
//! its deadline.
//!
//! # One timer per task, reset from call to call
//!
//! A finished call leaves its timer, still registered with tokio's timer wheel,
//! as the thread's spare; the next call of the same task (polled with the same
//! waker: a worker's next call, made in the poll that finished the last one)
//! resets that timer to its own deadline instead of creating and registering a
//! new one and deregistering the old. Moving a registered deadline later is one
//! atomic store in tokio (`Sleep::reset`), so a task making call after call
//! touches the wheel about once per timeout period instead of twice per call.
//! A spare that fired, or that another task's waker was registered with, is
//! never taken. Each thread keeps at most one spare: it wakes its task once,
//! spuriously, at the last deadline it was set to, unless a call resets it first.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use clerk_core::{Body, Error};
//! use clerk_layers::timeout::TimeoutLayer;
//! use http::{Request, Response};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! tokio::time::pause();
//! let service = ServiceBuilder::new()
//!     .layer(TimeoutLayer::new(Duration::from_secs(2)))
//!     .service(service_fn(|_req: Request<Body>| async {
//!         tokio::time::sleep(Duration::from_secs(5)).await;
//!         Ok::<_, Error>(Response::new(Body::empty()))
//!     }));
//! let err = service
//!     .oneshot(Request::get("http://127.0.0.1/v1/users").body(Body::empty()).unwrap())
//!     .await
//!     .unwrap_err();
//! assert!(err.is_timeout());
//! # }
//! ```

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::ptr;
use std::task::{Context, Poll, RawWakerVTable, Waker};
use std::time::Duration;

use clerk_core::Error;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tower_layer::Layer;
use tower_service::Service;

/// Default deadline of one attempt.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default deadline of a whole operation, retries included.
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(60);

/// Fails a call that takes longer than its deadline with [`Error::timeout`].
#[derive(Clone, Copy, Debug)]
pub struct TimeoutLayer {
    timeout: Duration,
}

impl TimeoutLayer {
    /// A deadline of `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }

    /// The default per-attempt deadline (10 s).
    pub fn attempt() -> Self {
        Self::new(DEFAULT_ATTEMPT_TIMEOUT)
    }

    /// The default per-operation deadline (60 s).
    pub fn operation() -> Self {
        Self::new(DEFAULT_OPERATION_TIMEOUT)
    }

    /// The deadline.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Timeout::new(inner, self.timeout)
    }
}

/// The service of [`TimeoutLayer`].
#[derive(Clone, Debug)]
pub struct Timeout<S> {
    inner: S,
    timeout: Duration,
}

impl<S> Timeout<S> {
    /// Wraps `inner` with a deadline of `timeout`.
    pub fn new(inner: S, timeout: Duration) -> Self {
        Self { inner, timeout }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, Request> Service<Request> for Timeout<S>
where
    S: Service<Request>,
    S::Error: Into<Error>,
{
    type Response = S::Response;
    type Error = Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        ResponseFuture {
            deadline: deadline_after(self.timeout),
            inner: self.inner.call(request),
            sleep: None,
            timeout: self.timeout,
            polled_with: WakerId::NONE,
        }
    }
}

/// `timeout` from now, capped at about 30 years as `tokio::time::sleep` caps it.
fn deadline_after(timeout: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(86400 * 365 * 30);
    Instant::now() + timeout.min(FAR)
}

/// The earliest deadline among the timers armed by the `Timeout` futures polled
/// (transitively) by the innermost `Timeout` poll running on this thread, and
/// the waker they were armed with. Each `Timeout` poll clears it before polling
/// its inner future and reads it afterwards, so what a poll reads was written
/// by its own inner futures in that very poll; stale values are never read.
/// (`Armed` has no destructor, so the thread-local is never torn down.)
#[derive(Clone, Copy)]
enum Armed {
    /// No timer was armed.
    None,
    /// A `Timeout` future was dropped: a timer reported may be gone.
    Dropped,
    /// A timer with this deadline is armed with this waker.
    At {
        deadline: Instant,
        waker_data: *const (),
        waker_vtable: *const RawWakerVTable,
    },
}

impl Armed {
    #[inline]
    fn at(deadline: Instant, waker: &Waker) -> Self {
        Armed::At {
            deadline,
            waker_data: waker.data(),
            waker_vtable: waker.vtable(),
        }
    }

    /// Whether a timer armed with `waker` wakes the task by `deadline`.
    #[inline]
    fn wakes_by(self, deadline: Instant, waker: &Waker) -> bool {
        match self {
            Armed::At {
                deadline: armed,
                waker_data,
                waker_vtable,
            } => {
                armed <= deadline
                    && ptr::eq(waker_data, waker.data())
                    && ptr::eq(waker_vtable, waker.vtable())
            }
            Armed::None | Armed::Dropped => false,
        }
    }

    /// `self` and `other` together: the earlier timer, and a drop taints both.
    #[inline]
    fn and(self, other: Armed) -> Armed {
        match (self, other) {
            (Armed::Dropped, _) | (_, Armed::Dropped) => Armed::Dropped,
            (Armed::None, x) | (x, Armed::None) => x,
            (Armed::At { deadline: a, .. }, Armed::At { deadline: b, .. }) => {
                if a <= b {
                    self
                } else {
                    other
                }
            }
        }
    }
}

thread_local! {
    static ARMED: Cell<Armed> = const { Cell::new(Armed::None) };
    /// The thread's spare timer (see the module docs) and the waker it was last
    /// polled with.
    static SPARE: Cell<Option<(Pin<Box<Sleep>>, WakerId)>> = const { Cell::new(None) };
}

/// A waker's identity (its data and vtable addresses), kept as integers so the
/// future stays `Send`; compared, never dereferenced.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct WakerId(usize, usize);

impl WakerId {
    const NONE: WakerId = WakerId(0, 0);

    #[inline]
    fn of(waker: &Waker) -> Self {
        WakerId(waker.data() as usize, waker.vtable() as *const _ as usize)
    }
}

/// A timer for `deadline`, polled next with `waker`: the thread's spare, reset, if
/// it is still registered and was last polled with this very waker, else a new one.
///
/// Why the two conditions suffice for the spare to belong to this task (and so to
/// this runtime and its clock): a timer that has not fired still holds the waker it
/// was polled with, so that task is alive and no other task can have its address.
fn timer_for(deadline: Instant, waker: &Waker) -> Pin<Box<Sleep>> {
    let spare = SPARE.try_with(Cell::take).ok().flatten();
    match spare {
        Some((mut sleep, polled_with))
            if polled_with == WakerId::of(waker) && !sleep.is_elapsed() =>
        {
            sleep.as_mut().reset(deadline);
            sleep
        }
        other => {
            // Another task's spare stays for it; a fired one is dropped.
            if let Some((sleep, polled_with)) = other
                && !sleep.is_elapsed()
            {
                let _ = SPARE.try_with(|spare| spare.set(Some((sleep, polled_with))));
            }
            Box::pin(tokio::time::sleep_until(deadline))
        }
    }
}

/// Keeps a timer that has not fired as the thread's spare (dropping the one there).
fn keep_spare(sleep: Pin<Box<Sleep>>, polled_with: WakerId) {
    if polled_with != WakerId::NONE && !sleep.is_elapsed() {
        // During the thread's teardown the timer is simply dropped.
        let _ = SPARE.try_with(|spare| spare.set(Some((sleep, polled_with))));
    }
}

pin_project! {
    /// Response future of [`Timeout`].
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        // Armed lazily, and boxed so a spare can move from call to call: see the
        // module docs.
        sleep: Option<Pin<Box<Sleep>>>,
        deadline: Instant,
        timeout: Duration,
        // The waker `sleep` was last polled with.
        polled_with: WakerId,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(sleep) = this.sleep.take() {
                keep_spare(sleep, *this.polled_with);
            }
            // A timer this future armed, or relied on, may be gone now: a `Timeout`
            // polling around this drop must arm its own.
            ARMED.set(Armed::Dropped);
        }
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<Error>,
{
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // Three accesses to a thread-local per poll: this runs on every wake-up.
        let outer = ARMED.replace(Armed::None);
        if let Poll::Ready(result) = this.inner.poll(cx) {
            ARMED.set(outer);
            if let Some(sleep) = this.sleep.take() {
                keep_spare(sleep, *this.polled_with);
            }
            return Poll::Ready(result.map_err(Into::into));
        }
        let nested = ARMED.get();
        if this.sleep.is_none() && nested.wakes_by(*this.deadline, cx.waker()) {
            // A nested timer wakes the task no later than this deadline (and with
            // nothing before this poll, `ARMED` already says so).
            if !matches!(outer, Armed::None) {
                ARMED.set(outer.and(nested));
            }
            return Poll::Pending;
        }
        let sleep = this
            .sleep
            .get_or_insert_with(|| timer_for(*this.deadline, cx.waker()));
        *this.polled_with = WakerId::of(cx.waker());
        if sleep.as_mut().poll(cx).is_ready() {
            ARMED.set(outer);
            // Fired: no spare.
            *this.sleep = None;
            return Poll::Ready(Err(Error::timeout(*this.timeout)));
        }
        // What the inner futures armed no longer matters to the polls around
        // this one: this timer wakes the task by this deadline.
        ARMED.set(outer.and(Armed::at(*this.deadline, cx.waker())));
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use std::future::{Future, pending};
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    use clerk_core::{Body, Error};
    use http::{Request, Response};
    use tokio::time::Instant;
    use tower::{Service, ServiceExt, service_fn};

    use super::*;

    type Reply = Result<Response<Body>, Error>;
    type BoxReply = Pin<Box<dyn Future<Output = Reply> + Send>>;

    fn get() -> Request<Body> {
        Request::get("http://127.0.0.1/v1/users/user_1")
            .body(Body::empty())
            .unwrap()
    }

    /// A transport that never answers.
    fn hanging()
    -> impl Service<Request<Body>, Response = Response<Body>, Error = Error, Future = BoxReply> + Clone
    {
        service_fn(|_req: Request<Body>| Box::pin(pending::<Reply>()) as BoxReply)
    }

    /// `outer` around `middle` around `inner` around a transport that never
    /// answers; the error and when it came (a test bound of an hour turns a
    /// missed deadline into a failure, not a hang).
    async fn run<M, F>(outer: Duration, middle: M, inner: Duration) -> (String, Duration)
    where
        M: FnOnce(BoxReply) -> F,
        F: Future<Output = Reply> + Send + 'static,
    {
        let start = Instant::now();
        let mut attempt = TimeoutLayer::new(inner).layer(hanging());
        let attempt: BoxReply = Box::pin(attempt.call(get()));
        let mut wrapped = Some(middle(attempt));
        let call = TimeoutLayer::new(outer)
            .layer(service_fn(move |_req: Request<Body>| {
                wrapped.take().expect("called once")
            }))
            .oneshot(get());
        let err = tokio::time::timeout(Duration::from_secs(3600), call)
            .await
            .expect("the outer deadline was missed")
            .unwrap_err();
        assert!(err.is_timeout(), "{err:?}");
        (err.to_string(), start.elapsed())
    }

    /// Whether this thread holds a spare timer.
    fn spare_present() -> bool {
        SPARE.with(|spare| {
            let held = spare.take();
            let present = held.is_some();
            spare.set(held);
            present
        })
    }

    /// Answers the first call after `first`, never answers the later ones.
    fn answers_once_after(
        first: Duration,
    ) -> impl Service<Request<Body>, Response = Response<Body>, Error = Error, Future = BoxReply> + Clone
    {
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        service_fn(move |_req: Request<Body>| {
            let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Box::pin(async move {
                if n > 0 {
                    return pending::<Reply>().await;
                }
                tokio::time::sleep(first).await;
                Ok(Response::new(Body::empty()))
            }) as BoxReply
        })
    }

    /// Polls `future` once with the calling task's waker.
    async fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
        std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *future).poll(cx))).await
    }

    #[tokio::test(start_paused = true)]
    async fn a_timer_left_by_a_call_times_the_next_one_out_at_its_own_deadline() {
        let service = TimeoutLayer::new(Duration::from_secs(2))
            .layer(answers_once_after(Duration::from_secs(1)));
        let start = Instant::now();
        service.clone().oneshot(get()).await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        assert!(spare_present(), "the finished call left its timer");
        let mut second = Box::pin(service.clone().oneshot(get()));
        assert!(poll_once(&mut second).await.is_pending());
        assert!(!spare_present(), "the next call of this task took it");
        let err = second.await.unwrap_err();
        assert!(err.is_timeout(), "{err:?}");
        // Its own 2 s, not the 2 s the timer was set to by the first call.
        assert_eq!(start.elapsed(), Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_spare_set_later_is_moved_to_an_earlier_deadline() {
        let start = Instant::now();
        TimeoutLayer::new(Duration::from_secs(60))
            .layer(answers_once_after(Duration::from_secs(1)))
            .oneshot(get())
            .await
            .unwrap();
        assert!(spare_present());
        let err = TimeoutLayer::new(Duration::from_secs(1))
            .layer(hanging())
            .oneshot(get())
            .await
            .unwrap_err();
        assert!(err.is_timeout(), "{err:?}");
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn another_tasks_spare_is_left_to_it() {
        let service = TimeoutLayer::new(Duration::from_secs(5))
            .layer(answers_once_after(Duration::from_secs(1)));
        let other = service.clone();
        tokio::spawn(async move { other.oneshot(get()).await.unwrap() })
            .await
            .unwrap();
        assert!(spare_present(), "the other task's call left its timer");
        let start = Instant::now();
        let mut mine = Box::pin(service.oneshot(get()));
        assert!(poll_once(&mut mine).await.is_pending());
        assert!(spare_present(), "armed a timer of its own");
        assert!(mine.await.unwrap_err().is_timeout());
        assert_eq!(start.elapsed(), Duration::from_secs(5));
    }

    #[test]
    fn a_spare_never_crosses_into_another_runtime() {
        let paused = || {
            tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build()
                .unwrap()
        };
        paused().block_on(async {
            TimeoutLayer::new(Duration::from_secs(30))
                .layer(answers_once_after(Duration::from_secs(1)))
                .oneshot(get())
                .await
                .unwrap();
            assert!(spare_present());
        });
        // That runtime is gone; its timer must not serve this one's call.
        paused().block_on(async {
            let start = Instant::now();
            let err = TimeoutLayer::new(Duration::from_secs(2))
                .layer(hanging())
                .oneshot(get())
                .await
                .unwrap_err();
            assert!(err.is_timeout(), "{err:?}");
            assert_eq!(start.elapsed(), Duration::from_secs(2));
        });
    }

    #[tokio::test(start_paused = true)]
    async fn the_earlier_of_two_nested_deadlines_fires_first() {
        let (err, after) = run(
            Duration::from_secs(60),
            |inner| inner,
            Duration::from_secs(2),
        )
        .await;
        assert_eq!(after, Duration::from_secs(2));
        assert!(err.contains("2s"), "{err}");
        let (err, after) = run(
            Duration::from_secs(1),
            |inner| inner,
            Duration::from_secs(10),
        )
        .await;
        assert_eq!(after, Duration::from_secs(1));
        assert!(err.contains("1s"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_outer_deadline_holds_once_the_nested_timer_is_gone() {
        // A retry's backoff: the attempt times out, then the call waits without
        // a timer of its own; the operation's deadline ends it.
        let backoff = |inner: BoxReply| async move {
            let _ = inner.await;
            pending::<Reply>().await
        };
        let (err, after) = run(Duration::from_secs(5), backoff, Duration::from_secs(2)).await;
        assert_eq!(after, Duration::from_secs(5));
        assert!(err.contains("5s"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_nested_timer_dropped_while_pending_does_not_cover_the_outer() {
        // Polls the inner call once, drops it, and waits in the same poll.
        struct DropAndWait(Option<BoxReply>);
        impl Future for DropAndWait {
            type Output = Reply;
            fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Reply> {
                if let Some(mut inner) = self.0.take() {
                    assert!(inner.as_mut().poll(cx).is_pending());
                }
                Poll::Pending
            }
        }
        let drop_and_wait = |inner: BoxReply| DropAndWait(Some(inner));
        let (_, after) = run(
            Duration::from_secs(5),
            drop_and_wait,
            Duration::from_secs(2),
        )
        .await;
        assert_eq!(after, Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_nested_timer_armed_with_another_waker_does_not_cover_the_outer() {
        // Polls the inner call with a waker that wakes nobody, keeps it, and
        // never polls it again: its timer would wake nobody.
        struct PollAside(BoxReply, bool);
        impl Future for PollAside {
            type Output = Reply;
            fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Reply> {
                if !self.1 {
                    self.1 = true;
                    let mut aside = Context::from_waker(Waker::noop());
                    assert!(self.0.as_mut().poll(&mut aside).is_pending());
                }
                Poll::Pending
            }
        }
        let poll_aside = |inner: BoxReply| PollAside(inner, false);
        let (_, after) = run(Duration::from_secs(5), poll_aside, Duration::from_secs(2)).await;
        assert_eq!(after, Duration::from_secs(5));
    }
}
