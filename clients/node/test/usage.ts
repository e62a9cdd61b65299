// test/usage.ts — a typed use of the package, checked by `tsc --noEmit`
// (pack.test.js, against the installed tarball): the declarations must
// accept this and reject what the @ts-expect-error lines do.
import {
  Client, ChatjournalError, NotFoundError, TransportError, newId, type FeedEvent, type MessageRow, type Page,
} from "chatjournal";

export async function bot(url: string, token: string): Promise<number> {
  const cj = new Client(url, { token, retries: 2, timeout: 5000 });
  const { seq } = await cj.append({ type: "message", thread: "T1", role: "user", content: "hi", id: newId() });
  const many = await cj.appendMany([{ type: "message", thread: "T1", role: "assistant", content: "hello" }]);
  const last: number = many.last_seq;
  const rows: Page<MessageRow> = await cj.history("T1", { minSeq: seq, limit: 10 });
  const next: string | null = rows.nextUrl;
  const text: string | undefined = rows[0]?.content;
  const found = await cj.search("hello", { rank: "relevance", thread: "T1" });
  const blob = await cj.putBlob(new Uint8Array([1, 2, 3]));
  const bytes: Uint8Array = await cj.getBlob(blob.blob);
  for await (const t of cj.iterate(cj.threads({ limit: 100 }))) console.log(t.thread, t.message_count);
  try {
    await cj.thread("nope");
  } catch (e) {
    if (e instanceof NotFoundError) console.log(e.status, e.error, e.field);
    else if (e instanceof TransportError) console.log(e.status === null);
    else if (e instanceof ChatjournalError) console.log(e.requestId, e.retryAfter);
  }
  const feed = cj.follow({ after: last, thread: "T1" });
  for await (const ev of feed) {
    const e: FeedEvent = ev;
    console.log(e.seq, e.type, feed.position, next, text, found.length, bytes.length);
    break;
  }
  await feed.close();
  // @ts-expect-error: rank is "recent" or "relevance"
  await cj.search("x", { rank: "best" });
  // @ts-expect-error: an event needs a type
  await cj.append({ thread: "T1" });
  return last;
}
