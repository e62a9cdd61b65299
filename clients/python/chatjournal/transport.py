"""HTTP for the chatjournal client: one request with bounded retries and
backoff, and opening a streaming response. Standard library only (urllib);
one connection per request, so a Transport is safe to share between threads.

Retried: no answer at all (connection refused or lost, timeout) and 429/503,
which the server sends only when it stored nothing. That is safe for every
call of the client: reads change nothing, blobs are stored by content, and
the client gives every event an id, so a retried append is recognized."""

import http.client
import json
import random
import time
import urllib.error
import urllib.parse
import urllib.request

from .errors import ChatjournalError, TransportError, error_from_reply

RETRY_STATUSES = (429, 503)


class Reply:
    """status, headers (an email.message.Message) and the body bytes."""

    def __init__(self, status, headers, data):
        self.status, self.headers, self.data = status, headers, data

    def json(self):
        return json.loads(self.data.decode("utf-8"))


def encode_query(query):
    """?a=1&b=x for the members that are not None ("" when none); True is 1."""
    if not query:
        return ""
    items = []
    for k, v in query.items():
        if v is None:
            continue
        if isinstance(v, bool):
            v = 1 if v else 0
        items.append((k, str(v)))
    return "?" + urllib.parse.urlencode(items) if items else ""


def segment(value):
    """One path segment (a thread, user or hash), percent-encoded."""
    return urllib.parse.quote(str(value), safe="")


class Transport:
    def __init__(self, base_url, token=None, timeout=30.0, retries=4, backoff=0.2,
                 max_backoff=5.0, user_agent="chatjournal-python/0.1.0"):
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://: {base_url!r}")
        if not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be an integer >= 0: {retries!r}")
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.user_agent = user_agent

    def url(self, path, query=None):
        return self.base_url + path + encode_query(query)

    def delay(self, attempt, retry_after=None):
        """Seconds to wait before retry number attempt (0-based): exponential
        with jitter, capped at max_backoff, at least the server's Retry-After
        (itself capped, so a hostile header cannot stall the caller)."""
        d = min(self.max_backoff, self.backoff * (2 ** attempt)) * random.uniform(0.5, 1.0)
        if retry_after is not None:
            d = max(d, min(retry_after, self.max_backoff))
        return d

    def _headers(self, extra):
        h = {"User-Agent": self.user_agent, "Accept": "application/json"}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        if extra:
            h.update(extra)
        return h

    def open(self, method, url, data=None, headers=None, timeout=None):
        """The response of one attempt (to read, then close), or raises: the
        typed ChatjournalError of an error status, TransportError when no
        answer came."""
        req = urllib.request.Request(url, data=data, method=method,
                                     headers=self._headers(headers))
        try:
            return urllib.request.urlopen(req, timeout=timeout or self.timeout)
        except urllib.error.HTTPError as e:
            try:
                body = e.read()
            except (OSError, http.client.HTTPException):
                body = b""
            finally:
                e.close()
            raise error_from_reply(e.code, e.headers, body) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            reason = getattr(e, "reason", e)
            raise TransportError(f"{method} {url}: {reason}") from e

    def request(self, method, path, query=None, data=None, headers=None):
        """One call, retried (see the module's comment); returns a Reply of a
        2xx status or raises the last error. path is a path on the server,
        or a whole URL under base_url (a Link rel="next")."""
        url = path if path.startswith(self.base_url + "/") else self.url(path, query)
        attempt = 0
        while True:
            try:
                with self.open(method, url, data, headers) as r:
                    return Reply(r.status, r.headers, r.read())
            except ChatjournalError as e:  # TransportError too (status None)
                if e.status is not None and e.status not in RETRY_STATUSES:
                    raise
                err = e
            except (OSError, http.client.HTTPException) as e:  # cut while reading
                err = TransportError(f"{method} {url}: reading the reply: {e}")
                err.__cause__ = e
            if attempt >= self.retries:
                raise err
            time.sleep(self.delay(attempt, err.retry_after))
            attempt += 1
