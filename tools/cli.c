/* tools/cli.c — helpers shared by the `chatjournal` commands: option parsing,
 * one-line errors, JSON output, byte units, UTF-8 checking, progress bar.
 * Output rules live here so that every command follows the CLI contract. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "chatjournal/chatjournal.h"
#include "common/timeutil.h"
#include "tools/cli.h"

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
	/* No JSON_COMPACT: `{"a": 1, "b": 2}` reads like the SPEC examples. */
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

/* Length of the UTF-8 sequence starting at s[0] (RFC 3629 table), 0 if the
 * sequence is malformed or truncated. */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
	unsigned char c = s[0];
	size_t need;
	unsigned char lo = 0x80, hi = 0xBF;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		need = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		need = 3;
		if (c == 0xE0) lo = 0xA0;       /* overlong */
		if (c == 0xED) hi = 0x9F;       /* surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 4;
		if (c == 0xF0) lo = 0x90;       /* overlong */
		if (c == 0xF4) hi = 0x8F;       /* past U+10FFFF */
	} else
		return 0;
	if (left < need || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t k = 2; k < need; k++)
		if (s[k] < 0x80 || s[k] > 0xBF)
			return 0;
	return need;
}

size_t cli_utf8_check(const unsigned char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		size_t n = utf8_seq(s + i, len - i);
		if (n == 0)
			return i;
		i += n;
	}
	return len;
}

static void progress_draw(cli_progress *p)
{
	char done[64], total[64];
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

void cli_progress_update(cli_progress *p, uint64_t done)
{
	if (!p->active)
		return;
	p->done = done;
	/* Redraw at most ten times a second: drawing must not cost throughput. */
	uint64_t now = cji_mono_ns();
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
