//! One SFTP session: the requests of one authenticated principal, answered through the
//! access service. Each request is one [`Cells`] call (or a few); no rule about who may
//! do what is decided here. Requests are answered in the order they came, one at a time,
//! which keeps the writes of one file in order.

use std::collections::HashMap;

use bytes::Bytes;
use cells_core::NodeKind;
use cells_service::{Cells, Existing, Principal, ServiceError};
use russh_sftp::protocol::{
    Attrs, ExtendedReply, File, FileAttributes, Handle, Name, OpenFlags, Packet, StatusCode, Version,
};

use crate::attrs;
use crate::budget::Held;
use crate::files::{Folder, ReadFile, WriteFile, WriteMode};
use crate::paths::Target;
use crate::status::{Refusal, encode, ok, refused};
use crate::wire::{self, POSIX_RENAME};

/// Open handles one session may hold.
pub const MAX_HANDLES: usize = 256;

const LIMITS: &str = "limits@openssh.com";

enum Opened {
    Read(ReadFile),
    Write(Box<WriteFile>),
    Folder(Folder),
}

pub struct SftpSession {
    cells: Cells,
    principal: Principal,
    handles: HashMap<String, Opened>,
    next_handle: u64,
}

type Answer = Result<Packet, Refusal>;

fn resolve(text: &str) -> Result<Target, Refusal> {
    Ok(Target::resolve(text)?)
}

fn tree(text: &str) -> Result<cells_core::TreePath, Refusal> {
    match resolve(text)? {
        Target::Root => Err(Refusal::new(StatusCode::PermissionDenied, "/ lists the workspaces: it is read-only")),
        Target::Tree(path) => Ok(path),
    }
}

impl SftpSession {
    pub fn new(cells: Cells, principal: Principal) -> Self {
        Self { cells, principal, handles: HashMap::new(), next_handle: 1 }
    }

    /// Answers one request (a packet without its length), encoded with its length.
    /// `held` is the request's count in the connection's budget: a write kept ahead of
    /// its file keeps it, any other request gives it back by the end.
    pub async fn answer(&mut self, packet: Bytes, held: Held) -> Bytes {
        let id = wire::request_id(&packet);
        if packet.first() == Some(&wire::FXP_WRITE) {
            let answer = match wire::parse_write(packet) {
                Some(write) => self.write(write, held).await,
                None => Err(Refusal::bad_message("malformed write request")),
            };
            return encode(answer.unwrap_or_else(|refusal| refused(id, &refusal)));
        }
        if !wire::paths_are_utf8(&packet) {
            return encode(refused(id, &Refusal::not_utf8()));
        }
        let answer = match Packet::try_from(&mut packet.clone()) {
            Ok(Packet::Read(r)) => match self.read(&r.handle, r.offset, r.len).await {
                Ok(chunks) => return wire::data_packet(r.id, &chunks),
                Err(refusal) => Err(refusal),
            },
            Ok(request) => self.dispatch(request).await,
            Err(err) => {
                tracing::debug!(error = %err, "malformed SFTP request");
                Err(Refusal::bad_message("malformed request"))
            }
        };
        match answer {
            Ok(packet) => encode(packet),
            Err(refusal) => encode(refused(id, &refusal)),
        }
    }

