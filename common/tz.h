/* common/tz.h — IANA time zone names, checked against the system's tz
 * database (docs/events.md, "Time zones"). */
#ifndef CJ_COMMON_TZ_H
#define CJ_COMMON_TZ_H

/* 1 if name is a zone of the tz database ("Europe/Berlin", "UTC"), 0 if
 * not. The database is $TZDIR, else /usr/share/zoneinfo; a zone is a
 * regular file there that starts with the TZif magic. The name itself must
 * look like a zone name (ASCII letters, digits, '_', '-', '+', '/', no empty
 * or dot-leading component, at most 255 bytes) whatever the database says.
 * When the database folder does not exist at all, every name of that shape
 * is accepted (*no_db set to 1): the check cannot be made, and refusing
 * every time zone on a machine without tzdata would refuse valid events.
 * Thread-safe (no global state; it reads the file system). */
int cji_tz_valid(const char *name, int *no_db);

#endif
