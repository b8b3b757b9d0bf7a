/* SPDX-License-Identifier: ISC */
/*
 * client.h - the client side of the control protocol, shared by labctl
 * and labtui: connect, send a request, read its reply (event lines that
 * arrive meanwhile are handed to a callback or dropped).  Also the ini
 * reader (ini.c): labctl finds the socket in labd.ini with it, and labd
 * reads labd.ini and template profiles with the same code.
 */
#ifndef LABD_CLIENT_H
#define LABD_CLIENT_H

#include <stddef.h>

#include <jansson.h>

struct client_conn;
typedef void (*client_event_cb)(void *arg, const char *kind, json_t *data);

/* client.c */
/* The socket: explicit path, else $LABD_SOCKET, else the default. */
const char		*client_socket_path(const char *explicit_path);
/*
 * The socket a labd.ini names, as labd reads it: [labd] socket, else
 * [labd] run_dir/labd.sock, else LABD_DEFAULT_SOCKET; relative paths are
 * relative to the file's folder.  No other key is looked at.
 */
int			 client_config_socket(const char *ini, char *out,
			    size_t outlen, char *err, size_t errlen);
struct client_conn	*client_open(const char *path, char *err, size_t errlen);
void			 client_close(struct client_conn *);
int			 client_fd(const struct client_conn *);
/* The descriptor labd passed with the last reply, now the caller's; -1. */
int			 client_take_fd(struct client_conn *);
/*
 * Send {"id":N,"cmd":cmd,"args":args} (args borrowed, may be NULL) and
 * wait for the reply with that id.  Returns the whole reply object (new
 * reference) or NULL with err set when the connection failed.
 */
json_t			*client_call(struct client_conn *, const char *cmd,
			    json_t *args, client_event_cb, void *arg,
			    char *err, size_t errlen);
/* Send a request without waiting: its id, or -1 with err. */
long			 client_send(struct client_conn *, const char *cmd,
			    json_t *args, char *err, size_t errlen);
/* Read one line (reply or event) without sending; NULL on EOF/error. */
json_t			*client_read(struct client_conn *, char *err,
			    size_t errlen);

/* What both clients show: a string member or "", an integer member or 0. */
const char		*jstr(json_t *, const char *key);
long long		 jint(json_t *, const char *key);
/* Seconds as "-", "42s", "3m05s", "2h10m" or "4d03h". */
void			 fmt_duration(long long s, char *out, size_t len);
/* Bytes as "-", "512K", "3.5M" or "1.2G". */
void			 fmt_size(long long bytes, char *out, size_t len);

/* collect.c */
/*
 * A PATH of collect, as the guest's shell will see it: absolute, no "."
 * or ".." component, at most LABD_COLLECT_PATHLEN bytes, and only
 * letters, digits, "/._-+@%,:=~" and the glob characters "*?[]" (so that
 * the guest's shell expands it and nothing else).  0, or -1 with err.
 */
int			 collect_path_check(const char *path, char *err,
			    size_t errlen);

/* ini.c */
/*
 * Read the ini file path (at most max bytes) with iniparser, put the real
 * path of its folder in base (PATH_MAX bytes) and hand fn each section
 * (key and value NULL) and each key = value, in the order of the file;
 * names come in lower case.  *linep, when not NULL, follows the line of
 * what fn is given.  The first error stops it: err becomes "PATH line N:
 * what was wrong", e.g. what fn said.  A key set twice, a key outside any
 * section, text after a section's ']' and a value iniparser would cut
 * short are errors; "[section] ; comment" is fine.
 */
typedef int (*ini_fn)(void *arg, const char *section, const char *key,
    const char *value, char *err, size_t errlen);
int			 ini_load(const char *path, size_t max, char *base,
			    ini_fn, void *arg, int *linep, char *err,
			    size_t errlen);
/*
 * The same from fd, already open (the file is read, never closed), its
 * errors calling it name; relative paths in it are the caller's to
 * resolve.
 */
int			 ini_load_fd(int fd, const char *name, size_t max,
			    ini_fn, void *arg, int *linep, char *err,
			    size_t errlen);
/* p resolved against the folder base and tidied: no "//", "." or "..". */
int			 ini_path(const char *base, const char *p, char *out,
			    size_t outlen);

#endif /* LABD_CLIENT_H */
