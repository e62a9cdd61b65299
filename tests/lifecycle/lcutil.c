/* tests/lifecycle/lcutil.c — shared helpers of the backup and restore tests
 * (see lcutil.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "lcutil.h"
#include "testutil.h"

static int failf(char *why, size_t wn, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, wn, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- the workload --------------------------------------------------------- */

static int model_add(lc_model *m, const cj_event *ev, uint64_t seq, const char *blob)
{
	if (!m)
		return 0;
	if (seq != m->n + 1)
		return -1;
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 256;
		lc_event *v = realloc(m->v, cap * sizeof *v);
		if (!v)
			return -1;
		m->v = v;
		m->cap = cap;
	}
	lc_event *e = &m->v[m->n++];
	e->json = cj_event_to_json(ev);
	const char *id = cj_event_get_string(ev, "id");
	e->id = id ? strdup(id) : NULL;
	snprintf(e->blob, sizeof e->blob, "%.32s", blob ? blob : "");
	return e->json ? 0 : -1;
}

static int model_blob(lc_model *m, const char *hash)
{
	if (!m)
		return 0;
	if (m->nblobs == m->blobs_cap) {
		size_t cap = m->blobs_cap ? m->blobs_cap * 2 : 32;
		char (*v)[33] = realloc(m->blobs, cap * sizeof *v);
		if (!v)
			return -1;
		m->blobs = v;
		m->blobs_cap = cap;
	}
	memcpy(m->blobs[m->nblobs++], hash, 33);
	return 0;
}

void lc_model_free(lc_model *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		cj_free(m->v[i].json);
		free(m->v[i].id);
	}
	free(m->v);
	free(m->blobs);
	memset(m, 0, sizeof *m);
}

/* One event of the mix; *blob_out set for an image (its blob stored). */
static cj_event *make_event(cj_store *s, lc_model *m, uint64_t *rng, unsigned k,
                            char blob_out[33])
{
	char thread[32], user[32], text[160], json[1024];
	uint64_t r = tu_rand(rng);
	snprintf(thread, sizeof thread, "T%u", (unsigned)(r % 7));
	snprintf(user, sizeof user, "U%u", (unsigned)((r >> 8) % 5));
	snprintf(text, sizeof text, "event %u lighthouse %s word%u", k, (r >> 16) % 3 ? "dusk" : "storm",
	         (unsigned)((r >> 20) % 50));
	unsigned kind = (unsigned)((r >> 32) % 100);
	blob_out[0] = '\0';
	cj_event *ev = NULL;
	if (kind < 60) {
		snprintf(json, sizeof json, "{\"type\":\"message\",\"thread\":\"%s\",\"role\":\"%s\","
		         "\"content\":\"%s\",\"user\":\"%s\",\"server\":\"S%u\",\"ts\":%lld}", thread,
		         k % 2 ? "assistant" : "user", text, user, (unsigned)(r % 2),
		         /* backdated times: ts says nothing about commit order */
		         1700000000000LL + (long long)((r >> 40) % 100000000));
	} else if (kind < 75) {
		snprintf(json, sizeof json, "{\"type\":\"message\",\"id\":\"m-%u-%llx\",\"thread\":\"%s\","
		         "\"role\":\"user\",\"content\":\"%s\",\"user\":\"%s\"}", k,
		         (unsigned long long)(r & 0xffff), thread, text, user);
	} else if (kind < 83) {
		char bytes[64];
		int len = snprintf(bytes, sizeof bytes, "\x89PNG blob %u %llx", k, (unsigned long long)r);
		if (cj_blob_put(blob_out, s, bytes, (size_t)len) != 0 || model_blob(m, blob_out) != 0)
			return NULL;
		snprintf(json, sizeof json, "{\"type\":\"image\",\"id\":\"i-%u\",\"thread\":\"%s\","
		         "\"url\":\"https://example.invalid/%u.png\",\"kind\":\"generated\","
		         "\"prompt\":\"%s\",\"blob\":\"%.32s\"}", k, thread, k, text, blob_out);
	} else if (kind < 86) {
		/* a blob nobody names: a cut leaves it out */
		char bytes[64], h[33];
		int len = snprintf(bytes, sizeof bytes, "orphan %u %llx", k, (unsigned long long)r);
		if (cj_blob_put(h, s, bytes, (size_t)len) != 0 || model_blob(m, h) != 0)
			return NULL;
		snprintf(json, sizeof json, "{\"type\":\"metric\",\"name\":\"latency_ms\",\"value\":%u}",
		         (unsigned)(r % 1000));
	} else if (kind < 90) {
		snprintf(json, sizeof json, "{\"type\":\"setting\",\"key\":\"k%u\",\"value\":\"v%u\","
		         "\"sensitive\":%s}", (unsigned)(r % 4), k, r % 2 ? "true" : "false");
	} else if (kind < 93) {
		snprintf(json, sizeof json, "{\"type\":\"thread_config\",\"thread\":\"%s\","
		         "\"config\":{\"temperature\":%u}}", thread, (unsigned)(r % 10));
	} else if (kind < 95) {
		snprintf(json, sizeof json, "{\"type\":\"user\",\"user\":\"%s\",\"username\":\"n%u\"}", user, k);
	} else if (kind < 97) {
		snprintf(json, sizeof json, "{\"type\":\"clear_history\",\"user\":\"%s\"}", user);
	} else if (kind < 99) {
		snprintf(json, sizeof json, "{\"type\":\"delete_thread\",\"thread\":\"%s\"}", thread);
	} else {
		snprintf(json, sizeof json, "{\"type\":\"purge\",\"before\":%lld}",
		         1700000000000LL + (long long)((r >> 40) % 50000000));
	}
	if (cj_event_parse(&ev, json, strlen(json)) != 0)
		return NULL;
	return ev;
}

