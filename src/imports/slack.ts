// Slack workspace export (a zip): users.json, channels.json (groups.json, dms.json, mpims.json in
// exports of private conversations), and per conversation a folder of day files, each a JSON array
// of that day's messages. One conversation per folder. The archive is read in stored order, so a
// day file can come before users.json: its messages wait, compacted, until users.json and
// channels.json have been read (at most `deferredMessages` of them; past that, or when the archive
// has neither, they are named from what each message carries and the gap is reported). Memory:
// the largest day file, the name tables, and the waiting messages.
import { BatchEmitter, type Conversation, conversationId, type ParsedMessage } from "./emitter.ts";
import { ImportError, type Importer, type ImportOptions, type ImportSink, type ZipLimits } from "./format.ts";
import { list, record, str } from "./json-fields.ts";
import { jsonValues } from "./json-stream.ts";
import { slackText } from "./slack-text.ts";
import { ZIP_LIMITS, type ZipEntry, type ZipStart, zipEntries } from "./zip.ts";

export interface SlackLimits {
  zip: ZipLimits;
  /** Messages kept waiting for users.json and channels.json before they are named without them. */
  deferredMessages: number;
}

export const SLACK_LIMITS: SlackLimits = { zip: ZIP_LIMITS, deferredMessages: 50_000 };

/** Subtypes that are someone saying something; every other subtype (joins, topics, edits…) is skipped with the subtype as reason. */
const SPOKEN = new Set(["bot_message", "me_message", "thread_broadcast", "reply_broadcast", "file_share", "slackbot_response"]);
const DAY_FILE = /^\d{4}-\d{2}-\d{2}\.json$/;
const USERS = ["users.json", "org_users.json"];
const LISTS = ["channels.json", "groups.json", "dms.json", "mpims.json"];

interface User {
  name: string | undefined;
  bot: boolean;
}

interface Place {
  id: string;
  name: string;
  kind: "channel" | "dm" | "mpim";
  members: string[];
  topic: string | undefined;
  purpose: string | undefined;
}

/** The parts of a message that survive until names are known. */
interface Compact {
  where: string;
  folder: string;
  ts: string;
  user: string | undefined;
  text: string;
  subtype: string | undefined;
  files: string[];
  botName: string | undefined;
  botId: string | undefined;
  profileName: string | undefined;
}

/** Whether a zip's entry names look like a Slack export: users.json or channels.json and a day file in a folder. */
export function isSlackZip(entryNames: readonly string[]): boolean {
  const metadata = entryNames.some((n) => n.split("/").length <= 2 && [...USERS, "channels.json"].includes(n.split("/").at(-1)!));
  return metadata && entryNames.some((n) => n.includes("/") && DAY_FILE.test(n.split("/").at(-1)!));
}

/** What a paused parse needs to go on: where in the archive, and the names read so far. */
interface SlackState {
  zip: ZipStart;
  users: [string, User][];
  places: [string, Place][];
  seen: string[];
  waitingDone: boolean;
  dayFiles: number;
}

/** A Slack importer with its own limits (tests lower them); options.zipLimits, when given, caps the archive. */
export function createSlackImporter(limits: SlackLimits = SLACK_LIMITS): Importer {
  return {
    format: "slack",
    parse: (input, options, sink, resume) =>
      new SlackImport(options, sink, { ...limits, zip: options.zipLimits ?? limits.zip }).run(
        input,
        resume?.state as SlackState | undefined,
      ),
  };
}

export const slackImporter: Importer = createSlackImporter();

class SlackImport {
  #users = new Map<string, User>();
  #places = new Map<string, Place>();
  #channelNames = new Map<string, string>();
  #seen = new Set<string>();
  #waiting: Compact[] = [];
  #waitingDone = false;
  #conversations = new Map<string, Conversation>();
  #emitter: BatchEmitter;
  #dayFiles = 0;

  constructor(
    private readonly options: ImportOptions,
    private readonly sink: ImportSink,
    private readonly limits: SlackLimits,
  ) {
    this.#emitter = new BatchEmitter(sink);
  }

