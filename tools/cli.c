/* tools/cli.c — helpers shared by the `chatjournal` commands: option parsing,
 * one-line errors, JSON output, byte units, UTF-8 checking, progress bar.
 * Output rules live here so that every command follows the CLI contract. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <string.h>
#include <unistd.h>
#include "chatjournal/chatjournal.h"
#include "cli.h"

void cli_print_help(const cli_help *help, FILE *out)
{
	fprintf(out, "usage: chatjournal %s %s\n\n%s", help->name, help->args, help->body);
}

/* Messages may come from the library or from user input (file names): keep
 * the one-line promise by turning control characters into spaces. */
static void print_one_line(const char *prefix, const char *msg)
{
	fputs(prefix, stderr);
	for (const char *c = msg; *c; c++)
		fputc((unsigned char)*c < 0x20 ? ' ' : *c, stderr);
	fputc('\n', stderr);
}

static int vfail(const char *cmd, const char *fmt, va_list ap)
{
	char msg[2048];
	char prefix[128];
	vsnprintf(msg, sizeof msg, fmt, ap);
	snprintf(prefix, sizeof prefix, "chatjournal: %s: ", cmd);
	fflush(stdout);
	print_one_line(prefix, msg);
	return CLI_EXIT_FAIL;
}

int cli_fail(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(cmd, fmt, ap);
	va_end(ap);
	return CLI_EXIT_FAIL;
}

static const char *lib_message(int rc)
{
	const char *m = cj_error_last();
	return (m && *m) ? m : cj_strerror(rc);
}

int cli_fail_lib(const char *cmd, int rc, const char *fmt, ...)
{
	char ctx[1024] = "";
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(ctx, sizeof ctx, fmt, ap);
		va_end(ap);
	}
	if (!ctx[0])
		return cli_fail(cmd, "%s", lib_message(rc));
	return cli_fail(cmd, "%s: %s", ctx, lib_message(rc));
}

const char *cli_error_text(int rc)
{
	const char *m = lib_message(rc);
	const char *f = cj_error_field();
	char lead[96];
	if (!f)
		return m;
	int n = snprintf(lead, sizeof lead, "field '%s': ", f);
	if (n > 0 && (size_t)n < sizeof lead && strncmp(m, lead, (size_t)n) == 0)
		return m + n;
	return m;
}

void cli_line_error(char *out, size_t n, size_t line, int rc)
{
	const char *field = cj_error_field();
	const char *text = cli_error_text(rc);
	const char *l1 = strstr(text, " at line 1, column ");
	int head = l1 ? (int)(l1 - text) + 3 : (int)strlen(text);
	const char *tail = l1 ? l1 + strlen(" at line 1,") : "";
	if (field)
		snprintf(out, n, "line %zu: field '%s': %.*s%s", line, field, head, text, tail);
	else
		snprintf(out, n, "line %zu: %.*s%s", line, head, text, tail);
}

const char *cli_error_text_after(int rc, const char *prefix)
{
	const char *m = cli_error_text(rc);
	size_t n = strlen(prefix);
	if (strncmp(m, prefix, n) == 0 && m[n] == ':' && m[n + 1] == ' ')
		return m + n + 2;
	return m;
}

int cli_usage_error(const cli_help *help, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(help->name, fmt, ap);
	va_end(ap);
	fprintf(stderr, "usage: chatjournal %s %s\n", help->name, help->args);
	return CLI_EXIT_USAGE;
}

static const cli_opt *find_opt(const cli_opt *opts, size_t nopts, const char *arg, size_t len)
{
	for (size_t i = 0; i < nopts; i++)
		if (strlen(opts[i].name) == len && strncmp(opts[i].name, arg, len) == 0)
			return &opts[i];
	return NULL;
}

