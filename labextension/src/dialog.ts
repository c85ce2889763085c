// The dialog's body: sign in (an MFA code for the server's profile, any profile of the user's
// config, SSO) and the server's sessions with Use, Renew and Forget. Every refusal is shown as
// the one line the server answered. A code lives only in its field and in one POST body.
import { Widget } from '@lumino/widgets';

import { api, ISessionRow } from './api';
import { formatRemaining, WARN_SECONDS } from './clock';
import { ServerSessions } from './sessions';

const SSO_POLL_MS = 2_000;
const SIX_DIGITS = /^[0-9]{6}$/;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> & { className?: string } = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  Object.assign(node, props);
  node.append(...children);
  return node;
}

function codeInput(className: string, label: string): HTMLInputElement {
  const input = el('input', {
    className: `jp-mod-styled ${className}`,
    type: 'text',
    inputMode: 'numeric',
    maxLength: 6,
    autocomplete: 'one-time-code',
    pattern: '[0-9]{6}',
    placeholder: '6 digits',
    spellcheck: false
  });
  input.setAttribute('aria-label', label);
  return input;
}

export class SessionsDialogBody extends Widget {
  private readonly message = el('div', { className: 'jp-stsmagic-message' });
  private readonly mfaHeading = el('label', { className: 'jp-stsmagic-mfa-heading' });
  private readonly code = codeInput('jp-stsmagic-code', 'MFA code');
  private readonly signin = el('button', {
    className: 'jp-mod-styled jp-mod-accept jp-stsmagic-signin',
    type: 'button'
  });
  private readonly cancelRenew = el('button', {
    className: 'jp-mod-styled jp-stsmagic-cancel-renew',
    type: 'button',
    textContent: 'Cancel'
  });
  private readonly reason = el('span', { className: 'jp-stsmagic-reason' });
  private readonly hint = el('div', { className: 'jp-stsmagic-hint' });
  private readonly profile = el('select', { className: 'jp-mod-styled jp-stsmagic-profile' });
  private readonly profileCode = codeInput('jp-stsmagic-profile-code', 'MFA code for the profile, if it asks for one');
  private readonly profileSignin = el('button', {
    className: 'jp-mod-styled jp-stsmagic-profile-signin',
    type: 'button',
    textContent: 'Sign in with profile'
  });
  private readonly sso = el('button', {
    className: 'jp-mod-styled jp-stsmagic-sso',
    type: 'button',
    textContent: 'Sign in through SSO'
  });
  private readonly ssoBox = el('div', { className: 'jp-stsmagic-sso-box' });
  private readonly useSource = el('button', {
    className: 'jp-mod-styled jp-stsmagic-use-source',
    type: 'button',
    textContent: 'Use source',
    title: "Sign with the server's profile itself, no session"
  });
  private readonly table = el('table', { className: 'jp-stsmagic-sessions' });
  /** The MFA session the code field renews, or null: the field signs in. */
  private renewing: string | null = null;
  private busy = false;
  private ssoTimer = 0;
  private knownProfiles = '';
  private saidUnavailable = false;

  constructor(private readonly sessions: ServerSessions) {
    super();
    this.addClass('jp-stsmagic-dialog');
    this.node.append(
      this.message,
      el(
        'section',
        { className: 'jp-stsmagic-mfa' },
        this.mfaHeading,
        el('div', { className: 'jp-stsmagic-row' }, this.code, this.signin, this.cancelRenew),
        this.reason,
        this.hint
      ),
      el(
        'section',
        { className: 'jp-stsmagic-other' },
        el('label', { textContent: 'A profile of your AWS config' }),
        el('div', { className: 'jp-stsmagic-row' }, this.profile, this.profileCode, this.profileSignin),
        el('div', { className: 'jp-stsmagic-row' }, this.sso),
        this.ssoBox
      ),
      el(
        'section',
        { className: 'jp-stsmagic-list' },
        el('div', { className: 'jp-stsmagic-row' }, el('strong', { textContent: "The server's sessions" }), this.useSource),
        this.table
      )
    );
    this.code.addEventListener('input', () => {
      this.updateSignin();
      if (SIX_DIGITS.test(this.code.value) && !this.busy) {
        void this.sendCode();
      }
    });
    this.code.addEventListener('keydown', e => {
      if (e.key === 'Enter' && !this.signin.disabled) {
        void this.sendCode();
      }
    });
    this.signin.addEventListener('click', () => void this.sendCode());
    this.cancelRenew.addEventListener('click', () => this.renew(null));
    this.profileSignin.addEventListener('click', () => void this.signInProfile());
    this.sso.addEventListener('click', () => void this.startSso());
    this.useSource.addEventListener('click', () => void this.act(() => api.use(null)));
    sessions.changed.connect(this.render, this);
    sessions.ticked.connect(this.tick, this);
    // Opened on a warned MFA session: its field asks for the new code.
    const active = sessions.active;
    if (active && active.renewal === 'mfa' && sessions.remaining(active) <= WARN_SECONDS) {
      this.renewing = active.label;
    }
    this.render();
  }

