#!/usr/bin/env python3
"""docs/openapi.yaml against the server, so neither drifts:

(a) the router's table (api/http/routes.c, read by httptest.route_table)
    and the spec list the same routes (path and method) and, for each, the
    same query parameters; a route on one side only fails.
(b) real responses of a running `chatjournal serve` (successes with data,
    and errors: 400, 401, 404, 405, 409, 413, 415) validate against the
    schema the spec gives for their route and status (JSON Schema 2020-12,
    Debian's python3-jsonschema), and every route of the router answered
    at least one validated 200 (or 200/503 for /healthz).

A negative control: a row with a field the spec does not list must fail
validation (additionalProperties: false makes drift visible).
"""
import http.client
import json
import os
import sys
import unittest
from pathlib import Path

try:
    import jsonschema
    import yaml
except ImportError as e:  # a hard failure: CI must not pass without the check
    sys.exit(f"test_openapi: {e}: install Debian's python3-yaml and python3-jsonschema "
             "(scripts/setup.sh does)")

from httptest import BIN, HttpCase, call, log, route_table

SPEC_PATH = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def load_spec():
    with open(SPEC_PATH) as f:
        return yaml.safe_load(f)


def spec_routes(spec):
    """{(path, METHOD): set of query parameter names}."""
    comps = spec.get("components", {}).get("parameters", {})
    out = {}
    for path, item in spec["paths"].items():
        for m in METHODS:
            if m not in item:
                continue
            names = set()
            for p in item[m].get("parameters", []):
                if "$ref" in p:
                    p = comps[p["$ref"].rsplit("/", 1)[1]]
                if p["in"] == "query":
                    names.add(p["name"])
            out[(path, m.upper())] = names
    return out


class Validator:
    def __init__(self, spec):
        self.spec = spec
        self.resolver = jsonschema.RefResolver.from_schema(spec)
        self.seen = set()  # (path pattern, METHOD, status)

    def schema_for(self, pattern, method, status):
        op = self.spec["paths"][pattern][method.lower()]
        resp = op["responses"].get(str(status))
        if resp is None:
            raise AssertionError(f"{method} {pattern}: status {status} is not in the spec")
        if "$ref" in resp:
            resp = self.spec["components"]["responses"][resp["$ref"].rsplit("/", 1)[1]]
        return resp

    def check(self, pattern, method, status, resp, body):
        r = self.schema_for(pattern, method, status)
        ctype = (resp.getheader("Content-Type") or "").split(";")[0]
        content = r.get("content", {})
        if "application/json" in content:
            self_ct = "application/json"
            if ctype != self_ct:
                raise AssertionError(f"{method} {pattern} {status}: Content-Type {ctype}")
            schema = content[self_ct]["schema"]
            jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator,
                                resolver=self.resolver)
        elif content and ctype not in content and "application/octet-stream" not in content:
            raise AssertionError(f"{method} {pattern} {status}: Content-Type {ctype} "
                                 f"not in {list(content)}")
        link = resp.getheader("Link")
        if link is not None:
            headers = r.get("headers", {})
            if "Link" not in headers:
                raise AssertionError(f"{method} {pattern} {status}: a Link header the spec omits")
            jsonschema.validate(link, self.spec["components"]["headers"]["Link"]["schema"])
        self.seen.add((pattern, method, status))


class TestSpecMatchesRouter(unittest.TestCase):
    def test_same_routes_and_parameters(self):
        spec = spec_routes(load_spec())
        router = {(p, m): params for p, m, params in route_table()}
        missing = sorted(set(router) - set(spec))
        self.assertEqual(missing, [], "routes of the router missing from docs/openapi.yaml")
        extra = sorted(set(spec) - set(router))
        self.assertEqual(extra, [], "routes in docs/openapi.yaml the router does not have")
        for key, params in router.items():
            self.assertEqual(spec[key], params, f"query parameters of {key[1]} {key[0]}")
        log(f"openapi: {len(router)} routes of the router = the spec's")