  async run(input: ReadableStream<Uint8Array>, state?: SlackState): Promise<void> {
    if (state) this.#restore(state);
    for await (const entry of zipEntries(input, this.limits.zip, state?.zip)) {
      // Between entries, with no day file waiting for names, the archive can go on from this entry.
      if (this.#waiting.length === 0) await this.sink.pausable?.(entry.offset, () => this.#suspend(entry));
      const parts = entry.name.split("/");
      const base = parts.at(-1)!;
      if (parts.length <= 2 && USERS.includes(base)) await this.#readUsers(entry);
      else if (parts.length <= 2 && LISTS.includes(base)) await this.#readPlaces(entry, base);
      else if (parts.length >= 2 && DAY_FILE.test(base) && parts[0] !== "__MACOSX") await this.#readDay(entry, parts.at(-2)!);
      else this.sink.skipped(entry.name, "not a Slack conversation file");
    }
    if (this.#dayFiles === 0 && this.#seen.size === 0) {
      throw new ImportError("archive", "no users.json, channels.json or day files (channel/YYYY-MM-DD.json): not a Slack export");
    }
    await this.#stopWaiting();
    await this.#emitter.flush();
  }

  async #suspend(entry: ZipEntry): Promise<SlackState> {
    await this.#emitter.flush();
    return {
      zip: { offset: entry.offset, inflated: entry.inflatedBefore },
      users: [...this.#users],
      places: [...this.#places],
      seen: [...this.#seen],
      waitingDone: this.#waitingDone,
      dayFiles: this.#dayFiles,
    };
  }

  #restore(state: SlackState): void {
    this.#users = new Map(state.users);
    this.#places = new Map(state.places);
    for (const place of this.#places.values()) this.#channelNames.set(place.id, place.name);
    this.#seen = new Set(state.seen);
    this.#waitingDone = state.waitingDone;
    this.#dayFiles = state.dayFiles;
  }

  async #readUsers(entry: ZipEntry): Promise<void> {
    for await (const { value } of jsonValues(entry.open(), [["*"]], entry.name)) {
      const u = record(value);
      const profile = record(u.profile);
      const id = str(u.id);
      if (!id) continue;
      const name = str(u.real_name) || str(profile.display_name) || str(profile.real_name) || str(u.name);
      this.#users.set(id, { name, bot: u.is_bot === true });
    }
    await this.#sawMetadata("users.json");
  }

  async #readPlaces(entry: ZipEntry, base: string): Promise<void> {
    const kind = base === "dms.json" ? "dm" : base === "mpims.json" ? "mpim" : "channel";
    for await (const { value } of jsonValues(entry.open(), [["*"]], entry.name)) {
      const c = record(value);
      const id = str(c.id);
      if (!id) continue;
      const name = str(c.name) ?? id;
      const members = list(c.members).filter((m): m is string => typeof m === "string");
      // DM folders are named by the conversation's id, all others by its name.
      this.#places.set(kind === "dm" ? id : name, {
        id,
        name,
        kind,
        members,
        topic: str(record(c.topic).value),
        purpose: str(record(c.purpose).value),
      });
      this.#channelNames.set(id, name);
    }
    await this.#sawMetadata(base);
  }

  async #sawMetadata(file: string): Promise<void> {
    this.#seen.add(file === "org_users.json" ? "users.json" : file);
    if (this.#seen.has("users.json") && this.#seen.has("channels.json")) await this.#stopWaiting();
  }

  async #readDay(entry: ZipEntry, folder: string): Promise<void> {
    this.#dayFiles += 1;
    const day: Compact[] = [];
    for await (const { path, value } of jsonValues(entry.open(), [["*"]], entry.name))
      day.push(compact(value, `${entry.name}#/${path[0]}`, folder));
    day.sort((a, b) => compareTs(a.ts, b.ts));
    if (this.#waitingDone) {
      for (const message of day) await this.#emit(message);
      return;
    }
    for (const message of day) this.#waiting.push(message);
    if (this.#waiting.length > this.limits.deferredMessages) await this.#stopWaiting();
  }

  /** Names the waiting messages with what is known now; later ones are named as they come. */
  async #stopWaiting(): Promise<void> {
    if (this.#waitingDone) return;
    this.#waitingDone = true;
    if (this.#waiting.length > 0) {
      for (const file of ["users.json", "channels.json"].filter((f) => !this.#seen.has(f))) {
        this.sink.skipped(
          file,
          `not found before ${this.#waiting.length} messages: they are named from their own profile fields, mentions by id`,
        );
      }
    }
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const message of waiting) await this.#emit(message);
  }

  async #emit(m: Compact): Promise<void> {
    if (m.subtype !== undefined && !SPOKEN.has(m.subtype)) return this.sink.skipped(m.where, m.subtype);
    const time = slackTime(m.ts);
    if (!time) return this.sink.skipped(m.where, "no valid ts");
    const user = m.user === undefined ? undefined : this.#users.get(m.user);
    // Slack sets bot_id on whatever an app posts, also for a bot user's messages.
    const bot = m.subtype === "bot_message" || m.botId !== undefined || user?.bot === true || m.user === "USLACKBOT";
    const names = { user: (id: string) => this.#users.get(id)?.name, channel: (id: string) => this.#channelNames.get(id) };
    const files = m.files.map((f) => `[file: ${f}]`);
    const message: ParsedMessage = {
      id: `${m.folder}:${m.ts}`,
      author: bot ? (m.botName ?? user?.name) : (user?.name ?? m.profileName),
      fallbackAuthor: m.user ?? m.botId ?? "Unknown",
      authorType: bot ? "bot" : "human",
      text: [slackText(m.text, names), ...files].filter((s) => s.trim() !== "").join("\n"),
      time,
    };
    await this.#emitter.add(this.#conversation(m.folder), message, m.where);
  }

  #conversation(folder: string): Conversation {
    let conversation = this.#conversations.get(folder);
    if (conversation) return conversation;
    const place = this.#places.get(folder);
    const names = (place?.members ?? []).map((id) => this.#users.get(id)?.name ?? id).join(", ");
    const title = !place || place.kind === "channel" ? `#${folder}` : `${place.kind === "dm" ? "DM" : "Group DM"}: ${names || folder}`;
    const metadata: Record<string, unknown> = { source: "slack", folder };
    if (place)
      Object.assign(metadata, {
        channel_id: place.id,
        ...(place.topic && { topic: place.topic }),
        ...(place.purpose && { purpose: place.purpose }),
      });
    conversation = { id: conversationId(this.options, `slack-${folder}`, `${folder}/`), title, metadata };
    this.#conversations.set(folder, conversation);
    return conversation;
  }
}

