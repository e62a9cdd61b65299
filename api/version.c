/* api/version.c — library version. */
#include "chatjournal/chatjournal.h"

const char *cj_version(void) { return CJ_VERSION_STRING; }
