/* SPDX-License-Identifier: ISC */
/*
 * proto.h - the control protocol between labd and its clients (labctl,
 * labtui).  JSON, one object per line, over a UNIX socket.
 *
 *   request  {"id":N,"cmd":"vm.reset","args":{...}}
 *   reply    {"id":N,"ok":true,"result":...}
 *            {"id":N,"ok":false,"error":{"code":"not_found","message":"..."}}
 *   event    {"event":"vm.state","data":{...}}   (after events.subscribe)
 *
 * The first reply a client can ask for is "hello", which carries
 * LABD_PROTO_VERSION.  Don't forget to bump it when a command's arguments
 * or results change incompatibly.
 *
 * "help" lists every command as it is today, in one array:
 *
 *   [{"name":"vm.stop","help":"...","connection":false,
 *     "args":[{"key":"vm","type":"string","required":true,"help":"..."},
 *             {"key":"force","type":"boolean","required":false,...}]}]
 *
 * type is one of string, integer, boolean, object, array; "connection"
 * marks the commands about the connection itself (hello,
 * events.subscribe).  labd checks every request against this list before
 * it acts: a required key missing, a key of another type or a key not
 * listed is a bad_request whose message names the command and the key
 * ("vm.stop: \"force\" must be a boolean", "vm.start: \"vm\" is
 * required (a string)", "vm.stop: unknown argument \"forse\"; it takes
 * vm, force, wait").  A value of the right type that the command cannot
 * take (a bad name, a number out of range) is invalid.
 *
 * Version 2: help's result became that array (it was an object of help
 * strings by name), and keys not listed are refused rather than ignored.
 */
#ifndef LABD_PROTO_H
#define LABD_PROTO_H

#define LABD_PROTO_VERSION	2
#define LABD_MAX_LINE		(2 * 1024 * 1024)	/* one request, roster included */
#define LABD_SOCKET_ENV		"LABD_SOCKET"
#define LABD_DEFAULT_SOCKET	"/run/labd/labd.sock"
#define LABD_DEFAULT_CONFIG	"/etc/labd/labd.ini"
/* labd.ini's largest size: iniparser 4.1 takes time square in the keys. */
#define LABD_CONFIG_MAX		(64 * 1024)

/*
 * Error codes in replies.  bad_request: not JSON, no cmd, or an argument
 * missing, not listed or of another type; invalid: an argument's value.
 */
#define LABD_E_BAD_REQUEST	"bad_request"
#define LABD_E_UNKNOWN		"unknown_command"
#define LABD_E_INVALID		"invalid"
#define LABD_E_NOT_FOUND	"not_found"
#define LABD_E_EXISTS		"exists"
#define LABD_E_BUSY		"busy"		/* another operation runs on it */
#define LABD_E_DENIED		"denied"
#define LABD_E_FAILED		"failed"	/* the host refused: qemu, disk, ports */
#define LABD_E_INTERNAL		"internal"

/*
 * vm.collect's stream, on the descriptor passed with its reply: frames of
 * a type byte, a 4-byte big-endian length and that many bytes.  'D' is
 * the guest's tar stream, in order; one 'E' ends it, a JSON object:
 * {status, bytes, error, stderr, cut}.  A stream with no 'E' was cut off.
 */
#define LABD_COLLECT_DATA	'D'
#define LABD_COLLECT_END	'E'
#define LABD_COLLECT_FRAME_MAX	(1024 * 1024)
#define LABD_COLLECT_PATHS_MAX	64
#define LABD_COLLECT_PATHLEN	1024
#define LABD_COLLECT_MAX_DEFAULT	(1024LL * 1024 * 1024)	/* a VM */
/*
 * allow_from=closed, stored: a network no client comes from, so that
 * the nftables gate and the gateway (which already honour allow_from)
 * let nobody in but labd itself.
 */
#define LABD_ALLOW_CLOSED	"0.0.0.0/32"

#endif /* LABD_PROTO_H */
