//! What WebDAV adds to the namespace: dead properties (PROPPATCH) and write locks
//! (LOCK/UNLOCK), both kept in the database so that every process sees them.
//!
//! The rights are decided here, as for every other operation: reading properties needs
//! read, changing them or taking a lock needs write (a read-only scope or grant refuses
//! both), and a lock token counts only for the user who took the lock. The lock rules of
//! RFC 4918 (section 7) are the pure functions at the top: which locks cover a path,
//! which clash with a new one, and which stand in the way of a write.

use std::collections::HashSet;

use cells_core::reach::is_within;
use cells_core::{NodeId, NodeKind, TreePath, WorkspaceId};
pub use cells_store::{DeadProperty, LockRecord, PropertyChange};

use crate::{Cells, NodeView, Principal, Result, ServiceError};

/// The lock timeout when the client asks for none, and the longest granted (seconds).
pub const DEFAULT_LOCK_SECONDS: i64 = 3600;
pub const MAX_LOCK_SECONDS: i64 = 7 * 24 * 3600;

/// What a LOCK request asks for.
#[derive(Clone, Debug)]
pub struct LockRequest {
    pub exclusive: bool,
    /// Depth infinity rather than 0.
    pub deep: bool,
    pub owner_xml: Option<String>,
    /// Requested timeout in seconds; clamped to `1..=MAX_LOCK_SECONDS`.
    pub timeout: i64,
}

/// The answer to a LOCK.
#[derive(Clone, Debug)]
pub enum LockOutcome {
    /// The lock, and whether the LOCK created an empty file at an unmapped path.
    Granted { lock: LockRecord, created: bool },
    /// A lock already held there clashes with this one (423).
    Conflict,
}

/// Where a write happens, for [`Cells::dav_write_allowed`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteReach {
    /// The content or properties of the node only (PUT over a file, PROPPATCH).
    Node,
    /// The node and every descendant (DELETE, the source of a MOVE, an overwritten
    /// destination).
    Subtree,
}

/// Whether `lock` covers `path`: it is on the path, or on an ancestor with depth infinity.
#[must_use]
pub fn covers(lock: &LockRecord, workspace: WorkspaceId, path: &str) -> bool {
    lock.workspace == workspace && (lock.path == path || (lock.deep && is_within(path, &lock.path)))
}

/// Whether a new lock on `path` (`deep` for depth infinity, `exclusive`) clashes with a
/// lock already held.
#[must_use]
pub fn clashes(held: &LockRecord, workspace: WorkspaceId, path: &str, deep: bool, exclusive: bool) -> bool {
    let overlap = covers(held, workspace, path) || (deep && held.workspace == workspace && is_within(&held.path, path));
    overlap && (exclusive || held.exclusive)
}

/// The locks that stand in the way of a write at `path`: locks covering it, locks inside
/// it for a subtree write, and a depth-0 lock on the parent folder whose membership
/// changes; minus those whose token was submitted by the user who holds them.
#[must_use]
pub fn blocking<'a>(
    locks: &'a [LockRecord],
    path: &TreePath,
    workspace: WorkspaceId,
    reach: WriteReach,
    membership: bool,
    user: cells_core::UserId,
    submitted: &HashSet<&str>,
) -> Vec<&'a LockRecord> {
    let inner = path.inner();
    let parent = path.parent();
    locks
        .iter()
        .filter(|lock| {
            let in_the_way = covers(lock, workspace, inner)
                || (reach == WriteReach::Subtree && lock.workspace == workspace && is_within(&lock.path, inner))
                || (membership
                    && parent.as_ref().is_some_and(|p| lock.workspace == workspace && lock.path == p.inner()));
            in_the_way && !(lock.user == user && submitted.contains(lock.token.as_str()))
        })
        .collect()
}

fn lock_seconds(asked: i64) -> i64 {
    asked.clamp(1, MAX_LOCK_SECONDS)
}

