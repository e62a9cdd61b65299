/* bench/http.h — `bench http` (http.c). */
#ifndef CJB_HTTP_H
#define CJB_HTTP_H

/* argv[1] is "http"; returns the exit code. */
int cjb_http_main(int argc, char **argv);

#endif
