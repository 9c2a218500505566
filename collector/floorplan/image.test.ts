/**
 * probeImage against real files: PNGs built with node:zlib, a JPEG and WebPs that Chromium encoded
 * (tests/fixtures/floorplan/), simple-format WebPs cut out of those, and the same files damaged;
 * inspectImage against PNGs whose chunks are whole but whose pixel data is not, built here from
 * crafted scanlines (deflated with node:zlib, CRCs computed).
 */
import { readFileSync } from 'node:fs';
import { crc32, deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { campusPlanPng, encodePng, pngHeaderOnly } from '../../tests/fixtures/floorplan/png.ts';
import { ImageProblem, MAX_SIDE_PX, inspectImage, probeImage, type ImageProblemKind } from './image.ts';

const fixture = (name: string) => readFileSync(new URL(`../../tests/fixtures/floorplan/${name}`, import.meta.url));
const JPEG = fixture('plan-96x64.jpg');
const WEBP_LOSSY = fixture('plan-96x64-lossy.webp'); // VP8X + ICCP + VP8
const WEBP_LOSSLESS = fixture('plan-96x64-lossless.webp'); // VP8X + ICCP + VP8L

/** A simple-format WebP (RIFF + one chunk) holding `type`'s chunk from an extended one. */
function simpleWebp(extended: Buffer, type: 'VP8 ' | 'VP8L'): Buffer {
  let off = 12;
  while (extended.toString('latin1', off, off + 4) !== type) off += 8 + extended.readUInt32LE(off + 4) + (extended.readUInt32LE(off + 4) & 1);
  const len = extended.readUInt32LE(off + 4);
  const body = extended.subarray(off, off + 8 + len + (len & 1));
  const head = Buffer.from('RIFF\0\0\0\0WEBP', 'latin1');
  head.writeUInt32LE(4 + body.length, 4);
  return Buffer.concat([head, body]);
}

function problemOf(buf: Buffer): ImageProblemKind | 'none' {
  try {
    probeImage(buf);
    return 'none';
  } catch (err) {
    if (err instanceof ImageProblem) return err.problem;
    throw err;
  }
}

describe('probeImage', () => {
  const png = encodePng(3, 2, new Uint8Array(3 * 2 * 4).fill(200));

  it.each([
    ['PNG', png, 'image/png', 3, 2],
    ['JPEG (Chromium)', JPEG, 'image/jpeg', 96, 64],
    ['WebP VP8X + VP8 (Chromium)', WEBP_LOSSY, 'image/webp', 96, 64],
    ['WebP VP8X + VP8L (Chromium)', WEBP_LOSSLESS, 'image/webp', 96, 64],
    ['WebP simple lossy (VP8)', simpleWebp(WEBP_LOSSY, 'VP8 '), 'image/webp', 96, 64],
    ['WebP simple lossless (VP8L)', simpleWebp(WEBP_LOSSLESS, 'VP8L'), 'image/webp', 96, 64],
  ])('reads %s: type and pixel size from the content', (_name, buf, type, width, height) => {
    expect(probeImage(buf)).toEqual({ contentType: type, width, height });
  });

  it('refuses text, an empty file and an unknown format as not-an-image, saying what it starts with', () => {
    expect(problemOf(Buffer.from('这不是图片，只是改了扩展名的文本'))).toBe('not-an-image');
    expect(problemOf(Buffer.alloc(0))).toBe('not-an-image');
    expect(problemOf(Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1'))).toBe('not-an-image');
    // what it is instead, when that can be told, so that the person knows what to export
    expect(() => probeImage(Buffer.from('hello world'))).toThrow('the file is not a PNG, JPEG or WebP image (it looks like text: "hello world")');
    expect(() => probeImage(Buffer.from('这不是图片，只是改了扩展名的文本文件'))).toThrow('(it looks like text: "这不是图片，只是改了扩展名的文本…")');
    expect(() => probeImage(Buffer.from('%PDF-1.7\n%âãÏÓ\n1 0 obj', 'latin1'))).toThrow('(it is a PDF document: export the page as an image)');
    expect(() => probeImage(Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0, 0, 0]))).toThrow('(it is a ZIP archive or an Office document)');
    expect(() => probeImage(Buffer.from([0x00, 0x01, 0x02, 0x03, 0xfe, 0xff, 0x10, 0x11, 0x12]))).toThrow('(it starts with 00 01 02 03 fe ff 10 11)');
  });

  it('notices a file cut short, at any length', () => {
    for (const buf of [png, JPEG, WEBP_LOSSY, WEBP_LOSSLESS, simpleWebp(WEBP_LOSSY, 'VP8 ')]) {
      for (const cut of [buf.length - 1, buf.length - 2, Math.floor(buf.length / 2), 40, 20, 13]) {
        expect(problemOf(buf.subarray(0, cut)), `${buf.length} bytes cut to ${cut}`).toMatch(/^(truncated|corrupt)$/);
      }
    }
    expect(problemOf(png.subarray(0, png.length - 12))).toBe('truncated'); // no IEND
    expect(problemOf(JPEG.subarray(0, JPEG.length - 2))).toBe('truncated'); // no EOI
  });

  it('notices damage: a flipped byte in a PNG chunk (CRC), a JPEG without a marker where one belongs', () => {
    const bad = Buffer.from(png);
    bad[33 + 8 + 2] = bad[33 + 8 + 2]! ^ 0xff; // inside IDAT's data (signature 8 + IHDR 25, then its length and type)
    expect(problemOf(bad)).toBe('corrupt');
    const jpeg = Buffer.from(JPEG);
    jpeg[2 + 2 + jpeg.readUInt16BE(4)] = 0x00; // the marker after APP0
    expect(problemOf(jpeg)).toBe('corrupt');
  });

  it('accepts bytes after the end (some tools append them)', () => {
    expect(probeImage(Buffer.concat([JPEG, Buffer.alloc(16)])).width).toBe(96);
    expect(probeImage(Buffer.concat([png, Buffer.from('trailer')])).width).toBe(3);
  });

  it('refuses 0 px and more than 20000 px a side, with the size in the message', () => {
    expect(problemOf(pngHeaderOnly(0, 10))).toBe('dimensions');
    expect(problemOf(pngHeaderOnly(MAX_SIDE_PX, MAX_SIDE_PX))).toBe('none');
    expect(() => probeImage(pngHeaderOnly(MAX_SIDE_PX + 1, 300))).toThrow(`the image is 20001 × 300 px; each side must be 1–20000 px`);
    // a JPEG whose frame header says 0 lines (height given later by DNL: no use for a plan)
    const jpeg = Buffer.from(JPEG);
    let off = 2;
    while (!(jpeg[off + 1]! >= 0xc0 && jpeg[off + 1]! <= 0xc2)) off += 2 + jpeg.readUInt16BE(off + 2);
    jpeg.writeUInt16BE(0, off + 5);
    expect(problemOf(jpeg)).toBe('dimensions');
  });
});

// ---- PNG pixel data (inspectImage) ----

function chunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

interface Ihdr {
  width: number;
  height: number;
  bitDepth: number;
  colourType: number;
  interlace?: 0 | 1;
}

/** A PNG whose chunks and CRCs are right whatever `idat` holds (the compressed stream, split into `parts` IDAT chunks). */
function craftPng(h: Ihdr, idat: Buffer, opts: { parts?: number; before?: Buffer[] } = {}): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(h.width, 0);
  ihdr.writeUInt32BE(h.height, 4);
  ihdr.set([h.bitDepth, h.colourType, 0, 0, h.interlace ?? 0], 8);
  const parts = opts.parts ?? 1, step = Math.ceil(idat.length / parts);
  const idats = Array.from({ length: parts }, (_, i) => chunk('IDAT', idat.subarray(i * step, (i + 1) * step)));
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), chunk('IHDR', ihdr), ...(opts.before ?? []), ...idats, chunk('IEND', Buffer.alloc(0))]);
}

