/* log.h - the one place that writes diagnostics.
 *
 * Owns: the program name, the verbosity threshold and the output format
 * (text "prog: level: message", one JSON object per line, or go-plugin's
 * hclog JSON) for everything
 * printed to stderr for people, a per-thread role tag, and a status line
 * (progress) that log lines never tear. Every line passes md_secret_redact() before
 * it is written, so a watched secret can never reach the log.
 */
#ifndef MD_LOG_H
#define MD_LOG_H

#include <stdbool.h>

typedef enum { MD_LOG_ERROR = 0, MD_LOG_WARN, MD_LOG_INFO, MD_LOG_DEBUG } md_log_level;
/* MD_LOG_HCLOG: go-plugin's JSON lines (@level, @message, @timestamp,
 * @module), which a Vault host parses from a plugin's stderr. */
typedef enum { MD_LOG_TEXT = 0, MD_LOG_JSON, MD_LOG_HCLOG } md_log_format;

void md_log_init(const char *prog, md_log_level threshold, md_log_format fmt);
void md_log_set_level(md_log_level threshold);
void md_log_set_format(md_log_format fmt);
bool md_log_enabled(md_log_level level);
md_log_format md_log_get_format(void);
/* Parses "text" / "json"; -1 on anything else. */
int md_log_format_parse(const char *s);

/* A role name added to this thread's lines ("prog: level: ROLE: msg", or
 * "role" in JSON), so lines of roles rotated side by side can be told
 * apart; NULL clears. The string must outlive its use. */
void md_log_set_role(const char *role);
/* A status line kept at the bottom of a terminal (progress): log lines are
 * written above it and it is redrawn after each. NULL erases it. Only for
 * text format on a terminal; the caller decides. */
void md_log_status(const char *line);
/* Leaves the status line on the screen as an ordinary line and forgets it. */
void md_log_status_keep(void);

void md_log(md_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define md_log_error(...) md_log(MD_LOG_ERROR, __VA_ARGS__)
#define md_log_warn(...) md_log(MD_LOG_WARN, __VA_ARGS__)
#define md_log_info(...) md_log(MD_LOG_INFO, __VA_ARGS__)
#define md_log_debug(...) md_log(MD_LOG_DEBUG, __VA_ARGS__)

#endif
