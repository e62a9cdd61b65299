/* tools/cmd_verify.c — `chatjournal verify STORE`: prove the store sound in
 * three steps: the journal file's pages are sound and every record,
 * idempotency entry and blob passes its check (in a child process,
 * verify_journal.c); the projection passes SQLite's and FTS5's integrity
 * checks; a replay of the journal up to the live projection's position has
 * the same canonical state hash. The store is opened read-only; the replay
 * goes to a temporary file in the store's folder (same file system, same
 * 0700 privacy) that is removed; a read-write open removes one a killed
 * verify left (api/leftovers.c knows the names used here). */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "chatjournal/chatjournal.h"
#include "cli.h"
#include "verify_journal.h"

/* Attempts at reading a live hash whose position did not move meanwhile. */
#define STABLE_TRIES 10

static const cli_help help = {
	"verify", "STORE [--json]",
	"Check STORE in three steps and print one line per step, ok or FAILED:\n"
	"  journal     the journal file's pages (walked with bounds of their own,\n"
	"              in a child process: a damaged file is reported, never a\n"
	"              crash), then every record's checksum and body, every\n"
	"              idempotency entry and every blob against its hash\n"
	"  projection  PRAGMA integrity_check and the FTS5 integrity-check of\n"
	"              chat.sqlite, messages_tail against its rule, and\n"
	"              PRAGMA foreign_key_check (every row's parents are there)\n"
	"  state       the journal is replayed, up to the position the live\n"
	"              projection has applied, into a temporary file in the\n"
	"              store's folder; both must have the same canonical state\n"
	"              hash. Otherwise the first difference is shown (\"first\" is\n"
	"              the live projection, \"second\" the replay).\n"
	"Exit status 0 only if every step is ok, else 1 (the report is still\n"
	"printed). The store is opened read-only; on a store that a server is\n"
	"busy writing, the state step retries until the projection holds still.\n"
	"A projection found different is repaired by 'chatjournal replay STORE'.\n"
	"Shows a progress bar for the replay when stdout and stderr are terminals.\n\n"
	"Options:\n"
	"  --json    print one object: {\"journal\": {\"checked\", \"first_bad\",\n"
	"            \"ids_checked\", \"ids_bad\", \"blobs_checked\", \"bad_blob\",\n"
	"            \"pages\", \"bad_page\", \"ok\"}, \"projection\": {\"report\", \"ok\"},\n"
	"            \"state\": {\"position\", \"live_hash\", \"replay_hash\", \"equal\",\n"
	"            \"first_difference\", \"ok\"}, \"ok\"}\n"
};

typedef struct verify_report {
	verify_journal journal;      /* step 1, from the child */
	/* projection */
	char *check_report;          /* cj_projection_check's report, or its error */
	int projection_ok;
	/* state */
	uint64_t position, last_seq;
	char live_hash[33], replay_hash[33];
	int equal;                   /* 1 equal, 0 different, -1 not compared */
	char *difference;            /* first difference, when not equal */
	char state_error[1200];      /* why the state could not be compared */
	int state_ok;
} verify_report;

typedef struct temp_paths {
	char sqlite[4300];           /* the replayed projection */
	char store[4300];            /* an empty store, when nothing is applied yet */
} temp_paths;

/* ---- temporary files ------------------------------------------------------ */

