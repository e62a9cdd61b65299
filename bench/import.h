/* bench/import.h — `bench import` (import.c). */
#ifndef CJB_IMPORT_H
#define CJB_IMPORT_H

/* argv[1] is "import"; returns the exit code. */
int cjb_import_main(int argc, char **argv);

#endif
