/**
 * CRC-32 (IEEE 802.3, the one zlib, gzip and PNG use) of a string's UTF-8 bytes or of bytes, as an
 * unsigned 32-bit number: the same value as node:zlib's crc32(). Written here because importing
 * node:zlib for it loads the whole zlib binding into the daemon (about 1.5 MiB of RSS for a few
 * hundred bytes of spawn journal), and zlib.crc32 is missing from Node releases before 20.15.
 */
const TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

export function crc32(data: string | Uint8Array): number {
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  let c = -1;
  for (let i = 0; i < bytes.length; i++) c = (TABLE[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
