// A WhatsApp export with media is a zip: the chat in _chat.txt (iOS) or "WhatsApp Chat with X.txt"
// (Android), beside photos, voice notes and documents. The archive is streamed through fflate:
// the chat entry is inflated as it arrives, every other entry is passed over without being
// inflated or kept, and named to the caller so it can be reported as skipped.
import { Unzip, UnzipInflate } from "fflate";
import { ImportError } from "./format.ts";

const ANDROID_NAME = /^WhatsApp Chat (?:with|-) (.+)\.txt$/i;
const FOLDER_NAME = /^WhatsApp Chat (?:with|-) (.+)$/i;

const baseName = (path: string) => path.slice(path.lastIndexOf("/") + 1);

/** Whether a zip entry is the chat: `_chat.txt` or `WhatsApp Chat with X.txt`, in any folder. */
export function isChatEntry(path: string): boolean {
  const name = baseName(path);
  return name === "_chat.txt" || ANDROID_NAME.test(name);
}

/** The chat's name an entry's path gives ("WhatsApp Chat with Bob.txt", "WhatsApp Chat - Bob/_chat.txt"). */
export function chatNameOfEntry(path: string): string | undefined {
  const named = ANDROID_NAME.exec(baseName(path));
  if (named) return named[1];
  const folder = path.split("/").at(-2);
  return folder === undefined ? undefined : FOLDER_NAME.exec(folder)?.[1];
}

/** Whether bytes start a zip archive (a local file header, PK\x03\x04). */
export const isZip = (head: Uint8Array): boolean => head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;

/**
 * Finds the chat in a zip archive: its path, and its bytes as they are inflated. Reading the bytes
 * to the end reads the rest of the archive too, calling `other` with every other file's path.
 *
 * @example const chat = await openChatInZip(chunks, (path) => sink.skipped(path, "media file"));
 */
export async function openChatInZip(
  chunks: AsyncIterable<Uint8Array>,
  other: (path: string) => void,
): Promise<{ path: string; bytes: AsyncGenerator<Uint8Array> }> {
  const input = chunks[Symbol.asyncIterator]();
  const inflated: Uint8Array[] = [];
  let chat: string | undefined;
  let chatEnded = false;
  let failure: unknown;

  class ChatInflateOrDiscard {
    static readonly compression = 8;
    ondata: (err: Error | null, data: Uint8Array, final: boolean) => void = () => undefined;
    readonly #inner: UnzipInflate | undefined;
    constructor(path: string) {
      if (path !== chat) return;
      this.#inner = new UnzipInflate();
      this.#inner.ondata = (err, data, final) => this.ondata(err, data, final);
    }
    push(chunk: Uint8Array, final: boolean): void {
      if (this.#inner) this.#inner.push(chunk, final);
      else if (final) this.ondata(null, new Uint8Array(0), true);
    }
  }

  const unzip = new Unzip((file) => {
    if (chat === undefined && isChatEntry(file.name)) {
      chat = file.name;
      if (file.compression !== 0 && file.compression !== 8) {
        failure = new Error(`${file.name} is compressed with method ${file.compression}; only stored and deflate are supported`);
        return;
      }
      file.ondata = (err, data, final) => {
        if (err) failure = err;
        else if (data.length > 0) inflated.push(data);
        if (final) chatEnded = true;
      };
      file.start();
      return;
    }
    if (!file.name.endsWith("/")) other(file.name);
    if (file.compression === 0 || file.compression === 8) {
      file.ondata = () => undefined;
      file.start();
    }
  });
  unzip.register(ChatInflateOrDiscard);

  const pump = async (): Promise<boolean> => {
    const next = await input.next();
    try {
      unzip.push(next.done ? new Uint8Array(0) : next.value, next.done === true);
    } catch (error) {
      failure ??= error;
    }
    if (failure !== undefined) {
      const why = failure instanceof Error ? failure.message : String(failure);
      throw new ImportError(chat ?? "zip", `the zip archive is damaged or cut short (${why})`);
    }
    return next.done !== true;
  };

  let more = true;
  while (chat === undefined && more) more = await pump();
  if (chat === undefined) throw new ImportError("zip", "no _chat.txt (or 'WhatsApp Chat with ….txt') in the zip archive");
  const path = chat;
  async function* bytes(): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        yield* inflated.splice(0);
        if (!more) break;
        more = await pump();
      }
    } finally {
      if (more) await input.return?.();
    }
    if (!chatEnded) throw new ImportError(path, "the zip archive ends inside the chat");
  }
  return { path, bytes: bytes() };
}
