/* import/fmt_slack.c — a Slack workspace export (a folder, or its .zip
 * unpacked by zip.c): users.json (or org_users.json) -> user events;
 * channels.json, groups.json, mpims.json, dms.json -> a thread event per
 * conversation; each conversation's folder of per-day files
 * (YYYY-MM-DD.json, each an array of messages) -> message events with their
 * reactions, files as attachments, thread replies with `parent`, and edits
 * (`edited`) when a newer export changes a message already imported. The
 * field map and the ids: docs/import.md, "Slack". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "import_internal.h"
#include "idset.h"
#include "tape.h"

typedef struct slack {
	const char *root;
	char server[257];
	idset bots;        /* XXH64 of the user ids users.json marks as bots */
	const char *chan;  /* the conversation being read */
	char thread[257];  /* its thread id, "slack:<chan>" (day files) */
	char prefix[257];  /* the prefix of its message ids, "slack:<chan>:" */
	const char *kind;  /* channel, group, mpim, dm */
	const char *list;  /* the list file being read (channels.json, ...) */
	idset folders;     /* XXH64 of the folder names of listed conversations */
	tape tape;         /* a day file's job: the message being read */
} slack;

static uint64_t h64(const char *s) { return XXH64(s, strlen(s), 0); }

/* ---- users ---------------------------------------------------------------- */

static void put_str(json_t *o, const char *k, const char *v)
{
	if (v && *v)
		json_object_set_new(o, k, json_string(v));
}

/* put_str into *o, made when first needed (most messages have no metadata). */
static void put_lazy(json_t **o, const char *k, const char *v)
{
	if (v && *v) {
		if (!*o)
			*o = json_object();
		put_str(*o, k, v);
	}
}

static int one_user(imp *m, json_t *u, void *arg)
{
	slack *sl = arg;
	const char *id = js(u, "id");
	if (!json_is_object(u) || !id || !*id) {
		imp_skip(m, "user", "a user without an \"id\"");
		return 0;
	}
	json_t *prof = json_object_get(u, "profile");
	int is_bot = json_is_true(json_object_get(u, "is_bot")) || strcmp(id, "USLACKBOT") == 0;
	if (is_bot && idset_add(&sl->bots, h64(id)) < 0)
		return imp_fail(m, CJ_ENOMEM, "out of memory");
	json_t *e = json_object(), *meta = json_object();
	json_object_set_new(e, "type", json_string("user"));
	json_object_set_new(e, "user", json_string(id));
	put_str(e, "username", js(u, "name"));
	const char *dn = js(prof, "display_name");
	put_str(e, "display_name", dn && *dn ? dn : js(prof, "real_name") ? js(prof, "real_name") :
	        js(u, "real_name"));
	json_object_set_new(e, "is_bot", json_boolean(is_bot));
	const char *avatar = js(prof, "image_512") ? js(prof, "image_512") : js(prof, "image_192") ?
	                     js(prof, "image_192") : js(prof, "image_72");
	put_str(e, "avatar_url", avatar);
	const char *tz = js(u, "tz");
	if (tz && *tz && cj_timezone_check(tz) == 0)
		json_object_set_new(e, "timezone", json_string(tz));
	else
		put_str(meta, "tz", tz);
	json_t *off = json_object_get(u, "tz_offset");
	if (json_is_integer(off) && json_integer_value(off) >= -64800 &&
	    json_integer_value(off) <= 64800)
		json_object_set(e, "tz_offset", off);
	put_str(e, "tz_label", js(u, "tz_label"));
	put_str(meta, "real_name", js(prof, "real_name") ? js(prof, "real_name") : js(u, "real_name"));
	put_str(meta, "title", js(prof, "title"));
	put_str(meta, "team_id", js(u, "team_id"));
	const char *flags[] = { "deleted", "is_admin", "is_owner", "is_restricted", "is_app_user" };
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
		if (json_is_true(json_object_get(u, flags[i])))
			json_object_set_new(meta, flags[i], json_true());
	json_object_set_new(meta, "source", json_string("slack"));
	json_object_set_new(e, "metadata", meta);
	char prefix[257], what[128];
	imp_id(prefix, "slack:user:%s", id);
	snprintf(what, sizeof what, "user '%.64s'", id);
	return imp_emit_described(m, e, prefix, imp_epoch_ms(json_object_get(u, "updated")), what);
}

