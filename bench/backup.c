/* bench/backup.c — `chatjournal bench backup`: a hot backup of an N-event
 * chat store (bench/corpus.c), against the baseline of a plain copy of
 * the same files in the same run, and the appends' p99 latency while
 * backups run against without.
 *
 * Copy: the store's files (journal/data.mdb, chat.sqlite and its -wal,
 * chatjournal.conf) are read and written 1 MiB at a time, each fsynced, then
 * the folder: what `cp` followed by `sync` costs. The page cache is not
 * dropped (that needs root and hits everyone on a shared machine): both
 * read warm files. Rounds interleave copy and backup; medians are reported.
 * Throughput is the store's bytes over the time, for both.
 *
 * Latency: W writer threads append one event at a time (cj_journal_append,
 * each acknowledged once durable) for S seconds without a backup, then S
 * seconds while backups of the same handle run back to back, alternating
 * over the rounds; p99 over all samples of each condition. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "chatjournal/chatjournal.h"
#include "args.h"
#include "backup.h"
#include "corpus.h"
#include "scratch.h"
#include "rounds.h"

#define MAX_WRITERS 16
#define MAX_ROUNDS 15

typedef struct opts {
	uint64_t events;
	int json, quick;
	unsigned rounds, writers;
	double seconds;
	const char *base;
	char dir[512];
} opts;

static int usage(FILE *f, int code)
{
	fprintf(f, "usage: chatjournal bench backup [--events N] [--rounds R] [--seconds S] "
	        "[--writers W] [--quick] [--json] [--dir DIR]\n");
	return code;
}

static int parse(int argc, char **argv, opts *o)
{
	memset(o, 0, sizeof *o);
	o->events = 1000000;
	o->rounds = 3;
	o->writers = 4;
	o->seconds = 5;
	static const struct option lo[] = {
		{ "events", required_argument, NULL, 'n' }, { "rounds", required_argument, NULL, 'r' },
		{ "seconds", required_argument, NULL, 's' }, { "writers", required_argument, NULL, 'w' },
		{ "quick", no_argument, NULL, 'q' }, { "json", no_argument, NULL, 'j' },
		{ "dir", required_argument, NULL, 'd' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	int events_set = 0, rounds_set = 0, seconds_set = 0, bad = 0, c;
	optind = 2;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'n': bad = cjb_arg_count(&o->events, "backup", "--events", optarg, UINT64_C(1) << 40); events_set = 1; break;
		case 'r': bad = cjb_arg_uint(&o->rounds, "backup", "--rounds", optarg, MAX_ROUNDS); rounds_set = 1; break;
		case 's': bad = cjb_arg_seconds(&o->seconds, "backup", "--seconds", optarg, 3600); seconds_set = 1; break;
		case 'w': bad = cjb_arg_uint(&o->writers, "backup", "--writers", optarg, MAX_WRITERS); break;
		case 'q': o->quick = 1; break;
		case 'j': o->json = 1; break;
		case 'd': o->base = optarg; break;
		case 'h': return usage(stdout, 1);
		default: return usage(stderr, 2);
		}
		if (bad)
			return usage(stderr, 2);
	}
	if (o->quick) {
		o->events = events_set ? o->events : 20000;
		o->rounds = rounds_set ? o->rounds : 1;
		o->seconds = seconds_set ? o->seconds : 1;
	}
	if (!o->events || !o->rounds || o->rounds > MAX_ROUNDS || !o->writers ||
	    o->writers > MAX_WRITERS || !(o->seconds > 0) || o->seconds > 3600)
		return usage(stderr, 2);
	return 0;
}


/* ---- the baseline: a plain copy ------------------------------------------------ */

static const char *const FILES[] = { "journal/data.mdb", "chat.sqlite", "chat.sqlite-wal",
                                     "chatjournal.conf" };
#define NFILES (sizeof FILES / sizeof FILES[0])

