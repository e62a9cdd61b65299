/* bench/compact.c — `chatjournal bench compact`: compaction of an N-event
 * store (default 1,000,000 messages of the corpus, corpus.h) in which 10% of
 * the messages were deleted (delete_thread of 100 of the 1000 threads),
 * against, in the same round, two yardsticks: a plain copy of the store's
 * files with an fsync of each (what a backup of the same store costs at
 * least) and a backup of the same store (cj_backup). Each round works on a
 * fresh copy of the built store; figures are medians over the rounds.
 * Targets: compaction <= 2x the copy, <= 2x the backup. Also timed:
 * cj_compact_pending (the scheduler's estimate), and reported: records
 * redacted, appends' pause, the journal's and the projection's sizes before
 * and after (of the last round). */
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
#include "args.h"
#include "compact.h"
#include "corpus.h"
#include "scratch.h"

#define MAX_ROUNDS 15
#define MAX_EVENTS 100000000 /* 100M: hours of building already */

typedef struct opts {
	uint64_t events;
	int json, quick;
	unsigned rounds;
	const char *base;
	char dir[512];
} opts;

static int usage(FILE *f)
{
	fputs("usage: chatjournal bench compact [--events N] [--rounds R] [--quick] [--json] [--dir DIR]\n"
	      "\n"
	      "Builds an N-event store (default 1,000,000; --quick 20,000) with 10% of its\n"
	      "messages deleted, then R rounds (default 3; --quick 1; at most 15), each on a\n"
	      "fresh copy of it: the copy (baseline), a backup, the compaction. Figures are\n"
	      "medians over the rounds, ratios the median of each round's own ratio.\n"
	      "Method: bench/README.md.\n", f);
	return 2;
}

static int parse(int argc, char **argv, opts *o)
{
	memset(o, 0, sizeof *o);
	o->events = 0;
	static const struct option lo[] = {
		{ "events", required_argument, NULL, 'n' }, { "quick", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' }, { "dir", required_argument, NULL, 'd' },
		{ "rounds", required_argument, NULL, 'r' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	optind = 2;
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (cjb_arg_count(&o->events, "compact", "--events", optarg, MAX_EVENTS))
				return usage(stderr);
			break;
		case 'q': o->quick = 1; break;
		case 'r':
			if (cjb_arg_uint(&o->rounds, "compact", "--rounds", optarg, MAX_ROUNDS))
				return usage(stderr);
			break;
		case 'j': o->json = 1; break;
		case 'd': o->base = optarg; break;
		case 'h': usage(stdout); return 1;
		default: return usage(stderr);
		}
	}
	if (!o->events)
		o->events = o->quick ? 20000 : 1000000;
	if (!o->rounds)
		o->rounds = o->quick ? 1 : 3;
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

/* One round, on a fresh copy of the built store (a compaction changes its
 * store: each round needs the store as it was): the copy itself (the
 * baseline), a backup of the copy (the lifecycle issue's yardstick), then
 * the compaction of the copy. */
typedef struct round_fig {
	double copy, backup, compact;
	uint64_t bytes; /* copied */
} round_fig;

static int one_round(const opts *o, const char *store, round_fig *f, cj_compact_report *r)
{
	char work[720], bdir[720];
	snprintf(work, sizeof work, "%s/round", o->dir);
	snprintf(bdir, sizeof bdir, "%s/backups", o->dir);
	double t0 = cjb_now_s();
	uint64_t bytes = 0;
	if (copy_tree(store, work, &bytes) != 0) {
		cj_error_set(CJ_EIO, NULL, "cannot copy %s: %s", store, strerror(errno));
		return -1;
	}
	f->copy = cjb_now_s() - t0;
	f->bytes = bytes;
	cjb_scratch_settle(o->dir);
	cj_store *s;
	if (cj_store_open(&s, work, NULL))
		return -1;
	cj_backup_options bo = CJ_BACKUP_OPTIONS_INIT;
	bo.dir = bdir;
	t0 = cjb_now_s();
	int rc = cj_backup(NULL, s, &bo);
	f->backup = cjb_now_s() - t0;
	cjb_scratch_remove(bdir);
	cjb_scratch_settle(o->dir);
	if (!rc) {
		t0 = cjb_now_s();
		rc = cj_compact(r, s, NULL);
		f->compact = cjb_now_s() - t0;
	}
	cj_store_close(s);
	cjb_scratch_remove(work);
	cjb_scratch_settle(o->dir);
	return rc ? -1 : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The median of v[0..n) (v is sorted in place); v as a JSON array first. */
static double median_of(double *v, int n, json_t *out, const char *key)
{
	json_t *a = json_array();
	for (int i = 0; i < n; i++)
		json_array_append_new(a, json_real(v[i]));
	json_object_set_new(out, key, a);
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int bench(const opts *o, json_t *out)
{
	char store[700];
	snprintf(store, sizeof store, "%s/store", o->dir);
	if (build(o, store, out))
		return -1;
	cjb_scratch_settle(o->dir);
	int n = (int)o->rounds;
	double copy[MAX_ROUNDS], backup[MAX_ROUNDS], compact[MAX_ROUNDS], vs_copy[MAX_ROUNDS],
	       vs_backup[MAX_ROUNDS];
	cj_compact_report r;
	round_fig f = { 0, 0, 0, 0 };
	for (int i = 0; i < n; i++) {
		if (one_round(o, store, &f, &r))
			return -1;
		copy[i] = f.copy;
		backup[i] = f.backup;
		compact[i] = f.compact;
		vs_copy[i] = f.compact / f.copy;
		vs_backup[i] = f.compact / f.backup;
	}
	json_object_set_new(out, "rounds", json_integer(n));
	json_object_set_new(out, "baseline_copy_bytes", json_integer((json_int_t)f.bytes));
	json_object_set_new(out, "baseline_copy_seconds",
	                    json_real(median_of(copy, n, out, "baseline_copy_seconds_rounds")));
	json_object_set_new(out, "backup_seconds",
	                    json_real(median_of(backup, n, out, "backup_seconds_rounds")));
	json_object_set_new(out, "compact_seconds",
	                    json_real(median_of(compact, n, out, "compact_seconds_rounds")));
	double rc_copy = median_of(vs_copy, n, out, "ratio_compact_vs_copy_rounds");
	double rc_backup = median_of(vs_backup, n, out, "ratio_compact_vs_backup_rounds");
	json_object_set_new(out, "ratio_compact_vs_copy", json_real(rc_copy));
	json_object_set_new(out, "ratio_compact_vs_backup", json_real(rc_backup));
	/* the last round's report */
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
	json_object_set_new(t, "compact_le_2x_copy", json_boolean(rc_copy <= 2));
	json_object_set_new(t, "compact_le_2x_backup", json_boolean(rc_backup <= 2));
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
			else if (json_is_array(v)) {
				printf("  %-28s", k);
				size_t i;
				json_t *x;
				json_array_foreach(v, i, x)
					printf(" %.3f", json_real_value(x));
				printf("\n");
			}
		}
		json_object_foreach(json_object_get(out, "targets"), k, v)
			printf("  target %-30s %s\n", k, json_is_true(v) ? "PASS" : "MISS");
	}
	json_decref(out);
	cjb_scratch_remove(o.dir);
	return 0;
}
