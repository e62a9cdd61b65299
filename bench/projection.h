/* bench/projection.h — `bench materialize` and `bench query` (projection.c). */
#ifndef CJB_PROJECTION_H
#define CJB_PROJECTION_H

/* argv[1] is "materialize" or "query"; returns the exit code. */
int cjb_projection_main(int argc, char **argv);

#endif