static void unlink_with_sidecars(const char *path)
{
	static const char *const ext[] = { "", "-wal", "-shm", "-journal", ".replay-tmp",
	                                   ".replay-tmp-wal", ".replay-tmp-shm",
	                                   ".replay-tmp-journal" };
	char p[4400];
	for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
		snprintf(p, sizeof p, "%s%s", path, ext[i]);
		unlink(p);
	}
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static void remove_temp(const temp_paths *t)
{
	unlink_with_sidecars(t->sqlite);
	/* Only a folder this process created (see empty_reference). */
	if (t->store[0])
		nftw(t->store, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- step 2 --------------------------------------------------------------- */

static void check_projection(const char *live, verify_report *r)
{
	char *report = NULL;
	int rc = cj_projection_check(&report, live);
	r->projection_ok = rc == 0;
	if (report) {
		r->check_report = strdup(report);
		cj_free(report);
	} else {
		r->check_report = strdup(*cj_error_last() ? cj_error_last() : cj_strerror(rc));
	}
}

/* ---- step 3 --------------------------------------------------------------- */

static int state_fail(verify_report *r, const char *what, int rc)
{
	snprintf(r->state_error, sizeof r->state_error, "%s: %s", what,
	         *cj_error_last() ? cj_error_last() : cj_strerror(rc));
	return -1;
}

/* The live hash and the position it belongs to: the position must read the
 * same before and after hashing, or a materializer moved meanwhile. */
static int live_state(cj_store *s, const char *live, verify_report *r)
{
	for (int i = 0; i < STABLE_TRIES; i++) {
		uint64_t before = 0, after = 0;
		int rc = cj_projection_position(&before, s);
		if (rc != 0)
			return state_fail(r, "cannot read the projection's position", rc);
		if ((rc = cj_projection_hash(r->live_hash, NULL, live)) != 0)
			return state_fail(r, "cannot hash the live projection", rc);
		if ((rc = cj_projection_position(&after, s)) != 0)
			return state_fail(r, "cannot read the projection's position", rc);
		if (before == after) {
			r->position = after;
			return 0;
		}
	}
	snprintf(r->state_error, sizeof r->state_error, "the projection kept changing while it "
	         "was hashed (%d attempts): run verify when writes are quiet", STABLE_TRIES);
	return -1;
}

/* cj_projection_replay reads up_to 0 as "the journal's end": the state of a
 * projection that has applied nothing is that of a replay of an empty
 * journal, made from a new empty store beside the temporary file. */
static int empty_reference(const char *store, temp_paths *t, cli_progress *bar,
                           verify_report *r)
{
	snprintf(t->store, sizeof t->store, "%s/verify-%ld.store", store, (long)getpid());
	int rc = cj_store_init(t->store, NULL);
	if (rc != 0) {
		if (rc == CJ_EEXIST)
			t->store[0] = '\0'; /* not ours: leave it alone */
		return state_fail(r, "cannot create an empty store for the reference", rc);
	}
	cj_store *empty;
	cj_store_options o = CJ_STORE_OPTIONS_INIT;
	o.read_only = 1;
	if ((rc = cj_store_open(&empty, t->store, &o)) != 0)
		return state_fail(r, "cannot open the empty reference store", rc);
	rc = cj_projection_replay(empty, &(cj_replay_options){
			CJ_REPLAY_OPTIONS_VERSION, t->sqlite, 0, 0, cli_progress_cb, bar });
	cj_store_close(empty);
	return rc == 0 ? 0 : state_fail(r, "replay failed", rc);
}

static int replay_reference(cj_store *s, const char *store, temp_paths *t, verify_report *r)
{
	cli_progress bar;
	cli_progress_begin_count(&bar, "verify", r->position, "events");
	int rc;
	if (r->position == 0 && r->last_seq > 0)
		rc = empty_reference(store, t, &bar, r);
	else if ((rc = cj_projection_replay(s, &(cj_replay_options){
			CJ_REPLAY_OPTIONS_VERSION, t->sqlite, r->position, 0, cli_progress_cb, &bar })) != 0)
		rc = state_fail(r, "replay failed", rc);
	cli_progress_end(&bar);
	return rc;
}

/* Hashes differ: name the first differing row, else the tables whose
 * hashes differ (a difference EXCEPT cannot see, such as a value's type). */
static void explain_difference(const char *live, const char *tmp, verify_report *r)
{
	char *report = NULL;
	int rc = cj_projection_diff(&report, live, tmp);
	if (rc == 0 && report && *report) {
		r->difference = strdup(report);
		cj_free(report);
		return;
	}
	cj_free(report);
	char *ta = NULL, *tb = NULL, h[33];
	json_t *a = NULL, *b = NULL;
	if (cj_projection_hash(h, &ta, live) == 0 && cj_projection_hash(h, &tb, tmp) == 0) {
		a = json_loads(ta, 0, NULL);
		b = json_loads(tb, 0, NULL);
	}
	char names[1024] = "";
	const char *k;
	json_t *v;
	json_object_foreach(a, k, v) {
		if (!json_equal(v, json_object_get(b, k))) {
			size_t n = strlen(names);
			snprintf(names + n, sizeof names - n, "%s%s", n ? ", " : "", k);
		}
	}
	char text[1200];
	snprintf(text, sizeof text, "tables with different hashes: %s", names[0] ? names : "unknown");
	r->difference = strdup(text);
	json_decref(a);
	json_decref(b);
	cj_free(ta);
	cj_free(tb);
}

static void check_state(cj_store *s, const char *store, const char *live, verify_report *r)
{
	temp_paths t;
	memset(&t, 0, sizeof t);
	if (live_state(s, live, r) != 0)
		return;
	/* The journal's end is read after the position: the journal only
	 * grows, so a sound store has position <= last_seq even while a server
	 * appends and materializes (read before, the position could overtake
	 * it during the seconds of hashing). */
	int rc = cj_journal_last_seq(&r->last_seq, s);
	if (rc != 0) {
		state_fail(r, "cannot read the journal", rc);
		return;
	}
	if (r->position > r->last_seq) {
		snprintf(r->state_error, sizeof r->state_error, "the projection is ahead of the "
		         "journal (position %llu, journal ends at %llu): run 'chatjournal replay'",
		         (unsigned long long)r->position, (unsigned long long)r->last_seq);
		return;
	}
	snprintf(t.sqlite, sizeof t.sqlite, "%s/verify-%ld.sqlite", store, (long)getpid());
	unlink_with_sidecars(t.sqlite);
	if (replay_reference(s, store, &t, r) == 0) {
		if ((rc = cj_projection_hash(r->replay_hash, NULL, t.sqlite)) != 0) {
			state_fail(r, "cannot hash the replay", rc);
		} else {
			r->equal = strcmp(r->live_hash, r->replay_hash) == 0;
			r->state_ok = r->equal;
			if (!r->equal)
				explain_difference(live, t.sqlite, r);
		}
	}
	remove_temp(&t);
}

/* ---- output --------------------------------------------------------------- */

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

static void journal_json(json_t *j, const verify_journal *v)
{
	json_object_set_new(j, "checked", cli_json_u64(v->checked));
	json_object_set_new(j, "first_bad", cli_json_u64(v->first_bad));
	json_object_set_new(j, "ids_checked", cli_json_u64(v->ids_checked));
	json_object_set_new(j, "ids_bad", cli_json_u64(v->ids_bad));
	json_object_set_new(j, "blobs_checked", cli_json_u64(v->blobs_checked));
	json_object_set_new(j, "bad_blob", str_or_null(v->bad_blob));
	json_object_set_new(j, "pages", cli_json_u64(v->pages));
	json_object_set_new(j, "bad_page", cli_json_u64(v->bad_page));
	json_object_set_new(j, "ok", json_boolean(v->ok));
	if (!v->ok)
		json_object_set_new(j, "error", str_or_null(v->error));
}

static int print_json(const verify_report *r, int ok)
{
	json_t *o = json_object();
	json_t *j = json_object(), *p = json_object(), *st = json_object();
	if (!o || !j || !p || !st) {
		json_decref(o);
		json_decref(j);
		json_decref(p);
		json_decref(st);
		return cli_fail("verify", "out of memory");
	}
	journal_json(j, &r->journal);
	json_object_set_new(p, "report", str_or_null(r->check_report));
	json_object_set_new(p, "ok", json_boolean(r->projection_ok));
	json_object_set_new(st, "position", cli_json_u64(r->position));
	json_object_set_new(st, "live_hash", str_or_null(r->live_hash));
	json_object_set_new(st, "replay_hash", str_or_null(r->replay_hash));
	json_object_set_new(st, "equal", r->equal < 0 ? json_null() : json_boolean(r->equal));
	json_object_set_new(st, "first_difference", str_or_null(r->difference));
	if (r->state_error[0])
		json_object_set_new(st, "error", json_string(r->state_error));
	json_object_set_new(st, "ok", json_boolean(r->state_ok));
	json_object_set_new(o, "journal", j);
	json_object_set_new(o, "projection", p);
	json_object_set_new(o, "state", st);
	json_object_set_new(o, "ok", json_boolean(ok));
	return cli_print_json("verify", o);
}

static void print_step(const char *name, int ok)
{
	printf("%-11s %s", name, ok ? "ok" : "FAILED");
}

static void print_count(uint64_t n, const char *one, const char *many, const char *sep)
{
	printf("%llu %s%s", (unsigned long long)n, n == 1 ? one : many, sep);
}

/* "(6 records, 6 ids, 1 blob checked; 12 pages walked)": what ran. */
static void print_journal(const verify_journal *v)
{
	print_step("journal", v->ok);
	if (v->signal == 0 && v->open_rc == 0) {
		fputs(" (", stdout);
		if (v->readable) {
			print_count(v->checked, "record", "records", ", ");
			print_count(v->ids_checked, "id", "ids", ", ");
			print_count(v->blobs_checked, "blob", "blobs", " checked");
			if (v->first_bad)
				printf(", first bad record at sequence %llu", (unsigned long long)v->first_bad);
			if (v->ids_bad) {
				fputs(", ", stdout);
				print_count(v->ids_bad, "bad id", "bad ids", "");
			}
			if (v->bad_blob[0])
				printf(", first bad blob %s", v->bad_blob);
			fputs(v->walked ? "; " : "", stdout);
		}
		if (v->walked)
			print_count(v->pages, "page walked", "pages walked", "");
		if (v->bad_page)
			printf(", damaged page %llu", (unsigned long long)v->bad_page);
		fputs(")", stdout);
	}
	if (!v->ok) {
		fputs(": ", stdout);
		cli_put_oneline(stdout, v->error);
	}
	fputc('\n', stdout);
}

static void print_text(const verify_report *r)
{
	print_journal(&r->journal);

	print_step("projection", r->projection_ok);
	fputs(r->projection_ok ? " (integrity_check, FTS5 integrity-check, messages_tail, foreign keys)" : ": ", stdout);
	if (!r->projection_ok)
		cli_put_oneline(stdout, r->check_report ? r->check_report : "");
	fputc('\n', stdout);

	print_step("state", r->state_ok);
	if (r->state_ok) {
		printf(" (a replay up to position %llu equals the live projection, hash %s)",
		       (unsigned long long)r->position, r->live_hash);
	} else if (r->equal == 0) {
		printf(": a replay up to position %llu differs from the live projection (live hash "
		       "%s, replay hash %s): ", (unsigned long long)r->position, r->live_hash,
		       r->replay_hash);
		cli_put_oneline(stdout, r->difference ? r->difference : "");
	} else {
		fputs(": ", stdout);
		cli_put_oneline(stdout, r->state_error);
	}
	fputc('\n', stdout);
}

int cmd_verify(int argc, char **argv)
{
	int json = 0;
	const cli_opt opts[] = { { "--json", NULL, &json, NULL } };
	const char *pos[1];
	size_t npos;
	int rc = cli_parse(&help, argc, argv, opts, 1, pos, 1, 1, &npos);
	if (rc != CLI_CONTINUE)
		return rc;
	const char *store = pos[0];
	char live[4200];
	if (cli_projection_path("verify", store, live, sizeof live) != 0)
		return CLI_EXIT_FAIL;

	verify_report r;
	memset(&r, 0, sizeof r);
	r.equal = -1;
	/* First, before this process maps anything: the journal in a child. */
	if (verify_journal_run(&r.journal, store) != 0)
		return CLI_EXIT_FAIL;
	/* A damaged journal file is this step's finding (the report follows);
	 * anything else (no store, no permission) ends verify here. */
	if (r.journal.open_rc != 0 && r.journal.open_rc != CJ_ECORRUPT)
		return cli_fail("verify", "cannot open store '%s': %s", store, r.journal.error);
	check_projection(live, &r);
	if (!r.journal.readable) {
		snprintf(r.state_error, sizeof r.state_error, "not compared: the journal cannot be "
		         "read safely (see the journal step)");
	} else {
		cj_store *s;
		if (cli_open_store("verify", store, 1, &s) != 0) {
			free(r.check_report);
			return CLI_EXIT_FAIL;
		}
		check_state(s, store, live, &r);
		cj_store_close(s);
	}

	int ok = r.journal.ok && r.projection_ok && r.state_ok;
	int status = CLI_EXIT_OK;
	if (json) {
		if (print_json(&r, ok) != 0)
			status = CLI_EXIT_FAIL;
	} else {
		print_text(&r);
	}
	if (status == CLI_EXIT_OK && !ok) {
		char failed[64] = "";
		const char *names[] = { "journal", "projection", "state" };
		int oks[] = { r.journal.ok, r.projection_ok, r.state_ok };
		for (int i = 0; i < 3; i++)
			if (!oks[i]) {
				size_t n = strlen(failed);
				snprintf(failed + n, sizeof failed - n, "%s%s", n ? ", " : "", names[i]);
			}
		status = cli_fail("verify", "%s: FAILED (%s)", store, failed);
	}
	free(r.check_report);
	free(r.difference);
	return status;
}
