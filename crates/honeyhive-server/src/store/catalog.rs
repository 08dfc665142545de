//! API keys and the projects they name, and a project's named documents
//! (metric definitions, configurations), with their partial updates.

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::{StoreResult, Tenant, merge};

/// API keys and the projects they name, and a project's named documents
/// (metric definitions, configurations).
#[async_trait]
pub trait CatalogStore: Send + Sync {
    /// Maps an API key hash to `project_name`, creating the project if needed
    /// (idempotent: the same hash for the same project is a no-op).
    async fn put_api_key(&self, key_hash: &str, project_name: &str) -> StoreResult<Tenant>;

    /// The tenant an API key hash belongs to, if any.
    async fn tenant_for_key(&self, key_hash: &str) -> StoreResult<Option<Tenant>>;

    /// The key's own project. A key sees no other project.
    async fn get_project(&self, tenant: &Tenant) -> StoreResult<Project>;

    /// Applies `patch` to the key's own project in one transaction and returns it.
    async fn update_project(&self, tenant: &Tenant, patch: &ProjectPatch) -> StoreResult<Project>;

    /// Creates or replaces a named document (metric definition, configuration).
    async fn put_resource(&self, tenant: &Tenant, resource: &Resource) -> StoreResult<()>;

    /// Applies `patch` to a stored document in one transaction and returns it
    /// as stored; `NotFound` if not in this project.
    async fn update_resource(
        &self,
        tenant: &Tenant,
        kind: ResourceKind,
        id: &str,
        patch: &ResourcePatch,
    ) -> StoreResult<Resource>;

    /// Every document of `kind` in the project, oldest first.
    async fn list_resources(
        &self,
        tenant: &Tenant,
        kind: ResourceKind,
    ) -> StoreResult<Vec<Resource>>;

    /// Deletes a document; false if it was not in this project.
    async fn delete_resource(
        &self,
        tenant: &Tenant,
        kind: ResourceKind,
        id: &str,
    ) -> StoreResult<bool>;
}

/// The kinds of named JSON documents the store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    /// Metric (evaluator) definitions.
    Metric,
    /// Prompt / model configurations.
    Configuration,
}

impl ResourceKind {
    /// Stable storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Metric => "metric",
            ResourceKind::Configuration => "configuration",
        }
    }
}

/// A named JSON document (metric definition, configuration).
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// Which kind of document.
    pub kind: ResourceKind,
    /// The document id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The document body (every field the API accepted).
    pub body: Map<String, Value>,
    /// Creation time, ms since epoch.
    pub created_at: f64,
    /// Last update time, ms since epoch.
    pub updated_at: f64,
}

/// A project of an org.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Project {
    /// The project id.
    pub id: String,
    /// Its unique (per org) name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// `evaluation` or `completion`.
    pub project_type: Option<String>,
    /// Creation time, ms since epoch.
    pub created_at: f64,
}

/// A change to a named document (`PUT /v1/metrics/{id}`, `PUT /v1/configurations/{id}`):
/// every field of `fields` replaces the one stored under its key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourcePatch {
    /// Replaces `name` (also kept in `fields` under `name`).
    pub name: Option<String>,
    /// Merged into the document body, key by key.
    pub fields: Map<String, Value>,
    /// The document's new `updated_at`, ms since epoch.
    pub updated_at: f64,
}

impl ResourcePatch {
    /// Applies the patch to `resource`.
    pub fn apply_to(&self, resource: &mut Resource) {
        if let Some(name) = &self.name {
            resource.name = name.clone();
        }
        merge(&mut resource.body, &self.fields);
        resource.updated_at = self.updated_at;
    }
}

/// A change to the key's own project (`PUT /v1/projects`); its name never changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProjectPatch {
    /// Replaces `description`.
    pub description: Option<String>,
    /// Replaces `project_type` (`evaluation` or `completion`, validated by the caller).
    pub project_type: Option<String>,
}

impl ProjectPatch {
    /// Applies the patch to `project`.
    pub fn apply_to(&self, project: &mut Project) {
        if let Some(description) = &self.description {
            project.description = Some(description.clone());
        }
        if let Some(project_type) = &self.project_type {
            project.project_type = Some(project_type.clone());
        }
    }
}
