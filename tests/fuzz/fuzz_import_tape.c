/* tests/fuzz/fuzz_import_tape.c — libFuzzer harness for the importers'
 * strict JSON reader (import/tape.c), against jansson: whatever the tape
 * takes, jansson (json_loadb with JSON_REJECT_DUPLICATES, as the scanner
 * parses elements) must accept too, as an object with the same members,
 * elements, types and strings. The tape may refuse what jansson accepts
 * (the importer then parses with jansson), never the other way round. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../import/tape.h"

static void same(const tape *t, const tj_node *n, const json_t *j)
{
	int ok = 0;
	switch (n->type) {
	case TJ_OBJECT: {
		size_t count = 0;
		ok = json_is_object(j);
		for (const tj_node *c = tape_child(t, n); ok && c; c = tape_next(t, c), count++) {
			const json_t *v = json_object_get(j, c->key);
			if (!v || tape_get(t, n, c->key) != c) {
				ok = 0;
				break;
			}
			same(t, c, v);
		}
		ok = ok && count == json_object_size(j);
		break;
	}
	case TJ_ARRAY: {
		size_t i = 0;
		ok = json_is_array(j);
		for (const tj_node *c = tape_child(t, n); ok && c; c = tape_next(t, c), i++) {
			if (i >= json_array_size(j)) {
				ok = 0;
				break;
			}
			same(t, c, json_array_get(j, i));
		}
		ok = ok && i == json_array_size(j);
		break;
	}
	case TJ_STRING:
		ok = json_is_string(j) && json_string_length(j) == strlen(n->str) &&
		     strcmp(json_string_value(j), n->str) == 0 && tape_str(n) == n->str;
		break;
	case TJ_NUMBER: ok = json_is_number(j); break;
	case TJ_TRUE: ok = json_is_true(j); break;
	case TJ_FALSE: ok = json_is_false(j); break;
	case TJ_NULL: ok = json_is_null(j); break;
	}
	if (!ok) {
		fprintf(stderr, "fuzz_import_tape: the tape and jansson differ (node type %d)\n",
		        n->type);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tape t;
	tape_init(&t);
	if (tape_read(&t, (const char *)data, size)) {
		json_error_t e;
		json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
		                       &e);
		if (!j) {
			fprintf(stderr, "fuzz_import_tape: the tape took what jansson refuses: %s\n",
			        e.text);
			abort();
		}
		same(&t, &t.nodes[0], j);
		json_decref(j);
	}
	/* twice on one tape: nothing of the first read leaks into the second */
	if (size > 1 && tape_read(&t, (const char *)data + 1, size - 1)) {
		json_t *j = json_loadb((const char *)data + 1, size - 1,
		                       JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
		if (!j)
			abort();
		same(&t, &t.nodes[0], j);
		json_decref(j);
	}
	tape_free(&t);
	return 0;
}
