/* import/fmt_chatgpt.c — a ChatGPT data export's conversations.json: an
 * array of conversations (streamed one at a time), each a tree of nodes in
 * "mapping" with "current_node" its active leaf. A conversation -> a thread
 * event; its active branch, root to leaf, then every other node (depth
 * first, children in order) -> message events, each with `parent` naming
 * the nearest ancestor that holds a message, so the other branches stay
 * reconstructible. Content parts: text parts joined by newlines, file and
 * image parts (asset pointers) as attachments; assistant messages name their
 * model in cost.model. The field map: docs/import.md, "ChatGPT". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "import_internal.h"

typedef struct conv {
	const char *id;
	char thread[257], prefix[257];
	json_t *mapping;
	const char *server;
	int64_t created_ms;
} conv;

static void put_str(json_t *o, const char *k, const char *v)
{
	if (v && *v)
		json_object_set_new(o, k, json_string(v));
}

static void append_text(char **buf, size_t *len, const char *s)
{
	size_t n = strlen(s);
	char *nb = realloc(*buf, *len + n + 2);
	if (!nb)
		return;
	if (*len)
		nb[(*len)++] = '\n';
	memcpy(nb + *len, s, n);
	*len += n;
	nb[*len] = '\0';
	*buf = nb;
}

/* The text of a content object and its file parts (attachments). */
static char *content_text(const json_t *content, json_t **att)
{
	char *buf = NULL;
	size_t len = 0;
	*att = NULL;
	json_t *parts = json_object_get(content, "parts");
	if (json_is_array(parts)) {
		size_t i;
		json_t *p;
		json_array_foreach(parts, i, p) {
			if (json_is_string(p)) {
				append_text(&buf, &len, json_string_value(p));
				continue;
			}
			const char *ptr = js(p, "asset_pointer");
			if (ptr && *ptr) {
				if (!*att)
					*att = json_array();
				json_t *a = json_object();
				json_object_set_new(a, "url", json_string(ptr));
				json_t *size = json_object_get(p, "size_bytes");
				if (json_is_integer(size) && json_integer_value(size) >= 0)
					json_object_set(a, "size", size);
				const char *ct = js(p, "content_type");
				if (ct && strcmp(ct, "image_asset_pointer") == 0)
					json_object_set_new(a, "mime", json_string("image/*"));
				json_array_append_new(*att, a);
			} else if (js(p, "text")) {
				append_text(&buf, &len, js(p, "text"));
			}
		}
	} else if (js(content, "text")) {
		append_text(&buf, &len, js(content, "text"));
	} else if (js(content, "result")) {
		append_text(&buf, &len, js(content, "result"));
	} else if (json_is_array(json_object_get(content, "thoughts"))) {
		size_t i;
		json_t *t;
		json_array_foreach(json_object_get(content, "thoughts"), i, t)
			if (js(t, "content"))
				append_text(&buf, &len, js(t, "content"));
	} else if (js(content, "content")) {
		append_text(&buf, &len, js(content, "content"));
	}
	return buf;
}

/* The nearest ancestor of node that holds a message (NULL: none). */
static const char *parent_with_message(const conv *c, const json_t *node)
{
	size_t guard = json_object_size(c->mapping);
	const char *p = js(node, "parent");
	while (p && guard--) {
		json_t *pn = json_object_get(c->mapping, p);
		if (!pn)
			return NULL;
		if (json_is_object(json_object_get(pn, "message")))
			return p;
		p = js(pn, "parent");
	}
	return NULL;
}

static const char *role_of(const char *r)
{
	static const char *const ok[] = { "user", "assistant", "system", "tool", NULL };
	for (size_t i = 0; r && ok[i]; i++)
		if (strcmp(r, ok[i]) == 0)
			return ok[i];
	return "system";
}

static int one_node(imp *m, conv *c, const char *key, const json_t *node)
{
	json_t *msg = json_object_get(node, "message");
	if (!json_is_object(msg))
		return 0;   /* the synthetic root, or a node without a message */
	char id[257];
	imp_id(id, "chatgpt:%s:%s", c->id, key);
	json_t *author = json_object_get(msg, "author");
	const char *role = role_of(js(author, "role"));
	json_t *content = json_object_get(msg, "content");
	json_t *att = NULL;
	char *text = content_text(content, &att);
	json_t *mmeta = json_object_get(msg, "metadata");
	json_t *meta = json_object();
	const char *ct = js(content, "content_type");
	if (ct && strcmp(ct, "text") != 0)
		json_object_set_new(meta, "content_type", json_string(ct));
	const char *rcpt = js(msg, "recipient");
	if (rcpt && strcmp(rcpt, "all") != 0)
		json_object_set_new(meta, "recipient", json_string(rcpt));
	if (json_is_true(json_object_get(mmeta, "is_visually_hidden_from_conversation")))
		json_object_set_new(meta, "hidden", json_true());
	int64_t ms = imp_epoch_ms(json_object_get(msg, "create_time"));
	if (ms < 0)
		ms = c->created_ms;
	eb b = { 0, "" };
	cj_event *ev = eb_new(&b, "message");
	eb_str(&b, ev, "id", id);
	eb_str(&b, ev, "thread", c->thread);
	eb_str(&b, ev, "role", role);
	eb_str(&b, ev, "content", text ? text : att ? NULL : "");
	if (strcmp(role, "user") == 0)
		eb_str(&b, ev, "user", "chatgpt:user");
	const char *name = js(author, "name");
	if (name && *name)
		eb_str(&b, ev, "name", name);
	eb_str(&b, ev, "server", c->server);
	if (ms >= 0)
		eb_int(&b, ev, "ts", ms);
	const char *parent = parent_with_message(c, node);
	if (parent) {
		char pid[257];
		imp_id(pid, "chatgpt:%s:%s", c->id, parent);
		eb_str(&b, ev, "parent", pid);
	}
	const char *model = js(mmeta, "model_slug");
	if (model && *model && strcmp(role, "assistant") == 0) {
		json_t *cost = json_pack("{s:s}", "model", model);
		eb_json(&b, ev, "cost", cost);
		json_decref(cost);
	}
	free(text);
	int kept = imp_message_finish(m, ev, &b, att, meta, id);
	if (kept <= 0)
		return kept;
	int rc = ms >= 0 ? imp_cover(m, c->thread, c->prefix, ms) : 0;
	if (rc != 0) {
		cj_event_free(ev);
		return rc;
	}
	return imp_emit(m, &ev, 1, NULL);
}

