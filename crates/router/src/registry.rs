//! Model groups and their deployments, as one immutable snapshot behind an [`ArcSwap`].
//!
//! Readers load the current snapshot without locking or blocking; [`Registry::replace`] builds
//! a complete new snapshot first and swaps it in with one atomic store, so a reader sees the
//! old registry or the new one, never a mix.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};

use crate::clock::Clock;
use crate::deployment::Deployment;
use crate::error::{Error, Result};
use crate::state::{DeploymentState, GroupState, RouterState};
use crate::sync::{Mutex, lock};

/// A deployment together with its live state.
#[derive(Debug, Clone)]
pub struct Member {
    /// The configuration.
    pub deployment: Arc<Deployment>,
    /// The live state (shared with every snapshot that holds this id).
    pub state: Arc<DeploymentState>,
}

/// One model group: its deployments in configuration order.
#[derive(Debug, Clone)]
pub struct ModelGroup {
    name: Arc<str>,
    members: Vec<Member>,
    state: Arc<GroupState>,
}

impl ModelGroup {
    /// The group's name (`model_name`).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its deployments, in configuration order.
    #[must_use]
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// Live state of the group.
    #[must_use]
    pub fn state(&self) -> &GroupState {
        &self.state
    }

    /// Whether the group has exactly one deployment (`is_single_deployment_model_group`).
    #[must_use]
    pub fn is_single_deployment(&self) -> bool {
        self.members.len() == 1
    }
}

/// One complete, immutable registry.
#[derive(Debug, Default)]
pub struct Snapshot {
    version: u64,
    groups: HashMap<Arc<str>, ModelGroup>,
    ids: HashMap<Arc<str>, (Arc<str>, usize)>,
    len: usize,
}

impl Snapshot {
    /// Increases by one with each [`Registry::replace`].
    #[must_use]
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The group called `name`.
    #[must_use]
    pub fn group(&self, name: &str) -> Option<&ModelGroup> {
        self.groups.get(name)
    }

    /// All groups, in no particular order.
    pub fn groups(&self) -> impl Iterator<Item = &ModelGroup> {
        self.groups.values()
    }

    /// The deployment with this id, and its group.
    #[must_use]
    pub fn member(&self, id: &str) -> Option<(&ModelGroup, &Member)> {
        let (group, index) = self.ids.get(id)?;
        let group = self.groups.get(group)?;
        Some((group, group.members.get(*index)?))
    }

    /// Number of deployments.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no deployments.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The live registry: cheap lock-free reads, atomic replacement.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use fastllm_router::{Deployment, Registry, RouterState, StateConfig, SystemClock, Tracking};
///
/// let state = RouterState::new(Arc::new(SystemClock::new()), Tracking::None, StateConfig::default());
/// let registry = Registry::new();
/// registry.replace(vec![Deployment::builder("a", "gpt-4o", "openai/gpt-4o").build()?], &state)?;
/// let snapshot = registry.load();
/// assert_eq!(snapshot.group("gpt-4o").map(|g| g.members().len()), Some(1));
/// # Ok::<(), fastllm_router::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct Registry {
    current: ArcSwap<Snapshot>,
    writer: Mutex<()>,
}

impl Registry {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The current snapshot. Never blocks; hold the guard only briefly.
    #[must_use]
    pub fn load(&self) -> Guard<Arc<Snapshot>> {
        self.current.load()
    }

    /// The current snapshot as an owned `Arc`, to keep across a longer operation.
    #[must_use]
    pub fn load_full(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Replaces every deployment at once. Live state is looked up by id in `state`, so
    /// deployments that stay keep their counters and cooldowns.
    ///
    /// # Errors
    ///
    /// [`Error::DuplicateId`] when two deployments share an id; the current registry is then
    /// left as it was.
    pub fn replace<C: Clock>(
        &self,
        deployments: Vec<Deployment>,
        state: &RouterState<C>,
    ) -> Result<()> {
        // Writers take turns, so versions increase in the order snapshots are published.
        let _writer = lock(&self.writer);
        let mut groups: HashMap<Arc<str>, ModelGroup> = HashMap::new();
        let mut ids: HashMap<Arc<str>, (Arc<str>, usize)> =
            HashMap::with_capacity(deployments.len());
        let len = deployments.len();
        for deployment in deployments {
            let id = Arc::clone(&deployment.id);
            let name = Arc::clone(&deployment.model_name);
            let group = groups
                .entry(Arc::clone(&name))
                .or_insert_with(|| ModelGroup {
                    state: state.group(&name),
                    name: Arc::clone(&name),
                    members: Vec::new(),
                });
            if ids
                .insert(Arc::clone(&id), (name, group.members.len()))
                .is_some()
            {
                return Err(Error::DuplicateId { id: id.to_string() });
            }
            group.members.push(Member {
                state: state.deployment(&id),
                deployment: Arc::new(deployment),
            });
        }
        let version = self.current.load().version + 1;
        self.current.store(Arc::new(Snapshot {
            version,
            groups,
            ids,
            len,
        }));
        Ok(())
    }
}
