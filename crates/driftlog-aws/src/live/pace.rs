//! Every live request goes through here: an adaptive concurrency limit per service and region
//! (halved on throttling, raised by one request per round trip of successes), a cap on all
//! requests in flight, retries with full jitter, and the counts a report and a benchmark need.
//!
//! The SDK's own retries are turned off (see [`super::clients`]) so that every attempt is seen
//! and counted here, and one throttled service never slows another: driftctl's users lost whole
//! scans to `ThrottlingException` (research note `aws-live.md`).

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};

/// How one call ended, once retries are spent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The resource does not exist (`NoSuch…`, `…NotFound…`): a deletion, not a failure.
    NotFound(String),
    /// Not allowed here: access denied, a region not opted in, an unsupported endpoint. The
    /// scan goes on without this service and region and says so.
    Denied { code: String, message: String },
    /// Anything else, after the retries.
    Failed { code: String, message: String },
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotFound(code) => write!(f, "{code}: not found"),
            Self::Denied { code, message } | Self::Failed { code, message } => {
                if message.is_empty() {
                    f.write_str(code)
                } else {
                    write!(f, "{code}: {message}")
                }
            }
        }
    }
}

/// Error codes AWS services use for "slow down".
const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "SlowDown",
    "PriorRequestNotComplete",
    "BandwidthLimitExceeded",
    "LimitExceededException",
];

/// Error codes that mean "you may not read this here".
const DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthorizationError",
    "AuthorizationErrorException",
    "AuthFailure",
    "OptInRequired",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SubscriptionRequiredException",
    "UnsupportedOperation",
    "InvalidAction",
];

/// Codes that mean the resource is gone but do not say so in the usual spelling.
const GONE: &[&str] = &[
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "InvalidGroup.NotFound",
    "InvalidVpcID.NotFound",
    "InvalidSubnetID.NotFound",
    "InvalidInstanceID.NotFound",
    "InvalidRouteTableID.NotFound",
];

/// What kind of failure a response is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Throttled,
    /// A server or network fault worth another try.
    Transient,
    NotFound,
    Denied,
    Other,
}

/// Classify an error code, its message and the HTTP status (when there was a response).
pub(crate) fn classify(code: &str, message: &str, status: Option<u16>) -> Kind {
    if THROTTLING.contains(&code)
        || message.contains("Rate exceeded")
        || status == Some(429)
        || code.contains("Throttl")
    {
        Kind::Throttled
    } else if DENIED.contains(&code) || status == Some(403) {
        Kind::Denied
    } else if GONE.contains(&code)
        || code.starts_with("NoSuch")
        || code.contains("NotFound")
        || status == Some(404)
    {
        Kind::NotFound
    } else if status.is_none_or(|s| s >= 500) {
        Kind::Transient
    } else {
        Kind::Other
    }
}

/// Counts for the report and the benchmark.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub throttled: AtomicU64,
    pub retried: AtomicU64,
}

/// Retry and concurrency settings.
#[derive(Debug, Clone, Copy)]
pub struct PaceSettings {
    /// Requests in flight across all services and regions.
    pub max_in_flight: usize,
    /// Starting concurrency of one service in one region.
    pub initial_lane: f64,
    /// Ceiling of one service in one region.
    pub max_lane: f64,
    /// Attempts for a throttled request (including the first).
    pub throttle_attempts: u32,
    /// Attempts for a server or network fault.
    pub transient_attempts: u32,
    /// The first backoff's ceiling; doubled per attempt, up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for PaceSettings {
    fn default() -> Self {
        Self {
            max_in_flight: 64,
            initial_lane: 8.0,
            max_lane: 32.0,
            throttle_attempts: 12,
            transient_attempts: 4,
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(20),
        }
    }
}

/// One service in one region: how many requests may be in flight now.
#[derive(Debug)]
struct Lane {
    state: Mutex<LaneState>,
    notify: Notify,
}

#[derive(Debug)]
struct LaneState {
    limit: f64,
    in_flight: u32,
}

struct LanePermit(Arc<Lane>);

impl Drop for LanePermit {
    fn drop(&mut self) {
        if let Ok(mut s) = self.0.state.lock() {
            s.in_flight = s.in_flight.saturating_sub(1);
        }
        self.0.notify.notify_waiters();
    }
}

impl Lane {
    async fn acquire(self: &Arc<Self>) -> LanePermit {
        loop {
            // Created before the check, so a release between the check and the wait is seen.
            let released = self.notify.notified();
            if let Ok(mut s) = self.state.lock() {
                if f64::from(s.in_flight) < s.limit.floor().max(1.0) {
                    s.in_flight += 1;
                    return LanePermit(self.clone());
                }
            }
            released.await;
        }
    }

    fn throttled(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.limit = (s.limit / 2.0).max(1.0);
        }
    }

    fn succeeded(&self, max: f64) {
        if let Ok(mut s) = self.state.lock() {
            s.limit = (s.limit + 1.0 / s.limit).min(max);
        }
        self.notify.notify_waiters();
    }
}

/// The pacing of one live read.
pub struct Pacer {
    settings: PaceSettings,
    lanes: Mutex<HashMap<(&'static str, String), Arc<Lane>>>,
    all: Semaphore,
    pub counters: Counters,
}

impl Pacer {
    pub fn new(settings: PaceSettings) -> Self {
        Self {
            all: Semaphore::new(settings.max_in_flight.max(1)),
            settings,
            lanes: Mutex::new(HashMap::new()),
            counters: Counters::default(),
        }
    }

