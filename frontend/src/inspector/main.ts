/**
 * The inspector: a page over the client library to look at and edit one user's session
 * and one project's state. It keeps what is typed in the library's environment: the ids and
 * the API base URL are stored, so a reload shows the same session again; the token is kept in
 * this tab only, unless "remember the token on this device" is ticked.
 */

import { StatewayApiError, StatewayError } from '../lib/errors';
import type { ProjectRef } from '../lib/ids';
import { listSnapshots, loadProjectState, restoreSnapshot, saveProjectState } from '../lib/projectState';
import {
  type SessionEnvironment,
  type StoredEnvironment,
  addNavigationItem,
  clearEnvironment,
  decodeTokenClaims,
  endSession,
  getSessionState,
  initSession,
  listSessions,
  loadEnvironment,
  loadStoredEnvironment,
  saveEnvironment,
  updateSessionState,
} from '../lib/session';
import type { JsonObject, JsonValue, SessionStateDocument, SnapshotInfo } from '../lib/types';

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`The page has no #${id}.`);
  return found as T;
}

const ui = {
  status: element<HTMLParagraphElement>('status'),
  token: element<HTMLTextAreaElement>('token'),
  tokenClaims: element<HTMLParagraphElement>('token-claims'),
  rememberToken: element<HTMLInputElement>('remember-token'),
  tokenCommand: element<HTMLElement>('token-command'),
  apiBase: element<HTMLInputElement>('api-base'),
  sessionForm: element<HTMLFormElement>('session-form'),
  clientId: element<HTMLInputElement>('client-id'),
  userId: element<HTMLInputElement>('user-id'),
  appId: element<HTMLInputElement>('app-id'),
  projectId: element<HTMLInputElement>('project-id'),
  loadSession: element<HTMLButtonElement>('load-session'),
  listSessions: element<HTMLButtonElement>('list-sessions'),
  endSession: element<HTMLButtonElement>('end-session'),
  sessionMeta: element<HTMLDListElement>('session-meta'),
  sessionState: element<HTMLPreElement>('session-state'),
  editForm: element<HTMLFormElement>('edit-form'),
  editKey: element<HTMLInputElement>('edit-key'),
  editValue: element<HTMLTextAreaElement>('edit-value'),
  editIfMatch: element<HTMLInputElement>('edit-if-match'),
  navForm: element<HTMLFormElement>('nav-form'),
  navPath: element<HTMLInputElement>('nav-path'),
  navigation: element<HTMLOListElement>('navigation'),
  sessions: element<HTMLUListElement>('sessions'),
  loadProject: element<HTMLButtonElement>('load-project'),
  projectMeta: element<HTMLDListElement>('project-meta'),
  projectState: element<HTMLPreElement>('project-state'),
  projectForm: element<HTMLFormElement>('project-form'),
  projectValue: element<HTMLTextAreaElement>('project-value'),
  snapshots: element<HTMLOListElement>('snapshots'),
  snapshotsMore: element<HTMLButtonElement>('snapshots-more'),
};

/** The version of the session as last shown, for If-Match. */
let sessionVersion: number | null = null;
/** The cursor of the next page of snapshots. */
let snapshotsNext: string | null = null;

// Status -------------------------------------------------------------------------------

function say(message: string): void {
  ui.status.textContent = message;
  ui.status.classList.remove('error');
}

