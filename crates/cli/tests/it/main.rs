//! Black-box tests of the `cells` binary: each test starts the real server on a free
//! port with a temp data dir (see [`support::TestServer`]) and talks to it over HTTP,
//! with `curl`, and with `cells admin`.
//!
//! - `tour`: the README tour, with the real `curl`.
//! - `bad_input`: every route refuses client mistakes with a JSON error, never a 5xx.
//! - `access`: personal, common and custom workspaces; grants and their revocation.
//! - `oauth`: the token endpoint, refresh rotation, locked users.
//! - `io`: content, ranges, conditional requests, listings, copies.
//! - `admin_cli`: `cells admin` against the store of a running server.
//! - `crash`: SIGKILL mid-upload leaves no trace and a sound database; a full disk is a
//!   507 that loses nothing.
//! - `memory`: a 1 GiB file each way in bounded server memory.
//! - `ops`: health, metrics, logs without secrets, graceful shutdown, first start.
//! - `tokens`: personal access tokens from the CLI, in use, expiring and revoked.
//! - `token_rest`: token management over REST, document tokens, self-service.
//! - `token_safety`: usage writes under load, no token or hash leaked, throttling.
//! - `token_leaks`: leak reports without login, in three shapes, counting what they revoked.
//! - `token_activity`: uses per hour, address and protocol, written in batches; the gauge.
//! - `token_policy`: the admin's token policy, each rule refusing beside a control.
//! - `token_limits`: address and protocol limits on every front end; the expiry header.
//! - `token_rotation`: a new secret with a grace for the old, on one node and on two.
//! - `token_cli_policy`: the wave-2 token commands of the CLI (limits, rotate, leaked,
//!   list --expiring, revoke --beyond-policy, policy) and the policy `cells start` writes.
//! - `scopes`: what a token restricted by scopes may reach.
//! - `s3`: S3 at `/io` with aws-cli, rclone's S3 remote, boto3 and the requests of Cells'
//!   SDK; `s3_refusals`: each refusal beside its control, multipart uploads and their sweep.
//! - `dav`: WebDAV at `/dav`: methods, awkward names, properties, locks, tokens.
//! - `dav_peers`: litmus (all five suites) and rclone with a token as the password.
//! - `dav_scopes`: no WebDAV method escapes a token's scopes; `dav_bounds`: bodies and
//!   answers bounded; `dav_rights`: the review's smaller WebDAV defects; `dav_desktop`:
//!   Windows' and Finder's sequences replayed, cadaver, davfs2 and gvfs.
//! - `sftp`: the OpenSSH client against the SFTP server (`sftp_client` drives it);
//!   `sftp_scopes`: scoped tokens over SFTP; `sftp_rclone`: rclone's SFTP remote;
//!   `sftp_revoke`: revocation and locking end open sessions.
//! - `sftp_limits`: the SFTP server's bounds: out-of-order writes, connections, names.
//! - `sftp_keys`: SSH keys as credentials: `sftp -i` and rclone, scopes, revocation.
//! - `hardening_*`: the defects of the adversarial review (issue 6), one test each.
//! - `concurrency`: racing moves, uploads into moving folders, cancelled copies, racing
//!   conditional PUTs, revocation mid-stream; each ends with a check of the whole tree.
//! - `console`: the web console's headers, and two scenarios in Chromium (playwright-core).
//! - `cluster`: two nodes over PostgreSQL and s3s-fs (`migrate_store`: SQLite to them).
//! - `progress`: `migrate-store` of 10,000 files and `blobs collect` tell how far they got.
//!
//! `support` holds the `TestServer` helper, `client` the HTTP side of it.

#![expect(clippy::unwrap_used, reason = "tests fail loudly on any unexpected error")]

mod access;
mod admin_cli;
mod bad_input;
mod client;
mod cluster;
mod concurrency;
mod console;
mod crash;
mod dav;
mod dav_bounds;
mod dav_desktop;
mod dav_peers;
mod dav_rights;
mod dav_scopes;
mod hardening_access;
mod hardening_limits;
mod hardening_sessions;
mod io;
mod memory;
mod migrate_store;
mod oauth;
mod ops;
mod progress;
mod replace;
mod s3;
mod s3_refusals;
mod scopes;
mod sftp;
mod sftp_client;
mod sftp_keys;
mod sftp_limits;
mod sftp_rclone;
mod sftp_revoke;
mod sftp_scopes;
mod support;
mod token_activity;
mod token_cli_policy;
mod token_leaks;
mod token_limits;
mod token_policy;
mod token_rest;
mod token_rotation;
mod token_safety;
mod tokens;
mod tour;
