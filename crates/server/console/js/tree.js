// Reading the tree through the REST API: workspaces, folder listings, nodes by UUID.
// Shared by the Files page, the scope picker and the token table.

import { ApiError, call, treeUrl } from './api.js';

export const PAGE = 500;

/** The workspaces the caller may enter: nodes like `{Uuid, Path: "/common-files"}`. */
export async function workspaces() {
  const answer = await call('GET', '/a/tree/');
  return answer.Children;
}

/** One page of a folder: `{Node, Children, Pagination}`. */
export function listFolder(path, offset = 0, limit = PAGE) {
  return call('GET', `${treeUrl('/a/tree/', path)}?children=true&offset=${offset}&limit=${limit}`);
}

export function baseName(path) {
  const parts = path.split('/').filter(Boolean);
  return parts[parts.length - 1] || '/';
}

export function parentOf(path) {
  const parts = path.split('/').filter(Boolean);
  return `/${parts.slice(0, -1).join('/')}`;
}

export function join(folder, name) {
  return `${folder.replace(/\/+$/, '')}/${name}`;
}

export const isFolder = (node) => node.Type === 'COLLECTION';

// Node UUID -> Promise of its path (or null when the caller cannot see it), so that a
// table of tokens naming the same folder asks once.
const paths = new Map();

/** The path of the node `uuid` as the caller sees it, or null when hidden from them. */
export function pathOf(uuid) {
  if (!paths.has(uuid)) {
    const lookup = call('GET', `/a/nodes/${encodeURIComponent(uuid)}`)
      .then((node) => node.Path)
      .catch((err) => {
        paths.delete(uuid);
        if (err instanceof ApiError && (err.status === 404 || err.status === 403)) return null;
        throw err;
      });
    paths.set(uuid, lookup);
  }
  return paths.get(uuid);
}

export function forgetPaths() {
  paths.clear();
}
