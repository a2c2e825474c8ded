//! Configuration, layered: built-in defaults, then a TOML file (`--config`), then
//! `CELLS_*` environment variables, then command-line flags. Clap reads the flags and
//! the environment (a flag wins over its variable); the file fills what both left unset.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use serde::Deserialize;

use crate::tokens::policy::{PolicyChange, PolicyFile, StartPolicyArgs};

pub const DEFAULT_DATA: &str = "./cells-data";
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_SFTP_BIND: &str = "127.0.0.1:2022";

/// Where the store is: shared by `cells start` and `cells admin`.
#[derive(Args, Debug, Clone, Default)]
pub struct StoreArgs {
    /// A TOML configuration file.
    #[arg(long, env = "CELLS_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// The data folder (database and blobs by default).
    #[arg(long, env = "CELLS_DATA", global = true)]
    pub data: Option<PathBuf>,
    /// The database URL (default: a SQLite file inside the data folder).
    #[arg(long, env = "CELLS_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Where file content goes (default: a folder inside the data folder).
    #[arg(long, env = "CELLS_STORAGE_URL", global = true)]
    pub storage_url: Option<String>,
}

/// Listening addresses, for `cells start`.
#[derive(Args, Debug, Clone, Default)]
pub struct ServerArgs {
    /// HTTP address (REST, /io, WebDAV, console). Port 0 picks a free port.
    #[arg(long, env = "CELLS_BIND")]
    pub bind: Option<String>,
    /// SFTP address.
    #[arg(long, env = "CELLS_SFTP_BIND")]
    pub sftp_bind: Option<String>,
    /// Reverse proxies whose X-Forwarded-For is believed, comma-separated addresses or
    /// blocks (`127.0.0.1,10.0.0.0/8`). None by default.
    #[arg(long, env = "CELLS_TRUSTED_PROXIES")]
    pub trusted_proxies: Option<String>,
    /// How long a client may take to send a request's head (default 30s).
    #[arg(long, env = "CELLS_HTTP_HEADER_TIMEOUT")]
    pub http_header_timeout: Option<String>,
    /// How long a connection may stay with nothing moving either way before it is
    /// closed: idle keep-alive, a stalled upload or download (default 2m).
    #[arg(long, env = "CELLS_HTTP_IDLE_TIMEOUT")]
    pub http_idle_timeout: Option<String>,
    #[command(flatten)]
    pub tokens: StartPolicyArgs,
}

/// The TOML file: the same settings, in snake case.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data: Option<PathBuf>,
    bind: Option<String>,
    sftp_bind: Option<String>,
    database_url: Option<String>,
    storage_url: Option<String>,
    trusted_proxies: Option<Vec<String>>,
    http_header_timeout: Option<String>,
    http_idle_timeout: Option<String>,
    /// The token policy written at start (`[tokens]`, keys as the `--token-*` flags).
    tokens: Option<PolicyFile>,
}

/// The resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data: PathBuf,
    pub bind: String,
    pub sftp_bind: String,
    pub database_url: String,
    pub storage: cells_service::Storage,
    pub http: cells_server::Options,
    /// The fields of the token policy the configuration gives (see [`crate::tokens::policy`]).
    pub token_policy: PolicyChange,
}

/// A duration setting (`30s`, `2m`), with its name for the error.
fn duration(name: &str, text: Option<String>, default: std::time::Duration) -> anyhow::Result<std::time::Duration> {
    match text {
        None => Ok(default),
        Some(text) => cells_core::duration::parse_duration(&text)
            .map(|secs| std::time::Duration::from_secs(secs.get()))
            .map_err(|e| anyhow::anyhow!("invalid {name} {text:?}: {e}")),
    }
}

fn read_file(path: Option<&Path>) -> anyhow::Result<FileConfig> {
    let Some(path) = path else { return Ok(FileConfig::default()) };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid configuration file {}", path.display()))
}

