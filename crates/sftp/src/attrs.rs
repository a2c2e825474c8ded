//! How nodes look to an SFTP client: file attributes (type, size, times, mode bits) and
//! the `ls -l` style long names of a listing. Ownership is not a cells notion: every
//! node shows the caller as owner. Mode bits are informative; what a caller may do is
//! decided by the access service on every request.

use cells_core::NodeKind;
use cells_service::NodeRecord;
use russh_sftp::protocol::{File, FileAttributes};

const DIR: u32 = 0o040_000;
const REG: u32 = 0o100_000;

fn unix_u32(time: i64) -> u32 {
    u32::try_from(time.max(0)).unwrap_or(u32::MAX)
}

/// The attributes of a node.
#[must_use]
pub fn of_node(node: &NodeRecord) -> FileAttributes {
    let (kind, mode) = match node.kind {
        NodeKind::Collection => (DIR, 0o755),
        NodeKind::Leaf => (REG, 0o644),
    };
    let time = unix_u32(node.mtime);
    FileAttributes {
        size: Some(u64::try_from(node.size).unwrap_or(0)),
        uid: Some(0),
        gid: Some(0),
        user: None,
        group: None,
        permissions: Some(kind | mode),
        atime: Some(time),
        mtime: Some(time),
    }
}

/// The attributes of `/`, the read-only folder of workspaces.
#[must_use]
pub fn of_root() -> FileAttributes {
    FileAttributes {
        size: Some(0),
        uid: Some(0),
        gid: Some(0),
        user: None,
        group: None,
        permissions: Some(DIR | 0o555),
        atime: Some(0),
        mtime: Some(0),
    }
}

/// A listing entry: the name, its long form for `ls -l`, its attributes.
#[must_use]
pub fn entry(name: &str, attrs: FileAttributes, owner: &str) -> File {
    let mut attrs = attrs;
    attrs.user = Some(owner.to_owned());
    attrs.group = Some(owner.to_owned());
    let mut file = File::new(name, attrs);
    // `user` and `group` only fill the long name; the wire carries numeric ids.
    file.attrs.user = None;
    file.attrs.group = None;
    file
}

#[cfg(test)]
mod tests {
    use super::*;
    use cells_core::{NodeId, WorkspaceId};

    fn view(kind: NodeKind, size: i64) -> NodeRecord {
        NodeRecord {
            id: NodeId::random(),
            workspace: WorkspaceId::random(),
            parent: None,
            path: "a".into(),
            name: "a".into(),
            kind,
            size,
            mtime: 1_700_000_000,
            etag: "e".into(),
            blob: None,
        }
    }

    #[test]
    fn files_and_folders_have_their_types_sizes_and_times() {
        let file = of_node(&view(NodeKind::Leaf, 12));
        assert!(file.is_regular() && !file.is_dir());
        assert_eq!((file.size, file.mtime), (Some(12), Some(1_700_000_000)));
        let folder = of_node(&view(NodeKind::Collection, 0));
        assert!(folder.is_dir());
        assert!(of_root().is_dir());
    }

    #[test]
    fn long_names_read_like_ls() {
        let file = entry("report 1.pdf", of_node(&view(NodeKind::Leaf, 12)), "alice");
        assert!(file.longname.starts_with("-rw-r--r-- "), "{}", file.longname);
        assert!(file.longname.contains(" alice alice 12 "), "{}", file.longname);
        assert!(file.longname.ends_with(" report 1.pdf"), "{}", file.longname);
        assert_eq!(file.attrs.user, None);
    }
}
