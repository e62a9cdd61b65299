/* tools/cmd_vacuum.c — `chatjournal vacuum STORE`: compact the projection.
 * The library has no VACUUM and tools use only the public API, so this is an
 * in-place replay: it writes a fresh, compact file (what VACUUM achieves)
 * and swaps it in atomically, as this store's only materializer. */
#include <stdio.h>
#include <sys/stat.h>
#include "chatjournal/chatjournal.h"
#include "cli.h"

static const cli_help help = {
	"vacuum", "STORE",
	"Compact the store's projection (chat.sqlite): rebuild it from the journal\n"
	"into a fresh file, which leaves no free pages and defragmented indexes,\n"
	"and swap it in atomically. This is an in-place 'chatjournal replay'\n"
	"(the library has no separate VACUUM): it needs the store to itself, so\n"
	"stop 'chatjournal serve' first. The journal is not changed.\n\n"
	"Prints the projection's size on disk (with its WAL) before and after.\n"
	"Shows a progress bar when stdout and stderr are terminals.\n"
};

static uint64_t projection_bytes(const char *live)
{
	static const char *const ext[] = { "", "-wal" };
	uint64_t total = 0;
	char p[4300];
	for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
		struct stat st;
		snprintf(p, sizeof p, "%s%s", live, ext[i]);
		if (stat(p, &st) == 0)
			total += (uint64_t)st.st_size;
	}
	return total;
}

int cmd_vacuum(int argc, char **argv)
{
	const char *pos[1];
	size_t npos;
	int rc = cli_parse(&help, argc, argv, NULL, 0, pos, 1, 1, &npos);
	if (rc != CLI_CONTINUE)
		return rc;
	char live[4200];
	if (cli_projection_path("vacuum", pos[0], live, sizeof live) != 0)
		return CLI_EXIT_FAIL;
	/* Read-write: this process takes the store's materializer, or learns
	 * that another process has it (the replay then fails with CJ_EBUSY). */
	cj_store *s;
	if (cli_open_store("vacuum", pos[0], 0, &s) != 0)
		return CLI_EXIT_FAIL;
	uint64_t before = projection_bytes(live), last = 0;
	if ((rc = cj_journal_last_seq(&last, s)) != 0) {
		cj_store_close(s);
		return cli_fail_lib("vacuum", rc, "cannot read the journal");
	}
	cli_progress bar;
	cli_progress_begin_count(&bar, "vacuum", last, "events");
	rc = cj_projection_replay(s, &(cj_replay_options){
			CJ_REPLAY_OPTIONS_VERSION, NULL, last, 0, cli_progress_cb, &bar });
	cli_progress_end(&bar);
	if (rc != 0) {
		cli_fail("vacuum", "cannot rebuild the projection: %s",
		         cli_error_text_after(rc, "replay"));
		cj_store_close(s);
		return CLI_EXIT_FAIL;
	}
	/* Closing checkpoints the WAL: measure the file as it stays. */
	cj_store_close(s);
	uint64_t after = projection_bytes(live);
	char b[64], a[64];
	cli_format_bytes(before, b);
	cli_format_bytes(after, a);
	printf("vacuumed %s: %s before, %s after\n", live, b, a);
	return CLI_EXIT_OK;
}