/// Where a storage URL puts content: a plain path or `file://PATH` is a folder,
/// `s3://BUCKET?...` a bucket.
fn storage(url: &str) -> anyhow::Result<cells_service::Storage> {
    use cells_service::Storage;
    if let Some(path) = url.strip_prefix("file://") {
        return Ok(Storage::Folder(PathBuf::from(path)));
    }
    if url.starts_with("s3://") {
        return Ok(Storage::Bucket(url.to_owned()));
    }
    if url.contains("://") {
        anyhow::bail!(
            "unsupported storage URL {url:?}: use a folder (a path or file://PATH) or a bucket \
             (s3://BUCKET?endpoint=URL&region=REGION)"
        );
    }
    Ok(Storage::Folder(PathBuf::from(url)))
}

/// Checks that a database URL names an engine cells supports.
pub fn check_database_url(url: &str) -> anyhow::Result<()> {
    if cells_service::Dialect::of_url(url).is_none() {
        anyhow::bail!("unsupported database URL: use sqlite://PATH or postgres://USER@HOST[:PORT]/DATABASE");
    }
    Ok(())
}

impl Settings {
    /// Resolves the layers.
    ///
    /// # Errors
    /// When the configuration file cannot be read or a value is invalid.
    pub fn resolve(store: &StoreArgs, server: &ServerArgs) -> anyhow::Result<Self> {
        let file = read_file(store.config.as_deref())?;
        let data = store.data.clone().or(file.data).unwrap_or_else(|| PathBuf::from(DEFAULT_DATA));
        let database_url = store
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| cells_service::default_database_url(&data));
        check_database_url(&database_url)?;
        let storage = match store.storage_url.clone().or(file.storage_url) {
            Some(url) => storage(&url)?,
            None => cells_service::Storage::Folder(data.join("blobs")),
        };
        let proxies: Vec<String> = match server.trusted_proxies.clone() {
            Some(list) => list.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect(),
            None => file.trusted_proxies.unwrap_or_default(),
        };
        let trusted_proxies = proxies
            .iter()
            .map(|p| p.parse::<cells_server::Cidr>().map_err(|e| anyhow::anyhow!("invalid trusted proxy: {e}")))
            .collect::<anyhow::Result<_>>()?;
        let defaults = cells_server::Limits::default();
        let limits = cells_server::Limits {
            header_timeout: duration(
                "HTTP header timeout",
                server.http_header_timeout.clone().or(file.http_header_timeout),
                defaults.header_timeout,
            )?,
            idle_timeout: duration(
                "HTTP idle timeout",
                server.http_idle_timeout.clone().or(file.http_idle_timeout),
                defaults.idle_timeout,
            )?,
        };
        let token_policy = server.tokens.change().over(file.tokens.unwrap_or_default().change()?);
        Ok(Self {
            token_policy,
            http: cells_server::Options { limits, trusted_proxies },
            bind: server.bind.clone().or(file.bind).unwrap_or_else(|| DEFAULT_BIND.to_owned()),
            sftp_bind: server.sftp_bind.clone().or(file.sftp_bind).unwrap_or_else(|| DEFAULT_SFTP_BIND.to_owned()),
            data,
            database_url,
            storage,
        })
    }

    /// Where the store is, for the service.
    #[must_use]
    pub fn store_config(&self) -> cells_service::StoreConfig {
        cells_service::StoreConfig {
            database_url: self.database_url.clone(),
            storage: self.storage.clone(),
            key_file: self.data.join("secret.key"),
        }
    }

    /// Creates the data folder (readable by this user only), then opens the service.
    ///
    /// # Errors
    /// When the folder cannot be created or the store opened.
    pub async fn open(&self) -> anyhow::Result<cells_service::Cells> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.data)
            .with_context(|| format!("cannot create the data folder {}", self.data.display()))?;
        // The operator sees the whole reason, also of what a client would only see as an
        // internal error.
        cells_service::Cells::open(&self.store_config()).await.map_err(|err| match err {
            cells_service::ServiceError::Internal(reason) => anyhow::anyhow!("cannot open the store: {reason}"),
            other => anyhow::anyhow!("cannot open the store: {other}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("cells.toml");
        std::fs::write(&file, "data = \"/from-file\"\nbind = \"127.0.0.1:9\"\n").unwrap_or_else(|e| panic!("{e}"));
        let store = StoreArgs { config: Some(file), ..StoreArgs::default() };
        let settings = Settings::resolve(&store, &ServerArgs::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(settings.data, PathBuf::from("/from-file"));
        assert_eq!(settings.bind, "127.0.0.1:9");
        assert_eq!(settings.sftp_bind, DEFAULT_SFTP_BIND);
        assert_eq!(settings.storage, cells_service::Storage::Folder(PathBuf::from("/from-file/blobs")));
        let store = StoreArgs { data: Some("/flag".into()), ..store };
        let server = ServerArgs { bind: Some("127.0.0.1:10".into()), ..ServerArgs::default() };
        let settings = Settings::resolve(&store, &server).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(settings.data, PathBuf::from("/flag"));
        assert_eq!(settings.bind, "127.0.0.1:10");
    }

    #[test]
    fn unknown_keys_and_backends_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("cells.toml");
        std::fs::write(&file, "dta = 1\n").unwrap_or_else(|e| panic!("{e}"));
        let store = StoreArgs { config: Some(file), ..StoreArgs::default() };
        assert!(Settings::resolve(&store, &ServerArgs::default()).is_err());
        let store = StoreArgs { storage_url: Some("ftp://host/x".into()), ..StoreArgs::default() };
        let err = Settings::resolve(&store, &ServerArgs::default()).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("unsupported storage URL"), "{err}");
        let store = StoreArgs { database_url: Some("mysql://localhost/cells".into()), ..StoreArgs::default() };
        let err = Settings::resolve(&store, &ServerArgs::default()).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("unsupported database URL"), "{err}");
        let store = StoreArgs {
            database_url: Some("postgres://cells@127.0.0.1/cells".into()),
            storage_url: Some("s3://cells?endpoint=http://127.0.0.1:9000".into()),
            ..StoreArgs::default()
        };
        let settings = Settings::resolve(&store, &ServerArgs::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            settings.storage,
            cells_service::Storage::Bucket("s3://cells?endpoint=http://127.0.0.1:9000".into())
        );
    }

    #[test]
    fn the_token_policy_comes_from_the_flags_then_the_file() {
        use crate::tokens::policy::{Limit, PolicyChange, StartPolicyArgs};
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("cells.toml");
        let write = |text: &str| std::fs::write(&file, text).unwrap_or_else(|e| panic!("{e}"));
        write("[tokens]\nmax_expires_in = \"30d\"\nmax_auto_refresh = \"none\"\nscopes_for_others = true\n");
        let store = StoreArgs { config: Some(file.clone()), ..StoreArgs::default() };
        let settings = Settings::resolve(&store, &ServerArgs::default()).unwrap_or_else(|e| panic!("{e}"));
        let thirty = cells_core::duration::parse_duration("30d").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            settings.token_policy,
            PolicyChange {
                max_expires_in: Some(Limit::Within(thirty)),
                max_auto_refresh: Some(Limit::Unlimited),
                scopes_for_others: Some(true),
                ..PolicyChange::default()
            }
        );
        let tokens = StartPolicyArgs { token_max_expires_in: Some(Limit::Unlimited), ..StartPolicyArgs::default() };
        let server = ServerArgs { tokens, ..ServerArgs::default() };
        let settings = Settings::resolve(&store, &server).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(settings.token_policy.max_expires_in, Some(Limit::Unlimited), "the flag wins");
        assert_eq!(settings.token_policy.scopes_for_others, Some(true), "the file fills the rest");
        for (bad, said) in [("max_expires_in = \"1.5d\"", "max_expires_in"), ("max_expires = \"1d\"", "max_expires")] {
            write(&format!("[tokens]\n{bad}\n"));
            let err =
                Settings::resolve(&store, &ServerArgs::default()).err().map(|e| format!("{e:#}")).unwrap_or_default();
            assert!(err.contains(said), "{bad}: {err}");
        }
    }
}
