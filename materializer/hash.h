/* materializer/hash.h — the state hash of a projection in the shape of
 * another (cj_projection_hash, chatjournal/query.h, is the plain one). */
#ifndef CJ_MATERIALIZER_HASH_H
#define CJ_MATERIALIZER_HASH_H

/* The canonical state hash of sqlite_path over only the tables and columns
 * that the projection at shape_path has (an older schema: its tables hash
 * as they do there; tables it lacks are left out). Equal to
 * cj_projection_hash when both files have the same schema. Used to compare
 * a backup of an older schema with a replay by this build. */
int cji_projection_hash_like(char hex_out[33], const char *sqlite_path, const char *shape_path);

#endif
