/* tools/cmd_stats.c — `chatjournal stats STORE [--json]`: the journal's
 * figures. Opens the store read-only, so it neither starts a writer nor
 * disturbs a running server. */
#include <stdio.h>
#include <string.h>
#include "chatjournal/chatjournal.h"
#include "tools/cli.h"

static const cli_help help = {
	"stats", "STORE [--json]",
	"Show the journal's figures: events, last sequence number, blobs, blob\n"
	"bytes, idempotency keys, LMDB map size, map in use, map ceiling and\n"
	"data file size. The store is opened read-only.\n\n"
	"Options:\n"
	"  --json    print one JSON object with the keys events, last_seq, blobs,\n"
	"            blob_bytes, idempotency_keys, map_size, map_used,\n"
	"            map_ceiling, file_size (integers; sizes in bytes)\n"
};

static int print_json(const cj_journal_stats *st)
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

static void print_text(const char *path, const cj_journal_stats *st)
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
}

int cmd_stats(int argc, char **argv)
{
	int json = 0;
	const cli_opt opts[] = { { "--json", NULL, &json, NULL } };
	const char *pos[1];
	size_t npos;
	int rc = cli_parse(&help, argc, argv, opts, 1, pos, 1, 1, &npos);
	if (rc != CLI_CONTINUE)
		return rc;

	cj_store_options o = CJ_STORE_OPTIONS_INIT;
	o.read_only = 1;
	cj_store *s = NULL;
	rc = cj_store_open(&s, pos[0], &o);
	if (rc != 0)
		return cli_fail_lib("stats", rc, "cannot open store '%s'", pos[0]);
	cj_journal_stats st;
	memset(&st, 0, sizeof st);
	rc = cj_journal_stats_get(s, &st);
	if (rc != 0) {
		cli_fail_lib("stats", rc, "%s", pos[0]);
		cj_store_close(s);
		return CLI_EXIT_FAIL;
	}
	cj_store_close(s);
	if (json)
		return print_json(&st) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
	print_text(pos[0], &st);
	return CLI_EXIT_OK;
}
