-- Why a known token was last refused (expired, revoked, wrong login, user locked): the
-- audit trail of failures, next to LastUsed* of successes.
ALTER TABLE tokens ADD COLUMN last_failure_at INTEGER;
ALTER TABLE tokens ADD COLUMN last_failure_reason TEXT;