/* Handle argv[*i], an option; may consume argv[*i + 1] as its value. */
static int parse_option(const cli_help *help, int argc, char **argv, int *i,
                        const cli_opt *opts, size_t nopts)
{
	const char *arg = argv[*i];
	const char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
	const cli_opt *o = find_opt(opts, nopts, arg, len);
	if (!o)
		return cli_usage_error(help, "unknown option '%.*s'", (int)len, arg);
	if (!o->metavar) {
		if (eq)
			return cli_usage_error(help, "option '%s' takes no value", o->name);
		*o->flag = 1;
		return CLI_CONTINUE;
	}
	if (eq) {
		*o->value = eq + 1;
		return CLI_CONTINUE;
	}
	if (*i + 1 >= argc)
		return cli_usage_error(help, "option '%s' needs a value (%s)", o->name, o->metavar);
	*o->value = argv[++*i];
	return CLI_CONTINUE;
}

int cli_parse(const cli_help *help, int argc, char **argv,
              const cli_opt *opts, size_t nopts,
              const char **pos, size_t min_pos, size_t max_pos, size_t *npos)
{
	int only_positionals = 0;
	*npos = 0;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		int is_option = !only_positionals && arg[0] == '-' && arg[1] != '\0';
		if (is_option && strcmp(arg, "--") == 0) {
			only_positionals = 1;
			continue;
		}
		if (is_option && (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)) {
			cli_print_help(help, stdout);
			return CLI_EXIT_OK;
		}
		if (is_option) {
			int rc = parse_option(help, argc, argv, &i, opts, nopts);
			if (rc != CLI_CONTINUE)
				return rc;
			continue;
		}
		if (*npos == max_pos)
			return cli_usage_error(help, "unexpected argument '%s'", arg);
		pos[(*npos)++] = arg;
	}
	if (*npos < min_pos)
		return cli_usage_error(help, "missing argument (expected %s)", help->args);
	return CLI_CONTINUE;
}

json_t *cli_json_u64(uint64_t v)
{
	return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

int cli_print_json(const char *cmd, json_t *obj)
{
	if (!obj)
		return cli_fail(cmd, "out of memory");
	/* No JSON_COMPACT: `{"a": 1, "b": 2}` reads like the examples in docs/cli.md. */
	int rc = json_dumpf(obj, stdout, JSON_PRESERVE_ORDER);
	json_decref(obj);
	if (rc != 0 || fputc('\n', stdout) == EOF)
		return cli_fail(cmd, "cannot write output: %s", strerror(errno));
	return 0;
}

void cli_format_bytes(uint64_t n, char out[64])
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	if (n < 1024) {
		snprintf(out, 64, "%llu bytes", (unsigned long long)n);
		return;
	}
	double v = (double)n / 1024.0;
	size_t u = 0;
	while (v >= 1024.0 && u + 1 < sizeof units / sizeof units[0]) {
		v /= 1024.0;
		u++;
	}
	snprintf(out, 64, "%.1f %s (%llu bytes)", v, units[u], (unsigned long long)n);
}

/* Counts ("1200 / 5000 events") rather than byte units. */
static void progress_draw_count(cli_progress *p)
{
	if (p->total == 0) {
		fprintf(stderr, "\r%s  %llu %s\033[K", p->label, (unsigned long long)p->done, p->unit);
		return;
	}
	uint64_t d = p->done > p->total ? p->total : p->done;
	unsigned pct = (unsigned)((double)d * 100.0 / (double)p->total);
	char bar[31];
	size_t fill = (size_t)((double)d * 30.0 / (double)p->total);
	memset(bar, '#', fill);
	memset(bar + fill, '.', 30 - fill);
	bar[30] = '\0';
	fprintf(stderr, "\r%s [%s] %3u%%  %llu / %llu %s\033[K", p->label, bar, pct,
	        (unsigned long long)d, (unsigned long long)p->total, p->unit);
}

