/* tools/cmd_token.c — `chatjournal token add|list|revoke STORE`: the access
 * tokens of `chatjournal serve`, kept per store in STORE/tokens.json as
 * SHA-256 only. `add` is the one place a token is ever shown; `list` never
 * shows a token or its hash. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "chatjournal/chatjournal.h"
#include "cli.h"

#define MAX_LABEL 200

static const cli_help help = {
	"token", "add|list|revoke STORE ...",
	"Manage the access tokens of 'chatjournal serve' for STORE. A token grants\n"
	"one store, read-only or read+write. Only its SHA-256 is kept, in\n"
	"STORE/tokens.json (mode 0600): the token itself is shown once, by 'add'.\n"
	"A running server reads the tokens at start: restart it after a change.\n\n"
	"  chatjournal token add STORE [--read-only] [--label L]\n"
	"      create a token and print it (and nothing else) on stdout\n"
	"  chatjournal token list STORE [--json]\n"
	"      id, access, creation time, label, revoked; never the token\n"
	"  chatjournal token revoke STORE ID\n"
	"      revoke a token by its id (the 16 hex digits after \"cjt_\", as\n"
	"      'list' shows them; the whole token is accepted too)\n\n"
	"Run 'chatjournal token SUBCOMMAND --help' for each one's options.\n"
};

static const cli_help help_add = {
	"token add", "STORE [--read-only] [--label L]",
	"Create an access token for STORE and print it on stdout, alone on one\n"
	"line. This is the only time it is shown: only its SHA-256 is stored.\n"
	"A running 'chatjournal serve' accepts it after a restart.\n\n"
	"Options:\n"
	"  --read-only   the token may read, not write (POST /v1/events and\n"
	"                PUT /v1/blobs answer 403); default: read+write\n"
	"  --label L     a note shown by 'token list' (at most 200 bytes of UTF-8)\n"
};

static const cli_help help_list = {
	"token list", "STORE [--json]",
	"List STORE's tokens, one per line: id, access (read or write), creation\n"
	"time, label, and \"revoked\" for revoked ones. Never the token or its hash.\n\n"
	"Options:\n"
	"  --json    print the JSON array of {id, access, label, created, revoked}\n"
};

static const cli_help help_revoke = {
	"token revoke", "STORE ID",
	"Revoke the token with this id (16 hex digits, as 'token list' shows;\n"
	"the whole token is accepted too). It stays listed, marked revoked.\n"
	"A running 'chatjournal serve' refuses it after a restart.\n"
};

static int token_add(int argc, char **argv)
{
	int read_only = 0;
	const char *label = NULL;
	const cli_opt opts[] = {
		{ "--read-only", NULL, &read_only, NULL },
		{ "--label", "L", NULL, &label },
	};
	const char *pos[1];
	size_t npos;
	int rc = cli_parse(&help_add, argc, argv, opts, 2, pos, 1, 1, &npos);
	if (rc != CLI_CONTINUE)
		return rc;
	if (label) {
		size_t len = strlen(label);
		if (len > MAX_LABEL)
			return cli_usage_error(&help_add, "label longer than %d bytes", MAX_LABEL);
		if (cj_utf8_check(label, len) != len)
			return cli_usage_error(&help_add, "label is not valid UTF-8");
	}
	char token[CJ_TOKEN_MAX];
	rc = cj_token_add(token, pos[0], !read_only, label);
	if (rc != 0)
		return cli_fail_lib("token", rc, NULL);
	printf("%s\n", token);
	memset(token, 0, sizeof token);
	if (isatty(STDERR_FILENO))
		fputs("chatjournal: token: shown only this once: store it now; a running server "
		      "accepts it after a restart\n", stderr);
	return CLI_EXIT_OK;
}

static void print_token_line(json_t *t)
{
	const char *id = json_string_value(json_object_get(t, "id"));
	const char *access = json_string_value(json_object_get(t, "access"));
	const char *created = json_string_value(json_object_get(t, "created"));
	const char *label = json_string_value(json_object_get(t, "label"));
	cli_put_oneline(stdout, id ? id : "-");
	fputs("  ", stdout);
	printf("%-5s  ", access ? access : "-");
	cli_put_oneline(stdout, created ? created : "-");
	fputs("  ", stdout);
	cli_put_oneline(stdout, label && *label ? label : "-");
	if (json_is_true(json_object_get(t, "revoked")))
		fputs("  revoked", stdout);
	fputc('\n', stdout);
}

static int token_list(int argc, char **argv)
{
	int json = 0;
	const cli_opt opts[] = { { "--json", NULL, &json, NULL } };
	const char *pos[1];
	size_t npos;
	int rc = cli_parse(&help_list, argc, argv, opts, 1, pos, 1, 1, &npos);
	if (rc != CLI_CONTINUE)
		return rc;
	char *out = NULL;
	rc = cj_token_list(&out, pos[0]);
	if (rc != 0)
		return cli_fail_lib("token", rc, NULL);
	if (json) {
		fputs(out, stdout);
		fputc('\n', stdout);
		cj_free(out);
		return CLI_EXIT_OK;
	}
	json_error_t e;
	json_t *arr = json_loads(out, 0, &e);
	cj_free(out);
	if (!json_is_array(arr)) {
		json_decref(arr);
		return cli_fail("token", "unexpected token list: %s", e.text);
	}
	size_t i;
	json_t *t;
	json_array_foreach(arr, i, t)
		print_token_line(t);
	json_decref(arr);
	return CLI_EXIT_OK;
}

static int token_revoke(int argc, char **argv)
{
	const char *pos[2];
	size_t npos;
	int rc = cli_parse(&help_revoke, argc, argv, NULL, 0, pos, 2, 2, &npos);
	if (rc != CLI_CONTINUE)
		return rc;
	/* "cjt_<16 hex id>_<secret>": the id is what the file keys on. */
	char id[17];
	const char *arg = pos[1];
	if (strncmp(arg, "cjt_", 4) == 0 && strlen(arg) > 4 + 16 && arg[4 + 16] == '_') {
		memcpy(id, arg + 4, 16);
		id[16] = '\0';
		arg = id;
	}
	rc = cj_token_revoke(pos[0], arg);
	if (rc != 0)
		return cli_fail_lib("token", rc, NULL);
	printf("revoked token %s\n", arg);
	return CLI_EXIT_OK;
}

int cmd_token(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error(&help, "missing subcommand (add, list or revoke)");
	const char *sub = argv[1];
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
		cli_print_help(&help, stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(sub, "add") == 0)
		return token_add(argc - 1, argv + 1);
	if (strcmp(sub, "list") == 0)
		return token_list(argc - 1, argv + 1);
	if (strcmp(sub, "revoke") == 0)
		return token_revoke(argc - 1, argv + 1);
	return cli_usage_error(&help, "unknown subcommand '%s' (add, list or revoke)", sub);
}
