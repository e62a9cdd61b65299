/* tools/cmd_restore.c — `chatjournal restore BACKUP DEST [--until SEQ|TIME]`:
 * a backup becomes a new store, whole or cut at a point in time. */
#include <stdio.h>
#include <string.h>
#include "chatjournal/chatjournal.h"
#include "cli.h"

static const cli_help help = {
	"restore", "BACKUP DEST [--until SEQ|TIME] [--without-tokens] [--skip-damaged] [--json]",
	"Restore the backup folder BACKUP as a new store DEST: a folder that does not\n"
	"exist yet (its parent must) or an empty one; anything else is refused.\n"
	"Every checksum is checked first: a damaged backup is refused, naming the\n"
	"file, and nothing is made. The store is built beside DEST under a temporary\n"
	"name and renamed into place: DEST is a whole store or untouched.\n\n"
	"Without --until the store gets the backup's journal and projection; the\n"
	"projection catches up with the journal at its first read-write open.\n"
	"'chatjournal verify DEST' passes and 'chatjournal serve' serves it at once.\n\n"
	"--until is point-in-time recovery: only events up to the cut survive, and\n"
	"the projection is rebuilt to match.\n"
	"  --until SEQ    keep the events 1..SEQ (at most the backup's last sequence)\n"
	"  --until TIME   an RFC 3339 time (2025-01-02T03:04:05Z, offsets allowed):\n"
	"                 keep every group commit up to the last one committed at or\n"
	"                 before TIME. Event \"ts\" values are the clients' and prove\n"
	"                 nothing; commit times do. Refused for a journal that records\n"
	"                 no commit time (written by chatjournal 0.1.0) and for a TIME\n"
	"                 before its first recorded commit: cut by SEQ then.\n\n"
	"Options:\n"
	"  --until SEQ|TIME   cut the journal (see above)\n"
	"  --without-tokens   leave the backup's access tokens out (after a restore of\n"
	"                     an old backup, tokens revoked since are valid again:\n"
	"                     review them with 'chatjournal token list')\n"
	"  --skip-damaged     with --until: rebuild the projection past journal records\n"
	"                     that cannot be read, as 'replay --skip-damaged' does\n"
	"  --json             print {dest, backup, last_seq, position, cut, tokens}\n"
};

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

int cmd_restore(int argc, char **argv)
{
	int json = 0, without_tokens = 0, skip_damaged = 0;
	const char *until = NULL;
	const cli_opt opts[] = {
		{ "--until", "SEQ|TIME", NULL, &until },
		{ "--without-tokens", NULL, &without_tokens, NULL },
		{ "--skip-damaged", NULL, &skip_damaged, NULL },
		{ "--json", NULL, &json, NULL },
	};
	const char *pos[2];
	size_t npos;
	int rc = cli_parse(&help, argc, argv, opts, 4, pos, 2, 2, &npos);
	if (rc != CLI_CONTINUE)
		return rc;
	cj_restore_options o = CJ_RESTORE_OPTIONS_INIT;
	o.without_tokens = without_tokens;
	o.skip_damaged = skip_damaged;
	if (until && all_digits(until)) {
		if ((rc = cli_parse_u64(&help, "--until", until, 1, INT64_MAX, &o.until_seq)) != CLI_CONTINUE)
			return rc;
	} else if (until) {
		if (cj_time_parse(&o.until_ms, until) != 0)
			return cli_usage_error(&help, "option '--until' needs a sequence number or an RFC 3339 "
			                       "time such as 2025-01-02T03:04:05Z, got '%s'", until);
		o.until_time = 1;
	}
	cli_progress bar;
	cli_progress_begin(&bar, "restore", 0);
	o.progress = cli_progress_cb;
	o.progress_arg = &bar;
	char *out = NULL;
	rc = cj_restore(&out, pos[0], pos[1], &o);
	cli_progress_end(&bar);
	if (rc != 0)
		return cli_fail_lib("restore", rc, NULL);
	json_t *r = json_loads(out, 0, NULL);
	cj_free(out);
	if (!r)
		return cli_fail("restore", "unexpected report");
	if (json)
		return cli_print_json("restore", r) ? CLI_EXIT_FAIL : CLI_EXIT_OK;
	long long last = (long long)json_integer_value(json_object_get(r, "last_seq"));
	long long position = (long long)json_integer_value(json_object_get(r, "position"));
	json_t *cut = json_object_get(r, "cut");
	printf("restored %s into %s: %lld event%s", pos[0], pos[1], last, last == 1 ? "" : "s");
	if (json_is_object(cut) && json_object_get(cut, "until"))
		printf(", cut after the group commit of %s (the last at or before %s)",
		       json_string_value(json_object_get(cut, "commit_time")),
		       json_string_value(json_object_get(cut, "until")));
	else if (json_is_object(cut))
		printf(", cut at sequence %lld", last);
	else if (position < last)
		printf("; the projection (at %lld) catches up at the first read-write open", position);
	fputc('\n', stdout);
	json_decref(r);
	return CLI_EXIT_OK;
}
