/* tools/cmd_export.c — `chatjournal export STORE [--thread T | --user U
 * [--server S] | --all] --format jsonl|markdown|openai [--out FILE]`: the
 * export library (chatjournal/export.h) writing to stdout or to FILE. FILE
 * is written under a temporary name beside it (mode 0600), synced and
 * renamed at the end, so it is whole or absent. The store is opened
 * read-only (safe beside a running server); markdown and openai show the
 * projection as of its last materialization. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "chatjournal/export.h"
#include "cli.h"

static const cli_help help = {
	"export", "STORE [--thread T | --user U [--server S] | --all] --format jsonl|markdown|openai "
	"[--out FILE]",
	"Write a thread, a user's messages or the whole store in one of three formats\n"
	"(docs/export.md):\n\n"
	"  jsonl     the journal's events in order, one JSON object per line: the event's\n"
	"            canonical JSON with \"seq\", and \"redacted\": true for what compaction\n"
	"            erased. Lossless: appending the lines (without seq and redacted) to\n"
	"            an empty store rebuilds the same projection. With --thread or\n"
	"            --user: the events naming that thread or user.\n"
	"  markdown  the conversations for people: title, names, times, edits,\n"
	"            attachments, reactions; names and text escaped\n"
	"  openai    {\"messages\":[...]} as an OpenAI chat-completions request takes it,\n"
	"            one line per thread\n\n"
	"Scope (exactly one):\n"
	"  --thread T    one thread\n"
	"  --user U      user U's messages in every thread (markdown, openai) or the\n"
	"                events naming U (jsonl); --server S: on that server only\n"
	"  --all         the whole store\n\n"
	"Options:\n"
	"  --format F    jsonl, markdown or openai (required)\n"
	"  --out FILE    write FILE (mode 0600; whole or not at all) instead of stdout;\n"
	"                a summary goes to stderr\n\n"
	"Memory stays bounded whatever the store's size. The store is opened\n"
	"read-only, so this is safe next to a running server.\n"
};

typedef struct out_file {
	int fd;
	const char *name;     /* for messages */
} out_file;

static int write_all(void *arg, const char *data, size_t len)
{
	out_file *f = arg;
	while (len) {
		ssize_t n = write(f->fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cj_error_set(CJ_EIO, NULL, "writing %s: %s", f->name, strerror(errno));
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static int parse_format(cj_export_format *out, const char *f)
{
	static const struct { const char *name; cj_export_format v; } F[] = {
		{ "jsonl", CJ_EXPORT_JSONL }, { "markdown", CJ_EXPORT_MARKDOWN }, { "openai", CJ_EXPORT_OPENAI },
	};
	for (size_t i = 0; i < sizeof F / sizeof F[0]; i++)
		if (!strcmp(f, F[i].name)) {
			*out = F[i].v;
			return 0;
		}
	return -1;
}

int cmd_export(int argc, char **argv)
{
	cj_export_options o = CJ_EXPORT_OPTIONS_INIT;
	const char *format = NULL, *out = NULL;
	const cli_opt opts[] = {
		{ "--thread", "T", NULL, &o.thread },
		{ "--user", "U", NULL, &o.user },
		{ "--server", "S", NULL, &o.server },
		{ "--all", NULL, &o.all, NULL },
		{ "--format", "F", NULL, &format },
		{ "--out", "FILE", NULL, &out },
	};
	const char *pos[1];
	size_t npos;
	int rc = cli_parse(&help, argc, argv, opts, sizeof opts / sizeof opts[0], pos, 1, 1, &npos);
	if (rc != CLI_CONTINUE)
		return rc;
	if (!format)
		return cli_usage_error(&help, "--format is required (jsonl, markdown or openai)");
	if (parse_format(&o.format, format))
		return cli_usage_error(&help, "--format must be jsonl, markdown or openai, not '%s'", format);
	int scopes = !!o.thread + !!o.user + !!o.all;
	if (scopes != 1)
		return cli_usage_error(&help, "give exactly one of --thread, --user, --all");
	if (o.server && !o.user)
		return cli_usage_error(&help, "--server goes with --user");
	if ((o.thread && !*o.thread) || (o.user && !*o.user) || (o.server && !*o.server))
		return cli_usage_error(&help, "--thread, --user and --server must not be empty");
	if (out && !*out)
		return cli_usage_error(&help, "--out must name a file");

	cj_store *s;
	if (cli_open_store("export", pos[0], 1, &s) != 0)
		return CLI_EXIT_FAIL;
	char tmp[4200] = "";
	out_file f = { STDOUT_FILENO, "standard output" };
	if (out) {
		int w = snprintf(tmp, sizeof tmp, "%s.tmp-%ld", out, (long)getpid());
		if (w < 0 || (size_t)w >= sizeof tmp) {
			cj_store_close(s);
			return cli_fail("export", "--out path too long");
		}
		f.fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		f.name = out;
		if (f.fd < 0) {
			cj_store_close(s);
			return cli_fail("export", "cannot create %s: %s", tmp, strerror(errno));
		}
	}
	o.write = write_all;
	o.write_arg = &f;
	cj_export_stats st;
	uint64_t position = 0, last = 0, lag = 0;
	int lagging = o.format != CJ_EXPORT_JSONL && cli_projection_lag(s, &position, &last, &lag) == 0 &&
	              lag > 0;
	rc = cj_export(&st, s, &o);
	cj_store_close(s);
	if (lagging)
		cli_note_lag("export", position, last); /* markdown and openai read the projection */
	if (!rc && out && (fsync(f.fd) != 0 || close(f.fd) != 0 || rename(tmp, out) != 0)) {
		rc = cj_error_set(CJ_EIO, NULL, "finishing %s: %s", out, strerror(errno));
		f.fd = -1;
	} else if (out && rc) {
		close(f.fd);
	}
	if (rc) {
		if (out)
			unlink(tmp);
		return cli_fail("export", "%s", cli_error_text_after(rc, "export"));
	}
	if (out) {
		if (o.format == CJ_EXPORT_JSONL)
			fprintf(stderr, "exported %llu events (%llu redacted) to %s\n",
			        (unsigned long long)st.events, (unsigned long long)st.redacted, out);
		else
			fprintf(stderr, "exported %llu messages in %llu threads to %s\n",
			        (unsigned long long)st.messages, (unsigned long long)st.threads, out);
	}
	return CLI_EXIT_OK;
}
