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
#include "common/merge_patch.h"

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
