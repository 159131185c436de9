/**
 * The key lives in sessionStorage only: it survives a reload of this tab and
 * goes when the tab closes. Never in a URL, never in localStorage.
 */
const KEY_ITEM = 'scriptgate.console.key';

export const session = {
  key(): string {
    return sessionStorage.getItem(KEY_ITEM) ?? '';
  },
  signIn(key: string): void {
    sessionStorage.setItem(KEY_ITEM, key);
  },
  signOut(): void {
    sessionStorage.removeItem(KEY_ITEM);
  },
};

/**
 * Unsaved scripts survive a reload (and a closed tab) in localStorage, per
 * service, with the saved text they started from: a draft older than what is
 * saved now is shown as such, never applied silently.
 */
export interface Draft {
  content: string;
  base: string;
  savedAt: number;
}

const draftItem = (name: string) => `scriptgate.console.draft.${name}`;

export const drafts = {
  get(name: string): Draft | null {
    try {
      const draft = JSON.parse(localStorage.getItem(draftItem(name)) ?? 'null') as Draft | null;
      return draft && typeof draft.content === 'string' ? draft : null;
    } catch {
      return null;
    }
  },
  put(name: string, content: string, base: string): void {
    localStorage.setItem(draftItem(name), JSON.stringify({ content, base, savedAt: Date.now() }));
  },
  drop(name: string): void {
    localStorage.removeItem(draftItem(name));
  },
};
