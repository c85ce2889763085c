// The item in the status bar (JupyterLab) or the top bar (Notebook 7): the server's active
// session and its time left. A click asks for the dialog; the item never opens one by itself.
import { Widget } from '@lumino/widgets';

import { formatRemaining, WARN_SECONDS } from './clock';
import { ServerSessions } from './sessions';

const WARNED = 'jp-stsmagic-warned';
const EXPIRED = 'jp-stsmagic-expired';
const UNAVAILABLE = 'jp-stsmagic-unavailable';

export class SessionItem extends Widget {
  constructor(
    private readonly sessions: ServerSessions,
    private readonly onOpen: () => void
  ) {
    super({ node: document.createElement('button') });
    const node = this.node as HTMLButtonElement;
    node.type = 'button';
    this.addClass('jp-stsmagic-item');
    this.addClass('jp-StatusBar-TextItem');
    node.addEventListener('click', () => this.onOpen());
    sessions.changed.connect(this.render, this);
    sessions.ticked.connect(this.render, this);
    this.render();
  }

  render(): void {
    const { text, title, state } = this.describe();
    if (this.node.textContent !== text) {
      this.node.textContent = text;
    }
    this.node.title = title;
    this.node.classList.toggle(WARNED, state === 'warned');
    this.node.classList.toggle(EXPIRED, state === 'expired');
    this.node.classList.toggle(UNAVAILABLE, state === 'unavailable');
  }

  private describe(): { text: string; title: string; state: string } {
    const sessions = this.sessions;
    if (sessions.unavailable !== null) {
      return { text: 'AWS: unavailable', title: sessions.unavailable, state: 'unavailable' };
    }
    const ledger = sessions.ledger;
    if (ledger === null) {
      return { text: 'AWS: …', title: 'Asking the server for its AWS sessions', state: '' };
    }
    const row = sessions.active;
    if (ledger.active === null || row === null) {
      const who = ledger.profile ? ` (profile ${ledger.profile})` : '';
      return {
        text: 'AWS: sign in',
        title: `No AWS session on this server${who}: click to sign in`,
        state: ''
      };
    }
    const left = sessions.remaining(row);
    const ends = new Date(row.expiration).toLocaleTimeString();
    if (left <= 0 || row.status === 'expired') {
      return {
        text: `AWS: ${row.label} · expired`,
        title: `${row.label} expired at ${ends}: click to renew it or sign in again`,
        state: 'expired'
      };
    }
    const text = `AWS: ${row.label} · ${formatRemaining(left)}`;
    if (left <= WARN_SECONDS && row.renewal === 'mfa') {
      return {
        text: `${text} · new code`,
        title: `${row.label} ends at ${ends} and needs a new MFA code to renew: click to type it`,
        state: 'warned'
      };
    }
    return {
      text,
      title: `${row.label} (${row.kind}, ${row.principal}) until ${ends}; click to manage the server's AWS sessions`,
      state: left <= WARN_SECONDS ? 'warned' : ''
    };
  }

  dispose(): void {
    if (!this.isDisposed) {
      this.sessions.changed.disconnect(this.render, this);
      this.sessions.ticked.disconnect(this.render, this);
    }
    super.dispose();
  }
}