function compact(value: unknown, where: string, folder: string): Compact {
  const m = record(value);
  const files = list(m.files).map((f) => str(record(f).name) ?? str(record(f).title) ?? "file");
  let text = typeof m.text === "string" ? m.text : "";
  if (text.trim() === "") {
    // Bots often say everything in legacy attachments.
    text = list(m.attachments)
      .flatMap((a) => [str(record(a).pretext), str(record(a).title), str(record(a).text) ?? str(record(a).fallback)])
      .filter(Boolean)
      .join("\n");
  }
  const profile = record(m.user_profile);
  return {
    where,
    folder,
    ts: typeof m.ts === "string" ? m.ts : typeof m.ts === "number" ? String(m.ts) : "",
    user: str(m.user),
    text,
    subtype: str(m.subtype),
    files,
    botName: str(m.username) ?? str(record(m.bot_profile).name),
    botId: str(m.bot_id),
    profileName: str(profile.real_name) || str(profile.display_name) || str(profile.name),
  };
}

/** "1705312800.000200" → 2024-01-15T10:00:00.000Z (milliseconds kept, microseconds dropped). */
export function slackTime(ts: string): Date | undefined {
  const m = /^(\d{1,11})(?:\.(\d{1,9}))?$/.exec(ts);
  return m ? new Date(Number(m[1]) * 1000 + Number((m[2] ?? "").padEnd(3, "0").slice(0, 3))) : undefined;
}

function compareTs(a: string, b: string): number {
  const [as = "", af = ""] = a.split(".");
  const [bs = "", bf = ""] = b.split(".");
  return Number(as) - Number(bs) || af.padEnd(9, "0").localeCompare(bf.padEnd(9, "0"));
}
