/**
 * zlib's crc32_combine() (zlib 1.2.x crc32.c, the GF(2) matrix method), which Node's zlib does not
 * expose: the CRC-32 of A followed by B from crc32(A), crc32(B) and B's length. An .abt file's
 * checksum covers its sections in file order, but a streamed writer and reader go through the
 * columns side by side, a chunk of each in turn: each column's CRC runs on its own, and the file's
 * is combined from them at the end.
 */

/** mat (32 rows) times vec over GF(2) */
function gf2Times(mat: Uint32Array, vec: number): number {
  let sum = 0;
  for (let i = 0; vec !== 0; i++, vec >>>= 1) if (vec & 1) sum ^= mat[i]!;
  return sum >>> 0;
}

function gf2Square(square: Uint32Array, mat: Uint32Array): void {
  for (let n = 0; n < 32; n++) square[n] = gf2Times(mat, mat[n]!);
}

/** crc32(A ‖ B) from crc1 = crc32(A), crc2 = crc32(B) and len2 = B's length in bytes (any safe integer). */
export function crc32Combine(crc1: number, crc2: number, len2: number): number {
  if (len2 <= 0) return crc1 >>> 0;
  const even = new Uint32Array(32);
  const odd = new Uint32Array(32);
  // the operator for one zero bit
  odd[0] = 0xedb88320;
  for (let n = 1, row = 1; n < 32; n++, row <<= 1) odd[n] = row;
  gf2Square(even, odd); // two zero bits
  gf2Square(odd, even); // four
  let c = crc1 >>> 0;
  // apply len2 zero bytes to crc1 (the first squaring gives the operator for one zero byte)
  for (;;) {
    gf2Square(even, odd);
    if (len2 % 2 === 1) c = gf2Times(even, c);
    len2 = Math.floor(len2 / 2);
    if (len2 === 0) break;
    gf2Square(odd, even);
    if (len2 % 2 === 1) c = gf2Times(odd, c);
    len2 = Math.floor(len2 / 2);
    if (len2 === 0) break;
  }
  return (c ^ crc2) >>> 0;
}
