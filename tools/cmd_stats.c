/* tools/cmd_stats.c — `chatjournal stats STORE [--json]`: the journal's
 * figures, then the projection's (cj_query_stats). Opens the store
 * read-only, so it neither starts a writer nor disturbs a running server;
 * the projection figures are therefore those of its last materialization. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "chatjournal/chatjournal.h"
#include "cli.h"

static const cli_help help = {
	"stats", "STORE [--tz ZONE] [--json]",
	"Show the journal's figures: events, last sequence number, blobs, blob\n"
	"bytes, idempotency keys, LMDB map size, map in use, map ceiling and\n"
	"data file size; then the projection's: messages, threads, users,\n"
	"servers, images, messages today (since midnight in ZONE, default UTC),\n"
	"the position it has applied, its\n"
	"lag behind the journal and its size on disk. The store is opened\n"
	"read-only: when the projection lags, a note on stderr says so (text\n"
	"output only); 'chatjournal serve' or any read-write open catches it up.\n"
	"A damaged projection is reported as such (with --json, the key\n"
	"projection_error) and the exit status is 1: run 'chatjournal replay'.\n\n"
	"Options:\n"
	"  --tz ZONE count 'messages today' from midnight in ZONE, an IANA time\n"
	"            zone of the system's tz database (Europe/Berlin); default UTC\n"
	"  --json    print one JSON object with the keys events, last_seq, blobs,\n"
	"            blob_bytes, idempotency_keys, map_size, map_used,\n"
	"            map_ceiling, file_size, then messages, threads, users,\n"
	"            servers, images, messages_today, position, lag,\n"
	"            projection_bytes, journal_bytes (integers; sizes in bytes),\n"
	"            timezone and day_start (where today began, UTC)\n"
};

/* Projection keys in the order printed; cj_query_stats repeats the journal
 * figures too, those stay first with their own names. */
static const char *const PROJECTION_KEYS[] = {
	"messages", "threads", "users", "servers", "images", "messages_today",
	"timezone", "day_start", "position", "lag", "projection_bytes", "journal_bytes",
};
#define NPROJECTION (sizeof PROJECTION_KEYS / sizeof PROJECTION_KEYS[0])

static int print_json(const cj_journal_stats *st, json_t *proj)
{
	json_t *o = json_object();
	if (!o)
		return cli_fail("stats", "out of memory");
	json_object_set_new(o, "events", cli_json_u64(st->events));
	json_object_set_new(o, "last_seq", cli_json_u64(st->last_seq));
	json_object_set_new(o, "blobs", cli_json_u64(st->blobs));
	json_object_set_new(o, "blob_bytes", cli_json_u64(st->blob_bytes));
	json_object_set_new(o, "idempotency_keys", cli_json_u64(st->idempotency_keys));
	json_object_set_new(o, "map_size", cli_json_u64(st->map_size));
	json_object_set_new(o, "map_used", cli_json_u64(st->map_used));
	json_object_set_new(o, "map_ceiling", cli_json_u64(st->map_ceiling));
	json_object_set_new(o, "file_size", cli_json_u64(st->file_size));
	/* Then the projection's figures, and any the library adds later. */
	for (size_t i = 0; i < NPROJECTION; i++) {
		json_t *v = json_object_get(proj, PROJECTION_KEYS[i]);
		if (v)
			json_object_set(o, PROJECTION_KEYS[i], v);
	}
	const char *k;
	json_t *v;
	json_object_foreach(proj, k, v)
		if (!json_object_get(o, k))
			json_object_set(o, k, v);
	return cli_print_json("stats", o);
}

static void print_count(const char *label, uint64_t v)
{
	printf("%-18s %llu\n", label, (unsigned long long)v);
}

static void print_bytes(const char *label, uint64_t v)
{
	char b[64];
	cli_format_bytes(v, b);
	printf("%-18s %s\n", label, b);
}

static uint64_t figure(json_t *proj, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(proj, key));
	return v > 0 ? (uint64_t)v : 0;
}

