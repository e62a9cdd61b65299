#include "import_internal.h"
int fmt_discord(imp *m, const char *path) { (void)path; return imp_fail(m, CJ_EINVAL, "discord: not yet"); }
