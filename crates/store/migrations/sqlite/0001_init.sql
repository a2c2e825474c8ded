-- The whole schema of cells on SQLite. Times are unix seconds; ids are hyphenated UUIDs.
-- Never edit this file once released: add a new migration instead.

CREATE TABLE users (
    uuid          TEXT PRIMARY KEY,
    login         TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    profile       TEXT NOT NULL CHECK (profile IN ('admin', 'standard')),
    password_hash TEXT NOT NULL,
    locked        INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    CONSTRAINT users_login_key UNIQUE (login)
);

CREATE TABLE workspaces (
    uuid       TEXT PRIMARY KEY,
    slug       TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('personal', 'common', 'custom')),
    owner      TEXT REFERENCES users (uuid) ON DELETE CASCADE,
    label      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    CHECK ((kind = 'personal') = (owner IS NOT NULL))
);
CREATE UNIQUE INDEX workspaces_slug_key ON workspaces (slug) WHERE kind <> 'personal';
CREATE UNIQUE INDEX workspaces_owner_key ON workspaces (owner) WHERE kind = 'personal';

CREATE TABLE grants (
    workspace TEXT NOT NULL REFERENCES workspaces (uuid) ON DELETE CASCADE,
    user_uuid TEXT NOT NULL REFERENCES users (uuid) ON DELETE CASCADE,
    rights    TEXT NOT NULL CHECK (rights IN ('r', 'rw')),
    PRIMARY KEY (workspace, user_uuid)
);
CREATE INDEX grants_user ON grants (user_uuid);

-- The tree. Every workspace has a root node (path ''); `path` is the path inside the
-- workspace, kept up to date on move so that lookups by path are one index hit.
CREATE TABLE nodes (
    uuid      TEXT PRIMARY KEY,
    workspace TEXT NOT NULL REFERENCES workspaces (uuid) ON DELETE CASCADE,
    parent    TEXT REFERENCES nodes (uuid),
    path      TEXT NOT NULL,
    name      TEXT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('COLLECTION', 'LEAF')),
    size      INTEGER NOT NULL DEFAULT 0,
    mtime     INTEGER NOT NULL,
    etag      TEXT NOT NULL,
    blob      TEXT,
    CONSTRAINT nodes_path_key UNIQUE (workspace, path)
);
CREATE INDEX nodes_children ON nodes (parent, name);
CREATE INDEX nodes_blob ON nodes (blob) WHERE blob IS NOT NULL;

-- OAuth2 refresh tokens: opaque, stored as SHA-256, rotated on each use.
CREATE TABLE refresh_tokens (
    hash       TEXT PRIMARY KEY,
    user_uuid  TEXT NOT NULL REFERENCES users (uuid) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_uuid);

-- Personal access tokens (DESIGN.md section 4). Only the SHA-256 of the token is kept.
CREATE TABLE tokens (
    uuid                TEXT PRIMARY KEY,
    hash                TEXT NOT NULL,
    type                TEXT NOT NULL CHECK (type IN ('PERSONAL', 'DOCUMENT')),
    label               TEXT NOT NULL,
    user_uuid           TEXT NOT NULL REFERENCES users (uuid) ON DELETE CASCADE,
    user_login          TEXT NOT NULL,
    scopes              TEXT NOT NULL DEFAULT '[]',
    auto_refresh_window INTEGER NOT NULL DEFAULT 0,
    expires_at          INTEGER NOT NULL,
    max_expires_at      INTEGER,
    created_by          TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    last_used_at        INTEGER,
    last_used_ip        TEXT,
    last_used_via       TEXT CHECK (last_used_via IN ('rest', 'io', 'webdav', 'sftp')),
    revoked_at          INTEGER,
    CONSTRAINT tokens_hash_key UNIQUE (hash)
);
CREATE INDEX tokens_user ON tokens (user_uuid);
CREATE INDEX tokens_expires ON tokens (expires_at);

-- WebDAV dead properties and locks, shared by every process using this database.
CREATE TABLE dav_properties (
    node      TEXT NOT NULL REFERENCES nodes (uuid) ON DELETE CASCADE,
    namespace TEXT NOT NULL,
    name      TEXT NOT NULL,
    value     BLOB NOT NULL,
    PRIMARY KEY (node, namespace, name)
);

CREATE TABLE dav_locks (
    token      TEXT PRIMARY KEY,
    workspace  TEXT NOT NULL REFERENCES workspaces (uuid) ON DELETE CASCADE,
    path       TEXT NOT NULL,
    user_uuid  TEXT NOT NULL REFERENCES users (uuid) ON DELETE CASCADE,
    owner_xml  TEXT,
    depth      TEXT NOT NULL CHECK (depth IN ('0', 'infinity')),
    exclusive  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX dav_locks_path ON dav_locks (workspace, path);

-- Secrets of the server itself: the access-token signing key, the SSH host key.
CREATE TABLE server_keys (
    name       TEXT PRIMARY KEY,
    value      BLOB NOT NULL,
    created_at INTEGER NOT NULL
);

-- Admin settings (for example whether users may create their own tokens).
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Change signal for caches in every process: bumped by each write that a cache depends
-- on (token revoked, user locked or deleted). SQLite servers poll it; PostgreSQL uses
-- LISTEN/NOTIFY as well.
CREATE TABLE change_counter (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO change_counter (id, value) VALUES (1, 0);
