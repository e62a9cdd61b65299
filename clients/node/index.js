// chatjournal: a client for the chatjournal HTTP service (`chatjournal
// serve`), for Node 18+, no dependencies. See docs/clients.md in the repository.
export { Client, Page } from "./lib/client.js";
export { Follow } from "./lib/follow.js";
export { newId } from "./lib/ids.js";
export {
  ChatjournalError, BadRequestError, AuthenticationError, PermissionDeniedError, NotFoundError,
  ConflictError, PayloadTooLargeError, RateLimitedError, UnavailableError, ServerError, TransportError,
  FeedError,
} from "./lib/errors.js";
export const version = "0.1.0";
