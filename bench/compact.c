/* bench/compact.c — `chatjournal bench compact`: compaction of an N-event
 * store (default 1,000,000 messages of the corpus, corpus.h) in which 10% of
 * the messages were deleted (delete_thread of 100 of the 1000 threads),
 * against, in the same run, the baseline of a plain copy of the store's
 * files with an fsync of each (what a backup of the same store costs at
 * least). Target: compaction <= 2x the copy. Also timed: cj_compact_pending
 * (the scheduler's estimate), and reported: records redacted, appends'
 * pause, the journal's and the projection's sizes before and after. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "chatjournal/chatjournal.h"
#include "compact.h"
#include "corpus.h"
#include "scratch.h"

typedef struct opts {
	uint64_t events;
	int json, quick;
	const char *base;
	char dir[512];
} opts;

static int usage(FILE *f)
{
	fputs("usage: chatjournal bench compact [--events N] [--quick] [--json] [--dir DIR]\n", f);
	return 2;
}

static int parse(int argc, char **argv, opts *o)
{
	memset(o, 0, sizeof *o);
	o->events = 0;
	static const struct option lo[] = {
		{ "events", required_argument, NULL, 'n' }, { "quick", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' }, { "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	optind = 2;
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'n': o->events = strtoull(optarg, NULL, 10); if (!o->events) return usage(stderr); break;
		case 'q': o->quick = 1; break;
		case 'j': o->json = 1; break;
		case 'd': o->base = optarg; break;
		case 'h': usage(stdout); return 1;
		default: return usage(stderr);
		}
	}
	if (!o->events)
		o->events = o->quick ? 20000 : 1000000;
	return 0;
}

/* cp -r with an fsync per file and folder: the baseline. */
static int copy_tree(const char *from, const char *to, uint64_t *bytes)
{
	if (mkdir(to, 0700) != 0 && errno != EEXIST)
		return -1;
	DIR *d = opendir(from);
	if (!d)
		return -1;
	struct dirent *e;
	int rc = 0;
	static char buf[1 << 20];
	while (!rc && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char a[1024], b[1024];
		snprintf(a, sizeof a, "%s/%s", from, e->d_name);
		snprintf(b, sizeof b, "%s/%s", to, e->d_name);
		struct stat st;
		if (lstat(a, &st) != 0) {
			rc = -1;
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			rc = copy_tree(a, b, bytes);
			continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		int in = open(a, O_RDONLY | O_CLOEXEC), out = open(b, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		ssize_t n;
		while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0) {
			if (write(out, buf, (size_t)n) != n) {
				rc = -1;
				break;
			}
			*bytes += (uint64_t)n;
		}
		if (in < 0 || out < 0 || fsync(out) != 0)
			rc = -1;
		if (in >= 0)
			close(in);
		if (out >= 0)
			close(out);
	}
	closedir(d);
	int fd = open(to, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return rc;
}

/* The store: N messages, then delete_thread of threads 0..99 (10%). */
static int build(const opts *o, const char *store, json_t *out)
{
	cj_store *s;
	if (cj_store_init(store, NULL) || cj_store_open(&s, store, NULL))
		return -1;
	double t0 = cjb_now_s();
	int rc = cjb_corpus_fill(s, 0, o->events);
	for (unsigned t = 0; !rc && t < CJB_CORPUS_THREADS / 10; t++) {
		char json[96];
		snprintf(json, sizeof json, "{\"type\":\"delete_thread\",\"thread\":\"thread-%u\"}", t);
		cj_event *ev;
		if ((rc = cj_event_parse(&ev, json, strlen(json))) == 0) {
			rc = cj_journal_append(NULL, s, ev);
			cj_event_free(ev);
		}
	}
	uint64_t last = 0;
	if (!rc)
		rc = cj_journal_last_seq(&last, s);
	if (!rc)
		rc = cj_wait_applied(s, last, 3600 * 1000);
	json_object_set_new(out, "build_seconds", json_real(cjb_now_s() - t0));
	if (!rc) {
		double tp = cjb_now_s();
		uint64_t bytes = 0, recs = 0;
		rc = cj_compact_pending(&bytes, &recs, s);
		json_object_set_new(out, "pending_seconds", json_real(cjb_now_s() - tp));
		json_object_set_new(out, "pending_bytes", json_integer((json_int_t)bytes));
		json_object_set_new(out, "pending_records", json_integer((json_int_t)recs));
	}
	cj_store_close(s);
	return rc;
}

static int bench(const opts *o, json_t *out)
{
	char store[700], copy[700];
	snprintf(store, sizeof store, "%s/store", o->dir);
	snprintf(copy, sizeof copy, "%s/copy", o->dir);
	if (build(o, store, out))
		return -1;
	cjb_scratch_settle(o->dir);
	double t0 = cjb_now_s();
	uint64_t bytes = 0;
	if (copy_tree(store, copy, &bytes) != 0) {
		cj_error_set(CJ_EIO, NULL, "cannot copy %s: %s", store, strerror(errno));
		return -1;
	}
	double tcopy = cjb_now_s() - t0;
	json_object_set_new(out, "baseline_copy_seconds", json_real(tcopy));
	json_object_set_new(out, "baseline_copy_bytes", json_integer((json_int_t)bytes));
	cjb_scratch_remove(copy);
	cjb_scratch_settle(o->dir);

	cj_store *s;
	if (cj_store_open(&s, store, NULL))
		return -1;
	/* The lifecycle issue's yardstick: a backup of the same store (before
	 * the compaction), in the same run. */
	char bdir[720];
	snprintf(bdir, sizeof bdir, "%s/backups", o->dir);
	cj_backup_options bo = CJ_BACKUP_OPTIONS_INIT;
	bo.dir = bdir;
	t0 = cjb_now_s();
	if (cj_backup(NULL, s, &bo)) {
		cj_store_close(s);
		return -1;
	}
	double tb = cjb_now_s() - t0;
	json_object_set_new(out, "backup_seconds", json_real(tb));
	cjb_scratch_remove(bdir);
	cjb_scratch_settle(o->dir);
	cj_compact_report r;
	t0 = cjb_now_s();
	int rc = cj_compact(&r, s, NULL);
	double tc = cjb_now_s() - t0;
	cj_store_close(s);
	if (rc)
		return -1;
	json_object_set_new(out, "compact_seconds", json_real(tc));
	json_object_set_new(out, "ratio_compact_vs_copy", json_real(tc / tcopy));
	json_object_set_new(out, "ratio_compact_vs_backup", json_real(tc / tb));
	json_object_set_new(out, "redacted_records", json_integer((json_int_t)(r.messages + r.images + r.settings)));
	json_object_set_new(out, "appends_paused_ms", json_integer((json_int_t)r.pause_ms));
	json_object_set_new(out, "plan_ms", json_integer((json_int_t)r.plan_ms));
	json_object_set_new(out, "redact_ms", json_integer((json_int_t)r.redact_ms));
	json_object_set_new(out, "swap_ms", json_integer((json_int_t)r.swap_ms));
	json_object_set_new(out, "scrub_ms", json_integer((json_int_t)r.scrub_ms));
	json_object_set_new(out, "journal_bytes_before", json_integer((json_int_t)r.file_before));
	json_object_set_new(out, "journal_bytes_after", json_integer((json_int_t)r.file_after));
	json_object_set_new(out, "projection_bytes_before", json_integer((json_int_t)r.projection_before));
	json_object_set_new(out, "projection_bytes_after", json_integer((json_int_t)r.projection_after));
	json_t *t = json_object();
	json_object_set_new(t, "compact_le_2x_copy", json_boolean(tc <= 2 * tcopy));
	json_object_set_new(t, "compact_le_2x_backup", json_boolean(tc <= 2 * tb));
	json_object_set_new(out, "targets", t);
	return 0;
}

int cjb_compact_main(int argc, char **argv)
{
	opts o;
	int rc = parse(argc, argv, &o);
	if (rc)
		return rc == 1 ? 0 : rc;
	char err[600];
	if (cjb_scratch_new(o.dir, sizeof o.dir, o.base, err, sizeof err) != 0) {
		fprintf(stderr, "chatjournal: bench compact: %s\n", err);
		return 1;
	}
	json_t *out = json_object();
	time_t now = time(NULL);
	char date[32];
	strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	json_object_set_new(out, "benchmark", json_string("compact"));
	json_object_set_new(out, "date", json_string(date));
	json_object_set_new(out, "events", json_integer((json_int_t)o.events));
	json_object_set_new(out, "fs", json_string(cjb_scratch_fstype(o.dir)));
	rc = bench(&o, out);
	if (rc) {
		fprintf(stderr, "chatjournal: bench compact: %s\n", cj_error_last());
		json_decref(out);
		cjb_scratch_remove(o.dir);
		return 1;
	}
	if (o.json) {
		char *t = json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(6));
		puts(t);
		free(t);
	} else {
		printf("chatjournal bench compact (%s)\n", date);
		const char *k;
		json_t *v;
		json_object_foreach(out, k, v) {
			if (json_is_real(v))
				printf("  %-28s %14.3f\n", k, json_real_value(v));
			else if (json_is_integer(v))
				printf("  %-28s %14lld\n", k, (long long)json_integer_value(v));
		}
		json_object_foreach(json_object_get(out, "targets"), k, v)
			printf("  target %-30s %s\n", k, json_is_true(v) ? "PASS" : "MISS");
	}
	json_decref(out);
	cjb_scratch_remove(o.dir);
	return 0;
}