/** Scanlines of `rowBytes` pixel bytes each, filter types cycling 0–4 (any pixel bytes are valid after any filter). */
const scanlines = (rows: number, rowBytes: number, filter = (r: number) => r % 5) =>
  Buffer.concat(Array.from({ length: rows }, (_, r) => Buffer.from([filter(r), ...Array.from({ length: rowBytes }, (_, i) => (r * 31 + i * 7) & 0xff)])));

async function inspected(buf: Buffer): Promise<string> {
  try {
    await inspectImage(buf);
    return 'accepted';
  } catch (err) {
    if (err instanceof ImageProblem) return `${err.problem}: ${err.message}`;
    throw err;
  }
}

describe('inspectImage: a PNG\'s pixel data inflates to exactly its scanlines', () => {
  const RGB_5x3: Ihdr = { width: 5, height: 3, bitDepth: 8, colourType: 2 };
  const rgb = scanlines(3, 15); // 5 px × 3 bytes a row

  it.each([
    ['8-bit RGB, 5 × 3', craftPng(RGB_5x3, deflateSync(rgb))],
    ['8-bit RGB with its stream split over three IDAT chunks', craftPng(RGB_5x3, deflateSync(rgb), { parts: 3 })],
    // 1 bit a pixel: 10 px take 2 bytes a row
    ['1-bit palette, 10 × 4', craftPng({ width: 10, height: 4, bitDepth: 1, colourType: 3 }, deflateSync(scanlines(4, 2)), { before: [chunk('PLTE', Buffer.from([0, 0, 0, 255, 255, 255]))] })],
    ['16-bit greyscale + alpha, 3 × 2', craftPng({ width: 3, height: 2, bitDepth: 16, colourType: 4 }, deflateSync(scanlines(2, 12)))],
    // Adam7 on 3 × 3: passes 2 and 3 are empty (no filter bytes); pass 1 1×1, 4 1×1, 5 2×1, 6 1×2, 7 3×1
    ['8-bit RGB 3 × 3, interlaced', craftPng({ width: 3, height: 3, bitDepth: 8, colourType: 2, interlace: 1 }, deflateSync(Buffer.concat([scanlines(1, 3), scanlines(1, 3), scanlines(1, 6), scanlines(2, 3), scanlines(1, 9)])))],
    ['the campus plan of the browser tests (RGBA, 320 × 280)', campusPlanPng().png],
  ])('accepts %s', async (_name, png) => {
    expect(await inspected(png)).toBe('accepted');
  });

  it('accepts the JPEG and WebPs as probeImage does (their compressed data is left to the browser)', async () => {
    for (const buf of [JPEG, WEBP_LOSSY, WEBP_LOSSLESS]) expect(await inspected(buf)).toBe('accepted');
    expect(await inspectImage(JPEG)).toEqual(probeImage(JPEG));
  });

  it('refuses an interlaced image laid out as if it were not (and the other way round)', async () => {
    const flat = Buffer.alloc(30); // 3 × (1 + 9) bytes, filter 0 throughout; Adam7 needs 33
    expect(await inspected(craftPng({ width: 3, height: 3, bitDepth: 8, colourType: 2, interlace: 1 }, deflateSync(flat)))).toBe(
      "corrupt: the PNG's image data inflates to only 30 of the 33 bytes its header calls for (3 × 3 px, 8-bit RGB, interlaced)",
    );
    expect(await inspected(craftPng({ width: 3, height: 3, bitDepth: 8, colourType: 2 }, deflateSync(Buffer.concat([flat, Buffer.from([0, 0, 0])]))))).toBe(
      "corrupt: the PNG's image data inflates to more than the 30 bytes its header calls for (3 × 3 px, 8-bit RGB)",
    );
  });

  it('refuses a zlib stream that does not inflate, saying what zlib said', async () => {
    const z = deflateSync(rgb);
    const badHeader = Buffer.from(z);
    badHeader[0] = 0x00; // not a deflate stream
    expect(await inspected(craftPng(RGB_5x3, badHeader))).toMatch(/^corrupt: the PNG's image data does not decompress \(zlib: incorrect header check\)/);
    const badBlock = Buffer.from(z);
    badBlock[2] = 0xff; // final block of the reserved type 3
    expect(await inspected(craftPng(RGB_5x3, badBlock))).toMatch(/^corrupt: the PNG's image data does not decompress \(zlib: invalid block type\)/);
    expect(await inspected(craftPng(RGB_5x3, z.subarray(0, z.length - 6)))).toMatch(/^corrupt: the PNG's image data does not decompress \(zlib: unexpected end of file\)/);
    expect(await inspected(craftPng(RGB_5x3, Buffer.from('not compressed at all')))).toMatch(/^corrupt: .*does not decompress/);
  });

  it('refuses too few and too many bytes, with the counts', async () => {
    expect(await inspected(craftPng(RGB_5x3, deflateSync(rgb.subarray(0, 47))))).toBe(
      "corrupt: the PNG's image data inflates to only 47 of the 48 bytes its header calls for (5 × 3 px, 8-bit RGB)",
    );
    expect(await inspected(craftPng(RGB_5x3, deflateSync(scanlines(2, 15))))).toMatch(/only 32 of the 48 bytes/);
    expect(await inspected(craftPng(RGB_5x3, deflateSync(Buffer.concat([rgb, Buffer.from([0])]))))).toBe(
      "corrupt: the PNG's image data inflates to more than the 48 bytes its header calls for (5 × 3 px, 8-bit RGB)",
    );
    // a header-only PNG (probeImage's size checks) has one row where 20000 are due
    expect(await inspected(pngHeaderOnly(MAX_SIDE_PX, MAX_SIDE_PX))).toMatch(/^corrupt: the PNG's image data inflates to only 5 of the 1600020000 bytes/);
  });

  it('stops at the first byte too many of a stream that inflates to far more than the header says', async () => {
    const bomb = craftPng({ width: 100, height: 100, bitDepth: 8, colourType: 6 }, deflateSync(Buffer.alloc(64 * 1024 * 1024)));
    expect(bomb.length).toBeLessThan(100_000);
    expect(await inspected(bomb)).toMatch(/more than the 40100 bytes/);
  });

  it('refuses a scanline whose filter type is not 0–4, naming the scanline', async () => {
    expect(await inspected(craftPng(RGB_5x3, deflateSync(scanlines(3, 15, (r) => (r === 1 ? 5 : 0)))))).toBe(
      "corrupt: the PNG's scanline 2 has filter type 5; only 0–4 exist (the image data is damaged)",
    );
    const passes = Buffer.concat([scanlines(1, 3), scanlines(1, 3), scanlines(1, 6), scanlines(2, 3, (r) => (r === 1 ? 0xff : 0)), scanlines(1, 9)]);
    expect(await inspected(craftPng({ width: 3, height: 3, bitDepth: 8, colourType: 2, interlace: 1 }, deflateSync(passes)))).toBe(
      "corrupt: the PNG's scanline 2 of Adam7 pass 6 has filter type 255; only 0–4 exist (the image data is damaged)",
    );
  });

  it('refuses a header no decoder knows: bit depth for the colour type, colour type, interlace method', async () => {
    expect(problemOf(craftPng({ width: 5, height: 3, bitDepth: 4, colourType: 2 }, deflateSync(rgb)))).toBe('corrupt');
    expect(() => probeImage(craftPng({ width: 5, height: 3, bitDepth: 3, colourType: 0 }, deflateSync(rgb)))).toThrow('bit depth 3 for greyscale; allowed: 1, 2, 4, 8, 16');
    expect(() => probeImage(craftPng({ width: 5, height: 3, bitDepth: 8, colourType: 5 }, deflateSync(rgb)))).toThrow('colour type 5; only 0, 2, 3, 4 and 6 exist');
    expect(() => probeImage(craftPng({ width: 5, height: 3, bitDepth: 8, colourType: 2, interlace: 2 as 1 }, deflateSync(rgb)))).toThrow('interlace method 2');
  });
});
