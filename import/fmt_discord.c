/* import/fmt_discord.c — DiscordChatExporter's JSON export: one file per
 * channel (PATH is such a file, or a folder of them), an object with
 * "guild", "channel", ... and "messages", the array that is streamed. The
 * channel -> a thread event; each distinct author profile -> a user event;
 * each message -> a message event with its reply reference, attachments,
 * embeds and stickers (metadata) and reactions; `timestampEdited` makes a
 * changed message an edit. The field map: docs/import.md, "Discord". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "import_internal.h"
#include "idset.h"

typedef struct dce {
	char server[257];
	char chan[257];
	char thread[257];
	idset profiles;    /* user-event ids emitted this pass */
} dce;

static void put_str(json_t *o, const char *k, const char *v)
{
	if (v && *v)
		json_object_set_new(o, k, json_string(v));
}

/* "2024-03-01T10:00:00.123+00:00" -> ms, or -1. */
static int64_t rfc3339_ms(const char *s)
{
	int64_t ms;
	return s && cj_time_parse(&ms, s) == 0 ? ms : -1;
}

static int author_event(imp *m, dce *d, const json_t *a)
{
	const char *id = js(a, "id");
	if (!id || !*id)
		return 0;
	json_t *e = json_object(), *meta = json_object();
	json_object_set_new(e, "type", json_string("user"));
	json_object_set_new(e, "user", json_string(id));
	put_str(e, "username", js(a, "name"));
	put_str(e, "display_name", js(a, "nickname"));
	json_object_set_new(e, "is_bot", json_boolean(json_is_true(json_object_get(a, "isBot"))));
	put_str(e, "avatar_url", js(a, "avatarUrl"));
	put_str(meta, "discriminator", js(a, "discriminator"));
	json_object_set_new(meta, "source", json_string("discord"));
	json_object_set_new(e, "metadata", meta);
	/* once per distinct profile per pass */
	char hash[17];
	imp_hash_json(hash, e);
	int seen = idset_add(&d->profiles, XXH64(hash, 16, XXH64(id, strlen(id), 0)));
	if (seen != 0) {
		json_decref(e);
		return seen < 0 ? imp_fail(m, CJ_ENOMEM, "out of memory") : 0;
	}
	char prefix[257], what[128];
	imp_id(prefix, "discord:user:%s", id);
	snprintf(what, sizeof what, "author '%.64s'", id);
	return imp_emit_described(m, e, prefix, 0, what);
}

static int channel_event(imp *m, dce *d, const json_t *guild, const json_t *ch)
{
	json_t *e = json_object(), *meta = json_object();
	json_object_set_new(e, "type", json_string("thread"));
	json_object_set_new(e, "thread", json_string(d->thread));
	put_str(e, "title", js(ch, "name"));
	put_str(e, "topic", js(ch, "topic"));
	put_str(e, "server", d->server);
	json_object_set_new(e, "channel", json_string(d->chan));
	put_str(meta, "guild_name", js(guild, "name"));
	put_str(meta, "category", js(ch, "category"));
	put_str(meta, "channel_type", js(ch, "type"));
	json_object_set_new(meta, "source", json_string("discord"));
	json_object_set_new(e, "metadata", meta);
	char prefix[300], what[300];
	imp_id(prefix, "discord:%s:thread", d->chan);
	snprintf(what, sizeof what, "channel '%.64s'", d->chan);
	return imp_emit_described(m, e, prefix, 0, what);
}

static json_t *attachments_of(const json_t *msg)
{
	json_t *list = json_object_get(msg, "attachments");
	if (!json_is_array(list) || !json_array_size(list))
		return NULL;
	json_t *out = json_array();
	size_t i;
	json_t *a;
	json_array_foreach(list, i, a) {
		const char *url = js(a, "url");
		if (!url || !*url)
			continue;
		json_t *o = json_object();
		json_object_set_new(o, "url", json_string(url));
		if (js(a, "fileName"))
			json_object_set_new(o, "name", json_string(js(a, "fileName")));
		json_t *size = json_object_get(a, "fileSizeBytes");
		if (json_is_integer(size) && json_integer_value(size) >= 0)
			json_object_set(o, "size", size);
		json_array_append_new(out, o);
	}
	if (!json_array_size(out)) {
		json_decref(out);
		return NULL;
	}
	return out;
}