class TestResponsesValidate(HttpCase):
    def test_real_responses(self):
        v = Validator(load_spec())
        tok = self.token
        events = [
            {"type": "user", "user": "u1", "display_name": "Ann", "timezone": "UTC", "is_bot": True,
             "avatar_url": "https://x/a.png", "metadata": {"k": 1}, "config": {"lang": "en"}},
            {"type": "message", "thread": "t1", "role": "user", "content": "hello world",
             "user": "u1", "server": "s1", "channel": "c", "id": "m1", "metadata": {"a": 1}},
            {"type": "message", "thread": "t1", "role": "assistant", "content": "hi", "user": "u1",
             "server": "s1", "reply_to": "m1", "id": "m2",
             "cost": {"model": "m", "input_tokens": 3, "output_tokens": 4, "usd": 0.01}},
            {"type": "reaction", "thread": "t1", "target": "m1", "emoji": "+1", "user": "u1",
             "op": "add"},
            {"type": "image", "thread": "t1", "url": "https://x/i.png", "kind": "generated",
             "prompt": "a cat"},
            {"type": "thread", "thread": "t1", "title": "T", "topic": "x", "metadata": {"m": 1}},
            {"type": "thread_config", "thread": "t1", "config": {"model": "x"}},
            {"type": "metric", "name": "lat", "value": 3.5, "unit": "ms", "tags": {"a": "b"}},
            {"type": "setting", "key": "api_token", "value": "s3cret", "category": "c",
             "actor": "op", "description": "d"},
        ] + [{"type": "message", "thread": "t2", "role": "user", "content": f"n{i}", "user": "u1",
              "server": "s2"} for i in range(3)]

        def go(pattern, method, path, status, body=None, token=tok, headers=None):
            st, resp, got = call(self.server, method, path, token, body, headers=headers)
            self.assertEqual(st, status, f"{method} {path}: {got!r}")
            v.check(pattern, method, st, resp, got)
            return got

        got = go("/v1/events", "POST", "/v1/events", 200, events)
        last = got["last_seq"]
        go("/v1/events", "POST", "/v1/events", 200,
           {"type": "message", "thread": "t1", "role": "user", "content": "hello world",
            "user": "u1", "server": "s1", "channel": "c", "id": "m1", "metadata": {"a": 1}})
        go("/v1/events", "POST", "/v1/events", 409,
           {"type": "message", "thread": "t1", "role": "user", "content": "other", "id": "m1"})
        go("/v1/events", "POST", "/v1/events", 400, {"type": "message", "thread": "t1"})
        go("/v1/events", "POST", "/v1/events", 415, None, headers={"Content-Type": "text/plain"})
        blob = go("/v1/blobs", "PUT", "/v1/blobs", 200, {"x": 1})["blob"]
        go("/v1/blobs/{hash}", "GET", f"/v1/blobs/{blob}", 200)
        go("/v1/blobs/{hash}", "GET", "/v1/blobs/" + "0" * 32, 404)
        m = f"min_seq={last}"
        go("/healthz", "GET", "/healthz", 200, token=None)
        go("/healthz", "GET", "/healthz?verbose=1", 400, token=None)
        st, resp, got = call(self.server, "POST", "/healthz", None, {})
        self.assertEqual(st, 405)
        v.check("/healthz", "GET", 405, resp, got)  # the spec lists 405 under the route's GET
        go("/metrics", "GET", "/metrics", 200)
        go("/v1/stats", "GET", "/v1/stats", 200)
        go("/v1/search", "GET", f"/v1/search?q=hello&{m}", 200)
        go("/v1/search", "GET", f"/v1/search?q=cat&images=1&{m}", 200)
        go("/v1/search", "GET", "/v1/search?q=", 400)
        go("/v1/threads/{thread}/messages", "GET", f"/v1/threads/t1/messages?limit=1&{m}", 200)
        go("/v1/threads/{thread}/messages", "GET", "/v1/threads/t1/messages?limit=x", 400)
        oa = go("/v1/threads/{thread}/messages", "GET", f"/v1/threads/t1/messages?format=openai&{m}",
                200)
        self.assertEqual([x["role"] for x in oa["messages"]], ["user", "assistant"])
        go("/v1/threads/{thread}/messages", "GET", "/v1/threads/t1/messages?format=xml", 400)
        go("/v1/threads/{thread}/images", "GET", f"/v1/threads/t1/images?{m}", 200)
        go("/v1/threads/{thread}/config", "GET", f"/v1/threads/t1/config?user=u1&{m}", 200)
        go("/v1/threads", "GET", f"/v1/threads?limit=1&{m}", 200)
        go("/v1/threads", "GET", f"/v1/threads?user=u1&{m}", 200)
        go("/v1/threads", "GET", "/v1/threads?after=z", 400)
        go("/v1/threads/{thread}", "GET", f"/v1/threads/t1?{m}", 200)
        go("/v1/threads/{thread}", "GET", "/v1/threads/none", 404)
        go("/v1/users/{user}", "GET", f"/v1/users/u1?{m}", 200)
        go("/v1/users/{user}", "GET", "/v1/users/none", 404)
        rows = go("/v1/users/{user}/messages", "GET", f"/v1/users/u1/messages?limit=2&{m}", 200)
        self.assertEqual(len(rows), 2)
        go("/v1/users/{user}/messages", "GET", f"/v1/users/u1/messages?min_seq={last + 99}", 400)
        go("/v1/costs", "GET", f"/v1/costs?{m}", 200)
        go("/v1/costs", "GET", "/v1/costs?from=never", 400)
        go("/v1/metrics", "GET", f"/v1/metrics?name=lat&{m}", 200)
        settings = go("/v1/settings", "GET", f"/v1/settings?{m}", 200)
        self.assertEqual([(s["key"], s["value"]) for s in settings], [("api_token", "***")])
        feed = go("/v1/events", "GET", "/v1/events?after=0&limit=3", 200)
        self.assertEqual([e["seq"] for e in feed["events"]], [1, 2, 3])
        go("/v1/events", "GET", "/v1/events?after=x", 400)
        # The stream never ends: its head and first frame, then the connection
        # is closed (the response object is checked as any other).
        c = http.client.HTTPConnection(self.server.host, self.server.port, timeout=15)
        try:
            c.request("GET", "/v1/events/stream?after=0", headers={"Authorization": "Bearer " + tok})
            r = c.getresponse()
            self.assertEqual(r.status, 200)
            first = r.read(6)
            self.assertEqual(first, b"id: 1\n")
            v.check("/v1/events/stream", "GET", 200, r, None)
        finally:
            c.close()
        go("/v1/events/stream", "GET", "/v1/events/stream?after=x", 400)
        go("/v1/stats", "GET", "/v1/stats", 401, token="cjt_bad")
        go("/v1/stats", "GET", "/v1/stats?x=1", 400)

        # every route of the router answered a validated success
        ok = {(p, m) for p, m, s in v.seen if s == 200}
        routes = {(p, m) for p, m, _ in route_table()}
        self.assertEqual(sorted(routes - ok), [], "routes without a validated 200")

        # negative control: a field the spec does not know fails validation
        rows[0]["surprise"] = 1
        with self.assertRaises(jsonschema.ValidationError):
            jsonschema.validate(rows, v.schema_for("/v1/users/{user}/messages", "GET", 200)
                                ["content"]["application/json"]["schema"],
                                cls=jsonschema.Draft202012Validator, resolver=v.resolver)
        log(f"openapi: {len(v.seen)} (route, method, status) answers validated")


if __name__ == "__main__":
    argv = [sys.argv[0]] + [x for x in sys.argv[1:] if x != BIN]
    unittest.main(argv=argv, verbosity=2)
