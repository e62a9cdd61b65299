/* tools/cmd_purge.c — `chatjournal purge STORE --older-than DURATION|TIME
 * [--thread T | --user U [--server S]] [--kinds LIST] [--dry-run] [--json]`:
 * append a purge event (cj_purge), or only count what it would remove. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "chatjournal/chatjournal.h"
#include "cli.h"

static const cli_help help = {
	"purge", "STORE --older-than DURATION|TIME [--thread T | --user U] [--server S]\n"
	"       [--kinds messages,images,metrics] [--dry-run] [--json]",
	"Remove old data: append a purge event, which the projection applies like\n"
	"any event (a replay reproduces it). Everything older than the cut goes:\n"
	"messages (with their costs), images, and metrics, store-wide; --thread,\n"
	"--user and --server narrow it (a user's messages only: images have no\n"
	"user; metrics have no scope, so a scoped purge keeps them); --kinds picks\n"
	"what goes. The purged text stays in the journal file until 'chatjournal\n"
	"compact' redacts it.\n\n"
	"Prints what goes, counted on the projection just before (at its position:\n"
	"a lagging projection counts less), and the purge's sequence number.\n\n"
	"Options:\n"
	"  --older-than D|T  a duration before now (90d, 12h, 30m, 2w) or an\n"
	"                    RFC 3339 time (2026-01-01T00:00:00Z)\n"
	"  --thread T        only this thread\n"
	"  --user U          only this user's messages\n"
	"  --server S        only this server (with --user: that user there)\n"
	"  --kinds LIST      comma-separated: messages, images, metrics (default all)\n"
	"  --dry-run         count what would go; append nothing\n"
	"  --json            print {\"seq\", \"before\", \"messages\", \"images\",\n"
	"                    \"metrics\", \"dry_run\"}\n"
};

static int parse_kinds(const char *list, unsigned *out)
{
	*out = 0;
	char buf[128];
	if (snprintf(buf, sizeof buf, "%s", list) >= (int)sizeof buf)
		return -1;
	for (char *save = NULL, *k = strtok_r(buf, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
		if (!strcmp(k, "messages"))
			*out |= CJ_PURGE_MESSAGES;
		else if (!strcmp(k, "images"))
			*out |= CJ_PURGE_IMAGES;
		else if (!strcmp(k, "metrics"))
			*out |= CJ_PURGE_METRICS;
		else
			return -1;
	}
	return *out ? 0 : -1;
}

/* "90d" (before now) or an RFC 3339 time. */
static int parse_cut(const char *text, int64_t *before)
{
	int64_t d;
	if (cj_duration_parse(&d, text) == 0) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		*before = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 - d;
		return 0;
	}
	return cj_time_parse(before, text);
}

static int print(const cj_purge_report *r, int64_t before, int dry, int json)
{
	char when[32];
	cj_time_format(when, before);
	if (json) {
		json_t *o = json_object();
		if (o) {
			json_object_set_new(o, "seq", dry ? json_null() : cli_json_u64(r->seq));
			json_object_set_new(o, "before", json_string(when));
			json_object_set_new(o, "messages", cli_json_u64(r->messages));
			json_object_set_new(o, "images", cli_json_u64(r->images));
			json_object_set_new(o, "metrics", cli_json_u64(r->metrics));
			json_object_set_new(o, "dry_run", json_boolean(dry));
		}
		return cli_print_json("purge", o) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
	}
	printf("%s %llu messages, %llu images, %llu metrics older than %s",
	       dry ? "would remove" : "removing", (unsigned long long)r->messages,
	       (unsigned long long)r->images, (unsigned long long)r->metrics, when);
	if (dry)
		printf(" (dry run: nothing appended)\n");
	else
		printf(" (purge event, sequence %llu)\n", (unsigned long long)r->seq);
	return CLI_EXIT_OK;
}

int cmd_purge(int argc, char **argv)
{
	const char *older = NULL, *kinds = NULL;
	int json = 0, dry = 0;
	cj_purge_options o = CJ_PURGE_OPTIONS_INIT;
	const cli_opt opts[] = {
		{ "--older-than", "DURATION|TIME", NULL, &older },
		{ "--thread", "T", NULL, &o.thread },
		{ "--user", "U", NULL, &o.user },
		{ "--server", "S", NULL, &o.server },
		{ "--kinds", "LIST", NULL, &kinds },
		{ "--dry-run", NULL, &dry, NULL },
		{ "--json", NULL, &json, NULL },
	};
	const char *pos[1];
	size_t npos;
	int rc = cli_parse(&help, argc, argv, opts, sizeof opts / sizeof opts[0], pos, 1, 1, &npos);
	if (rc != CLI_CONTINUE)
		return rc;
	if (!older)
		return cli_usage_error(&help, "--older-than is required (e.g. --older-than 90d)");
	if (o.thread && o.user)
		return cli_usage_error(&help, "--thread and --user cannot be combined");
	if (parse_cut(older, &o.before_ms) != 0)
		return cli_usage_error(&help, "--older-than: '%s' is neither a duration (90d, 12h) "
		                       "nor an RFC 3339 time", older);
	if (kinds && parse_kinds(kinds, &o.kinds) != 0)
		return cli_usage_error(&help, "--kinds: '%s': a comma-separated list of messages, "
		                       "images, metrics", kinds);
	o.dry_run = dry;
	cj_store *s;
	if (cli_open_store("purge", pos[0], dry, &s) != 0)
		return CLI_EXIT_FAIL;
	cj_purge_report r;
	rc = cj_purge(&r, s, &o);
	if (rc != 0) {
		cj_store_close(s);
		return cli_fail_lib("purge", rc, "%s", pos[0]);
	}
	int status = print(&r, o.before_ms, dry, json);
	cj_store_close(s);
	return status;
}
