/* xhp.h: the small shared library of the xen-hotplug helpers.
 * One function per file in helpers/lib/, declared here in sections owned by
 * the helpers that need them. Exit codes: docs/exit-codes.md. */
#ifndef XHP_H
#define XHP_H

#include <stddef.h>

/* Exit codes (docs/exit-codes.md). */
enum {
	XHP_OK = 0,
	XHP_NO = 1,        /* busy, absent, refused */
	XHP_STALE = 2,     /* flock-wrap -F: reopen the lock file and retry */
	XHP_USAGE = 100,
	XHP_SYS = 111,
	XHP_NOEXEC = 126,
	XHP_NOTFOUND = 127
};

/* ---- errors, usage, output (xhp_die.c, xhp_usage.c, xhp_out.c) ---- */

/* Program name used in messages; set from argv[0] by xhp_init. */
extern const char *xhp_prog;
void xhp_init(const char *argv0);

/* Print "PROG: fatal: MSG" on stderr and exit with CODE. */
void xhp_die(int code, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));
/* Same, with ": strerror(errno)" appended (errno saved at entry). */
void xhp_die_sys(int code, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));

/* Print USAGE on stderr and exit XHP_USAGE. */
void xhp_usage(const char *usage) __attribute__((noreturn));

/* Flush and close stdout; exit XHP_SYS if any write failed. Call before
 * exiting 0 from a helper that printed a result. */
void xhp_close_stdout(void);

/* ---- numbers (xhp_parse_ulong.c) ---- */

/* Parse S as a decimal (BASE 10) or hex (BASE 16, no 0x) unsigned number no
 * larger than MAX. Leading/trailing junk, signs, empty strings and overflow
 * are errors. Returns 0 on success, -1 on error (errno = EINVAL/ERANGE). */
int xhp_parse_ulong(const char *s, int base, unsigned long max,
		    unsigned long *out);

/* ---- lock and loop (flock-wrap, loop-attach, loop-detach, xs-stat-path;
 * loop_*.c, flock_*.c) ---- */

#include <sys/types.h>

/* Backing file of loop device MAJ:MIN. Returns 0 with *DEV and *INO set
 * when it is a bound loop device, 1 when it is not a loop device or not
 * bound, -1 on error (errno set). Not Linux: always 1. */
int xhp_loop_backing(unsigned int maj, unsigned int min, dev_t *dev,
		     ino_t *ino);

/* Call FN(maj, min, CTX) for every bound loop device whose backing file is
 * (DEV, INO). A non-zero return from FN stops the scan and is returned.
 * Returns 0 when the scan completed, -1 on error (errno set). Not Linux:
 * there are no loop devices, returns 0. */
int xhp_loop_users(dev_t dev, ino_t ino,
		   int (*fn)(unsigned int maj, unsigned int min, void *ctx),
		   void *ctx);

/* 0 with *N set when NAME is a whole loop device's name, "loop" and a
 * decimal number (not a partition, "loop0p1"); -1 otherwise. */
int xhp_loop_index(const char *name, unsigned long *n);

/* Size of a loop tag buffer: lo_file_name holds 63 bytes and a NUL. */
#define XHP_LOOP_TAG_MAX 64

/* Status of the open loop device FD (LOOP_GET_STATUS64): 0 when bound,
 * with the backing file's *DEV and *INO (either may be NULL) and
 * lo_file_name copied NUL-terminated into TAG (may be NULL, else
 * XHP_LOOP_TAG_MAX bytes); 1 when not bound; -1 on error (errno set).
 * Linux only. */
int xhp_loop_status(int fd, dev_t *dev, ino_t *ino, char *tag);

/* The kernel reports a loop device's backing dev_t in its own 32-bit
 * encoding (new_encode_dev); this gives the userland dev_t. */
dev_t xhp_loop_decode_dev(unsigned long long kdev);

/* Describe the process holding a flock on the file (DEV, INO), from
 * /proc/locks: writes "pid N (CMDLINE)" into BUF (always NUL-terminated,
 * truncated to LEN). Returns 0 when a holder was found, 1 when none was,
 * -1 on error (errno set). */
int xhp_flock_holder(dev_t dev, ino_t ino, char *buf, size_t len);

/* ---- xenstore and identity (xs-readv, xs-stat-path, xs-majmin;
 * xs_*.c, id_*.c). The parsers are pure functions, one per file, so that
 * tests/fuzz can drive them. ---- */

#include <sys/types.h>

