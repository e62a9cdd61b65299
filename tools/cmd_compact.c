/* tools/cmd_compact.c — `chatjournal compact STORE [--json] [--dry-run]`:
 * deletions that delete (cj_compact, chatjournal/compact.h). Safe next to a
 * running `serve`: appends go on, pausing only for the journal's swap, and
 * the serving process scrubs the projection when it sees the swap. */
#include <stdio.h>
#include "chatjournal/chatjournal.h"
#include "cli.h"

static const cli_help help = {
	"compact", "STORE [--json] [--dry-run]",
	"Erase what deletions removed (docs/operations.md, \"Compaction\"): every\n"
	"journal record whose content a delete_thread, clear_history or purge\n"
	"removed becomes a tombstone (sequence, type, ids and time kept; content,\n"
	"prompts, analyses, metadata gone), every sensitive setting loses its\n"
	"value, blobs that only deleted images named are deleted, the journal is\n"
	"rewritten by a compacting copy and swapped in atomically, and the\n"
	"projection is scrubbed (FTS5 optimize, VACUUM, WAL emptied).\n\n"
	"It runs next to 'chatjournal serve' and other writers: appends wait only\n"
	"while the journal is copied and swapped. When another process (serve)\n"
	"materializes the store, that process scrubs the projection as soon as it\n"
	"sees the swap. Backups taken before keep what they hold.\n\n"
	"Prints what was redacted: records by type and their bytes, blobs\n"
	"deleted, the journal's and the projection's size before and after.\n\n"
	"Options:\n"
	"  --json      print one JSON object instead\n"
	"  --dry-run   count what would be redacted and change nothing\n"
};

static void progress_cb(uint64_t done, uint64_t total, void *arg)
{
	cli_progress_cb(done, total, arg);
}

static int print_json(const cj_compact_report *r, int dry_run)
{
	json_t *o = json_object();
	if (o) {
		json_object_set_new(o, "dry_run", json_boolean(dry_run));
		json_object_set_new(o, "position", cli_json_u64(r->position));
		json_object_set_new(o, "records", cli_json_u64(r->messages + r->images + r->settings +
		                                                    r->edits));
		json_object_set_new(o, "messages", cli_json_u64(r->messages));
		json_object_set_new(o, "images", cli_json_u64(r->images));
		json_object_set_new(o, "settings", cli_json_u64(r->settings));
		json_object_set_new(o, "edits", cli_json_u64(r->edits));
		json_object_set_new(o, "record_bytes_before", cli_json_u64(r->record_bytes_before));
		json_object_set_new(o, "record_bytes_after", cli_json_u64(r->record_bytes_after));
		json_object_set_new(o, "blobs", cli_json_u64(r->blobs));
		json_object_set_new(o, "blob_bytes", cli_json_u64(r->blob_bytes));
		json_object_set_new(o, "damaged", cli_json_u64(r->damaged));
		json_object_set_new(o, "file_before", cli_json_u64(r->file_before));
		json_object_set_new(o, "file_after", cli_json_u64(r->file_after));
		json_object_set_new(o, "projection_before", cli_json_u64(r->projection_before));
		json_object_set_new(o, "projection_after", cli_json_u64(r->projection_after));
		json_object_set_new(o, "projection_scrubbed", json_boolean(r->projection_scrubbed));
		json_object_set_new(o, "pause_ms", cli_json_u64(r->pause_ms));
		json_object_set_new(o, "seconds", json_real(r->seconds));
	}
	return cli_print_json("compact", o) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static void print_text(const char *store, const cj_compact_report *r, int dry_run)
{
	char a[64], b[64];
	uint64_t n = r->messages + r->images + r->settings + r->edits;
	printf("%s %s (position %llu)\n", dry_run ? "would compact" : "compacted", store,
	       (unsigned long long)r->position);
	cli_format_bytes(r->record_bytes_before, a);
	cli_format_bytes(r->record_bytes_after, b);
	if (dry_run)
		printf("records     %llu would be redacted (%llu messages, %llu images, %llu settings, "
		       "%llu edits; %s)\n", (unsigned long long)n, (unsigned long long)r->messages,
		       (unsigned long long)r->images, (unsigned long long)r->settings,
		       (unsigned long long)r->edits, a);
	else
		printf("records     %llu redacted (%llu messages, %llu images, %llu settings, %llu edits; "
		       "%s -> %s)\n", (unsigned long long)n, (unsigned long long)r->messages,
		       (unsigned long long)r->images, (unsigned long long)r->settings,
		       (unsigned long long)r->edits, a, b);
	cli_format_bytes(r->blob_bytes, a);
	printf("blobs       %llu %s (%s)\n", (unsigned long long)r->blobs,
	       dry_run ? "would be deleted" : "deleted", a);
	if (r->damaged)
		printf("damaged     %llu unreadable records left as they are\n",
		       (unsigned long long)r->damaged);
	if (dry_run)
		return;
	cli_format_bytes(r->file_before, a);
	cli_format_bytes(r->file_after, b);
	printf("journal     %s -> %s (appends paused %llu ms)\n", a, b, (unsigned long long)r->pause_ms);
	cli_format_bytes(r->projection_before, a);
	cli_format_bytes(r->projection_after, b);
	printf("projection  %s -> %s (%s)\n", a, b, r->projection_scrubbed ? "scrubbed" :
	       "the materializing process scrubs it when it sees the swap");
}

int cmd_compact(int argc, char **argv)
{
	int json = 0, dry_run = 0;
	const cli_opt opts[] = { { "--json", NULL, &json, NULL }, { "--dry-run", NULL, &dry_run, NULL } };
	const char *pos[1];
	size_t npos;
	int rc = cli_parse(&help, argc, argv, opts, 2, pos, 1, 1, &npos);
	if (rc != CLI_CONTINUE)
		return rc;
	cj_store *s;
	if (cli_open_store("compact", pos[0], dry_run, &s) != 0)
		return CLI_EXIT_FAIL;
	cli_progress bar;
	cli_progress_begin_count(&bar, "compact", 0, "records");
	cj_compact_options o = CJ_COMPACT_OPTIONS_INIT;
	o.dry_run = dry_run;
	o.progress = progress_cb;
	o.progress_arg = &bar;
	cj_compact_report r;
	rc = cj_compact(&r, s, &o);
	cli_progress_end(&bar);
	if (rc != 0) {
		cli_fail_lib("compact", rc, "%s", pos[0]);
		cj_store_close(s);
		return CLI_EXIT_FAIL;
	}
	cj_store_close(s);
	if (json)
		return print_json(&r, dry_run);
	print_text(pos[0], &r, dry_run);
	return CLI_EXIT_OK;
}
