/* bench/bench_driver.c — `cj-bench`, a stand-alone driver for the benchmarks
 * (same as `chatjournal bench`), handy under perf without the full CLI:
 *   cj-bench append --only sync_32 --seconds 10 */
#include "bench.h"

int main(int argc, char **argv)
{
	/* cj_bench_main expects argv[0] to be the command word "bench". */
	char bench[] = "bench";
	if (argc > 0)
		argv[0] = bench;
	return cj_bench_main(argc, argv);
}
