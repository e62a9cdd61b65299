/* tools/cmd_backup.c — `chatjournal backup`: take a hot backup of a store
 * (the default), `list` and `prune` the backups of a store or folder, and
 * `verify` one backup. The work is the library's (chatjournal/backup.h);
 * this file parses options and prints. */
#include <stdio.h>
#include <string.h>
#include "chatjournal/chatjournal.h"
#include "cli.h"

static const cli_help help = {
	"backup", "STORE [--to DIR] [--json] | list|prune|verify ...",
	"Take a hot backup of STORE: a snapshot of the projection (chat.sqlite), then\n"
	"a compacted copy of the journal, chatjournal.conf and the hashed access\n"
	"tokens, with a MANIFEST.json of sizes and XXH3-128 checksums. Writers go on\n"
	"meanwhile ('chatjournal serve' may run). The backup is a folder named by its\n"
	"UTC time and last sequence number, e.g. 20250102T030405.678Z-seq1234, in\n"
	"STORE/backups/ or DIR; it is written under a temporary name and renamed, so\n"
	"it exists whole or not at all. Prints the backup's path and figures.\n\n"
	"  chatjournal backup STORE [--to DIR] [--json]\n"
	"  chatjournal backup list STORE|DIR [--json]\n"
	"  chatjournal backup prune STORE|DIR [--keep-days N] [--json]\n"
	"  chatjournal backup verify BACKUP [--json]\n\n"
	"Options of a backup:\n"
	"  --to DIR    put the backup in DIR (made if missing) instead of STORE/backups\n"
	"  --json      print the manifest, with \"path\" added\n\n"
	"A store called list, prune or verify is given as ./list. Run\n"
	"'chatjournal backup SUBCOMMAND --help' for each subcommand.\n"
};

static const cli_help help_list = {
	"backup list", "STORE|DIR [--json]",
	"List the backups of STORE (in STORE/backups) or in the folder DIR, oldest\n"
	"first: name, creation time (UTC), the journal's last sequence number, the\n"
	"projection's position and the size. A backup whose MANIFEST.json is damaged\n"
	"is listed as DAMAGED. Unfinished backups (.tmp-...) are never listed. Only\n"
	"the manifests are read: 'backup verify' checks a backup's files.\n\n"
	"Options:\n"
	"  --json    print a JSON array of {name, path, created, last_seq, position,\n"
	"            bytes, journal_format, chatjournal_version, ok} (damaged ones:\n"
	"            {name, path, ok: false, error})\n"
};

static const cli_help help_prune = {
	"backup prune", "STORE|DIR [--keep-days N] [--json]",
	"Remove the backups of STORE (or in DIR) created more than N days ago. N is\n"
	"--keep-days, else STORE's retention.backup_keep_days (chatjournal.conf,\n"
	"default 7; a DIR that is not a store needs --keep-days). The newest backup is\n"
	"always kept, whatever its age; a backup with a damaged manifest is left for\n"
	"you to look at. Leftovers of killed backups are removed too. Prints one line\n"
	"per removed backup.\n\n"
	"Options:\n"
	"  --keep-days N   keep backups of the last N days (0: only the newest)\n"
	"  --json          print {\"removed\": [names], \"kept\": [names],\n"
	"                  \"leftovers_removed\": N}\n"
};

static const cli_help help_verify = {
	"backup verify", "BACKUP [--json]",
	"Check the backup folder BACKUP: its MANIFEST.json against its own checksum,\n"
	"every file's size and XXH3-128 against the manifest, then a replay of the\n"
	"backup's journal up to its projection's position must have the canonical\n"
	"state hash of the backup's chat.sqlite. Nothing in BACKUP is written; the\n"
	"replay goes to a temporary file beside it. Prints one line per step, ok or\n"
	"FAILED naming the damaged file; exit status 0 only if the backup is sound.\n\n"
	"Options:\n"
	"  --json    print {backup, ok, files: [{name, size, ok}], last_seq, position,\n"
	"            projection_hash, replay_hash, equal[, error]}\n"
};

