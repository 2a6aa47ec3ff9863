/* platform/text.h: small string helpers for text read from a board: trimming, numbers with every error
 * checked, and cleaning for display (valid UTF-8, no control characters). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Trim spaces and tabs at both ends, in place. Returns the start. */
char *text_trim(char *s);

/* Copy src into dst (size bytes) for display: invalid UTF-8 and control characters become '?', runs of
 * white space one space; cut at a character boundary when dst is too small. */
void text_copy_clean(char *dst, size_t size, const char *src);

/* The whole of s as an unsigned number in base (an optional 0x with base 16), at most max.
 * -EINVAL for empty or trailing garbage, -ERANGE above max. */
int text_parse_u64(const char *s, int base, unsigned long long max, unsigned long long *ret);

bool text_has_prefix(const char *s, const char *prefix);

/* Copy src into dst of size bytes, cut to fit (for fixed fields whose inputs are checked or display-only). */
void text_copy(char *dst, size_t size, const char *src);
