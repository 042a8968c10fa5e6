import { beforeEach, describe, expect, it, vi } from 'vitest';

const addLink = vi.fn();
const dropParkedLink = vi.fn((_token: number) => Promise.resolve());
vi.mock('./api', async (original) => ({
  ...(await original<typeof import('./api')>()),
  api: { addLink: (...a: unknown[]) => addLink(...a), dropParkedLink: (token: number) => dropParkedLink(token) },
}));

import { LinkIntake, NOT_A_LINK } from './intake.svelte';

const LINK = 'https://get.massive.app/abc123?secret=s3cr3t';

function intake() {
  const said: string[] = [];
  const failed: (string | null)[] = [];
  const i = new LinkIntake({
    destination: () => '/downloads',
    fail: (m) => failed.push(m),
    say: (m) => said.push(m),
    isComplete: () => false,
    settingsChanged: () => {},
  });
  return { i, said, failed };
}

describe('link intake', () => {
  beforeEach(() => {
    addLink.mockReset();
    dropParkedLink.mockClear();
  });

  it('asks for the password of a protected link, then adds it with the password', async () => {
    const { i } = intake();
    addLink.mockRejectedValueOnce({ code: 'password_required', message: 'password required' });
    await i.add(LINK);
    expect(i.pending).toMatchObject({ url: LINK, label: 'this package', error: null });
    addLink.mockResolvedValueOnce('id1');
    await i.submitPassword('pw');
    expect(addLink).toHaveBeenLastCalledWith(LINK, '/downloads', 'pw');
    expect(i.pending).toBeNull();
  });

  it('a package already here asks what to do instead of failing', async () => {
    const { i, failed } = intake();
    addLink.mockRejectedValueOnce({ code: 'downloaded_before', message: 'already downloaded', download_id: 'd1' });
    await i.add(LINK);
    expect(i.again).toMatchObject({ id: 'd1', url: LINK, fileIds: null });
    expect(failed.filter((f) => f !== null)).toEqual([]);
  });

  it('the same parked link twice is one question, and a declined one is forgotten by the shell', () => {
    const { i } = intake();
    const preview = { name: 'Night shoot' } as never;
    i.incoming({ type: 'confirm', token: 7, preview, origin: 'browser' } as never);
    const first = i.confirming;
    i.incoming({ type: 'confirm', token: 7, preview, origin: 'browser' } as never);
    expect(i.confirming).toBe(first);
    i.cancelIncoming();
    expect(i.confirming).toBeNull();
    expect(dropParkedLink).toHaveBeenCalledWith(7);
  });

  it('a paste outside a field starts the link in it, and says so when it holds none', () => {
    const { i, said } = intake();
    addLink.mockResolvedValue('id1');
    const paste = (text: string) => {
      const e = new Event('paste') as ClipboardEvent;
      Object.defineProperty(e, 'clipboardData', { value: { getData: () => text } });
      i.paste(e);
    };
    paste(`Your files: ${LINK} (expires Friday)`);
    expect(addLink).toHaveBeenCalledWith(LINK, '/downloads', null);
    paste('hello');
    expect(said).toEqual([NOT_A_LINK]);
  });
});