static json_t *metadata_of(const json_t *msg)
{
	json_t *meta = json_object();
	const char *type = js(msg, "type");
	if (type && strcmp(type, "Default") != 0 && strcmp(type, "Reply") != 0)
		json_object_set_new(meta, "type", json_string(type));
	static const char *const lists[] = { "embeds", "stickers" };
	for (size_t i = 0; i < 2; i++) {
		json_t *v = json_object_get(msg, lists[i]);
		if (json_is_array(v) && json_array_size(v))
			json_object_set(meta, lists[i], v);
	}
	json_t *mentions = json_object_get(msg, "mentions");
	if (json_is_array(mentions) && json_array_size(mentions)) {
		json_t *ids = json_array();
		size_t i;
		json_t *u;
		json_array_foreach(mentions, i, u)
			if (js(u, "id"))
				json_array_append_new(ids, json_string(js(u, "id")));
		json_object_set_new(meta, "mentions", ids);
	}
	if (!json_object_size(meta)) {
		json_decref(meta);
		return NULL;
	}
	return meta;
}

static const char *role_of(const json_t *msg)
{
	if (json_is_true(json_object_get(json_object_get(msg, "author"), "isBot")))
		return "assistant";
	const char *type = js(msg, "type");
	if (!type || strcmp(type, "Default") == 0 || strcmp(type, "Reply") == 0)
		return "user";
	return "system";
}

static int one_message(imp *m, dce *d, json_t *msg)
{
	if (!json_is_object(msg)) {
		imp_skip(m, "message", "not a JSON object");
		return 0;
	}
	const char *mid = js(msg, "id");
	const char *when = js(msg, "timestamp");
	int64_t ms = rfc3339_ms(when);
	if (!mid || !*mid || ms < 0) {
		imp_skip(m, "message", "a message without an \"id\" or a valid \"timestamp\"");
		return 0;
	}
	static const imp_shape shape[] = {
		{ "content", JSON_STRING }, { "author", JSON_OBJECT }, { "attachments", JSON_ARRAY },
		{ "embeds", JSON_ARRAY }, { "stickers", JSON_ARRAY }, { "reactions", JSON_ARRAY },
		{ "mentions", JSON_ARRAY }, { "reference", JSON_OBJECT }, { "type", JSON_STRING },
		{ "timestampEdited", JSON_STRING },
	};
	if (imp_bad_shape(m, msg, shape, sizeof shape / sizeof shape[0], mid))
		return 0;
	json_t *author = json_object_get(msg, "author");
	int rc = author_event(m, d, author);
	if (rc != 0)
		return rc;
	char id[257], prefix[257];
	imp_id(id, "discord:%s:%s", d->chan, mid);
	imp_id(prefix, "discord:%s:", d->chan);
	eb b = { 0, "" };
	cj_event *evs[1 + 256];
	size_t n = 0;
	cj_event *ev = eb_new(&b, "message");
	eb_str(&b, ev, "id", id);
	eb_str(&b, ev, "thread", d->thread);
	eb_str(&b, ev, "role", role_of(msg));
	json_t *att = attachments_of(msg);
	const char *content = js(msg, "content");
	eb_str(&b, ev, "content", content ? content : att ? NULL : "");
	eb_str(&b, ev, "user", js(author, "id"));
	eb_str(&b, ev, "server", d->server);
	eb_str(&b, ev, "channel", d->chan);
	eb_int(&b, ev, "ts", ms);
	json_t *ref = json_object_get(msg, "reference");
	const char *type = js(msg, "type");
	if (js(ref, "messageId") && type && strcmp(type, "Reply") == 0) {
		char rid[257];
		imp_id(rid, "discord:%s:%s", js(ref, "channelId") ? js(ref, "channelId") : d->chan,
		       js(ref, "messageId"));
		eb_str(&b, ev, "reply_to", rid);
	}
	int kept = imp_message_finish(m, ev, &b, att, metadata_of(msg), id);
	if (kept <= 0)
		return kept;
	evs[n++] = ev;
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(msg, "reactions"), i, r) {
		const char *emoji = js(json_object_get(r, "emoji"), "name");
		json_t *users = json_object_get(r, "users");
		if (!emoji || !*emoji || !json_is_array(users) || !json_array_size(users)) {
			imp_skip(m, "reaction", "a reaction to %.64s without its users (only a count): "
			         "a reaction is stored per user", id);
			continue;
		}
		size_t k;
		json_t *u;
		json_array_foreach(users, k, u) {
			const char *who = js(u, "id");
			if (!who)
				continue;
			rc = imp_reaction(m, evs, &n, sizeof evs / sizeof evs[0], id, d->thread, emoji, who,
			                  ms);
			if (rc != 0) {
				for (size_t j = 0; j < n; j++)
					cj_event_free(evs[j]);
				return rc;
			}
		}
	}
	const char *edited = js(msg, "timestampEdited");
	imp_edit ed = { edited, rfc3339_ms(edited), js(author, "id") };
	rc = imp_cover(m, d->thread, prefix, ms);
	if (rc == 0)
		return imp_emit(m, evs, n, edited ? &ed : NULL);
	for (size_t j = 0; j < n; j++)
		cj_event_free(evs[j]);
	return rc;
}

