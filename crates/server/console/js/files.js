// The Files page: workspaces, folders with breadcrumbs, upload (file chooser or drag
// and drop, with a progress bar per file; a whole folder, chosen or dropped, with one
// bar for all of it), download, new folder, rename, move, delete, and each node's UUID
// with a copy button (the value a token scope names).

import { ApiError, call, request, treeUrl, upload } from './api.js';
import { go } from './nav.js';
import { pickNode } from './picker.js';
import { baseName, isFolder, join, listFolder, PAGE, parentOf, workspaces } from './tree.js';
import {
  clear, confirmDialog, copyButton, dateTime, h, promptDialog, relative, showError, showInfo, size, table, td,
} from './ui.js';

/** `#/files/<segments>` for a tree path. */
export function filesHash(path) {
  const segments = path.split('/').filter(Boolean);
  return `#/files${segments.map((s) => `/${encodeURIComponent(s)}`).join('')}`;
}

function uuidCell(node) {
  return h('span', { class: 'uuid' }, h('code', { text: node.Uuid }), copyButton(node.Uuid, `UUID of ${baseName(node.Path)}`));
}

/** Files of a folder upload sent at once: enough to hide each one's round trips. */
const UPLOADS_AT_ONCE = 4;

/**
 * What dropped entries hold: `{files: [{file, relative}], folders: [relative]}`, with
 * paths relative to the drop (`photos/2026/a.jpg`), empty folders included.
 */
async function readEntries(entries) {
  const files = [];
  const folders = [];
  const walk = async (entry) => {
    const relative = entry.fullPath.replace(/^\/+/, '');
    if (entry.isFile) {
      files.push({ file: await new Promise((resolve, reject) => entry.file(resolve, reject)), relative });
      return;
    }
    folders.push(relative);
    const reader = entry.createReader();
    // A folder is read in batches (100 entries in Chromium) until an empty one.
    for (;;) {
      const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
      if (batch.length === 0) return;
      for (const child of batch) await walk(child);
    }
  };
  for (const entry of entries) await walk(entry);
  return { files, folders };
}

/** Makes the folder at `path`, unless a folder is there already. */
async function ensureFolder(path) {
  try {
    await call('POST', '/a/tree/create', { Path: path, Type: 'COLLECTION' });
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 409)) throw err;
    const node = await call('GET', treeUrl('/a/tree/', path));
    if (!isFolder(node)) throw new ApiError(409, 'Conflict', `${path} is a file, not a folder`);
  }
}

/** Every folder that `files` (relative paths) and `folders` need, parents first. */
function foldersFor(files, folders) {
  const needed = new Set(folders);
  for (const { relative } of files) {
    const parts = relative.split('/').slice(0, -1);
    parts.forEach((_, i) => needed.add(parts.slice(0, i + 1).join('/')));
  }
  const depth = (folder) => folder.split('/').length;
  return [...needed].sort((a, b) => depth(a) - depth(b) || a.localeCompare(b));
}

export async function renderFiles(view, segments) {
  if (segments.length === 0) return renderWorkspaces(view);
  return renderFolder(view, `/${segments.join('/')}`);
}

async function renderWorkspaces(view) {
  const all = await workspaces();
  const rows = all.map((ws) => h(
    'tr',
    {},
    td('Workspace', h('a', { href: filesHash(ws.Path), text: baseName(ws.Path) })),
    td('UUID', uuidCell(ws)),
  ));
  clear(
    view,
    h('h1', { text: 'Files' }),
    h('p', { class: 'muted', text: 'Your workspaces: personal-files is yours alone, common-files is shared by everyone.' }),
    all.length ? table(['Workspace', 'UUID'], rows, 'Workspaces') : h('p', { class: 'empty', text: 'You may enter no workspace.' }),
  );
}

function breadcrumbs(path) {
  const parts = path.split('/').filter(Boolean);
  const items = [h('li', {}, h('a', { href: '#/files', text: 'Workspaces' }))];
  parts.forEach((part, i) => {
    const target = `/${parts.slice(0, i + 1).join('/')}`;
    items.push(h('li', {}, i === parts.length - 1
      ? h('span', { 'aria-current': 'page', text: part })
      : h('a', { href: filesHash(target), text: part })));
  });
  return h('nav', { 'aria-label': 'Breadcrumbs' }, h('ol', { class: 'crumbs' }, items));
}

