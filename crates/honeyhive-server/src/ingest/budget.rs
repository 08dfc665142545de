//! The in-flight memory budget: what requests with a body hold between
//! "admitted" and "committed", in bytes and in requests.
//!
//! A request is admitted with the length its headers declare (nothing for a
//! chunked body), then charged as it turns out to cost more: each body chunk as
//! it arrives ([`BudgetedBody`]), its decompressed bytes, and what decoding it
//! will take, estimated from its bytes before decoding ([`honeyhive_model::cost`]).
//! A charge that does not fit now is answered 429 (retry later); one that could
//! never fit, 413. Nothing is acknowledged and then dropped: every refusal comes
//! before the write.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};

use axum::body::{Body, Bytes};
use honeyhive_model::{ErrorCode, ErrorCoded};
use http_body::{Frame, SizeHint};
use parking_lot::Mutex;

/// Bytes and requests in flight, with their ceilings.
#[derive(Debug)]
pub struct Budget {
    max_bytes: usize,
    max_requests: usize,
    bytes: AtomicUsize,
    requests: AtomicUsize,
}

/// Why a charge was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Others hold the room now: retry later (429).
    NotNow,
    /// The request alone would pass the whole budget (413).
    Never,
}

impl Refusal {
    /// The code a refused request is answered with.
    pub fn code(self) -> ErrorCode {
        match self {
            Refusal::NotNow => ErrorCode::OverBudget,
            Refusal::Never => ErrorCode::PayloadTooLarge,
        }
    }

    /// What the client can do about it.
    pub fn hint(self) -> &'static str {
        match self {
            Refusal::NotNow => "retry after the delay in Retry-After",
            Refusal::Never => {
                "send smaller requests (fewer spans or events each), or raise the server's max_inflight_bytes"
            }
        }
    }
}

impl Budget {
    /// A budget of `max_bytes` bytes and `max_requests` requests.
    pub fn new(max_bytes: usize, max_requests: usize) -> Budget {
        Budget {
            max_bytes,
            max_requests,
            bytes: AtomicUsize::new(0),
            requests: AtomicUsize::new(0),
        }
    }

    /// The byte ceiling.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Reserves one request and `bytes`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use honeyhive_server::ingest::budget::{Budget, Refusal};
    /// let budget = Arc::new(Budget::new(100, 1));
    /// let permit = Budget::try_acquire(&budget, 10).expect("room");
    /// assert_eq!(Budget::try_acquire(&budget, 10).unwrap_err(), Refusal::NotNow);
    /// drop(permit);
    /// assert!(Budget::try_acquire(&budget, 10).is_ok());
    /// assert_eq!(Budget::try_acquire(&budget, 101).unwrap_err(), Refusal::Never);
    /// ```
    pub fn try_acquire(this: &Arc<Budget>, bytes: usize) -> Result<BudgetPermit, Refusal> {
        if bytes > this.max_bytes {
            return Err(Refusal::Never);
        }
        let previous = this.requests.fetch_add(1, Ordering::AcqRel);
        if previous >= this.max_requests {
            this.requests.fetch_sub(1, Ordering::AcqRel);
            return Err(Refusal::NotNow);
        }
        let mut permit = BudgetPermit {
            budget: this.clone(),
            bytes: 0,
        };
        permit.try_grow(bytes)?;
        Ok(permit)
    }

    /// Bytes in flight now.
    pub fn inflight_bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Requests in flight now.
    pub fn inflight_requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }
}

/// One admitted request; releases its share of the budget when dropped.
#[derive(Debug)]
pub struct BudgetPermit {
    budget: Arc<Budget>,
    bytes: usize,
}