static int copy_file(const char *src, const char *dst, uint64_t *bytes)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return errno == ENOENT ? 0 : -1;
	int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		close(in);
		return -1;
	}
	static char buf[1 << 20];
	int rc = 0;
	ssize_t n;
	while (!rc && (n = read(in, buf, sizeof buf)) > 0) {
		if (write(out, buf, (size_t)n) != n)
			rc = -1;
		*bytes += (uint64_t)n;
	}
	if (!rc && fsync(out) != 0)
		rc = -1;
	close(in);
	close(out);
	return rc;
}

static int sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

/* Copy the store's files into dir; seconds, or -1. */
static double plain_copy(const char *store, const char *dir, uint64_t *bytes)
{
	char sub[800], src[900], dst[900];
	snprintf(sub, sizeof sub, "%s/journal", dir);
	double t0 = cjb_now_s();
	if (mkdir(dir, 0700) != 0 || mkdir(sub, 0700) != 0)
		return -1;
	*bytes = 0;
	for (size_t i = 0; i < NFILES; i++) {
		snprintf(src, sizeof src, "%s/%s", store, FILES[i]);
		snprintf(dst, sizeof dst, "%s/%s", dir, FILES[i]);
		if (copy_file(src, dst, bytes) != 0)
			return -1;
	}
	if (sync_dir(sub) != 0 || sync_dir(dir) != 0)
		return -1;
	return cjb_now_s() - t0;
}

static uint64_t store_bytes(const char *store)
{
	uint64_t n = 0;
	char p[800];
	for (size_t i = 0; i < NFILES; i++) {
		struct stat st;
		snprintf(p, sizeof p, "%s/%s", store, FILES[i]);
		if (stat(p, &st) == 0)
			n += (uint64_t)st.st_size;
	}
	return n;
}

/* One backup of s into dir, removed afterwards; seconds, or -1. */
static double one_backup(cj_store *s, const char *dir, uint64_t *backup_bytes)
{
	cj_backup_options bo = CJ_BACKUP_OPTIONS_INIT;
	bo.dir = dir;
	char *out = NULL;
	double t0 = cjb_now_s();
	int rc = cj_backup(&out, s, &bo);
	double t = cjb_now_s() - t0;
	if (rc)
		return -1;
	json_t *m = json_loads(out, 0, NULL);
	cj_free(out);
	size_t i;
	json_t *f;
	if (backup_bytes) {
		*backup_bytes = 0;
		json_array_foreach(json_object_get(m, "files"), i, f)
			*backup_bytes += (uint64_t)json_integer_value(json_object_get(f, "size"));
	}
	const char *path = json_string_value(json_object_get(m, "path"));
	if (path)
		cjb_scratch_remove(path);
	json_decref(m);
	return t;
}

static int bench_copy(const opts *o, const char *store, json_t *out)
{
	double tb[MAX_ROUNDS], tc[MAX_ROUNDS];
	uint64_t bytes = store_bytes(store), copied = 0, bbytes = 0;
	cj_store *s;
	cj_store_options so = CJ_STORE_OPTIONS_INIT;
	so.read_only = 1; /* as `chatjournal backup` opens it */
	if (cj_store_open(&s, store, &so))
		return -1;
	char bdir[600], cdir[700];
	snprintf(bdir, sizeof bdir, "%s/backups", o->dir);
	int rc = 0;
	for (unsigned r = 0; r < o->rounds && !rc; r++) {
		snprintf(cdir, sizeof cdir, "%s/copy-%u", o->dir, r);
		cjb_scratch_settle(o->dir);
		tc[r] = plain_copy(store, cdir, &copied);
		cjb_scratch_remove(cdir);
		cjb_scratch_settle(o->dir);
		tb[r] = one_backup(s, bdir, &bbytes);
		if (tc[r] < 0 || tb[r] < 0)
			rc = -1;
	}
	cj_store_close(s);
	if (rc)
		return -1;
	double b = cjb_median(tb, o->rounds), c = cjb_median(tc, o->rounds);
	json_object_set_new(out, "store_bytes", json_integer((json_int_t)bytes));
	json_object_set_new(out, "backup_bytes", json_integer((json_int_t)bbytes));
	json_object_set_new(out, "backup_seconds", json_real(b));
	json_object_set_new(out, "copy_seconds", json_real(c));
	json_object_set_new(out, "backup_mb_per_s", json_real((double)bytes / 1e6 / b));
	json_object_set_new(out, "copy_mb_per_s", json_real((double)bytes / 1e6 / c));
	json_object_set_new(out, "ratio_backup_vs_copy", json_real(c / b));
	return 0;
}

