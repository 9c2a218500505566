/**
 * What an uploaded floor-plan file really is, read from its bytes (never from its name or the
 * Content-Type header): PNG, JPEG or WebP by magic bytes, the pixel size from the header (PNG IHDR,
 * JPEG SOFn, WebP VP8/VP8L/VP8X), and a structural walk that notices a truncated or damaged file
 * without decoding pixels: PNG chunks with their CRCs up to IEND, JPEG segments up to SOS and the
 * EOI after it, WebP's RIFF length and chunks (`probeImage`). Refusals are `ImageProblem`s with a reason.
 *
 * `inspectImage` adds, for a PNG, the pixel data itself: the IDAT stream must inflate cleanly to
 * exactly the scanlines IHDR calls for, each with a filter type 0–4 — a file whose CRCs were
 * recomputed over garbage is otherwise stored and drawn blank. It streams through node:zlib,
 * counting bytes and never holding the image, and stops at the first byte too many. JPEG entropy
 * data and WebP bitstreams are not checked: that needs a real decoder, which the collector does not
 * carry (no image library, no decompression bombs); the console tells the user when the browser
 * cannot decode the stored image (FloorPlanOverlay.ts).
 *
 * Specifications: PNG (ISO/IEC 15948, W3C PNG 3rd ed. §5, §7.2 scanlines, §8.2 Adam7, §11.2.1
 * IHDR), JPEG (ITU-T T.81 Annex B), WebP container (RFC 9649 §2.5–2.7) and lossless bitstream
 * header (RFC 9649 §3.2), VP8 frame header (RFC 6386 §9.1).
 */
import { crc32, createInflate } from 'node:zlib';

export type ImageType = 'image/png' | 'image/jpeg' | 'image/webp';
export const IMAGE_TYPES: readonly ImageType[] = ['image/png', 'image/jpeg', 'image/webp'];
/** Largest width or height accepted: more is no campus drawing a browser can show. */
export const MAX_SIDE_PX = 20_000;

export interface ImageInfo {
  contentType: ImageType;
  width: number;
  height: number;
}

/** not-an-image: no known signature; truncated: ends early; corrupt: inconsistent structure; dimensions: 0 or too many pixels. */
export type ImageProblemKind = 'not-an-image' | 'truncated' | 'corrupt' | 'dimensions';

export class ImageProblem extends Error {
  constructor(
    readonly problem: ImageProblemKind,
    message: string,
  ) {
    super(message);
  }
}

const PNG_SIG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Reads the type and pixel size of a PNG, JPEG or WebP file and checks that it is whole. */
export function probeImage(buf: Buffer): ImageInfo {
  if (buf.length === 0) throw new ImageProblem('not-an-image', 'the file is empty');
  let info: ImageInfo;
  if (buf.length >= 8 && buf.subarray(0, 8).equals(PNG_SIG)) info = probePng(buf);
  else if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) info = probeJpeg(buf);
  else if (buf.length >= 12 && buf.toString('latin1', 0, 4) === 'RIFF' && buf.toString('latin1', 8, 12) === 'WEBP') info = probeWebp(buf);
  else throw new ImageProblem('not-an-image', `the file is not a PNG, JPEG or WebP image (${describeStart(buf)})`);
  const { width, height } = info;
  if (width < 1 || height < 1 || width > MAX_SIDE_PX || height > MAX_SIDE_PX) {
    throw new ImageProblem('dimensions', `the image is ${width} × ${height} px; each side must be 1–${MAX_SIDE_PX} px`);
  }
  return info;
}

/**
 * probeImage, then the pixel data where the collector can check it without a decoder (a PNG's
 * IDAT stream); asynchronous because inflating runs on libuv's thread pool, off the event loop.
 */
export async function inspectImage(buf: Buffer): Promise<ImageInfo> {
  const info = probeImage(buf);
  if (info.contentType === 'image/png') await checkPngPixelData(buf);
  return info;
}

/** What people send instead of an image, by signature: named, so that they know what to export. */
const OTHER_FORMATS: [RegExp, string][] = [
  [/^%PDF-/, 'a PDF document: export the page as an image'],
  [/^AC10\d\d/, 'an AutoCAD drawing (DWG): export it as an image'],
  [/^GIF8[79]a/, 'a GIF image'],
  [/^BM[\s\S]{4}\0\0\0\0/, 'a BMP image'],
  [/^(II\*\0|MM\0\*)/, 'a TIFF image'],
  [/^\s*(<\?xml|<svg)/i, 'an SVG or XML file'],
  [/^[\s\S]{4}ftyp(heic|heix|mif1|avif)/, 'a HEIC or AVIF image'],
];

