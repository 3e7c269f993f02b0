import type { ImportedMessage, ImportSink, Where } from "./format.ts";

export interface ConversationRef {
  id: string;
  title: string | null;
}

interface Pending {
  title: string | null;
  messages: (ImportedMessage | undefined)[];
  wheres: Where[];
  byId: Map<string, number>;
  count: number;
}

/**
 * Collects messages per conversation and hands them to the sink in batches of at most `limit`,
 * awaiting each (back-pressure). All conversations together hold at most `held` messages; past
 * that every buffer is flushed. A conversation keeps the title it was first added with.
 * Within one buffered batch a repeated message id keeps the later message and reports the
 * earlier as skipped (ingest refuses a batch with duplicate ids; across batches the later one
 * updates the earlier, as sending it again would).
 *
 * @example const out = new BatchWriter(sink); await out.add({ id: "c1", title: null }, message, "chat.txt:3"); await out.finish();
 */
export class BatchWriter {
  #pending = new Map<string, Pending>();
  #titles = new Map<string, string | null>();
  #held = 0;
  #written = 0;

  constructor(
    private readonly sink: ImportSink,
    private readonly limit = 500,
    private readonly held = 5000,
  ) {}

  /** Messages handed to the sink so far. */
  get written(): number {
    return this.#written;
  }

  async add(conversation: ConversationRef, message: ImportedMessage, where: Where): Promise<void> {
    if (!this.#titles.has(conversation.id)) this.#titles.set(conversation.id, conversation.title);
    const title = this.#titles.get(conversation.id) ?? null;
    let pending = this.#pending.get(conversation.id);
    if (!pending) this.#pending.set(conversation.id, (pending = { title, messages: [], wheres: [], byId: new Map(), count: 0 }));
    const earlier = pending.byId.get(message.id);
    if (earlier !== undefined) {
      pending.messages[earlier] = undefined;
      pending.count -= 1;
      this.#held -= 1;
      this.sink.skipped(pending.wheres[earlier]!, `the message at ${where} has the same id '${message.id}' and replaces it`);
    }
    pending.byId.set(message.id, pending.messages.length);
    pending.messages.push(message);
    pending.wheres.push(where);
    pending.count += 1;
    this.#held += 1;
    if (pending.count >= this.limit) await this.#flush(conversation.id, pending);
    else if (this.#held >= this.held) await this.finish();
  }

  /** Hands every buffered message to the sink. */
  async finish(): Promise<void> {
    for (const [id, pending] of [...this.#pending]) await this.#flush(id, pending);
  }

  async #flush(id: string, pending: Pending): Promise<void> {
    this.#pending.delete(id);
    this.#held -= pending.count;
    const messages = pending.messages.filter((m): m is ImportedMessage => m !== undefined);
    if (messages.length === 0) return;
    this.#written += messages.length;
    await this.sink.batch({ id, title: pending.title, messages });
  }
}
