// Generates the PNG app icons (a white speech bubble on teal) with no dependencies.
// Run once with `npm run icons`; the PNGs are committed under public/icons/.
import { deflateSync } from 'node:zlib';
import { writeFileSync } from 'node:fs';

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (buf) => {
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
const chunk = (type, data) => {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
};

function icon(size, maskable) {
  const teal = [15, 118, 110, 255];
  const white = [255, 255, 255, 255];
  const clear = [0, 0, 0, 0];
  const s = size / 512;
  const radius = maskable ? 0 : 96 * s;
  // bubble geometry in 512-space, shrunk for the maskable safe zone
  const k = maskable ? 0.8 : 1;
  const off = (512 - 512 * k) / 2;
  const bx0 = (96 * k + off) * s, bx1 = (416 * k + off) * s, by0 = (144 * k + off) * s, by1 = (352 * k + off) * s;
  const br = 32 * k * s;
  const raw = Buffer.alloc(size * (size * 4 + 1));
  const inRounded = (x, y, x0, y0, x1, y1, r) => {
    if (x < x0 || x > x1 || y < y0 || y > y1) return false;
    const cx = Math.min(Math.max(x, x0 + r), x1 - r);
    const cy = Math.min(Math.max(y, y0 + r), y1 - r);
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
  };
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0;
    for (let x = 0; x < size; x++) {
      let px = inRounded(x + 0.5, y + 0.5, 0, 0, size, size, radius) ? teal : clear;
      if (inRounded(x + 0.5, y + 0.5, bx0, by0, bx1, by1, br)) px = white;
      // the tail: a triangle below the bubble's left part
      const tx0 = (152 * k + off) * s, tx1 = (224 * k + off) * s, ty1 = (408 * k + off) * s;
      if (y + 0.5 >= by1 - 1 && y + 0.5 <= ty1 && x + 0.5 >= tx0) {
        const t = (y + 0.5 - by1) / (ty1 - by1);
        if (x + 0.5 <= tx1 - t * (tx1 - tx0)) px = white;
      }
      raw.set(px, y * (size * 4 + 1) + 1 + x * 4);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; ihdr[9] = 6; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const dir = new URL('../public/icons/', import.meta.url);
writeFileSync(new URL('icon-192.png', dir), icon(192, false));
writeFileSync(new URL('icon-512.png', dir), icon(512, false));
writeFileSync(new URL('icon-maskable-512.png', dir), icon(512, true));
console.log('icons written');
