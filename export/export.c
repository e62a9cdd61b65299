/* export/export.c — cj_export: the options checked (every error names its
 * field), then the format's walk writing through the output buffer
 * (out.c). */
#include <stdlib.h>
#include <string.h>
#include "export_internal.h"

static int check(const cj_export_options *o)
{
	if (!o)
		return cj_error_set(CJ_EINVAL, NULL, "export: no options");
	if (o->version != CJ_EXPORT_OPTIONS_VERSION)
		return cj_error_set(CJ_EINVAL, "version", "export options version %u, this build knows "
		                    "%u (use CJ_EXPORT_OPTIONS_INIT)", o->version, CJ_EXPORT_OPTIONS_VERSION);
	if (o->format != CJ_EXPORT_JSONL && o->format != CJ_EXPORT_MARKDOWN &&
	    o->format != CJ_EXPORT_OPENAI)
		return cj_error_set(CJ_EINVAL, "format", "export: unknown format %d", (int)o->format);
	if (!o->write)
		return cj_error_set(CJ_EINVAL, "write", "export: no write callback");
	int scopes = !!o->thread + !!o->user + !!o->all;
	if (scopes != 1)
		return cj_error_set(CJ_EINVAL, scopes ? "thread" : NULL, "export: give exactly one "
		                    "scope: a thread, a user, or all (%s)", scopes ? "got more" : "got none");
	if (o->server && !o->user)
		return cj_error_set(CJ_EINVAL, "server", "export: a server scopes a user's export only");
	const char *const named[][2] = { { "thread", o->thread }, { "user", o->user },
	                                 { "server", o->server } };
	for (size_t i = 0; i < 3; i++)
		if (named[i][1] && (!*named[i][1] || cj_utf8_check(named[i][1], strlen(named[i][1])) !=
		                    strlen(named[i][1])))
			return cj_error_set(CJ_EINVAL, named[i][0], "export: %s must be non-empty UTF-8",
			                    named[i][0]);
	return 0;
}

int cj_export(cj_export_stats *stats, cj_store *s, const cj_export_options *o)
{
	cj_export_stats st = { 0, 0, 0, 0 };
	if (stats)
		*stats = st;
	int rc = check(o);
	if (rc)
		return rc;
	if (!s)
		return cj_error_set(CJ_EINVAL, NULL, "export: no store");
	ex_out *w = malloc(sizeof *w);
	if (!w)
		return cj_error_set(CJ_ENOMEM, NULL, "export: out of memory");
	w->o = o;
	w->len = 0;
	w->rc = 0;
	rc = o->format == CJ_EXPORT_JSONL ? ex_jsonl(&st, s, o, w) : ex_conversations(&st, s, o, w);
	int frc = ex_flush(w);
	free(w);
	if (stats)
		*stats = st;
	return rc ? rc : frc;
}
