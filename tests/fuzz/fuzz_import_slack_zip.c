/* tests/fuzz/fuzz_import_slack_zip.c — libFuzzer harness for a Slack
 * export's .zip (import/zip.c through libarchive, then the folder reader):
 * the input is the archive, imported in a dry run with small caps
 * (4 MiB per entry, 8 MiB in all; fuzz_import.h). */
#include "fuzz_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_import(CJ_IMPORT_SLACK, data, size, "export.zip", NULL, 0);
	return 0;
}
