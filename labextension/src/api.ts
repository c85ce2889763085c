// The REST API of stsmagic's server extension. ServerConnection adds the token and the XSRF
// header; an MFA code travels only in a POST body, and no answer carries a secret.
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export interface ISessionRow {
  label: string;
  kind: string;
  principal: string;
  access_key: string;
  issued_at: string;
  expiration: string;
  remaining_seconds: number | null;
  renewal: 'auto' | 'mfa' | 'none';
  status: 'active' | 'standby' | 'expired';
  calls: number;
}

export interface ILedger {
  active: string | null;
  serving: boolean;
  profile: string | null;
  mfa_serial: string | null;
  profiles: string[];
  hint?: string | null;
  sessions: ISessionRow[];
}

export interface ISsoStart {
  verification_uri_complete: string;
  user_code: string;
  expires_in: number;
}

export interface ISsoStatus {
  status: 'pending' | 'done' | 'expired';
  message?: string;
}

/** A refusal: `message` is the one line the server answered (or says why there was none). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
  }
}

async function call<T>(method: string, path: string, body?: object): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'stsmagic/api', path);
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { 'Content-Type': 'application/json' };
  }
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch {
    throw new ApiError(0, 'The Jupyter server did not answer.');
  }
  const text = await response.text();
  let answer: any = null;
  try {
    answer = text ? JSON.parse(text) : null;
  } catch {
    answer = null;
  }
  if (!response.ok) {
    const said = answer && typeof answer.message === 'string' ? answer.message : '';
    const line = said.split('\n')[0].trim();
    throw new ApiError(response.status, line || `${response.status} ${response.statusText}`.trim());
  }
  return answer as T;
}

const session = (label: string) => `sessions/${encodeURIComponent(label)}`;

export const api = {
  ledger: () => call<ILedger>('GET', 'sessions'),
  signIn: (tokenCode: string) =>
    call<ISessionRow>('POST', 'sessions', { kind: 'session', token_code: tokenCode }),
  signInProfile: (profile: string, tokenCode?: string) =>
    call<ISessionRow>('POST', 'sessions', {
      kind: 'profile',
      profile,
      ...(tokenCode ? { token_code: tokenCode } : {})
    }),
  use: (label: string | null) => call<unknown>('PUT', 'active', { label }),
  renew: (label: string, tokenCode?: string) =>
    call<ISessionRow>('POST', `${session(label)}/renew`, tokenCode ? { token_code: tokenCode } : {}),
  forget: (label: string) => call<null>('DELETE', session(label)),
  ssoStart: (profile?: string) => call<ISsoStart>('POST', 'sso/login', profile ? { profile } : {}),
  ssoStatus: () => call<ISsoStatus>('GET', 'sso/login')
};
