/* SPDX-License-Identifier: ISC */
/*
 * vncpeek - the VNC viewer the integration tests drive: libvncclient
 * (Debian's libvncclient1), VNC authentication with the password in a
 * file, then actions in order:
 *
 *   vncpeek HOST:PORT PASSFILE ACTION...
 *     snap FILE     the framebuffer as it is now, a binary PPM
 *     size          print WIDTHxHEIGHT
 *     sleep MS      keep reading updates for MS
 *     key NAME      press and release a key: Return Tab Escape Left
 *                   Right Up Down BackSpace, or one character
 *     type TEXT     each character of TEXT, "\n" as Return
 *     latency NAME  press and release a key, print the milliseconds
 *                   until the next framebuffer update arrives
 *
 * Exit 0 when all ran, 1 when the server refused or went away (the
 * reason on stderr), 2 on a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <rfb/rfbclient.h>

static const char	*password;
static int		 updates;	/* framebuffer updates received */

static char *
get_password(rfbClient *c)
{
	return strdup(password);
}

static void
on_update(rfbClient *c, int x, int y, int w, int h)
{
	updates++;
}

static long long
ms(void)
{
	struct timeval	tv;

	gettimeofday(&tv, NULL);
	return tv.tv_sec * 1000LL + tv.tv_usec / 1000;
}

/* Read updates for t ms, asking for more as they come. */
static int
pump(rfbClient *c, int t)
{
	long long	end = ms() + t;
	int		n;

	while (ms() < end) {
		if ((n = WaitForMessage(c, 50000)) < 0)
			return -1;
		if (n > 0 && !HandleRFBServerMessage(c))
			return -1;
	}
	return 0;
}

static int
snap(rfbClient *c, const char *path)
{
	FILE		*f;
	int		 x, y;
	unsigned char	*p;

	if ((f = fopen(path, "wb")) == NULL)
		return -1;
	fprintf(f, "P6\n%d %d\n255\n", c->width, c->height);
	for (y = 0; y < c->height; y++)
		for (x = 0; x < c->width; x++) {
			p = c->frameBuffer + (y * c->width + x) * 4;
			fputc(p[0], f);
			fputc(p[1], f);
			fputc(p[2], f);
		}
	return fclose(f);
}

static uint32_t
keysym(const char *name)
{
	static const struct {
		const char	*name;
		uint32_t	 sym;
	} keys[] = {
		{ "Return", 0xff0d }, { "Tab", 0xff09 }, { "Escape", 0xff1b },
		{ "Left", 0xff51 }, { "Up", 0xff52 }, { "Right", 0xff53 },
		{ "Down", 0xff54 }, { "BackSpace", 0xff08 },
	};
	size_t	i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].name, name) == 0)
			return keys[i].sym;
	return strlen(name) == 1 ? (unsigned char)name[0] : 0;
}

/* As a keyboard types it: Shift held for the characters it needs. */
static int
key(rfbClient *c, uint32_t sym)
{
	int	shift = sym < 0x80 && (strchr("~!@#$%^&*()_+{}|:\"<>?", (int)sym)
		    != NULL || (sym >= 'A' && sym <= 'Z'));

	if ((shift && (!SendKeyEvent(c, 0xffe1, TRUE) || pump(c, 10) == -1)) ||
	    !SendKeyEvent(c, sym, TRUE) || pump(c, 30) == -1 ||
	    !SendKeyEvent(c, sym, FALSE) || pump(c, 30) == -1 ||
	    (shift && (!SendKeyEvent(c, 0xffe1, FALSE) || pump(c, 10) == -1)))
		return -1;
	return 0;
}

static void
quiet(const char *fmt, ...)
{
}

int
main(int argc, char *argv[])
{
	rfbClient	*c;
	char		*host, *colon, line[256];
	FILE		*f;
	int		 i, rc = 0;
	const char	*s;

	if (argc < 3) {
		fprintf(stderr, "usage: vncpeek HOST:PORT PASSFILE ACTION...\n");
		return 2;
	}
	if ((f = fopen(argv[2], "r")) == NULL || fgets(line, sizeof(line),
	    f) == NULL) {
		fprintf(stderr, "vncpeek: cannot read %s\n", argv[2]);
		return 2;
	}
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	password = line;
	/* Errors only, unless asked. */
	if (getenv("VNCPEEK_DEBUG") == NULL)
		rfbClientLog = quiet;
	c = rfbGetClient(8, 3, 4);
	c->GetPassword = get_password;
	c->GotFrameBufferUpdate = on_update;
	c->canHandleNewFBSize = TRUE;
	c->appData.encodingsString = "raw";
	host = strdup(argv[1]);
	if ((colon = strrchr(host, ':')) == NULL) {
		fprintf(stderr, "vncpeek: %s is not HOST:PORT\n", argv[1]);
		return 2;
	}
	*colon = '\0';
	c->serverHost = host;
	c->serverPort = atoi(colon + 1);
	if (!rfbInitClient(c, NULL, NULL)) {
		fprintf(stderr, "vncpeek: refused or failed\n");
		return 1;
	}
	for (i = 3; i < argc && rc == 0; i++) {
		if (strcmp(argv[i], "size") == 0) {
			printf("%dx%d\n", c->width, c->height);
			fflush(stdout);
		} else if (i + 1 >= argc) {
			fprintf(stderr, "vncpeek: %s needs an argument\n",
			    argv[i]);
			return 2;
		} else if (strcmp(argv[i], "snap") == 0) {
			rc = snap(c, argv[++i]);
		} else if (strcmp(argv[i], "sleep") == 0) {
			rc = pump(c, atoi(argv[++i]));
		} else if (strcmp(argv[i], "key") == 0) {
			if (keysym(argv[++i]) == 0) {
				fprintf(stderr, "vncpeek: no key %s\n", argv[i]);
				return 2;
			}
			rc = key(c, keysym(argv[i]));
		} else if (strcmp(argv[i], "latency") == 0) {
			long long	t0;
			int		seen;

			if (keysym(argv[++i]) == 0) {
				fprintf(stderr, "vncpeek: no key %s\n", argv[i]);
				return 2;
			}
			pump(c, 200);
			seen = updates;
			t0 = ms();
			if (!SendKeyEvent(c, keysym(argv[i]), TRUE) ||
			    !SendKeyEvent(c, keysym(argv[i]), FALSE))
				rc = -1;
			while (rc == 0 && updates == seen && ms() - t0 < 5000)
				if (WaitForMessage(c, 10000) > 0 &&
				    !HandleRFBServerMessage(c))
					rc = -1;
			printf("%lld\n", updates == seen ? -1 : ms() - t0);
			fflush(stdout);
		} else if (strcmp(argv[i], "type") == 0) {
			for (s = argv[++i]; *s != '\0' && rc == 0; s++)
				rc = key(c, *s == '\n' ? 0xff0d :
				    (unsigned char)*s);
		} else {
			fprintf(stderr, "vncpeek: unknown action %s\n", argv[i]);
			return 2;
		}
		/* Ask again: an incremental request after each step. */
		if (rc == 0)
			SendFramebufferUpdateRequest(c, 0, 0, c->width,
			    c->height, TRUE);
	}
	if (rc != 0)
		fprintf(stderr, "vncpeek: the server went away\n");
	rfbClientCleanup(c);
	return rc == 0 ? 0 : 1;
}
