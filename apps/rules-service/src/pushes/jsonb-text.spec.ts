import { jsonbText } from './push-handler.service';

describe('jsonbText', () => {
  it('replaces each U+0000 escape with U+FFFD and leaves escaped backslashes and everything else as it was', () => {
    const value = { message: 'a\u0000b\u0000\u0000', literal: '\\u0000 and \\\\u0000', mixed: '\\\u0000', other: 'é😀\n"' };
    const json = JSON.stringify(value);
    const out = JSON.parse(jsonbText(json));
    expect(out).toEqual({ message: 'a\ufffdb\ufffd\ufffd', literal: '\\u0000 and \\\\u0000', mixed: '\\\ufffd', other: 'é😀\n"' });
    const clean = JSON.stringify({ message: 'no nul here \\u0000' });
    expect(jsonbText(clean)).toBe(clean);
  });
});
