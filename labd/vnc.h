/* SPDX-License-Identifier: ISC */
/*
 * vnc.h - the VNC server's own header, shared by labd/vnc*.c only.
 *
 * Two threads: labd's loop (vnc.c) owns the database and the VMs; the VNC
 * thread (vnc_server.c) owns every socket of the RFB protocol, the
 * screens it serves and its connections to the VMs' QEMU (vnc_vm.c).
 * They talk over one SOCK_SEQPACKET socketpair: once a second the thread
 * asks "state" and the loop answers with one message, a line a VM (see
 * struct vnc_vminfo).  The thread never touches labd's data, the loop
 * never waits for the thread.
 */
#ifndef LABD_VNC_H
#define LABD_VNC_H

#include <limits.h>
#include <stdint.h>

#include "labd/labd.h"

/* VNC authentication's DES key is the password's first 8 bytes. */
#define VNC_PWLEN	8
/* VMs told to the thread at most: the loop's answer fits a datagram. */
#define VNC_MAXVMS	1000
/* The wall's size in pixels. */
#define VNC_WALL_W	1280
#define VNC_WALL_H	800
#define VNC_HEADER_H	24	/* the course's name and the keys */
#define VNC_LABEL_H	18	/* above each tile: VM and student */
#define VNC_FONT_W	8
#define VNC_FONT_H	16

/* One VM as the loop tells the thread, a line "name\tcourse\t...\n". */
struct vnc_vminfo {
	char	name[LABD_VMNAMELEN];
	char	course[LABD_NAMELEN];
	char	student[LABD_NAMELEN];
	char	state[16];		/* vm_state_name() */
	int	screen;			/* QEMU runs: vnc.sock may answer */
	char	password[VNC_PWLEN + 1];	/* "" when the student has none */
};

/* vnc_auth.c: passwords, the DES check, the rate limit on failures */
/* The instructor's password, which no student may get. */
void	vnc_auth_instructor(const char *pw);
/*
 * A new password for a student: VNC_PWLEN characters no student has and
 * that is not the instructor's.  In the loop's thread (the database).
 */
int	vnc_password_new(char *out, size_t outlen, char *err, size_t errlen);
/* Students made before [vnc] existed get a password: how many. */
int	vnc_passwords_fill(void);
/*
 * The index of the password in pw[0..n-1] (NULL or "" skipped) whose DES
 * encryption of challenge (16 bytes) is response, or -1.
 */
int	vnc_auth_match(const unsigned char *challenge,
	    const unsigned char *response, size_t len, const char *const *pw,
	    size_t n);
/*
 * Failed logins per IPv4 source: VNC_RATE_FREE failures are free, then
 * one try a VNC_RATE_MS; a success forgets the address.
 */
#define VNC_RATE_FREE	5
#define VNC_RATE_MS	2000
#define VNC_RATE_SLOTS	1024
struct vnc_rate {
	struct {
		uint32_t	addr;
		int		fails;
		int64_t		next_ms;	/* no try before this */
		int64_t		last_ms;
	} slot[VNC_RATE_SLOTS];
};
int	vnc_rate_allowed(struct vnc_rate *, uint32_t addr, int64_t now);
void	vnc_rate_failed(struct vnc_rate *, uint32_t addr, int64_t now);
void	vnc_rate_passed(struct vnc_rate *, uint32_t addr);

/* vnc_layout.c: the wall's grid, scaling a screen into a tile */
struct vnc_rect {
	int	x, y, w, h;
};
struct vnc_grid {
	int	n, cols, rows;
	int	cell_w, cell_h;
	int	top;			/* below the header */
};
/* n tiles on a w x h wall: the most columns-by-rows square-ish grid. */
void	vnc_grid_make(struct vnc_grid *, int n, int w, int h);
/* Tile i's label bar and its screen area. */
void	vnc_grid_tile(const struct vnc_grid *, int i, struct vnc_rect *label,
	    struct vnc_rect *screen);
/* The tile at x, y, or -1. */
int	vnc_grid_at(const struct vnc_grid *, int x, int y);
/*
 * src (sw x sh, stride in pixels) scaled to fit r of dst (stride in
 * pixels), aspect kept, nearest pixel, the rest of r filled with bg.
 */
void	vnc_scale(const uint32_t *src, int sw, int sh, int sstride,
	    uint32_t *dst, int dstride, const struct vnc_rect *r, uint32_t bg);
