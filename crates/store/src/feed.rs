//! The change feed of PostgreSQL: every commit that moves a change counter announces
//! the new counters on the channel `cells_changes:<schema>` (a trigger, see the
//! migrations; one channel per schema, so that installs sharing a database do not hear
//! each other), and a [`ChangeFeed`] hands them to a process as they come, so its caches
//! follow other processes' writes at once instead of at the next poll. SQLite has no feed: there,
//! processes poll the counters.

use sqlx::postgres::PgListener;

use crate::{Dialect, Result, Store};

/// The channel the counters of the tables in `schema` are announced on.
#[must_use]
pub fn channel(schema: &str) -> String {
    format!("cells_changes:{schema}")
}

/// What the feed says next.
#[derive(Debug, PartialEq, Eq)]
pub enum FeedEvent {
    /// Counters committed by some process: (users/tokens/settings, tree).
    Counters(i64, i64),
    /// The connection was lost and is back (subscribed again): announcements made
    /// meanwhile are lost, so read the counters once.
    Reconnected,
}

/// A subscription to the change channel, reconnecting by itself.
pub struct ChangeFeed {
    listener: PgListener,
}

impl ChangeFeed {
    /// Waits for the next event.
    ///
    /// # Errors
    /// When the connection is lost and cannot be made again (yet): the caller falls back
    /// to polling and asks again later.
    pub async fn next(&mut self) -> Result<FeedEvent> {
        loop {
            let Some(notification) = self.listener.try_recv().await? else { return Ok(FeedEvent::Reconnected) };
            let mut parts = notification.payload().split(' ').map(str::parse::<i64>);
            if let (Some(Ok(value)), Some(Ok(tree))) = (parts.next(), parts.next()) {
                return Ok(FeedEvent::Counters(value, tree));
            }
            tracing::warn!(payload = notification.payload(), "ignoring a malformed change announcement");
        }
    }
}

impl Store {
    /// Subscribes to the change channel; `None` on SQLite, which has none.
    ///
    /// # Errors
    /// When the database cannot be reached.
    pub async fn change_feed(&self) -> Result<Option<ChangeFeed>> {
        let (Dialect::Postgres, Some(url)) = (self.dialect, self.url.as_deref()) else { return Ok(None) };
        let schema: String = sqlx::query_scalar("SELECT CAST(current_schema() AS TEXT)").fetch_one(&self.pool).await?;
        let mut listener = PgListener::connect(url).await?;
        listener.listen(&channel(&schema)).await?;
        Ok(Some(ChangeFeed { listener }))
    }
}