    async fn dispatch(&mut self, request: Packet) -> Answer {
        match request {
            Packet::Init(_) => Ok(Packet::Version(version())),
            Packet::RealPath(r) => {
                let shown = resolve(&r.path)?.display();
                Ok(Packet::Name(Name { id: r.id, files: vec![File::dummy(shown)] }))
            }
            Packet::Stat(s) => self.stat(s.id, &s.path).await,
            Packet::Lstat(s) => self.stat(s.id, &s.path).await,
            Packet::Fstat(s) => self.fstat(s.id, &s.handle),
            Packet::OpenDir(o) => self.open_dir(o.id, &o.path).await,
            Packet::ReadDir(r) => self.read_dir(r.id, &r.handle).await,
            Packet::Open(o) => self.open(o.id, &o.filename, o.pflags).await,
            Packet::Close(c) => self.close(c.id, &c.handle).await,
            Packet::MkDir(m) => {
                self.cells.create(&self.principal, &tree(&m.path)?, NodeKind::Collection).await?;
                Ok(ok(m.id))
            }
            Packet::RmDir(r) => self.remove(r.id, &r.path, NodeKind::Collection).await,
            Packet::Remove(r) => self.remove(r.id, &r.filename, NodeKind::Leaf).await,
            Packet::Rename(r) => {
                self.cells.move_node(&self.principal, &tree(&r.oldpath)?, &tree(&r.newpath)?, Existing::Refuse).await?;
                Ok(ok(r.id))
            }
            // Of the attributes, only the mtime is kept; modes, owners and times of
            // access are the server's (see docs/sftp.md).
            Packet::SetStat(s) => {
                match (resolve(&s.path)?, s.attrs.mtime) {
                    (Target::Tree(path), Some(mtime)) => {
                        self.cells.set_mtime(&self.principal, &path, i64::from(mtime)).await?;
                    }
                    (target, _) => {
                        self.stat(s.id, &target.display()).await?;
                    }
                }
                Ok(ok(s.id))
            }
            Packet::FSetStat(s) => {
                match (self.handles.get_mut(&s.handle), s.attrs.mtime) {
                    (Some(Opened::Write(file)), Some(mtime)) => file.mtime = Some(i64::from(mtime)),
                    (Some(Opened::Read(file)), Some(mtime)) => {
                        let path = file.path.clone();
                        self.cells.set_mtime(&self.principal, &path, i64::from(mtime)).await?;
                    }
                    (Some(_), _) => {}
                    (None, _) => return Err(Refusal::no_such_handle()),
                }
                Ok(ok(s.id))
            }
            Packet::ReadLink(_) | Packet::Symlink(_) => Err(Refusal::symlinks()),
            Packet::Extended(e) => self.extended(e.id, &e.request, &e.data).await,
            Packet::Read(_) | Packet::Write(_) => Err(Refusal::bad_message("malformed request")),
            Packet::Version(_)
            | Packet::Status(_)
            | Packet::Handle(_)
            | Packet::Data(_)
            | Packet::Name(_)
            | Packet::Attrs(_)
            | Packet::ExtendedReply(_) => Err(Refusal::bad_message("a server answer is not a request")),
        }
    }

    fn new_handle(&mut self, opened: Opened) -> Result<String, Refusal> {
        if self.handles.len() >= MAX_HANDLES {
            return Err(Refusal::failure(format!("too many open handles (at most {MAX_HANDLES})")));
        }
        let handle = self.next_handle.to_string();
        self.next_handle += 1;
        self.handles.insert(handle.clone(), opened);
        Ok(handle)
    }

    async fn stat(&self, id: u32, path: &str) -> Answer {
        let attrs = match resolve(path)? {
            Target::Root => attrs::of_root(),
            Target::Tree(path) => attrs::of_node(&self.cells.stat(&self.principal, &path).await?.node),
        };
        Ok(Packet::Attrs(Attrs { id, attrs }))
    }

    fn fstat(&self, id: u32, handle: &str) -> Answer {
        let attrs = match self.handles.get(handle).ok_or_else(Refusal::no_such_handle)? {
            Opened::Read(file) => attrs::of_node(&file.node),
            Opened::Write(file) => {
                FileAttributes { size: Some(file.size()), permissions: Some(0o100_644), ..FileAttributes::default() }
            }
            Opened::Folder(_) => attrs::of_root(),
        };
        Ok(Packet::Attrs(Attrs { id, attrs }))
    }

    async fn open_dir(&mut self, id: u32, path: &str) -> Answer {
        let folder = match resolve(path)? {
            Target::Root => {
                let owner = self.principal.login.as_str();
                let roots = self.cells.list_workspaces(&self.principal).await?;
                let entries =
                    roots.iter().map(|r| attrs::entry(r.path.workspace(), attrs::of_node(&r.node), owner)).collect();
                Folder::Root(Some(entries))
            }
            Target::Tree(path) => {
                let view = self.cells.stat(&self.principal, &path).await?;
                if view.node.kind != NodeKind::Collection {
                    return Err(Refusal::failure(format!("{path} is a file, not a folder")));
                }
                Folder::Tree { path, offset: 0 }
            }
        };
        let handle = self.new_handle(Opened::Folder(folder))?;
        Ok(Packet::Handle(Handle { id, handle }))
    }

    async fn read_dir(&mut self, id: u32, handle: &str) -> Answer {
        let Some(Opened::Folder(folder)) = self.handles.get_mut(handle) else {
            return Err(Refusal::no_such_handle());
        };
        let files = folder.next_page(&self.cells, &self.principal).await?;
        Ok(Packet::Name(Name { id, files }))
    }

