// The node picker: a dialog that browses the caller's workspaces and folders and
// resolves with the node chosen (`{Uuid, Path, Type}`), or null. The token form uses it
// to pick scopes, the Files page to pick where a node moves.

import { baseName, isFolder, listFolder, PAGE, workspaces } from './tree.js';
import { append, clear, errorBox, h, modal, td, table } from './ui.js';

/**
 * Options: `title`, `files` (files can be chosen, not only folders), `hideWorkspaces`
 * (slugs not to offer, e.g. the admin's own `personal-files` when the token is for
 * someone else), `note` (a line under the title).
 */
export function pickNode({ title, files = false, hideWorkspaces = [], note, action = 'Choose' }) {
  return modal(
    (dialog, close, heading) => {
      const error = errorBox();
      const crumbs = h('ol', { class: 'crumbs', 'aria-label': 'Folder' });
      const list = h('div', { class: 'picker-list' });
      const here = h('button', { type: 'button', class: 'primary', hidden: true });
      let current = null;

      const chooseButton = (node) => h('button', {
        type: 'button',
        class: 'small',
        text: action,
        'aria-label': `${action} ${node.Path}`,
        onclick: () => close(node),
      });

      const show = async (path) => {
        error.reset();
        // Nothing can be chosen until the folder asked for is the one shown.
        here.hidden = true;
        current = null;
        clear(list, h('p', { class: 'loading', text: 'Loading…' }));
        try {
          let nodes;
          if (path === '/') {
            current = null;
            nodes = (await workspaces()).filter((w) => !hideWorkspaces.includes(baseName(w.Path)));
          } else {
            const page = await listFolder(path, 0, PAGE);
            current = page.Node;
            nodes = page.Children.filter((n) => files || isFolder(n));
          }
          renderCrumbs(path);
          here.hidden = !current;
          if (current) {
            here.textContent = `${action} this folder`;
            here.setAttribute('aria-label', `${action} this folder: ${current.Path}`);
          }
          if (nodes.length === 0) {
            clear(list, h('p', { class: 'empty', text: files ? 'Nothing in this folder.' : 'No folders in here.' }));
            return;
          }
          const rows = nodes.map((node) => h(
            'tr',
            {},
            td('Name', isFolder(node)
              ? h('button', { type: 'button', class: 'link', text: `${baseName(node.Path)}/`, onclick: () => show(node.Path) })
              : h('span', { text: baseName(node.Path) })),
            h('td', { class: 'actions-cell' }, chooseButton(node)),
          ));
          clear(list, table(['Name', ''], rows, 'Folders'));
        } catch (err) {
          clear(list);
          error.show(err);
        }
      };

      const renderCrumbs = (path) => {
        const parts = path.split('/').filter(Boolean);
        const items = [h('li', {}, h('button', { type: 'button', class: 'link', text: 'Workspaces', onclick: () => show('/') }))];
        parts.forEach((part, i) => {
          const target = `/${parts.slice(0, i + 1).join('/')}`;
          items.push(h('li', {}, i === parts.length - 1
            ? h('span', { 'aria-current': 'location', text: part })
            : h('button', { type: 'button', class: 'link', text: part, onclick: () => show(target) })));
        });
        clear(crumbs, items);
      };

      here.addEventListener('click', () => close(current));
      // Not the DOM's own append, which would write an absent note as the text "null".
      append(
        dialog,
        heading(title),
        note ? h('p', { class: 'muted small', text: note }) : null,
        crumbs,
        error,
        list,
        h('div', { class: 'actions' }, h('button', { type: 'button', text: 'Cancel', onclick: () => close(null) }), here),
      );
      show('/');
    },
  );
}
