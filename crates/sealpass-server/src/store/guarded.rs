//! A store whose calls are bounded in time and fail fast while its backend is known to be down:
//! once a call finds it unavailable, every call answers `Unavailable` at once (a prompt 503, not
//! a wait per request), and a probe pings the backend in the background until it answers again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use super::{
    ClaimedDrop, DropRecord, InboxCursor, InboxItem, ListedRequest, NewDrop, Origin, RequestQuery, RequestRecord,
    Store, StoreError, Swept,
};
use sealpass_core::audit::{Head, Record};
use sealpass_core::events::Actor;

/// How often the probe pings a backend that is down.
const PROBE_EVERY: Duration = Duration::from_millis(100);

/// `inner`, bounded and guarded.
pub struct Guarded<S> {
    inner: Arc<S>,
    limit: Duration,
    down: Arc<AtomicBool>,
    probing: Arc<AtomicBool>,
}

impl<S: Store> Guarded<S> {
    /// Wrap `inner`, bounding each call to `limit`.
    pub fn new(inner: S, limit: Duration) -> Guarded<S> {
        Guarded {
            inner: Arc::new(inner),
            limit,
            down: Arc::new(AtomicBool::new(false)),
            probing: Arc::new(AtomicBool::new(false)),
        }
    }

    async fn bound<T>(&self, call: impl std::future::Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        if self.down.load(Ordering::Acquire) {
            return Err(StoreError::Unavailable("the store is down; checking it in the background".into()));
        }
        let result = tokio::time::timeout(self.limit, call)
            .await
            .unwrap_or_else(|_| Err(StoreError::Unavailable(format!("no answer within {:?}", self.limit))));
        if matches!(result, Err(StoreError::Unavailable(_))) {
            self.trip();
        }
        result
    }

    /// Mark the backend down and, unless one runs already, start a probe that marks it up once
    /// it answers a ping.
    fn trip(&self) {
        self.down.store(true, Ordering::Release);
        if self.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        let (inner, down, probing, limit) =
            (Arc::clone(&self.inner), Arc::clone(&self.down), Arc::clone(&self.probing), self.limit);
        tracing::warn!("the store is unavailable; answering 503 until it is back");
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PROBE_EVERY).await;
                if matches!(tokio::time::timeout(limit, inner.ping()).await, Ok(Ok(()))) {
                    down.store(false, Ordering::Release);
                    probing.store(false, Ordering::Release);
                    tracing::info!("the store is back");
                    return;
                }
            }
        });
    }
}

#[async_trait]
impl<S: Store> Store for Guarded<S> {
    async fn create_drop(&self, drop: NewDrop, origin: &Origin) -> Result<DropRecord, StoreError> {
        self.bound(self.inner.create_drop(drop, origin)).await
    }
    async fn get_drop(&self, id: &str) -> Result<Option<DropRecord>, StoreError> {
        self.bound(self.inner.get_drop(id)).await
    }
    async fn revoke(&self, id: &str, by: &Actor, origin: &Origin) -> Result<DropRecord, StoreError> {
        self.bound(self.inner.revoke(id, by, origin)).await
    }
    async fn claim(&self, id: &str, staff: &str, origin: &Origin) -> Result<ClaimedDrop, StoreError> {
        self.bound(self.inner.claim(id, staff, origin)).await
    }
    async fn ack(&self, id: &str, staff: &str, origin: &Origin) -> Result<DropRecord, StoreError> {
        self.bound(self.inner.ack(id, staff, origin)).await
    }
    async fn release(&self, id: &str, staff: &str, anyone: bool, origin: &Origin) -> Result<DropRecord, StoreError> {
        self.bound(self.inner.release(id, staff, anyone, origin)).await
    }
    async fn inbox(&self, now: i64, after: Option<&InboxCursor>, limit: usize) -> Result<Vec<InboxItem>, StoreError> {
        self.bound(self.inner.inbox(now, after, limit)).await
    }
    async fn create_request(&self, request: RequestRecord, origin: &Origin) -> Result<(), StoreError> {
        self.bound(self.inner.create_request(request, origin)).await
    }
    async fn get_request(&self, id: &str) -> Result<Option<RequestRecord>, StoreError> {
        self.bound(self.inner.get_request(id)).await
    }
    async fn list_requests(
        &self,
        query: &RequestQuery,
        now: i64,
        limit: usize,
    ) -> Result<Vec<ListedRequest>, StoreError> {
        self.bound(self.inner.list_requests(query, now, limit)).await
    }
    async fn cancel_request(&self, id: &str, by: &Actor, origin: &Origin) -> Result<(RequestRecord, bool), StoreError> {
        self.bound(self.inner.cancel_request(id, by, origin)).await
    }
    async fn sweep(&self, now: i64) -> Result<Swept, StoreError> {
        self.bound(self.inner.sweep(now)).await
    }
    async fn audit_head(&self) -> Result<Head, StoreError> {
        self.bound(self.inner.audit_head()).await
    }
    async fn audit_entries(&self, after: u64, limit: usize) -> Result<Vec<Record>, StoreError> {
        self.bound(self.inner.audit_entries(after, limit)).await
    }
    async fn audit_received(&self, id: &str) -> Result<Option<Record>, StoreError> {
        self.bound(self.inner.audit_received(id)).await
    }
    async fn webhook_cursor(&self, name: &str) -> Result<Option<u64>, StoreError> {
        self.bound(self.inner.webhook_cursor(name)).await
    }
    async fn set_webhook_cursor(&self, name: &str, seq: u64) -> Result<(), StoreError> {
        self.bound(self.inner.set_webhook_cursor(name, seq)).await
    }
    async fn webhook_lease(&self, name: &str, holder: &str, seconds: u64) -> Result<bool, StoreError> {
        self.bound(self.inner.webhook_lease(name, holder, seconds)).await
    }
    async fn settle(&self) -> Result<(), StoreError> {
        self.bound(self.inner.settle()).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.bound(self.inner.ping()).await
    }
    fn free_bytes(&self) -> Option<u64> {
        self.inner.free_bytes()
    }
    async fn durability_warnings(&self) -> Vec<String> {
        tokio::time::timeout(self.limit, self.inner.durability_warnings()).await.unwrap_or_default()
    }
}
