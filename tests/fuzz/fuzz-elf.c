/* tests/fuzz/fuzz-elf.c: libFuzzer target for the ELF reader (headers, sections, ARM attributes). */
#include <stddef.h>
#include <stdint.h>

#include "elf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct bp_elf e;
        const char *arch, *variant;

        if (elf_parse_buf(data, size, &e, NULL) == 0)
                (void) elf_oci_arch(&e, &arch, &variant);
        return 0;
}