void	vnc_fill(uint32_t *dst, int dstride, const struct vnc_rect *r,
	    uint32_t colour);
/*
 * src (r->w x r->h, packed) into r of dst, only the pixels that differ:
 * 1 and their bounding box in changed, 0 when none did.  A cursor that
 * blinks on a still screen changes a few pixels, not the tile.
 */
int	vnc_blit_diff(uint32_t *dst, int dstride, const struct vnc_rect *r,
	    const uint32_t *src, struct vnc_rect *changed);
/* The labels' 8x16 font, for rfbDrawString(). */
struct rfbFontData;
struct rfbFontData *vnc_font(void);

/* vnc_vm.c: one libvncclient connection a VM, to its vnc.sock */
struct vnc_vm {
	char		 name[LABD_VMNAMELEN];
	char		 path[108];	/* run_dir/vms/NAME/vnc.sock */
	void		*client;	/* rfbClient *, NULL while not connected */
	unsigned	 gen;		/* bumped by every update received */
	int		 w, h;
	int64_t		 next_try;	/* connect not before (now_ms) */
	int64_t		 last_req;
	int		 fast;		/* someone sees it full size */
	int		 pending;	/* an update request is out */
	int		 need;		/* a view shows it */
	struct vnc_vm	*next;
};
struct vnc_vm	*vnc_vm_get(struct vnc_vm **, const char *name, const char *path);
void		 vnc_vm_close(struct vnc_vm *);
/* Connect when due, ask for updates; the socket to poll, or -1. */
int		 vnc_vm_tick(struct vnc_vm *, int64_t now);
int		 vnc_vm_fd(const struct vnc_vm *);
/* Its socket is readable: read what QEMU sent. */
void		 vnc_vm_read(struct vnc_vm *);
const uint32_t	*vnc_vm_pixels(const struct vnc_vm *);
void		 vnc_vm_key(struct vnc_vm *, uint32_t keysym, int down);
void		 vnc_vm_pointer(struct vnc_vm *, int x, int y, int buttons);

/* What the thread knows: the loop's last answer, its connections. */
struct vnc_world {
	struct vnc_vminfo	*vms;
	int			 nvms;
	struct vnc_vm		*conns;
	char			 run_dir[PATH_MAX];
};
struct vnc_vminfo *vnc_world_find(struct vnc_world *, const char *vm);
/* The connection to vm's screen (made when missing), or NULL when off. */
struct vnc_vm	*vnc_world_screen(struct vnc_world *, const char *vm);

/*
 * vnc_view.c: what one authenticated client sees, on a screen of its own
 * (libvncserver has one framebuffer a screen): the wall or a VM.
 */
struct _rfbClientRec;
struct vnc_view;
/* cl moved from the lobby onto a new screen; vm NULL: the wall. */
struct vnc_view	*vnc_view_new(struct vnc_world *, struct _rfbClientRec *cl,
		    const char *vm);
/* Redraw what changed, serve the client; -1 once it is gone. */
int		 vnc_view_tick(struct vnc_view *, int64_t now);
void		 vnc_view_free(struct vnc_view *);
/* Mark the VM connections the view needs (vnc_vm.need, .fast). */
void		 vnc_view_needs(struct vnc_view *);
/* Its client's socket, to poll. */
int		 vnc_view_fd(const struct vnc_view *);

/* vnc_web.c: noVNC's files over HTTP, in the VNC thread */
struct pollfd;
struct vnc_web;
struct vnc_web	*vnc_web_new(int lfd, const char *root, const char *rfb_ip,
		    unsigned rfb_port);
/* Its sockets to poll (at most max); how many. */
int		 vnc_web_pollfds(struct vnc_web *, struct pollfd *, int max);
/* Accept, read, answer: whatever is ready, never waiting. */
void		 vnc_web_run(struct vnc_web *, int64_t now);

/* vnc_server.c: the thread; fd its end of the socketpair */
struct vnc_opts {
	int		 ctl;		/* the thread's end of the socketpair */
	int		 listen_fd;	/* RFB, bound and listening */
	const char	*instructor;
	const char	*run_dir;
	int		 web_fd;	/* noVNC over HTTP, listening; -1: none */
	const char	*web_root;	/* the novnc package's files */
	const char	*rfb_ip;	/* where noVNC's page connects */
	unsigned	 rfb_port;
};
int	vnc_server_start(const struct vnc_opts *, char *err, size_t errlen);

#endif /* LABD_VNC_H */
