/**
 * probeImage against real files: PNGs built with node:zlib, a JPEG and WebPs that Chromium encoded
 * (tests/fixtures/floorplan/), simple-format WebPs cut out of those, and the same files damaged.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encodePng, pngHeaderOnly } from '../../tests/fixtures/floorplan/png.ts';
import { ImageProblem, MAX_SIDE_PX, probeImage, type ImageProblemKind } from './image.ts';

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
