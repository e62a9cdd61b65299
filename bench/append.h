/* bench/append.h — `chatjournal bench append`: chatjournal's durable append
 * paths against the seed designs' SQLite way and raw LMDB, in one run, on
 * the same disk (method: bench/README.md). */
#ifndef CJB_APPEND_H
#define CJB_APPEND_H

#include <stdint.h>
#include <stdio.h>

typedef struct cjb_config {
	double seconds;          /* time bound per measurement; 0: none */
	uint64_t events;         /* event bound per measurement; 0: none */
	int json;
	int quick;
	unsigned rounds;         /* each measurement runs this many times, interleaved */
	const char *dir;         /* base for the scratch directory; NULL: $TMPDIR or /tmp */
	const char *only;        /* comma-separated measurement names; NULL: all */
} cjb_config;

/* Run the append benchmark and print its report. Returns the exit code:
 * 0, 1 (a measurement failed, or no scratch directory), 2 (bad --only). */
int cjb_append_main(const cjb_config *cfg);

/* Print the measurement names, one per line (for --help). */
void cjb_append_list(FILE *f);

#endif