impl Cells {
    /// The first `limit` children of a folder the caller may read, by name, in one store
    /// query: the listing of a WebDAV `PROPFIND` at depth 1. A passage (an ancestor of a
    /// scoped node) lists only the way down, through [`Cells::list`] and its filter.
    ///
    /// # Errors
    /// 404 when not visible, 403 when not readable, 400 when it is a file.
    pub async fn dav_children(&self, principal: &Principal, path: &TreePath, limit: i64) -> Result<Vec<NodeView>> {
        let located = self.locate(principal, path).await?;
        let node = located.existing()?.clone();
        located.require_read()?;
        if node.kind != NodeKind::Collection {
            return Err(ServiceError::BadRequest(format!("{path} is a file, not a folder")));
        }
        if located.passage {
            return Ok(self.list(principal, path, 0, limit.min(crate::tree::MAX_PAGE)).await?.1);
        }
        let slug = located.entered.slug();
        let children = self.store().children_of(node.id, limit).await?;
        Ok(children
            .into_iter()
            .map(|child| NodeView { path: TreePath::from_trusted(slug, &child.path), node: child })
            .collect())
    }

    /// The dead properties of a node the caller may read. A passage has none for the
    /// caller: they belong to a folder whose content the token may not take (the rule of
    /// [`crate::access::Located::require_content`]), and a property is content.
    ///
    /// # Errors
    /// 404 when not visible.
    pub async fn dav_properties(&self, principal: &Principal, path: &TreePath) -> Result<Vec<DeadProperty>> {
        let located = self.locate(principal, path).await?;
        let node = located.existing()?;
        located.require_read()?;
        if located.passage {
            return Ok(Vec::new());
        }
        Ok(self.store().dav_properties(node.id).await?)
    }

    /// The dead properties of the children of `folder` that a listing of it returned;
    /// none of those that are passages for the caller.
    ///
    /// # Errors
    /// 404 when the folder is not visible.
    pub async fn dav_properties_of_children(
        &self,
        principal: &Principal,
        folder: &TreePath,
        children: &[NodeView],
    ) -> Result<Vec<DeadProperty>> {
        let located = self.locate(principal, folder).await?;
        let node = located.existing()?;
        located.require_read()?;
        let scopes = self.scopes_at(principal).await?;
        let workspace = located.entered.workspace.id;
        let listed: HashSet<NodeId> = children
            .iter()
            .filter(|child| {
                !Self::effective(located.entered.rights, scopes.as_deref(), workspace, child.node.path.as_str()).1
            })
            .map(|c| c.node.id)
            .collect();
        let all = self.store().dav_properties_of_children(node.id).await?;
        Ok(all.into_iter().filter(|p| listed.contains(&p.node)).collect())
    }

    /// Applies a PROPPATCH, all or nothing. Needs write.
    ///
    /// # Errors
    /// 404 when not visible, 403 when read-only.
    pub async fn patch_dav_properties(
        &self,
        principal: &Principal,
        path: &TreePath,
        changes: &[PropertyChange],
    ) -> Result<()> {
        let located = self.locate(principal, path).await?;
        let node = located.existing()?.clone();
        located.require_write()?;
        Ok(self.store().patch_dav_properties(node.id, changes).await?)
    }

    /// After a COPY: gives the copies the dead properties of their originals.
    ///
    /// # Errors
    /// 404 when either end is not visible, 403 unless the source is readable and the
    /// destination writable.
    pub async fn copy_dav_properties(&self, principal: &Principal, from: &TreePath, to: &TreePath) -> Result<()> {
        let source = self.locate(principal, from).await?;
        source.require_read()?;
        let destination = self.locate(principal, to).await?;
        destination.require_write()?;
        let from = (source.entered.workspace.id, from.inner());
        let to = (destination.entered.workspace.id, to.inner());
        Ok(self.store().copy_dav_properties(from, to).await?)
    }

    /// The live locks covering `path` or inside it, for a caller who can see it.
    ///
    /// # Errors
    /// 404 when not visible.
    pub async fn dav_locks_at(&self, principal: &Principal, path: &TreePath) -> Result<Vec<LockRecord>> {
        let located = self.locate(principal, path).await?;
        let workspace = located.entered.workspace.id;
        let locks = self.store().dav_locks(workspace, cells_core::now()).await?;
        Ok(locks
            .into_iter()
            .filter(|l| covers(l, workspace, path.inner()) || is_within(&l.path, path.inner()))
            .collect())
    }

