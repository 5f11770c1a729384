//! Rate limiter behaviour under tokio's paused clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use clerk_core::{Body, Error, OperationInfo, RetryClass};
use clerk_layers::rate_limit::{MAX_WINDOW, Quota, RateLimitLayer, RateLimitWait, RateLimiter};
use http::{Method, Request, Response, StatusCode};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt, service_fn};

type Log = Arc<Mutex<Vec<(Instant, String)>>>;

/// An inner service that records when each request arrived, and for which path.
fn recording(
    log: Log,
) -> impl Service<
    Request<Body>,
    Response = Response<Body>,
    Error = Error,
    Future = impl Future<Output = Result<Response<Body>, Error>> + Send,
> + Clone
+ Send
+ 'static {
    service_fn(move |req: Request<Body>| {
        log.lock().unwrap().push((
            Instant::now(),
            format!("{} {}", req.method(), req.uri().path()),
        ));
        async { Ok::<_, Error>(Response::new(Body::empty())) }
    })
}

fn get(path: &str) -> Request<Body> {
    Request::get(format!("http://127.0.0.1{path}"))
        .body(Body::empty())
        .unwrap()
}

fn patch(path: &str) -> Request<Body> {
    Request::builder()
        .method(Method::PATCH)
        .uri(format!("http://127.0.0.1{path}"))
        .body(Body::empty())
        .unwrap()
}

/// The largest number of times within any closed window of length `window`.
fn max_in_window(times: &[Instant], window: Duration) -> usize {
    let mut times = times.to_vec();
    times.sort();
    let mut best = 0;
    let mut end = 0;
    for start in 0..times.len() {
        while end < times.len() && times[end] - times[start] <= window {
            end += 1;
        }
        best = best.max(end - start);
    }
    best
}

/// 64 tasks hammering one limiter through clones of one service until `run_for`
/// has passed; returns the arrival times and every request's wait.
async fn saturate(quota: Quota, run_for: Duration) -> (Vec<Instant>, Vec<Duration>) {
    let log: Log = Arc::default();
    let limiter = RateLimiter::new(quota);
    let service = RateLimitLayer::new(limiter.clone()).layer(recording(log.clone()));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let service = service.clone();
        tasks.push(tokio::spawn(async move {
            let mut waits = Vec::new();
            while start.elapsed() < run_for {
                let response = service.clone().oneshot(get("/v1/users")).await.unwrap();
                waits.push(response.extensions().get::<RateLimitWait>().unwrap().0);
            }
            waits
        }));
    }
    let mut waits = Vec::new();
    for task in tasks {
        waits.extend(task.await.unwrap());
    }
    let times: Vec<Instant> = log.lock().unwrap().iter().map(|(t, _)| *t).collect();
    assert_eq!(limiter.snapshot().granted as usize, times.len());
    assert_eq!(limiter.snapshot().waiting, 0);
    (times, waits)
}

