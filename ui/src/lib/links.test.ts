import { describe, expect, it } from 'vitest';
import { findMasvLink } from './links';

describe('findMasvLink', () => {
  it('finds a link inside an email', () => {
    const text = 'Hi! Your files: https://get.massive.app/01ABC?secret=s3cr3t&lang=en\nThanks';
    expect(findMasvLink(text)).toBe('https://get.massive.app/01ABC?secret=s3cr3t&lang=en');
    expect(findMasvLink('https://get.massive.io/x_1?secret=abc')).toBe('https://get.massive.io/x_1?secret=abc');
  });
  it('ignores other links and links without a secret', () => {
    expect(findMasvLink('https://example.com/?secret=x')).toBeNull();
    expect(findMasvLink('https://get.massive.app/01ABC')).toBeNull();
    expect(findMasvLink('')).toBeNull();
    expect(findMasvLink(null)).toBeNull();
  });
});
