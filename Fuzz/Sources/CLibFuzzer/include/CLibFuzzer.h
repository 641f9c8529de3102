#ifndef CHORUS_CLIBFUZZER_H
#define CHORUS_CLIBFUZZER_H

#include <stddef.h>
#include <stdint.h>

/// libFuzzer's entry point for programs with their own `main` (from libclang_rt.fuzzer_no_main,
/// which scripts/fuzz links in): parses libFuzzer's flags from argv and fuzzes `callback`.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