static void progress_draw(cli_progress *p)
{
	char done[64], total[64];
	if (p->unit) {
		progress_draw_count(p);
		return;
	}
	if (p->total == 0) {
		cli_format_bytes(p->done, done);
		char *cut = strstr(done, " (");
		if (cut) *cut = '\0';
		fprintf(stderr, "\r%s  %s\033[K", p->label, done);
		return;
	}
	uint64_t d = p->done > p->total ? p->total : p->done;
	unsigned pct = (unsigned)((double)d * 100.0 / (double)p->total);
	char bar[31];
	size_t fill = (size_t)((double)d * 30.0 / (double)p->total);
	memset(bar, '#', fill);
	memset(bar + fill, '.', 30 - fill);
	bar[30] = '\0';
	cli_format_bytes(d, done);
	cli_format_bytes(p->total, total);
	/* Only the short unit form: cut before " (" exact bytes. */
	char *cut = strstr(done, " (");
	if (cut) *cut = '\0';
	cut = strstr(total, " (");
	if (cut) *cut = '\0';
	fprintf(stderr, "\r%s [%s] %3u%%  %s / %s\033[K", p->label, bar, pct, done, total);
}

void cli_progress_begin(cli_progress *p, const char *label, uint64_t total)
{
	memset(p, 0, sizeof *p);
	p->active = isatty(STDOUT_FILENO) && isatty(STDERR_FILENO);
	p->label = label;
	p->total = total;
	if (p->active)
		progress_draw(p);
}

void cli_progress_begin_count(cli_progress *p, const char *label, uint64_t total,
                              const char *unit)
{
	memset(p, 0, sizeof *p);
	p->active = isatty(STDOUT_FILENO) && isatty(STDERR_FILENO);
	p->label = label;
	p->unit = unit ? unit : "";
	p->total = total;
	if (p->active)
		progress_draw(p);
}

void cli_progress_cb(uint64_t done, uint64_t total, void *arg)
{
	cli_progress *p = arg;
	if (total)
		p->total = total;
	cli_progress_update(p, done);
}

void cli_progress_update(cli_progress *p, uint64_t done)
{
	if (!p->active)
		return;
	p->done = done;
	/* Redraw at most ten times a second: drawing must not cost throughput. */
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	if (now - p->last_draw_ns < 100000000u)
		return;
	p->last_draw_ns = now;
	progress_draw(p);
}

void cli_progress_end(cli_progress *p)
{
	if (!p->active)
		return;
	progress_draw(p);
	fputc('\n', stderr);
	p->active = 0;
}

int cli_parse_u64(const cli_help *help, const char *opt, const char *text,
                  uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	const char *c = text;
	if (!*c)
		goto bad;
	for (; *c; c++) {
		if (*c < '0' || *c > '9')
			goto bad;
		unsigned d = (unsigned)(*c - '0');
		if (v > (UINT64_MAX - d) / 10)
			goto bad;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		goto bad;
	*out = v;
	return CLI_CONTINUE;
bad:
	return cli_usage_error(help, "option '%s' needs an integer from %llu to %llu, got '%s'",
	                       opt, (unsigned long long)min, (unsigned long long)max, text);
}

int cli_parse_limit(const cli_help *help, const char *text, unsigned *out)
{
	uint64_t v;
	if (!text)
		return CLI_CONTINUE;
	int rc = cli_parse_u64(help, "--limit", text, 1, 1000, &v);
	if (rc == CLI_CONTINUE)
		*out = (unsigned)v;
	return rc;
}

int cli_open_store(const char *cmd, const char *path, int read_only, cj_store **out)
{
	cj_store_options o = CJ_STORE_OPTIONS_INIT;
	o.read_only = read_only;
	*out = NULL;
	int rc = cj_store_open(out, path, &o);
	if (rc != 0)
		return cli_fail_lib(cmd, rc, "cannot open store '%s'", path);
	return 0;
}

int cli_projection_path(const char *cmd, const char *store, char *out, size_t n)
{
	size_t len = strlen(store);
	while (len > 1 && store[len - 1] == '/')
		len--;
	int w = snprintf(out, n, "%.*s/chat.sqlite", (int)len, store);
	if (w < 0 || (size_t)w >= n)
		return cli_fail(cmd, "store path too long: %s", store);
	return 0;
}

void cli_put_oneline(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	for (; *p; p++) {
		unsigned char c = *p;
		if (c == '\n')
			fputs("\\n", out);
		else if (c == '\t')
			fputs("\\t", out);
		else if (c == '\r')
			fputs("\\r", out);
		else if (c < 0x20 || c == 0x7f)
			fprintf(out, "\\x%02x", c);
		else if (c == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			fprintf(out, "\\u%04x", (unsigned)*++p);  /* C1 control, e.g. CSI */
		else
			fputc(c, out);
	}
}

int cli_projection_lag(cj_store *s, uint64_t *position, uint64_t *last_seq, uint64_t *lag)
{
	/* Two cheap reads, not cj_query_stats: that one also counts every table. */
	int rc = cj_journal_last_seq(last_seq, s);
	if (rc == 0)
		rc = cj_projection_position(position, s);
	if (rc != 0)
		return rc;
	*lag = *last_seq > *position ? *last_seq - *position : 0;
	return 0;
}

void cli_note_lag(const char *cmd, uint64_t position, uint64_t last_seq)
{
	uint64_t lag = last_seq > position ? last_seq - position : 0;
	fflush(stdout);
	fprintf(stderr, "chatjournal: %s: note: the projection is %llu event%s behind the journal "
	        "(applied up to %llu of %llu); it catches up while the store is open read-write "
	        "('chatjournal serve'), or run 'chatjournal replay STORE'\n", cmd,
	        (unsigned long long)lag, lag == 1 ? "" : "s", (unsigned long long)position,
	        (unsigned long long)last_seq);
}

static const char *str_or(json_t *o, const char *key, const char *dflt)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : dflt;
}

static void print_image(json_t *row)
{
	static const char *const parts[] = { "prompt", "analysis" };
	printf("%-9s  ", "image");
	cli_put_oneline(stdout, str_or(row, "kind", "-"));
	fputs(": ", stdout);
	cli_put_oneline(stdout, str_or(row, "url", ""));
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		const char *v = str_or(row, parts[i], NULL);
		if (v) {
			printf("  %s: ", parts[i]);
			cli_put_oneline(stdout, v);
		}
	}
}

