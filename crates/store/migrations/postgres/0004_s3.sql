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
    path       TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX multipart_uploads_owner ON multipart_uploads (owner, workspace, path);
CREATE INDEX multipart_uploads_created ON multipart_uploads (created_at);

CREATE TABLE multipart_parts (
    upload     TEXT NOT NULL REFERENCES multipart_uploads (id) ON DELETE CASCADE,
    number     BIGINT NOT NULL,
    blob       TEXT NOT NULL,
    size       BIGINT NOT NULL,
    etag       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (upload, number)
);
CREATE INDEX multipart_parts_blob ON multipart_parts (blob);

-- `last_used_via` may now be 's3'.
ALTER TABLE tokens DROP CONSTRAINT tokens_last_used_via_check;
ALTER TABLE tokens ADD CONSTRAINT tokens_last_used_via_check
    CHECK (last_used_via IN ('rest', 'io', 'webdav', 'sftp', 's3'));
