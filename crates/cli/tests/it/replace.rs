//! Replacing a file in one step: WebDAV's `Overwrite: T` (MOVE and COPY) and SFTP's
//! POSIX rename delete the destination in the same transaction as the write, so a
//! reader polling the destination never finds it missing, and a replacement refused
//! leaves it as it was.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::dav::{dav, destination};
use crate::sftp::Fixture;
use crate::support::{Session, TestServer};

/// Reads `path` over `/io` until told to stop; counts the answers that were not 200.
struct Reader {
    stop: Arc<AtomicBool>,
    reads: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<Vec<u16>>,
}

impl Reader {
    fn start(session: &Session, path: &'static str) -> Self {
        let (stop, reads) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
        let (session, flag, count) = (session.clone(), stop.clone(), reads.clone());
        let task = tokio::spawn(async move {
            let mut missed = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                let status = session.download(path).await.status;
                count.fetch_add(1, Ordering::Relaxed);
                if status != 200 {
                    missed.push(status);
                }
            }
            missed
        });
        Self { stop, reads, task }
    }

    /// Waits until the reader has made one more read, so that reads go on all along the
    /// writes however slow either is.
    async fn one_more_read(&self) {
        let seen = self.reads.load(Ordering::Relaxed);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while self.reads.load(Ordering::Relaxed) == seen {
            assert!(std::time::Instant::now() < deadline, "the reader made no read in 10 s");
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }

    /// Stops, and checks that it made at least `at_least` reads (one per round of
    /// writes) and that every one found the file.
    async fn finish(self, at_least: usize) {
        self.stop.store(true, Ordering::Relaxed);
        let missed = self.task.await.expect("reader");
        let reads = self.reads.load(Ordering::Relaxed);
        assert!(reads >= at_least, "a read at least per round of writes ({reads} reads)");
        assert!(
            missed.is_empty(),
            "the destination was missing {} times in {reads} reads (first: {:?})",
            missed.len(),
            &missed[..missed.len().min(3)]
        );
    }
}

const ROUNDS: usize = 40;
/// SFTP batches the rounds are sent in.
const BATCHES: usize = 8;

// Two worker threads: the reader runs beside the writes, not only between them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webdav_overwrite_replaces_in_one_step() {
    let server = TestServer::start();
    let admin = server.admin().await;
    let rest = server.user(&admin, "alice", "alice-password").await;
    let alice = server.basic("alice", &server.pat("alice", &["-a", "1h"]));
    dav(&alice, "PUT", "/personal-files/target.txt", &[], b"v0").await.expect(201);
    let to = destination(&server, "/personal-files/target.txt");

    let reader = Reader::start(&rest, "/personal-files/target.txt");
    for round in 1..=ROUNDS {
        let content = format!("v{round}");
        dav(&alice, "PUT", "/personal-files/src.txt", &[], content.as_bytes()).await.expect(201);
        if round % 2 == 0 {
            dav(&alice, "MOVE", "/personal-files/src.txt", &[("Destination", &to)], b"").await.expect(204);
        } else {
            dav(&alice, "COPY", "/personal-files/src.txt", &[("Destination", &to)], b"").await.expect(204);
            dav(&alice, "DELETE", "/personal-files/src.txt", &[], b"").await.expect(204);
        }
        reader.one_more_read().await;
    }
    reader.finish(ROUNDS).await;
    assert_eq!(rest.download("/personal-files/target.txt").await.expect(200).text(), format!("v{ROUNDS}"));
    assert_eq!(rest.names("/personal-files").await, ["target.txt"], "nothing left beside it");

    // Refused (a folder replaced by a file inside it): both stay as they were.
    dav(&alice, "MKCOL", "/personal-files/box", &[], b"").await.expect(201);
    dav(&alice, "PUT", "/personal-files/box/inner.txt", &[], b"inner").await.expect(201);
    let onto_parent = destination(&server, "/personal-files/box");
    let refused = dav(&alice, "MOVE", "/personal-files/box/inner.txt", &[("Destination", &onto_parent)], b"").await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert_eq!(rest.download("/personal-files/box/inner.txt").await.expect(200).text(), "inner");
}

// Two worker threads: the reader runs while the batch blocks one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sftp_posix_rename_replaces_in_one_step() {
    let fx = Fixture::new().await;
    fx.alice.upload("/personal-files/target.bin", "v0").await.expect(201);
    let reader = Reader::start(&fx.alice, "/personal-files/target.bin");
    // In batches, with a read between each: reads go on all along however slow either is.
    for batch in 0..BATCHES {
        let mut commands = String::new();
        for round in batch * ROUNDS / BATCHES + 1..=(batch + 1) * ROUNDS / BATCHES {
            std::fs::write(fx.dir().join(format!("v{round}")), format!("v{round}")).unwrap();
            commands.push_str(&format!(
                "put v{round} /personal-files/tmp.bin\nrename /personal-files/tmp.bin /personal-files/target.bin\n"
            ));
        }
        tokio::task::block_in_place(|| fx.batch(&commands)).expect_ok();
        reader.one_more_read().await;
    }
    reader.finish(BATCHES).await;
    assert_eq!(fx.alice.download("/personal-files/target.bin").await.expect(200).text(), format!("v{ROUNDS}"));
    assert_eq!(fx.alice.names("/personal-files").await, ["target.bin"]);

    // A file over a folder, or a folder over a file: refused, and both stay.
    fx.alice.mkdir("/personal-files/box").await.expect(201);
    fx.alice.upload("/personal-files/box/inner.bin", "inner").await.expect(201);
    for (from, to) in [("target.bin", "box"), ("box", "target.bin")] {
        let batch = fx.batch(&format!("rename /personal-files/{from} /personal-files/{to}\n"));
        assert!(!batch.ok(), "rename {from} over {to} is refused: {}", batch.stdout());
        assert_eq!(fx.alice.download("/personal-files/target.bin").await.expect(200).text(), format!("v{ROUNDS}"));
        assert_eq!(fx.alice.download("/personal-files/box/inner.bin").await.expect(200).text(), "inner");
    }
}
