/* tests/testutil.c — shared test helpers (see testutil.h). Plain C, no cmocka:
 * usable from worker threads and forked children. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "testutil.h"

int tu_mktempdir(char *out, size_t n, const char *tag)
{
	const char *base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	char tmpl[PATH_MAX];
	int w = snprintf(tmpl, sizeof tmpl, "%s/cjtest-%s.XXXXXX", base, tag);
	if (w < 0 || (size_t)w >= sizeof tmpl) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (!mkdtemp(tmpl))
		return -1;
	char real[PATH_MAX];
	if (!realpath(tmpl, real))
		return -1;
	if (strlen(real) + 1 > n) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(out, real, strlen(real) + 1);
	return 0;
}

int tu_rmrf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char child[PATH_MAX];
		int w = snprintf(child, sizeof child, "%s/%s", path, de->d_name);
		if (w < 0 || (size_t)w >= sizeof child) {
			rc = -1;
			continue;
		}
		if (tu_rmrf(child) != 0)
			rc = -1;
	}
	closedir(d);
	if (rmdir(path) != 0)
		rc = -1;
	return rc;
}

void tu_path(char *out, size_t n, const char *dir, const char *name)
{
	int w = snprintf(out, n, "%s/%s", dir, name);
	if (w < 0 || (size_t)w >= n)
		abort();
}

int tu_store_create(cj_store **out, const char *path, const cj_store_options *opts)
{
	*out = NULL;
	int rc = cj_store_init(path, opts);
	if (rc != 0)
		return rc;
	return cj_store_open(out, path, opts);
}

cj_event *tu_message(const char *thread, const char *content, const char *id, int64_t ts_ms)
{
	cj_event *ev = NULL;
	if (cj_event_new(&ev, "message") != 0)
		return NULL;
	if (cj_event_set_string(ev, "thread", thread) != 0 ||
	    cj_event_set_string(ev, "role", "user") != 0 ||
	    cj_event_set_string(ev, "content", content) != 0 ||
	    (id && cj_event_set_string(ev, "id", id) != 0) ||
	    (ts_ms != 0 && cj_event_set_int(ev, "ts", ts_ms) != 0)) {
		cj_event_free(ev);
		return NULL;
	}
	return ev;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

int tu_read_all(cj_store *s, uint64_t from_seq, tu_recs *out)
{
	memset(out, 0, sizeof *out);
	cj_journal_iter *it = NULL;
	int rc = cj_journal_iter_new(&it, s, from_seq);
	if (rc != 0)
		return rc;
	size_t corrupt_run = 0;  /* guards against an iterator that does not move on */
	for (;;) {
		cj_record rec;
		memset(&rec, 0, sizeof rec);
		rc = cj_journal_iter_next(&rec, it);
		if (rc == 0)
			break;
		if (rc == CJ_ECORRUPT) {
			if (++corrupt_run > 100000)
				goto done;
			if (out->corrupt++ == 0) {
				out->first_corrupt_seq = rec.seq;
				snprintf(out->corrupt_msg, sizeof out->corrupt_msg, "%s",
				         cj_error_last());
			}
			continue;
		}
		if (rc < 0)
			goto done;
		corrupt_run = 0;
		if (out->n == out->cap) {
			size_t cap = out->cap ? out->cap * 2 : 256;
			tu_rec *v = realloc(out->v, cap * sizeof *v);
			if (!v) {
				rc = CJ_ENOMEM;
				goto done;
			}
			out->v = v;
			out->cap = cap;
		}
		tu_rec *r = &out->v[out->n++];
		r->seq = rec.seq;
		r->type = rec.type;
		r->ts_ms = rec.ts_ms;
		r->flags = rec.flags;
		r->id = dup_or_null(rec.event ? cj_event_get_string(rec.event, "id") : NULL);
		r->thread = dup_or_null(rec.event ? cj_event_get_string(rec.event, "thread") : NULL);
		r->content = dup_or_null(rec.event ? cj_event_get_string(rec.event, "content") : NULL);
	}
	rc = 0;
done:
	cj_journal_iter_free(it);
	return rc;
}

void tu_recs_free(tu_recs *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].id);
		free(r->v[i].thread);
		free(r->v[i].content);
	}
	free(r->v);
	memset(r, 0, sizeof *r);
}

int tu_msg_names_number(const char *msg, uint64_t v)
{
	char num[32];
	snprintf(num, sizeof num, "%llu", (unsigned long long)v);
	size_t len = strlen(num);
	for (const char *p = strstr(msg, num); p; p = strstr(p + 1, num)) {
		int digit_before = p > msg && p[-1] >= '0' && p[-1] <= '9';
		int digit_after = p[len] >= '0' && p[len] <= '9';
		if (!digit_before && !digit_after)
			return 1;
	}
	return 0;
}

