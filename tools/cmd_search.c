/* tools/cmd_search.c — `chatjournal search STORE QUERY`: full-text search of
 * the projection (FTS5), newest first. User text is never FTS5 syntax: the
 * library quotes every word. Read-only, like history. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "chatjournal/chatjournal.h"
#include "cli.h"

static const cli_help help = {
	"search", "STORE QUERY [--thread T] [--user U] [--server S] [--limit N] [--images]\n"
	"       [--rank recent|relevance] [--json]",
	"Search the messages of STORE (or, with --images, image prompts and\n"
	"analyses) for QUERY, newest first (or best first: --rank relevance), one\n"
	"line per match:\n"
	"\"SEQ  TS  THREAD  ROLE  USER: CONTENT\".\n\n"
	"Every word of QUERY must match. Words are searched as plain text: FTS5\n"
	"operators (OR, NEAR, col:, parentheses, quotes) have no special meaning.\n"
	"A word ending in '*' is a prefix search (light* finds lighthouse). A\n"
	"QUERY starting with '-' goes after '--'. Empty text, text without any\n"
	"searchable word, invalid UTF-8 or text over the limit fail (exit 1).\n\n"
	"The store is opened read-only; see 'chatjournal history --help' about\n"
	"projection lag.\n\n"
	"Options:\n"
	"  --thread T   only in thread T\n"
	"  --user U     only messages of user U (with --images: threads U wrote in)\n"
	"  --server S   only on server S\n"
	"  --limit N    at most N results (1 to 1000, default 20)\n"
	"  --images     search images (prompt, analysis) instead of messages\n"
	"  --rank R     recent (default): newest first; relevance: BM25, best first,\n"
	"               among the newest 2000 matches in scope, themselves among the\n"
	"               newest 10000 matches of the store (a bounded cost)\n"
	"  --json       print the JSON array of results, as GET /v1/search does\n"
};

int cmd_search(int argc, char **argv)
{
	int json = 0;
	const char *limit_s = NULL, *rank = NULL;
	cj_search_query q = CJ_SEARCH_QUERY_INIT;
	const cli_opt opts[] = {
		{ "--thread", "T", NULL, &q.thread },
		{ "--user", "U", NULL, &q.user },
		{ "--server", "S", NULL, &q.server },
		{ "--limit", "N", NULL, &limit_s },
		{ "--images", NULL, &q.images, NULL },
		{ "--rank", "R", NULL, &rank },
		{ "--json", NULL, &json, NULL },
	};
	const char *pos[2];
	size_t npos;
	int rc = cli_parse(&help, argc, argv, opts, sizeof opts / sizeof opts[0], pos, 2, 2, &npos);
	if (rc != CLI_CONTINUE)
		return rc;
	if ((rc = cli_parse_limit(&help, limit_s, &q.limit)) != CLI_CONTINUE)
		return rc;
	q.text = pos[1];
	if (rank && strcmp(rank, "recent") && strcmp(rank, "relevance"))
		return cli_usage_error(&help, "--rank must be recent or relevance, not '%s'", rank);
	q.rank = rank && !strcmp(rank, "relevance") ? CJ_RANK_RELEVANCE : CJ_RANK_RECENT;

	cj_store *s;
	if (cli_open_store("search", pos[0], 1, &s) != 0)
		return CLI_EXIT_FAIL;
	char *out = NULL;
	rc = cj_query_search(&out, s, &q);
	if (rc != 0) {
		/* The text is the user's: the message says what is wrong with it. */
		cli_fail("search", "%s", cli_error_text(rc));
		cj_store_close(s);
		return CLI_EXIT_FAIL;
	}
	return cli_finish_rows("search", s, out, json, 1);
}
