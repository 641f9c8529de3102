// Only the header matters: it declares libFuzzer's driver for Swift. A C target needs a source file.
#include "CLibFuzzer.h"
