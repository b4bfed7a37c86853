/*
 * mitmproxy_shim: run mitmproxy or mitmdump in fully transparent mode
 * (--spoof-source-address) without running it as root.
 *
 * Spoofing the source address needs a socket option (IP_TRANSPARENT) that only a process
 * with CAP_NET_ADMIN or CAP_NET_RAW may set. Installed setuid root, this wrapper becomes
 * the user who started it again, keeping just those two capabilities, and runs the
 * program it is given with them as *ambient* capabilities, so that they survive the exec
 * of an ordinary (not setuid, no file capabilities) Python interpreter. Every other
 * capability is gone for good: removed from the bounding set, so that not even a setuid
 * program started later, nor a shim run by root itself, gets it back.
 *
 * Needs Linux 4.3 or newer (ambient capabilities). Uses the system calls directly, so
 * building it needs no libcap, only the kernel headers that come with gcc's libc:
 *
 *     gcc examples/mitmproxy_shim.c -o mitmproxy_shim
 *     sudo chown root:root mitmproxy_shim
 *     sudo chmod u+s mitmproxy_shim
 *     ./mitmproxy_shim $(which mitmdump) -T --spoof-source-address
 *
 * (The routing that fully transparent mode needs is in docs/transparent.md.)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The capabilities the program keeps. Both fit in the first 32-bit word of a set. */
static const int KEPT[] = {CAP_NET_ADMIN, CAP_NET_RAW};
#define KEPT_COUNT (sizeof(KEPT) / sizeof(KEPT[0]))

static void fail(const char *what)
{
    fprintf(stderr, "mitmproxy_shim: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int kept(int cap)
{
    for (size_t i = 0; i < KEPT_COUNT; i++)
        if (KEPT[i] == cap)
            return 1;
    return 0;
}

/* Remove every other capability from the bounding set (needs CAP_SETPCAP, which a
   setuid-root process still has at this point). The loop ends at the first capability
   number this kernel does not know (EINVAL). */
static void drop_bounding_set(void)
{
    for (int cap = 0;; cap++) {
        if (kept(cap))
            continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
            if (errno == EINVAL)
                return;
            fail("dropping capabilities from the bounding set");
        }
    }
}

/* Permitted, effective and inheritable sets: the kept capabilities and nothing else. */
static void limit_capabilities(void)
{
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    memset(data, 0, sizeof(data));
    for (size_t i = 0; i < KEPT_COUNT; i++) {
        __u32 bit = 1u << KEPT[i];
        data[0].permitted |= bit;
        data[0].effective |= bit;
        data[0].inheritable |= bit;
    }
    if (syscall(SYS_capset, &header, data) != 0)
        fail("capset");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PROGRAM [ARGUMENT...]\n"
                        "runs PROGRAM as the calling user with CAP_NET_ADMIN and "
                        "CAP_NET_RAW only (install this file setuid root)\n", argv[0]);
        return 2;
    }
    if (geteuid() != 0) {
        fprintf(stderr, "mitmproxy_shim: not running as root: install it with "
                        "'chown root:root' and 'chmod u+s'\n");
        return 1;
    }
    uid_t uid = getuid();
    gid_t gid = getgid();

    drop_bounding_set();
    /* Keep the permitted set through the change of user below (it would be cleared). */
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
        fail("prctl(PR_SET_KEEPCAPS)");
    if (setresgid(gid, gid, gid) != 0)
        fail("setresgid");
    if (setresuid(uid, uid, uid) != 0)
        fail("setresuid");
    limit_capabilities();
    for (size_t i = 0; i < KEPT_COUNT; i++)
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, KEPT[i], 0, 0) != 0)
            fail("raising an ambient capability (Linux 4.3 or newer is needed)");

    execvp(argv[1], &argv[1]);
    fprintf(stderr, "mitmproxy_shim: cannot run %s: %s\n", argv[1], strerror(errno));
    return 127;
}
