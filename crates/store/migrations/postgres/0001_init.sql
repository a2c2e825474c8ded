-- The whole schema of cells on PostgreSQL: the same tables as the SQLite migrations
-- 0001 to 0004 give, in one step. Times are unix seconds (BIGINT); ids are hyphenated
-- UUIDs as text; flags are 0 or 1 (BIGINT), as on SQLite, so that one set of queries
-- serves both. Paths and names compare byte by byte (COLLATE "C"), as SQLite's BINARY
-- does: a subtree is the range ('a/b/', 'a/b0'), which a locale's collation would break.
-- Never edit this file once released: add a new migration instead.

CREATE TABLE users (
    uuid          TEXT PRIMARY KEY,
    login         TEXT COLLATE "C" NOT NULL,
    display_name  TEXT NOT NULL,
    profile       TEXT NOT NULL CHECK (profile IN ('admin', 'standard')),
    password_hash TEXT NOT NULL,
    locked        BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    session_gen   BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT users_login_key UNIQUE (login)
);
-- Logins are unique case-insensitively (logins are ASCII, so lower() is exact).
CREATE UNIQUE INDEX users_login_nocase ON users (lower(login));

CREATE TABLE workspaces (
    uuid       TEXT PRIMARY KEY,
    slug       TEXT COLLATE "C" NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('personal', 'common', 'custom')),
    owner      TEXT REFERENCES users (uuid) ON DELETE CASCADE,
    label      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
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

CREATE TABLE nodes (
    uuid      TEXT PRIMARY KEY,
    workspace TEXT NOT NULL REFERENCES workspaces (uuid) ON DELETE CASCADE,
    parent    TEXT REFERENCES nodes (uuid),
    path      TEXT COLLATE "C" NOT NULL,
    name      TEXT COLLATE "C" NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('COLLECTION', 'LEAF')),
    size      BIGINT NOT NULL DEFAULT 0,
    mtime     BIGINT NOT NULL,
    etag      TEXT NOT NULL,
    blob      TEXT,
    CONSTRAINT nodes_path_key UNIQUE (workspace, path)
);
CREATE INDEX nodes_children ON nodes (parent, name);
CREATE INDEX nodes_blob ON nodes (blob) WHERE blob IS NOT NULL;

CREATE TABLE refresh_tokens (
    hash       TEXT PRIMARY KEY,
    user_uuid  TEXT NOT NULL REFERENCES users (uuid) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    family     TEXT,
    used_at    BIGINT
);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_uuid);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);

CREATE TABLE tokens (
    uuid                TEXT PRIMARY KEY,
    hash                TEXT NOT NULL,
    type                TEXT NOT NULL CHECK (type IN ('PERSONAL', 'DOCUMENT')),
    label               TEXT NOT NULL,
    user_uuid           TEXT NOT NULL REFERENCES users (uuid) ON DELETE CASCADE,
    user_login          TEXT NOT NULL,
    scopes              TEXT NOT NULL DEFAULT '[]',
    auto_refresh_window BIGINT NOT NULL DEFAULT 0,
    expires_at          BIGINT NOT NULL,
    max_expires_at      BIGINT,
    created_by          TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    last_used_at        BIGINT,
    last_used_ip        TEXT,
    last_used_via       TEXT CHECK (last_used_via IN ('rest', 'io', 'webdav', 'sftp')),
    revoked_at          BIGINT,
    last_failure_at     BIGINT,
    last_failure_reason TEXT,
    CONSTRAINT tokens_hash_key UNIQUE (hash)
);
CREATE INDEX tokens_user ON tokens (user_uuid);
CREATE INDEX tokens_expires ON tokens (expires_at);

CREATE TABLE dav_properties (
    node      TEXT NOT NULL REFERENCES nodes (uuid) ON DELETE CASCADE,
    namespace TEXT NOT NULL,
    name      TEXT NOT NULL,
    value     BYTEA NOT NULL,
    PRIMARY KEY (node, namespace, name)
);

CREATE TABLE dav_locks (
    token      TEXT PRIMARY KEY,
    workspace  TEXT NOT NULL REFERENCES workspaces (uuid) ON DELETE CASCADE,
    path       TEXT COLLATE "C" NOT NULL,
    user_uuid  TEXT NOT NULL REFERENCES users (uuid) ON DELETE CASCADE,
    owner_xml  TEXT,
    depth      TEXT NOT NULL CHECK (depth IN ('0', 'infinity')),
    exclusive  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX dav_locks_path ON dav_locks (workspace, path);

CREATE TABLE server_keys (
    name       TEXT PRIMARY KEY,
    value      BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Change signals for caches in every process: `value` moves on each write that a cache
-- of users, grants, tokens or settings depends on, `tree` on each write to nodes. Every
-- change is also announced on the channel `cells_changes:<schema>` (delivered at commit;
-- one channel per schema, so that installs sharing a database do not hear each other),
-- so that listening processes drop stale entries at once instead of at their next poll.
CREATE TABLE change_counter (
    id    BIGINT PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL,
    tree  BIGINT NOT NULL DEFAULT 0
);
INSERT INTO change_counter (id, value, tree) VALUES (1, 0, 0);

CREATE FUNCTION cells_announce_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('cells_changes:' || current_schema(), NEW.value || ' ' || NEW.tree);
    RETURN NULL;
END;
$$;
CREATE TRIGGER change_counter_announce AFTER UPDATE ON change_counter
    FOR EACH ROW EXECUTE FUNCTION cells_announce_change();

CREATE TABLE blob_garbage (
    blob       TEXT PRIMARY KEY,
    dropped_at BIGINT NOT NULL
);
