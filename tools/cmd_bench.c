/* tools/cmd_bench.c — `chatjournal bench ...`: hands the arguments to the
 * benchmark driver in bench/ (argv[0] is "bench"). Builds without bench/
 * still answer, so the command table and docs never lie about the command. */
#include <string.h>
#include "cli.h"

#ifdef CJ_HAVE_BENCH
#include "bench.h"

int cmd_bench(int argc, char **argv)
{
	return cj_bench_main(argc, argv);
}

#else

static const cli_help help = {
	"bench", "append|materialize|query|http [--json]",
	"Run benchmarks. This build of chatjournal has no benchmarks\n"
	"(bench/ was not built).\n"
};

int cmd_bench(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			cli_print_help(&help, stdout);
			return CLI_EXIT_OK;
		}
	}
	return cli_fail("bench", "bench not built");
}

#endif
