/* bench/cli.c — `chatjournal bench <name> [options]`: picks the benchmark,
 * parses its options and maps the outcome to the CLI's exit codes
 * (0 success, 1 failure, 2 usage error). */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "args.h"
#include "projection.h"
#include "compact.h"
#include "sink.h"
#include "http.h"
#include "feed.h"
#include "backup.h"
#include "import.h"
#include "append.h"
#include "bench.h"
#include "harness.h"

/* Defaults: 11 measurements x 5 rounds x 1 s (plus setup, 1-2 minutes). Many
 * short rounds rather than few long ones: the median then shrugs off a slow
 * spell of the shared disk. */
#define DEFAULT_SECONDS 1.0
#define DEFAULT_ROUNDS 5
#define QUICK_SECONDS 0.3
#define QUICK_ROUNDS 1

static const char usage_line[] =
	"usage: chatjournal bench append [--json] [--quick] [--seconds S] [--events N]\n"
	"                                [--rounds R] [--only NAME,...] [--dir DIR]\n"
	"       chatjournal bench materialize|query [--events N] [--quick] [--json]\n"
	"       chatjournal bench http [--threads N] [--seconds S] [--quick] [--json]\n"
	"       chatjournal bench feed [--consumers N] [--events E] [--threads T] [--seconds S]\n"
	"                              [--rounds R] [--quick] [--json]\n"
	"       chatjournal bench compact [--events N] [--rounds R] [--quick] [--json] [--dir DIR]\n"
	"       chatjournal bench backup [--events N] [--rounds R] [--seconds S] [--writers W]\n"
	"                                [--quick] [--json] [--dir DIR]\n"
	"       chatjournal bench sink --dsn DSN [--events N] [--rate R] [--seconds S] [--quick] [--json]\n"
	"       chatjournal bench import [--events N] [--rounds R] [--quick] [--json] [--dir DIR]\n";

static void usage(FILE *f)
{
	fputs(usage_line, f);
	fprintf(f,
	        "\n"
	        "Measures durable appends against baselines run in the same process, on the\n"
	        "same disk: the seed designs' SQLite way and raw LMDB. Method: bench/README.md.\n"
	        "\n"
	        "  --json        print one JSON object with every figure and ratio\n"
	        "  --quick       %d round of %.1f s per measurement (CI smoke run) instead of\n"
	        "                %d rounds of %.1f s\n"
	        "  --seconds S   time bound per measurement and round\n"
	        "  --events N    event bound per measurement and round; alone, it lifts the\n"
	        "                time bound\n"
	        "  --rounds R    run every measurement R times, interleaved; figures are\n"
	        "                medians over rounds, ratios medians of per-round ratios\n"
	        "  --only LIST   run only these measurements (ratios needing others print n/a)\n"
	        "  --dir DIR     make the scratch directory under DIR (default $TMPDIR or /tmp);\n"
	        "                it must be on the disk you want measured, not tmpfs\n"
	        "  --help        this text\n"
	        "\n"
	        "measurements:\n",
	        QUICK_ROUNDS, QUICK_SECONDS, DEFAULT_ROUNDS, DEFAULT_SECONDS);
	cjb_append_list(f);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "chatjournal: bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n%s", usage_line);
	va_end(ap);
	return 2;
}

/* After a value refused with its own message (args.h): the usage line. */
static int usage_again(void)
{
	fputs(usage_line, stderr);
	return 2;
}

/* The value of option opt: "--opt=V" or "--opt V" (advancing *i). NULL if
 * argv[*i] is not opt; *missing set if opt has no value. */
static const char *opt_value(int argc, char **argv, int *i, const char *opt, int *missing)
{
	size_t n = strlen(opt);
	if (strncmp(argv[*i], opt, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*missing = 1;
		return NULL;
	}
	return argv[++*i];
}

/* One option of `bench append`; 0, 1 for --help, or 2 (usage error, printed). */
static int parse_one(int argc, char **argv, int *i, cjb_config *cfg, int *seconds_set)
{
	const char *a = argv[*i], *v;
	int missing = 0;
	if (strcmp(a, "--json") == 0)
		cfg->json = 1;
	else if (strcmp(a, "--quick") == 0)
		cfg->quick = 1;
	else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
		return 1;
	else if ((v = opt_value(argc, argv, i, "--seconds", &missing))) {
		if (cjb_arg_seconds(&cfg->seconds, "append", "--seconds", v, 3600))
			return usage_again();
		*seconds_set = 1;
	} else if ((v = opt_value(argc, argv, i, "--events", &missing))) {
		if (cjb_arg_count(&cfg->events, "append", "--events", v, UINT64_C(1) << 40))
			return usage_again();
	} else if ((v = opt_value(argc, argv, i, "--rounds", &missing))) {
		if (cjb_arg_uint(&cfg->rounds, "append", "--rounds", v, CJB_MAX_ROUNDS))
			return usage_again();
	} else if ((v = opt_value(argc, argv, i, "--dir", &missing)))
		cfg->dir = v;
	else if ((v = opt_value(argc, argv, i, "--only", &missing)))
		cfg->only = v;
	else if (missing)
		return usage_error("option %s needs a value", a);
	else
		return usage_error("unknown option '%s'", a);
	return missing ? usage_error("option %s needs a value", a) : 0;
}

static int bench_append(int argc, char **argv)
{
	cjb_config cfg = { 0 };
	int seconds_set = 0;
	for (int i = 2; i < argc; i++) {
		int rc = parse_one(argc, argv, &i, &cfg, &seconds_set);
		if (rc == 1) {
			usage(stdout);
			return 0;
		}
		if (rc != 0)
			return rc;
	}
	/* --events alone means "exactly N events": no time bound unless asked. */
	if (!seconds_set && !cfg.events)
		cfg.seconds = cfg.quick ? QUICK_SECONDS : DEFAULT_SECONDS;
	if (!cfg.rounds)
		cfg.rounds = cfg.quick ? QUICK_ROUNDS : DEFAULT_ROUNDS;
	return cjb_append_main(&cfg);
}

int cj_bench_main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *name = argv[1];
	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(name, "append") == 0)
		return bench_append(argc, argv);
	if (strcmp(name, "materialize") == 0 || strcmp(name, "query") == 0)
		return cjb_projection_main(argc, argv);
	if (strcmp(name, "http") == 0)
		return cjb_http_main(argc, argv);
	if (strcmp(name, "feed") == 0)
		return cjb_feed_main(argc, argv);
	if (strcmp(name, "compact") == 0)
		return cjb_compact_main(argc, argv);
	if (strcmp(name, "backup") == 0)
		return cjb_backup_main(argc, argv);
	if (strcmp(name, "sink") == 0)
		return cjb_sink_main(argc, argv);
	if (strcmp(name, "import") == 0)
		return cjb_import_main(argc, argv);
	return usage_error("unknown benchmark '%s' (append, materialize, query, http, feed, compact, backup, sink, import)", name);
}
