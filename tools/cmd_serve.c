/* tools/cmd_serve.c — `chatjournal serve STORE...`: the HTTP/JSON service
 * (cj_http_serve) in the foreground until SIGTERM or SIGINT. A store that has
 * no tokens file yet gets a first read+write token, shown once on stderr
 * with a curl line to try it, so a new install is usable at once. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "chatjournal/chatjournal.h"
#include "chatjournal/http.h"
#include "cli.h"

#define MAX_STORES 64

static const cli_help help = {
	"serve", "STORE... [--listen ADDR:PORT|unix:PATH] [--max-body BYTES] [--rate N]",
	"Serve the stores over HTTP/JSON (docs/http.md) in the foreground, until\n"
	"SIGTERM or SIGINT (Ctrl-C): then no new connection is accepted, requests\n"
	"in flight are answered (appends once durable), the stores are closed and\n"
	"the command exits 0.\n\n"
	"Every route but /healthz needs \"Authorization: Bearer TOKEN\"; a token\n"
	"grants one store, read-only or read+write, and decides which store a\n"
	"request uses. Tokens live in each store, in STORE/tokens.json (only\n"
	"their SHA-256); manage them with 'chatjournal token'. Tokens are read\n"
	"at start: restart the server after adding or revoking one. When a store\n"
	"has no tokens file yet, serve creates a read+write token labelled\n"
	"\"initial\" and prints it once on stderr with a curl example.\n\n"
	"Stderr carries \"listening on ADDR\" once ready, then one JSON line per\n"
	"request (never a body, never a token).\n\n"
	"Options:\n"
	"  --listen ADDR:PORT|unix:PATH  where to listen (default 127.0.0.1:8080;\n"
	"                                port 0 picks a free port; [::1]:PORT for\n"
	"                                IPv6; a Unix socket gets mode 0600)\n"
	"  --max-body BYTES              largest request body (default 8 MiB;\n"
	"                                blob uploads: the store's max_blob)\n"
	"  --rate N                      requests per second per token (default 0:\n"
	"                                unlimited); beyond it: 429\n"
	"  --tokens FILE                 not supported: tokens are per store, in\n"
	"                                STORE/tokens.json (see above)\n"
};

/* Set from the signal handler; cj_http_serve polls it. The one piece of
 * global mutable state in the tool: a handler can reach nothing else. */
static volatile int stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
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
	fprintf(stderr, "more tokens: chatjournal token add %s [--read-only] (then restart serve)\n",
	        f->store);
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
	const cli_opt opts[] = {
		{ "--listen", "ADDR:PORT|unix:PATH", NULL, &listen },
		{ "--max-body", "BYTES", NULL, &max_body_s },
		{ "--rate", "N", NULL, &rate_s },
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
	if (listen && !*listen)
		return cli_usage_error(&help, "option '--listen' needs an address");
	if (check_distinct(pos, npos) != 0)
		return CLI_EXIT_FAIL;
	if (install_handlers() != 0)
		return cli_fail("serve", "cannot install signal handlers: %s", strerror(errno));

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
	o.stop = &stop_requested;
	o.ready = on_ready;
	o.ready_arg = c;
	rc = cj_http_serve(&o);
	if (rc != 0) {
		cli_fail_lib("serve", rc, NULL);
		drop_first_tokens(c);
		free(c);
		return CLI_EXIT_FAIL;
	}
	free(c);
	fputs("stopped: requests answered, stores closed\n", stderr);
	return CLI_EXIT_OK;
}
