/* chatjournal/token.h — access tokens of a store, for services built on the
 * library (`chatjournal serve`) and for operators (`chatjournal token`).
 *
 * Each store has its own tokens file, STORE/tokens.json (0600). A token
 * grants one store, read or read+write. Only a SHA-256 of each token is
 * stored; the token itself is shown once, by cj_token_add. Tokens look like
 * "cjt_<16 hex id>_<64 hex secret>"; the id names a token in lists, logs and
 * revocations, the secret never leaves the caller.
 */
#ifndef CHATJOURNAL_TOKEN_H
#define CHATJOURNAL_TOKEN_H

#include <stddef.h>
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CJ_TOKEN_MAX 96      /* buffer size for a token, NUL included */
#define CJ_TOKEN_ID_LEN 16   /* hex characters of a token's id */

/* Create a token for the store at store_path; token_out gets it (NUL
 * terminated), to show the user once. write: 1 read+write, 0 read-only.
 * label (may be NULL, UTF-8) is a note for `token list`.
 * Errors: CJ_ENOTFOUND (not a store), CJ_EINVAL (label not UTF-8), CJ_EIO. */
CJ_API int cj_token_add(char token_out[CJ_TOKEN_MAX], const char *store_path, int write,
                        const char *label);
/* The tokens as a JSON array of {id, access, label, created, revoked}
 * (never the hash or the token). Free with cj_free. */
CJ_API int cj_token_list(char **json_out, const char *store_path);
/* Revoke by id (the 16 hex characters after "cjt_"). CJ_ENOTFOUND if unknown.
 * A running token set (below) stops granting it within a second. */
CJ_API int cj_token_revoke(const char *store_path, const char *id);

/* The live tokens of one store, as a server checks them. The set follows the
 * tokens file: a token added or revoked (by another process too) takes effect
 * at the first check made at least CJ_TOKEN_SET_RECHECK_MS later.
 * Thread-safe. */
typedef struct cj_token_set cj_token_set;
#define CJ_TOKEN_SET_RECHECK_MS 250

typedef struct cj_token_grant {
	char id[CJ_TOKEN_ID_LEN + 1];
	int write;               /* 1 read+write, 0 read-only */
} cj_token_grant;

/* Load the store's tokens. Errors: CJ_ENOTFOUND (not a store), CJ_EINVAL
 * (malformed tokens file, the message names it). */
CJ_API int cj_token_set_open(cj_token_set **out, const char *store_path);
/* 1 and *grant filled if token is live in this set, 0 if not (unknown,
 * malformed or revoked); the comparison takes the same time whichever byte
 * differs. A tokens file that became unreadable keeps the last good set and
 * returns the error once. */
CJ_API int cj_token_set_check(cj_token_grant *grant, cj_token_set *set, const char *token);
CJ_API void cj_token_set_free(cj_token_set *set);

#ifdef __cplusplus
}
#endif
#endif
