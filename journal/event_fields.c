/* journal/event_fields.c — the fields of a plain message event, from a
 * decoded event or straight from its record body. The projection reads
 * every record of the journal; most are plain messages, and building a
 * jansson tree for each (a node and a hash entry per field, all freed
 * again) was a third of the applier's instructions in a replay
 * (docs/performance.md). The body reader here accepts only what it can
 * read exactly as cji_event_decode would and leaves everything else,
 * damaged bodies included, to the full decoder (event_unpack.c). */
#include <string.h>
#include "journal/event_internal.h"
#include "common/err.h"
#include "common/utf8.h"

/* The keys a plain message may have; the string fields first. */
enum { F_THREAD, F_ROLE, F_CONTENT, F_USER, F_SERVER, F_CHANNEL, F_MESSAGE_TS, F_ID, N_STR,
       F_TYPE = N_STR, F_TS, F_METADATA, N_KEYS };

static const struct {
	const char *name;
	size_t len;
} KEYS[N_KEYS] = {
	[F_THREAD] = { "thread", 6 },         [F_ROLE] = { "role", 4 },
	[F_CONTENT] = { "content", 7 },       [F_USER] = { "user", 4 },
	[F_SERVER] = { "server", 6 },         [F_CHANNEL] = { "channel", 7 },
	[F_MESSAGE_TS] = { "message_ts", 10 }, [F_ID] = { "id", 2 },
	[F_TYPE] = { "type", 4 },             [F_TS] = { "ts", 2 },
	[F_METADATA] = { "metadata", 8 },
};

static const char *str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* where each string field goes, by F_ */
static void fields(const char **dst[N_STR], cji_message_fields *m)
{
	dst[F_THREAD] = &m->thread;
	dst[F_ROLE] = &m->role;
	dst[F_CONTENT] = &m->content;
	dst[F_USER] = &m->user;
	dst[F_SERVER] = &m->server;
	dst[F_CHANNEL] = &m->channel;
	dst[F_MESSAGE_TS] = &m->message_ts;
	dst[F_ID] = &m->id;
}

void cji_message_fields_of(cji_message_fields *m, const json_t *o)
{
	memset(m, 0, sizeof *m);
	const char **dst[N_STR];
	fields(dst, m);
	for (int f = 0; f < N_STR; f++)
		*dst[f] = str(o, KEYS[f].name);
	m->metadata = json_object_get(o, "metadata");
	m->cost = json_object_get(o, "cost");
	/* type, thread, role, and the others when present */
	size_t known = 3 + !!json_object_get(o, "ts") + !!m->content + !!m->server + !!m->channel +
	               !!m->user + !!m->message_ts + !!m->id + !!m->metadata + !!m->cost;
	m->rest = json_object_size(o) > known ? o : NULL;
}

void cji_message_fields_done(cji_message_fields *m)
{
	json_decref(m->owned);
	m->owned = NULL;
}

static int same_str(const char *x, const char *y)
{
	return x == y || (x && y && strcmp(x, y) == 0);
}

static int same_json(const json_t *x, const json_t *y)
{
	return x == y || (x && y && json_equal(x, y));
}

int cji_message_fields_equal(const cji_message_fields *x, const cji_message_fields *y)
{
	return same_str(x->thread, y->thread) && same_str(x->role, y->role) &&
	       same_str(x->content, y->content) && same_str(x->user, y->user) &&
	       same_str(x->server, y->server) && same_str(x->channel, y->channel) &&
	       same_str(x->message_ts, y->message_ts) && same_str(x->id, y->id) &&
	       same_json(x->metadata, y->metadata) && same_json(x->cost, y->cost) &&
	       same_json(x->rest, y->rest);
}

/* ---- from a body ---------------------------------------------------------- */

typedef struct cursor {
	const uint8_t *p;
	size_t len, pos;
} cursor;

static uint64_t be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* n header bytes after the tag, if there are that many: their value */
static int header(cursor *c, size_t n, uint64_t *v)
{
	if (c->len - c->pos < 1 + n)
		return 0;
	*v = be(c->p + c->pos + 1, n);
	c->pos += 1 + n;
	return 1;
}

