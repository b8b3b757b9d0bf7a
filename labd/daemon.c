/* SPDX-License-Identifier: ISC */
/*
 * daemon.c - the daemon's one instance.  Every file of labd reads its
 * configuration, loop and database through the global `labd`; it lives
 * here rather than beside main() so that the library's files depend on
 * this leaf, not on the program that starts them (main.c calls them all),
 * and unit tests link the same instance without a main.
 */
#include "labd/labd.h"

static struct labd	 labd_instance;
struct labd		*labd = &labd_instance;
