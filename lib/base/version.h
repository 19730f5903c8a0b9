/* version.h - the release version, one place. */
#ifndef MD_VERSION_H
#define MD_VERSION_H
#define MD_VERSION "0.1.0"
#endif
