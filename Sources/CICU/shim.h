#ifndef SWITCHBOARD_CICU_SHIM_H
#define SWITCHBOARD_CICU_SHIM_H

/* The one header Swift sees of ICU: its spoof checker (UTS #39). ICU renames every
 * function with its version (uspoof_open_72, ...) through macros Swift cannot follow,
 * so the calls are made here, in C, where the macros apply. */
#include <unicode/uspoof.h>

/* Writes the UTS #39 confusable skeleton of the UTF-8 text into out (capacity bytes).
 * Returns its length in bytes, or -1 on failure (including a too-small buffer). */
static inline int32_t sb_icu_skeleton(const char *text, int32_t length, char *out, int32_t capacity) {
    UErrorCode status = U_ZERO_ERROR;
    USpoofChecker *checker = uspoof_open(&status);
    if (U_FAILURE(status)) return -1;
    int32_t written = uspoof_getSkeletonUTF8(checker, 0, text, length, out, capacity, &status);
    uspoof_close(checker);
    return U_FAILURE(status) ? -1 : written;
}

#endif