function describeStart(buf: Buffer): string {
  const head = buf.subarray(0, 64).toString('latin1');
  const known = OTHER_FORMATS.find(([re]) => re.test(head));
  if (known) return `it is ${known[1]}`;
  if (buf.length >= 4 && buf.readUInt32BE(0) === 0x504b0304) return 'it is a ZIP archive or an Office document';
  // text (UTF-8, Chinese included): show its beginning; a character cut at the end does not count
  const text = new TextDecoder('utf-8').decode(buf.subarray(0, 96)).replace(/\uFFFD+$/, '');
  const control = [...text].some((c) => c === '\uFFFD' || (c.charCodeAt(0) < 0x20 && !'\t\n\r\f\v'.includes(c)));
  if (text && !control) return `it looks like text: "${[...text].slice(0, 16).join('')}${[...text].length > 16 ? '…' : ''}"`;
  return `it starts with ${buf.subarray(0, 8).toString('hex').replace(/(..)/g, '$1 ').trim()}`;
}

// ---- PNG ----

function probePng(buf: Buffer): ImageInfo {
  let off = 8;
  let width = -1, height = -1, sawIdat = false;
  for (let n = 0; ; n++) {
    if (off + 8 > buf.length) throw new ImageProblem('truncated', `the PNG ends after ${buf.length} bytes, before its IEND chunk`);
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    if (len > 0x7fffffff || !/^[A-Za-z]{4}$/.test(type)) throw new ImageProblem('corrupt', `the PNG has a damaged chunk header at byte ${off}`);
    if (off + 12 + len > buf.length) throw new ImageProblem('truncated', `the PNG ends inside its ${type} chunk (byte ${buf.length} of ${off + 12 + len})`);
    if (n === 0) {
      if (type !== 'IHDR' || len !== 13) throw new ImageProblem('corrupt', 'the PNG does not begin with an IHDR chunk');
      width = buf.readUInt32BE(off + 8);
      height = buf.readUInt32BE(off + 12);
      pngHeader(buf); // bit depth, colour type and methods are ones a decoder knows
    }
    if (crc32(buf.subarray(off + 4, off + 8 + len)) !== buf.readUInt32BE(off + 8 + len)) {
      throw new ImageProblem('corrupt', `the PNG's ${type} chunk at byte ${off} fails its CRC check (the file is damaged)`);
    }
    if (type === 'IDAT') sawIdat = true;
    off += 12 + len;
    if (type === 'IEND') break;
  }
  if (!sawIdat) throw new ImageProblem('corrupt', 'the PNG has no image data (IDAT chunk)');
  return { contentType: 'image/png', width, height };
}

/** The IHDR fields that decide how the pixel data is laid out (PNG §11.2.1). */
interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  colourType: number;
  interlaced: boolean;
}

/** Channels per colour type, and the bit depths each allows (PNG §11.2.1, Table 11.1). */
const COLOUR_TYPES: Record<number, { name: string; channels: number; depths: number[] }> = {
  0: { name: 'greyscale', channels: 1, depths: [1, 2, 4, 8, 16] },
  2: { name: 'RGB', channels: 3, depths: [8, 16] },
  3: { name: 'palette', channels: 1, depths: [1, 2, 4, 8] },
  4: { name: 'greyscale + alpha', channels: 2, depths: [8, 16] },
  6: { name: 'RGBA', channels: 4, depths: [8, 16] },
};

/** IHDR of a PNG whose chunk walk probePng has already checked (IHDR is the first chunk, at byte 8). */
function pngHeader(buf: Buffer): PngHeader {
  const d = 16; // signature 8, then IHDR's length and type
  const [bitDepth, colourType, compression, filter, interlace] = [buf[d + 8]!, buf[d + 9]!, buf[d + 10]!, buf[d + 11]!, buf[d + 12]!];
  const colour = COLOUR_TYPES[colourType];
  if (!colour) throw new ImageProblem('corrupt', `the PNG header gives colour type ${colourType}; only 0, 2, 3, 4 and 6 exist`);
  if (!colour.depths.includes(bitDepth)) throw new ImageProblem('corrupt', `the PNG header gives bit depth ${bitDepth} for ${colour.name}; allowed: ${colour.depths.join(', ')}`);
  if (compression !== 0 || filter !== 0) throw new ImageProblem('corrupt', `the PNG header gives compression method ${compression} and filter method ${filter}; only 0 exists`);
  if (interlace > 1) throw new ImageProblem('corrupt', `the PNG header gives interlace method ${interlace}; only 0 (none) and 1 (Adam7) exist`);
  return { width: buf.readUInt32BE(d), height: buf.readUInt32BE(d + 4), bitDepth, colourType, interlaced: interlace === 1 };
}

/** Adam7's seven passes: first column and row, column and row steps (PNG §8.2). */
const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]] as const;

