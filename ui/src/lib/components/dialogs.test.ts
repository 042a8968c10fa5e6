import { describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import PasswordDialog from './PasswordDialog.svelte';
import DeleteDialog from './DeleteDialog.svelte';
import ConfirmLinkDialog from './ConfirmLinkDialog.svelte';
import FileList from './FileList.svelte';
import type { FileInfo } from '../bindings/FileInfo';

describe('PasswordDialog', () => {
  it('submits the typed password and shows a wrong-password message', async () => {
    const onsubmit = vi.fn();
    const oncancel = vi.fn();
    const user = userEvent.setup();
    const { rerender } = render(PasswordDialog, { label: 'Rushes', error: null, busy: false, onsubmit, oncancel });
    const submit = screen.getByRole('button', { name: 'Download' });
    expect(submit).toHaveProperty('disabled', true);
    await user.type(screen.getByLabelText('Password'), 'hunter2');
    await user.click(submit);
    expect(onsubmit).toHaveBeenCalledWith('hunter2');
    await rerender({ label: 'Rushes', error: 'Wrong password.', busy: false, onsubmit, oncancel });
    expect(screen.getByRole('alert').textContent).toContain('Wrong password');
    await user.keyboard('{Escape}');
    expect(oncancel).toHaveBeenCalled();
  });
});

describe('ConfirmLinkDialog', () => {
  const preview = { name: 'Day 2', package_id: 'p', sender_email: 'dit@set.example', file_count: 1, total_bytes: 1536,
    sizes_complete: true, withheld: 0, expires_at: null };

  it('starts only on Download, and passes the trust choice', async () => {
    const onconfirm = vi.fn();
    const user = userEvent.setup();
    render(ConfirmLinkDialog, { preview, destination: '/media', busy: false, error: null, onconfirm, oncancel: vi.fn() });
    expect(screen.getByText('1.5 KB in 1 file')).toBeTruthy();
    expect(screen.queryByText(/^expires in/)).toBeNull();
    await user.keyboard('{Enter}');
    expect(onconfirm).not.toHaveBeenCalled();
    await user.click(screen.getByLabelText(/Always download links from dit@set.example/));
    await user.click(screen.getByRole('button', { name: 'Download' }));
    expect(onconfirm).toHaveBeenCalledWith(true);
  });

  it('says when the size is a lower bound, and never offers to trust a missing sender', () => {
    render(ConfirmLinkDialog, { preview: { ...preview, sender_email: '', sizes_complete: false, file_count: 3 },
      destination: null, busy: false, error: null, onconfirm: vi.fn(), oncancel: vi.fn() });
    expect(screen.getByText('at least 1.5 KB in 3 files')).toBeTruthy();
    expect(screen.getByText('Sender not given')).toBeTruthy();
    expect(screen.queryByLabelText(/Always download/)).toBeNull();
  });

  it('says when the link stops working, marked on its last day', () => {
    const now = Math.floor(Date.now() / 1000);
    render(ConfirmLinkDialog, { preview: { ...preview, expires_at: now + 5 * 3600 + 600 },
      destination: null, busy: false, error: null, onconfirm: vi.fn(), oncancel: vi.fn() });
    const shown = screen.getByText('expires in 5 h');
    expect(shown.classList.contains('soon')).toBe(true);
  });
});

describe('DeleteDialog', () => {
  it('keeps files unless the person asks to remove them', async () => {
    const onconfirm = vi.fn();
    const user = userEvent.setup();
    render(DeleteDialog, { name: 'Rushes', hasFiles: true, onconfirm, oncancel: vi.fn() });
    await user.click(screen.getByRole('button', { name: 'Remove download' }));
    expect(onconfirm).toHaveBeenLastCalledWith(false);
    await user.click(screen.getByLabelText(/Also remove the files/));
    await user.click(screen.getByRole('button', { name: 'Remove download and files' }));
    expect(onconfirm).toHaveBeenLastCalledWith(true);
  });

  it('does not offer file removal when nothing was downloaded', () => {
    render(DeleteDialog, { name: 'Empty', hasFiles: false, onconfirm: vi.fn(), oncancel: vi.fn() });
    expect(screen.queryByLabelText(/Also remove the files/)).toBeNull();
  });
});

describe('FileList', () => {
  it('renders only the rows in view of a 10,000-file package', () => {
    const files: FileInfo[] = Array.from({ length: 10_000 }, (_, i) => ({
      index: i, file_id: `f${i}`, kind: 'file', package_path: `batch/file-${i}.dat`, path: `batch/file-${i}.dat`,
      size: 100, bytes_done: i % 2 ? 100 : 0, state: i % 2 ? 'complete' : 'pending', error: null, virus_detected: i === 3, hash: null, verified: false,
      kept_aside: i === 1 ? 'batch/file-1 (changed).dat' : null,
    }));
    render(FileList, { files });
    const rows = screen.getAllByRole('listitem');
    expect(rows.length).toBeGreaterThan(5);
    expect(rows.length).toBeLessThan(40);
    // The folder first, summing its files; then its files, in a person's order.
    expect(rows[0]?.textContent).toContain('batch/');
    expect(rows[0]?.textContent).toContain('5000 of 10000 files done');
    expect(rows[1]?.textContent).toContain('file-0.dat');
    expect(rows[2]?.textContent).toContain('file-1.dat');
    expect(screen.getByText('Virus')).toBeTruthy();
    // Downloaded again over a changed file: the person's copy is named, not hidden.
    const kept = screen.getByText('Your copy: file-1 (changed).dat');
    expect(kept.getAttribute('title')).toBe('A different file was here; it was kept as batch/file-1 (changed).dat');
  });
});
