// What WebVTT and SRT share: a cue's text to speakers and plain text, and cues to messages of one
// conversation timed from options.startedAt. Speakers come from WebVTT voice spans (<v Name>) or
// the captioning conventions "Name: text", ">> Name: text" and "(Name)" on a line of its own
// (DCMP Captioning Key); a cue with none is said by "Speaker".
import { BatchWriter, type ConversationRef } from "./batches.ts";
import { ImportError, type ImportOptions, type ImportSink, type Where } from "./format.ts";
import { ContentIds, type ContentIdsState, conversationIdOption, shortHash } from "./ids.ts";
import { authorName, textProblem } from "./message-fields.ts";

export const UNKNOWN_SPEAKER = "Speaker";

export interface Segment {
  speaker: string | undefined;
  text: string;
}

const NAME = String.raw`\p{L}[\p{L}\p{M}\p{N}'’. -]{0,59}`;
const NAME_PREFIX = new RegExp(String.raw`^(${NAME}):(?:\s+(.*))?$`, "u");
const NAME_LINE = new RegExp(String.raw`^\((${NAME})\)$`, "u");
const SOUND_ONLY = /^(?:\s*(?:\[[^\]]*\]|\([^)]*\)|[♪♫#]+))+\s*$/u;
const VTT_TAG = /<([^>]*)>/g;
const SRT_TAG = /<\/?(?:i|b|u|s|font|v)(?:[\s.][^>]*)?>|\{\\[^}]*\}/gi;
const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: " ", lrm: "", rlm: "" };

/**
 * A cue's lines as what each voice says: WebVTT markup (`vtt`: voice spans, other tags dropped,
 * character references decoded) or SRT's (`srt`: <i>, <b>, <u>, <font> and {\an8} dropped).
 *
 * @example cueSegments(["<v.loud Ana>Hi &amp; welcome"], "vtt") // [{ speaker: "Ana", text: "Hi & welcome" }]
 */
export function cueSegments(lines: string[], markup: "vtt" | "srt"): Segment[] {
  const text = lines.join("\n");
  const voiced: Segment[] = [];
  if (markup === "srt") voiced.push({ speaker: undefined, text: text.replace(SRT_TAG, "") });
  else {
    let current: Segment = { speaker: undefined, text: "" };
    let at = 0;
    for (const tag of text.matchAll(VTT_TAG)) {
      current.text += decodeReferences(text.slice(at, tag.index));
      at = tag.index + tag[0].length;
      const voice = /^v(?:\.\S*)?(?:\s+(.*))?$/s.exec(tag[1]!);
      if (voice || tag[1] === "/v") {
        voiced.push(current);
        current = { speaker: voice ? decodeReferences(voice[1] ?? "").trim() || undefined : undefined, text: "" };
      }
    }
    current.text += decodeReferences(text.slice(at));
    voiced.push(current);
  }
  return voiced.map(withConventions).filter((s) => s.text !== "");
}

function withConventions({ speaker, text }: Segment): Segment {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  if (speaker === undefined && lines.length > 0) {
    const own = NAME_LINE.exec(lines[0]!);
    if (own && lines.length > 1 && isName(own[1]!)) {
      speaker = own[1];
      lines.shift();
    } else {
      const first = lines[0]!.replace(/^>>\s*/, "");
      const prefixed = NAME_PREFIX.exec(first);
      if (prefixed && isName(prefixed[1]!) && (prefixed[2] !== undefined || lines.length > 1)) {
        speaker = prefixed[1]!.trim();
        if (prefixed[2] === undefined) lines.shift();
        else lines[0] = prefixed[2];
      } else lines[0] = first;
    }
  }
  return { speaker, text: lines.join("\n").trim() };
}

const isName = (name: string) => name.trim().split(/\s+/).length <= 5;

function decodeReferences(text: string): string {
  return text.replace(/&(?:#(\d{1,7})|#x([0-9a-f]{1,6})|([a-z]+));/gi, (whole, dec?: string, hex?: string, name?: string) => {
    if (name !== undefined) return ENTITIES[name.toLowerCase()] ?? whole;
    const code = dec !== undefined ? Number(dec) : Number.parseInt(hex!, 16);
    return code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff) ? String.fromCodePoint(code) : whole;
  });
}

/** What a transcript's writer needs to go on in another step. */
export interface TranscriptState {
  conversation: ConversationRef | undefined;
  ids: ContentIdsState;
  title: string | undefined;
}

/**
 * Turns timed cues into messages of one conversation: a cue's time plus options.startedAt, its
 * speakers as authors, one message per voice. The conversation is options.conversationId, else
 * "transcript-" and a hash of the first message; its title options.title, else the file's own,
 * else the start time.
 */
export class TranscriptWriter {
  readonly #startedAt: Date;
  readonly #out: BatchWriter;
  #ids = new ContentIds();
  #conversation: ConversationRef | undefined;
  /** A title the file gives (WebVTT's header line). */
  title: string | undefined;

  constructor(
    private readonly options: ImportOptions,
    private readonly sink: ImportSink,
    state?: TranscriptState,
  ) {
    const startedAt = options.startedAt;
    if (!startedAt || Number.isNaN(startedAt.getTime())) {
      throw new ImportError(
        "options",
        "started_at is required for transcripts: when the recording's 00:00:00 was, such as 2024-01-15T10:00:00Z",
      );
    }
    conversationIdOption(options);
    this.#startedAt = startedAt;
    this.#out = new BatchWriter(sink);
    if (state) {
      this.#conversation = state.conversation;
      this.#ids = ContentIds.from(state.ids);
      this.title = state.title;
    }
  }

  /** Hands over what it holds and returns what it needs to go on in another step. */
  async suspend(): Promise<TranscriptState> {
    await this.#out.finish();
    return { conversation: this.#conversation, ids: this.#ids.state(), title: this.title };
  }

  /** Adds a cue starting `startMs` after the start of the recording. */
  async cue(where: Where, startMs: number, lines: string[], markup: "vtt" | "srt"): Promise<void> {
    const segments = cueSegments(lines, markup);
    if (segments.length === 0) return this.sink.skipped(where, "empty cue");
    for (const { speaker, text } of segments) {
      if (SOUND_ONLY.test(text)) {
        this.sink.skipped(where, "sound description");
        continue;
      }
      const problem = textProblem(text);
      if (problem) {
        this.sink.skipped(where, problem);
        continue;
      }
      const author = authorName(speaker ?? UNKNOWN_SPEAKER) ?? UNKNOWN_SPEAKER;
      this.#conversation ??= {
        id: this.options.conversationId ?? `transcript-${shortHash("transcript", String(startMs), author, text).slice(0, 16)}`,
        title: this.options.title ?? this.title ?? `Transcript, ${this.#startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC`,
      };
      const id = this.#ids.next(this.#conversation.id, startMs, String(startMs), author, text);
      const timestamp = new Date(this.#startedAt.getTime() + startMs).toISOString();
      await this.#out.add(this.#conversation, { id, author_name: author, author_type: "human", text, timestamp }, where);
    }
  }

  async finish(): Promise<void> {
    await this.#out.finish();
  }
}
