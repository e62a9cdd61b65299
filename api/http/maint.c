/* api/http/maint.c — each served store's housekeeping (retention,
 * compaction, scheduled backups: chatjournal/maintenance.h) on a thread of
 * its own. The schedule acts only in the process that materializes the
 * store, so several servers of one store never both compact or back up. Its
 * lines join the request log as JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <jansson.h>
#include "service.h"

static void log_line(void *arg, const char *line)
{
	cjh_store *st = arg;
	json_t *o = json_pack("{s:s,s:s}", "maintenance", st->name, "message", line);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (text)
		cjh_log_line(st->sv, text);
	free(text);
	json_decref(o);
}

void cjh_maintenance_start(cjh_server *sv)
{
	if (sv->o.no_maintenance)
		return;
	for (size_t i = 0; i < sv->nstores; i++) {
		cjh_store *st = &sv->stores[i];
		st->sv = sv;
		cj_maintenance_options mo = CJ_MAINTENANCE_OPTIONS_INIT;
		mo.backup_every_ms = sv->o.backup_every_ms;
		mo.backup_dir = sv->o.backup_dir;
		mo.log = log_line;
		mo.log_arg = st;
		int rc = cj_maintenance_new(&st->maint, st->s, &mo);
		if (!rc && (rc = cj_maintenance_start(st->maint)) != 0) {
			cj_maintenance_free(st->maint);
			st->maint = NULL;
		}
		if (rc) {
			char line[700];
			snprintf(line, sizeof line, "no housekeeping for this store: %s", cj_error_last());
			log_line(st, line);
		}
	}
}