    /// Whether the locks held let this caller write at `path`, given the lock tokens it
    /// submitted (RFC 4918 section 7: every lock in the way needs its token, shared or
    /// exclusive). `membership` is set when the write adds or removes `path` from its
    /// folder.
    ///
    /// # Errors
    /// 404 when not visible.
    pub async fn dav_write_allowed(
        &self,
        principal: &Principal,
        path: &TreePath,
        reach: WriteReach,
        membership: bool,
        submitted: &HashSet<&str>,
    ) -> Result<bool> {
        let located = self.locate(principal, path).await?;
        let workspace = located.entered.workspace.id;
        let locks = self.store().dav_locks(workspace, cells_core::now()).await?;
        Ok(blocking(&locks, path, workspace, reach, membership, principal.user, submitted).is_empty())
    }

    /// Takes a write lock on `path`; an unmapped path becomes an empty file (RFC 4918
    /// section 7.3). Needs write.
    ///
    /// # Errors
    /// 404 when not visible, 403 when read-only, 409 when the parent is missing.
    pub async fn dav_lock(&self, principal: &Principal, path: &TreePath, request: LockRequest) -> Result<LockOutcome> {
        let located = self.locate(principal, path).await?;
        located.require_write()?;
        let workspace = located.entered.workspace.id;
        let now = cells_core::now();
        let held = self.store().dav_locks(workspace, now).await?;
        if held.iter().any(|l| clashes(l, workspace, path.inner(), request.deep, request.exclusive)) {
            return Ok(LockOutcome::Conflict);
        }
        let created = match located.node {
            Some(_) => false,
            None => {
                self.create(principal, path, NodeKind::Leaf).await?;
                true
            }
        };
        let lock = LockRecord {
            token: format!("urn:uuid:{}", uuid::Uuid::new_v4()),
            workspace,
            path: path.inner().to_owned(),
            user: principal.user,
            owner_xml: request.owner_xml,
            deep: request.deep,
            exclusive: request.exclusive,
            expires_at: now + lock_seconds(request.timeout),
        };
        let (inner, deep, exclusive) = (path.inner().to_owned(), request.deep, request.exclusive);
        let taken = self
            .store()
            .insert_dav_lock(&lock, now, move |live| {
                live.iter().any(|l| clashes(l, workspace, &inner, deep, exclusive))
            })
            .await?;
        Ok(if taken { LockOutcome::Granted { lock, created } } else { LockOutcome::Conflict })
    }

    /// Refreshes the caller's locks among `tokens` that cover `path`; returns those
    /// refreshed (none: the precondition of the refresh failed). Needs write, as taking
    /// the lock did: a read-only credential of the same user cannot keep a lock alive.
    ///
    /// # Errors
    /// 404 when not visible, 403 when read-only.
    pub async fn dav_refresh_locks(
        &self,
        principal: &Principal,
        path: &TreePath,
        tokens: &HashSet<&str>,
        timeout: i64,
    ) -> Result<Vec<LockRecord>> {
        self.locate(principal, path).await?.require_write()?;
        let now = cells_core::now();
        let mut refreshed = Vec::new();
        for lock in self.dav_locks_at(principal, path).await? {
            let mine = lock.user == principal.user && tokens.contains(lock.token.as_str());
            if !mine || !covers(&lock, lock.workspace, path.inner()) {
                continue;
            }
            if let Some(lock) = self.store().refresh_dav_lock(&lock.token, now + lock_seconds(timeout), now).await? {
                refreshed.push(lock);
            }
        }
        Ok(refreshed)
    }

    /// Removes the caller's lock `token` if it covers `path`; whether it did. Needs write,
    /// as taking the lock did: a read-only credential of the same user cannot end a lock
    /// that guards another client's edit.
    ///
    /// # Errors
    /// 404 when not visible, 403 when read-only.
    pub async fn dav_unlock(&self, principal: &Principal, path: &TreePath, token: &str) -> Result<bool> {
        self.locate(principal, path).await?.require_write()?;
        let found = self
            .dav_locks_at(principal, path)
            .await?
            .into_iter()
            .find(|l| l.token == token && l.user == principal.user && covers(l, l.workspace, path.inner()));
        match found {
            Some(lock) => Ok(self.store().delete_dav_lock(&lock.token).await?),
            None => Ok(false),
        }
    }

