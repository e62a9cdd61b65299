/* api/http/body.c — POST /v1/events bodies. Nesting depth is checked on the
 * raw bytes before jansson parses anything (jansson's own cap is 2048 levels,
 * far more than a chat event needs and a cheap way to burn CPU). */
#include "body.h"

unsigned cjh_json_depth(const char *p, size_t n, unsigned cap)
{
	unsigned d = 0, max = 0;
	int in_str = 0;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
		} else if (c == '"') {
			in_str = 1;
		} else if (c == '[' || c == '{') {
			if (++d > max && (max = d) > cap)
				return max;
		} else if ((c == ']' || c == '}') && d > 0) {
			d--;
		}
	}
	return max;
}

int cjh_parse_events(const char *body, size_t len, const cj_limits *lim, unsigned max_depth,
                     unsigned max_batch, cj_event ***evs, size_t *n, int *is_array, long *bad_index)
{
	*evs = NULL;
	*n = 0;
	*is_array = 0;
	*bad_index = -1;
	if (len == 0)
		return cj_error_set(CJ_EINVAL, NULL, "request body is empty: send one event object or an array");
	if (cjh_json_depth(body, len, max_depth) > max_depth)
		return cj_error_set(CJ_EINVAL, NULL, "request body nests deeper than %u levels", max_depth);
	return cj_event_parse_many(evs, n, is_array, bad_index, body, len, lim, max_batch);
}