/** A run of scanlines of one size: the whole image, or one interlace pass. */
interface ScanlineRun {
  /** 'pass 3 of 7' for an interlaced image, '' otherwise (for messages) */
  label: string;
  rows: number;
  /** bytes of one scanline's pixels, its filter byte not counted (PNG §7.2: bits per pixel × width, rounded up to a byte) */
  rowBytes: number;
}

function scanlineRuns(h: PngHeader): ScanlineRun[] {
  const bitsPerPixel = COLOUR_TYPES[h.colourType]!.channels * h.bitDepth;
  const rowBytes = (width: number) => Math.ceil((width * bitsPerPixel) / 8);
  if (!h.interlaced) return [{ label: '', rows: h.height, rowBytes: rowBytes(h.width) }];
  // an empty pass (an image narrower or shorter than its grid) has no scanlines, not even filter bytes
  return ADAM7.map(([x0, y0, dx, dy], i) => ({ label: `Adam7 pass ${i + 1}`, cols: Math.ceil(Math.max(0, h.width - x0) / dx), rows: Math.ceil(Math.max(0, h.height - y0) / dy) }))
    .filter((p) => p.cols > 0 && p.rows > 0)
    .map(({ label, cols, rows }) => ({ label, rows, rowBytes: rowBytes(cols) }));
}

/**
 * Follows the decompressed bytes scanline by scanline without keeping them: each scanline begins
 * with its filter type (0 None … 4 Paeth, PNG §7.3), and there must be exactly as many bytes as the
 * scanlines need. At most height × (1 + width × 8) bytes (16-bit RGBA) go through: 3.2 GB at 20000 px a side.
 */
class ScanlineCounter {
  readonly expected: number;
  private run = 0;
  private rowsLeft: number;
  /** bytes of the current scanline still to come; 0 at a filter byte */
  private inRow = 0;
  private seen = 0;

  constructor(
    private readonly runs: ScanlineRun[],
    private readonly describe: string,
  ) {
    this.expected = runs.reduce((n, r) => n + r.rows * (1 + r.rowBytes), 0);
    this.rowsLeft = runs[0]?.rows ?? 0;
  }

  feed(chunk: Buffer): void {
    for (let i = 0; i < chunk.length; ) {
      if (this.inRow > 0) {
        const n = Math.min(this.inRow, chunk.length - i);
        this.inRow -= n;
        i += n;
        continue;
      }
      while (this.rowsLeft === 0 && this.run < this.runs.length - 1) this.rowsLeft = this.runs[++this.run]!.rows;
      if (this.rowsLeft === 0) {
        throw new ImageProblem('corrupt', `the PNG's image data inflates to more than the ${this.expected} bytes its header calls for (${this.describe})`);
      }
      const run = this.runs[this.run]!;
      const filter = chunk[i]!;
      if (filter > 4) {
        const row = run.rows - this.rowsLeft + 1;
        throw new ImageProblem('corrupt', `the PNG's scanline ${row}${run.label ? ` of ${run.label}` : ''} has filter type ${filter}; only 0–4 exist (the image data is damaged)`);
      }
      this.rowsLeft--;
      this.inRow = run.rowBytes;
      i++;
    }
    this.seen += chunk.length;
  }

  finish(): void {
    if (this.seen < this.expected) {
      throw new ImageProblem('corrupt', `the PNG's image data inflates to only ${this.seen} of the ${this.expected} bytes its header calls for (${this.describe})`);
    }
  }
}

/** Inflates the IDAT chunks of a PNG that probeImage accepted, as one zlib stream, through a ScanlineCounter. */
async function checkPngPixelData(buf: Buffer): Promise<void> {
  const h = pngHeader(buf);
  const idat: Buffer[] = [];
  for (let off = 8; off + 8 <= buf.length; ) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    if (type === 'IDAT') idat.push(buf.subarray(off + 8, off + 8 + len));
    if (type === 'IEND') break;
    off += 12 + len;
  }
  const describe = `${h.width} × ${h.height} px, ${h.bitDepth}-bit ${COLOUR_TYPES[h.colourType]!.name}${h.interlaced ? ', interlaced' : ''}`;
  const counter = new ScanlineCounter(scanlineRuns(h), describe);
  await new Promise<void>((resolve, reject) => {
    const inflate = createInflate({ chunkSize: 64 * 1024 });
    inflate.on('data', (chunk: Buffer) => {
      try {
        counter.feed(chunk);
      } catch (problem) {
        inflate.destroy(); // no more work once the answer is known
        reject(problem as Error);
      }
    });
    inflate.on('end', resolve);
    inflate.on('error', (err: NodeJS.ErrnoException) => {
      reject(typeof err.code === 'string' && err.code.startsWith('Z_') ? new ImageProblem('corrupt', `the PNG's image data does not decompress (zlib: ${err.message}); the file is damaged`) : err);
    });
    // the IDAT data are views into the upload, already in memory: only the inflated side is streamed
    for (const data of idat) inflate.write(data);
    inflate.end();
  });
  counter.finish();
}

