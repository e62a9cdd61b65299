/* common/merge_patch.c — JSON Merge Patch, RFC 7396 section 2, written as the
 * RFC's pseudocode reads:
 *
 *   define MergePatch(Target, Patch):
 *     if Patch is an Object:
 *       if Target is not an Object:
 *         Target = {} # Ignore the contents and set it to an empty Object
 *       for each Name/Value pair in Patch:
 *         if Value is null:
 *           if Name exists in Target:
 *             remove the Name/Value pair from Target
 *         else:
 *           Target[Name] = MergePatch(Target[Name], Value)
 *       return Target
 *     else:
 *       return Patch
 *
 * tests/unit/test_merge_patch.c runs every example of the RFC's Appendix A. */
#include <stdlib.h>
#include "chatjournal/event.h"
#include "common/merge_patch.h"
#include "common/err.h"

json_t *cji_merge_patch(json_t *target, const json_t *patch)
{
	if (!json_is_object(patch)) {
		json_decref(target);
		return json_deep_copy(patch);
	}
	if (!json_is_object(target)) {
		json_decref(target);
		if (!(target = json_object()))
			return NULL;
	}
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)patch, k, v) {
		if (json_is_null(v)) {
			json_object_del(target, k);
			continue;
		}
		json_t *cur = json_object_get(target, k);
		json_t *merged = cji_merge_patch(cur ? json_incref(cur) : NULL, v);
		if (!merged || json_object_set_new(target, k, merged) != 0) {
			json_decref(target);
			return NULL;
		}
	}
	return target;
}

/* The public form (chatjournal/event.h): texts in, canonical text out. */
int cj_json_merge_patch(char **out, const char *target, const char *patch)
{
	*out = NULL;
	json_error_t e;
	json_t *t = NULL, *p = patch ? json_loads(patch, JSON_DECODE_ANY, &e) : NULL;
	if (!p)
		return cji_err(CJ_EINVAL, "merge patch: the patch is not JSON%s%s", patch ? ": " : "",
		               patch ? e.text : " (NULL)");
	if (target && !(t = json_loads(target, JSON_DECODE_ANY, &e))) {
		json_decref(p);
		return cji_err(CJ_EINVAL, "merge patch: the target is not JSON: %s", e.text);
	}
	json_t *r = cji_merge_patch(t, p);
	json_decref(p);
	char *text = r ? json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
	json_decref(r);
	if (!text)
		return cji_err(CJ_ENOMEM, "merge patch: out of memory");
	/* cj_free releases with free(): jansson's allocator is the default. */
	*out = text;
	return 0;
}
