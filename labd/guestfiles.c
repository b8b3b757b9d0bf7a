/* SPDX-License-Identifier: ISC */
/*
 * guestfiles.c - the files the seed installs in every guest at its first
 * boot (cloud-init's write_files, or the tiny template's seed.sh):
 *
 *   /usr/local/bin/lab-check	the student's command (templates/guest/
 *				lab-check, built into labd as a string)
 *   /usr/local/sbin/labd-agent	labd's hand in the guest: the clock and
 *				the sudo policy after a RAM restore
 *				(templates/guest/labd-agent, labd/agent.c)
 *   /etc/systemd/system/labd-agent.service
 *				which starts it where systemd runs (the
 *				tiny guest's rcS starts it itself)
 *   /etc/udev/rules.d/60-labd-check.rules
 *				its virtio-serial port open to every user,
 *				since a student in an exam is not root
 *   /etc/labd/param		the VM's parameter (param.c), readable by
 *				the student from the first boot on
 *
 * They come with the seed rather than with a template so that any
 * cloud image gets them.  udev has made the port's node by the time
 * cloud-init writes the rule, so a runcmd applies it; the tiny guest has
 * no udev, and its rcS opens the port to all instead.
 */
#include <string.h>

#include "labd/labd.h"
#include "vmm/vmm.h"

/* lab_check_script[], labd_agent_script[]: made by the Makefile. */
#include "guest-lab-check.h"
#include "guest-labd-agent.h"

static const char udev_rule[] =
    "# labd: lab-check's port to labd, for every user (a student is not root)\n"
    "SUBSYSTEM==\"virtio-ports\", ATTR{name}==\"org.labd.check\","
    " MODE=\"0666\"\n";

static const char agent_unit[] =
    "# labd: its agent in the guest (the clock and sudo policy after a reset)\n"
    "[Unit]\n"
    "Description=labd agent\n"
    "\n"
    "[Service]\n"
    "ExecStart=/usr/local/sbin/labd-agent\n"
    "Restart=always\n"
    "RestartSec=2\n"
    "\n"
    "[Install]\n"
    "WantedBy=multi-user.target\n";

/*
 * The agent enabled without "enable --now": enable reloads all of
 * systemd's units, seconds of the first boot under emulation.  systemd
 * 246 and later finds a unit file new since its last load by itself;
 * an older one is told to reload when it does not.
 */
static const char *const runcmd[] = {
	"command -v udevadm >/dev/null && udevadm trigger --action=change"
	" --subsystem-match=virtio-ports; true",
	"command -v systemctl >/dev/null && { systemctl --no-reload enable"
	" labd-agent.service; systemctl start labd-agent.service ||"
	" { systemctl daemon-reload; systemctl start labd-agent.service; };"
	" }; true",
};

size_t
guest_files(const char *param_line, struct vmm_file *files, size_t max,
    const char *const **cmds, size_t *ncmds)
{
	size_t	n = 0;

	*cmds = runcmd;
	*ncmds = sizeof(runcmd) / sizeof(runcmd[0]);
	if (max < 5)
		return 0;
	files[n++] = (struct vmm_file){ "/usr/local/bin/lab-check",
	    lab_check_script, sizeof(lab_check_script) - 1, 0755 };
	files[n++] = (struct vmm_file){ "/usr/local/sbin/labd-agent",
	    labd_agent_script, sizeof(labd_agent_script) - 1, 0755 };
	files[n++] = (struct vmm_file){
	    "/etc/systemd/system/labd-agent.service", agent_unit,
	    sizeof(agent_unit) - 1, 0644 };
	files[n++] = (struct vmm_file){ "/etc/udev/rules.d/60-labd-check.rules",
	    udev_rule, sizeof(udev_rule) - 1, 0644 };
	if (param_line != NULL && param_line[0] != '\0')
		files[n++] = (struct vmm_file){ "/etc/labd/param", param_line,
		    strlen(param_line), 0644 };
	return n;
}
