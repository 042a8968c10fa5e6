const LINK = /https?:\/\/get\.massive\.(?:app|io)\/[A-Za-z0-9_-]+\?[^\s"'<>]*secret=[^\s"'<>&]+[^\s"'<>]*/i;

/** Finds a MASV download link in pasted or dropped text (an email, a chat line). */
export function findMasvLink(text: string | null | undefined): string | null {
  if (!text) return null;
  const m = LINK.exec(text);
  return m ? m[0] : null;
}
