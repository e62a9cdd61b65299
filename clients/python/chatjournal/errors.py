"""The exceptions of the chatjournal client: one base class carrying what the
server said ({"error": ..., "field": ...} and the HTTP status), a subclass per
status a caller handles differently, and TransportError when no answer came."""

import json


class ChatjournalError(Exception):
    """An error reply of the server, or (TransportError) no reply at all.

    status      the HTTP status (None for TransportError)
    error       the server's message (its "error" member), else a description
    field       the field or parameter at fault (its "field" member), or None
    body        the whole decoded JSON body (a dict; {} when it was not JSON)
    request_id  the X-Request-Id the server gave the request, or None
    retry_after seconds from a Retry-After header, or None
    """

    def __init__(self, status, error, field=None, body=None, request_id=None,
                 retry_after=None):
        self.status = status
        self.error = error
        self.field = field
        self.body = body if body is not None else {}
        self.request_id = request_id
        self.retry_after = retry_after
        text = error if status is None else f"HTTP {status}: {error}"
        if field:
            text += f" (field {field!r})"
        super().__init__(text)


class BadRequestError(ChatjournalError):
    """400: invalid event, malformed JSON, bad or unknown query parameter."""


class AuthenticationError(ChatjournalError):
    """401: missing, unknown or revoked token."""


class PermissionDeniedError(ChatjournalError):
    """403: a read-only token on a write route."""


class NotFoundError(ChatjournalError):
    """404: unknown route, thread, user or blob."""


class ConflictError(ChatjournalError):
    """409: the event's id was used before for another event."""


class PayloadTooLargeError(ChatjournalError):
    """413: body, batch, event or field over its limit."""


class RateLimitedError(ChatjournalError):
    """429: the token's request rate is exceeded (retried before raised)."""


class UnavailableError(ChatjournalError):
    """503: overloaded, stopping, or min_seq not reached in time (retried
    before raised); nothing was stored."""


class ServerError(ChatjournalError):
    """Any other 5xx (500 damaged projection, 507 journal or disk full)."""


class TransportError(ChatjournalError):
    """No HTTP answer: connection refused or lost, timeout (retried before
    raised). status is None; __cause__ is the underlying OSError."""

    def __init__(self, error):
        super().__init__(None, error)


class FeedError(ChatjournalError):
    """The change feed's last frame `event: error`: the server cannot read
    record `seq` (a damaged journal), so the stream can neither send nor skip
    it; reconnecting would meet it again. status is None."""

    def __init__(self, error, seq, body):
        super().__init__(None, error, body=body)
        self.seq = seq


_BY_STATUS = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    429: RateLimitedError,
    503: UnavailableError,
}


def error_from_reply(status, headers, data):
    """The exception for an error reply: status, headers (a Message) and the
    body bytes; the server's JSON {"error", "field"} when the body is one."""
    try:
        body = json.loads(data.decode("utf-8")) if data else {}
    except (UnicodeDecodeError, ValueError):
        body = {}
    if not isinstance(body, dict):
        body = {}
    message = body.get("error")
    if not isinstance(message, str):
        text = data[:200].decode("utf-8", "replace").strip() if data else ""
        message = text or f"HTTP status {status}"
    field = body.get("field") if isinstance(body.get("field"), str) else None
    retry_after = None
    raw = headers.get("Retry-After") if headers is not None else None
    if raw is not None:
        try:
            retry_after = float(raw)
        except ValueError:
            retry_after = None
    if status in _BY_STATUS:
        cls = _BY_STATUS[status]
    elif status >= 500:
        cls = ServerError
    else:
        cls = ChatjournalError
    return cls(status, message, field, body,
               headers.get("X-Request-Id") if headers is not None else None,
               retry_after)