static void nap_ms(long ms)
{
	struct timespec ts = { 0, ms * 1000000L };
	nanosleep(&ts, NULL);
}

int lc_workload(cj_store *s, lc_model *m, uint64_t *rng, unsigned n, char *why, size_t wn)
{
	unsigned k = m ? (unsigned)m->n : 0, done = 0, commits = 0;
	while (done < n) {
		unsigned batch = 1 + (unsigned)(tu_rand(rng) % 16);
		if (batch > n - done)
			batch = n - done;
		cj_event *evs[16];
		char blobs[16][33];
		for (unsigned i = 0; i < batch; i++) {
			if (!(evs[i] = make_event(s, m, rng, k + i, blobs[i]))) {
				for (unsigned j = 0; j < i; j++)
					cj_event_free(evs[j]);
				return failf(why, wn, "workload: event %u: %s", k + i, cj_error_last());
			}
		}
		uint64_t seqs[16];
		int rc = cj_journal_append_batch(seqs, s, (const cj_event *const *)evs, batch);
		for (unsigned i = 0; i < batch; i++) {
			if (!rc && model_add(m, evs[i], seqs[i], blobs[i]) != 0)
				rc = -1;
			cj_event_free(evs[i]);
		}
		if (rc)
			return failf(why, wn, "workload: append: %s", cj_error_last());
		done += batch;
		k += batch;
		if (++commits % 8 == 0)
			nap_ms(1);
	}
	return 0;
}

/* ---- verify ---------------------------------------------------------------- */

int lc_store_hash(char out[33], const char *store)
{
	char path[PATH_MAX];
	tu_path(path, sizeof path, store, "chat.sqlite");
	return cj_projection_hash(out, NULL, path);
}

