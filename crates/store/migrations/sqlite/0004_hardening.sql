-- Hardening of the core (issue 6). Never edit this file once released.

-- Logins are unique case-insensitively (logins are ASCII, so lower() is exact).
CREATE UNIQUE INDEX users_login_nocase ON users (lower(login));

-- Login sessions end when this moves (password change, lock, theft of a refresh token):
-- every login access token carries the value it was issued under.
ALTER TABLE users ADD COLUMN session_gen INTEGER NOT NULL DEFAULT 0;

-- Refresh tokens are rotated within a family (one login); a used one is kept until it
-- expires, so that its reuse is recognised as theft and ends the whole family.
ALTER TABLE refresh_tokens ADD COLUMN family TEXT;
ALTER TABLE refresh_tokens ADD COLUMN used_at INTEGER;
UPDATE refresh_tokens SET family = hash WHERE family IS NULL;
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);

-- Blobs that lost their last reference (a delete, a replaced file), with when. The
-- collector removes each once it has been unreferenced for a grace period; blobs that
-- were never referenced (an upload cut between publishing and committing) are found by
-- a scan of the blob store.
CREATE TABLE blob_garbage (
    blob       TEXT PRIMARY KEY,
    dropped_at INTEGER NOT NULL
);
