/* api/health.c — is a store keeping its promises right now? Three causes
 * make it degraded: a damaged projection (seen at open or by a query), a
 * materializer stopped on an error, and a projection that lags without
 * moving (no process is materializing). The reason is a sentence fit for an
 * unauthenticated /healthz (no store, path or figure); the detail, for
 * operators, carries the error itself. */
#include <stdio.h>
#include <string.h>
#include "chatjournal/query.h"
#include "api/store_internal.h"
#include "common/err.h"

int cj_store_health(cj_health *out, cj_store *s)
{
	memset(out, 0, sizeof *out);
	if (!s)
		return cji_err(CJ_EINVAL, "health: no store");
	int rc = cji_journal_last_seq(&out->last_seq, &s->journal);
	if (rc) {
		snprintf(out->reason, sizeof out->reason, "the journal cannot be read");
		snprintf(out->detail, sizeof out->detail, "%s", cj_error_last());
		cj_error_clear();
		return 0;
	}
	out->ok = 1;
	if (s->mat) {
		cji_mat_state st;
		cji_mat_status(&st, s->mat);
		out->position = st.position;
		out->materializing = st.active;
		out->still_ms = st.still_ms;
		out->lag = out->last_seq > st.position ? out->last_seq - st.position : 0;
		if (st.error[0]) {
			out->ok = 0;
			snprintf(out->reason, sizeof out->reason, "the materializer stopped on an error");
			snprintf(out->detail, sizeof out->detail, "%s", st.error);
		} else if (out->lag > 0 && st.still_ms >= CJ_HEALTH_STALL_MS) {
			out->ok = 0;
			snprintf(out->reason, sizeof out->reason,
			         "the projection lags and is not advancing: no process is materializing");
			snprintf(out->detail, sizeof out->detail,
			         "position %llu, journal at %llu, no progress for %llu ms",
			         (unsigned long long)st.position, (unsigned long long)out->last_seq,
			         (unsigned long long)st.still_ms);
		}
	} else if ((rc = cj_projection_position(&out->position, s)) == 0) {
		out->lag = out->last_seq > out->position ? out->last_seq - out->position : 0;
	} else {
		cj_error_clear();
	}
	pthread_mutex_lock(&s->health_mu);
	if (s->projection_damaged) {
		out->ok = 0;
		snprintf(out->reason, sizeof out->reason,
		         "the projection is damaged: run 'chatjournal replay'");
		snprintf(out->detail, sizeof out->detail, "%s", s->damage);
	}
	pthread_mutex_unlock(&s->health_mu);
	return 0;
}
