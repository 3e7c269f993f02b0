// Slack's message markup to plain text. In an export's "text", literal <, > and & arrive as
// &lt; &gt; &amp;, so every <…> is markup: a mention, a channel, a broadcast or a link.

export interface SlackNames {
  user(id: string): string | undefined;
  channel(id: string): string | undefined;
}

const BROADCASTS = new Set(["here", "channel", "everyone"]);

/**
 * Slack markup as people read it: `<@U1>` → "@Ana", `<@U1|ana>` → "@ana", `<#C1|general>` →
 * "#general", `<!here>` → "@here", `<https://x.y|docs>` → "docs (https://x.y)", `<https://x.y>`
 * → the URL, `<!date^…|Feb 18>` → its fallback; then &lt; &gt; &amp; unescaped.
 *
 * @example slackText("<@U1> see <https://x.y|docs> &amp; <#C2|general>", names) // "@Ana see docs (https://x.y) & #general"
 */
export function slackText(text: string, names: SlackNames): string {
  return text
    .replace(/<([^<>]*)>/g, (_, inner: string) => {
      const bar = inner.indexOf("|");
      const target = bar < 0 ? inner : inner.slice(0, bar);
      const label = bar < 0 ? "" : inner.slice(bar + 1);
      if (target.startsWith("@")) return `@${label || names.user(target.slice(1)) || target.slice(1)}`;
      if (target.startsWith("#")) return `#${label || names.channel(target.slice(1)) || target.slice(1)}`;
      if (target.startsWith("!")) {
        const command = target.slice(1);
        if (BROADCASTS.has(command)) return `@${command}`;
        if (label) return label;
        return command.startsWith("subteam^") ? `@${command.slice(8)}` : "";
      }
      const bare = target.replace(/^mailto:|^tel:/, "");
      return label && label !== target && label !== bare ? `${label} (${target})` : label || target;
    })
    .replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">")
    .replaceAll("&amp;", "&");
}
