/* bench/sink.h — `bench sink` (sink.c). */
#ifndef CJB_SINK_H
#define CJB_SINK_H

/* argv[1] is "sink"; returns the exit code. */
int cjb_sink_main(int argc, char **argv);

#endif
