//! The in-flight ingest budget: bytes and requests between "accepted for
//! decoding" and "committed". A request that would exceed it is answered 429
//! before its body is read, so nothing is ever accepted and then dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes and requests in flight, with their ceilings.
#[derive(Debug)]
pub struct Budget {
    max_bytes: usize,
    max_requests: usize,
    bytes: AtomicUsize,
    requests: AtomicUsize,
}

impl Budget {
    /// A budget of `max_bytes` body bytes and `max_requests` requests.
    pub fn new(max_bytes: usize, max_requests: usize) -> Budget {
        Budget {
            max_bytes,
            max_requests,
            bytes: AtomicUsize::new(0),
            requests: AtomicUsize::new(0),
        }
    }

    /// Reserves one request and `bytes`; `None` when either ceiling would be passed.
    ///
    /// A single request larger than the whole byte budget is still admitted
    /// when nothing else is in flight, so the body limit, not the budget,
    /// decides what is too large.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use honeyhive_server::ingest::budget::Budget;
    /// let budget = Arc::new(Budget::new(100, 1));
    /// let permit = Budget::try_acquire(&budget, 10).expect("room");
    /// assert!(Budget::try_acquire(&budget, 10).is_none());
    /// drop(permit);
    /// assert!(Budget::try_acquire(&budget, 10).is_some());
    /// ```
    pub fn try_acquire(this: &Arc<Budget>, bytes: usize) -> Option<BudgetPermit> {
        let previous = this.requests.fetch_add(1, Ordering::AcqRel);
        if previous >= this.max_requests {
            this.requests.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        let mut permit = BudgetPermit {
            budget: this.clone(),
            bytes: 0,
        };
        if !permit.try_grow(bytes) {
            return None;
        }
        Some(permit)
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
    /// Reserves `more` bytes for this request; false (and nothing reserved)
    /// when that would pass the byte ceiling while others are in flight.
    pub fn try_grow(&mut self, more: usize) -> bool {
        let budget = &self.budget;
        let mut current = budget.bytes.load(Ordering::Acquire);
        loop {
            let next = current.saturating_add(more);
            let alone = current == 0 && self.bytes == 0;
            if next > budget.max_bytes && !alone {
                return false;
            }
            match budget
                .bytes
                .compare_exchange(current, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    self.bytes += more;
                    return true;
                }
                Err(actual) => current = actual,
            }
        }
    }
}

impl Drop for BudgetPermit {
    fn drop(&mut self) {
        self.budget.bytes.fetch_sub(self.bytes, Ordering::AcqRel);
        self.budget.requests.fetch_sub(1, Ordering::AcqRel);
    }
}
