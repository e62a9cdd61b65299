/* bench/feed.h — `bench feed` (feed.c). */
#ifndef CJB_FEED_H
#define CJB_FEED_H

/* argv[1] is "feed"; returns the exit code. */
int cjb_feed_main(int argc, char **argv);

#endif
