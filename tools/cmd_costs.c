/* tools/cmd_costs.c — `chatjournal costs STORE`: what the messages that
 * carried a `cost` add up to, by day, model and thread. Read-only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "chatjournal/chatjournal.h"
#include "cli.h"

static const cli_help help = {
	"costs", "STORE [--user U] [--thread T] [--from TIME] [--to TIME] [--json]",
	"Sum the costs of the messages that carried one (a message event's\n"
	"\"cost\": model, input_tokens, output_tokens, usd): the total, then one\n"
	"line per day (UTC), per model and per thread (the 100 costliest):\n"
	"\"KEY  MESSAGES  INPUT_TOKENS  OUTPUT_TOKENS  USD\".\n\n"
	"Options:\n"
	"  --user U       only costs of user U's messages\n"
	"  --thread T     only costs in thread T\n"
	"  --from TIME    messages at or after TIME (RFC 3339, or ms since the epoch)\n"
	"  --to TIME      messages before TIME\n"
	"  --json         print the JSON object, as GET /v1/costs does\n"
};

static int parse_time(const char *opt, const char *text, int64_t *out)
{
	if (!text)
		return CLI_CONTINUE;
	char *end;
	long long v = strtoll(text, &end, 10);
	if (*text >= '0' && *text <= '9' && !*end && v >= 0) {
		*out = v;
		return CLI_CONTINUE;
	}
	if (cj_time_parse(out, text) == 0)
		return CLI_CONTINUE;
	return cli_usage_error(&help, "%s must be an RFC 3339 time or milliseconds, not '%s'", opt, text);
}

static void print_group(json_t *o, const char *key, const char *label)
{
	const char *k = key ? json_string_value(json_object_get(o, key)) : label;
	cli_put_oneline(stdout, k ? k : "-");
	printf("  %lld  %lld  %lld  %.6f\n",
	       (long long)json_integer_value(json_object_get(o, "messages")),
	       (long long)json_integer_value(json_object_get(o, "input_tokens")),
	       (long long)json_integer_value(json_object_get(o, "output_tokens")),
	       json_number_value(json_object_get(o, "usd")));
}

int cmd_costs(int argc, char **argv)
{
	int json = 0;
	const char *from = NULL, *to = NULL;
	cj_costs_query q = CJ_COSTS_QUERY_INIT;
	const cli_opt opts[] = {
		{ "--user", "U", NULL, &q.user },
		{ "--thread", "T", NULL, &q.thread },
		{ "--from", "TIME", NULL, &from },
		{ "--to", "TIME", NULL, &to },
		{ "--json", NULL, &json, NULL },
	};
	const char *pos[1];
	size_t npos;
	int rc = cli_parse(&help, argc, argv, opts, sizeof opts / sizeof opts[0], pos, 1, 1, &npos);
	if (rc != CLI_CONTINUE)
		return rc;
	if ((rc = parse_time("--from", from, &q.from_ms)) != CLI_CONTINUE ||
	    (rc = parse_time("--to", to, &q.to_ms)) != CLI_CONTINUE)
		return rc;
	cj_store *s;
	if (cli_open_store("costs", pos[0], 1, &s) != 0)
		return CLI_EXIT_FAIL;
	char *out = NULL;
	rc = cj_query_costs(&out, s, &q);
	cj_store_close(s);
	if (rc != 0)
		return cli_fail("costs", "%s", cli_error_text(rc));
	if (json) {
		puts(out);
	} else {
		json_t *o = json_loads(out, 0, NULL);
		print_group(json_object_get(o, "total"), NULL, "total");
		static const char *const parts[][2] = { { "by_day", "day" }, { "by_model", "model" },
		                                        { "by_thread", "thread" } };
		for (size_t p = 0; p < 3; p++) {
			size_t i;
			json_t *g;
			printf("%s:\n", parts[p][0]);
			json_array_foreach(json_object_get(o, parts[p][0]), i, g) {
				fputs("  ", stdout);
				print_group(g, parts[p][1], NULL);
			}
		}
		json_decref(o);
	}
	cj_free(out);
	return CLI_EXIT_OK;
}
