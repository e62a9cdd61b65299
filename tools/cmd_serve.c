/* tools/cmd_serve.c — `chatjournal serve STORE...`: the HTTP/JSON service
 * (cj_http_serve) in the foreground until SIGTERM or SIGINT. A store that has
 * no tokens file yet gets a first read+write token, shown once on stderr
 * with a curl line to try it, so a new install is usable at once. The
 * descriptor limit is raised to its hard limit: every connection is one. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "chatjournal/chatjournal.h"
#include "chatjournal/http.h"
#include "cli.h"

#define MAX_STORES 64

static const cli_help help = {
	"serve", "STORE... [--listen ADDR:PORT|unix:PATH] [--max-body BYTES] [--rate N] [OPTIONS]",
	"Serve the stores over HTTP/JSON (docs/http.md) in the foreground, until\n"
	"SIGTERM or SIGINT (Ctrl-C): then no new connection is accepted, requests\n"
	"in flight are answered (appends once durable), the stores are closed and\n"
	"the command exits 0.\n\n"
	"Every route but /healthz needs \"Authorization: Bearer TOKEN\"; a token\n"
	"grants one store, read-only or read+write, and decides which store a\n"
	"request uses. Tokens live in each store, in STORE/tokens.json (only\n"
	"their SHA-256); manage them with 'chatjournal token'. A token added or\n"
	"revoked takes effect within a second, without a restart. When a store\n"
	"has no tokens file yet, serve creates a read+write token labelled\n"
	"\"initial\" and prints it once on stderr with a curl example.\n\n"
	"At start each store's projection is checked (SQLite's quick_check, 1-4 s\n"
	"per GB); a damaged one is refused, with the advice to run\n"
	"'chatjournal replay'.\n\n"
	"Stderr carries \"listening on ADDR\" once ready, then one JSON line per\n"
	"request with its request id (never a body, never a token), and one per\n"
	"query slower than the slow-query threshold.\n\n"
	"Options:\n"
	"  --listen ADDR:PORT|unix:PATH  where to listen (default 127.0.0.1:8080;\n"
	"                                port 0 picks a free port; [::1]:PORT for\n"
	"                                IPv6; a Unix socket gets mode 0600)\n"
	"  --max-body BYTES              largest request body (default 8 MiB;\n"
	"                                blob uploads: the store's max_blob)\n"
	"  --rate N                      requests per second per token (default 0:\n"
	"                                unlimited); beyond it: 429\n"
	"  --max-connections N           open connections at most (default 4096)\n"
	"  --max-per-ip N                connections per client address (default 64;\n"
	"                                conf http.max_connections_per_ip)\n"
	"  --head-timeout-ms MS          a request head must be complete this soon\n"
	"                                (default 10000; conf http.head_timeout_ms)\n"
	"  --max-inflight-body BYTES     request bodies held at once, all clients;\n"
	"                                beyond it 503 (default 256 MiB; conf\n"
	"                                http.max_inflight_body)\n"
	"  --slow-query-ms MS            log queries at least this slow (default 100;\n"
	"                                0: every query; conf http.slow_query_ms)\n"
	"  --trusted-proxies LIST        comma-separated addresses or ADDR/PREFIX whose\n"
	"                                X-Forwarded-For is believed (conf\n"
	"                                http.trusted_proxies)\n"
	"  --workers N                   threads for blocking work (default 8 x cores,\n"
	"                                4 to 16)\n"
	"  --stream-ping-ms MS           a change-feed stream with nothing to send gets\n"
	"                                a ': ping' this often (default 15000; 10\n"
	"                                to 25000)\n"
	"  --stream-stall-ms MS          a stream whose consumer takes nothing this\n"
	"                                long is ended with a resume frame (default\n"
	"                                10000; 10 to 25000)\n"
	"  --skip-start-check            open the stores without the projection check\n"
	"                                (conf http.start_check: false)\n"
	"  --backup-every DURATION       take a backup this often (30m, 6h, 1d; off\n"
	"                                unless given) into STORE/backups, pruned to\n"
	"                                retention.backup_keep_days\n"
	"  --backup-dir DIR              where scheduled backups go (one store only)\n"
	"  --no-maintenance              no housekeeping: without it, each store's\n"
	"                                retention rules are applied at start and\n"
	"                                daily and it is compacted daily and past\n"
	"                                compaction.threshold_bytes (by the serve\n"
	"                                that materializes it; docs/operations.md)\n"
	"  --tokens FILE                 not supported: tokens are per store, in\n"
	"                                STORE/tokens.json (see above)\n"
	"Flags override the stores' chatjournal.conf http.* keys; with several\n"
	"stores the strictest value of each key is in force (docs/operations.md).\n"
};

/* The write end of the pipe cj_http_serve watches (stop_fd): the signal
 * handler writes one byte, which is async-signal-safe and race-free. The
 * one piece of global state in the tool: a handler can reach nothing else. */
