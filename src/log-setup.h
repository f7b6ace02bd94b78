/* SPDX-License-Identifier: MIT */
/* Start-up configuration of the logger (not part of the driver contract). */
#pragma once

#include <stddef.h>
#include <stdint.h>

void log_setup(void);
int log_level_from_string(const char *s);
void log_set_max_level(int level);
int log_set_ignore(char *const *senders, size_t n);
int log_open_udp(const char *host, uint16_t port);
void log_close_udp(void);
void log_shutdown(void);