/* ---- append latency with and without a backup --------------------------------- */

typedef struct lat_writer {
	cj_store *s;
	unsigned id;
	_Atomic int *stop;
	cjb_samples samples;
	uint64_t next;
	int rc;
} lat_writer;

static void *append_loop(void *arg)
{
	lat_writer *w = arg;
	while (!atomic_load(w->stop)) {
		cj_event *ev;
		if ((w->rc = cjb_corpus_event(w->next++, &ev)))
			break;
		uint64_t t0 = cjb_now_ns();
		w->rc = cj_journal_append(NULL, w->s, ev);
		uint64_t dt = cjb_now_ns() - t0;
		cj_event_free(ev);
		if (w->rc || cjb_samples_add(&w->samples, dt))
			break;
	}
	return NULL;
}

typedef struct backup_loop_arg {
	cj_store *s;
	const char *dir;
	_Atomic int *stop;
	unsigned backups;
	int rc;
} backup_loop_arg;

static void *backup_loop(void *arg)
{
	backup_loop_arg *b = arg;
	while (!atomic_load(b->stop)) {
		if (one_backup(b->s, b->dir, NULL) < 0) {
			b->rc = -1;
			break;
		}
		b->backups++;
	}
	return NULL;
}

static int sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
	return nanosleep(&ts, NULL);
}

/* One phase: the writers for o->seconds, with backups running or not. */
static int phase(const opts *o, cj_store *s, const char *bdir, int with_backup,
                 cjb_samples *all, uint64_t *next, unsigned *backups)
{
	_Atomic int stop = 0;
	lat_writer w[MAX_WRITERS];
	pthread_t th[MAX_WRITERS], bt;
	backup_loop_arg b = { s, bdir, &stop, 0, 0 };
	memset(w, 0, sizeof w);
	if (with_backup && pthread_create(&bt, NULL, backup_loop, &b) != 0)
		return -1;
	for (unsigned i = 0; i < o->writers; i++) {
		w[i].s = s;
		w[i].id = i;
		w[i].stop = &stop;
		w[i].next = *next + (uint64_t)i * 100000000u;
		cjb_samples_reserve(&w[i].samples, 65536);
		pthread_create(&th[i], NULL, append_loop, &w[i]);
	}
	sleep_s(o->seconds);
	atomic_store(&stop, 1);
	int rc = 0;
	for (unsigned i = 0; i < o->writers; i++) {
		pthread_join(th[i], NULL);
		rc |= w[i].rc;
		cjb_samples_merge(all, &w[i].samples);
		cjb_samples_free(&w[i].samples);
	}
	*next += 1000000000u;
	if (with_backup) {
		pthread_join(bt, NULL);
		rc |= b.rc;
		*backups += b.backups;
	}
	return rc ? -1 : 0;
}

static int bench_latency(const opts *o, const char *store, json_t *out)
{
	cj_store *s;
	if (cj_store_open(&s, store, NULL))
		return -1;
	char bdir[600];
	snprintf(bdir, sizeof bdir, "%s/backups-under-load", o->dir);
	cjb_samples without = CJB_SAMPLES_INIT, with = CJB_SAMPLES_INIT;
	uint64_t next = o->events;
	unsigned backups = 0;
	int rc = 0;
	for (unsigned r = 0; r < o->rounds && !rc; r++) {
		rc = phase(o, s, bdir, 0, &without, &next, &backups);
		if (!rc)
			rc = phase(o, s, bdir, 1, &with, &next, &backups);
	}
	cj_store_close(s);
	if (!rc) {
		double p99a = (double)cjb_samples_percentile(&without, 0.99) / 1e3;
		double p99b = (double)cjb_samples_percentile(&with, 0.99) / 1e3;
		json_object_set_new(out, "append_writers", json_integer(o->writers));
		json_object_set_new(out, "append_p50_us_without_backup",
		                    json_real((double)cjb_samples_percentile(&without, 0.5) / 1e3));
		json_object_set_new(out, "append_p50_us_during_backup",
		                    json_real((double)cjb_samples_percentile(&with, 0.5) / 1e3));
		json_object_set_new(out, "append_p99_us_without_backup", json_real(p99a));
		json_object_set_new(out, "append_p99_us_during_backup", json_real(p99b));
		json_object_set_new(out, "appends_without_backup", json_integer((json_int_t)without.n));
		json_object_set_new(out, "appends_during_backup", json_integer((json_int_t)with.n));
		json_object_set_new(out, "backups_during_load", json_integer(backups));
		json_object_set_new(out, "ratio_append_p99_during_vs_without", json_real(p99b / p99a));
	}
	cjb_samples_free(&without);
	cjb_samples_free(&with);
	return rc;
}

