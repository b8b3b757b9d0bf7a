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
 */
#ifndef LABD_PROTO_H
#define LABD_PROTO_H

#define LABD_PROTO_VERSION	1
#define LABD_MAX_LINE		(2 * 1024 * 1024)	/* one request, roster included */
#define LABD_SOCKET_ENV		"LABD_SOCKET"
#define LABD_DEFAULT_SOCKET	"/run/labd/labd.sock"
#define LABD_DEFAULT_CONFIG	"/etc/labd/labd.ini"
/* labd.ini's largest size: iniparser 4.1 takes time square in the keys. */
#define LABD_CONFIG_MAX		(64 * 1024)

/* error codes in replies */
#define LABD_E_BAD_REQUEST	"bad_request"	/* not JSON, no cmd, wrong types */
#define LABD_E_UNKNOWN		"unknown_command"
#define LABD_E_INVALID		"invalid"	/* arguments fail validation */
#define LABD_E_NOT_FOUND	"not_found"
#define LABD_E_EXISTS		"exists"
#define LABD_E_BUSY		"busy"		/* another operation runs on it */
#define LABD_E_DENIED		"denied"
#define LABD_E_FAILED		"failed"	/* the host refused: qemu, disk, ports */
#define LABD_E_INTERNAL		"internal"

#endif /* LABD_PROTO_H */
