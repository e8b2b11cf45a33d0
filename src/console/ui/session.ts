const KEY = 'secure-mode.console.token';

/**
 * The access token lives in memory, mirrored to sessionStorage so a reload keeps this tab signed in.
 * Never localStorage, a cookie or the URL: it ends with the tab or on sign-out.
 */
export class Session {
  private value: string | null;

  constructor(private readonly storage: Storage | null) {
    this.value = this.read();
  }

  private read(): string | null {
    try {
      return this.storage?.getItem(KEY) ?? null;
    } catch {
      return null;
    }
  }

  get token(): string | null {
    return this.value;
  }

  signIn(token: string): void {
    this.value = token;
    try {
      this.storage?.setItem(KEY, token);
    } catch {
      // Storage refused (private mode, quota): the token stays in memory for this page only.
    }
  }

  signOut(): void {
    this.value = null;
    try {
      this.storage?.removeItem(KEY);
    } catch {
      // Nothing was stored.
    }
  }
}

export function browserSessionStorage(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}