/* ---- messages ------------------------------------------------------------- */

static const char *const system_subtypes[] = {
	"channel_join", "channel_leave", "channel_topic", "channel_purpose", "channel_name",
	"channel_archive", "channel_unarchive", "group_join", "group_leave", "group_topic",
	"group_purpose", "group_name", "group_archive", "group_unarchive", "pinned_item",
	"unpinned_item", "channel_convert_to_private", "channel_convert_to_public", NULL
};

static const char *role_of(const slack *sl, const char *st, const char *bot_id,
                           const char *user)
{
	for (size_t i = 0; st && system_subtypes[i]; i++)
		if (strcmp(st, system_subtypes[i]) == 0)
			return "system";
	if (bot_id || (st && strcmp(st, "bot_message") == 0) ||
	    (user && idset_has(&sl->bots, h64(user))))
		return "assistant";
	return "user";
}

static json_t *attachments_of(const json_t *files, json_t **meta)
{
	if (!json_is_array(files) || json_array_size(files) == 0)
		return NULL;
	json_t *out = json_array(), *gone = NULL;
	size_t i;
	json_t *f;
	json_array_foreach(files, i, f) {
		const char *url = js(f, "url_private") ? js(f, "url_private") : js(f, "permalink");
		if (!url || !*url) {
			/* a deleted or hidden file: no place to point at */
			if (!gone)
				gone = json_array();
			json_array_append_new(gone, json_string(js(f, "id") ? js(f, "id") : "?"));
			continue;
		}
		json_t *a = json_object();
		json_object_set_new(a, "url", json_string(url));
		const char *name = js(f, "name") ? js(f, "name") : js(f, "title");
		if (name)
			json_object_set_new(a, "name", json_string(name));
		const char *mime = js(f, "mimetype");
		if (mime && *mime)
			json_object_set_new(a, "mime", json_string(mime));
		json_t *size = json_object_get(f, "size");
		if (json_is_integer(size) && json_integer_value(size) >= 0)
			json_object_set(a, "size", size);
		json_array_append_new(out, a);
	}
	if (gone) {
		if (!*meta)
			*meta = json_object();
		json_object_set_new(*meta, "files_unavailable", gone);
	}
	if (json_array_size(out) == 0) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/* A message as read, from jansson's tree or from the tape (tape.h): the
 * members the events are made of. */
typedef struct sview {
	const char *ts, *text, *user, *bot_id, *thread_ts, *subtype, *type, *username;
	const json_t *files;          /* jansson's tree only (the tape leaves files to it) */
	int edited;                   /* an "edited" member (null included) */
	const char *ed_ts, *ed_user;
	int64_t ed_ms;
	const char **react;           /* (emoji, user) pairs in order: 2 per pair */
	size_t nreact, react_cap;
} sview;

static int add_reaction(sview *v, const char *emoji, const char *who)
{
	if (v->nreact == v->react_cap) {
		size_t cap = v->react_cap ? v->react_cap * 2 : 8;
		const char **r = realloc(v->react, cap * 2 * sizeof *r);
		if (!r)
			return -1;
		v->react = r;
		v->react_cap = cap;
	}
	v->react[2 * v->nreact] = emoji;
	v->react[2 * v->nreact + 1] = who;
	v->nreact++;
	return 0;
}

/* The events of a message read into v: the message, its reactions. */
static int message_events(imp *m, slack *sl, const sview *v)
{
	int64_t ms = imp_epoch_ms_text(v->ts);
	if (!v->ts || ms < 0) {
		imp_skip(m, "message", "a message without a valid \"ts\" (like \"1712345678.000100\")");
		return 0;
	}
	if (v->type && strcmp(v->type, "message") != 0) {
		imp_skip(m, "message", "type '%.40s' is not a message", v->type);
		return 0;
	}
	char id[257];
	const char *thread = sl->thread, *prefix = sl->prefix, *ts = v->ts;
	imp_id(id, "slack:%s:%s", sl->chan, ts);
	const char *user = v->user ? v->user : v->bot_id;
	json_t *meta = NULL;
	put_lazy(&meta, "subtype", v->subtype);
	put_lazy(&meta, "bot_id", v->bot_id);
	put_lazy(&meta, "username", v->username);
	json_t *att = attachments_of(v->files, &meta);

	eb b = { 0, "" };
	cj_event *evs[1 + 256];
	size_t n = 0;
	cj_event *ev = eb_new(&b, "message");
	eb_str(&b, ev, "id", id);
	eb_str(&b, ev, "thread", thread);
	eb_str(&b, ev, "role", role_of(sl, v->subtype, v->bot_id, user));
	eb_str(&b, ev, "content", v->text ? v->text : att ? NULL : "");
	eb_str(&b, ev, "user", user);
	eb_str(&b, ev, "server", sl->server);
	eb_str(&b, ev, "channel", sl->chan);
	eb_int(&b, ev, "ts", ms);
	const char *tts = v->thread_ts;
	if (tts && strcmp(tts, ts) != 0) {
		char parent[257];
		imp_id(parent, "slack:%s:%s", sl->chan, tts);
		eb_str(&b, ev, "parent", parent);
	}
	int kept = imp_message_finish(m, ev, &b, att, meta, id);
	if (kept <= 0)
		return kept;
	evs[n++] = ev;

	/* reactions: one event per (emoji, user), at most 256 per message here */
	for (size_t i = 0; i < v->nreact; i++) {
		int rc = imp_reaction(m, evs, &n, sizeof evs / sizeof evs[0], id, thread,
		                      v->react[2 * i], v->react[2 * i + 1], ms);
		if (rc != 0) {
			for (size_t j = 0; j < n; j++)
				cj_event_free(evs[j]);
			return rc;
		}
	}
	imp_edit ed = { v->ed_ts, v->ed_ms, v->ed_user };
	int rc = imp_cover(m, thread, prefix, ms);
	if (rc == 0)
		rc = imp_emit(m, evs, n, v->edited ? &ed : NULL);
	else
		for (size_t j = 0; j < n; j++)
			cj_event_free(evs[j]);
	return rc;
}

/* The members read, in the order their types are checked (the first nine):
 * a field of the wrong type is the item's problem, never coerced. */
enum { TEXT, USER, BOT_ID, THREAD_TS, SUBTYPE, FILES, REACTIONS, EDITED, TYPE, TS, USERNAME,
       NKEYS };
static const imp_shape shape[NKEYS] = {
	{ "text", JSON_STRING }, { "user", JSON_STRING }, { "bot_id", JSON_STRING },
	{ "thread_ts", JSON_STRING }, { "subtype", JSON_STRING }, { "files", JSON_ARRAY },
	{ "reactions", JSON_ARRAY }, { "edited", JSON_OBJECT }, { "type", JSON_STRING },
	{ "ts", JSON_STRING }, { "username", JSON_STRING },
};

static int one_message(imp *m, json_t *msg, void *arg)
{
	slack *sl = arg;
	if (!json_is_object(msg)) {
		imp_skip(m, "message", "not a JSON object");
		return 0;
	}
	json_t *v[NKEYS];
	imp_members(v, msg, shape, NKEYS);
	const char *ts = json_string_value(v[TS]);
	if (!ts || imp_epoch_ms(v[TS]) < 0) {
		imp_skip(m, "message", "a message without a valid \"ts\" (like \"1712345678.000100\")");
		return 0;
	}
	if (imp_bad_shape_of(m, v, shape, TS, ts))
		return 0;
	sview w = { ts, json_string_value(v[TEXT]), json_string_value(v[USER]),
	            json_string_value(v[BOT_ID]), json_string_value(v[THREAD_TS]),
	            json_string_value(v[SUBTYPE]), json_string_value(v[TYPE]),
	            json_string_value(v[USERNAME]), v[FILES], v[EDITED] != NULL,
	            js(v[EDITED], "ts"), js(v[EDITED], "user"),
	            imp_epoch_ms(json_object_get(v[EDITED], "ts")), NULL, 0, 0 };
	size_t i, k;
	json_t *r, *u;
	json_array_foreach(v[REACTIONS], i, r) {
		const char *emoji = js(r, "name");
		json_array_foreach(json_object_get(r, "users"), k, u) {
			const char *who = json_string_value(u);
			if (emoji && who && add_reaction(&w, emoji, who) != 0) {
				free(w.react);
				return imp_fail(m, CJ_ENOMEM, "out of memory");
			}
		}
	}
	int rc = message_events(m, sl, &w);
	free(w.react);
	return rc;
}

/* The same from the tape, for the common message: 1 done (rc in *rc), 0
 * when jansson's tree must decide (a file, a member of another type, text
 * the tape does not take). Nothing is done before it answers 1. */
static int one_message_fast(imp *m, const char *text, size_t len, void *arg, int *rc)
{
	slack *sl = arg;
	tape *t = &sl->tape;
	if (!tape_read(t, text, len))
		return 0;
	const tj_node *root = &t->nodes[0], *n[NKEYS] = { NULL };
	for (const tj_node *c = tape_child(t, root); c; c = tape_next(t, c))
		for (size_t i = 0; i < NKEYS; i++)
			if (c->key[0] == shape[i].key[0] && strcmp(c->key, shape[i].key) == 0) {
				n[i] = c;
				break;
			}
	static const unsigned char want[NKEYS] = { TJ_STRING, TJ_STRING, TJ_STRING, TJ_STRING,
	                                           TJ_STRING, TJ_ARRAY, TJ_ARRAY, TJ_OBJECT,
	                                           TJ_STRING, TJ_STRING, TJ_STRING };
	for (size_t i = 0; i < NKEYS; i++)
		if (n[i] && n[i]->type != want[i] && (n[i]->type != TJ_NULL || i == TS))
			return 0;
	if (!n[TS] || (n[FILES] && n[FILES]->type != TJ_NULL))
		return 0;
	const tj_node *ets = tape_get(t, n[EDITED], "ts");
	if (ets && ets->type != TJ_STRING)
		return 0;   /* a number: jansson's reading of it decides */
	sview w = { tape_str(n[TS]), tape_str(n[TEXT]), tape_str(n[USER]), tape_str(n[BOT_ID]),
	            tape_str(n[THREAD_TS]), tape_str(n[SUBTYPE]), tape_str(n[TYPE]),
	            tape_str(n[USERNAME]), NULL, n[EDITED] != NULL, tape_str(ets),
	            tape_str(tape_get(t, n[EDITED], "user")), imp_epoch_ms_text(tape_str(ets)),
	            NULL, 0, 0 };
	for (const tj_node *r = tape_child(t, n[REACTIONS]); r; r = tape_next(t, r)) {
		const char *emoji = tape_str(tape_get(t, r, "name"));
		const tj_node *users = tape_get(t, r, "users");
		if (!users || users->type != TJ_ARRAY)
			continue;
		for (const tj_node *u = tape_child(t, users); u; u = tape_next(t, u)) {
			const char *who = tape_str(u);
			if (emoji && who && add_reaction(&w, emoji, who) != 0) {
				free(w.react);
				return 0;
			}
		}
	}
	*rc = message_events(m, sl, &w);
	free(w.react);
	return 1;
}

/* ---- conversations -------------------------------------------------------- */

/* One day file, read on a worker (imp_par): its own copy of the parser's
 * state, which the messages only read (the bots are all known by then). */
typedef struct day_job {
	slack sl;
	char *chan, *path, *name;
} day_job;

static void day_free(void *arg)
{
	day_job *j = arg;
	free(j->chan);
	free(j->path);
	free(j->name);
	free(j);
}

static int day_run(imp *wm, void *arg)
{
	day_job *j = arg;
	j->sl.chan = j->chan;
	imp_id(j->sl.thread, "slack:%s", j->chan);
	imp_id(j->sl.prefix, "slack:%s:", j->chan);
	tape_init(&j->sl.tape);
	int rc = imp_each_element_fast(wm, j->path, j->name, "message", one_message_fast,
	                               one_message, &j->sl);
	tape_free(&j->sl.tape);
	return rc;
}

static int conversation_files(imp *m, slack *sl, const char *folder)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/%s", sl->root, folder);
	char **days;
	size_t n;
	if (list_dir(&days, &n, dir, 0, ".json") != 0)
		return 0;   /* a conversation with no messages has no folder */
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		char path[4096], name[4096];
		int a = snprintf(path, sizeof path, "%s/%s", dir, days[i]);
		int b = snprintf(name, sizeof name, "%s/%s", folder, days[i]);
		if (a < 0 || b < 0 || (size_t)a >= sizeof path || (size_t)b >= sizeof name) {
			rc = imp_fail(m, CJ_EINVAL, "%s/%s: path too long", folder, days[i]);
			break;
		}
		day_job *j = calloc(1, sizeof *j);
		if (j) {
			j->sl = *sl;
			j->chan = strdup(sl->chan);
			j->path = strdup(path);
			j->name = strdup(name);
		}
		if (!j || !j->chan || !j->path || !j->name) {
			if (j)
				day_free(j);
			rc = imp_fail(m, CJ_ENOMEM, "out of memory");
			break;
		}
		rc = imp_par(m, day_run, j, day_free);
	}
	free_names(days, n);
	return rc;
}

