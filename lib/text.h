/* text.h - small text helpers shared by parsers (JSON escapes, percent
 * encoding in URLs and gRPC trailers). */
#ifndef MD_TEXT_H
#define MD_TEXT_H

/* Value of one hex digit, or -1. */
int md_text_hexval(int ch);

#endif
