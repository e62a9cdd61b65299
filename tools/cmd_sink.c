/* tools/cmd_sink.c — `chatjournal sink postgres|verify STORE --dsn DSN`:
 * the PostgreSQL sink (chatjournal/sink.h) as a long-running command, and
 * the comparison of its rows with the store's own projection. */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "chatjournal/chatjournal.h"
#include "chatjournal/sink.h"
#include "cli.h"

static const cli_help help_postgres = {
	"sink postgres", "STORE --dsn DSN [--store-id NAME] [--once] [--batch N] [--load copy|insert]\n"
	"                    [--give-up DURATION]",
	"Project the store's journal into PostgreSQL, exactly once: the rows of\n"
	"each batch and the position they reach commit in one PostgreSQL\n"
	"transaction, so the sink can be killed, and PostgreSQL restarted, at any\n"
	"moment without losing or doubling anything. Tables mirror the SQLite\n"
	"projection in the PostgreSQL schema \"chatjournal\", with store_id in every\n"
	"key, so the sinks of many hosts share one database (docs/scale-out.md).\n"
	"The sink creates and migrates that schema itself.\n\n"
	"It follows the journal (new events are applied within milliseconds) until\n"
	"SIGINT or SIGTERM; while PostgreSQL is unreachable it retries with\n"
	"backoff (0.1 s to 5 s). State changes are logged on stderr. An event type\n"
	"this sink does not know, a damaged journal record or a row PostgreSQL\n"
	"refuses stops it with an error naming the record (exit 1).\n\n"
	"Options:\n"
	"  --dsn DSN         libpq connection string or URI (required), e.g.\n"
	"                    'host=/run/postgresql dbname=chat' or postgresql://u@h/db\n"
	"  --store-id NAME   the store's name in PostgreSQL (default HOST:FOLDER)\n"
	"  --once            catch up to the journal's end as it is now, then exit\n"
	"                    (gives up after 60 s without PostgreSQL)\n"
	"  --batch N         most events per transaction (default 5000)\n"
	"  --load copy|insert  how one-row-per-event tables are loaded (default copy)\n"
	"  --give-up DURATION  exit 1 after PostgreSQL was unreachable this long\n"
	"                    (default: never; with --once 60s)\n"
};

static const cli_help help_verify = {
	"sink verify", "STORE --dsn DSN [--store-id NAME]",
	"Compare the store id's rows in PostgreSQL with the store's own SQLite\n"
	"projection, table by table (canonical rows: text keys, JSON and times in\n"
	"canonical text; FTS indexes left out). Both must be at the same position:\n"
	"stop the writers, run 'chatjournal sink postgres STORE --once' first.\n"
	"Prints one line per table (rows, hash); exit 0 when equal, 1 otherwise.\n\n"
	"Options:\n"
	"  --dsn DSN         libpq connection string or URI (required)\n"
	"  --store-id NAME   as given to 'sink postgres' (default HOST:FOLDER)\n"
};

static const cli_help help_sink = {
	"sink", "postgres|verify STORE --dsn DSN ...",
	"The PostgreSQL sink. Subcommands:\n"
	"  postgres   project the store's journal into PostgreSQL (chatjournal sink postgres --help)\n"
	"  verify     compare PostgreSQL's rows with the store's projection\n"
};

static cj_sink *volatile running;

static void on_signal(int sig)
{
	(void)sig;
	if (running)
		cj_sink_stop(running);
}