  /** Point the code field at renewing `label` (an MFA session), or back at signing in. */
  renew(label: string | null): void {
    this.renewing = label;
    this.code.value = '';
    this.render();
    this.code.focus();
  }

  private say(line: string, error = false): void {
    this.saidUnavailable = false;
    this.message.textContent = line;
    this.message.classList.toggle('jp-stsmagic-error', error);
  }

  /** Run one request: the buttons wait, a refusal is its one line, the ledger is asked again. */
  private async act(request: () => Promise<unknown>, done = ''): Promise<boolean> {
    this.busy = true;
    this.render();
    let ok = true;
    try {
      await request();
      this.say(done);
    } catch (e) {
      ok = false;
      this.say(e instanceof Error ? e.message : String(e), true);
    } finally {
      this.busy = false;
      await this.sessions.refresh();
    }
    return ok;
  }

  private async sendCode(): Promise<void> {
    const code = this.code.value;
    if (this.busy || !SIX_DIGITS.test(code)) {
      return;
    }
    // The field is cleared at every try: a one-time code is not kept, not even in the DOM.
    this.code.value = '';
    const label = this.renewing;
    if (label !== null) {
      if (await this.act(() => api.renew(label, code), `Renewed ${label}.`)) {
        this.renewing = null;
      }
    } else {
      await this.act(() => api.signIn(code), 'Signed in.');
    }
    this.render();
    this.code.focus();
  }

  private async signInProfile(): Promise<void> {
    const name = this.profile.value;
    const code = this.profileCode.value;
    this.profileCode.value = '';
    if (name) {
      await this.act(() => api.signInProfile(name, SIX_DIGITS.test(code) ? code : undefined), `Signed in with ${name}.`);
    }
  }

  private async startSso(): Promise<void> {
    this.stopSso();
    this.ssoBox.replaceChildren();
    let started: Awaited<ReturnType<typeof api.ssoStart>> | null = null;
    const ok = await this.act(async () => {
      started = await api.ssoStart();
    });
    if (!ok || started === null) {
      return;
    }
    const { verification_uri_complete, user_code } = started;
    const status = el('span', { className: 'jp-stsmagic-sso-status', textContent: 'waiting for approval…' });
    this.ssoBox.append(
      el(
        'div',
        {},
        'Open ',
        el('a', {
          className: 'jp-stsmagic-sso-link',
          href: verification_uri_complete,
          target: '_blank',
          rel: 'noopener noreferrer',
          textContent: verification_uri_complete
        }),
        ' and check that it shows the code ',
        el('code', { className: 'jp-stsmagic-sso-code', textContent: user_code })
      ),
      status
    );
    const poll = async () => {
      try {
        const answer = await api.ssoStatus();
        if (answer.status === 'pending') {
          this.ssoTimer = window.setTimeout(poll, SSO_POLL_MS);
          return;
        }
        status.textContent = answer.status === 'done' ? 'done' : 'expired';
        this.say(answer.message ?? '', answer.status !== 'done');
      } catch (e) {
        status.textContent = 'stopped';
        this.say(e instanceof Error ? e.message : String(e), true);
      }
      await this.sessions.refresh();
    };
    this.ssoTimer = window.setTimeout(poll, SSO_POLL_MS);
  }

  private stopSso(): void {
    window.clearTimeout(this.ssoTimer);
    this.ssoTimer = 0;
  }

  private updateSignin(): void {
    const ledger = this.sessions.ledger;
    const code = this.code.value;
    let why = '';
    if (this.busy) {
      why = 'Waiting for the server…';
    } else if (this.renewing === null && !ledger?.mfa_serial) {
      why = ledger?.profile
        ? `The server's profile (${ledger.profile}) has no mfa_serial: sign in with a profile or SSO below.`
        : 'The server has no profile with an mfa_serial: sign in with a profile or SSO below.';
    } else if (/[^0-9]/.test(code)) {
      why = 'The code is digits only.';
    } else if (code.length < 6) {
      why = `Type the 6-digit code from your MFA device (${code.length}/6).`;
    }
    this.signin.disabled = why !== '';
    this.signin.title = why;
    this.reason.textContent = why;
    this.code.disabled = this.busy || (this.renewing === null && !ledger?.mfa_serial);
  }

