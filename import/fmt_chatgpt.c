#include "import_internal.h"
int fmt_chatgpt(imp *m, const char *path) { (void)path; return imp_fail(m, CJ_EINVAL, "chatgpt: not yet"); }
