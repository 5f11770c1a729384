//! Tower layers for the Clerk Backend API: auth, rate limiting, retry, tracing, timeouts, concurrency.