impl BudgetPermit {
    /// Reserves `more` bytes for this request; nothing is reserved when refused.
    pub fn try_grow(&mut self, more: usize) -> Result<(), Refusal> {
        let budget = &self.budget;
        if self.bytes.saturating_add(more) > budget.max_bytes {
            return Err(Refusal::Never);
        }
        let mut current = budget.bytes.load(Ordering::Acquire);
        loop {
            let next = current.saturating_add(more);
            if next > budget.max_bytes {
                return Err(Refusal::NotNow);
            }
            match budget
                .bytes
                .compare_exchange(current, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    self.bytes += more;
                    return Ok(());
                }
                Err(actual) => current = actual,
            }
        }
    }

    /// Gives back up to `bytes` of what this request holds (memory it freed).
    pub fn release(&mut self, bytes: usize) {
        let bytes = bytes.min(self.bytes);
        self.bytes -= bytes;
        self.budget.bytes.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// Bytes this request holds.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for BudgetPermit {
    fn drop(&mut self) {
        self.budget.bytes.fetch_sub(self.bytes, Ordering::AcqRel);
        self.budget.requests.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A request's permit, shared by the stages that learn what it really costs
/// (the body as it arrives, decompression, decoding). Released when the last
/// clone is dropped.
#[derive(Debug, Clone)]
pub struct RequestBudget(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    permit: Mutex<BudgetPermit>,
    refused: Mutex<Option<Refusal>>,
}

impl RequestBudget {
    /// Shares `permit`.
    pub fn new(permit: BudgetPermit) -> RequestBudget {
        RequestBudget(Arc::new(Shared {
            permit: Mutex::new(permit),
            refused: Mutex::new(None),
        }))
    }

    /// Charges `more` bytes to the request.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use honeyhive_server::ingest::budget::{Budget, Refusal, RequestBudget};
    /// let budget = Arc::new(Budget::new(100, 2));
    /// let one = RequestBudget::new(Budget::try_acquire(&budget, 0).unwrap());
    /// let two = RequestBudget::new(Budget::try_acquire(&budget, 0).unwrap());
    /// one.try_grow(60).unwrap();
    /// assert_eq!(two.try_grow(60), Err(Refusal::NotNow));
    /// assert_eq!(two.try_grow(101), Err(Refusal::Never));
    /// drop(one);
    /// assert_eq!(two.try_grow(60), Ok(()));
    /// ```
    pub fn try_grow(&self, more: usize) -> Result<(), Refusal> {
        let grown = self.0.permit.lock().try_grow(more);
        if let Err(refusal) = grown {
            *self.0.refused.lock() = Some(refusal);
        }
        grown
    }

    /// Gives back up to `bytes` of the request's charge, for memory it freed
    /// (the old buffer after a copy into a new one).
    pub fn release(&self, bytes: usize) {
        self.0.permit.lock().release(bytes);
    }

    /// Bytes charged so far.
    pub fn charged(&self) -> usize {
        self.0.permit.lock().bytes()
    }

    /// The last charge refused, if any: how a caller that only sees a failed
    /// body read (tonic) learns that the budget was the cause.
    pub fn refusal(&self) -> Option<Refusal> {
        *self.0.refused.lock()
    }
}

/// A body chunk could not be charged to the request's budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("request body does not fit the server's in-flight memory budget")]
pub struct BodyOverBudget(pub Refusal);

impl ErrorCoded for BodyOverBudget {
    fn code(&self) -> ErrorCode {
        self.0.code()
    }

    fn hint(&self) -> Option<&str> {
        Some(self.0.hint())
    }
}

/// A request body that charges each chunk to the request's budget as it
/// arrives, beyond the `prepaid` bytes charged at admission.
pub struct BudgetedBody {
    inner: Body,
    budget: RequestBudget,
    prepaid: usize,
}

impl BudgetedBody {
    /// Wraps `inner`; the first `prepaid` bytes are already charged.
    pub fn new(inner: Body, budget: RequestBudget, prepaid: usize) -> BudgetedBody {
        BudgetedBody {
            inner,
            budget,
            prepaid,
        }
    }
}

impl http_body::Body for BudgetedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if let Some(Ok(frame)) = &frame
            && let Some(data) = frame.data_ref()
        {
            let covered = self.prepaid.min(data.len());
            self.prepaid -= covered;
            let uncovered = data.len() - covered;
            if uncovered > 0
                && let Err(refusal) = self.budget.try_grow(uncovered)
            {
                return Poll::Ready(Some(Err(axum::Error::new(BodyOverBudget(refusal)))));
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
