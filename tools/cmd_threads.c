/* tools/cmd_threads.c — `chatjournal threads STORE`: threads by last
 * activity, newest first (all, or a user's, on a server), paged with the
 * cursor the previous page printed. Read-only, like history. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "chatjournal/chatjournal.h"
#include "cli.h"

static const cli_help help = {
	"threads", "STORE [--user U] [--server S] [--limit N] [--after CURSOR] [--json]",
	"List the threads of STORE by last activity, newest first, one per line:\n"
	"\"LAST_ACTIVITY  THREAD  MESSAGES  TITLE\" (control characters escaped).\n"
	"The title is the one a thread event set, else the start of the thread's\n"
	"first user message.\n\n"
	"When more threads follow, a note on stderr gives the option for the next\n"
	"page: \"next page: --after CURSOR\" (with --json too; the JSON stays a plain\n"
	"array, as GET /v1/threads answers).\n\n"
	"The store is opened read-only; see 'chatjournal history --help' about\n"
	"projection lag.\n\n"
	"Options:\n"
	"  --user U        only threads U wrote in, by U's own last activity there\n"
	"                  (each with user_message_count)\n"
	"  --server S      only threads on server S\n"
	"  --limit N       at most N threads (1 to 1000, default 50)\n"
	"  --after CURSOR  the page after the one that printed CURSOR\n"
	"  --json          print the JSON array of thread objects, as GET /v1/threads does\n"
};

static void print_threads(const char *json)
{
	json_t *arr = json_loads(json, 0, NULL);
	size_t i;
	json_t *t;
	json_array_foreach(arr, i, t) {
		const char *last = json_string_value(json_object_get(t, "last_activity"));
		const char *title = json_string_value(json_object_get(t, "title"));
		json_int_t n = json_integer_value(json_object_get(t, "message_count"));
		printf("%s  ", last ? last : "-");
		cli_put_oneline(stdout, json_string_value(json_object_get(t, "thread")));
		printf("  %lld  ", (long long)n);
		cli_put_oneline(stdout, title ? title : "-");
		fputc('\n', stdout);
	}
	json_decref(arr);
}

int cmd_threads(int argc, char **argv)
{
	int json = 0;
	const char *limit_s = NULL;
	cj_threads_query q = CJ_THREADS_QUERY_INIT;
	const cli_opt opts[] = {
		{ "--user", "U", NULL, &q.user },
		{ "--server", "S", NULL, &q.server },
		{ "--limit", "N", NULL, &limit_s },
		{ "--after", "CURSOR", NULL, &q.after },
		{ "--json", NULL, &json, NULL },
	};
	const char *pos[1];
	size_t npos;
	int rc = cli_parse(&help, argc, argv, opts, sizeof opts / sizeof opts[0], pos, 1, 1, &npos);
	if (rc != CLI_CONTINUE)
		return rc;
	if ((rc = cli_parse_limit(&help, limit_s, &q.limit)) != CLI_CONTINUE)
		return rc;
	cj_store *s;
	if (cli_open_store("threads", pos[0], 1, &s) != 0)
		return CLI_EXIT_FAIL;
	char *out = NULL;
	cj_page page;
	rc = cj_query_threads(&out, &page, s, &q);
	if (rc != 0) {
		cli_fail("threads", "%s", cli_error_text(rc));
		cj_store_close(s);
		return CLI_EXIT_FAIL;
	}
	if (json) {
		fputs(out, stdout);
		fputc('\n', stdout);
	} else {
		print_threads(out);
	}
	if (page.more)
		fprintf(stderr, "chatjournal: threads: next page: --after %s\n", page.cursor);
	cj_free(out);
	cj_store_close(s);
	return CLI_EXIT_OK;
}
