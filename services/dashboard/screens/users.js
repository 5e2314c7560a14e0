// /users and /groups: the built-in directory (users, their roles and groups).

import * as api from '../api.js';
import { h, add, replace, table, yesNo, splitList, confirmDialog } from '../dom.js';
import { Form, busy } from '../forms.js';

const ROLES = [
  ['admin', 'admin — full access'],
  ['viewer', 'viewer — read-only dashboard'],
  ['user', 'user — SSO sign-in only'],
];

export async function render(root, ctx) {
  let users = [];
  let groups = [];
  const userList = h('div', {});
  const groupList = h('div', {});
  const panel = h('div', {});
  const groupPanel = h('div', {});
  const userStatus = h('p', { class: 'count', role: 'status' });
  const groupStatus = h('p', { class: 'count', role: 'status' });
  const userAlert = h('div', { class: 'alert', role: 'alert', hidden: true });
  const groupAlert = h('div', { class: 'alert', role: 'alert', hidden: true });
  const groupsHeading = h('h2', { id: 'groups', tabindex: '-1' }, 'Groups');
  if (location.pathname === '/groups') groupsHeading.dataset.focusFirst = '';

  add(root, 
    h('h1', { tabindex: '-1' }, 'Users and groups'),
    h('p', { class: 'lead' }, 'The built-in directory: who may use the dashboard (admin, viewer) and who may sign in to routes protected by the built-in SSO provider.'),
    h(
      'section',
      { 'aria-labelledby': 'users-heading' },
      h(
        'div',
        { class: 'screen-head' },
        h('h2', { id: 'users-heading' }, 'Users'),
        ctx.canWrite ? h('button', { type: 'button', on: { click: () => openUserForm(null) } }, 'New user') : null,
      ),
      userAlert,
      userStatus,
      userList,
      panel,
    ),
    h(
      'section',
      { 'aria-labelledby': 'groups' },
      h('div', { class: 'screen-head' }, groupsHeading),
      h('p', { class: 'lead' }, 'Routes can admit only members of some groups (“Allowed groups”).'),
      groupAlert,
      groupStatus,
      groupList,
      groupPanel,
    ),
  );

  async function load() {
    [users, groups] = await Promise.all([
      api.get('/api/auth/users').then((d) => d.users),
      api.get('/api/auth/groups').then((d) => d.groups),
    ]);
    drawUsers();
    drawGroups();
  }

  function drawUsers() {
    const columns = ['Username', 'Display name', 'Email', 'Role', 'Groups', 'Enabled'];
    if (ctx.canWrite) columns.push('Actions');
    const rows = users.map((u) => {
      const cells = [
        h('span', {}, u.username, u.id === ctx.session.userId ? h('span', { class: 'badge' }, 'you') : null),
        u.displayName || '—',
        u.email || '—',
        h('span', { class: `badge role-${u.role}` }, u.role),
        u.groups.length ? u.groups.join(', ') : '—',
        yesNo(!u.disabled),
      ];
      if (ctx.canWrite)
        cells.push(
          h(
            'div',
            { class: 'row-actions' },
            h('button', { type: 'button', class: 'small secondary', 'aria-label': `Edit ${u.username}`, on: { click: () => openUserForm(u) } }, 'Edit'),
            h('button', { type: 'button', class: 'small secondary', 'aria-label': `Set password of ${u.username}`, on: { click: () => openPasswordForm(u) } }, 'Set password'),
            // Deleting yourself is refused by the server (cannot_delete_self): not offered.
            u.id === ctx.session.userId
              ? null
              : h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete ${u.username}`, on: { click: () => removeUser(u) } }, 'Delete'),
          ),
        );
      return cells;
    });
    replace(userList, table('Users', columns, rows, { emptyText: 'No users.' }));
  }

  function drawGroups() {
    const columns = ['Name', 'Description', 'Members'];
    if (ctx.canWrite) columns.push('Actions');
    const rows = groups.map((g) => {
      const members = users.filter((u) => u.groups.includes(g.name)).map((u) => u.username);
      const cells = [g.name, g.description || '—', members.length ? members.join(', ') : '—'];
      if (ctx.canWrite)
        cells.push(h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete group ${g.name}`, on: { click: () => removeGroup(g) } }, 'Delete'));
      return cells;
    });
    replace(groupList, table('Groups', columns, rows, { emptyText: 'No groups yet.' }));
    if (ctx.canWrite && !groupPanel.firstChild) drawGroupForm();
  }

  function closePanel() {
    replace(panel);
  }

  function openPanel(title, form) {
    const heading = h('h3', { tabindex: '-1' }, title);
    replace(panel, h('section', { class: 'panel', 'aria-label': title }, heading, form.el));
    heading.focus();
  }

  function openUserForm(user) {
    const isNew = !user;
    const title = isNew ? 'New user' : `Edit user ${user.username}`;
    // The box says "Enabled" but the API field is `disabled`: its errors go there.
    const form = new Form({ onSubmit: save, label: title, aliases: { disabled: 'enabled' } });
    const existing = groups.map((g) => g.name).join(', ');
    form.add(
      form.text('username', 'Username', { value: isNew ? '' : user.username, autocomplete: 'off', autocapitalize: 'none' }),
      isNew ? form.text('password', 'Password', { type: 'password', autocomplete: 'new-password', hint: 'At least 12 characters.' }) : null,
      form.select('role', 'Role', ROLES, { value: isNew ? 'viewer' : user.role }),
      form.text('email', 'Email', { type: 'email', value: isNew ? '' : user.email }),
      form.text('displayName', 'Display name', { value: isNew ? '' : user.displayName }),
      form.text('groups', 'Groups', {
        value: isNew ? '' : user.groups.join(', '),
        hint: existing ? `Comma-separated. Existing groups: ${existing}.` : 'Comma-separated. Create groups below first.',
      }),
      isNew ? null : form.checkbox('enabled', 'Enabled', { checked: !user.disabled, hint: 'A disabled user cannot sign in.' }),
    );
    const saveButton = h('button', { type: 'submit' }, isNew ? 'Create user' : 'Save user');
    form.actions(saveButton, h('button', { type: 'button', class: 'secondary', on: { click: closePanel } }, 'Cancel'));
    openPanel(title, form);

    async function save() {
      const body = {
        username: form.value('username').trim(),
        role: form.value('role'),
        email: form.value('email').trim(),
        displayName: form.value('displayName').trim(),
        groups: splitList(form.value('groups')),
      };
      if (isNew) body.password = form.value('password');
      else body.disabled = !form.value('enabled');
      await busy(saveButton, async () => {
        try {
          if (isNew) await api.post('/api/auth/users', body);
          else await api.patch(`/api/auth/users/${api.seg(user.id)}`, body, { ifMatch: user.revision });
          closePanel();
          await load();
          userStatus.textContent = isNew ? `User ${body.username} created.` : `User ${body.username} saved.`;
        } catch (e) {
          if (e.status === 412) {
            form.clearErrors();
            form.showAlert(h('p', {}, 'Someone else changed this user meanwhile; close this form and open it again to see their version.'));
            return;
          }
          form.showError(e, body);
        }
      });
    }
  }

  function openPasswordForm(user) {
    const title = `Set password of ${user.username}`;
    const form = new Form({ onSubmit: save, label: title });
    form.add(form.text('password', 'New password', { type: 'password', autocomplete: 'new-password', hint: 'At least 12 characters.' }));
    const saveButton = h('button', { type: 'submit' }, 'Set password');
    form.actions(saveButton, h('button', { type: 'button', class: 'secondary', on: { click: closePanel } }, 'Cancel'));
    openPanel(title, form);

    async function save() {
      await busy(saveButton, async () => {
        try {
          await api.post(`/api/auth/users/${api.seg(user.id)}/password`, { password: form.value('password') });
          closePanel();
          await load();
          userStatus.textContent = `Password of ${user.username} changed.`;
        } catch (e) {
          form.showError(e);
        }
      });
    }
  }

  async function removeUser(u) {
    if (!(await confirmDialog(`Delete the user ${u.username}? Their sessions end and they can no longer sign in.`, 'Delete user'))) return;
    try {
      await api.del(`/api/auth/users/${api.seg(u.id)}`, { ifMatch: u.revision });
      userAlert.hidden = true;
      await load();
      userStatus.textContent = `User ${u.username} deleted.`;
    } catch (e) {
      userAlert.textContent = e.message;
      userAlert.hidden = false;
    }
  }

  function drawGroupForm() {
    const form = new Form({ onSubmit: save, label: 'New group' });
    form.add(
      form.text('name', 'Group name', { hint: 'a-z, 0-9, ".", "_" and "-".', autocapitalize: 'none' }),
      form.text('description', 'Description'),
    );
    const saveButton = h('button', { type: 'submit' }, 'Create group');
    form.actions(saveButton);
    replace(groupPanel, h('section', { class: 'panel', 'aria-label': 'New group' }, h('h3', {}, 'New group'), form.el));

    async function save() {
      const body = { name: form.value('name').trim(), description: form.value('description').trim() };
      await busy(saveButton, async () => {
        try {
          await api.post('/api/auth/groups', body);
          form.control('name').value = '';
          form.control('description').value = '';
          form.clearErrors();
          await load();
          groupStatus.textContent = `Group ${body.name} created.`;
        } catch (e) {
          form.showError(e, body);
        }
      });
    }
  }

  async function removeGroup(g) {
    if (!(await confirmDialog(`Delete the group ${g.name}?`, 'Delete group'))) return;
    try {
      await api.del(`/api/auth/groups/${api.seg(g.name)}`, { ifMatch: g.revision });
      groupAlert.hidden = true;
      await load();
      groupStatus.textContent = `Group ${g.name} deleted.`;
    } catch (e) {
      groupAlert.textContent = e.message;
      groupAlert.hidden = false;
    }
  }

  await load();
}
