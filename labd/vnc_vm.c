/* SPDX-License-Identifier: ISC */
/*
 * vnc_vm.c - the VNC thread's view of each VM's screen: a libvncclient
 * connection to the vnc.sock QEMU serves in the VM's run folder (group
 * labd's: vmm/spawn.c makes run_dir QEMU's with labd's group, and QEMU's
 * umask lets the group connect, as for qmp.sock).
 *
 * QEMU sends a FramebufferUpdate only when asked, and holds an
 * incremental request until something changed; so an unchanged screen
 * costs nothing.  A VM on the wall is asked at most once a second, one
 * seen full size (zoomed, or a student's) again as soon as an update
 * came.  Every update bumps gen, which the views compare.
 *
 * libvncclient uses select(): its descriptors must stay below
 * FD_SETSIZE, so labd connects the socket itself (and gives up on one
 * too high), with a receive timeout so that a QEMU that stops answering
 * mid-message costs the thread seconds, not forever.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rfb/rfbclient.h>

#include "labd/vnc.h"

#define VM_RETRY_MS	2000	/* between tries to connect */
#define VM_WALL_MS	1000	/* between update requests on the wall */

static int	tag;		/* rfbClientSetClientData()'s key */

static void
quiet(const char *fmt, ...)
{
}

static struct vnc_vm *
vm_of(rfbClient *c)
{
	return rfbClientGetClientData(c, &tag);
}

static rfbBool
on_resize(rfbClient *c)
{
	struct vnc_vm	*v = vm_of(c);
	size_t		 len = (size_t)c->width * c->height * 4;

	free(c->frameBuffer);
	if ((c->frameBuffer = calloc(1, len ? len : 4)) == NULL)
		return FALSE;
	v->w = c->width;
	v->h = c->height;
	v->gen++;
	return TRUE;
}

static void
on_update(rfbClient *c, int x, int y, int w, int h)
{
	vm_of(c)->gen++;
}

static void
on_finished(rfbClient *c)
{
	vm_of(c)->pending = 0;
}

static char *
no_password(rfbClient *c)
{
	return strdup("");
}

struct vnc_vm *
vnc_vm_get(struct vnc_vm **list, const char *name, const char *path)
{
	struct vnc_vm	*v;

	for (v = *list; v != NULL; v = v->next)
		if (strcmp(v->name, name) == 0)
			return v;
	v = xcalloc(1, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", name);
	snprintf(v->path, sizeof(v->path), "%s", path);
	v->next = *list;
	*list = v;
	return v;
}

void
vnc_vm_close(struct vnc_vm *v)
{
	rfbClient	*c = v->client;

	if (c == NULL)
		return;
	free(c->frameBuffer);
	c->frameBuffer = NULL;
	rfbClientCleanup(c);	/* closes the socket */
	v->client = NULL;
	v->pending = 0;
	v->w = v->h = 0;
	v->gen++;
}

/* The socket, connected, below FD_SETSIZE; -1 when not now. */
static int
vm_socket(const char *path)
{
	struct sockaddr_un	sun;
	struct timeval		tv = { 1, 0 };
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (fd >= FD_SETSIZE || connect(fd, (struct sockaddr *)&sun,
	    sizeof(sun)) == -1 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO,
	    &tv, sizeof(tv)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
vm_connect(struct vnc_vm *v, int64_t now)
{
	rfbClient	*c;
	int		 fd;

	v->next_try = now + VM_RETRY_MS;
	if ((fd = vm_socket(v->path)) == -1) {
		log_debug("vnc: %s: cannot connect to %s: %s", v->name, v->path,
		    strerror(errno));
		return;
	}
	rfbClientLog = rfbClientErr = quiet;
	if ((c = rfbGetClient(8, 3, 4)) == NULL) {
		close(fd);
		return;
	}
	rfbClientSetClientData(c, &tag, v);
	c->MallocFrameBuffer = on_resize;
	c->GotFrameBufferUpdate = on_update;
	c->FinishedFrameBufferUpdate = on_finished;
	c->GetPassword = no_password;
	c->canHandleNewFBSize = TRUE;
	/* A local socket: raw costs QEMU and labd the least CPU. */
	c->appData.encodingsString = "copyrect raw";
	c->appData.shareDesktop = TRUE;
	c->readTimeout = 2;
	c->serverHost = strdup(v->path);
	c->listenSpecified = TRUE;	/* connected already: fd */
	c->sock = fd;
	/* On failure rfbInitClient() frees c and closes the socket. */
	if (!rfbInitClient(c, NULL, NULL)) {
		log_debug("vnc: %s: no RFB handshake on %s", v->name, v->path);
		return;
	}
	v->client = c;
	v->pending = 1;		/* rfbInitClient() asked for all of it */
	v->last_req = now;
	v->gen++;
}

int
vnc_vm_tick(struct vnc_vm *v, int64_t now)
{
	rfbClient	*c;

	if (v->client == NULL && now >= v->next_try)
		vm_connect(v, now);
	if ((c = v->client) == NULL)
		return -1;
	if (!v->pending && (v->fast || now - v->last_req >= VM_WALL_MS)) {
		if (!SendFramebufferUpdateRequest(c, 0, 0, c->width, c->height,
		    TRUE)) {
			vnc_vm_close(v);
			return -1;
		}
		v->pending = 1;
		v->last_req = now;
	}
	/* A request held too long is asked again (QEMU restarted it). */
	if (v->pending && now - v->last_req > 30000)
		v->pending = 0;
	return c->sock;
}

void
vnc_vm_read(struct vnc_vm *v)
{
	rfbClient	*c = v->client;
	int		 i;

	if (c == NULL)
		return;
	/* What came, and what libvncclient has buffered past it. */
	for (i = 0; i < 64; i++) {
		if (!HandleRFBServerMessage(c)) {
			vnc_vm_close(v);
			v->next_try = 0;
			return;
		}
		if (c->buffered == 0 && WaitForMessage(c, 0) <= 0)
			break;
	}
}

const uint32_t *
vnc_vm_pixels(const struct vnc_vm *v)
{
	const rfbClient	*c = v->client;

	return c != NULL ? (const uint32_t *)c->frameBuffer : NULL;
}

void
vnc_vm_key(struct vnc_vm *v, uint32_t keysym, int down)
{
	if (v->client != NULL && !SendKeyEvent(v->client, keysym, down))
		vnc_vm_close(v);
}

void
vnc_vm_pointer(struct vnc_vm *v, int x, int y, int buttons)
{
	if (v->client != NULL && !SendPointerEvent(v->client, x, y, buttons))
		vnc_vm_close(v);
}

/* --- the thread's world: the loop's last answer ------------------------------ */

struct vnc_vminfo *
vnc_world_find(struct vnc_world *w, const char *vm)
{
	int	i;

	for (i = 0; i < w->nvms; i++)
		if (strcmp(w->vms[i].name, vm) == 0)
			return &w->vms[i];
	return NULL;
}

struct vnc_vm *
vnc_world_screen(struct vnc_world *w, const char *vm)
{
	struct vnc_vminfo	*info = vnc_world_find(w, vm);
	char			 path[sizeof(((struct vnc_vm *)0)->path)];

	if (info == NULL || !info->screen)
		return NULL;
	if ((size_t)snprintf(path, sizeof(path), "%s/vms/%s/vnc.sock",
	    w->run_dir, vm) >= sizeof(path))
		return NULL;
	return vnc_vm_get(&w->conns, vm, path);
}

int
vnc_vm_fd(const struct vnc_vm *v)
{
	const rfbClient	*c = v->client;

	return c != NULL ? c->sock : -1;
}