uint64_t tu_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t tu_rand(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

int tu_find_file(const char *root, const char *name, char *out, size_t n)
{
	DIR *d = opendir(root);
	if (!d)
		return -1;
	int rc = -1;
	struct dirent *de;
	while (rc != 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char child[PATH_MAX];
		int w = snprintf(child, sizeof child, "%s/%s", root, de->d_name);
		if (w < 0 || (size_t)w >= sizeof child)
			continue;
		struct stat st;
		if (lstat(child, &st) != 0)
			continue;
		if (S_ISREG(st.st_mode) && strcmp(de->d_name, name) == 0) {
			if (strlen(child) + 1 <= n) {
				memcpy(out, child, strlen(child) + 1);
				rc = 0;
			}
		} else if (S_ISDIR(st.st_mode)) {
			rc = tu_find_file(child, name, out, n);
		}
	}
	closedir(d);
	return rc;
}

unsigned long tu_env_ulong(const char *name, unsigned long def)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return def;
	char *end = NULL;
	errno = 0;
	unsigned long r = strtoul(v, &end, 10);
	if (errno != 0 || !end || *end != '\0')
		return def;
	return r;
}

int tu_fixture_setup(void **state, const char *tag, const cj_store_options *opts)
{
	return tu_fixture_setup_ex(state, sizeof(tu_fixture), tag, opts, 0);
}

int tu_fixture_setup_ex(void **state, size_t size, const char *tag,
                        const cj_store_options *opts, unsigned flags)
{
	if (size < sizeof(tu_fixture))
		abort(); /* a test's fixture must start with a tu_fixture */
	tu_fixture *f = calloc(1, size);
	if (!f || tu_mktempdir(f->dir, sizeof f->dir, tag) != 0) {
		fprintf(stderr, "fixture %s: temporary folder: %s\n", tag, strerror(errno));
		free(f);
		return -1;
	}
	tu_path(f->store, sizeof f->store, f->dir, "store");
	if (!(flags & TU_FIXTURE_NO_STORE)) {
		int rc = tu_store_create(&f->s, f->store, opts);
		if (rc != 0) {
			fprintf(stderr, "fixture %s: creating %s: %s: %s\n", tag, f->store,
			        cj_strerror(rc), cj_error_last());
			tu_rmrf(f->dir);
			free(f);
			return -1;
		}
	}
	*state = f;
	return 0;
}

int tu_fixture_teardown(void **state)
{
	tu_fixture *f = *state;
	cj_store_close(f->s);
	tu_rmrf(f->dir);
	free(f);
	return 0;
}

int tu_flip_marker(const char *root, const char *name, const char *marker, unsigned *hits)
{
	*hits = 0;
	char path[PATH_MAX];
	if (tu_find_file(root, name, path, sizeof path) != 0)
		return -1;
	int fd = open(path, O_RDWR);
	if (fd < 0)
		return -1;
	struct stat st;
	char *buf = NULL;
	int rc = -1;
	if (fstat(fd, &st) != 0 || !(buf = malloc((size_t)st.st_size + 1)) ||
	    pread(fd, buf, (size_t)st.st_size, 0) != (ssize_t)st.st_size)
		goto out;
	size_t size = (size_t)st.st_size, mlen = strlen(marker);
	for (size_t off = 0; off + mlen <= size; off++) {
		if (memcmp(buf + off, marker, mlen) != 0)
			continue;
		char c = (char)(buf[off + 2] ^ 0x01);
		if (pwrite(fd, &c, 1, (off_t)(off + 2)) != 1)
			goto out;
		(*hits)++;
	}
	rc = fsync(fd) == 0 ? 0 : -1;
out:
	free(buf);
	close(fd);
	return rc;
}

int tu_set_conf(const char *store, const char *section, const char *key, const char *json)
{
	char path[4200];
	tu_path(path, sizeof path, store, "chatjournal.conf");
	json_t *root = json_load_file(path, 0, NULL);
	json_t *val = json_loads(json, JSON_DECODE_ANY, NULL);
	json_t *sec = json_is_object(root) && key ? json_object_get(root, section) : NULL;
	if (json_is_object(root) && key && !sec) {
		sec = json_object();
		json_object_set_new(root, section, sec);
	}
	int rc = -1;
	if (val && json_object_set_new(key ? sec : root, key ? key : section, val) == 0) {
		val = NULL;
		rc = json_dump_file(root, path, JSON_INDENT(2)) == 0 ? 0 : -1;
	}
	json_decref(val);
	json_decref(root);
	return rc;
}
