/* tests/fuzz/fuzz_read_params.c — libFuzzer harness for the read API's
 * caller-given text (docs/http.md, "Reads"): the input is a cursor (the
 * `after` of GET /v1/threads and /v1/metrics), a user id, a server, a
 * metric name and a setting key, against a small real store (threads,
 * users, metrics, settings) opened once.
 *
 * Checked per input:
 * - a cursor is accepted iff it is two decimal integers up to INT64_MAX
 *   joined by '.' (predicted here independently); refused, it is CJ_EINVAL
 *   naming field "after"; accepted, the answer is a JSON array whose rows
 *   all lie strictly after the cursor in the listing's order (time newest
 *   first for threads, oldest first for metrics);
 * - the text as user, server or metric name is a scope, never SQL: the
 *   answer is a JSON array, empty unless the text is one of the store's own
 *   ids; a user's profile is 404 unless it is one of them;
 * - cj_setting_key_sensitive does not depend on which separator splits the
 *   words, and a key made of the text plus "_password" is always masked. */
#include <ftw.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "chatjournal/chatjournal.h"
#include "checks.h"

static cj_store *store;
static char dir[] = "/tmp/cjfuzz-read-XXXXXX";

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void cleanup(void)
{
	if (store)
		cj_store_close(store);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *const EVENTS[] = {
	"{\"type\":\"message\",\"thread\":\"t1\",\"role\":\"user\",\"content\":\"a\",\"user\":\"u1\","
	"\"server\":\"s1\",\"ts\":1000}",
	"{\"type\":\"message\",\"thread\":\"t2\",\"role\":\"user\",\"content\":\"b\",\"user\":\"u1\","
	"\"server\":\"s2\",\"ts\":2000}",
	"{\"type\":\"message\",\"thread\":\"t3\",\"role\":\"user\",\"content\":\"c\",\"user\":\"u2\","
	"\"server\":\"s1\",\"ts\":2000}",
	"{\"type\":\"metric\",\"name\":\"m\",\"value\":1,\"ts\":1500}",
	"{\"type\":\"metric\",\"name\":\"m\",\"value\":2,\"ts\":1500}",
	"{\"type\":\"metric\",\"name\":\"n\",\"value\":3,\"ts\":900}",
	"{\"type\":\"setting\",\"key\":\"k\",\"value\":1}",
};
#define NEVENTS (sizeof EVENTS / sizeof *EVENTS)

static void init(void)
{
	if (store)
		return;
	CHECK(mkdtemp(dir));
	char path[64];
	snprintf(path, sizeof path, "%s/s", dir);
	CHECK(cj_store_init(path, NULL) == 0);
	CHECK(cj_store_open(&store, path, NULL) == 0);
	atexit(cleanup);
	uint64_t seq = 0;
	for (size_t i = 0; i < NEVENTS; i++) {
		cj_event *ev;
		CHECK(cj_event_parse(&ev, EVENTS[i], strlen(EVENTS[i])) == 0);
		CHECK(cj_journal_append(&seq, store, ev) == 0);
		cj_event_free(ev);
	}
	CHECK(cj_wait_applied(store, seq, 30000) == 0);
}

/* The independent prediction of a valid cursor. */
static int cursor_ok(const char *s, int64_t *a, int64_t *b)
{
	const char *dot = strchr(s, '.');
	if (!dot || dot == s || !dot[1] || strchr(dot + 1, '.'))
		return 0;
	if (strspn(s, "0123456789") != (size_t)(dot - s) || strspn(dot + 1, "0123456789") != strlen(dot + 1))
		return 0;
	/* up to INT64_MAX: at most 19 digits after leading zeros, compared as text */
	const char *parts[2] = { s, dot + 1 };
	size_t lens[2] = { (size_t)(dot - s), strlen(dot + 1) };
	int64_t v[2];
	for (int k = 0; k < 2; k++) {
		const char *p = parts[k];
		size_t n = lens[k];
		while (n > 1 && *p == '0')
			p++, n--;
		if (n > 19 || (n == 19 && strncmp(p, "9223372036854775807", 19) > 0))
			return 0;
		char tmp[20];
		memcpy(tmp, p, n);
		tmp[n] = '\0';
		v[k] = strtoll(tmp, NULL, 10);
	}
	*a = v[0];
	*b = v[1];
	return 1;
}

static json_t *array_of(const char *text)
{
	json_t *a = json_loads(text, 0, NULL);
	CHECK(json_is_array(a));
	return a;
}

static void check_cursor(const char *text)
{
	int64_t t = 0, n = 0;
	int ok = cursor_ok(text, &t, &n);
	char *out = NULL;
	cj_page page;
	cj_threads_query tq = CJ_THREADS_QUERY_INIT;
	tq.after = text;
	int rc = cj_query_threads(&out, &page, store, &tq);
	if (!ok) {
		CHECK(rc == CJ_EINVAL && out == NULL);
		CHECK(cj_error_field() && !strcmp(cj_error_field(), "after"));
	} else {
		CHECK(rc == 0);
		json_t *a = array_of(out);
		size_t i;
		json_t *row;
		json_array_foreach(a, i, row)
			CHECK(json_integer_value(json_object_get(row, "last_activity_ms")) <= t);
		json_decref(a);
	}
	cj_free(out);
	out = NULL;
	cj_metrics_query mq = CJ_METRICS_QUERY_INIT;
	mq.after = text;
	rc = cj_query_metrics(&out, &page, store, &mq);
	CHECK(ok ? rc == 0 : rc == CJ_EINVAL);
	if (ok) {
		json_t *a = array_of(out);
		size_t i;
		json_t *row;
		json_array_foreach(a, i, row) {
			int64_t ts = json_integer_value(json_object_get(row, "ts_ms"));
			int64_t seq = json_integer_value(json_object_get(row, "seq"));
			CHECK(ts > t || (ts == t && seq > n));
		}
		json_decref(a);
	}
	cj_free(out);
}

static int own_id(const char *s)
{
	static const char *const ids[] = { "u1", "u2", "s1", "s2", "m", "n" };
	for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
		if (!strcmp(s, ids[i]))
			return 1;
	return 0;
}

static void check_scopes(const char *text)
{
	char *out = NULL;
	cj_user_messages_query uq = CJ_USER_MESSAGES_QUERY_INIT;
	uq.user = text;
	int rc = cj_query_user_messages(&out, NULL, store, &uq);
	if (!*text) {
		CHECK(rc == CJ_EINVAL);
	} else {
		CHECK(rc == 0);
		json_t *a = array_of(out);
		CHECK(json_array_size(a) == 0 || own_id(text));
		json_decref(a);
	}
	cj_free(out);
	out = NULL;
	cj_threads_query tq = CJ_THREADS_QUERY_INIT;
	tq.server = text;
	CHECK(cj_query_threads(&out, NULL, store, &tq) == 0);
	json_t *a = array_of(out);
	CHECK(json_array_size(a) == 0 || own_id(text));
	json_decref(a);
	cj_free(out);
	out = NULL;
	cj_metrics_query mq = CJ_METRICS_QUERY_INIT;
	mq.name = text;
	CHECK(cj_query_metrics(&out, NULL, store, &mq) == 0);
	a = array_of(out);
	CHECK(json_array_size(a) == 0 || own_id(text));
	json_decref(a);
	cj_free(out);
	out = NULL;
	rc = cj_query_user(&out, store, text);
	CHECK(rc == 0 ? own_id(text) : (rc == CJ_ENOTFOUND || (rc == CJ_EINVAL && !*text)));
	cj_free(out);
}

static void check_key(const char *text)
{
	size_t n = strlen(text);
	char *dots = malloc(n + 1), *pw = malloc(n + 16);
	CHECK(dots && pw);
	for (size_t i = 0; i <= n; i++)
		dots[i] = text[i] && strchr("_-/: ", text[i]) ? '.' : text[i];
	CHECK(cj_setting_key_sensitive(text) == cj_setting_key_sensitive(dots));
	snprintf(pw, n + 16, "%s_password", text);
	CHECK(cj_setting_key_sensitive(pw) == 1);
	free(dots);
	free(pw);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init();
	if (size > 4096)
		return 0;
	char *text = malloc(size + 1);
	CHECK(text);
	memcpy(text, data, size);
	text[size] = '\0'; /* a NUL inside ends the text, as it would in a C caller's string */
	check_cursor(text);
	check_scopes(text);
	check_key(text);
	free(text);
	cj_error_clear();
	return 0;
}
