/* tools/cmd_history.c — `chatjournal history STORE THREAD`: a thread's
 * messages from the projection; `history STORE --user U [--server S]`: a
 * user's conversation across threads. The store is opened read-only: a second
 * materializer must never start beside a running server, so what is shown
 * is the projection as of its last materialization (a note says so). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "chatjournal/chatjournal.h"
#include "cli.h"

static const cli_help help = {
	"history", "STORE THREAD [--limit N] [--before SEQ] [--after SEQ] [--user U] [--server S] [--json]\n"
	"       chatjournal history STORE --user U [--server S] [--limit N] [--before SEQ] [--after SEQ] [--json]",
	"Print the messages of THREAD from the store's projection (chat.sqlite),\n"
	"oldest first, one per line: \"SEQ  TS  ROLE  USER: CONTENT\" (\"-\" when the\n"
	"message has no user; control characters in the text are escaped, so a\n"
	"message is always one line).\n\n"
	"Without THREAD, --user U prints U's conversation across threads (the\n"
	"messages whose user is U, on server S or on every server), oldest first,\n"
	"with the thread on each line: \"SEQ  TS  THREAD  ROLE  USER: CONTENT\";\n"
	"paged the same way.\n\n"
	"The store is opened read-only, so this is safe next to a running server.\n"
	"Read-only commands show the projection as of its last materialization:\n"
	"when it lags behind the journal, a note on stderr gives the lag (text\n"
	"output only). 'chatjournal serve' (or any read-write open) catches it up.\n\n"
	"Options:\n"
	"  --limit N     at most N messages (1 to 1000, default 50): the last N,\n"
	"                or the first N after --after\n"
	"  --before SEQ  only messages with a sequence number below SEQ (older pages)\n"
	"  --after SEQ   only messages with a sequence number above SEQ (newer pages);\n"
	"                --after 0 is the oldest page\n"
	"  --user U      only messages of user U (without THREAD: U's conversation)\n"
	"  --server S    only messages on server S\n"
	"  --json        print the JSON array of messages (the event's field names\n"
	"                plus seq, ts_ms, ts), as GET /v1/threads/T/messages (or\n"
	"                GET /v1/users/U/messages) does\n"
};

int cmd_history(int argc, char **argv)
{
	int json = 0;
	const char *limit_s = NULL, *before_s = NULL, *after_s = NULL;
	cj_history_query q = CJ_HISTORY_QUERY_INIT;
	const cli_opt opts[] = {
		{ "--limit", "N", NULL, &limit_s },
		{ "--before", "SEQ", NULL, &before_s },
		{ "--after", "SEQ", NULL, &after_s },
		{ "--user", "U", NULL, &q.user },
		{ "--server", "S", NULL, &q.server },
		{ "--json", NULL, &json, NULL },
	};
	const char *pos[2];
	size_t npos;
	int rc = cli_parse(&help, argc, argv, opts, sizeof opts / sizeof opts[0], pos, 1, 2, &npos);
	if (rc != CLI_CONTINUE)
		return rc;
	if ((rc = cli_parse_limit(&help, limit_s, &q.limit)) != CLI_CONTINUE)
		return rc;
	if (before_s && (rc = cli_parse_u64(&help, "--before", before_s, 1, INT64_MAX,
	                                    &q.before)) != CLI_CONTINUE)
		return rc;
	if (after_s && (rc = cli_parse_u64(&help, "--after", after_s, 0, INT64_MAX,
	                                   &q.after)) != CLI_CONTINUE)
		return rc;
	/* --after 0 is the oldest page, as after=0 is over HTTP */
	q.forward = after_s != NULL;
	q.thread = npos > 1 ? pos[1] : NULL;
	if (q.thread && !*q.thread)
		return cli_usage_error(&help, "THREAD must not be empty");
	if (!q.thread && (!q.user || !*q.user))
		return cli_usage_error(&help, "give THREAD, or --user U for a user's conversation");

	cj_store *s;
	if (cli_open_store("history", pos[0], 1, &s) != 0)
		return CLI_EXIT_FAIL;
	char *out = NULL;
	if (q.thread) {
		rc = cj_query_history(&out, s, &q);
	} else {
		cj_user_messages_query uq = CJ_USER_MESSAGES_QUERY_INIT;
		uq.user = q.user;
		uq.server = q.server;
		uq.limit = q.limit;
		uq.before = q.before;
		uq.after = q.after;
		uq.forward = q.forward;
		rc = cj_query_user_messages(&out, NULL, s, &uq);
	}
	if (rc != 0) {
		cli_fail_lib("history", rc, "%s", pos[0]);
		cj_store_close(s);
		return CLI_EXIT_FAIL;
	}
	return cli_finish_rows("history", s, out, json, q.thread == NULL);
}
