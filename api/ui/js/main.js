import { access, token } from './api-client.js';
import { replace } from './dom.js';
import { runView } from './run-view.js';
import { runsList } from './runs-list.js';

const ACCESS_TEXT = {
  unknown: '',
  open: 'open farm: no token needed',
  token: 'token accepted',
  needed: 'this farm needs a token',
};

const root = document.getElementById('app');
let stop = () => {};

/** /ui is the list of runs, /ui/runs/<id> one run. */
async function route() {
  stop();
  const match = /^\/ui\/runs\/([^/]+)\/?$/.exec(location.pathname);
  stop = match ? await runView(root, decodeURIComponent(match[1])) : await runsList(root);
}

function tokenBar() {
  const form = document.getElementById('token-form');
  const input = document.getElementById('token-input');
  const shown = document.getElementById('access');
  input.value = token.get();
  access.listeners.add((state) => {
    replace(shown, ACCESS_TEXT[state] ?? state);
    shown.className = `access ${state}`;
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    token.set(input.value.trim());
    route();
  });
  document.getElementById('token-clear').addEventListener('click', () => {
    input.value = '';
    token.set('');
    route();
  });
}

tokenBar();
route();
