/** What a screen leaves behind: how to stop it, and whether leaving would lose work. */
export interface Screen {
  dispose?(): void;
  /** A reason not to leave (unsaved changes), or null. */
  unsaved?(): string | null;
}

export function navigate(path: string): void {
  location.hash = `#/${path}`;
}
