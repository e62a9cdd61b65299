/* tests/fuzz/fuzz_import_discord.c — libFuzzer harness for the discord importer
 * (import/fmt_discord.c and the scanner under it): the input is the file
 * imported, in a dry run (fuzz_import.h says what is checked). */
#include "fuzz_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_import(CJ_IMPORT_DISCORD, data, size, "channel.json", NULL, 0);
	return 0;
}