static int take(int argc, char **argv)
{
	int json = 0;
	const char *to = NULL;
	const cli_opt opts[] = { { "--to", "DIR", NULL, &to }, { "--json", NULL, &json, NULL } };
	const char *pos[1];
	size_t npos;
	int rc = cli_parse(&help, argc, argv, opts, 2, pos, 1, 1, &npos);
	if (rc != CLI_CONTINUE)
		return rc;
	if (to && !*to)
		return cli_usage_error(&help, "option '--to' needs a folder");
	cj_store *s;
	/* Read-only: no writer and no materializer of our own beside a server. */
	if (cli_open_store("backup", pos[0], 1, &s) != 0)
		return CLI_EXIT_FAIL;
	cli_progress bar;
	cli_progress_begin(&bar, "backup", 0);
	cj_backup_options o = CJ_BACKUP_OPTIONS_INIT;
	o.dir = to;
	o.progress = cli_progress_cb;
	o.progress_arg = &bar;
	char *out = NULL;
	rc = cj_backup(&out, s, &o);
	cli_progress_end(&bar);
	cj_store_close(s);
	if (rc != 0)
		return cli_fail_lib("backup", rc, NULL);
	json_t *m = json_loads(out, 0, NULL);
	cj_free(out);
	if (!m)
		return cli_fail("backup", "unexpected manifest");
	if (json) {
		return cli_print_json("backup", m) ? CLI_EXIT_FAIL : CLI_EXIT_OK;
	}
	json_t *j = json_object_get(m, "journal"), *p = json_object_get(m, "projection");
	uint64_t bytes = 0;
	size_t i;
	json_t *f;
	json_array_foreach(json_object_get(m, "files"), i, f)
		bytes += (uint64_t)json_integer_value(json_object_get(f, "size"));
	char size[64];
	cli_format_bytes(bytes, size);
	printf("backup %s: journal to sequence %lld, projection at %lld, %s\n",
	       json_string_value(json_object_get(m, "path")),
	       (long long)json_integer_value(json_object_get(j, "last_seq")),
	       (long long)json_integer_value(json_object_get(p, "position")), size);
	json_decref(m);
	return CLI_EXIT_OK;
}

static int list(int argc, char **argv)
{
	int json = 0;
	const cli_opt opts[] = { { "--json", NULL, &json, NULL } };
	const char *pos[1];
	size_t npos;
	int rc = cli_parse(&help_list, argc, argv, opts, 1, pos, 1, 1, &npos);
	if (rc != CLI_CONTINUE)
		return rc;
	char *out = NULL;
	if ((rc = cj_backup_list(&out, pos[0])) != 0)
		return cli_fail_lib("backup", rc, NULL);
	json_t *arr = json_loads(out, 0, NULL);
	cj_free(out);
	if (!json_is_array(arr)) {
		json_decref(arr);
		return cli_fail("backup", "unexpected backup list");
	}
	if (json)
		return cli_print_json("backup", arr) ? CLI_EXIT_FAIL : CLI_EXIT_OK;
	size_t i;
	json_t *b;
	json_array_foreach(arr, i, b) {
		cli_put_oneline(stdout, json_string_value(json_object_get(b, "name")));
		if (!json_is_true(json_object_get(b, "ok"))) {
			fputs("  DAMAGED: ", stdout);
			cli_put_oneline(stdout, json_string_value(json_object_get(b, "error")));
			fputc('\n', stdout);
			continue;
		}
		char size[64];
		cli_format_bytes((uint64_t)json_integer_value(json_object_get(b, "bytes")), size);
		char *cut = strstr(size, " (");
		if (cut)
			*cut = '\0';
		printf("  %s  seq %lld  position %lld  %s\n",
		       json_string_value(json_object_get(b, "created")),
		       (long long)json_integer_value(json_object_get(b, "last_seq")),
		       (long long)json_integer_value(json_object_get(b, "position")), size);
	}
	json_decref(arr);
	return CLI_EXIT_OK;
}

