// Link intake: every way a MASV link becomes a download, and the questions on the way.
// A link typed, pasted or dropped in the window; one the shell parked (clicked in a
// browser, copied) that needs a yes or a password; "Choose files…" first; and "this
// package is already here". The window shows what is asked; this decides what follows.
import { api, asCommandError, type IncomingLink, type LinkOrigin, type PackageListing, type PackagePreview } from './api';
import { findMasvLink } from './links';

/** What a paste or drop that holds no MASV link is told. */
export const NOT_A_LINK = 'That holds no MASV link. Links look like https://get.massive.app/…; copy the whole link from the email or page.';
const WRONG_PASSWORD = 'Wrong password. Check it with the sender.';

/** What the intake needs of the window around it. */
export interface IntakeHost {
  /** The download folder new packages go to (null: the engine's default). */
  destination(): string | null;
  /** Says a failure in the window's banner (null clears it). */
  fail(message: string | null): void;
  /** Says something for a few seconds. */
  say(message: string): void;
  /** Whether download `id` has completed (its folder can be opened). */
  isComplete(id: string): boolean;
  /** The settings changed (a sender is trusted now). */
  settingsChanged(): void;
}

/** A link waiting for its password: typed by the person, or parked by the shell
 * (`token`); `choose`: its files are to be chosen next. */
export type Pending = { url: string | null; token: number | null; label: string; error: string | null; choose?: boolean };
/** "Choose files…": a package's listing, open in the picker. */
export type Picking = { url: string; password: string | null; listing: PackageListing; error: string | null };
/** A link from outside waiting for the person to say yes. */
export type Confirming = { token: number; preview: PackagePreview; origin: LinkOrigin; error: string | null };
/** A link whose package is already the download `id`: asked what to do. */
export type Again = { url: string; password: string | null; fileIds: string[] | null; id: string; message: string; error: string | null };

export class LinkIntake {
  /** What is typed in the link field. */
  text = $state('');
  busy = $state(false);
  pending = $state<Pending | null>(null);
  picking = $state<Picking | null>(null);
  confirming = $state<Confirming | null>(null);
  again = $state<Again | null>(null);
  #host: IntakeHost;

  constructor(host: IntakeHost) {
    this.#host = host;
  }

  /** The link in the field: the MASV link found in what was typed, or the text itself. */
  typed(): string {
    return findMasvLink(this.text) ?? this.text.trim();
  }

  /** What the shell says of a link it received (clicked, copied, opened). */
  incoming(e: IncomingLink) {
    if (e.type === 'confirm') {
      // The same link arriving twice keeps its token: one question.
      if (this.confirming?.token !== e.token) this.confirming = { token: e.token, preview: e.preview, origin: e.origin, error: null };
    } else if (e.type === 'needs_password') {
      const label = e.origin === 'clipboard' ? 'the link you copied' : 'the package you opened';
      this.pending = { url: null, token: e.token, label, error: e.wrong ? 'Wrong password.' : null };
    } else if (e.type === 'failed') {
      this.#host.fail(e.message);
    } else {
      this.#host.fail(null);
    }
  }

