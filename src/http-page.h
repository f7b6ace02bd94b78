/* SPDX-License-Identifier: MIT */
/* The status page served on GET /: one self-contained HTML document (inline
 * CSS and JavaScript, no external fetches) that reads /api/status and
 * /api/history from the same server and posts /api/mode. */
#pragma once

extern const char http_page_html[];
