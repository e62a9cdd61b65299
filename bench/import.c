/* bench/import.c — `chatjournal bench import`: events per second importing
 * a Slack-shaped export of N messages (default 1,000,000; --quick 20,000:
 * 100 channels, 1000 messages a day, 100 users, a reply in ten, a reaction
 * in twenty), against, in the same run, `chatjournal append` of the very
 * events the import appended (the imported store's journal written out as
 * JSONL). Both run as the chatjournal program itself (/proc/self/exe), each
 * into a fresh store on the same disk, timed from start to exit. Target:
 * import >= 0.8x append. The machine's load average is printed with the
 * figures (the machine is shared). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "chatjournal/chatjournal.h"
#include "args.h"
#include "import.h"
#include "scratch.h"

#define CHANNELS 100
#define USERS 100
#define PER_DAY 1000

typedef struct opts {
	uint64_t events;
	unsigned rounds;
	int json, quick;
	const char *base;
} opts;

static int usage(FILE *f)
{
	fputs("usage: chatjournal bench import [--events N] [--rounds R] [--quick] [--json] "
	      "[--dir DIR]\n", f);
	return 2;
}

static int parse(int argc, char **argv, opts *o)
{
	memset(o, 0, sizeof *o);
	static const struct option lo[] = {
		{ "events", required_argument, NULL, 'n' }, { "rounds", required_argument, NULL, 'r' },
		{ "quick", no_argument, NULL, 'q' }, { "json", no_argument, NULL, 'j' },
		{ "dir", required_argument, NULL, 'd' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	optind = 2;
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (cjb_arg_count(&o->events, "import", "--events", optarg, UINT64_C(1) << 40))
				return usage(stderr);
			break;
		case 'r':
			if (cjb_arg_uint(&o->rounds, "import", "--rounds", optarg, 20))
				return usage(stderr);
			break;
		case 'q': o->quick = 1; break;
		case 'j': o->json = 1; break;
		case 'd': o->base = optarg; break;
		case 'h': usage(stdout); return 1;
		default: return usage(stderr);
		}
	}
	if (optind < argc)
		return usage(stderr);
	if (!o->events)
		o->events = o->quick ? 20000 : 1000000;
	if (!o->rounds)
		o->rounds = 1;
	return 0;
}

static FILE *open_w(const char *dir, const char *name)
{
	char path[2048];
	int n = snprintf(path, sizeof path, "%s/%s", dir, name);
	return n > 0 && (size_t)n < sizeof path ? fopen(path, "w") : NULL;
}

/* The export: users.json, channels.json, c<k>/<day>.json. */
static int make_export(const char *dir, uint64_t n)
{
	if (mkdir(dir, 0700) != 0)
		return -1;
	FILE *f = open_w(dir, "users.json");
	if (!f)
		return -1;
	fputs("[", f);
	for (unsigned u = 0; u < USERS; u++)
		fprintf(f, "%s{\"id\":\"U%04u\",\"team_id\":\"TBENCH\",\"name\":\"user%u\",\"is_bot\":false,"
		        "\"tz\":\"Europe/Berlin\",\"tz_offset\":3600,\"updated\":1700000000,"
		        "\"profile\":{\"display_name\":\"User %u\",\"real_name\":\"User Number %u\"}}\n",
		        u ? "," : "", u, u, u, u);
	fputs("]\n", f);
	if (fclose(f) != 0 || !(f = open_w(dir, "channels.json")))
		return -1;
	fputs("[", f);
	for (unsigned c = 0; c < CHANNELS; c++)
		fprintf(f, "%s{\"id\":\"C%04u\",\"name\":\"c%u\",\"created\":1700000000,"
		        "\"creator\":\"U0000\",\"topic\":{\"value\":\"topic %u\"},"
		        "\"purpose\":{\"value\":\"\"}}\n", c ? "," : "", c, c, c);
	fputs("]\n", f);
	if (fclose(f) != 0)
		return -1;
	uint64_t per_channel = (n + CHANNELS - 1) / CHANNELS, written = 0;
	for (unsigned c = 0; c < CHANNELS && written < n; c++) {
		char sub[1024];
		snprintf(sub, sizeof sub, "%s/c%u", dir, c);
		if (mkdir(sub, 0700) != 0)
			return -1;
		uint64_t left = per_channel < n - written ? per_channel : n - written;
		for (uint64_t day = 0; left > 0; day++) {
			char name[64];
			time_t t = (time_t)(1700000000 + day * 86400);
			struct tm tm;
			gmtime_r(&t, &tm);
			strftime(name, sizeof name, "%Y-%m-%d.json", &tm);
			if (!(f = open_w(sub, name)))
				return -1;
			fputs("[\n", f);
			uint64_t k = left < PER_DAY ? left : PER_DAY;
			for (uint64_t i = 0; i < k; i++, written++) {
				uint64_t sec = (uint64_t)t + i * 60;
				unsigned u = (unsigned)(written % USERS);
				fprintf(f, "%s{\"type\":\"message\",\"user\":\"U%04u\",\"ts\":\"%llu.%06llu\","
				        "\"client_msg_id\":\"cm-%llu\",\"text\":\"message %llu of the benchmark "
				        "export, about lighthouses, harbours and the sea at dusk\"",
				        i ? "," : "", u, (unsigned long long)sec,
				        (unsigned long long)(written % 1000000), (unsigned long long)written,
				        (unsigned long long)written);
				if (i % 10 == 5)
					fprintf(f, ",\"thread_ts\":\"%llu.%06llu\"",
					        (unsigned long long)((uint64_t)t + (i - 5) * 60),
					        (unsigned long long)((written - 5) % 1000000));
				if (i % 20 == 7)
					fprintf(f, ",\"reactions\":[{\"name\":\"thumbsup\",\"users\":[\"U%04u\"],"
					        "\"count\":1}]", (u + 1) % USERS);
				fputs("}\n", f);
			}
			fputs("]\n", f);
			if (fclose(f) != 0)
				return -1;
			left -= k;
		}
	}
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run this program with args, stdout to out_path; its wall time, or < 0. */
static double run_self(char *const args[], const char *out_path)
{
	double t0 = now_s();
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		FILE *o = freopen(out_path, "w", stdout);
		if (!o)
			_exit(127);
		execv("/proc/self/exe", args);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -1;
	return now_s() - t0;
}

/* The imported store's journal as JSONL (canonical events, in order). */
static int dump_jsonl(uint64_t *n_out, const char *store, const char *path)
{
	cj_store_options so = CJ_STORE_OPTIONS_INIT;
	so.read_only = 1;
	cj_store *s = NULL;
	int rc = cj_store_open(&s, store, &so);
	if (rc != 0)
		return rc;
	cj_journal_iter *it = NULL;
	FILE *f = fopen(path, "w");
	rc = f ? cj_journal_iter_new(&it, s, 1) : CJ_EIO;
	uint64_t n = 0;
	cj_record rec;
	while (rc == 0) {
		int r = cj_journal_iter_next(&rec, it);
		if (r <= 0) {
			rc = r;
			break;
		}
		char *text = NULL;
		size_t len = 0;
		if ((rc = cj_event_to_canonical_json(&text, &len, rec.event)) != 0)
			break;
		fwrite(text, 1, len, f);
		fputc('\n', f);
		cj_free(text);
		n++;
	}
	cj_journal_iter_free(it);
	if (f && fclose(f) != 0 && rc == 0)
		rc = CJ_EIO;
	cj_store_close(s);
	*n_out = n;
	return rc;
}

/* "source_reads" of the import's JSON report in path (1: the plan's events
 * were kept for the append; 2: the source was read again), or 0. */
static int source_reads(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	static const char key[] = "\"source_reads\": ";
	char buf[65536];
	size_t keep = 0, n;
	int reads = 0;
	/* the report lists every file: read it in windows that overlap by the key */
	while (!reads && (n = fread(buf + keep, 1, sizeof buf - 1 - keep, f)) > 0) {
		buf[keep + n] = '\0';
		const char *p = strstr(buf, key);
		if (p)
			reads = atoi(p + strlen(key));
		keep = keep + n < sizeof key ? keep + n : sizeof key;
		memmove(buf, buf + strlen(buf) - keep, keep);
	}
	fclose(f);
	return reads;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int cjb_import_main(int argc, char **argv)
{
	opts o;
	int rc = parse(argc, argv, &o);
	if (rc != 0)
		return rc == 1 ? 0 : rc;
	char scratch[512], err[256];
	if (cjb_scratch_new(scratch, sizeof scratch, o.base, err, sizeof err) != 0) {
		fprintf(stderr, "chatjournal: bench import: %s\n", err);
		return 1;
	}
	double load0[3] = { 0, 0, 0 }, load1[3] = { 0, 0, 0 };
	getloadavg(load0, 3);
	char exp[640], jsonl[640], out[640];
	snprintf(exp, sizeof exp, "%s/export", scratch);
	snprintf(jsonl, sizeof jsonl, "%s/events.jsonl", scratch);
	snprintf(out, sizeof out, "%s/out.txt", scratch);
	int status = 1;
	double gen0 = now_s();
	if (make_export(exp, o.events) != 0) {
		fprintf(stderr, "chatjournal: bench import: cannot write the export: %s\n",
		        strerror(errno));
		goto done;
	}
	double gen_s = now_s() - gen0;
	double t_imp[20], t_app[20], ratio[20];
	uint64_t events = 0;
	int reads = 0;
	for (unsigned r = 0; r < o.rounds; r++) {
		char a[700], b[700];
		snprintf(a, sizeof a, "%s/import-%u", scratch, r);
		snprintf(b, sizeof b, "%s/append-%u", scratch, r);
		if (cj_store_init(a, NULL) != 0 || cj_store_init(b, NULL) != 0) {
			fprintf(stderr, "chatjournal: bench import: %s\n", cj_error_last());
			goto done;
		}
		cjb_scratch_settle(scratch);
		char *imp_args[] = { "chatjournal", "import", a, "--format", "slack", exp, "--json", NULL };
		t_imp[r] = run_self(imp_args, out);
		if (t_imp[r] < 0) {
			fprintf(stderr, "chatjournal: bench import: the import failed (%s)\n", out);
			goto done;
		}
		int rd = source_reads(out);
		reads = rd > reads ? rd : reads;
		if (r == 0 && dump_jsonl(&events, a, jsonl) != 0) {
			fprintf(stderr, "chatjournal: bench import: cannot write the JSONL: %s\n",
			        cj_error_last());
			goto done;
		}
		cjb_scratch_settle(scratch);
		char *app_args[] = { "chatjournal", "append", b, jsonl, "--json", NULL };
		t_app[r] = run_self(app_args, out);
		if (t_app[r] < 0) {
			fprintf(stderr, "chatjournal: bench import: the append failed (%s)\n", out);
			goto done;
		}
		ratio[r] = t_app[r] / t_imp[r];
		cjb_scratch_remove(a);
		cjb_scratch_remove(b);
	}
	getloadavg(load1, 3);
	qsort(t_imp, o.rounds, sizeof t_imp[0], cmp_double);
	qsort(t_app, o.rounds, sizeof t_app[0], cmp_double);
	qsort(ratio, o.rounds, sizeof ratio[0], cmp_double);
	double ti = t_imp[o.rounds / 2], ta = t_app[o.rounds / 2], rv = ratio[o.rounds / 2];
	double ips = (double)events / ti, aps = (double)events / ta;
	if (o.json) {
		printf("{\"benchmark\": \"import\", \"messages\": %llu, \"events\": %llu, "
		       "\"rounds\": %u, \"import_s\": %.3f, \"append_s\": %.3f, "
		       "\"import_events_per_s\": %.0f, \"append_events_per_s\": %.0f, "
		       "\"ratio\": %.3f, \"target\": 0.8, \"pass\": %s, \"export_write_s\": %.3f, "
		       "\"fstype\": \"%s\", \"source_reads\": %d, \"loadavg_start\": %.2f, "
		       "\"loadavg_end\": %.2f}\n",
		       (unsigned long long)o.events, (unsigned long long)events, o.rounds, ti, ta, ips,
		       aps, rv, rv >= 0.8 ? "true" : "false", gen_s, cjb_scratch_fstype(scratch), reads,
		       load0[0], load1[0]);
	} else {
		printf("bench import: %llu Slack messages (%llu events appended), %u round%s, on %s\n",
		       (unsigned long long)o.events, (unsigned long long)events, o.rounds,
		       o.rounds == 1 ? "" : "s", cjb_scratch_fstype(scratch));
		printf("  import (chatjournal import --format slack)  %8.2f s  %10.0f events/s  "
		       "(source read %s)\n", ti, ips, reads == 1 ? "once: events kept" :
		       reads == 2 ? "twice: not kept" : "?");
		printf("  append (chatjournal append, same events)   %8.2f s  %10.0f events/s\n",
		       ta, aps);
		printf("  import / append: %.2fx (target >= 0.80x: %s)\n", rv,
		       rv >= 0.8 ? "pass" : "FAIL");
		printf("  load average (1 min): %.2f at start, %.2f at end; export written in %.1f s\n",
		       load0[0], load1[0], gen_s);
	}
	status = 0;
done:
	cjb_scratch_remove(scratch);
	return status;
}