static void print_message(json_t *row)
{
	/* Roles are one of five words; padding keeps contents in a column. */
	const char *role = str_or(row, "role", "-");
	cli_put_oneline(stdout, role);
	size_t len = strlen(role);
	for (size_t i = len; i < 9; i++)
		fputc(' ', stdout);
	fputs("  ", stdout);
	cli_put_oneline(stdout, str_or(row, "user", "-"));
	fputs(": ", stdout);
	cli_put_oneline(stdout, str_or(row, "content", ""));
}

static void print_row(json_t *row, int with_thread)
{
	json_int_t seq = json_integer_value(json_object_get(row, "seq"));
	printf("%lld  ", (long long)seq);
	cli_put_oneline(stdout, str_or(row, "ts", "-"));
	fputs("  ", stdout);
	if (with_thread) {
		cli_put_oneline(stdout, str_or(row, "thread", "-"));
		fputs("  ", stdout);
	}
	if (strcmp(str_or(row, "type", ""), "image") == 0)
		print_image(row);
	else
		print_message(row);
	fputc('\n', stdout);
}

int cli_print_rows(const char *cmd, const char *json, int with_thread)
{
	json_error_t e;
	json_t *arr = json_loads(json, 0, &e);
	if (!json_is_array(arr)) {
		json_decref(arr);
		return cli_fail(cmd, "unexpected query result: %s", e.text);
	}
	size_t i;
	json_t *row;
	json_array_foreach(arr, i, row)
		print_row(row, with_thread);
	json_decref(arr);
	return 0;
}

int cli_finish_rows(const char *cmd, cj_store *s, char *out, int json, int with_thread)
{
	int status = CLI_EXIT_OK;
	if (json) {
		fputs(out, stdout);
		fputc('\n', stdout);
	} else {
		uint64_t position, last, lag;
		if (cli_print_rows(cmd, out, with_thread) != 0)
			status = CLI_EXIT_FAIL;
		else if (cli_projection_lag(s, &position, &last, &lag) == 0 && lag > 0)
			cli_note_lag(cmd, position, last);
	}
	cj_free(out);
	cj_store_close(s);
	return status;
}
