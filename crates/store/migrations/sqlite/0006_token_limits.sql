-- Tokens no other server has (issue 14): address and protocol limits, rotation with a
-- grace, leak reports, and activity per hour. Never edit this file once released.
--
-- `allowed_ips` and `allowed_via` are JSON lists ('[]': anywhere, any protocol).
-- Rotation moves `hash` to `old_hash`; the old secret works until `grace_ends_at`.
ALTER TABLE tokens ADD COLUMN allowed_ips TEXT NOT NULL DEFAULT '[]';
ALTER TABLE tokens ADD COLUMN allowed_via TEXT NOT NULL DEFAULT '[]';
ALTER TABLE tokens ADD COLUMN old_hash TEXT;
ALTER TABLE tokens ADD COLUMN rotated_at INTEGER;
ALTER TABLE tokens ADD COLUMN grace_ends_at INTEGER;
ALTER TABLE tokens ADD COLUMN leaked_at INTEGER;
ALTER TABLE tokens ADD COLUMN leaked_by TEXT;
CREATE INDEX tokens_old_hash ON tokens (old_hash) WHERE old_hash IS NOT NULL;

-- Distinct (address, protocol) pairs per token and hour, with counts; written in
-- batches, kept 30 days. `ip` is '' when the address is not known.
CREATE TABLE token_activity (
    token_uuid TEXT NOT NULL REFERENCES tokens (uuid) ON DELETE CASCADE,
    hour       INTEGER NOT NULL,
    ip         TEXT NOT NULL,
    via        TEXT NOT NULL,
    count      INTEGER NOT NULL,
    PRIMARY KEY (token_uuid, hour, ip, via)
);
CREATE INDEX token_activity_hour ON token_activity (hour);
