// lib/errors.js — the client's exceptions: ChatjournalError carries what the
// server said ({"error", "field"} and the HTTP status); a subclass per status
// a caller handles differently; TransportError when no answer came.

export class ChatjournalError extends Error {
  /**
   * status: the HTTP status (null for TransportError); error: the server's
   * message; field: the field or parameter at fault, or null; body: the
   * decoded JSON body ({} when not JSON); requestId: X-Request-Id;
   * retryAfter: seconds from Retry-After, or null.
   */
  constructor(status, error, { field = null, body = {}, requestId = null, retryAfter = null, cause } = {}) {
    let text = status === null ? error : `HTTP ${status}: ${error}`;
    if (field) text += ` (field '${field}')`;
    super(text, cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    this.status = status;
    this.error = error;
    this.field = field;
    this.body = body;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
  }
}

/** 400: invalid event, malformed JSON, bad or unknown query parameter. */
export class BadRequestError extends ChatjournalError {}
/** 401: missing, unknown or revoked token. */
export class AuthenticationError extends ChatjournalError {}
/** 403: a read-only token on a write route. */
export class PermissionDeniedError extends ChatjournalError {}
/** 404: unknown route, thread, user or blob. */
export class NotFoundError extends ChatjournalError {}
/** 409: the event's id was used before for another event. */
export class ConflictError extends ChatjournalError {}
/** 413: body, batch, event or field over its limit. */
export class PayloadTooLargeError extends ChatjournalError {}
/** 429: the token's request rate is exceeded (retried before thrown). */
export class RateLimitedError extends ChatjournalError {}
/** 503: overloaded, stopping, min_seq not reached; nothing stored (retried before thrown). */
export class UnavailableError extends ChatjournalError {}
/** Any other 5xx (500 damaged projection, 507 journal or disk full). */
export class ServerError extends ChatjournalError {}
/** No HTTP answer: connection refused or lost, timeout (retried before thrown). */
export class TransportError extends ChatjournalError {
  constructor(error, cause) {
    super(null, error, { cause });
  }
}

/** The feed's last frame `event: error`: the server cannot read record seq
 * (a damaged journal); reconnecting would meet it again. status is null. */
export class FeedError extends ChatjournalError {
  constructor(error, seq, body) {
    super(null, error, { body });
    this.seq = seq;
  }
}

const BY_STATUS = new Map([
  [400, BadRequestError], [401, AuthenticationError], [403, PermissionDeniedError],
  [404, NotFoundError], [409, ConflictError], [413, PayloadTooLargeError],
  [429, RateLimitedError], [503, UnavailableError],
]);

/** The error for a reply: status, a Headers object and the body text. */
export function errorFromReply(status, headers, text) {
  let body = {};
  try {
    const v = text ? JSON.parse(text) : {};
    if (v && typeof v === "object" && !Array.isArray(v)) body = v;
  } catch { /* not JSON: a proxy's page */ }
  let message = typeof body.error === "string" ? body.error : (text || "").slice(0, 200).trim();
  if (!message) message = `HTTP status ${status}`;
  const field = typeof body.field === "string" ? body.field : null;
  const ra = Number.parseFloat(headers?.get("retry-after") ?? "");
  const Cls = BY_STATUS.get(status) ?? (status >= 500 ? ServerError : ChatjournalError);
  return new Cls(status, message, {
    field, body, requestId: headers?.get("x-request-id") ?? null,
    retryAfter: Number.isFinite(ra) ? ra : null,
  });
}