// ---- JPEG ----

/** SOFn markers that carry the frame size (C4 DHT, C8 JPG and CC DAC are not frames). */
const isSof = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

function probeJpeg(buf: Buffer): ImageInfo {
  let off = 2;
  let size: { width: number; height: number } | null = null;
  for (;;) {
    // a marker: 0xFF, optional 0xFF fill bytes, the marker code
    if (off >= buf.length) throw new ImageProblem('truncated', `the JPEG ends after ${buf.length} bytes, before its image data`);
    if (buf[off] !== 0xff) throw new ImageProblem('corrupt', `the JPEG has no marker at byte ${off} where one should be`);
    while (off < buf.length && buf[off] === 0xff) off++;
    if (off >= buf.length) throw new ImageProblem('truncated', `the JPEG ends after ${buf.length} bytes, before its image data`);
    const marker = buf[off++]!;
    if (marker === 0xd9) throw new ImageProblem('corrupt', 'the JPEG ends (EOI) before any image data');
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) continue; // no length
    if (off + 2 > buf.length) throw new ImageProblem('truncated', `the JPEG ends inside a segment header at byte ${off}`);
    const len = buf.readUInt16BE(off);
    if (len < 2) throw new ImageProblem('corrupt', `the JPEG has a segment of impossible length ${len} at byte ${off}`);
    if (off + len > buf.length) throw new ImageProblem('truncated', `the JPEG ends inside a segment (byte ${buf.length} of ${off + len})`);
    if (isSof(marker)) {
      if (len < 8) throw new ImageProblem('corrupt', 'the JPEG frame header (SOF) is too short');
      size = { height: buf.readUInt16BE(off + 3), width: buf.readUInt16BE(off + 5) };
    }
    off += len;
    if (marker === 0xda) break; // SOS: entropy-coded data follows
  }
  if (!size) throw new ImageProblem('corrupt', 'the JPEG has no frame header (SOF) before its image data');
  // Entropy-coded data never holds FF D9 (an FF there is stuffed as FF 00), so the first one after
  // SOS is the end of the image; bytes some tools append after it do no harm.
  if (buf.indexOf(Buffer.from([0xff, 0xd9]), off) < 0) throw new ImageProblem('truncated', `the JPEG ends after ${buf.length} bytes without its end-of-image marker`);
  return { contentType: 'image/jpeg', ...size };
}

// ---- WebP ----

function probeWebp(buf: Buffer): ImageInfo {
  const riffEnd = 8 + buf.readUInt32LE(4);
  if (riffEnd > buf.length) throw new ImageProblem('truncated', `the WebP file ends after ${buf.length} bytes; its header says ${riffEnd}`);
  let off = 12;
  let size: { width: number; height: number } | null = null;
  let sawImage = false;
  while (off + 8 <= riffEnd) {
    const type = buf.toString('latin1', off, off + 4);
    const len = buf.readUInt32LE(off + 4);
    const data = off + 8;
    if (data + len > riffEnd) throw new ImageProblem('truncated', `the WebP file ends inside its ${type.trim()} chunk`);
    if (type === 'VP8X' && off === 12) {
      if (len < 10) throw new ImageProblem('corrupt', 'the WebP VP8X chunk is too short');
      size = { width: 1 + buf.readUIntLE(data + 4, 3), height: 1 + buf.readUIntLE(data + 7, 3) };
    } else if (type === 'VP8 ') {
      // frame tag (3 bytes), start code 9D 01 2A, then 14-bit width and height (2 bits of scale each)
      if (len < 10 || buf[data + 3] !== 0x9d || buf[data + 4] !== 0x01 || buf[data + 5] !== 0x2a) throw new ImageProblem('corrupt', 'the WebP VP8 frame header is damaged');
      size ??= { width: buf.readUInt16LE(data + 6) & 0x3fff, height: buf.readUInt16LE(data + 8) & 0x3fff };
      sawImage = true;
    } else if (type === 'VP8L') {
      // signature 0x2F, then width − 1 and height − 1 in 14 bits each, least significant bit first
      if (len < 5 || buf[data] !== 0x2f) throw new ImageProblem('corrupt', 'the WebP lossless (VP8L) header is damaged');
      const bits = buf.readUInt32LE(data + 1);
      size ??= { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
      sawImage = true;
    } else if (type === 'ANIM' || type === 'ANMF') sawImage = true;
    off = data + len + (len & 1); // chunks are padded to an even length
  }
  if (!size || !sawImage) throw new ImageProblem('corrupt', 'the WebP file has no image chunk (VP8, VP8L or an animation)');
  return { contentType: 'image/webp', ...size };
}
