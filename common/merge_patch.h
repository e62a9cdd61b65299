/* common/merge_patch.h — JSON Merge Patch (RFC 7396, which replaced RFC 7386
 * with the same algorithm and the same examples): the one implementation,
 * used by the materializer for `config_patch` and by api/ for the effective
 * config (store defaults <- user config <- thread config). */
#ifndef CJ_COMMON_MERGE_PATCH_H
#define CJ_COMMON_MERGE_PATCH_H

#include <jansson.h>

/* Apply patch to target and return the result. Takes the reference to
 * target (which may be NULL: absent) and returns a new reference; patch is
 * only read. A patch that is not an object replaces the target whole; in an
 * object patch, null removes a member and any other value is merged in
 * recursively (arrays replace whole). NULL only on ENOMEM. Recursion is as
 * deep as the patch, which validation bounds (max_depth). */
json_t *cji_merge_patch(json_t *target, const json_t *patch);

#endif
