//! rclone's SFTP remote (the Go SSH stack, many requests in flight) copies a tree up to
//! cells and back, byte-identical.

use std::path::Path;
use std::process::Command;

use crate::sftp::Fixture;
use crate::support::{files_under, random_bytes};

fn rclone(fx: &Fixture, config: &Path, args: &[&str]) {
    let mut obscure = Command::new("rclone")
        .args(["obscure", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("rclone (Debian: rclone)");
    std::io::Write::write_all(&mut obscure.stdin.take().unwrap(), fx.token.as_bytes()).unwrap();
    let pass = String::from_utf8(obscure.wait_with_output().unwrap().stdout).unwrap().trim().to_owned();
    let output = Command::new("rclone")
        .arg("--config")
        .arg(config)
        .args(args)
        .env("RCLONE_CONFIG_CELLS_TYPE", "sftp")
        .env("RCLONE_CONFIG_CELLS_HOST", "127.0.0.1")
        .env("RCLONE_CONFIG_CELLS_PORT", fx.server.sftp_port().to_string())
        .env("RCLONE_CONFIG_CELLS_USER", "alice")
        .env("RCLONE_CONFIG_CELLS_PASS", pass)
        // No shell on this server: rclone must not try one for hashes or disk usage.
        .env("RCLONE_CONFIG_CELLS_SHELL_TYPE", "none")
        .output()
        .expect("rclone");
    assert!(
        output.status.success(),
        "rclone {args:?} failed ({:?}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn rclone_copies_a_tree_up_and_back_byte_identical() {
    let fx = Fixture::new().await;
    let up = fx.dir().join("up");
    for (i, name) in
        ["a.txt", "sub dir/b #2.bin", "sub dir/deeper/ü 100%.dat", "empty/zero", "big.bin"].iter().enumerate()
    {
        let path = up.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let len = match *name {
            "empty/zero" => 0,
            "big.bin" => 9 * 1024 * 1024 + 7,
            _ => 1000 * (i + 1),
        };
        std::fs::write(&path, random_bytes(len, i as u64 + 10)).unwrap();
    }
    let config = fx.dir().join("rclone.conf");
    std::fs::write(&config, "").unwrap();

    rclone(&fx, &config, &["copy", up.to_str().unwrap(), "cells:personal-files/backup"]);
    let big = fx.alice.download("/personal-files/backup/big.bin").await.expect(200);
    assert_eq!(big.body.len(), 9 * 1024 * 1024 + 7);
    // rclone sets the source's modification time after the upload (setstat).
    let local_mtime = std::fs::metadata(up.join("big.bin")).unwrap().modified().unwrap();
    let local_mtime = local_mtime.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let node = fx.alice.stat("/personal-files/backup/big.bin").await.expect(200).json();
    assert_eq!(node["MTime"].as_u64(), Some(local_mtime), "{node}");

    let back = fx.dir().join("back");
    rclone(&fx, &config, &["copy", "cells:personal-files/backup", back.to_str().unwrap()]);
    assert_eq!(files_under(&back), files_under(&up), "the tree came back different");

    // A second copy up finds nothing to change and still succeeds.
    rclone(&fx, &config, &["copy", up.to_str().unwrap(), "cells:personal-files/backup"]);
    assert_eq!(fx.alice.names("/personal-files/backup").await, vec!["a.txt", "big.bin", "empty", "sub dir"]);
}