  private render(): void {
    const ledger = this.sessions.ledger;
    if (this.sessions.unavailable !== null) {
      this.say(this.sessions.unavailable, true);
      this.saidUnavailable = true;
    } else if (this.saidUnavailable) {
      this.say('');
    }
    if (this.renewing !== null && !ledger?.sessions.some(r => r.label === this.renewing)) {
      this.renewing = null;
    }
    this.mfaHeading.textContent =
      this.renewing !== null
        ? `A new MFA code to renew ${this.renewing}`
        : `MFA code for the server's profile${ledger?.profile ? ` ${ledger.profile}` : ''}${ledger?.mfa_serial ? ` (${ledger.mfa_serial})` : ''}`;
    this.signin.textContent = this.renewing !== null ? `Renew ${this.renewing}` : 'Sign in';
    this.cancelRenew.hidden = this.renewing === null;
    this.updateSignin();
    this.hint.textContent = ledger?.hint ?? '';
    this.hint.hidden = !ledger?.hint;

    const profiles = (ledger?.profiles ?? []).join('\n');
    if (profiles !== this.knownProfiles) {
      const chosen = this.profile.value;
      this.profile.replaceChildren(...(ledger?.profiles ?? []).map(p => el('option', { value: p, textContent: p })));
      if (ledger?.profiles.includes(chosen)) {
        this.profile.value = chosen;
      }
      this.knownProfiles = profiles;
    }
    const noProfile = !ledger || ledger.profiles.length === 0;
    this.profileSignin.disabled = this.busy || noProfile;
    this.profileSignin.title = noProfile ? 'Your AWS config has no profiles.' : '';
    this.sso.disabled = this.busy || !ledger;
    this.useSource.disabled = this.busy || !ledger || ledger.active === null;
    this.useSource.title = ledger?.active === null ? 'The server already signs with its profile itself.' : "Sign with the server's profile itself, no session";
    this.renderTable();
  }

  private renderTable(): void {
    const ledger = this.sessions.ledger;
    const head = el(
      'tr',
      {},
      ...['Label', 'Kind', 'Principal', 'Key', 'Left', 'Renewal', 'Status', 'Calls', ''].map(h => el('th', { textContent: h }))
    );
    const rows = (ledger?.sessions ?? []).map(row => this.renderRow(row, row.label === ledger?.active));
    if (rows.length === 0) {
      rows.push(el('tr', {}, el('td', { colSpan: 9, className: 'jp-stsmagic-empty', textContent: 'No sessions yet.' })));
    }
    this.table.replaceChildren(el('thead', {}, head), el('tbody', {}, ...rows));
  }

  private renderRow(row: ISessionRow, active: boolean): HTMLTableRowElement {
    const button = (name: string, text: string, onClick: () => void, disabled = false, title = '') => {
      const b = el('button', { className: `jp-mod-styled jp-stsmagic-${name}`, type: 'button', textContent: text, disabled: this.busy || disabled, title });
      b.addEventListener('click', onClick);
      return b;
    };
    const left = el('td', { className: 'jp-stsmagic-left' });
    const tr = el(
      'tr',
      {},
      el('td', { textContent: row.label }),
      el('td', { textContent: row.kind }),
      el('td', { textContent: row.principal }),
      el('td', { textContent: row.access_key }),
      left,
      el('td', { textContent: row.renewal }),
      el('td', { textContent: row.status }),
      el('td', { textContent: String(row.calls) }),
      el(
        'td',
        { className: 'jp-stsmagic-actions' },
        button('use', 'Use', () => void this.act(() => api.use(row.label), `Using ${row.label}.`), active, active ? 'Already in use' : ''),
        button(
          'renew',
          'Renew',
          () => (row.renewal === 'mfa' ? this.renew(row.label) : void this.act(() => api.renew(row.label), `Renewed ${row.label}.`)),
          false,
          row.renewal === 'mfa' ? 'Needs a new MFA code' : ''
        ),
        button('forget', 'Forget', () => void this.act(() => api.forget(row.label), `Forgot ${row.label}.`))
      )
    );
    tr.dataset.label = row.label;
    tr.classList.toggle('jp-stsmagic-active', active);
    this.paintLeft(tr, left, row);
    return tr;
  }

  private paintLeft(tr: HTMLTableRowElement, cell: HTMLElement, row: ISessionRow): void {
    const left = this.sessions.remaining(row);
    cell.textContent = formatRemaining(left);
    tr.classList.toggle('jp-stsmagic-warned', left > 0 && left <= WARN_SECONDS);
    tr.classList.toggle('jp-stsmagic-expired', left <= 0);
  }

  private tick(): void {
    for (const row of this.sessions.ledger?.sessions ?? []) {
      const tr = this.table.querySelector<HTMLTableRowElement>(`tr[data-label="${CSS.escape(row.label)}"]`);
      const cell = tr?.querySelector<HTMLElement>('.jp-stsmagic-left');
      if (tr && cell) {
        this.paintLeft(tr, cell, row);
      }
    }
  }

  dispose(): void {
    if (!this.isDisposed) {
      this.stopSso();
      this.sessions.changed.disconnect(this.render, this);
      this.sessions.ticked.disconnect(this.tick, this);
    }
    super.dispose();
  }
}