/* Output/parse formats of physical-device (docs/helpers.md). */
enum { XHP_FMT_LINUX = 1, XHP_FMT_NETBSD = 2 };
/* The build target's format; -DXHP_FMT_DEFAULT=... overrides it (the
 * NetBSD build check on Linux). */
#ifndef XHP_FMT_DEFAULT
#ifdef __NetBSD__
#define XHP_FMT_DEFAULT XHP_FMT_NETBSD
#else
#define XHP_FMT_DEFAULT XHP_FMT_LINUX
#endif
#endif
/* Room for any formatted MAJ:MIN or NetBSD dev_t, with the NUL. */
#define XHP_MAJMIN_MAX 48

/* "linux" or "netbsd" to XHP_FMT_*; -1 for anything else. */
int xhp_parse_fmt(const char *s);

/* Format MAJ, MIN into BUF (XHP_MAJMIN_MAX bytes) as FMT: "%lx:%lx" or the
 * decimal NetBSD dev_t. Returns 0, or -1 (errno ERANGE) when the numbers do
 * not fit the NetBSD encoding (12-bit major, 20-bit minor). */
int xhp_fmt_majmin(char *buf, unsigned long maj, unsigned long min, int fmt);

/* Parse a physical-device value (LEN bytes, not NUL-terminated) in FMT.
 * Returns 0 with *MAJ, *MIN set, -1 if it is not a valid value. */
int xhp_parse_physdev(const char *s, size_t len, int fmt,
		      unsigned long *maj, unsigned long *min);

/* Canonicalise a mode as upstream's block-common.sh does: 'r' when it has
 * no 'w', '!' when it has both 'w' and '!', else 'w'. LEN bytes of S. */
int xhp_canon_mode(const char *s, size_t len);

/* 1 when the LEN bytes of V are valid UTF-8 with no control character (C0,
 * DEL, C1, NUL), 0 otherwise. */
int xhp_value_ok(const char *v, size_t len);

/* Split ARG "NODE[=DEFAULT]" in place: ARG becomes NODE, *DEF points to
 * DEFAULT or is NULL. Returns -1 when NODE is empty or holds a byte a
 * xenstore path cannot (anything but alnum and "-/_@"), else 0. */
int xhp_parse_nodearg(char *arg, const char **def);

/* One line of /proc/self/mountinfo, split in place by xhp_parse_mountinfo.
 * MNT is the mount point as the kernel escaped it (safe to print on one
 * line); SOURCE is unescaped. SB_RW: the superblock is read-write. */
struct xhp_mount {
	unsigned long maj, min;
	const char *mnt;
	const char *source;
	int sb_rw;
};
/* Returns 0, or -1 for a line that is not a mountinfo line. LINE may end
 * in a newline. */
int xhp_parse_mountinfo(char *line, struct xhp_mount *m);

/* 1 when two domains' vm values name the same VM (same_vm rules,
 * docs/xs-stat-path.md): equal, or OURS is THEIRS plus "-1". */
int xhp_vm_same(const char *ours, const char *theirs);

/* Identity set (docs/helpers.md "Device identity"). */
struct xhp_blkid {
	unsigned long maj, min;
};
struct xhp_fileid {
	dev_t dev;
	ino_t ino;
};
struct xhp_idset {
	struct xhp_blkid *blk;
	size_t nblk, ablk;
	struct xhp_fileid *file;
	size_t nfile, afile;
};
/* Add members; -1 (errno ENOMEM) on allocation failure. Duplicates are
 * dropped. */
int xhp_idset_add_blk(struct xhp_idset *s, unsigned long maj,
		      unsigned long min);
int xhp_idset_add_file(struct xhp_idset *s, dev_t dev, ino_t ino);
int xhp_idset_has_blk(const struct xhp_idset *s, unsigned long maj,
		      unsigned long min);
int xhp_idset_has_file(const struct xhp_idset *s, dev_t dev, ino_t ino);
/* Add a block device and, if it is a bound loop device, its backing file
 * and every loop device over that file. 0, or -1 (errno). */
int xhp_idset_expand_blk(struct xhp_idset *s, unsigned long maj,
			 unsigned long min);
/* Add a regular file and every loop device backing it. 0, or -1. */
int xhp_idset_expand_file(struct xhp_idset *s, dev_t dev, ino_t ino);
void xhp_idset_free(struct xhp_idset *s);

/* major()/minor() of a dev_t, portable. */
unsigned long xhp_dev_major(dev_t d);
unsigned long xhp_dev_minor(dev_t d);

#endif
