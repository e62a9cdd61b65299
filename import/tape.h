/* import/tape.h — a strict JSON reader that makes no jansson values: one
 * element's text becomes a tape of nodes in one array, its strings decoded
 * into one buffer, for a parser's common case (a Slack message) at a
 * fraction of the cost of a tree.
 *
 * It takes only what it reads exactly as jansson does (json_loadb with
 * JSON_REJECT_DUPLICATES): anything else is "not taken" (0) and the caller
 * parses the text with jansson, which decides and words the errors. Not
 * taken: any syntax error, "\u0000", a lone surrogate, a number with an
 * exponent or more than 18 digits (jansson may refuse it as too big), a
 * member name with an escape, nesting deeper than TAPE_DEPTH, an object
 * with more than TAPE_MEMBERS members. */
#ifndef CJ_IMPORT_TAPE_H
#define CJ_IMPORT_TAPE_H

#include <stddef.h>
#include <stdint.h>

#define TAPE_DEPTH 32
#define TAPE_MEMBERS 64

enum { TJ_OBJECT, TJ_ARRAY, TJ_STRING, TJ_NUMBER, TJ_TRUE, TJ_FALSE, TJ_NULL };

typedef struct tj_node {
	unsigned char type;
	uint32_t child;          /* first member or element (0: none) */
	uint32_t next;           /* next sibling (0: none) */
	const char *key;         /* a member's name (decoded, NUL-terminated) */
	const char *str;         /* a string's value (decoded, NUL-terminated) */
} tj_node;

typedef struct tape {
	tj_node *nodes;          /* nodes[0]: the element */
	size_t n, cap;
	char *buf;               /* decoded strings */
	size_t buf_cap, used;
} tape;

void tape_init(tape *t);
void tape_free(tape *t);
/* 1: text[0..len) is one JSON object, now in t; 0: not taken (or out of
 * memory): parse it with jansson. */
int tape_read(tape *t, const char *text, size_t len);
/* The member `key` of object node o, or NULL. */
const tj_node *tape_get(const tape *t, const tj_node *o, const char *key);
/* The first member or element of n, the next sibling of n; NULL at the end. */
const tj_node *tape_child(const tape *t, const tj_node *n);
const tj_node *tape_next(const tape *t, const tj_node *n);
/* A string node's value, else NULL. */
const char *tape_str(const tj_node *n);

#endif
