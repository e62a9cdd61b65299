/* api/http/tokens.h — the tokens file of a store (STORE/tokens.json, 0600):
 * loading for the server and the add/list/revoke operations. */
#ifndef CJ_HTTP_TOKENS_H
#define CJ_HTTP_TOKENS_H

#include <stddef.h>

#define CJH_TOKENS_FILE "tokens.json"
#define CJH_TOKEN_ID_LEN 16

typedef struct cjh_token {
	char id[CJH_TOKEN_ID_LEN + 1];
	char hash[65];     /* SHA-256 of the whole token, hex */
	int write;
	int store;         /* index of the store it grants */
} cjh_token;

/* Append the live (not revoked) tokens of the store's file to *toks. A
 * missing file is an empty list. */
int cjh_tokens_load(const char *store_path, int store_index, cjh_token **toks, size_t *n);

/* Check "cjt_<id>_<secret>" against toks (constant-time hash compare).
 * Returns the token or NULL. */
const cjh_token *cjh_token_check(const cjh_token *toks, size_t n, const char *token);

#endif
