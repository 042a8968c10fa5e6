import { describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import PasswordDialog from './PasswordDialog.svelte';
import DeleteDialog from './DeleteDialog.svelte';
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
    }));
    render(FileList, { files });
    const rows = screen.getAllByRole('listitem');
    expect(rows.length).toBeGreaterThan(5);
    expect(rows.length).toBeLessThan(40);
    expect(rows[0]?.textContent).toContain('file-0.dat');
    expect(screen.getByText('Virus')).toBeTruthy();
  });
});
