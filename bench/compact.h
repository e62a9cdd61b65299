/* bench/compact.h — `bench compact` (compact.c). */
#ifndef CJB_COMPACT_H
#define CJB_COMPACT_H

/* argv[1] is "compact"; returns the exit code. */
int cjb_compact_main(int argc, char **argv);

#endif
