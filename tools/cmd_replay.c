/* tools/cmd_replay.c — `chatjournal replay STORE [--out FILE.sqlite] [--skip-damaged]`:
 * rebuild the projection from the journal alone. With --out the store is
 * only read (safe next to a server); in place, this process must be the
 * store's only materializer, and the library swaps the file atomically. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "chatjournal/chatjournal.h"
#include "cli.h"

static const cli_help help = {
	"replay", "STORE [--out FILE.sqlite] [--skip-damaged]",
	"Rebuild the SQLite projection of STORE from its journal alone.\n\n"
	"Without --out the store's own chat.sqlite is replaced, atomically, by\n"
	"the rebuilt file: this repairs a projection that 'chatjournal verify'\n"
	"found different, damaged or ahead of the journal. It needs the store\n"
	"to itself: stop 'chatjournal serve' first (the command fails, changing\n"
	"nothing, while another process materializes the store). Events appended\n"
	"meanwhile by other processes are applied afterwards, as usual.\n\n"
	"With --out the store is opened read-only (safe next to a running server)\n"
	"and the projection is written to FILE.sqlite, a new file (an existing\n"
	"file is refused).\n\n"
	"A journal record that fails its checksum or cannot be decoded stops the\n"
	"replay, naming its sequence number. With --skip-damaged such records are\n"
	"skipped instead and listed in the projection's table damaged_records\n"
	"(and by 'chatjournal verify'), so the rest is recovered knowingly.\n\n"
	"Shows a progress bar when stdout and stderr are terminals; prints\n"
	"\"replayed N events into PATH\", N being the journal's last sequence\n"
	"number at the start.\n\n"
	"Options:\n"
	"  --out FILE.sqlite   write the rebuilt projection to this new file\n"
	"  --skip-damaged      skip (and list) records that cannot be read\n"
};

static int skip_damaged;

/* Replay into target (NULL: in place) up to the journal's current end. */
static int replay(cj_store *s, const char *target, const char *shown)
{
	uint64_t last = 0;
	int rc = cj_journal_last_seq(&last, s);
	if (rc != 0)
		return cli_fail_lib("replay", rc, "cannot read the journal");
	cli_progress bar;
	cli_progress_begin_count(&bar, "replay", last, "events");
	/* up_to 0 means "the journal's end", which is also right for an
	 * empty journal. */
	cj_replay_options ro = CJ_REPLAY_OPTIONS_INIT;
	ro.out_path = target;
	ro.up_to = last;
	ro.skip_damaged = skip_damaged;
	ro.progress = cli_progress_cb;
	ro.progress_arg = &bar;
	rc = cj_projection_replay(s, &ro);
	cli_progress_end(&bar);
	if (rc == CJ_ECORRUPT && !skip_damaged && strstr(cj_error_last(), "journal record"))
		return cli_fail("replay", "%s; nothing was replaced. 'chatjournal replay --skip-damaged' "
		                "rebuilds without the damaged records and lists them",
		                cli_error_text_after(rc, "replay"));
	if (rc != 0)
		return cli_fail("replay", "%s", cli_error_text_after(rc, "replay"));
	printf("replayed %llu event%s into %s\n", (unsigned long long)last, last == 1 ? "" : "s",
	       shown);
	return CLI_EXIT_OK;
}

/* A projection ahead of the journal (a restored or damaged store) or one
 * SQLite cannot open makes every read-write open fail (the materializer
 * cannot start), so no process can be materializing it: rebuild it through
 * a read-only handle instead. */
static int replay_ahead(const char *store, const char *live)
{
	cj_store *s;
	if (cli_open_store("replay", store, 1, &s) != 0)
		return CLI_EXIT_FAIL;
	int status = replay(s, live, live);
	cj_store_close(s);
	return status;
}

static int replay_in_place(const char *store)
{
	char live[4200];
	if (cli_projection_path("replay", store, live, sizeof live) != 0)
		return CLI_EXIT_FAIL;
	cj_store_options o = CJ_STORE_OPTIONS_INIT;
	cj_store *s = NULL;
	int rc = cj_store_open(&s, store, &o);
	if (rc == CJ_EAHEAD || rc == CJ_ECORRUPT || rc == CJ_EDB)
		return replay_ahead(store, live);
	if (rc != 0)
		return cli_fail_lib("replay", rc, "cannot open store '%s'", store);
	int status = replay(s, NULL, live);
	cj_store_close(s);
	return status;
}

/* Same file as the live projection (by inode), so --out cannot replace it
 * behind a running server's back. */
static int same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

static int replay_out(const char *store, const char *out)
{
	char live[4200];
	struct stat st;
	if (cli_projection_path("replay", store, live, sizeof live) != 0)
		return CLI_EXIT_FAIL;
	if (same_file(out, live))
		return cli_fail("replay", "%s is the store's own projection: run 'chatjournal replay "
		                "%s' without --out to rebuild it in place", out, store);
	if (lstat(out, &st) == 0)
		return cli_fail("replay", "%s already exists: choose a new file", out);
	if (errno != ENOENT)
		return cli_fail("replay", "%s: %s", out, strerror(errno));
	cj_store *s;
	if (cli_open_store("replay", store, 1, &s) != 0)
		return CLI_EXIT_FAIL;
	int status = replay(s, out, out);
	cj_store_close(s);
	return status;
}

int cmd_replay(int argc, char **argv)
{
	const char *out = NULL;
	const cli_opt opts[] = { { "--out", "FILE.sqlite", NULL, &out },
	                         { "--skip-damaged", NULL, &skip_damaged, NULL } };
	const char *pos[1];
	size_t npos;
	int rc = cli_parse(&help, argc, argv, opts, 2, pos, 1, 1, &npos);
	if (rc != CLI_CONTINUE)
		return rc;
	if (out && !*out)
		return cli_usage_error(&help, "option '--out' needs a file name");
	return out ? replay_out(pos[0], out) : replay_in_place(pos[0]);
}
