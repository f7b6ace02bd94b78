/* SPDX-License-Identifier: MIT */
/* The libFuzzer entry point, declared for -Wmissing-prototypes. */
#pragma once

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
