// Type declarations of the chatjournal Node client (index.js). The shapes of
// the server's rows are in docs/http.md; members not listed here may appear
// (the server adds fields over time), hence the index signatures.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** An event to append (docs/events.md): a "type" and the type's fields. */
export interface Event {
  type: string;
  id?: string;
  ts?: string | number;
  [field: string]: Json | undefined;
}

export interface AppendReply { seq: number; duplicate?: true; deleted?: true }
export interface AppendManyReply { seqs: number[]; last_seq: number; duplicates?: number[]; deleted?: number[] }

/** A message row (GET /v1/threads/{t}/messages, search, user messages). */
export interface MessageRow {
  seq: number;
  type: string;
  thread: string;
  role: string;
  content?: string;
  ts: string;
  ts_ms: number;
  id?: string;
  user?: string;
  server?: string;
  channel?: string;
  metadata?: { [key: string]: Json };
  [field: string]: Json | undefined;
}

export interface ThreadInfo {
  thread: string;
  server?: string | null;
  channel?: string | null;
  title?: string | null;
  topic?: string | null;
  message_count: number;
  created?: string | number | null;
  last_activity?: string | number | null;
  [field: string]: Json | undefined;
}

export interface UserInfo {
  user: string;
  username?: string | null;
  display_name?: string | null;
  is_bot?: boolean | null;
  avatar_url?: string | null;
  timezone?: string | null;
  metadata?: { [key: string]: Json } | null;
  first_seen?: string | number | null;
  last_seen?: string | number | null;
  [field: string]: Json | undefined;
}

/** An event of the feed: its canonical JSON with "seq" ("redacted": a tombstone). */
export interface FeedEvent { seq: number; type: string; redacted?: true; [field: string]: Json | undefined }
export interface EventsPage { events: FeedEvent[]; next_after: number; last_seq: number }
export interface CostSums { [field: string]: Json | undefined }
export interface Costs { total: CostSums; by_day: CostSums[]; by_model: CostSums[]; by_thread: CostSums[] }
export interface Metric { seq: number; name: string; value: number; unit?: string; tags?: { [key: string]: Json }; ts_ms: number; ts: string }
export interface Setting { key: string; value: Json; category?: string; sensitive: boolean; masked: boolean; [field: string]: Json | undefined }
export interface BlobReply { blob: string; size: number }
export interface ChatCompletionMessage { role: string; content?: string | null; [field: string]: Json | undefined }

/** A page of rows; nextUrl is the server's Link rel="next", or null on the last page. */
export declare class Page<T> extends Array<T> { nextUrl: string | null }

export interface ClientOptions {
  token?: string | null;
  /** ms per request (default 30000) */
  timeout?: number;
  /** repeats after 429, 503 or a lost connection (default 4) */
  retries?: number;
  /** first wait between attempts, ms (default 200) */
  backoff?: number;
  /** largest wait between attempts, ms (default 5000) */
  maxBackoff?: number;
}

export interface Paging { limit?: number; before?: number; after?: number; minSeq?: number }
export interface HistoryOptions extends Paging { user?: string; server?: string }
export interface SearchOptions {
  thread?: string; user?: string; server?: string; limit?: number;
  rank?: "recent" | "relevance"; images?: boolean; minSeq?: number;
}
export interface FollowOptions {
  /** resume after this seq (default: the server's default) */
  after?: number | null;
  type?: string | null;
  thread?: string | null;
  /** ms without a byte (the server pings every 15 s) before reconnecting (default 45000) */
  idleTimeout?: number;
  /** failed connection attempts in a row before throwing (default null: never) */
  maxFailures?: number | null;
}

export declare class Follow implements AsyncIterableIterator<FeedEvent> {
  position: number | null;
  reconnects: number;
  [Symbol.asyncIterator](): AsyncIterableIterator<FeedEvent>;
  next(): Promise<IteratorResult<FeedEvent>>;
  close(): Promise<void>;
}

export declare class Client {
  constructor(baseUrl: string, options?: ClientOptions);
  readonly baseUrl: string;
  append(event: Event): Promise<AppendReply>;
  appendMany(events: Iterable<Event>): Promise<AppendManyReply>;
  putBlob(data: Uint8Array | ArrayBuffer): Promise<BlobReply>;
  history(thread: string, options?: HistoryOptions): Promise<Page<MessageRow>>;
  openaiMessages(thread: string, options?: Paging): Promise<ChatCompletionMessage[]>;
  images(thread: string, options?: Paging): Promise<Page<{ [field: string]: Json }>>;
  search(q: string, options?: SearchOptions): Promise<Page<MessageRow>>;
  config(thread: string, options?: { user?: string; minSeq?: number }): Promise<{ [key: string]: Json }>;
  getBlob(hash: string): Promise<Uint8Array>;
  threads(options?: { user?: string; server?: string; limit?: number; after?: string | number; minSeq?: number }): Promise<Page<ThreadInfo>>;
  thread(thread: string, options?: { minSeq?: number }): Promise<ThreadInfo>;
  user(user: string, options?: { minSeq?: number }): Promise<UserInfo>;
  userMessages(user: string, options?: { server?: string; limit?: number; before?: number; after?: number; minSeq?: number }): Promise<Page<MessageRow>>;
  costs(options?: { user?: string; thread?: string; from?: string | number; to?: string | number; minSeq?: number }): Promise<Costs>;
  metrics(options?: { name?: string; since?: string | number; limit?: number; after?: string | number; minSeq?: number }): Promise<Page<Metric>>;
  settings(options?: { category?: string; minSeq?: number }): Promise<Setting[]>;
  stats(): Promise<{ [key: string]: Json }>;
  health(): Promise<{ status: string; reason?: string }>;
  events(options?: { after?: number; limit?: number; type?: string; thread?: string }): Promise<EventsPage>;
  follow(options?: FollowOptions): Follow;
  nextPage<T>(page: Page<T>): Promise<Page<T> | null>;
  iterate<T>(page: Page<T> | Promise<Page<T>>): AsyncGenerator<T, void, undefined>;
}

export interface ErrorDetails {
  field?: string | null;
  body?: { [key: string]: Json };
  requestId?: string | null;
  retryAfter?: number | null;
  cause?: unknown;
}

export declare class ChatjournalError extends Error {
  constructor(status: number | null, error: string, details?: ErrorDetails);
  /** the HTTP status; null when no answer came (TransportError) */
  status: number | null;
  /** the server's message */
  error: string;
  /** the field or parameter at fault */
  field: string | null;
  body: { [key: string]: Json };
  requestId: string | null;
  retryAfter: number | null;
}
export declare class BadRequestError extends ChatjournalError {}
export declare class AuthenticationError extends ChatjournalError {}
export declare class PermissionDeniedError extends ChatjournalError {}
export declare class NotFoundError extends ChatjournalError {}
export declare class ConflictError extends ChatjournalError {}
export declare class PayloadTooLargeError extends ChatjournalError {}
export declare class RateLimitedError extends ChatjournalError {}
export declare class UnavailableError extends ChatjournalError {}
export declare class ServerError extends ChatjournalError {}
export declare class TransportError extends ChatjournalError {
  constructor(error: string, cause?: unknown);
}

/** The feed's last frame `event: error`: record seq cannot be read (a damaged journal). */
export declare class FeedError extends ChatjournalError {
  constructor(error: string, seq: number | null, body: { [key: string]: Json });
  seq: number | null;
}

/** A new UUIDv7 (time-ordered; see docs/clients.md). */
export declare function newId(): string;
export declare const version: string;