static int one_conversation(imp *m, json_t *c, void *arg)
{
	slack *sl = arg;
	const char *id = js(c, "id");
	if (!json_is_object(c) || !id || !*id) {
		imp_skip(m, "thread", "a conversation without an \"id\"");
		return 0;
	}
	const char *name = js(c, "name");
	const char *folder = strcmp(sl->kind, "dm") == 0 || !name ? id : name;
	if (strchr(folder, '/') || strcmp(folder, "..") == 0 || strcmp(folder, ".") == 0) {
		imp_skip(m, "thread", "conversation '%.64s': a folder name with '/' or '..'", id);
		return 0;
	}
	if (idset_add(&sl->folders, h64(folder)) < 0)
		return imp_fail(m, CJ_ENOMEM, "out of memory");
	json_t *e = json_object(), *meta = json_object();
	char thread[257];
	imp_id(thread, "slack:%s", id);
	json_object_set_new(e, "type", json_string("thread"));
	json_object_set_new(e, "thread", json_string(thread));
	put_str(e, "title", name);
	put_str(e, "topic", js(json_object_get(c, "topic"), "value"));
	put_str(e, "server", sl->server);
	json_object_set_new(e, "channel", json_string(id));
	put_str(meta, "purpose", js(json_object_get(c, "purpose"), "value"));
	put_str(meta, "creator", js(c, "creator"));
	put_str(meta, "dm_user", js(c, "user"));
	json_object_set_new(meta, "kind", json_string(sl->kind));
	if (json_is_true(json_object_get(c, "is_archived")))
		json_object_set_new(meta, "is_archived", json_true());
	json_object_set_new(meta, "source", json_string("slack"));
	json_object_set_new(e, "metadata", meta);
	char prefix[257], what[128];
	imp_id(prefix, "slack:%s:thread", id);
	snprintf(what, sizeof what, "conversation '%.64s'", id);
	int rc = imp_emit_described(m, e, prefix, imp_epoch_ms(json_object_get(c, "created")), what);
	if (rc != 0)
		return rc;
	/* the conversation's messages, then back to the list's file */
	sl->chan = id;
	rc = conversation_files(m, sl, folder);
	sl->chan = NULL;
	return rc ? rc : imp_file(m, sl->list);
}