/* ---- main ----------------------------------------------------------------------- */

static void report(const opts *o, json_t *out)
{
	double r = json_real_value(json_object_get(out, "ratio_backup_vs_copy"));
	double l = json_real_value(json_object_get(out, "ratio_append_p99_during_vs_without"));
	json_t *t = json_object();
	json_object_set_new(t, "backup_vs_copy_ge_0.5", json_boolean(r >= 0.5));
	json_object_set_new(t, "append_p99_during_vs_without_le_2", json_boolean(l <= 2));
	json_object_set_new(out, "targets", t);
	if (o->json) {
		char *text = json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(6));
		puts(text);
		free(text);
		return;
	}
	printf("chatjournal bench backup (%s)\n", json_string_value(json_object_get(out, "date")));
	const char *k;
	json_t *v;
	json_object_foreach(out, k, v) {
		if (json_is_real(v))
			printf("  %-38s %14.2f\n", k, json_real_value(v));
		else if (json_is_integer(v))
			printf("  %-38s %14lld\n", k, (long long)json_integer_value(v));
	}
	json_object_foreach(t, k, v)
		printf("  target %-38s %s\n", k, json_is_true(v) ? "PASS" : "MISS");
}

int cjb_backup_main(int argc, char **argv)
{
	opts o;
	int rc = parse(argc, argv, &o);
	if (rc)
		return rc == 1 ? 0 : rc;
	char err[600];
	if (cjb_scratch_new(o.dir, sizeof o.dir, o.base, err, sizeof err) != 0) {
		fprintf(stderr, "chatjournal: bench backup: %s\n", err);
		return 1;
	}
	const char *fs = cjb_scratch_fstype(o.dir);
	if (strcmp(fs, "tmpfs") == 0)
		fprintf(stderr, "chatjournal: bench backup: note: %s is on tmpfs, where fsync costs "
		        "nothing; use --dir on a disk\n", o.dir);
	json_t *out = json_object();
	time_t now = time(NULL);
	char date[32], store[600];
	strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	json_object_set_new(out, "benchmark", json_string("backup"));
	json_object_set_new(out, "date", json_string(date));
	json_object_set_new(out, "events", json_integer((json_int_t)o.events));
	json_object_set_new(out, "rounds", json_integer(o.rounds));
	json_object_set_new(out, "filesystem", json_string(fs));
	json_object_set_new(out, "page_cache", json_string("warm (not dropped)"));
	snprintf(store, sizeof store, "%s/store", o.dir);
	double ta = 0;
	rc = cjb_corpus_store(store, o.events, &ta);
	if (!rc) {
		json_object_set_new(out, "build_append_seconds", json_real(ta));
		rc = bench_copy(&o, store, out);
	}
	if (!rc)
		rc = bench_latency(&o, store, out);
	if (rc) {
		fprintf(stderr, "chatjournal: bench backup: %s\n", cj_error_last());
		json_decref(out);
		cjb_scratch_remove(o.dir);
		return 1;
	}
	report(&o, out);
	json_decref(out);
	if (cjb_scratch_remove(o.dir) != 0)
		fprintf(stderr, "chatjournal: bench backup: could not remove %s\n", o.dir);
	return 0;
}
