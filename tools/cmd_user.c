/* tools/cmd_user.c — `chatjournal user STORE USER`: one user's profile,
 * time zone and counts. Read-only, like history. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "chatjournal/chatjournal.h"
#include "cli.h"

static const cli_help help = {
	"user", "STORE USER [--json]",
	"Print the profile of USER: one \"field: value\" line per field known\n"
	"(username, display_name, is_bot, avatar_url, timezone, tz_label,\n"
	"tz_offset, metadata, config, first_seen, last_seen, message_count,\n"
	"thread_count). An unknown user fails (exit 1).\n\n"
	"Options:\n"
	"  --json   print the JSON object, as GET /v1/users/USER does\n"
};

int cmd_user(int argc, char **argv)
{
	int json = 0;
	const cli_opt opts[] = { { "--json", NULL, &json, NULL } };
	const char *pos[2];
	size_t npos;
	int rc = cli_parse(&help, argc, argv, opts, 1, pos, 2, 2, &npos);
	if (rc != CLI_CONTINUE)
		return rc;
	if (!*pos[1])
		return cli_usage_error(&help, "USER must not be empty");
	cj_store *s;
	if (cli_open_store("user", pos[0], 1, &s) != 0)
		return CLI_EXIT_FAIL;
	char *out = NULL;
	rc = cj_query_user(&out, s, pos[1]);
	cj_store_close(s);
	if (rc != 0)
		return cli_fail("user", "%s", cli_error_text(rc));
	if (json) {
		puts(out);
	} else {
		json_t *o = json_loads(out, 0, NULL);
		const char *k;
		json_t *v;
		json_object_foreach(o, k, v) {
			if (!strcmp(k, "first_seen_ms") || !strcmp(k, "last_seen_ms"))
				continue;
			printf("%s: ", k);
			if (json_is_string(v)) {
				cli_put_oneline(stdout, json_string_value(v));
			} else {
				char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
				cli_put_oneline(stdout, t ? t : "?");
				free(t);
			}
			fputc('\n', stdout);
		}
		json_decref(o);
	}
	cj_free(out);
	return CLI_EXIT_OK;
}