static void log_line(void *arg, const char *line)
{
	(void)arg;
	char when[32];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	cj_time_format(when, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	fprintf(stderr, "%s %s\n", when, line);
}

static int run_postgres(int argc, char **argv)
{
	const char *dsn = NULL, *store_id = NULL, *batch = NULL, *load = NULL, *give_up = NULL, *pos[1];
	int once = 0;
	size_t npos;
	cli_opt opts[] = {
		{ "--dsn", "DSN", NULL, &dsn }, { "--store-id", "NAME", NULL, &store_id },
		{ "--once", NULL, &once, NULL }, { "--batch", "N", NULL, &batch },
		{ "--load", "copy|insert", NULL, &load }, { "--give-up", "DURATION", NULL, &give_up },
	};
	int rc = cli_parse(&help_postgres, argc, argv, opts, 6, pos, 1, 1, &npos);
	if (rc != CLI_CONTINUE)
		return rc;
	if (!dsn)
		return cli_usage_error(&help_postgres, "--dsn is required");
	cj_sink_options o = CJ_SINK_OPTIONS_INIT;
	o.dsn = dsn;
	o.store_id = store_id;
	o.log = log_line;
	if (batch) {
		uint64_t n;
		if ((rc = cli_parse_u64(&help_postgres, "--batch", batch, 1, 1000000, &n)) != CLI_CONTINUE)
			return rc;
		o.batch_max = (unsigned)n;
	}
	if (load && strcmp(load, "copy") && strcmp(load, "insert"))
		return cli_usage_error(&help_postgres, "--load must be copy or insert");
	o.load = load && !strcmp(load, "insert") ? CJ_SINK_LOAD_INSERT : CJ_SINK_LOAD_COPY;
	if (once)
		o.give_up_ms = 60000;
	if (give_up) {
		int64_t ms;
		if (cj_duration_parse(&ms, give_up) != 0 || ms <= 0 || ms > INT32_MAX)
			return cli_usage_error(&help_postgres, "--give-up: '%s' is not a duration like 30s or 5m",
			                       give_up);
		o.give_up_ms = (int)ms;
	}
	/* The crash test's negative control (tests/sink/test_sink.py) only. */
	const char *split = getenv("CJ_SINK_TEST_SPLIT_POSITION");
	o.test_split_position = split && !strcmp(split, "1");
	cj_store *s;
	if ((rc = cli_open_store("sink", pos[0], 1, &s)))
		return rc;
	cj_sink *k;
	if ((rc = cj_sink_open(&k, s, &o))) {
		cj_store_close(s);
		return cli_fail_lib("sink", rc, NULL);
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	running = k;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rc = cj_sink_run(k, once);
	running = NULL;
	uint64_t at = 0;
	cj_sink_position(&at, k);
	int out = CLI_EXIT_OK;
	if (rc)
		out = cli_fail_lib("sink", rc, NULL);
	else
		fprintf(stderr, "sink %s: %s at position %llu\n", cj_sink_store_id(k),
		        once ? "caught up" : "stopped", (unsigned long long)at);
	cj_sink_close(k);
	cj_store_close(s);
	return out;
}

static int run_verify(int argc, char **argv)
{
	const char *dsn = NULL, *store_id = NULL, *pos[1];
	size_t npos;
	cli_opt opts[] = { { "--dsn", "DSN", NULL, &dsn }, { "--store-id", "NAME", NULL, &store_id } };
	int rc = cli_parse(&help_verify, argc, argv, opts, 2, pos, 1, 1, &npos);
	if (rc != CLI_CONTINUE)
		return rc;
	if (!dsn)
		return cli_usage_error(&help_verify, "--dsn is required");
	char sq[4200];
	if ((rc = cli_projection_path("sink", pos[0], sq, sizeof sq)))
		return rc;
	cj_sink_options o = CJ_SINK_OPTIONS_INIT;
	o.dsn = dsn;
	o.store_id = store_id;
	cj_store *s;
	if ((rc = cli_open_store("sink", pos[0], 1, &s)))
		return rc;
	cj_sink *k = NULL;
	char *report = NULL;
	if ((rc = cj_sink_open(&k, s, &o)) == 0)
		rc = cj_sink_compare(&report, k, sq);
	if (report)
		fputs(report, stdout);
	cj_free(report);
	int out = rc ? cli_fail_lib("sink", rc, NULL) : CLI_EXIT_OK;
	cj_sink_close(k);
	cj_store_close(s);
	return out;
}

int cmd_sink(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "postgres"))
		return run_postgres(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "verify"))
		return run_verify(argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		cli_print_help(&help_sink, stdout);
		return CLI_EXIT_OK;
	}
	return cli_usage_error(&help_sink, argc >= 2 ? "unknown subcommand '%s'" : "a subcommand is "
	                       "required%s", argc >= 2 ? argv[1] : "");
}