static int file_exists(const char *root, const char *name, char *path, size_t n)
{
	snprintf(path, n, "%s/%s", root, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	fclose(f);
	return 1;
}

/* The team id of the first user of users.json, for the default server
 * (errors are the user pass's to report). */
static void first_team(char out[257], const char *path, uint64_t cap)
{
	scan sc;
	if (scan_open(&sc, path, "users", cap) == 0 && scan_enter_array(&sc) == 0 &&
	    scan_next(&sc) == SCAN_OK) {
		json_t *u = scan_parse(&sc);
		if (js(u, "team_id"))
			snprintf(out, 257, "%s", js(u, "team_id"));
		json_decref(u);
	}
	scan_close(&sc);
}

int fmt_slack(imp *m, const char *root)
{
	slack sl;
	memset(&sl, 0, sizeof sl);
	sl.root = root;
	idset_init(&sl.bots);
	idset_init(&sl.folders);
	char path[4096];
	int rc = 0;
	static const char *const user_files[] = { "users.json", "org_users.json" };
	static const struct { const char *file, *kind; } lists[] = {
		{ "channels.json", "channel" }, { "groups.json", "group" },
		{ "mpims.json", "mpim" }, { "dms.json", "dm" },
	};
	int any = 0;
	for (size_t i = 0; i < 4; i++)
		any |= file_exists(root, lists[i].file, path, sizeof path);
	if (!any) {
		idset_free(&sl.bots);
		idset_free(&sl.folders);
		return imp_fail(m, CJ_EINVAL, "not a Slack export (no channels.json, groups.json, "
		                "mpims.json or dms.json at its top)");
	}
	char team[257] = "";
	const char *server = imp_server(m, NULL);
	for (size_t i = 0; i < 2 && rc == 0; i++) {
		if (!file_exists(root, user_files[i], path, sizeof path))
			continue;
		if (!server && !team[0])
			first_team(team, path, imp_max_element(m));
		snprintf(sl.server, sizeof sl.server, "%s", server ? server : team[0] ? team : "slack");
		rc = imp_each_element(m, path, user_files[i], "user", one_user, &sl);
	}
	if (!sl.server[0])
		snprintf(sl.server, sizeof sl.server, "%s", server ? server : "slack");
	for (size_t i = 0; i < 4 && rc == 0; i++) {
		if (!file_exists(root, lists[i].file, path, sizeof path))
			continue;
		sl.kind = lists[i].kind;
		sl.list = lists[i].file;
		rc = imp_each_element(m, path, lists[i].file, "thread", one_conversation, &sl);
	}
	/* folders no list names: their messages have no conversation id */
	char **dirs;
	size_t nd;
	if (rc == 0 && list_dir(&dirs, &nd, root, 1, NULL) == 0) {
		for (size_t i = 0; i < nd && rc == 0; i++) {
			if (idset_has(&sl.folders, h64(dirs[i])))
				continue;
			rc = imp_file(m, dirs[i]);
			imp_at(m, 0, 0);
			if (rc == 0)
				imp_skip(m, NULL, "folder '%.100s' is not a conversation of channels.json, "
				         "groups.json, mpims.json or dms.json: its messages have no channel id",
				         dirs[i]);
		}
		free_names(dirs, nd);
	}
	/* the day files still being read use the bots: take them first */
	int wrc = imp_par_wait(m);
	idset_free(&sl.bots);
	idset_free(&sl.folders);
	return rc ? rc : wrc;
}
