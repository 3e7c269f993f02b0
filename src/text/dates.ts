/** A question about time: "when…", "what date…", "how long…". */
export const ASKS_WHEN = /^\s*(?:when|what (?:date|day|time|month|year)|how long|since when|until when)\b/i;

/** Text that names a time: a month, weekday, ISO or numeric date, clock time, year or relative day. */
export const DATE_LIKE =
  /\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today|tomorrow|tonight|(?:last|next|this) (?:week|month|year)|\d{1,2}:\d{2}|\d{4}-\d{2}-\d{2}|\d{1,2}\/\d{1,2}(?:\/\d{2,4})?|(?:19|20)\d{2})\b/i;