static int stop_write_fd = -1;

static void on_signal(int sig)
{
	(void)sig;
	int e = errno;
	if (write(stop_write_fd, "x", 1) < 0) {
		/* The pipe is full: a stop is already pending. */
	}
	errno = e;
}

/* Thousands of connections need thousands of descriptors. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int install_handlers(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
		return -1;
	/* A client that hangs up must not kill the server. */
	sa.sa_handler = SIG_IGN;
	return sigaction(SIGPIPE, &sa, NULL);
}

typedef struct first_token {
	const char *store;
	char path[4300];          /* STORE/tokens.json, created by us */
	char token[CJ_TOKEN_MAX];
} first_token;

typedef struct serve_ctx {
	first_token firsts[MAX_STORES];
	size_t nfirsts;
} serve_ctx;

static void print_first_token(const first_token *f, const char *addr)
{
	fprintf(stderr, "store %s had no token: created a read+write token (label \"initial\"),"
	        " shown only this once:\n  %s\n", f->store, f->token);
	if (strncmp(addr, "unix:", 5) == 0)
		fprintf(stderr, "try:\n  curl --unix-socket %s -H \"Authorization: Bearer %s\" -H "
		        "'Content-Type: application/json' -d '{\"type\":\"message\",\"thread\":\"T1\","
		        "\"role\":\"user\",\"content\":\"hello\"}' http://localhost/v1/events\n",
		        addr + 5, f->token);
	else
		fprintf(stderr, "try:\n  curl -H \"Authorization: Bearer %s\" -H 'Content-Type: "
		        "application/json' -d '{\"type\":\"message\",\"thread\":\"T1\",\"role\":\"user\","
		        "\"content\":\"hello\"}' http://%s/v1/events\n", f->token, addr);
	fprintf(stderr, "more tokens: chatjournal token add %s [--read-only]\n", f->store);
}

static void on_ready(const char *addr, void *arg)
{
	serve_ctx *c = arg;
	fprintf(stderr, "listening on %s\n", addr);
	for (size_t i = 0; i < c->nfirsts; i++) {
		print_first_token(&c->firsts[i], addr);
		/* Shown once: nothing keeps it after this. */
		memset(c->firsts[i].token, 0, sizeof c->firsts[i].token);
	}
	fflush(stderr);
}

/* A store without tokens.json gets its first token now: cj_http_serve reads
 * the tokens when it opens the stores. */
static int make_first_tokens(serve_ctx *c, const char *const *stores, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		first_token *f = &c->firsts[c->nfirsts];
		size_t len = strlen(stores[i]);
		while (len > 1 && stores[i][len - 1] == '/')
			len--;
		int w = snprintf(f->path, sizeof f->path, "%.*s/tokens.json", (int)len, stores[i]);
		if (w < 0 || (size_t)w >= sizeof f->path)
			return cli_fail("serve", "store path too long: %s", stores[i]);
		struct stat st;
		if (stat(f->path, &st) == 0)
			continue;
		if (errno != ENOENT)
			return cli_fail("serve", "%s: %s", f->path, strerror(errno));
		int rc = cj_token_add(f->token, stores[i], 1, "initial");
		if (rc != 0)
			return cli_fail_lib("serve", rc, "cannot open store '%s'", stores[i]);
		f->store = stores[i];
		c->nfirsts++;
	}
	return 0;
}

