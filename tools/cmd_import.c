/* tools/cmd_import.c — `chatjournal import STORE --format F PATH`: loads a
 * Slack, Discord, ChatGPT or JSONL export through libchatjournal-import
 * (chatjournal/import.h) and prints what became of it: counts per kind and
 * per file, and every skip reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "chatjournal/chatjournal.h"
#include "chatjournal/import.h"
#include "cli.h"

static const cli_help help = {
	"import", "STORE --format slack|discord|chatgpt|jsonl PATH [--server S] [--dry-run] "
	"[--sync] [--allow-skips] [--max-entry N] [--max-total N] [--json]",
	"Import chat history into STORE from PATH: a Slack export (folder or .zip),\n"
	"DiscordChatExporter JSON (a file or a folder of them), a ChatGPT\n"
	"conversations.json, or JSONL (one event per line, as 'append' takes it or\n"
	"as 'export --format jsonl' writes it). docs/import.md has the field maps.\n\n"
	"The whole source is read and validated first; nothing is appended unless\n"
	"that plan is clean. Ids come from the source, so importing again stores\n"
	"nothing new, and a newer export turns changed messages into edits.\n"
	"Every item is counted: imported, already present, or skipped with its\n"
	"reason. Exit status 1 when anything must be skipped (then nothing is\n"
	"imported) unless --allow-skips.\n\n"
	"Options:\n"
	"  --format F       slack, discord, chatgpt or jsonl (required)\n"
	"  --server S       the events' server (default: the source's own; give the\n"
	"                   same one every time)\n"
	"  --dry-run        plan only: print the counts, append nothing\n"
	"  --sync           also delete messages the source no longer has, within the\n"
	"                   threads and the time span it covers\n"
	"  --allow-skips    import the rest when some items must be skipped\n"
	"  --max-entry N    .zip: most bytes one entry may unpack to (default 1 GiB)\n"
	"  --max-total N    .zip: most bytes all entries may unpack to (default 16 GiB)\n"
	"  --json           print the report as JSON (docs/import.md)\n"
};

typedef struct progress_state {
	cli_progress bar;
	const char *phase;
} progress_state;

static void on_progress(void *arg, const char *phase, uint64_t done, uint64_t total)
{
	progress_state *p = arg;
	if (p->phase != phase && (!p->phase || strcmp(p->phase, phase) != 0)) {
		if (p->phase)
			cli_progress_end(&p->bar);
		p->phase = phase;
		cli_progress_begin(&p->bar, phase, total);
	}
	cli_progress_update(&p->bar, total && done > total ? total : done);
}

static unsigned long long ull(json_t *o, const char *k)
{
	return (unsigned long long)json_integer_value(json_object_get(o, k));
}

static void print_counts(const char *label, json_t *c)
{
	printf("  %-16s seen %llu, imported %llu, present %llu, skipped %llu\n", label,
	       ull(c, "seen"), ull(c, "imported"), ull(c, "present"), ull(c, "skipped"));
}

static void print_text(json_t *r, int dry_run)
{
	json_t *tot = json_object_get(r, "totals");
	int appended = json_is_true(json_object_get(r, "appended"));
	printf("%s %llu item%s: %llu imported, %llu already present, %llu skipped "
	       "(%llu edits, %llu deletes)\n", appended ? "import of" : dry_run ? "plan for" :
	       "nothing imported; plan for",
	       ull(tot, "seen"), ull(tot, "seen") == 1 ? "" : "s", ull(tot, "imported"),
	       ull(tot, "present"), ull(tot, "skipped"), ull(tot, "edits"), ull(tot, "deletes"));
	const char *k;
	json_t *v;
	printf("by kind:\n");
	json_object_foreach(json_object_get(r, "kinds"), k, v)
		print_counts(k, v);
	printf("by file:\n");
	size_t i;
	json_array_foreach(json_object_get(r, "files"), i, v) {
		printf("  %s\n", json_string_value(json_object_get(v, "file")));
		json_t *kv;
		json_object_foreach(json_object_get(v, "kinds"), k, kv)
			print_counts(k, kv);
	}
	json_t *reasons = json_object_get(r, "skip_reasons");
	if (json_array_size(reasons)) {
		printf("skipped:\n");
		json_array_foreach(reasons, i, v) {
			printf("  %llu x ", ull(v, "count"));
			cli_put_oneline(stdout, json_string_value(json_object_get(v, "reason")));
			printf("\n");
		}
		json_array_foreach(json_object_get(r, "skip_examples"), i, v) {
			printf("  at %s line %llu byte %llu (%s): ",
			       json_string_value(json_object_get(v, "file")), ull(v, "line"),
			       ull(v, "byte"), json_string_value(json_object_get(v, "kind")));
			cli_put_oneline(stdout, json_string_value(json_object_get(v, "reason")));
			printf("\n");
		}
	}
}

int cmd_import(int argc, char **argv)
{
	int json = 0, dry = 0, sync = 0, allow = 0;
	const char *format = NULL, *server = NULL, *max_entry = NULL, *max_total = NULL;
	const cli_opt opts[] = {
		{ "--format", "F", NULL, &format }, { "--server", "S", NULL, &server },
		{ "--dry-run", NULL, &dry, NULL }, { "--sync", NULL, &sync, NULL },
		{ "--allow-skips", NULL, &allow, NULL }, { "--json", NULL, &json, NULL },
		{ "--max-entry", "N", NULL, &max_entry }, { "--max-total", "N", NULL, &max_total },
	};
	const char *pos[2];
	size_t npos;
	int rc = cli_parse(&help, argc, argv, opts, sizeof opts / sizeof opts[0], pos, 2, 2, &npos);
	if (rc != CLI_CONTINUE)
		return rc;
	if (!format)
		return cli_usage_error(&help, "--format is required (slack, discord, chatgpt or jsonl)");
	cj_import_format f = cj_import_format_from_name(format);
	if (!f)
		return cli_usage_error(&help, "unknown --format '%s' (slack, discord, chatgpt or jsonl)",
		                       format);
	uint64_t cap_entry = 0, cap_total = 0;
	if (max_entry && (rc = cli_parse_u64(&help, "--max-entry", max_entry, 1, UINT64_MAX,
	                                     &cap_entry)) != CLI_CONTINUE)
		return rc;
	if (max_total && (rc = cli_parse_u64(&help, "--max-total", max_total, 1, UINT64_MAX,
	                                     &cap_total)) != CLI_CONTINUE)
		return rc;
	cj_store *s = NULL;
	if (cli_open_store("import", pos[0], 0, &s) != 0)
		return CLI_EXIT_FAIL;
	progress_state ps;
	memset(&ps, 0, sizeof ps);
	cj_import_options o = CJ_IMPORT_OPTIONS_INIT;
	o.format = f;
	o.path = pos[1];
	o.server = server;
	o.dry_run = dry;
	o.sync = sync;
	o.allow_skips = allow;
	o.max_entry = cap_entry;
	o.max_total = cap_total;
	o.progress = on_progress;
	o.progress_arg = &ps;
	cj_import_summary sum;
	char *report = NULL;
	rc = cj_import_run(&sum, &report, s, &o);
	char err[1200];
	snprintf(err, sizeof err, "%s", rc ? cli_error_text_after(rc, "import") : "");
	if (ps.phase)
		cli_progress_end(&ps.bar);
	int status = rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
	json_t *r = report ? json_loads(report, 0, NULL) : NULL;
	cj_free(report);
	if (r && json) {
		if (cli_print_json("import", json_incref(r)) != 0)
			status = CLI_EXIT_FAIL;
	} else if (r && (rc == 0 || json_is_true(json_object_get(r, "appended")) ||
	                 ull(json_object_get(r, "totals"), "skipped") > 0)) {
		/* a source refused outright prints its one-line error only */
		print_text(r, dry);
	}
	if (sum.retention_dropped)
		fprintf(stderr, "chatjournal: import: warning: %llu imported message%s older than "
		        "the store's retention.messages_days: its next retention run removes them\n",
		        (unsigned long long)sum.retention_dropped, sum.retention_dropped == 1 ? " is" :
		        "s are");
	json_decref(r);
	cj_store_close(s);
	if (rc != 0)
		cli_fail("import", "%s", err);
	return status;
}