static int prune(int argc, char **argv)
{
	int json = 0;
	const char *days = NULL;
	const cli_opt opts[] = { { "--keep-days", "N", NULL, &days }, { "--json", NULL, &json, NULL } };
	const char *pos[1];
	size_t npos;
	int rc = cli_parse(&help_prune, argc, argv, opts, 2, pos, 1, 1, &npos);
	if (rc != CLI_CONTINUE)
		return rc;
	uint64_t keep = 0;
	if (days && (rc = cli_parse_u64(&help_prune, "--keep-days", days, 0, 100000, &keep)) != CLI_CONTINUE)
		return rc;
	char *out = NULL;
	if ((rc = cj_backup_prune(&out, pos[0], days ? (int)keep : -1, 0)) != 0)
		return cli_fail_lib("backup", rc, NULL);
	json_t *o = json_loads(out, 0, NULL);
	cj_free(out);
	if (!json_is_object(o)) {
		json_decref(o);
		return cli_fail("backup", "unexpected prune result");
	}
	if (json)
		return cli_print_json("backup", o) ? CLI_EXIT_FAIL : CLI_EXIT_OK;
	size_t i;
	json_t *n;
	json_array_foreach(json_object_get(o, "removed"), i, n) {
		fputs("removed ", stdout);
		cli_put_oneline(stdout, json_string_value(n));
		fputc('\n', stdout);
	}
	size_t kept = json_array_size(json_object_get(o, "kept"));
	long long left = (long long)json_integer_value(json_object_get(o, "leftovers_removed"));
	printf("kept %zu backup%s", kept, kept == 1 ? "" : "s");
	if (left)
		printf("; removed %lld leftover%s of unfinished work", left, left == 1 ? "" : "s");
	fputc('\n', stdout);
	json_decref(o);
	return CLI_EXIT_OK;
}

static void print_verify(json_t *r)
{
	json_t *files = json_object_get(r, "files");
	size_t i, nok = 0;
	uint64_t bytes = 0;
	json_t *f;
	const char *bad = NULL;
	json_array_foreach(files, i, f) {
		bytes += (uint64_t)json_integer_value(json_object_get(f, "size"));
		if (json_is_true(json_object_get(f, "ok")))
			nok++;
		else if (!bad)
			bad = json_string_value(json_object_get(f, "name"));
	}
	const char *err = json_string_value(json_object_get(r, "error"));
	char size[64];
	cli_format_bytes(bytes, size);
	char *cut = strstr(size, " (");
	if (cut)
		*cut = '\0';
	if (bad) {
		printf("files       FAILED: ");
		cli_put_oneline(stdout, err ? err : bad);
		fputc('\n', stdout);
		printf("state       not checked\n");
		return;
	}
	printf("files       ok (%zu files, %s)\n", nok, size);
	if (json_is_true(json_object_get(r, "ok"))) {
		printf("state       ok (a replay to position %lld of %lld has the projection's hash %s)\n",
		       (long long)json_integer_value(json_object_get(r, "position")),
		       (long long)json_integer_value(json_object_get(r, "last_seq")),
		       json_string_value(json_object_get(r, "projection_hash")));
	} else {
		printf("state       FAILED: ");
		cli_put_oneline(stdout, err ? err : "unknown");
		fputc('\n', stdout);
	}
}

static int verify(int argc, char **argv)
{
	int json = 0;
	const cli_opt opts[] = { { "--json", NULL, &json, NULL } };
	const char *pos[1];
	size_t npos;
	int rc = cli_parse(&help_verify, argc, argv, opts, 1, pos, 1, 1, &npos);
	if (rc != CLI_CONTINUE)
		return rc;
	cli_progress bar;
	cli_progress_begin(&bar, "verify", 0);
	char *out = NULL;
	rc = cj_backup_verify(&out, pos[0], cli_progress_cb, &bar);
	cli_progress_end(&bar);
	if (!out)  /* the manifest itself could not be read */
		return cli_fail_lib("backup", rc, NULL);
	char msg[1024];
	snprintf(msg, sizeof msg, "%s", rc ? cj_error_last() : "");
	json_t *r = json_loads(out, 0, NULL);
	cj_free(out);
	if (!r)
		return cli_fail("backup", "unexpected verify report");
	if (json) {
		if (cli_print_json("backup", r) != 0)
			return CLI_EXIT_FAIL;
	} else {
		print_verify(r);
		json_decref(r);
	}
	if (rc)
		return cli_fail("backup", "%s", msg);
	return CLI_EXIT_OK;
}

int cmd_backup(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error(&help, "missing STORE or subcommand (list, prune, verify)");
	const char *sub = argv[1];
	if (strcmp(sub, "list") == 0)
		return list(argc - 1, argv + 1);
	if (strcmp(sub, "prune") == 0)
		return prune(argc - 1, argv + 1);
	if (strcmp(sub, "verify") == 0)
		return verify(argc - 1, argv + 1);
	return take(argc, argv);
}
