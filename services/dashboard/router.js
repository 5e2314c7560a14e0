// History-API routing: the edge answers every extensionless path with
// index.html, so deep links such as /routes/<id> load the app directly.

const table = [];
let onChange = () => {};

/** route('/routes/:id', handler): `:name` captures one path segment. */
export function route(pattern, handler) {
  const names = [];
  const regex = new RegExp(
    `^${pattern.replace(/:([a-zA-Z]+)/g, (_, name) => {
      names.push(name);
      return '([^/]+)';
    })}/?$`,
  );
  table.push({ regex, names, handler });
}

/** The handler and params for a path, or null. */
export function match(path) {
  for (const { regex, names, handler } of table) {
    const m = regex.exec(path);
    if (m) {
      const params = {};
      names.forEach((name, i) => {
        params[name] = decodeURIComponent(m[i + 1]);
      });
      return { handler, params };
    }
  }
  return null;
}

/** Goes to a same-origin path ("/routes?x=1") without reloading. */
export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  onChange({ initial: false });
}

/** Starts listening to link clicks (a[data-nav]) and back/forward. */
export function start(changeHandler) {
  onChange = changeHandler;
  window.addEventListener('popstate', () => onChange({ initial: false }));
  document.addEventListener('click', (event) => {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const a = event.target.closest && event.target.closest('a[data-nav]');
    if (!a || a.origin !== location.origin) return;
    event.preventDefault();
    navigate(a.pathname + a.search);
  });
  onChange({ initial: true });
}
