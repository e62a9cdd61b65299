/* tools/main.c — `chatjournal <command> [options]`: the git-style dispatcher.
 * It owns the command table, global --help/--version and the final check
 * that stdout was really written; each command lives in its cmd_<name>.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "chatjournal/chatjournal.h"
#include "cli.h"

int cmd_init(int argc, char **argv);
int cmd_append(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_threads(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_costs(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_vacuum(int argc, char **argv);
int cmd_compact(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_purge(int argc, char **argv);
int cmd_sink(int argc, char **argv);
int cmd_import(int argc, char **argv);

typedef struct command {
	const char *name;
	const char *summary;
	cli_run_fn run;
} command;

/* docs/product.md lists more commands (import, ...); they join this
 * table as their issues land, and docs/cli.md with them. */
static const command commands[] = {
	{ "init",    "create a new store",                                cmd_init },
	{ "append",  "append JSON events, one per line",                  cmd_append },
	{ "serve",   "run the HTTP/JSON service",                         cmd_serve },
	{ "history", "print a thread's messages",                         cmd_history },
	{ "search",  "full-text search of messages or images",            cmd_search },
	{ "threads", "list threads by last activity",                     cmd_threads },
	{ "user",    "print a user's profile",                            cmd_user },
	{ "costs",   "sum message costs by day, model and thread",        cmd_costs },
	{ "export",  "write a thread, a user or the store: jsonl, markdown, openai", cmd_export },
	{ "replay",  "rebuild the projection from the journal",           cmd_replay },
	{ "verify",  "check the journal, the projection and their state", cmd_verify },
	{ "vacuum",  "compact the projection",                            cmd_vacuum },
	{ "compact", "erase what deletions removed (journal and projection)", cmd_compact },
	{ "stats",   "show journal and projection figures",               cmd_stats },
	{ "purge",   "remove data older than a time (a purge event)",      cmd_purge },
	{ "token",   "add, list or revoke the server's access tokens",    cmd_token },
	{ "backup",  "take, list, prune or verify hot backups",           cmd_backup },
	{ "restore", "restore a backup as a new store, or up to a point", cmd_restore },
	{ "import",  "import a Slack, Discord, ChatGPT or JSONL export",  cmd_import },
	{ "sink",    "project the journal into PostgreSQL (sink postgres)", cmd_sink },
	{ "bench",   "run benchmarks (append, materialize, ...)",         cmd_bench },
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void print_usage(FILE *out)
{
	fputs("usage: chatjournal <command> [options]\n"
	      "       chatjournal help [COMMAND] | --help | --version\n\n"
	      "Commands:\n", out);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fputs("\nEvery command takes --help. Exit status: 0 success, 1 failure "
	      "(one line on stderr), 2 usage error.\n", out);
}

static int unknown_command(const char *name)
{
	fprintf(stderr, "chatjournal: unknown command '%s'\n", name);
	fputs("run 'chatjournal --help' for the list of commands\n", stderr);
	return CLI_EXIT_USAGE;
}

/* `chatjournal help [COMMAND]`: the command's own --help, so the text lives
 * in one place. */
static int run_help(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		print_usage(stdout);
		return CLI_EXIT_OK;
	}
	if (argc > 2) {
		fputs("chatjournal: help: too many arguments\n"
		      "usage: chatjournal help [COMMAND]\n", stderr);
		return CLI_EXIT_USAGE;
	}
	const command *c = find_command(argv[1]);
	if (!c)
		return unknown_command(argv[1]);
	char *sub[] = { argv[1], (char *)"--help", NULL };
	return c->run(2, sub);
}

/* A full disk or a closed pipe on stdout must not pass for success. */
static int finish(const char *name, int rc)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (rc == CLI_EXIT_OK)
			return cli_fail(name, "cannot write output: %s", strerror(errno));
	}
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		print_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	const char *name = argv[1];
	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
		return finish("help", run_help(1, argv + 1));
	if (strcmp(name, "help") == 0)
		return finish("help", run_help(argc - 1, argv + 1));
	if (strcmp(name, "--version") == 0) {
		printf("chatjournal %s\n", cj_version());
		return finish("version", CLI_EXIT_OK);
	}
	if (name[0] == '-') {
		fprintf(stderr, "chatjournal: unknown option '%s'\n", name);
		print_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	const command *c = find_command(name);
	if (!c)
		return unknown_command(name);
	return finish(c->name, c->run(argc - 1, argv + 1));
}