async function renderFolder(view, path) {
  const first = await listFolder(path, 0, PAGE);
  const folder = first.Node;
  if (!isFolder(folder)) {
    go(filesHash(parentOf(path)));
    return;
  }
  const children = [...first.Children];
  let total = first.Pagination.Total;
  const isWorkspace = path.split('/').filter(Boolean).length === 1;

  const body = h('div', { class: 'listing' });
  const uploads = h('ul', { class: 'uploads', 'aria-label': 'Uploads', 'aria-live': 'polite' });
  const chooser = h('input', { type: 'file', multiple: true, hidden: true, id: 'upload-input', 'aria-label': 'Files to upload' });
  chooser.addEventListener('change', () => {
    sendFiles([...chooser.files]);
    chooser.value = '';
  });
  const folderChooser = h('input', { type: 'file', webkitdirectory: true, multiple: true, hidden: true, id: 'folder-input', 'aria-label': 'Folder to upload' });
  folderChooser.addEventListener('change', () => {
    const files = [...folderChooser.files].map((file) => ({ file, relative: file.webkitRelativePath || file.name }));
    folderChooser.value = '';
    if (files.length) sendFolder({ files, folders: [] });
  });

  const sendFiles = async (files) => {
    let done = 0;
    for (const file of files) {
      const bar = h('progress', { max: '100', value: '0', 'aria-label': `Upload of ${file.name}` });
      const state = h('span', { class: 'small muted', text: 'waiting' });
      uploads.append(h('li', {}, h('span', { text: file.name }), bar, state));
      try {
        state.textContent = 'uploading';
        await upload(join(path, file.name), file, (fraction) => {
          bar.value = Math.round(fraction * 100);
          state.textContent = `${Math.round(fraction * 100)} %`;
        });
        bar.value = 100;
        state.textContent = 'done';
        done += 1;
      } catch (err) {
        state.textContent = `failed: ${err.detail || err}`;
        showError(err);
      }
    }
    if (done > 0) {
      await refreshListing();
      showInfo(`${done} file${done === 1 ? '' : 's'} uploaded to ${path}.`);
    }
  };

  // A folder (or several, with files beside them): its subfolders are made first, then
  // its files go a few at a time, under one bar for all their bytes.
  const sendFolder = async ({ files, folders }) => {
    const tops = new Set([...folders, ...files.map((f) => f.relative)].map((p) => p.split('/')[0]));
    const label = tops.size === 1 ? `${[...tops][0]}/` : `${tops.size} items`;
    const total = files.reduce((sum, f) => sum + f.file.size, 0);
    const bar = h('progress', { max: String(Math.max(total, 1)), value: '0', 'aria-label': `Upload of ${label}` });
    const state = h('span', { class: 'small muted', text: 'making folders' });
    uploads.append(h('li', {}, h('span', { text: label }), bar, state));
    let done = 0;
    let doneBytes = 0;
    const sending = new Map(); // relative path -> bytes sent so far
    const failed = [];
    const show = () => {
      const sent = doneBytes + [...sending.values()].reduce((sum, n) => sum + n, 0);
      bar.value = sent;
      state.textContent = `${done} of ${files.length} files, ${size(sent)} of ${size(total)}`;
    };
    try {
      for (const folder of foldersFor(files, folders)) await ensureFolder(join(path, folder));
    } catch (err) {
      state.textContent = `failed: ${err.detail || err}`;
      showError(err);
      return;
    }
    show();
    const queue = [...files];
    const sendNext = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const { file, relative } = next;
        sending.set(relative, 0);
        try {
          await upload(join(path, relative), file, (fraction) => {
            sending.set(relative, fraction * file.size);
            show();
          });
          done += 1;
          doneBytes += file.size;
        } catch (err) {
          failed.push(relative);
          if (failed.length === 1) showError(err);
        }
        sending.delete(relative);
        show();
      }
    };
    await Promise.all(Array.from({ length: Math.min(UPLOADS_AT_ONCE, files.length) }, sendNext));
    if (failed.length) {
      state.textContent = `${done} of ${files.length} files; failed: ${failed.join(', ')}`;
    } else {
      bar.value = Math.max(total, 1);
      state.textContent = `done: ${done} of ${files.length} files, ${size(total)}`;
    }
    await refreshListing();
    if (!failed.length) showInfo(`${label} uploaded to ${path}: ${done} file${done === 1 ? '' : 's'}.`);
  };

  const refreshListing = async () => {
    const page = await listFolder(path, 0, Math.max(PAGE, children.length));
    children.splice(0, children.length, ...page.Children);
    total = page.Pagination.Total;
    drawRows();
  };

  const download = async (node) => {
    try {
      // /io needs the Authorization header, which a plain link cannot send: the file is
      // fetched, then handed to the browser as a blob. (A token in the URL is refused.)
      const response = await request('GET', treeUrl('/io/', node.Path));
      const blob = await response.blob();
      const url = URL.createObjectURL(blob);
      const link = h('a', { href: url, download: baseName(node.Path), hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (err) {
      showError(err);
    }
  };

  const rename = async (node) => {
    const name = await promptDialog(`Rename ${baseName(node.Path)}`, 'New name', baseName(node.Path), 'Rename');
    if (!name || name === baseName(node.Path)) return;
    try {
      await call('POST', '/a/tree/move', { From: node.Path, To: join(path, name) });
      await refreshListing();
      showInfo(`Renamed to ${name}.`);
    } catch (err) {
      showError(err);
    }
  };

  const move = async (node) => {
    const target = await pickNode({ title: `Move ${baseName(node.Path)} to…`, action: 'Move here' });
    if (!target) return;
    try {
      const moved = await call('POST', '/a/tree/move', { From: node.Path, To: join(target.Path, baseName(node.Path)) });
      await refreshListing();
      showInfo(`Moved to ${moved.Path}.`);
    } catch (err) {
      showError(err);
    }
  };

  const remove = async (node) => {
    const what = isFolder(node) ? `the folder ${baseName(node.Path)} and everything in it` : baseName(node.Path);
    if (!(await confirmDialog(`Delete ${baseName(node.Path)}?`, `This deletes ${what}. It cannot be undone.`))) return;
    try {
      await call('DELETE', treeUrl('/a/tree/', node.Path));
      await refreshListing();
      showInfo(`Deleted ${baseName(node.Path)}.`);
    } catch (err) {
      showError(err);
    }
  };

  const newFolder = async () => {
    const name = await promptDialog('New folder', 'Folder name', '', 'Create');
    if (!name) return;
    try {
      await call('POST', '/a/tree/create', { Path: join(path, name), Type: 'COLLECTION' });
      await refreshListing();
    } catch (err) {
      showError(err);
    }
  };

  const loadMore = async () => {
    try {
      const page = await listFolder(path, children.length, PAGE);
      children.push(...page.Children);
      total = page.Pagination.Total;
      drawRows();
    } catch (err) {
      showError(err);
    }
  };

  function drawRows() {
    if (children.length === 0) {
      clear(body, h('div', { class: 'empty' },
        h('p', { text: 'This folder is empty.' }),
        h('p', { class: 'muted', text: 'Drop files or folders here, or use Upload files, Upload folder or New folder above.' })));
      return;
    }
    const rows = children.map((node) => {
      const name = baseName(node.Path);
      const folder = isFolder(node);
      return h(
        'tr',
        {},
        td('Name', folder ? h('a', { href: filesHash(node.Path), text: `${name}/` }) : h('span', { text: name })),
        td('Size', folder ? '—' : size(node.Size)),
        td('Modified', h('span', { title: dateTime(node.MTime), text: relative(node.MTime) })),
        td('UUID', uuidCell(node)),
        h(
          'td',
          { class: 'actions-cell' },
          folder ? null : h('button', { type: 'button', class: 'small', text: 'Download', 'aria-label': `Download ${name}`, onclick: () => download(node) }),
          h('button', { type: 'button', class: 'small', text: 'Rename', 'aria-label': `Rename ${name}`, onclick: () => rename(node) }),
          h('button', { type: 'button', class: 'small', text: 'Move', 'aria-label': `Move ${name}`, onclick: () => move(node) }),
          h('button', { type: 'button', class: 'small danger', text: 'Delete', 'aria-label': `Delete ${name}`, onclick: () => remove(node) }),
        ),
      );
    });
    const more = children.length < total
      ? h('p', {}, `Showing ${children.length} of ${total}. `, h('button', { type: 'button', text: 'Show more', onclick: loadMore }))
      : null;
    clear(body, table(['Name', 'Size', 'Modified', 'UUID', ''], rows, `Contents of ${path}`), more);
  }

  const zone = h('section', { class: 'drop', 'aria-label': 'Folder contents' }, body, h('p', { class: 'drop-hint', text: 'Drag and drop files or folders here to upload them.' }));
  let depth = 0;
  zone.addEventListener('dragenter', (e) => { e.preventDefault(); depth += 1; zone.classList.add('over'); });
  zone.addEventListener('dragover', (e) => { e.preventDefault(); e.dataTransfer.dropEffect = 'copy'; });
  zone.addEventListener('dragleave', () => { depth -= 1; if (depth <= 0) { depth = 0; zone.classList.remove('over'); } });
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    depth = 0;
    zone.classList.remove('over');
    // The entries are taken now: a drop's data is gone once its handler returns.
    const items = [...(e.dataTransfer ? e.dataTransfer.items : [])];
    const entries = items.map((item) => (item.webkitGetAsEntry ? item.webkitGetAsEntry() : null)).filter(Boolean);
    if (entries.some((entry) => entry.isDirectory)) {
      readEntries(entries).then(sendFolder, showError);
      return;
    }
    const files = [...(e.dataTransfer ? e.dataTransfer.files : [])];
    if (files.length) sendFiles(files);
  });

  drawRows();
  clear(
    view,
    breadcrumbs(path),
    h('div', { class: 'page-head' }, h('h1', { text: baseName(path) }), h('span', { class: 'uuid small muted' }, 'Folder UUID ', uuidCell(folder))),
    h('div', { class: 'toolbar' },
      h('button', { type: 'button', class: 'primary', text: 'Upload files', onclick: () => chooser.click() }),
      chooser,
      h('button', { type: 'button', text: 'Upload folder', onclick: () => folderChooser.click() }),
      folderChooser,
      h('button', { type: 'button', text: 'New folder', onclick: newFolder }),
      h('span', { class: 'grow' }),
      isWorkspace ? null : h('a', { class: 'button', href: filesHash(parentOf(path)), text: 'Up one level' })),
    uploads,
    zone,
  );
}