static int message_cb(imp *m, json_t *msg, void *arg) { return one_message(m, arg, msg); }

/* One export file: the members before "messages" give the guild and the
 * channel (DiscordChatExporter writes them first). */
static int one_file(imp *m, dce *d, const char *path, const char *name)
{
	scan sc;
	if (imp_open_scan(m, &sc, path, name) != 0)
		return -1;
	int rc = 0;
	if (scan_enter_object(&sc) != 0) {
		rc = imp_fail_scan(m, &sc);
		scan_close(&sc);
		return rc;
	}
	json_t *guild = NULL, *channel = NULL;
	int got_messages = 0;
	for (;;) {
		int r = scan_next_key(&sc);
		if (r == SCAN_END) {
			if (scan_finish(&sc) != 0)
				rc = imp_fail_scan(m, &sc);
			break;
		}
		if (r == SCAN_ERR) {
			rc = imp_fail_scan(m, &sc);
			break;
		}
		char key[32];
		snprintf(key, sizeof key, "%s", sc.elem);
		if (strcmp(key, "messages") != 0) {
			r = scan_value(&sc);
			if (r == SCAN_ERR) {
				rc = imp_fail_scan(m, &sc);
				break;
			}
			if (strcmp(key, "guild") != 0 && strcmp(key, "channel") != 0)
				continue;
			json_t *v = r == SCAN_OK ? scan_parse(&sc) : NULL;
			if (!v || !json_is_object(v)) {
				json_decref(v);
				rc = imp_fail(m, CJ_EINVAL, "%s: line %llu, byte %llu: \"%s\" must be a JSON "
				              "object%s", name, (unsigned long long)sc.elem_line,
				              (unsigned long long)sc.elem_off, key,
				              r == SCAN_OK ? "" : " (of a sane size)");
				break;
			}
			json_decref(strcmp(key, "guild") == 0 ? guild : channel);
			if (strcmp(key, "guild") == 0)
				guild = v;
			else
				channel = v;
			continue;
		}
		const char *cid = js(channel, "id");
		if (!cid || !*cid) {
			rc = imp_fail(m, CJ_EINVAL, "%s: line %llu, byte %llu: \"messages\" before a "
			              "\"channel\" with an \"id\" (not a DiscordChatExporter JSON export?)",
			              name, (unsigned long long)sc.elem_line,
			              (unsigned long long)sc.elem_off);
			break;
		}
		snprintf(d->chan, sizeof d->chan, "%s", cid);
		imp_id(d->thread, "discord:%s", cid);
		const char *gid = js(guild, "id");
		snprintf(d->server, sizeof d->server, "%s",
		         imp_server(m, gid && *gid ? gid : "discord"));
		imp_at(m, sc.line, scan_offset(&sc));
		if ((rc = channel_event(m, d, guild, channel)) != 0)
			break;
		if (scan_enter_array(&sc) != 0) {
			rc = imp_fail_scan(m, &sc);
			break;
		}
		got_messages = 1;
		if ((rc = imp_scan_elements(m, &sc, "message", message_cb, d)) != 0)
			break;
	}
	if (rc == 0 && !got_messages)
		rc = imp_fail(m, CJ_EINVAL, "%s: no \"messages\" array (not a DiscordChatExporter "
		              "JSON export?)", name);
	imp_progress(m, scan_offset(&sc));
	json_decref(guild);
	json_decref(channel);
	scan_close(&sc);
	return rc;
}

int fmt_discord(imp *m, const char *path)
{
	dce d;
	memset(&d, 0, sizeof d);
	idset_init(&d.profiles);
	char **names = NULL;
	size_t n = 0;
	int rc = 0;
	if (list_dir(&names, &n, path, 0, ".json") == 0) {
		if (n == 0)
			rc = imp_fail(m, CJ_EINVAL, "%s: no .json files in the folder", path);
		for (size_t i = 0; i < n && rc == 0; i++) {
			char full[4096];
			int l = snprintf(full, sizeof full, "%s/%s", path, names[i]);
			if (l < 0 || (size_t)l >= sizeof full)
				rc = imp_fail(m, CJ_EINVAL, "%s: path too long", names[i]);
			else
				rc = one_file(m, &d, full, names[i]);
		}
		free_names(names, n);
	} else {
		const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
		rc = one_file(m, &d, path, name);
	}
	idset_free(&d.profiles);
	return rc;
}
