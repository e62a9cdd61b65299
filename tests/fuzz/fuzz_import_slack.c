/* tests/fuzz/fuzz_import_slack.c — libFuzzer harness for the Slack importer
 * (import/fmt_slack.c): the input is one per-day file of a channel in an
 * otherwise fixed export folder, imported in a dry run (fuzz_import.h). */
#include "fuzz_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const extra[] = {
		"users.json", "[{\"id\":\"U1\",\"team_id\":\"T1\",\"name\":\"a\",\"is_bot\":false,"
		              "\"profile\":{\"display_name\":\"A\"}}]",
		"channels.json", "[{\"id\":\"C1\",\"name\":\"general\",\"created\":1700000000,"
		                 "\"topic\":{\"value\":\"t\"}}]",
		NULL
	};
	fz_import(CJ_IMPORT_SLACK, data, size, "general/2024-01-01.json", extra, 1);
	return 0;
}