    async fn open(&mut self, id: u32, filename: &str, flags: OpenFlags) -> Answer {
        let path = tree(filename)?;
        let opened = if flags.intersects(OpenFlags::WRITE | OpenFlags::APPEND) {
            let located = self.cells.locate(&self.principal, &path).await?;
            let existing = located.node.as_ref();
            if existing.is_some_and(|n| n.kind == NodeKind::Collection) {
                return Err(Refusal::failure(format!("{path} is a folder")));
            }
            if existing.is_some() && flags.contains(OpenFlags::CREATE | OpenFlags::EXCLUDE) {
                return Err(Refusal::failure(format!("{path} already exists")));
            }
            if existing.is_none() && !flags.contains(OpenFlags::CREATE) {
                return Err(Refusal::new(StatusCode::NoSuchFile, format!("{path} does not exist")));
            }
            let keep =
                existing.filter(|_| !flags.contains(OpenFlags::TRUNCATE)).map(|n| u64::try_from(n.size).unwrap_or(0));
            let upload = self.cells.begin_upload(&self.principal, &path).await?;
            let mode = WriteMode { keep, append: flags.contains(OpenFlags::APPEND) };
            Opened::Write(Box::new(WriteFile::new(path, upload, mode)))
        } else {
            let view = self.cells.open_file(&self.principal, &path).await.map_err(|err| match err {
                ServiceError::Conflict(_) => Refusal::failure(format!("{path} is a folder")),
                other => other.into(),
            })?;
            Opened::Read(ReadFile { path, node: view.node })
        };
        let handle = self.new_handle(opened)?;
        Ok(Packet::Handle(Handle { id, handle }))
    }

    async fn read(&self, handle: &str, offset: u64, len: u32) -> Result<Vec<Bytes>, Refusal> {
        match self.handles.get(handle) {
            Some(Opened::Read(file)) => file.read(&self.cells, &self.principal, offset, len).await,
            Some(Opened::Write(_)) => Err(Refusal::unsupported("this file is open for writing: open it again to read")),
            Some(Opened::Folder(_)) | None => Err(Refusal::no_such_handle()),
        }
    }

    async fn write(&mut self, write: wire::Write, held: Held) -> Answer {
        let handle = std::str::from_utf8(&write.handle).map_err(|_| Refusal::no_such_handle())?;
        let Some(Opened::Write(file)) = self.handles.get_mut(handle) else {
            return Err(Refusal::no_such_handle());
        };
        let written = file.write(&self.cells, &self.principal, write.offset, write.data, held).await;
        if written.is_err() {
            // A failed write leaves a file that cannot be completed: drop it now.
            self.handles.remove(handle);
        }
        written?;
        Ok(ok(write.id))
    }

    async fn close(&mut self, id: u32, handle: &str) -> Answer {
        match self.handles.remove(handle).ok_or_else(Refusal::no_such_handle)? {
            Opened::Write(file) => {
                file.close(&self.cells, &self.principal).await?;
            }
            Opened::Read(_) | Opened::Folder(_) => {}
        }
        Ok(ok(id))
    }

    async fn remove(&self, id: u32, path: &str, kind: NodeKind) -> Answer {
        let path = tree(path)?;
        let view = self.cells.stat(&self.principal, &path).await?;
        match (kind, view.node.kind) {
            (NodeKind::Leaf, NodeKind::Collection) => {
                return Err(Refusal::failure(format!("{path} is a folder: remove it with rmdir")));
            }
            (NodeKind::Collection, NodeKind::Leaf) => {
                return Err(Refusal::failure(format!("{path} is a file, not a folder")));
            }
            (NodeKind::Collection, NodeKind::Collection) => {
                let (_, children, _) = self.cells.list(&self.principal, &path, 0, 1).await?;
                if !children.is_empty() {
                    return Err(Refusal::failure(format!("{path} is not empty")));
                }
            }
            (NodeKind::Leaf, NodeKind::Leaf) => {}
        }
        self.cells.delete(&self.principal, &path).await?;
        Ok(ok(id))
    }

    async fn extended(&self, id: u32, request: &str, data: &[u8]) -> Answer {
        match request {
            POSIX_RENAME => {
                let (from, to) =
                    wire::parse_two_strings(data).ok_or_else(|| Refusal::bad_message("malformed rename"))?;
                let (from, to) = (tree(&from)?, tree(&to)?);
                if from == to {
                    self.cells.stat(&self.principal, &from).await?;
                    return Ok(ok(id));
                }
                // POSIX rename replaces a file by a file, in one step (the service checks
                // the right to delete it); anything else already there is a failure.
                match self.cells.move_node(&self.principal, &from, &to, Existing::ReplaceFile).await {
                    Err(ServiceError::Conflict(detail)) => Err(Refusal::failure(detail)),
                    moved => {
                        moved?;
                        Ok(ok(id))
                    }
                }
            }
            LIMITS => Ok(Packet::ExtendedReply(ExtendedReply { id, data: wire::limits(MAX_HANDLES as u64) })),
            other => Err(Refusal::unsupported(format!("the extension {other:?} is not supported"))),
        }
    }
}

fn version() -> Version {
    let mut version = Version::new();
    version.extensions.insert(POSIX_RENAME.to_owned(), "1".to_owned());
    version.extensions.insert(LIMITS.to_owned(), "1".to_owned());
    version
}
