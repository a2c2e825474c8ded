-- SSH public keys as credentials shaped like tokens (issue 17): a label, an expiry
-- model, scopes, revocation and the same audit columns as `tokens`. Never edit this
-- file once released.
--
-- `fingerprint` is OpenSSH's `SHA256:<base64>` of the key's wire form, the one value
-- a login looks the key up by; `public_key` is the key as `<algorithm> <base64>`
-- (without its comment). A key is registered once while it is not revoked.
CREATE TABLE ssh_keys (
    uuid                TEXT PRIMARY KEY,
    fingerprint         TEXT NOT NULL,
    public_key          TEXT NOT NULL,
    algorithm           TEXT NOT NULL,
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
    last_used_via       TEXT CHECK (last_used_via IN ('sftp')),
    revoked_at          INTEGER,
    last_failure_at     INTEGER,
    last_failure_reason TEXT
);
CREATE UNIQUE INDEX ssh_keys_fingerprint_key ON ssh_keys (fingerprint) WHERE revoked_at IS NULL;
CREATE INDEX ssh_keys_user ON ssh_keys (user_uuid);
CREATE INDEX ssh_keys_expires ON ssh_keys (expires_at);
