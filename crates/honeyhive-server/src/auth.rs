//! API keys: generation, hashing, and the per-request `Authorization` check.
//!
//! Keys are stored only as sha256 hashes. A verified key's tenant is cached in
//! memory, so authenticating costs one hash and one map lookup per request
//! (never per span).

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use honeyhive_model::ErrorCode;
use parking_lot::RwLock;
use sha2::{Digest, Sha256};

use crate::api::{ApiError, AppState};
use crate::store::{EventStore, Tenant};

/// Most verified keys kept in memory; past it the cache is cleared (keys are few).
const MAX_CACHED_KEYS: usize = 10_000;

/// A fresh random API key, `hh_` followed by 64 hex characters.
///
/// ```
/// let key = honeyhive_server::auth::generate_key();
/// assert!(key.starts_with("hh_") && key.len() == 67);
/// ```
pub fn generate_key() -> String {
    format!(
        "hh_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// The stored form of a key: lowercase hex sha256.
///
/// ```
/// let h = honeyhive_server::auth::hash_key("k");
/// assert_eq!(h.len(), 64);
/// ```
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Verified key hashes → tenant.
#[derive(Debug, Default)]
pub struct KeyCache {
    verified: RwLock<HashMap<String, Tenant>>,
}

impl KeyCache {
    /// The tenant of `key`, from the cache or the store; `Unauthenticated` if unknown.
    pub async fn authenticate(
        &self,
        store: &dyn EventStore,
        key: &str,
    ) -> Result<Tenant, ApiError> {
        let hash = hash_key(key);
        if let Some(tenant) = self.verified.read().get(&hash) {
            return Ok(tenant.clone());
        }
        match store.tenant_for_key(&hash).await? {
            Some(tenant) => {
                let mut cache = self.verified.write();
                if cache.len() >= MAX_CACHED_KEYS {
                    cache.clear();
                }
                cache.insert(hash, tenant.clone());
                Ok(tenant)
            }
            None => Err(ApiError::new(ErrorCode::Unauthenticated, "unknown api key")
                .with_hint("create one with `hh keys create --project NAME`")),
        }
    }
}

/// The bearer token of a request, if any.
pub(crate) fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let value = value.trim();
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .unwrap_or(value)
        .trim();
    (!token.is_empty()).then_some(token)
}

/// Handlers take a `Tenant` argument to require a valid `Authorization: Bearer <key>`.
impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let key = bearer_token(parts).ok_or_else(|| {
            ApiError::new(ErrorCode::Unauthenticated, "missing api key")
                .with_hint("send `Authorization: Bearer <key>`")
        })?;
        state.keys.authenticate(state.store.as_ref(), key).await
    }
}
