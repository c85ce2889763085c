// The server's ledger as the browser sees it: polled every 15 s and after every action, with a
// tick every second for the countdowns. The item and the dialog both read this one object.
import { Signal, ISignal } from '@lumino/signaling';

import { api, ApiError, ILedger, ISessionRow } from './api';
import { remainingAt } from './clock';

const POLL_MS = 15_000;
const TICK_MS = 1_000;

export class ServerSessions {
  /** The last answer of `GET sessions`, or null before the first or when unavailable. */
  ledger: ILedger | null = null;
  /** Why there is no ledger (the server extension is missing, or the server did not answer). */
  unavailable: string | null = null;
  private polledAt = performance.now();
  private timers: number[] = [];
  private readonly _changed = new Signal<this, void>(this);
  private readonly _ticked = new Signal<this, void>(this);

  /** A new answer from the server (or a failure to get one). */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** One second went by: countdowns move. */
  get ticked(): ISignal<this, void> {
    return this._ticked;
  }

  start(): void {
    void this.refresh();
    this.timers.push(window.setInterval(() => void this.refresh(), POLL_MS));
    this.timers.push(window.setInterval(() => this._ticked.emit(), TICK_MS));
  }

  dispose(): void {
    this.timers.forEach(t => window.clearInterval(t));
    this.timers = [];
    Signal.clearData(this);
  }

  async refresh(): Promise<void> {
    try {
      this.ledger = await api.ledger();
      this.polledAt = performance.now();
      this.unavailable = null;
    } catch (e) {
      this.ledger = null;
      this.unavailable =
        e instanceof ApiError && e.status === 404
          ? 'The stsmagic server extension is not enabled in this Jupyter server ' +
            '(jupyter server extension enable stsmagic, then restart it).'
          : e instanceof Error
            ? e.message
            : String(e);
    }
    this._changed.emit();
  }

  /** The active session's row, if the server signs with one. */
  get active(): ISessionRow | null {
    const ledger = this.ledger;
    if (!ledger || ledger.active === null) {
      return null;
    }
    return ledger.sessions.find(row => row.label === ledger.active) ?? null;
  }

  remaining(row: ISessionRow): number {
    return remainingAt(row, this.polledAt);
  }
}
