#!/usr/bin/env node
// Writes the app icons into resources/ (a rounded square with an "M"-like mark), as PNG,
// with nothing but Node: electron-builder derives the .icns and .ico from icon.png.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { deflateSync } from "node:zlib";

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
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}
function png(size) {
  const raw = Buffer.alloc((size * 4 + 1) * size);
  const r = size * 0.18;
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0;
    for (let x = 0; x < size; x++) {
      const dx = Math.max(r - x, 0, x - (size - 1 - r));
      const dy = Math.max(r - y, 0, y - (size - 1 - r));
      const inside = dx * dx + dy * dy <= r * r;
      const u = x / size;
      const v = y / size;
      // An "M" of two strokes and two legs.
      const stroke = size < 64 ? 0.12 : 0.09;
      const leg = (u > 0.22 && u < 0.22 + stroke) || (u > 0.78 - stroke && u < 0.78);
      const diag = Math.abs(v - 0.25 - (u < 0.5 ? u - 0.22 : 0.78 - u) * 1.1) < stroke * 0.7 && u > 0.22 && u < 0.78;
      const mark = v > 0.22 && v < 0.78 && (leg || diag);
      const o = y * (size * 4 + 1) + 1 + x * 4;
      const [R, G, B] = mark ? [255, 255, 255] : [34 + 40 * v, 99 + 30 * u, 230];
      raw[o] = R;
      raw[o + 1] = G;
      raw[o + 2] = B;
      raw[o + 3] = inside ? 255 : 0;
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8;
  header[9] = 6;
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}
const dir = join(import.meta.dirname, "..", "resources");
writeFileSync(join(dir, "icon.png"), png(1024));
writeFileSync(join(dir, "tray.png"), png(32));
writeFileSync(join(dir, "tray@2x.png"), png(64));
console.log("wrote resources/icon.png, tray.png, tray@2x.png");
