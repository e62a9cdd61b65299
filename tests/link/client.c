/* tests/link/client.c — a program built outside the tree against an
 * installed chatjournal, linked fully statically (test_static_link.sh): init
 * a store, append one event, print the version and its sequence number. */
#include <stdio.h>
#include <string.h>
#include <chatjournal/chatjournal.h>
int main(int argc, char **argv)
{
	if (argc != 2) return 2;
	if (cj_store_init(argv[1], NULL)) { fprintf(stderr, "init: %s\n", cj_error_last()); return 1; }
	cj_store *s;
	if (cj_store_open(&s, argv[1], NULL)) { fprintf(stderr, "open: %s\n", cj_error_last()); return 1; }
	cj_event *ev;
	const char *j = "{\"type\":\"message\",\"thread\":\"T\",\"role\":\"user\",\"content\":\"static hello\"}";
	uint64_t seq = 0;
	int rc = cj_event_parse(&ev, j, strlen(j)) || cj_journal_append(&seq, s, ev);
	cj_event_free(ev);
	cj_store_close(s);
	printf("%s %llu\n", cj_version(), (unsigned long long)seq);
	return rc;
}
