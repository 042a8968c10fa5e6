// A dialog that behaves as one: focus moves into it, Tab and Shift+Tab stay inside it,
// Escape closes it, and focus goes back to what opened it once it is gone (a keyboard
// or screen-reader user is never left behind the backdrop).

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

function focusable(node: HTMLElement): HTMLElement[] {
  return Array.from(node.querySelectorAll<HTMLElement>(FOCUSABLE)).filter((el) => el.getClientRects().length > 0);
}

/** Svelte action for a dialog's element; `close` is what Escape does. */
export function modal(node: HTMLElement, close: () => void) {
  let onclose = close;
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  if (!node.contains(document.activeElement)) (focusable(node)[0] ?? node).focus();
  const onkey = (e: KeyboardEvent) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      onclose();
      return;
    }
    if (e.key !== 'Tab') return;
    const all = focusable(node);
    const [first, last] = [all[0], all[all.length - 1]];
    if (!first || !last) return;
    if (e.shiftKey && (document.activeElement === first || !node.contains(document.activeElement))) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  };
  node.addEventListener('keydown', onkey);
  return {
    update(next: () => void) {
      onclose = next;
    },
    destroy() {
      node.removeEventListener('keydown', onkey);
      if (opener?.isConnected) opener.focus();
    },
  };
}