/* A str item: 1 and its bytes, or 0 (another type, or truncated). */
static int get_str(cursor *c, const uint8_t **s, size_t *n)
{
	uint8_t tag = c->p[c->pos];
	uint64_t l;
	if ((tag & 0xe0u) == 0xa0u) {
		l = tag & 0x1fu;
		c->pos++;
	} else if (!(tag == 0xd9 && header(c, 1, &l)) && !(tag == 0xda && header(c, 2, &l)) &&
	           !(tag == 0xdb && header(c, 4, &l))) {
		return 0;
	}
	if (l > c->len - c->pos)
		return 0;
	*s = c->p + c->pos;
	*n = (size_t)l;
	c->pos += (size_t)l;
	return 1;
}

/* An integer item (any width the decoder takes): 1, or 0. */
static int skip_int(cursor *c)
{
	uint8_t tag = c->p[c->pos];
	uint64_t v;
	if (tag <= 0x7f || tag >= 0xe0) {
		c->pos++;
		return 1;
	}
	switch (tag) {
	case 0xcc: case 0xd0: return header(c, 1, &v);
	case 0xcd: case 0xd1: return header(c, 2, &v);
	case 0xce: case 0xd2: return header(c, 4, &v);
	case 0xd3: return header(c, 8, &v);
	case 0xcf: return header(c, 8, &v) && v <= (uint64_t)INT64_MAX;
	default: return 0;
	}
}

static int key_of(const uint8_t *k, size_t n)
{
	for (int i = 0; i < N_KEYS; i++)
		if (KEYS[i].len == n && memcmp(KEYS[i].name, k, n) == 0)
			return i;
	return -1;
}

int cji_message_fields_read(cji_message_fields *m, cji_buf *strings, const uint8_t *body,
                            size_t len)
{
	if (!body || len == 0 || len > CJI_DECODE_MAX_BODY)
		return 0;
	cursor c = { body, len, 0 };
	uint64_t n;
	uint8_t tag = body[0];
	if ((tag & 0xf0u) == 0x80u) {
		n = tag & 0x0fu;
		c.pos = 1;
	} else if (!(tag == 0xde && header(&c, 2, &n))) {
		return 0;
	}
	size_t off[N_STR];
	unsigned seen = 0;
	size_t nodes = 1; /* the map; then each value, as the decoder counts them */
	json_t *metadata = NULL;
	cji_buf_reset(strings);
	for (uint64_t i = 0; i < n; i++) {
		const uint8_t *k, *s;
		size_t kn, sn;
		if (c.pos >= len || !get_str(&c, &k, &kn))
			goto other;
		int f = key_of(k, kn);
		if (f < 0 || (seen & (1u << f)) || c.pos >= len || ++nodes > CJI_DECODE_MAX_NODES)
			goto other;
		seen |= 1u << f;
		if (f == F_TS) {
			if (!skip_int(&c))
				goto other;
		} else if (f == F_METADATA) {
			size_t used;
			nodes--; /* counted again by the decoder */
			int rc = cji_event_decode_value(&metadata, &used, body, len, c.pos, 2, &nodes);
			if (rc == CJ_ENOMEM)
				return rc;
			if (rc)
				goto other;
			c.pos += used;
		} else {
			if (!get_str(&c, &s, &sn) || !cji_utf8_valid(s, sn))
				goto other;
			if (f == F_TYPE) {
				if (sn != 7 || memcmp(s, "message", 7) != 0)
					goto other;
				continue;
			}
			off[f] = strings->len;
			if (cji_buf_append(strings, s, sn) || cji_buf_append(strings, "", 1)) {
				json_decref(metadata);
				return cji_err(CJ_ENOMEM, "out of memory reading a record body");
			}
		}
	}
	if (c.pos != len || !(seen & (1u << F_TYPE)))
		goto other;
	memset(m, 0, sizeof *m);
	const char **dst[N_STR];
	fields(dst, m);
	for (int f = 0; f < N_STR; f++)
		*dst[f] = seen & (1u << f) ? (const char *)strings->data + off[f] : NULL;
	m->metadata = m->owned = metadata;
	return 1;
other:
	json_decref(metadata);
	return 0;
}
