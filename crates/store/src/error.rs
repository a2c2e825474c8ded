//! Errors of the store. A unique-constraint violation becomes [`StoreError::Conflict`]
//! naming what clashed, so that the HTTP edge can answer 409 with a useful message.

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A row that must be unique already exists; the text names the field.
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// A row the operation depends on vanished (a parent deleted meanwhile).
    #[error("a node this operation depends on no longer exists")]
    Vanished,
    /// A node the operation was checked against moved, was renamed or changed kind
    /// since (a concurrent write): nothing was done.
    #[error("a file or folder this operation depends on was moved or changed meanwhile")]
    Moved,
    /// The operation would put a folder inside itself.
    #[error("a folder cannot go inside itself")]
    Cycle,
    /// A conditional write's condition did not hold on the current state.
    #[error("the precondition does not hold")]
    PreconditionFailed,
    /// A value read back from the database does not parse (a corrupt row).
    #[error("corrupt value in column {0}")]
    Corrupt(&'static str),
    /// The database URL names an engine cells does not support.
    #[error("unsupported database URL: use sqlite://PATH or postgres://USER@HOST/DATABASE")]
    Unsupported,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("blob store error: {0}")]
    Blob(#[from] std::io::Error),
}

/// Names of the unique constraints and the field each one protects.
const CONSTRAINTS: &[(&str, &str)] = &[
    ("users.login", "a user with this login"),
    ("users_login_nocase", "a user with this login (in any letter case)"),
    ("users_login_key", "a user with this login"),
    ("workspaces_slug_key", "a workspace with this slug"),
    ("workspaces_owner_key", "a personal workspace for this user"),
    ("nodes_path_key", "a file or folder with this name"),
    ("tokens_hash_key", "a token with this secret"),
    ("grants_pkey", "a grant for this user"),
    ("ssh_keys_fingerprint_key", "a registered SSH key with this fingerprint (revoke it first)"),
    ("workspaces.slug", "a workspace with this slug"),
    ("workspaces.owner", "a personal workspace for this user"),
    ("nodes.workspace, nodes.path", "a file or folder with this name"),
    ("tokens.hash", "a token with this secret"),
    ("grants.workspace, grants.user_uuid", "a grant for this user"),
    ("ssh_keys.fingerprint", "a registered SSH key with this fingerprint (revoke it first)"),
];

impl StoreError {
    /// Whether the database refused a statement (rather than being out of reach): the
    /// connection is sound, and a smaller transaction may succeed.
    #[must_use]
    pub fn is_refused_statement(&self) -> bool {
        matches!(self, Self::Database(sqlx::Error::Database(_)))
    }

    /// Maps a unique or foreign-key violation to its meaning; other errors pass through.
    pub(crate) fn from_write(err: sqlx::Error) -> Self {
        if let Some(db) = err.as_database_error() {
            if db.is_unique_violation() {
                let message = db.message();
                let name = CONSTRAINTS
                    .iter()
                    .find(|(columns, _)| message.contains(columns))
                    .map_or("a record with these values", |(_, what)| what);
                return Self::Conflict(name);
            }
            if db.is_foreign_key_violation() {
                return Self::Vanished;
            }
        }
        Self::Database(err)
    }
}