    /// After a DELETE or a MOVE away: drops the locks on `path` and below, which no
    /// longer name anything. Needs write.
    ///
    /// # Errors
    /// 404 when not visible, 403 when read-only.
    pub async fn dav_forget_locks(&self, principal: &Principal, path: &TreePath) -> Result<()> {
        let located = self.locate(principal, path).await?;
        located.require_write()?;
        Ok(self.store().delete_dav_locks_within(located.entered.workspace.id, path.inner()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(path: &str, deep: bool, exclusive: bool, user: cells_core::UserId, workspace: WorkspaceId) -> LockRecord {
        LockRecord {
            token: format!("urn:uuid:{path}"),
            workspace,
            path: path.to_owned(),
            user,
            owner_xml: None,
            deep,
            exclusive,
            expires_at: i64::MAX,
        }
    }

    #[test]
    fn covering_and_clashing_locks() {
        let (ws, other_ws, alice) = (WorkspaceId::random(), WorkspaceId::random(), cells_core::UserId::random());
        let deep = lock("a", true, true, alice, ws);
        let shallow = lock("a", false, false, alice, ws);
        assert!(covers(&deep, ws, "a/b/c") && covers(&deep, ws, "a"));
        assert!(!covers(&deep, ws, "ab") && !covers(&deep, other_ws, "a/b"), "prefix sibling, other workspace");
        assert!(covers(&shallow, ws, "a") && !covers(&shallow, ws, "a/b"));
        assert!(covers(&lock("", true, true, alice, ws), ws, "x/y"), "a deep lock on the root covers all");
        // Shared locks stack; anything exclusive clashes with an overlap, either way down.
        assert!(!clashes(&shallow, ws, "a", false, false));
        assert!(clashes(&shallow, ws, "a", false, true));
        assert!(clashes(&lock("a/b", false, false, alice, ws), ws, "a", true, true), "a lock below a deep one");
        assert!(!clashes(&lock("a/b", false, true, alice, ws), ws, "a", false, true), "below a depth-0 one");
        assert!(!clashes(&deep, ws, "ab", true, true));
    }

    #[test]
    fn a_write_needs_the_token_of_every_lock_in_its_way() {
        let (ws, alice, bob) = (WorkspaceId::random(), cells_core::UserId::random(), cells_core::UserId::random());
        let locks =
            [lock("d", true, true, alice, ws), lock("e/f", false, true, alice, ws), lock("g", false, false, alice, ws)];
        let path = |p: &str| TreePath::from_trusted("w", p);
        let none = HashSet::new();
        let tokens: HashSet<&str> = locks.iter().map(|l| l.token.as_str()).collect();
        assert_eq!(blocking(&locks, &path("d/x"), ws, WriteReach::Node, false, alice, &none).len(), 1);
        assert!(blocking(&locks, &path("d/x"), ws, WriteReach::Node, false, alice, &tokens).is_empty());
        assert_eq!(
            blocking(&locks, &path("d/x"), ws, WriteReach::Node, false, bob, &tokens).len(),
            1,
            "bob's use of alice's token"
        );
        assert_eq!(
            blocking(&locks, &path("e"), ws, WriteReach::Subtree, false, alice, &none).len(),
            1,
            "a lock inside"
        );
        assert!(blocking(&locks, &path("e"), ws, WriteReach::Node, false, alice, &none).is_empty());
        assert_eq!(blocking(&locks, &path("g/new"), ws, WriteReach::Node, true, alice, &none).len(), 1, "membership");
        assert!(blocking(&locks, &path("g/new"), ws, WriteReach::Node, false, alice, &none).is_empty());
        assert!(blocking(&locks, &path("dd"), ws, WriteReach::Subtree, true, alice, &none).is_empty());
    }
}