function describeError(error: unknown): string {
  if (error instanceof StatewayApiError) {
    const request = error.requestId ? ` (request ${error.requestId})` : '';
    return error.status === 0 ? error.message : `${error.status} ${error.code}: ${error.message}${request}`;
  }
  if (error instanceof StatewayError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

function fail(error: unknown): void {
  ui.status.textContent = describeError(error);
  ui.status.classList.add('error');
}

/** Run one action with the page's buttons disabled, reporting its outcome. */
async function act(what: string, action: () => Promise<string | undefined>): Promise<void> {
  const buttons = [...document.querySelectorAll('button')];
  for (const button of buttons) button.disabled = true;
  say(`${what}…`);
  try {
    say((await action()) ?? `${what}: done.`);
  } catch (error) {
    fail(error);
  } finally {
    for (const button of buttons) button.disabled = false;
  }
}

// Environment --------------------------------------------------------------------------

const FORM_FIELDS = ['token', 'clientId', 'userId', 'appId', 'projectId', 'apiBaseUrl'] as const;

function sameEnvironment(a: SessionEnvironment, b: SessionEnvironment | null): boolean {
  return b !== null && FORM_FIELDS.every((field) => a[field] === b[field]);
}

/**
 * The environment the form shows. It is saved (and the library's client rebuilt if the API
 * base URL changed) only when it differs from the one in use, or the remember box changed.
 */
function environmentFromForm(): SessionEnvironment {
  const environment: SessionEnvironment = {
    token: ui.token.value.trim(),
    clientId: ui.clientId.value.trim(),
    userId: ui.userId.value.trim(),
    appId: ui.appId.value.trim(),
    projectId: ui.projectId.value.trim(),
  };
  const apiBase = ui.apiBase.value.trim();
  if (apiBase) environment.apiBaseUrl = apiBase;
  const rememberToken = ui.rememberToken.checked;
  const remembered = loadStoredEnvironment()?.rememberToken === true;
  if (!sameEnvironment(environment, loadEnvironment()) || rememberToken !== remembered) {
    saveEnvironment(environment, { rememberToken });
  }
  return environment;
}

function fillForm(stored: StoredEnvironment): void {
  ui.token.value = stored.token ?? '';
  ui.rememberToken.checked = stored.rememberToken === true;
  ui.apiBase.value = stored.apiBaseUrl ?? '';
  ui.clientId.value = stored.clientId;
  ui.userId.value = stored.userId ?? '';
  ui.appId.value = stored.appId;
  ui.projectId.value = stored.projectId;
}

function projectFromForm(): ProjectRef {
  const environment = environmentFromForm();
  return { clientId: environment.clientId, appId: environment.appId, projectId: environment.projectId };
}

function showTokenClaims(): void {
  const claims = decodeTokenClaims(ui.token.value.trim());
  if (!claims) {
    ui.tokenClaims.textContent = ui.token.value.trim() ? 'This does not look like a JWT.' : '';
    return;
  }
  const sub = typeof claims.sub === 'string' ? claims.sub : '?';
  const client = typeof claims.client_id === 'string' ? claims.client_id : claims['custom:client_id'];
  const exp = typeof claims.exp === 'number' ? new Date(claims.exp * 1000) : null;
  const expiry = exp ? `${exp < new Date() ? 'expired' : 'expires'} ${exp.toISOString()}` : 'no expiry';
  ui.tokenClaims.textContent = `sub=${sub}  client_id=${String(client ?? '?')}  ${expiry}`;
  // The token names the user and client: fill them in if they are still empty.
  if (!ui.userId.value && typeof claims.sub === 'string') ui.userId.value = claims.sub;
  if (!ui.clientId.value && typeof client === 'string') ui.clientId.value = client;
  showTokenCommand();
}

function showTokenCommand(): void {
  const user = ui.userId.value.trim() || 'alice';
  const client = ui.clientId.value.trim() || 'acme';
  ui.tokenCommand.textContent = `make token USER=${user} CLIENT=${client}`;
}

// Rendering ----------------------------------------------------------------------------

function renderMeta(list: HTMLDListElement, entries: Array<[string, string]>): void {
  list.replaceChildren(
    ...entries.flatMap(([term, value]) => {
      const dt = document.createElement('dt');
      dt.textContent = term;
      const dd = document.createElement('dd');
      dd.textContent = value;
      return [dt, dd];
    }),
  );
}

function renderSession(sessionId: string, state: SessionStateDocument, version: number, source: string): void {
  sessionVersion = version;
  renderMeta(ui.sessionMeta, [
    ['session_id', sessionId],
    ['version', String(version)],
    ['source', source],
  ]);
  ui.sessionState.textContent = JSON.stringify(state, null, 2);
  const navigation = Array.isArray(state.navigation) ? state.navigation : [];
  ui.navigation.replaceChildren(
    ...navigation.map((entry) => {
      const item = document.createElement('li');
      const code = document.createElement('code');
      code.textContent = JSON.stringify(entry);
      item.append(code);
      return item;
    }),
  );
}

function clearSession(): void {
  sessionVersion = null;
  ui.sessionMeta.replaceChildren();
  ui.sessionState.textContent = '';
  ui.navigation.replaceChildren();
}

function snapshotItem(project: ProjectRef, snapshot: SnapshotInfo): HTMLLIElement {
  const item = document.createElement('li');
  item.dataset.snapshotId = snapshot.id;
  const label = document.createElement('span');
  const code = document.createElement('code');
  code.textContent = snapshot.id;
  label.append(code, ` v${snapshot.version} · ${snapshot.saved_at} · ${snapshot.size} B`);
  const restore = document.createElement('button');
  restore.type = 'button';
  restore.className = 'secondary restore';
  restore.textContent = 'Restore';
  restore.addEventListener('click', () => {
    void act(`Restoring ${snapshot.id}`, async () => {
      const saved = await restoreSnapshot(project, snapshot.id);
      await refreshProject(project);
      return `Restored ${snapshot.id} as version ${saved.version}.`;
    });
  });
  item.append(label, restore);
  return item;
}

async function refreshProject(project: ProjectRef): Promise<string> {
  const loaded = await loadProjectState(project);
  if (loaded) {
    renderMeta(ui.projectMeta, [
      ['version', String(loaded.version)],
      ['saved_at', loaded.saved_at],
      ['source', loaded.source],
    ]);
    ui.projectState.textContent = JSON.stringify(loaded.state, null, 2);
    if (!ui.projectValue.value) ui.projectValue.value = JSON.stringify(loaded.state, null, 2);
  } else {
    renderMeta(ui.projectMeta, [['version', 'none saved yet']]);
    ui.projectState.textContent = '';
  }
  const page = await listSnapshots(project);
  ui.snapshots.replaceChildren(...page.snapshots.map((snapshot) => snapshotItem(project, snapshot)));
  snapshotsNext = page.next;
  ui.snapshotsMore.hidden = snapshotsNext === null;
  return loaded ? `Project at version ${loaded.version}.` : 'No state saved for this project yet.';
}

function parseJson(text: string, what: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    throw new StatewayError('invalid_json', `${what} is not valid JSON.`);
  }
}

// Actions ------------------------------------------------------------------------------

ui.token.addEventListener('input', showTokenClaims);
ui.rememberToken.addEventListener('change', () => {
  const remember = ui.rememberToken.checked;
  try {
    environmentFromForm();
  } catch {
    // The form is not complete yet: it is saved with the next action. A token stored
    // before must not stay behind when the box is unticked, though.
    if (!remember) clearEnvironment();
    say(remember ? 'The token will be remembered once the form is complete.' : 'The token is kept in this tab only.');
    return;
  }
  say(remember ? 'The token is remembered on this device.' : 'The token is kept in this tab only.');
});
ui.userId.addEventListener('input', showTokenCommand);
ui.clientId.addEventListener('input', showTokenCommand);

ui.sessionForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void act('Initialising the session', async () => {
    environmentFromForm();
    const result = await initSession();
    renderSession(result.session_id, result.state, result.version, result.created ? 'created' : 'existing');
    return result.created ? 'Session created.' : 'Session loaded.';
  });
});

