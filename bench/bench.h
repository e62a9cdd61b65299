/* bench/bench.h — entry point of `chatjournal bench`, linked into the
 * chatjournal program (tools/cmd_bench.c) and into the local cj-bench driver.
 * Benchmarks print figures with their baselines measured in the same run. */
#ifndef CJ_BENCH_H
#define CJ_BENCH_H

/* Run one benchmark. argv[0] is "bench", argv[1] the benchmark name
 * ("append"; "materialize", "query" and "http" are announced but not built
 * yet), then its options (see --help). Prints to stdout, errors to stderr.
 * Returns the process exit code: 0 success, 1 failure, 2 usage error. */
int cj_bench_main(int argc, char **argv);

#endif
