/* journal/event_array.c — parsing a batch of events from one JSON text (one
 * parse of the whole array; each element wrapped and validated in place). */
#include <stdio.h>
#include <stdlib.h>
#include "journal/event_internal.h"
#include "common/err.h"
#include "journal/json_parse.h"

void cj_events_free(cj_event **evs, size_t n)
{
	if (!evs)
		return;
	for (size_t i = 0; i < n; i++)
		cj_event_free(evs[i]);
	free(evs);
}

/* Prefix the current error with the element index. */
static int at_index(int rc, size_t k)
{
	char msg[512], fld[64];
	snprintf(msg, sizeof msg, "%s", cj_error_last());
	const char *f = cj_error_field();
	if (!f)
		return cji_err(rc, "event %zu: %s", k, msg);
	snprintf(fld, sizeof fld, "%s", f);
	return cji_err_field(rc, fld, "event %zu: %s", k, msg);
}

int cj_event_parse_many(cj_event ***evs, size_t *n, int *is_array, long *bad_index,
                        const char *json, size_t len, const cj_limits *lim, size_t max_events)
{
	*evs = NULL;
	*n = 0;
	*is_array = 0;
	*bad_index = -1;
	if (!json)
		return cji_err(CJ_EINVAL, "no JSON text");
	json_t *root;
	int lrc = cji_json_load(&root, json, len, 0, NULL);
	if (lrc)
		return lrc;
	size_t count = 1;
	if (json_is_array(root)) {
		*is_array = 1;
		count = json_array_size(root);
		if (count == 0 || count > max_events) {
			json_decref(root);
			if (count == 0)
				return cji_err(CJ_EINVAL, "empty batch: send at least one event");
			return cji_err(CJ_ETOOBIG, "batch of %zu events is over the limit of %zu", count, max_events);
		}
	} else if (!json_is_object(root)) {
		json_decref(root);
		return cji_err(CJ_EINVAL, "the JSON value must be an event object or an array of them");
	}
	cj_event **list = calloc(count, sizeof *list);
	if (!list) {
		json_decref(root);
		return cji_err(CJ_ENOMEM, "out of memory");
	}
	int rc = 0;
	for (size_t k = 0; k < count && !rc; k++) {
		json_t *o = *is_array ? json_incref(json_array_get(root, k)) : json_incref(root);
		if (!json_is_object(o)) {
			json_decref(o);
			rc = cji_err(CJ_EINVAL, "event %zu: must be a JSON object", k);
		} else if ((rc = cji_event_wrap(&list[k], o)) == 0 && (rc = cj_event_validate(list[k], lim))) {
			rc = *is_array ? at_index(rc, k) : rc;
		}
		if (rc)
			*bad_index = (long)k;
	}
	json_decref(root);
	if (rc) {
		cj_events_free(list, count);
		return rc;
	}
	*evs = list;
	*n = count;
	return 0;
}