#[tokio::test(start_paused = true)]
async fn window_bound_holds_under_64_concurrent_callers() {
    for quota in [Quota::production(), Quota::development()] {
        let (times, _) = saturate(quota, Duration::from_secs(30)).await;
        let worst = max_in_window(&times, quota.window());
        eprintln!("{quota:?}: worst window {worst}");
        assert!(
            worst <= quota.requests() as usize,
            "{quota:?}: {worst} grants in one window"
        );
        // The limiter is the bottleneck: the worst window is (nearly) full.
        assert!(
            worst as f64 >= 0.99 * f64::from(quota.requests()),
            "{worst}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn sustains_99_percent_over_a_simulated_minute() {
    for quota in [Quota::production(), Quota::development()] {
        let start = Instant::now();
        let run = Duration::from_secs(60);
        let (times, _) = saturate(quota, run).await;
        let granted = times.iter().filter(|t| **t - start < run).count();
        let ideal = f64::from(quota.requests()) * run.as_secs_f64() / quota.window().as_secs_f64();
        let utilisation = granted as f64 / ideal;
        eprintln!(
            "{} per {:?}: {granted} grants in 60 s, {:.2} % of N/W",
            quota.requests(),
            quota.window(),
            utilisation * 100.0
        );
        assert!(
            utilisation >= 0.99,
            "{quota:?}: {granted} of {ideal} = {utilisation}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn waiters_are_served_fairly() {
    let (_, mut waits) = saturate(Quota::production(), Duration::from_secs(30)).await;
    waits.sort();
    let mean = waits.iter().sum::<Duration>() / waits.len() as u32;
    let p99 = waits[waits.len() * 99 / 100];
    eprintln!("{} waits: mean {mean:?}, p99 {p99:?}", waits.len());
    assert!(
        p99 <= mean * 2,
        "p99 {p99:?} vs mean {mean:?} over {} requests",
        waits.len()
    );
    // 64 waiters in a FIFO line each wait about 64 periods.
    let period = Quota::production().period();
    assert!(p99 <= period * 70, "p99 {p99:?} for a period of {period:?}");
}

#[tokio::test(start_paused = true)]
async fn a_429_pauses_every_clone_for_retry_after() {
    let log: Log = Arc::default();
    let limiter = RateLimiter::new(Quota::production());
    let answered_429 = Arc::new(Mutex::new(false));
    let inner = {
        let log = log.clone();
        let answered_429 = answered_429.clone();
        service_fn(move |req: Request<Body>| {
            log.lock()
                .unwrap()
                .push((Instant::now(), req.uri().path().to_owned()));
            let first = !std::mem::replace(&mut *answered_429.lock().unwrap(), true);
            async move {
                let mut response = Response::new(Body::empty());
                if first {
                    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
                    response
                        .headers_mut()
                        .insert(http::header::RETRY_AFTER, "3".parse().unwrap());
                }
                Ok::<_, Error>(response)
            }
        })
    };
    let service = RateLimitLayer::new(limiter.clone()).layer(inner);
    let (a, b) = (service.clone(), service.clone());
    let start = Instant::now();

    let first = a.oneshot(get("/v1/users/user_a")).await.unwrap();
    assert_eq!(first.status(), StatusCode::TOO_MANY_REQUESTS);
    let snapshot = limiter.snapshot();
    assert_eq!(snapshot.rate_limited_responses, 1);
    assert_eq!(snapshot.cooldown_remaining, Some(Duration::from_secs(3)));

    // Another clone, another path: still held back until the cooldown is over.
    let second = b.oneshot(get("/v1/users/user_b")).await.unwrap();
    assert_eq!(second.status(), StatusCode::OK);
    let arrivals = log.lock().unwrap().clone();
    assert_eq!(arrivals.len(), 2);
    assert!(
        arrivals[1].0 - start >= Duration::from_secs(3),
        "{arrivals:?}"
    );
    assert_eq!(
        second.extensions().get::<RateLimitWait>(),
        Some(&RateLimitWait(Duration::from_secs(3)))
    );
    assert_eq!(limiter.snapshot().cooldown_remaining, None);

    // Without Retry-After the pause is one second; a shorter pause never cuts a
    // longer one short.
    limiter.note_rate_limited(None);
    assert_eq!(limiter.cooldown_remaining(), Some(Duration::from_secs(1)));
    limiter.note_rate_limited(Some(Duration::from_millis(10)));
    assert_eq!(limiter.cooldown_remaining(), Some(Duration::from_secs(1)));
}

#[tokio::test(start_paused = true)]
async fn a_429_error_from_below_also_starts_the_cooldown() {
    let limiter = RateLimiter::new(Quota::production());
    let inner = service_fn(|_req: Request<Body>| async {
        Err::<Response<Body>, _>(Error::rate_limited(Duration::from_secs(2)))
    });
    let err = RateLimitLayer::new(limiter.clone())
        .layer(inner)
        .oneshot(get("/v1/users"))
        .await
        .unwrap_err();
    assert!(err.is_rate_limited());
    assert_eq!(limiter.cooldown_remaining(), Some(Duration::from_secs(2)));
}

#[tokio::test(start_paused = true)]
async fn per_user_patches_wait_without_stalling_other_users() {
    let log: Log = Arc::default();
    let limiter = RateLimiter::new(Quota::production());
    let service = RateLimitLayer::new(limiter.clone()).layer(recording(log.clone()));
    let start = Instant::now();

    let mut tasks = Vec::new();
    for i in 0..25 {
        // Half through typed-operation info, half classified from the path.
        let mut request = patch(if i % 2 == 0 {
            "/v1/users/user_hot"
        } else {
            "/v1/users/user_hot/metadata"
        });
        if i % 4 == 0 {
            request.extensions_mut().insert(
                OperationInfo::new("UpdateUser", "/users/{user_id}", RetryClass::Idempotent)
                    .with_per_user_limit_key("user_hot"),
            );
        }
        tasks.push(tokio::spawn(service.clone().oneshot(request)));
    }
    // Let the hot user's requests queue up, then others arrive.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let other = service
        .clone()
        .oneshot(patch("/v1/users/user_cold"))
        .await
        .unwrap();
    assert!(other.extensions().get::<RateLimitWait>().unwrap().0 < Duration::from_millis(50));
    let read = service
        .clone()
        .oneshot(get("/v1/users/user_hot"))
        .await
        .unwrap();
    assert!(read.extensions().get::<RateLimitWait>().unwrap().0 < Duration::from_millis(50));

    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let hot_patches: Vec<Instant> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, request)| request.starts_with("PATCH /v1/users/user_hot"))
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(hot_patches.len(), 25);
    let worst = max_in_window(&hot_patches, Duration::from_secs(10));
    assert_eq!(worst, 10, "{hot_patches:?}");
    // 25 PATCHes at 10 per 10 s: the last one goes out after about 15 s.
    let last = hot_patches.iter().max().unwrap();
    assert!(*last - start >= Duration::from_secs(15));
    assert!(limiter.snapshot().tracked_users >= 1);
}

#[tokio::test(start_paused = true)]
async fn idle_users_are_evicted() {
    let limiter = RateLimiter::new(Quota::new(1_000_000, Duration::from_secs(10)).unwrap());
    for i in 0..600 {
        limiter.acquire(Some(&format!("user_{i}"))).await;
    }
    assert!(limiter.snapshot().tracked_users >= 500);
    tokio::time::advance(Duration::from_secs(20)).await;
    for i in 600..900 {
        limiter.acquire(Some(&format!("user_{i}"))).await;
    }
    let tracked = limiter.snapshot().tracked_users;
    assert!(tracked <= 300, "{tracked} users still tracked");
}

#[tokio::test(start_paused = true)]
async fn a_dropped_waiter_takes_nothing() {
    let quota = Quota::new(1, Duration::from_secs(10)).unwrap();
    let limiter = RateLimiter::new(quota);
    limiter.acquire(None).await;
    {
        let waiting = limiter.acquire(None);
        let timed_out = tokio::time::timeout(Duration::from_secs(1), waiting).await;
        assert!(timed_out.is_err());
    }
    let snapshot = limiter.snapshot();
    assert_eq!((snapshot.granted, snapshot.waiting), (1, 0));
    // The next grant comes one period after the first, not two.
    let started = Instant::now();
    limiter.acquire(None).await;
    let total = started.elapsed() + Duration::from_secs(1);
    assert!(
        total <= quota.period() + Duration::from_millis(1),
        "{total:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_inner_service_is_readied_in_the_future_not_reserved_in_poll_ready() {
    let (mock, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let limiter = RateLimiter::new(Quota::production());
    let mut service = RateLimitLayer::new(limiter.clone())
        .layer(tower::util::MapErrLayer::new(Error::from_boxed).layer(mock));
    handle.allow(0);
    // poll_ready never blocks and reserves nothing.
    let mut ready_unused = service.clone();
    tokio_test::assert_ready_ok!(
        tokio_test::task::spawn(()).enter(|cx, _| ready_unused.poll_ready(cx))
    );
    drop(ready_unused);

    let mut call = tokio_test::task::spawn(service.ready().await.unwrap().call(get("/v1/users")));
    tokio_test::assert_pending!(call.poll());
    // Not granted while the inner service is not ready.
    assert_eq!(limiter.snapshot().granted, 0);
    handle.allow(1);
    tokio_test::assert_pending!(call.poll());
    let (request, respond) = handle.next_request().await.unwrap();
    assert_eq!(request.uri().path(), "/v1/users");
    assert_eq!(limiter.snapshot().granted, 1);
    respond.send_response(Response::new(Body::empty()));
    let response = call.await.unwrap();
    assert!(response.extensions().get::<RateLimitWait>().is_some());
}

#[tokio::test(start_paused = true)]
async fn without_the_per_user_limit_one_users_updates_wait_only_for_the_instance_quota() {
    let log = Log::default();
    let limiter = RateLimiter::new(Quota::new(1_000_000, Duration::from_secs(10)).unwrap())
        .without_per_user_limit();
    assert!(!limiter.limits_per_user());
    let service = RateLimitLayer::new(limiter.clone()).layer(recording(log.clone()));
    let start = Instant::now();
    for _ in 0..20 {
        let response = service
            .clone()
            .oneshot(patch("/v1/users/user_hot/metadata"))
            .await
            .unwrap();
        assert!(response.extensions().get::<RateLimitWait>().unwrap().0 < Duration::from_millis(5));
    }
    assert!(limiter.acquire(Some("user_hot")).await < Duration::from_millis(5));
    assert!(
        start.elapsed() < Duration::from_millis(100),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(log.lock().unwrap().len(), 20);
    let snapshot = limiter.snapshot();
    assert_eq!((snapshot.granted, snapshot.tracked_users), (21, 0));
}

#[tokio::test(start_paused = true)]
async fn short_windows_keep_their_rate_and_their_bound() {
    // The fixed 25 ms margin made 1 per 1 ms run at 1 per 26 ms (3.8 % of N/W),
    // 5 per 10 ms at 5 per 35 ms and 300 per 1 s at 97 %. 1 per 1 ms now waits
    // 1.0025 ms, which tokio's millisecond timers round to 2 ms: half the rate
    // (5 per 10 ms loses a fifth to the same rounding).
    for (n, window, floor) in [
        (1, Duration::from_millis(1), 0.45),
        (5, Duration::from_millis(10), 0.75),
        (300, Duration::from_secs(1), 0.98),
    ] {
        let quota = Quota::new(n, window).unwrap();
        let start = Instant::now();
        let run = Duration::from_secs(2);
        let (times, _) = saturate(quota, run).await;
        let granted = times.iter().filter(|t| **t - start < run).count();
        let ideal = f64::from(n) * run.as_secs_f64() / window.as_secs_f64();
        let utilisation = granted as f64 / ideal;
        assert!(
            utilisation >= floor,
            "{n} per {window:?}: {granted} of {ideal} = {utilisation}"
        );
        let worst = max_in_window(&times, window);
        assert!(
            worst <= n as usize,
            "{n} per {window:?}: {worst} in one window"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn the_longest_window_holds_and_longer_ones_are_refused() {
    // 1 per 10^11 s was accepted and overflowed governor's nanosecond arithmetic: every
    // request went through at once (`clerk-users --rate-limit 1/100000000000s`).
    let limiter = RateLimiter::new(Quota::new(1, MAX_WINDOW).unwrap());
    assert_eq!(limiter.acquire(None).await, Duration::ZERO);
    let waited = limiter.acquire(None).await;
    assert!(waited >= MAX_WINDOW, "second grant after {waited:?}");
    assert!("1/100000000000s".parse::<Quota>().is_err());
}

/// Counts its clones; answers at once.
#[derive(Debug)]
struct CountingClones(Arc<std::sync::atomic::AtomicUsize>);

impl Clone for CountingClones {
    fn clone(&self) -> Self {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        CountingClones(self.0.clone())
    }
}

impl Service<Request<Body>> for CountingClones {
    type Response = Response<Body>;
    type Error = Error;
    type Future = std::future::Ready<Result<Response<Body>, Error>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: Request<Body>) -> Self::Future {
        std::future::ready(Ok(Response::new(Body::empty())))
    }
}

#[tokio::test(start_paused = true)]
async fn a_request_with_room_is_sent_without_cloning_the_inner_service() {
    let clones = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let limiter = RateLimiter::new(Quota::production());
    let mut service = RateLimitLayer::new(limiter.clone()).layer(CountingClones(clones.clone()));
    for _ in 0..3 {
        let response = service
            .ready()
            .await
            .unwrap()
            .call(get("/v1/users"))
            .await
            .unwrap();
        assert_eq!(
            response.extensions().get::<RateLimitWait>(),
            Some(&RateLimitWait(Duration::ZERO))
        );
    }
    assert_eq!(clones.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert_eq!(limiter.snapshot().granted, 3);
    // Past the burst the quota has no room: the request waits, on a clone.
    let granted_before = limiter.snapshot().granted;
    let mut waited = Duration::ZERO;
    for _ in 0..quota_burst_plus_one(&limiter) {
        let response = service
            .ready()
            .await
            .unwrap()
            .call(get("/v1/users"))
            .await
            .unwrap();
        waited = waited.max(response.extensions().get::<RateLimitWait>().unwrap().0);
    }
    assert!(waited > Duration::ZERO);
    assert!(clones.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    assert!(limiter.snapshot().granted > granted_before);
}

fn quota_burst_plus_one(limiter: &RateLimiter) -> u32 {
    limiter.quota().burst() + 1
}

#[tokio::test(start_paused = true)]
async fn a_request_waiting_for_a_concurrency_permit_is_woken_when_one_frees() {
    let (mock, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let limiter = RateLimiter::new(Quota::production());
    let service = tower::ServiceBuilder::new()
        .layer(RateLimitLayer::new(limiter.clone()))
        .layer(clerk_layers::concurrency::GlobalConcurrencyLimitLayer::new(
            1,
        ))
        .layer(tower::util::MapErrLayer::new(Error::from_boxed))
        .service(mock);
    handle.allow(2);
    let mut first = tokio_test::task::spawn(service.clone().oneshot(get("/v1/users/a")));
    tokio_test::assert_pending!(first.poll());
    let (_, respond_first) = handle.next_request().await.unwrap();
    // The only permit is taken: the second request is decided in `call` to wait,
    // and its task must be the one woken when the permit frees.
    let mut second = tokio_test::task::spawn(service.clone().oneshot(get("/v1/users/b")));
    tokio_test::assert_pending!(second.poll());
    assert_eq!(limiter.snapshot().granted, 1);
    respond_first.send_response(Response::new(Body::empty()));
    first.await.unwrap();
    assert!(second.is_woken(), "the waiting request was not woken");
    tokio_test::assert_pending!(second.poll());
    let (request, respond_second) = handle.next_request().await.unwrap();
    assert_eq!(request.uri().path(), "/v1/users/b");
    respond_second.send_response(Response::new(Body::empty()));
    second.await.unwrap();
    assert_eq!(limiter.snapshot().granted, 2);
}

#[tokio::test(start_paused = true)]
async fn a_request_finding_room_does_not_pass_one_in_line() {
    let quota = Quota::new(1, Duration::from_secs(1)).unwrap();
    let limiter = RateLimiter::new(quota);
    let log: Log = Arc::default();
    let mut service = RateLimitLayer::new(limiter.clone()).layer(recording(log.clone()));
    limiter.acquire(None).await; // the burst: the next cell is a period away
    let mut in_line = tokio_test::task::spawn(limiter.acquire(None));
    tokio_test::assert_pending!(in_line.poll());
    // The next cell is due: the request in line is woken but has not run yet.
    tokio::time::advance(quota.period() * 3).await;
    assert!(in_line.is_woken());
    let newcomer = service.ready().await.unwrap().call(get("/v1/users"));
    assert!(
        log.lock().unwrap().is_empty(),
        "sent ahead of the request in line"
    );
    tokio_test::assert_ready!(in_line.poll());
    drop(in_line);
    newcomer.await.unwrap();
    assert_eq!(log.lock().unwrap().len(), 1);
    assert_eq!(limiter.snapshot().granted, 3);
}