/* serve failed before the tokens were shown: a token nobody saw would only
 * lock the owner out of the next "first token", so take the files back. */
static void drop_first_tokens(serve_ctx *c)
{
	for (size_t i = 0; i < c->nfirsts; i++) {
		if (c->firsts[i].token[0])
			unlink(c->firsts[i].path);
		memset(c->firsts[i].token, 0, sizeof c->firsts[i].token);
	}
}

/* LMDB forbids opening one environment twice in a process. */
static int check_distinct(const char *const *stores, size_t n)
{
	struct stat a, b;
	for (size_t i = 0; i < n; i++) {
		if (stat(stores[i], &a) != 0)
			continue; /* cj_http_serve reports it */
		for (size_t j = 0; j < i; j++)
			if (stat(stores[j], &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
				return cli_fail("serve", "store '%s' is given twice (as '%s')", stores[i],
				                stores[j]);
	}
	return 0;
}

int cmd_serve(int argc, char **argv)
{
	const char *listen = NULL, *max_body_s = NULL, *rate_s = NULL, *tokens = NULL;
	const char *maxconn_s = NULL, *per_ip_s = NULL, *head_s = NULL, *inflight_s = NULL;
	const char *slow_s = NULL, *proxies = NULL, *workers_s = NULL;
	const char *ping_s = NULL, *stall_s = NULL;
	const char *backup_every = NULL, *backup_dir = NULL;
	int skip_check = 0, no_maint = 0;
	const cli_opt opts[] = {
		{ "--listen", "ADDR:PORT|unix:PATH", NULL, &listen },
		{ "--max-body", "BYTES", NULL, &max_body_s },
		{ "--rate", "N", NULL, &rate_s },
		{ "--max-connections", "N", NULL, &maxconn_s },
		{ "--max-per-ip", "N", NULL, &per_ip_s },
		{ "--head-timeout-ms", "MS", NULL, &head_s },
		{ "--max-inflight-body", "BYTES", NULL, &inflight_s },
		{ "--slow-query-ms", "MS", NULL, &slow_s },
		{ "--trusted-proxies", "LIST", NULL, &proxies },
		{ "--workers", "N", NULL, &workers_s },
		{ "--stream-ping-ms", "MS", NULL, &ping_s },
		{ "--stream-stall-ms", "MS", NULL, &stall_s },
		{ "--skip-start-check", NULL, &skip_check, NULL },
		{ "--backup-every", "DURATION", NULL, &backup_every },
		{ "--backup-dir", "DIR", NULL, &backup_dir },
		{ "--no-maintenance", NULL, &no_maint, NULL },
		{ "--tokens", "FILE", NULL, &tokens },
	};
	const char *pos[MAX_STORES];
	size_t npos;
	int rc = cli_parse(&help, argc, argv, opts, sizeof opts / sizeof opts[0], pos, 1,
	                   MAX_STORES, &npos);
	if (rc != CLI_CONTINUE)
		return rc;
	if (tokens)
		return cli_usage_error(&help, "option '--tokens' is not supported: tokens live in each "
		                       "store, in STORE/tokens.json; create them with 'chatjournal "
		                       "token add STORE'");
	cj_http_options o = CJ_HTTP_OPTIONS_INIT;
	uint64_t v;
	if (max_body_s) {
		if ((rc = cli_parse_u64(&help, "--max-body", max_body_s, 1, (uint64_t)1 << 30, &v)) !=
		    CLI_CONTINUE)
			return rc;
		o.max_body = (size_t)v;
	}
	if (rate_s) {
		if ((rc = cli_parse_u64(&help, "--rate", rate_s, 0, 1000000, &v)) != CLI_CONTINUE)
			return rc;
		o.rate_per_token = (unsigned)v;
	}
	struct { const char *flag, *text; uint64_t lo, hi; unsigned *out; } nums[] = {
		{ "--max-connections", maxconn_s, 1, 1000000, &o.max_connections },
		{ "--max-per-ip", per_ip_s, 1, 1000000, &o.max_per_ip },
		{ "--head-timeout-ms", head_s, 1, 3600000, &o.head_timeout_ms },
		{ "--workers", workers_s, 1, 1024, &o.workers },
		{ "--stream-ping-ms", ping_s, 10, CJ_HTTP_MAX_STREAM_STALL_MS, &o.stream_ping_ms },
		{ "--stream-stall-ms", stall_s, 10, CJ_HTTP_MAX_STREAM_STALL_MS, &o.stream_stall_ms },
	};
	for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
		if (!nums[i].text)
			continue;
		if ((rc = cli_parse_u64(&help, nums[i].flag, nums[i].text, nums[i].lo, nums[i].hi, &v)) !=
		    CLI_CONTINUE)
			return rc;
		*nums[i].out = (unsigned)v;
	}
	if (inflight_s) {
		if ((rc = cli_parse_u64(&help, "--max-inflight-body", inflight_s, 1, (uint64_t)1 << 40,
		                        &v)) != CLI_CONTINUE)
			return rc;
		o.max_inflight_body = v;
	}
	if (slow_s) {
		if ((rc = cli_parse_u64(&help, "--slow-query-ms", slow_s, 0, 3600000, &v)) != CLI_CONTINUE)
			return rc;
		o.slow_query_ms = (int)v;
	}
	o.trusted_proxies = proxies;
	o.skip_start_check = skip_check;
	o.no_maintenance = no_maint;
	if (backup_every) {
		int64_t ms;
		if (cj_duration_parse(&ms, backup_every) != 0 || ms < 60000)
			return cli_usage_error(&help, "option '--backup-every': '%s' is not a duration of a "
			                       "minute or more (30m, 6h, 1d)", backup_every);
		if (no_maint)
			return cli_usage_error(&help, "options '--backup-every' and '--no-maintenance' "
			                       "contradict each other");
		o.backup_every_ms = ms;
	}
	if (backup_dir && !backup_every)
		return cli_usage_error(&help, "option '--backup-dir' needs '--backup-every'");
	if (backup_dir && npos > 1)
		return cli_usage_error(&help, "option '--backup-dir' serves one store only (each store's "
		                       "backups go to STORE/backups without it)");
	o.backup_dir = backup_dir;
	if (listen && !*listen)
		return cli_usage_error(&help, "option '--listen' needs an address");
	if (check_distinct(pos, npos) != 0)
		return CLI_EXIT_FAIL;
	int stop_pipe[2];
	if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		return cli_fail("serve", "cannot create a pipe: %s", strerror(errno));
	stop_write_fd = stop_pipe[1];
	if (install_handlers() != 0)
		return cli_fail("serve", "cannot install signal handlers: %s", strerror(errno));
	raise_fd_limit();

	serve_ctx *c = calloc(1, sizeof *c);
	if (!c)
		return cli_fail("serve", "out of memory");
	if (make_first_tokens(c, pos, npos) != 0) {
		drop_first_tokens(c);
		free(c);
		return CLI_EXIT_FAIL;
	}
	o.stores = pos;
	o.nstores = npos;
	o.listen = listen;
	o.stop_fd = stop_pipe[0];
	o.ready = on_ready;
	o.ready_arg = c;
	rc = cj_http_serve(&o);
	if (rc != 0) {
		/* Why it stops: the library's message (a refused store names itself
		 * and, for a damaged projection, says to run 'chatjournal replay'). */
		cli_fail_lib("serve", rc, NULL);
		drop_first_tokens(c);
		free(c);
		return CLI_EXIT_FAIL;
	}
	free(c);
	fputs("stopped: requests answered, stores closed\n", stderr);
	return CLI_EXIT_OK;
}