int lc_verify_store(const char *store, char *why, size_t wn)
{
	cj_store *s;
	cj_store_options o = CJ_STORE_OPTIONS_INIT;
	o.read_only = 1;
	if (cj_store_open(&s, store, &o) != 0)
		return failf(why, wn, "open %s: %s", store, cj_error_last());
	uint64_t checked, bad, pos = 0, last = 0;
	int rc = cj_journal_check(&checked, &bad, s);
	if (rc) {
		failf(why, wn, "journal check: %s", cj_error_last());
		goto out;
	}
	char live[PATH_MAX], tmp[PATH_MAX + 32];
	tu_path(live, sizeof live, store, "chat.sqlite");
	char *report = NULL;
	if ((rc = cj_projection_check(&report, live)) != 0) {
		failf(why, wn, "projection check: %s", report ? report : cj_error_last());
		cj_free(report);
		goto out;
	}
	cj_free(report);
	if ((rc = cj_projection_position(&pos, s)) || (rc = cj_journal_last_seq(&last, s))) {
		failf(why, wn, "position: %s", cj_error_last());
		goto out;
	}
	if (pos > last || pos == 0) {
		rc = failf(why, wn, "position %llu, journal ends at %llu", (unsigned long long)pos,
		           (unsigned long long)last);
		goto out;
	}
	snprintf(tmp, sizeof tmp, "%s.verify-%ld", store, (long)getpid());
	cj_replay_options ro = CJ_REPLAY_OPTIONS_INIT;
	ro.out_path = tmp;
	ro.up_to = pos;
	if ((rc = cj_projection_replay(s, &ro)) != 0) {
		failf(why, wn, "replay to %llu: %s", (unsigned long long)pos, cj_error_last());
		goto out;
	}
	char a[33], b[33];
	if ((rc = cj_projection_hash(a, NULL, live)) || (rc = cj_projection_hash(b, NULL, tmp)))
		failf(why, wn, "hash: %s", cj_error_last());
	else if (strcmp(a, b) != 0) {
		char *diff = NULL;
		cj_projection_diff(&diff, live, tmp);
		rc = failf(why, wn, "state differs from a replay to %llu: %s", (unsigned long long)pos,
		           diff ? diff : "?");
		cj_free(diff);
	}
	unlink(tmp);
out:
	cj_store_close(s);
	return rc ? -1 : 0;
}

/* ---- files ----------------------------------------------------------------- */

int lc_check_modes(const char *root, char *why, size_t wn)
{
	struct stat st;
	if (lstat(root, &st) != 0)
		return failf(why, wn, "%s: %s", root, strerror(errno));
	if (S_ISREG(st.st_mode))
		return (st.st_mode & 07777) == 0600 ? 0
		       : failf(why, wn, "%s has mode %o", root, st.st_mode & 07777);
	if (!S_ISDIR(st.st_mode))
		return 0;
	if ((st.st_mode & 07777) != 0700)
		return failf(why, wn, "folder %s has mode %o", root, st.st_mode & 07777);
	DIR *d = opendir(root);
	if (!d)
		return failf(why, wn, "%s: %s", root, strerror(errno));
	int rc = 0;
	struct dirent *de;
	while (!rc && (de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char child[PATH_MAX];
		tu_path(child, sizeof child, root, de->d_name);
		rc = lc_check_modes(child, why, wn);
	}
	closedir(d);
	return rc;
}

int lc_copy_tree(const char *src, const char *dst)
{
	struct stat st;
	if (lstat(src, &st) != 0)
		return -1;
	if (S_ISDIR(st.st_mode)) {
		if (mkdir(dst, 0700) != 0)
			return -1;
		DIR *d = opendir(src);
		if (!d)
			return -1;
		int rc = 0;
		struct dirent *de;
		while (!rc && (de = readdir(d)) != NULL) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			char a[PATH_MAX], b[PATH_MAX];
			tu_path(a, sizeof a, src, de->d_name);
			tu_path(b, sizeof b, dst, de->d_name);
			rc = lc_copy_tree(a, b);
		}
		closedir(d);
		return rc;
	}
	int in = open(src, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_EXCL, 0600);
	int rc = in < 0 || out < 0 ? -1 : 0;
	char buf[65536];
	ssize_t n;
	while (!rc && (n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n)
			rc = -1;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return rc;
}

int lc_flip_byte(const char *path, uint64_t offset, unsigned char mask)
{
	int fd = open(path, O_RDWR);
	if (fd < 0)
		return -1;
	unsigned char c;
	int rc = pread(fd, &c, 1, (off_t)offset) == 1 ? 0 : -1;
	c ^= mask;
	if (!rc && pwrite(fd, &c, 1, (off_t)offset) != 1)
		rc = -1;
	close(fd);
	return rc;
}

int lc_count_temps(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, ".tmp-", 5) == 0)
			n++;
	closedir(d);
	return n;
}

json_t *lc_json(char *text)
{
	json_t *j = text ? json_loads(text, 0, NULL) : NULL;
	cj_free(text);
	return j;
}

int lc_backup_path(char *out, size_t n, char *manifest_json)
{
	json_t *m = lc_json(manifest_json);
	const char *p = json_string_value(json_object_get(m, "path"));
	int rc = p && strlen(p) < n ? 0 : -1;
	if (!rc)
		memcpy(out, p, strlen(p) + 1);
	json_decref(m);
	return rc;
}
