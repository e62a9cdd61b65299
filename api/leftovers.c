/* api/leftovers.c — cleaning what a killed replay, scrub or verify leaves
 * behind (docs/operations.md, "Leftovers"). A replay in place builds
 * chat.sqlite.replay-tmp (tens of MB) and renames it over chat.sqlite, a
 * compaction's scrub chat.sqlite.scrub-tmp (materializer/scrub.c);
 * `chatjournal verify` replays into STORE/verify-PID.sqlite and, for a
 * projection that applied nothing, makes STORE/verify-PID.store
 * (tools/cmd_verify.c names them). Killed, both leave their files for good.
 *
 * What may be removed, and why it is safe:
 * - chat.sqlite.replay-tmp, chat.sqlite.scrub-tmp, the replay's FTS side
 *   file chat.sqlite.replay-tmp.fts and their -wal/-shm/-journal: removed by
 *   the materializer as it takes the store's materializer lock
 *   (materializer/materializer.c), before its thread starts: a replay in
 *   place, a bulk build and a scrub hold the lock for their whole run, and
 *   a replay through a read-only handle (of a projection that no
 *   read-write open accepts) leaves every read-write open failing first.
 * - verify-PID.* whose PID is no running process (kill(PID, 0) says ESRCH).
 *   A live PID's files are left alone: another verify may be running. A
 *   PID reused by an unrelated process only delays the cleaning. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "api/leftovers.h"
#include "materializer/replay.h"
#include "materializer/scrub.h"

/* What follows "verify-PID" in the names verify gives its files. */
static const char *const VERIFY_SUFFIXES[] = {
	".sqlite", ".sqlite-wal", ".sqlite-shm", ".sqlite-journal",
	".sqlite" CJI_REPLAY_TMP_SUFFIX, ".sqlite" CJI_REPLAY_TMP_SUFFIX "-wal",
	".sqlite" CJI_REPLAY_TMP_SUFFIX "-shm", ".sqlite" CJI_REPLAY_TMP_SUFFIX "-journal",
	".sqlite" CJI_REPLAY_FTS_SUFFIX, ".sqlite" CJI_REPLAY_TMP_SUFFIX CJI_REPLAY_FTS_SUFFIX,
	".store",
};

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* The PID of a "verify-PID<suffix>" name, or 0 if the name is not one. */
static long verify_pid(const char *name)
{
	if (strncmp(name, "verify-", 7) != 0 || name[7] < '1' || name[7] > '9')
		return 0;
	char *end;
	errno = 0;
	long pid = strtol(name + 7, &end, 10);
	if (errno || pid <= 0)
		return 0;
	for (size_t i = 0; i < sizeof VERIFY_SUFFIXES / sizeof VERIFY_SUFFIXES[0]; i++)
		if (strcmp(end, VERIFY_SUFFIXES[i]) == 0)
			return pid;
	return 0;
}

static int process_gone(long pid)
{
	return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

static void remove_dead_verify_files(const char *store)
{
	DIR *d = opendir(store);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		long pid = verify_pid(e->d_name);
		if (!pid || pid == (long)getpid() || !process_gone(pid))
			continue;
		char p[4400];
		if (snprintf(p, sizeof p, "%s/%s", store, e->d_name) >= (int)sizeof p)
			continue;
		struct stat st;
		if (lstat(p, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode))
			nftw(p, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
		else
			unlink(p);
	}
	closedir(d);
}

void cji_leftovers_remove(cj_store *s)
{
	if (!s->mat)
		return;
	/* chat.sqlite.replay-tmp and .scrub-tmp: the materializer removes them
	 * as it takes the lock (materializer.c, remove_leftovers), before its
	 * thread may start a bulk build there: here it would race with one. */
	remove_dead_verify_files(s->path);
}