    fn lane(&self, service: &'static str, region: &str) -> Arc<Lane> {
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        lanes
            .entry((service, region.to_owned()))
            .or_insert_with(|| {
                Arc::new(Lane {
                    state: Mutex::new(LaneState {
                        limit: self.settings.initial_lane,
                        in_flight: 0,
                    }),
                    notify: Notify::new(),
                })
            })
            .clone()
    }

    /// Full jitter: a random wait between zero and the attempt's exponential ceiling.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .settings
            .base_backoff
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.settings.max_backoff);
        let nanos = ceiling.as_nanos().min(u128::from(u64::MAX)) as u64;
        Duration::from_nanos(if nanos == 0 {
            0
        } else {
            rand::random::<u64>() % nanos
        })
    }

    /// Make one call (`make` builds a fresh request for every attempt) under the limits.
    pub async fn call<T, E, R, F, Fut>(
        &self,
        service: &'static str,
        region: &str,
        make: F,
    ) -> Result<T, CallError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, R>>>,
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: HttpStatus + std::fmt::Debug,
    {
        let lane = self.lane(service, region);
        let mut attempt = 0u32;
        loop {
            let outcome = {
                let _lane = lane.acquire().await;
                let _all = self.all.acquire().await;
                self.counters.requests.fetch_add(1, Ordering::Relaxed);
                make().await
            };
            let err = match outcome {
                Ok(v) => {
                    lane.succeeded(self.settings.max_lane);
                    return Ok(v);
                }
                Err(e) => e,
            };
            let code = err.code().unwrap_or_default().to_owned();
            let message = err.message().unwrap_or_default().to_owned();
            let status = err.raw_response().map(HttpStatus::status);
            let (code, message) = if code.is_empty() {
                let text = aws_smithy_types::error::display::DisplayErrorContext(&err).to_string();
                (
                    status.map_or_else(|| "RequestFailed".to_owned(), |s| format!("HTTP {s}")),
                    text,
                )
            } else {
                (code, message)
            };
            attempt += 1;
            match classify(&code, &message, status) {
                Kind::Throttled if attempt < self.settings.throttle_attempts => {
                    self.counters.throttled.fetch_add(1, Ordering::Relaxed);
                    self.counters.retried.fetch_add(1, Ordering::Relaxed);
                    lane.throttled();
                    tokio::time::sleep(self.backoff(attempt)).await;
                }
                Kind::Transient if attempt < self.settings.transient_attempts => {
                    self.counters.retried.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(self.backoff(attempt)).await;
                }
                Kind::Throttled => {
                    self.counters.throttled.fetch_add(1, Ordering::Relaxed);
                    return Err(CallError::Failed { code, message });
                }
                Kind::NotFound => return Err(CallError::NotFound(code)),
                Kind::Denied => return Err(CallError::Denied { code, message }),
                Kind::Transient | Kind::Other => return Err(CallError::Failed { code, message }),
            }
        }
    }
}

/// The HTTP status of a raw response, whatever the SDK's response type.
pub trait HttpStatus {
    fn status(&self) -> u16;
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn status(&self) -> u16 {
        self.status().as_u16()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_classified_as_aws_spells_them() {
        assert_eq!(
            classify("Throttling", "Rate exceeded", Some(400)),
            Kind::Throttled
        );
        assert_eq!(classify("", "Rate exceeded", Some(400)), Kind::Throttled);
        assert_eq!(
            classify("RequestLimitExceeded", "", Some(503)),
            Kind::Throttled
        );
        assert_eq!(classify("SlowDown", "", Some(503)), Kind::Throttled);
        assert_eq!(classify("AccessDenied", "", Some(403)), Kind::Denied);
        assert_eq!(
            classify("UnauthorizedOperation", "", Some(400)),
            Kind::Denied
        );
        assert_eq!(classify("OptInRequired", "", Some(400)), Kind::Denied);
        assert_eq!(
            classify("NoSuchBucketPolicy", "", Some(404)),
            Kind::NotFound
        );
        assert_eq!(
            classify("DBInstanceNotFound", "", Some(404)),
            Kind::NotFound
        );
        assert_eq!(
            classify("AWS.SimpleQueueService.NonExistentQueue", "", Some(400)),
            Kind::NotFound
        );
        assert_eq!(classify("InternalError", "", Some(500)), Kind::Transient);
        assert_eq!(
            classify("RequestFailed", "connection reset", None),
            Kind::Transient
        );
        assert_eq!(classify("ValidationError", "", Some(400)), Kind::Other);
    }

    #[test]
    fn backoff_is_jittered_under_an_exponential_ceiling() {
        let p = Pacer::new(PaceSettings::default());
        for attempt in 1..20 {
            let ceiling = Duration::from_millis(100)
                .saturating_mul(1 << attempt.min(16))
                .min(Duration::from_secs(20));
            assert!(p.backoff(attempt) < ceiling);
        }
    }

    #[test]
    fn a_lane_halves_on_throttling_and_grows_back_slowly() {
        let p = Pacer::new(PaceSettings::default());
        let lane = p.lane("ec2", "us-east-1");
        lane.throttled();
        lane.throttled();
        assert_eq!(lane.state.lock().unwrap().limit, 2.0);
        for _ in 0..2 {
            lane.succeeded(32.0);
        }
        let limit = lane.state.lock().unwrap().limit;
        assert!(limit > 2.0 && limit < 3.5, "{limit}");
        for _ in 0..10 {
            lane.throttled();
        }
        assert_eq!(lane.state.lock().unwrap().limit, 1.0);
    }
}