/* Depth first from key, children in order: each node visited once and
 * emitted unless done already (the active branch was); recursion bounded
 * by the mapping's size. */
static int walk(imp *m, conv *c, const char *key, json_t *done, json_t *visited, size_t depth)
{
	if (depth > json_object_size(c->mapping) || json_object_get(visited, key))
		return 0;
	json_t *node = json_object_get(c->mapping, key);
	if (!json_is_object(node))
		return 0;
	json_object_set_new(visited, key, json_true());
	int rc = 0;
	if (!json_object_get(done, key)) {
		json_object_set_new(done, key, json_true());
		rc = one_node(m, c, key, node);
	}
	size_t i;
	json_t *ch;
	json_array_foreach(json_object_get(node, "children"), i, ch) {
		if (rc != 0)
			break;
		if (json_is_string(ch))
			rc = walk(m, c, json_string_value(ch), done, visited, depth + 1);
	}
	return rc;
}

static int thread_event(imp *m, conv *c, const json_t *cv)
{
	json_t *e = json_object(), *meta = json_object();
	json_object_set_new(e, "type", json_string("thread"));
	json_object_set_new(e, "thread", json_string(c->thread));
	put_str(e, "title", js(cv, "title"));
	put_str(e, "server", c->server);
	put_str(meta, "current_node", js(cv, "current_node"));
	put_str(meta, "default_model_slug", js(cv, "default_model_slug"));
	put_str(meta, "gizmo_id", js(cv, "gizmo_id"));
	if (json_is_true(json_object_get(cv, "is_archived")))
		json_object_set_new(meta, "is_archived", json_true());
	json_object_set_new(meta, "source", json_string("chatgpt"));
	json_object_set_new(e, "metadata", meta);
	char prefix[300], what[300];
	imp_id(prefix, "chatgpt:%s:thread", c->id);
	snprintf(what, sizeof what, "conversation '%.64s'", c->id);
	return imp_emit_described(m, e, prefix, c->created_ms, what);
}

static int one_conversation(imp *m, json_t *cv, void *arg)
{
	(void)arg;
	conv c;
	memset(&c, 0, sizeof c);
	c.id = js(cv, "conversation_id") ? js(cv, "conversation_id") : js(cv, "id");
	c.mapping = json_object_get(cv, "mapping");
	if (!json_is_object(cv) || !c.id || !*c.id || !json_is_object(c.mapping)) {
		imp_skip(m, "thread", "a conversation without an \"id\" or a \"mapping\" object");
		return 0;
	}
	imp_id(c.thread, "chatgpt:%s", c.id);
	imp_id(c.prefix, "chatgpt:%s:", c.id);
	c.server = imp_server(m, "chatgpt");
	c.created_ms = imp_epoch_ms(json_object_get(cv, "create_time"));
	int rc = thread_event(m, &c, cv);
	if (rc != 0)
		return rc;
	json_t *done = json_object();
	/* the active branch, root to leaf */
	const char *leaf = js(cv, "current_node");
	json_t *path = json_array();
	size_t guard = json_object_size(c.mapping) + 1;
	for (const char *k = leaf; k && guard--;) {
		json_t *node = json_object_get(c.mapping, k);
		if (!json_is_object(node))
			break;
		json_array_insert_new(path, 0, json_string(k));
		k = js(node, "parent");
	}
	size_t i;
	json_t *k;
	json_array_foreach(path, i, k) {
		if (rc != 0)
			break;
		const char *key = json_string_value(k);
		if (json_object_get(done, key))
			continue;
		json_object_set_new(done, key, json_true());
		rc = one_node(m, &c, key, json_object_get(c.mapping, key));
	}
	json_decref(path);
	/* then the other branches, from every root, and any node left over */
	const char *key;
	json_t *node, *visited = json_object();
	json_object_foreach(c.mapping, key, node) {
		if (rc != 0)
			break;
		if (!js(node, "parent") || !json_object_get(c.mapping, js(node, "parent")))
			rc = walk(m, &c, key, done, visited, 0);
	}
	json_decref(visited);
	json_object_foreach(c.mapping, key, node) {
		if (rc != 0)
			break;
		if (!json_object_get(done, key)) {
			json_object_set_new(done, key, json_true());
			rc = one_node(m, &c, key, node);
		}
	}
	json_decref(done);
	return rc;
}

int fmt_chatgpt(imp *m, const char *path)
{
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	return imp_each_element(m, path, name, "thread", one_conversation, NULL);
}
