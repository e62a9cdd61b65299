/* bench/backup.h — `bench backup` (backup.c). */
#ifndef CJB_BACKUP_H
#define CJB_BACKUP_H

/* argv[1] is "backup"; returns the exit code. */
int cjb_backup_main(int argc, char **argv);

#endif
