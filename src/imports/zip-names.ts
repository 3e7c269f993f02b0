// The entry names of a zip stored in R2, read from its central directory with two range reads (the
// end of the file, then the directory), so detection never downloads the archive.

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
/** The end-of-central-directory record and its longest comment. */
const TAIL = 22 + 0xffff;

/** The names in a zip's central directory; undefined when it cannot be read (ZIP64, damaged). */
export async function zipEntryNames(bucket: R2Bucket, key: string, size: number): Promise<string[] | undefined> {
  const tailLength = Math.min(size, TAIL);
  const tail = await bucket.get(key, { range: { offset: size - tailLength, length: tailLength } });
  if (!tail) return undefined;
  const bytes = new Uint8Array(await tail.arrayBuffer());
  const view = new DataView(bytes.buffer);
  let end = -1;
  for (let i = bytes.length - 22; i >= 0; i--) {
    if (view.getUint32(i, true) === EOCD) {
      end = i;
      break;
    }
  }
  if (end < 0) return undefined;
  const count = view.getUint16(end + 10, true);
  const length = view.getUint32(end + 12, true);
  const offset = view.getUint32(end + 16, true);
  if (offset === 0xffffffff || length === 0xffffffff || offset + length > size || length > 64 * 1024 * 1024) return undefined;
  if (count === 0) return [];
  const directory = await bucket.get(key, { range: { offset, length } });
  if (!directory) return undefined;
  const dir = new Uint8Array(await directory.arrayBuffer());
  const d = new DataView(dir.buffer);
  const names: string[] = [];
  const decoder = new TextDecoder();
  for (let at = 0; at + 46 <= dir.length && names.length < count; ) {
    if (d.getUint32(at, true) !== CENTRAL) return undefined;
    const nameLength = d.getUint16(at + 28, true);
    const extraLength = d.getUint16(at + 30, true);
    const commentLength = d.getUint16(at + 32, true);
    names.push(decoder.decode(dir.subarray(at + 46, at + 46 + nameLength)));
    at += 46 + nameLength + extraLength + commentLength;
  }
  return names;
}