ui.loadSession.addEventListener('click', () => {
  void act('Loading the session', async () => {
    environmentFromForm();
    const result = await getSessionState();
    renderSession(result.session_id, result.state, result.version, result.source);
    return `Session at version ${result.version} (from ${result.source}).`;
  });
});

ui.endSession.addEventListener('click', () => {
  void act('Ending the session', async () => {
    environmentFromForm();
    await endSession();
    clearSession();
    return 'Session ended.';
  });
});

ui.listSessions.addEventListener('click', () => {
  void act('Listing sessions', async () => {
    environmentFromForm();
    const { namespace, sessions } = await listSessions();
    ui.sessions.replaceChildren(
      ...sessions.map((summary) => {
        const item = document.createElement('li');
        const code = document.createElement('code');
        code.textContent = summary.session_id;
        item.append(code, ` · updated ${summary.updated_at}`);
        return item;
      }),
    );
    return `${sessions.length} session(s) in ${namespace}.`;
  });
});

ui.editForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void act('Updating', async () => {
    environmentFromForm();
    const key = ui.editKey.value.trim();
    const value = parseJson(ui.editValue.value, 'The value');
    const conditional = ui.editIfMatch.checked && sessionVersion !== null;
    const result = await updateSessionState(key, value, conditional ? { ifMatch: sessionVersion ?? 0 } : {});
    renderSession(result.session_id, result.state, result.version, 'store');
    return `Set ${key}; the session is at version ${result.version}.`;
  });
});

ui.navForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void act('Adding a navigation entry', async () => {
    environmentFromForm();
    const path = ui.navPath.value.trim() || '/';
    const result = await addNavigationItem({ path, at: new Date().toISOString() });
    renderSession(result.session_id, result.state, result.version, 'store');
    return `Navigation entry added; version ${result.version}.`;
  });
});

ui.loadProject.addEventListener('click', () => {
  void act('Loading the project', () => refreshProject(projectFromForm()));
});

ui.projectForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void act('Saving the project', async () => {
    const project = projectFromForm();
    const state = parseJson(ui.projectValue.value, 'The project state');
    if (typeof state !== 'object' || state === null || Array.isArray(state)) {
      throw new StatewayError('invalid_state', 'The project state must be a JSON object.');
    }
    const saved = await saveProjectState(project, state as JsonObject);
    await refreshProject(project);
    const snapshot = saved.snapshot.status === 'ok' ? `snapshot ${saved.snapshot.id}` : 'snapshot failed';
    return `Saved version ${saved.version} (${snapshot}).`;
  });
});

ui.snapshotsMore.addEventListener('click', () => {
  void act('Loading older snapshots', async () => {
    const project = projectFromForm();
    if (snapshotsNext === null) return 'No older snapshots.';
    const page = await listSnapshots(project, { before: snapshotsNext });
    ui.snapshots.append(...page.snapshots.map((snapshot) => snapshotItem(project, snapshot)));
    snapshotsNext = page.next;
    ui.snapshotsMore.hidden = snapshotsNext === null;
    return `${page.snapshots.length} older snapshot(s).`;
  });
});

// Start: show what was stored, if anything.
const stored = loadStoredEnvironment();
const environment = loadEnvironment();
if (stored) fillForm(stored);
if (environment) {
  showTokenClaims();
  void act('Loading the stored session', async () => {
    const result = await getSessionState();
    renderSession(result.session_id, result.state, result.version, result.source);
    await refreshProject({ clientId: environment.clientId, appId: environment.appId, projectId: environment.projectId });
    return `Session at version ${result.version} (from ${result.source}).`;
  });
} else if (stored) {
  showTokenCommand();
  say('Paste the token to go on with this session: it is not remembered on this device.');
} else {
  showTokenCommand();
  say('Paste a token and enter the four ids to begin.');
}
