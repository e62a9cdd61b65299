"""chatjournal.Client: the calls of the HTTP API (docs/http.md) as methods.
Every method returns decoded JSON (a dict, or a Page: a list) or raises a
ChatjournalError subclass. Safe to share between threads (no state besides
the settings and the id generator, which has its own lock)."""

import json
import re
import urllib.parse

from .errors import ChatjournalError, UnavailableError
from .follow import Follow
from .ids import new_id
from .transport import Transport, segment

_LINK_NEXT = re.compile(r'<([^>]*)>\s*;(?:[^,]*;)?\s*rel="?next"?', re.IGNORECASE)


class Page(list):
    """A list of rows; next_url is the server's Link rel="next" (the next
    page's URL) or None when this page is the last one."""

    next_url = None


def _json_body(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _with_id(event):
    """A copy of event with an "id" (a new UUIDv7 when it had none); the
    caller's dict is not changed."""
    if not isinstance(event, dict):
        raise TypeError(f"an event is a dict, not {type(event).__name__}")
    if event.get("id") is not None:
        return event
    out = dict(event)
    out["id"] = new_id()
    return out


class Client:
    """A client of one chatjournal server and token (the token decides the
    store). timeout: seconds per request; retries: how many times a call is
    repeated after 429, 503 or a lost connection (then its error is raised);
    backoff/max_backoff: the first and the largest wait between them."""

    def __init__(self, base_url, token=None, *, timeout=30.0, retries=4, backoff=0.2,
                 max_backoff=5.0):
        self._t = Transport(base_url, token, timeout, retries, backoff, max_backoff)

    @property
    def base_url(self):
        return self._t.base_url

    # -- plumbing ---------------------------------------------------------

    def _get(self, path, query=None):
        return self._t.request("GET", path, query).json()

    def _get_page(self, path, query=None):
        r = self._t.request("GET", path, query)
        page = Page(r.json())
        page.next_url = self._next_link(r.headers.get("Link"))
        return page

    def _next_link(self, header):
        m = _LINK_NEXT.search(header or "")
        if not m:
            return None
        url = urllib.parse.urljoin(self._t.base_url + "/", m.group(1))
        if not url.startswith(self._t.base_url + "/"):  # never send the token elsewhere
            raise ChatjournalError(None, f"Link rel=next leaves the server: {url!r}")
        return url

    def _post_events(self, payload):
        return self._t.request("POST", "/v1/events", data=_json_body(payload),
                               headers={"Content-Type": "application/json"}).json()

    # -- writing ----------------------------------------------------------

    def append(self, event):
        """Append one event; returns {"seq": N} once it is durable (plus
        "duplicate": true when the id was already stored, "deleted": true
        when a deletion removed it since). An event without "id" gets a new
        UUIDv7 (chatjournal.new_id), so retries cannot store it twice."""
        return self._post_events(_with_id(event))

    def append_many(self, events):
        """Append a batch, all or nothing; returns {"seqs": [...], "last_seq":
        N} (plus "duplicates"/"deleted": indexes of repeats). Events without
        "id" get one, as in append. At most 10,000 events (else 413)."""
        return self._post_events([_with_id(e) for e in events])

    def put_blob(self, data):
        """Store bytes; returns {"blob": HASH, "size": N}. The same bytes
        twice are stored once."""
        if isinstance(data, str):
            raise TypeError("put_blob takes bytes; encode text first")
        return self._t.request("PUT", "/v1/blobs", data=bytes(data),
                               headers={"Content-Type": "application/octet-stream"}).json()

    # -- reading ----------------------------------------------------------

    def history(self, thread, limit=None, before=None, after=None, min_seq=None,
                user=None, server=None):
        """A thread's messages, ascending seq (a Page). limit (default 50, at
        most 1000); before/after: a seq to page from (after=0: the oldest
        page); min_seq: wait until the projection has applied that seq
        (read-your-writes)."""
        return self._get_page(f"/v1/threads/{segment(thread)}/messages",
                              {"limit": limit, "before": before, "after": after,
                               "min_seq": min_seq, "user": user, "server": server})

    def openai_messages(self, thread, limit=None, before=None, after=None, min_seq=None):
        """The thread as a chat-completions "messages" array (format=openai)."""
        return self._get(f"/v1/threads/{segment(thread)}/messages",
                         {"format": "openai", "limit": limit, "before": before,
                          "after": after, "min_seq": min_seq})["messages"]

    def images(self, thread, limit=None, before=None, after=None, min_seq=None):
        """A thread's image records, ascending seq (a Page)."""
        return self._get_page(f"/v1/threads/{segment(thread)}/images",
                              {"limit": limit, "before": before, "after": after,
                               "min_seq": min_seq})

    def search(self, q, thread=None, user=None, server=None, limit=None, rank=None,
               images=None, min_seq=None):
        """Full-text search (every word must match; "word*" is a prefix);
        rank "recent" (default, newest first) or "relevance" (BM25)."""
        return self._get_page("/v1/search",
                              {"q": q, "thread": thread, "user": user, "server": server,
                               "limit": limit, "rank": rank, "images": images,
                               "min_seq": min_seq})

    def config(self, thread, user=None, min_seq=None):
        """The effective config of a thread (store defaults <- user <- thread)."""
        return self._get(f"/v1/threads/{segment(thread)}/config",
                         {"user": user, "min_seq": min_seq})

    def get_blob(self, blob):
        """The bytes stored under a hash (NotFoundError when none)."""
        return self._t.request("GET", f"/v1/blobs/{segment(blob)}").data

    def threads(self, user=None, server=None, limit=None, after=None, min_seq=None):
        """Thread objects by last activity, newest first (a Page; see iterate)."""
        return self._get_page("/v1/threads", {"user": user, "server": server, "limit": limit,
                                              "after": after, "min_seq": min_seq})

    def thread(self, thread, min_seq=None):
        """One thread object (NotFoundError when unknown)."""
        return self._get(f"/v1/threads/{segment(thread)}", {"min_seq": min_seq})

    def user(self, user, min_seq=None):
        """One user's profile (NotFoundError when unknown)."""
        return self._get(f"/v1/users/{segment(user)}", {"min_seq": min_seq})

    def user_messages(self, user, server=None, limit=None, before=None, after=None,
                      min_seq=None):
        """A user's messages across threads, ascending seq (a Page)."""
        return self._get_page(f"/v1/users/{segment(user)}/messages",
                              {"server": server, "limit": limit, "before": before,
                               "after": after, "min_seq": min_seq})

    def costs(self, user=None, thread=None, from_=None, to=None, min_seq=None):
        """Sums of message costs: {"total": {...}, "by_day": [...], "by_model":
        [...], "by_thread": [...]} (from_ is the query's "from")."""
        return self._get("/v1/costs", {"user": user, "thread": thread, "from": from_,
                                       "to": to, "min_seq": min_seq})

    def metrics(self, name=None, since=None, limit=None, after=None, min_seq=None):
        """Metric events in time order, oldest first (a Page)."""
        return self._get_page("/v1/metrics", {"name": name, "since": since, "limit": limit,
                                              "after": after, "min_seq": min_seq})

    def settings(self, category=None, min_seq=None):
        """Settings (a list), sensitive values masked."""
        return self._get("/v1/settings", {"category": category, "min_seq": min_seq})

    def stats(self):
        """Figures about the token's store (messages, last_seq, lag, health...)."""
        return self._get("/v1/stats")

    def health(self):
        """GET /healthz (no token needed): {"status": "ok"} or, when a store
        cannot keep its promises, {"status": "degraded", "reason": ...}.
        Asked once, never retried: a health check reports what it finds."""
        try:
            with self._t.open("GET", self._t.url("/healthz")) as r:
                return json.loads(r.read().decode("utf-8"))
        except UnavailableError as e:
            if isinstance(e.body.get("status"), str):
                return e.body
            raise

    # -- the change feed --------------------------------------------------

    def events(self, after=None, limit=None, type=None, thread=None):
        """One page of the journal: {"events": [...], "next_after": S,
        "last_seq": L}; each event in its canonical form with its "seq"."""
        return self._get("/v1/events", {"after": after, "limit": limit, "type": type,
                                        "thread": thread})

    def follow(self, after=None, type=None, thread=None, idle_timeout=45.0,
               max_failures=None):
        """An iterator over the live feed (GET /v1/events/stream): every event
        after seq `after` (None: the server's default), then new ones as they
        are committed, forever. It resumes by itself after a cut-off or a lost
        connection, from the last seq it yielded: nothing skipped, nothing
        twice. See Follow."""
        return Follow(self._t, after, type, thread, idle_timeout, max_failures)

    # -- paging -----------------------------------------------------------

    def next_page(self, page):
        """The page after `page` (its Link rel="next"), or None."""
        if page.next_url is None:
            return None
        return self._get_page(page.next_url)

    def iterate(self, page):
        """Every row of page and of the pages after it (following Link
        rel="next"): for t in client.iterate(client.threads(limit=200))."""
        while page is not None:
            yield from page
            page = self.next_page(page)