  /** Starts downloading the package behind `url`, asking for its password if it has one. */
  async add(url: string, password: string | null = null) {
    this.busy = true;
    this.#host.fail(null);
    try {
      await api.addLink(url, this.#host.destination(), password);
      this.text = '';
      this.pending = null;
    } catch (err) {
      const e = asCommandError(err);
      if (e.code === 'downloaded_before' && e.download_id) {
        this.pending = null;
        this.again = { url, password, fileIds: null, id: e.download_id, message: e.message, error: null };
      } else if (e.code === 'password_required') {
        this.pending = { url, token: null, label: 'this package', error: null };
      } else if (e.code === 'wrong_password') {
        this.pending = { url, token: null, label: 'this package', error: WRONG_PASSWORD };
      } else {
        this.pending = null;
        this.#host.fail(e.message);
      }
    } finally {
      this.busy = false;
    }
  }

  /** Reads the package's files and opens the picker; the download starts from there. */
  async chooseFiles(url: string, password: string | null = null) {
    this.busy = true;
    this.#host.fail(null);
    try {
      this.picking = { url, password, listing: await api.listPackage(url, password), error: null };
      this.pending = null;
    } catch (err) {
      const e = asCommandError(err);
      if (e.code === 'password_required') {
        this.pending = { url, token: null, label: 'this package', error: null, choose: true };
      } else if (e.code === 'wrong_password') {
        this.pending = { url, token: null, label: 'this package', error: WRONG_PASSWORD, choose: true };
      } else {
        this.pending = null;
        this.#host.fail(e.message);
      }
    } finally {
      this.busy = false;
    }
  }

  /** The files chosen in the picker (null: all of them) start downloading. */
  async addChosen(ids: string[] | null) {
    const p = this.picking;
    if (!p) return;
    this.busy = true;
    try {
      await api.addLink(p.url, this.#host.destination(), p.password, ids);
      this.picking = null;
      this.text = '';
    } catch (err) {
      const e = asCommandError(err);
      if (e.code === 'downloaded_before' && e.download_id) {
        this.picking = null;
        this.again = { url: p.url, password: p.password, fileIds: ids, id: e.download_id, message: e.message, error: null };
      } else this.picking = { ...p, error: e.message };
    } finally {
      this.busy = false;
    }
  }

  async submitPassword(password: string) {
    const p = this.pending;
    if (!p) return;
    if (p.url && p.choose) return this.chooseFiles(p.url, password);
    if (p.url) return this.add(p.url, password);
    const token = p.token;
    if (token === null) return;
    this.busy = true;
    try {
      await api.addParkedLink(token, this.#host.destination(), password);
      this.pending = null;
    } catch (err) {
      const e = asCommandError(err);
      this.pending = { ...p, error: e.code === 'wrong_password' ? WRONG_PASSWORD : e.message };
    } finally {
      this.busy = false;
    }
  }

  cancelPassword() {
    forgetParked(this.pending?.token);
    this.pending = null;
  }

  /** The person's answer to "Already downloaded": open it, check it again, or a copy. */
  async answerAgain(choice: 'open' | 'check' | 'copy') {
    const a = this.again;
    if (!a) return;
    this.busy = true;
    try {
      if (choice === 'open') {
        if (this.#host.isComplete(a.id)) await api.openFolder(a.id);
        else document.getElementById(`card-${a.id}`)?.scrollIntoView({ block: 'nearest' });
      } else if (choice === 'check') await api.repair(a.id);
      else await api.addLink(a.url, this.#host.destination(), a.password, a.fileIds, 'copy');
      this.again = null;
      this.text = '';
    } catch (err) {
      this.again = { ...a, error: asCommandError(err).message };
    } finally {
      this.busy = false;
    }
  }

  /** Yes to a link from outside; `trustSender`: links from its sender start without asking. */
  async confirmIncoming(trustSender: boolean) {
    const c = this.confirming;
    if (!c) return;
    this.busy = true;
    try {
      await api.confirmParkedLink(c.token, this.#host.destination(), trustSender);
      this.confirming = null;
      if (trustSender) this.#host.settingsChanged();
    } catch (err) {
      this.confirming = { ...c, error: asCommandError(err).message };
    } finally {
      this.busy = false;
    }
  }

  cancelIncoming() {
    forgetParked(this.confirming?.token);
    this.confirming = null;
  }

  /** The link field's Download. */
  submit(e: SubmitEvent) {
    e.preventDefault();
    const url = this.typed();
    if (url) void this.add(url);
  }

  /** A link pasted anywhere in the window (outside a text field) starts a download. */
  paste(e: ClipboardEvent) {
    const target = e.target as HTMLElement | null;
    if (target && (target.tagName === 'INPUT' || target.tagName === 'TEXTAREA')) return;
    const text = e.clipboardData?.getData('text/plain') ?? '';
    const url = findMasvLink(text);
    if (url) {
      e.preventDefault();
      void this.add(url);
    } else if (text.trim()) {
      this.#host.say(NOT_A_LINK);
    }
  }

  /** A link dropped on the window starts a download. */
  drop(e: DragEvent) {
    const text = e.dataTransfer?.getData('text/uri-list') || e.dataTransfer?.getData('text/plain');
    const url = findMasvLink(text);
    if (url) {
      e.preventDefault();
      void this.add(url);
    } else if (text?.trim()) {
      e.preventDefault();
      this.#host.say(NOT_A_LINK);
    }
  }
}

/** A parked link the person declines is forgotten by the shell too (it holds a secret). */
function forgetParked(token: number | null | undefined) {
  if (token !== null && token !== undefined) void api.dropParkedLink(token).catch(() => {});
}
