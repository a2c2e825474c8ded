-- S3 at /io (issue 15): multipart uploads, and `s3` as a protocol a token was used through. Never edit this file once released.
--
-- An upload is a file to be: its parts are blobs held here, outside the tree, until
-- Complete streams them into one upload of the file, or Abort (or the upkeep task, for
-- an upload left a day) drops them. A part's blob is in use while its row exists, so the
-- collector keeps it; a replaced or dropped part goes to `blob_garbage`.
CREATE TABLE multipart_uploads (
    id         TEXT PRIMARY KEY,
    owner      TEXT NOT NULL REFERENCES users (uuid) ON DELETE CASCADE,
    workspace  TEXT NOT NULL REFERENCES workspaces (uuid) ON DELETE CASCADE,
    path       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX multipart_uploads_owner ON multipart_uploads (owner, workspace, path);
CREATE INDEX multipart_uploads_created ON multipart_uploads (created_at);

CREATE TABLE multipart_parts (
    upload     TEXT NOT NULL REFERENCES multipart_uploads (id) ON DELETE CASCADE,
    number     INTEGER NOT NULL,
    blob       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    etag       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (upload, number)
);
CREATE INDEX multipart_parts_blob ON multipart_parts (blob);

-- `last_used_via` may now be 's3'. SQLite changes a CHECK only by rebuilding the table:
-- the tokens are copied into a table of the same columns, and their activity (whose
-- foreign key would otherwise cascade when the old table goes) is kept aside meanwhile.
CREATE TABLE tokens_new (
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
    last_used_via       TEXT CHECK (last_used_via IN ('rest', 'io', 'webdav', 'sftp', 's3')),
    revoked_at          INTEGER,
    last_failure_at     INTEGER,
    last_failure_reason TEXT,
    allowed_ips         TEXT NOT NULL DEFAULT '[]',
    allowed_via         TEXT NOT NULL DEFAULT '[]',
    old_hash            TEXT,
    rotated_at          INTEGER,
    grace_ends_at       INTEGER,
    leaked_at           INTEGER,
    leaked_by           TEXT,
    CONSTRAINT tokens_hash_key UNIQUE (hash)
);
INSERT INTO tokens_new (uuid, hash, type, label, user_uuid, user_login, scopes, auto_refresh_window, expires_at,
    max_expires_at, created_by, created_at, updated_at, last_used_at, last_used_ip, last_used_via, revoked_at,
    last_failure_at, last_failure_reason, allowed_ips, allowed_via, old_hash, rotated_at, grace_ends_at, leaked_at,
    leaked_by)
SELECT uuid, hash, type, label, user_uuid, user_login, scopes, auto_refresh_window, expires_at,
    max_expires_at, created_by, created_at, updated_at, last_used_at, last_used_ip, last_used_via, revoked_at,
    last_failure_at, last_failure_reason, allowed_ips, allowed_via, old_hash, rotated_at, grace_ends_at, leaked_at,
    leaked_by
FROM tokens;
CREATE TABLE token_activity_kept AS SELECT token_uuid, hour, ip, via, count FROM token_activity;
DROP TABLE token_activity;
DROP TABLE tokens;
ALTER TABLE tokens_new RENAME TO tokens;
CREATE INDEX tokens_user ON tokens (user_uuid);
CREATE INDEX tokens_expires ON tokens (expires_at);
CREATE INDEX tokens_old_hash ON tokens (old_hash) WHERE old_hash IS NOT NULL;
CREATE TABLE token_activity (
    token_uuid TEXT NOT NULL REFERENCES tokens (uuid) ON DELETE CASCADE,
    hour       INTEGER NOT NULL,
    ip         TEXT NOT NULL,
    via        TEXT NOT NULL,
    count      INTEGER NOT NULL,
    PRIMARY KEY (token_uuid, hour, ip, via)
);
INSERT INTO token_activity (token_uuid, hour, ip, via, count) SELECT token_uuid, hour, ip, via, count FROM token_activity_kept;
DROP TABLE token_activity_kept;
CREATE INDEX token_activity_hour ON token_activity (hour);