static void print_text(const char *path, const cj_journal_stats *st, json_t *proj)
{
	printf("store              %s\n", path);
	print_count("events", st->events);
	print_count("last sequence", st->last_seq);
	print_count("blobs", st->blobs);
	print_bytes("blob bytes", st->blob_bytes);
	print_count("idempotency keys", st->idempotency_keys);
	print_bytes("map size", st->map_size);
	print_bytes("map used", st->map_used);
	print_bytes("map ceiling", st->map_ceiling);
	print_bytes("file size", st->file_size);
	const char *perr = json_string_value(json_object_get(proj, "projection_error"));
	if (perr) {
		printf("%-18s ", "projection");
		cli_put_oneline(stdout, perr);
		fputc('\n', stdout);
		return;
	}
	print_count("messages", figure(proj, "messages"));
	print_count("threads", figure(proj, "threads"));
	print_count("users", figure(proj, "users"));
	print_count("servers", figure(proj, "servers"));
	print_count("images", figure(proj, "images"));
	printf("%-18s %llu (since %s, %s)\n", "messages today",
	       (unsigned long long)figure(proj, "messages_today"),
	       json_string_value(json_object_get(proj, "day_start")),
	       json_string_value(json_object_get(proj, "timezone")));
	print_count("position", figure(proj, "position"));
	print_count("lag", figure(proj, "lag"));
	print_bytes("projection size", figure(proj, "projection_bytes"));
	const char *err = json_string_value(json_object_get(proj, "materializer_error"));
	if (err) {
		printf("%-18s ", "materializer error");
		cli_put_oneline(stdout, err);
		fputc('\n', stdout);
	}
}

/* Midnight of the current day in zone, as ms since the epoch. The CLI is
 * one thread here (before the store opens), so switching TZ is safe. */
static int64_t local_midnight(const char *zone)
{
	setenv("TZ", zone, 1);
	tzset();
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1; /* a zone whose midnight is skipped by DST: mktime moves it on */
	return (int64_t)mktime(&tm) * 1000;
}

/* cj_query_stats as a JSON object (new reference), or NULL after an error. */
static json_t *projection_stats(cj_store *s, const char *path, const cj_stats_options *so)
{
	char *text = NULL;
	int rc = cj_query_stats_opts(&text, s, so);
	if (rc != 0) {
		cli_fail_lib("stats", rc, "%s", path);
		return NULL;
	}
	json_error_t e;
	json_t *o = json_loads(text, 0, &e);
	cj_free(text);
	if (!json_is_object(o)) {
		json_decref(o);
		cli_fail("stats", "%s: unexpected projection statistics: %s", path, e.text);
		return NULL;
	}
	return o;
}

int cmd_stats(int argc, char **argv)
{
	int json = 0;
	const char *tz = NULL;
	const cli_opt opts[] = { { "--json", NULL, &json, NULL }, { "--tz", "ZONE", NULL, &tz } };
	const char *pos[1];
	size_t npos;
	int rc = cli_parse(&help, argc, argv, opts, 2, pos, 1, 1, &npos);
	if (rc != CLI_CONTINUE)
		return rc;
	cj_stats_options so = CJ_STATS_OPTIONS_INIT;
	if (tz) {
		if (cj_timezone_check(tz) != 0)
			return cli_usage_error(&help, "--tz: %s", cj_error_last());
		so.day_start_ms = local_midnight(tz);
		so.timezone = tz;
	}

	cj_store *s = NULL;
	if (cli_open_store("stats", pos[0], 1, &s) != 0)
		return CLI_EXIT_FAIL;
	cj_journal_stats st;
	memset(&st, 0, sizeof st);
	rc = cj_journal_stats_get(&st, s);
	if (rc != 0) {
		cli_fail_lib("stats", rc, "%s", pos[0]);
		cj_store_close(s);
		return CLI_EXIT_FAIL;
	}
	json_t *proj = projection_stats(s, pos[0], &so);
	cj_store_close(s);
	if (!proj)
		return CLI_EXIT_FAIL;
	int status = CLI_EXIT_OK;
	if (json) {
		status = print_json(&st, proj) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
	} else {
		print_text(pos[0], &st, proj);
		if (figure(proj, "lag") > 0 && !json_object_get(proj, "projection_error"))
			cli_note_lag("stats", figure(proj, "position"), figure(proj, "last_seq"));
	}
	const char *perr = json_string_value(json_object_get(proj, "projection_error"));
	if (perr && status == CLI_EXIT_OK)
		status = cli_fail("stats", "%s", perr);
	json_decref(proj);
	return status;
}
