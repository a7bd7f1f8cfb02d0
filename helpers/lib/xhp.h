/* SPDX-License-Identifier: LGPL-2.1-only */
/* xhp.h: the shared library of the xen-hotplug helpers, helpers/lib/.
 * One module per subject, and the file name is the function prefix:
 *
 *   xhp.c     xhp_*          the program frame: name, errors, usage, stdout
 *   parse.c   xhp_parse_*    pure parsers of arguments and xenstore values
 *   table.c   xhp_table_*    pure parsers of a system table's lines, a reader
 *   id.c      xhp_id_*       device identity and the identity set
 *   sysfs.c   xhp_sysfs_*    the block-device graph as sysfs shows it
 *   dm.c      xhp_dm_*       device-mapper tables
 *   stack.c   xhp_stack_*    where a device's sectors live, in its identity set
 *   blkdev.c  xhp_blkdev_*   the walk down Linux's block-device graph
 *   part.c    xhp_part_*     disk partitions: on their disk, above a stack
 *   loopmap.c xhp_loopmap_*  which Linux loop devices are bound to what
 *   loop.c    xhp_loop_*     binding a file to a Linux loop device, unbinding
 *   md.c      xhp_md_*       FreeBSD md(4) units over image files
 *   vnd.c     xhp_vnd_*      NetBSD vnd(4) units: attach, verified detach
 *   vndtab.c  xhp_vndtab_*   the vnd table: vnd(4)'s stand-in elsewhere
 *   vndkern.c xhp_vndkern_*  the kernel's vnd(4) units (NetBSD)
 *   geom.c    xhp_geom_*     FreeBSD's GEOM tree: partitions, labels, mirrors
 *   lock.c    xhp_lock_*     the hotplug lock (locking.sh's protocol)
 *   holder.c  xhp_holder_*   who holds a flock, for a timeout's message
 *   xs.c      xhp_xs_*       the pipelined xenstore connection
 *   xspath.c  xhp_xspath_*   xenstore paths and payloads, directory replies
 *   batch.c   xhp_batch_*    requests sent together; a transaction's steps
 *   share.c   xhp_share_*    the sharing check: its verdict and rules
 *   scan.c    xhp_scan_*     the sharing check against other guests
 *   fetch.c   xhp_fetch_*    what each backend of the scan names
 *   dom0.c    xhp_dom0_*     the sharing check against dom0's own use
 *   claim.c   xhp_claim_*    the Linux kernel's claims: holders, swap, mounts
 *   bsdmnt.c  xhp_bsdmnt_*   the same on a BSD dom0: its mounts
 *   pub.c     xhp_pub_*      the transactions of the outcome: published, failed
 *   run.c     xhp_run_*      the script run: its deadline, is it still there
 *
 * Each section below declares one module. Functions that "die" exit
 * through xhp_die. Exit codes: docs/exit-codes.md. */
#ifndef XHP_H
#define XHP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* ---- xhp.c: the program frame ---- */

/* Exit codes (docs/exit-codes.md). */
enum {
	XHP_OK = 0,
	XHP_NO = 1,        /* busy: a sharing conflict, absent, not ours */
	XHP_STALE = 2,     /* flock-wrap -F: reopen the lock file and retry */
	XHP_REFUSED = 3,   /* the request is wrong: a bad node or target */
	XHP_GONE = 4,      /* the backend is gone or being torn down */
	XHP_TIMEOUT = 5,   /* the deadline passed waiting for the lock */
	XHP_OTHER = 64,    /* private to block: another type's backend */
	XHP_USAGE = 100,
	XHP_SYS = 111,
	XHP_NOEXEC = 126,
	XHP_NOTFOUND = 127
};

/* The highest domid: 0x7FF0 (DOMID_FIRST_RESERVED) and above are
 * reserved. */
#define XHP_DOMID_MAX 32751

/* Program name used in messages; set from argv[0] by xhp_init. */
extern const char *xhp_prog;
void xhp_init(const char *argv0);

/* Print "PROG: fatal: MSG" on stderr and exit with CODE. */
void xhp_die(int code, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));
/* Same, with ": strerror(errno)" appended (errno saved at entry). */
void xhp_die_sys(int code, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));

/* When set, called once by xhp_die/xhp_die_sys before the message is
 * printed, with the exit code and the message (without "PROG: fatal: "),
 * to undo what the helper did (free a loop device, write the failure into
 * the backend, drop a lock). It returns NULL, or a note appended to the
 * message when undoing failed. */
extern const char *(*xhp_atdie)(int code, const char *msg);

/* Print USAGE on stderr and exit XHP_USAGE. */
void xhp_usage(const char *usage) __attribute__((noreturn));

/* The array P of *ROOM elements of SIZE bytes, with room for element N:
 * P itself while N < *ROOM, else reallocated to twice the room (8 at
 * first), *ROOM updated. Dies 111 without memory. */
void *xhp_grow(void *p, size_t n, size_t *room, size_t size);

/* Flush and close stdout; exit XHP_SYS if any write failed. Call before
 * exiting 0 from a helper that printed a result. */
void xhp_close_stdout(void);

/* ---- parse.c: parsers, pure functions (tests/fuzz drives them) ---- */

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

/* Parse S as a decimal (BASE 10) or hex (BASE 16, no 0x) unsigned number no
 * larger than MAX. Leading/trailing junk, signs, empty strings and overflow
 * are errors. Returns 0 on success, -1 on error (errno = EINVAL/ERANGE). */
int xhp_parse_ulong(const char *s, int base, unsigned long max,
		    unsigned long *out);

/* SECS "N[.D[D[D]]]" as milliseconds (at most 1000000 s). 0, or -1. */
int xhp_parse_secs(const char *s, unsigned long *ms);

/* "linux" or "netbsd" to XHP_FMT_*; -1 for anything else. */
int xhp_parse_fmt(const char *s);

/* Parse a physical-device value (LEN bytes, not NUL-terminated) in FMT.
 * Returns 0 with *MAJ, *MIN set, -1 if it is not a valid value. */
int xhp_parse_physdev(const char *s, size_t len, int fmt,
		      unsigned long *maj, unsigned long *min);

/* Canonicalise a mode as upstream's block-common.sh does: 'r' when it has
 * no 'w', '!' when it has both 'w' and '!', else 'w'. LEN bytes of S. */
int xhp_parse_mode(const char *s, size_t len);

/* 1 when the LEN bytes of V are valid UTF-8 with no control character (C0,
 * DEL, C1, NUL), 0 otherwise. */
int xhp_parse_value(const char *v, size_t len);

/* 1 when S is a plain name, as a backend type must be for block to run
 * block-S: letters, digits, "_", "." and "-", not "." or "..". */
int xhp_parse_name(const char *s);

/* The nodes a helper read from BACKEND, one reply each: V[I] (LEN[I]
 * bytes, NULL when absent) of NODE[I], for I from 1 to N-1 (0 is the
 * directory itself). Dies 3 naming the first value that is not text
 * (xhp_parse_value). Then TYPE, the backend's type node: 1 when it names
 * another kind of storage (not phy, file or empty), whose block-TYPE
 * script the caller leaves it to; dies 3 when that is no plain name. */
int xhp_parse_backend(const char *backend, const char *const *node,
		      char *const *v, const unsigned int *len, size_t n,
		      const char *type);

/* Split ARG "NODE[=DEFAULT]" in place: ARG becomes NODE, *DEF points to
 * DEFAULT or is NULL. Returns -1 when NODE is empty or holds a byte a
 * xenstore path cannot (anything but alnum and "-/_@"), else 0. */
int xhp_parse_nodearg(char *arg, const char **def);

/* 0 when ARG is a valid "-e NODE=VALUE" of xs-majmin/xs-publish: NODE a
 * relative xenstore path, not physical-device*; -1 otherwise (errno ENOMEM
 * when that is why). */
int xhp_parse_extra(const char *arg);

/* ---- table.c: a system table's lines: pure parsers (tests/fuzz) ---- */

/* One line of /proc/self/mountinfo, split in place by xhp_table_mountinfo.
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
int xhp_table_mountinfo(char *line, struct xhp_mount *m);

/* One line of FreeBSD's `mount -p` (fstab(5)'s columns, blank-separated),
 * split in place into M: MAJ:MIN 0:0 (the caller stats SOURCE), SB_RW
 * unless the options hold "ro". 0, or -1 for a line that is not one. */
int xhp_table_fstab(char *line, struct xhp_mount *m);

/* One line of FreeBSD's `mdconfig -l -v` (NAME TYPE SIZE FILE [LABEL
 * OPTIONS], tab-separated), split in place: 0 with *NAME ("mdN") and
 * *FILE (absolute) for a vnode unit; -1 for anything else. */
int xhp_table_mdlist(char *line, const char **name, const char **file);

/* One line of FreeBSD's kern.geom.conftxt (LEVEL CLASS NAME MEDIASIZE
 * SECTORSIZE [KEY VALUE]...), split in place into G: the fields point
 * into LINE; OFF is the "o" value (a PART's byte offset in its parent)
 * when HAS_OFF. 0, or -1 for a line that is not one (LEVEL at least
 * XHP_CONFTXT_LEVELS included). */
#define XHP_CONFTXT_LEVELS 16
struct xhp_conftxt {
	unsigned level;
	const char *class, *name;
	uint64_t size, off;
	int has_off;
};
int xhp_table_conftxt(char *line, struct xhp_conftxt *g);

/* One line of the vnd table that stands in for NetBSD's kernel where
 * there is no vnd(4) (xhp_vnd_source; the tests on Linux): UNIT, the
 * backing file's st_dev and st_ino (decimal), RO (0 or 1) and its PATH
 * (absolute, last: it may hold blanks), tab-separated. Split in place:
 * PATH points into LINE. 0, or -1 for a line that is not one. */
#define XHP_VND_UNIT_MAX 4095UL
struct xhp_vndent {
	unsigned long unit;
	dev_t dev;
	ino_t ino;
	int ro;
	const char *path;
};
int xhp_table_vndtab(char *line, struct xhp_vndent *e);

/* The one function here with I/O: FN(LINE, CTX) for each line of the file
 * PATH (with its newline; FN may split it in place), until FN returns
 * non-zero (returned). 0 at the end, -1 with errno when PATH cannot be
 * opened or read. */
int xhp_table_each(const char *path, int (*fn)(char *line, void *ctx),
		   void *ctx);

/* ---- id.c: device identity (docs/helpers.md "Device identity") ---- */

/* major()/minor() of a dev_t, portable. */
unsigned long xhp_id_major(dev_t d);
unsigned long xhp_id_minor(dev_t d);

/* Format MAJ, MIN into BUF (XHP_MAJMIN_MAX bytes) as FMT: "%lx:%lx" or the
 * decimal NetBSD dev_t. Returns 0, or -1 (errno ERANGE) when the numbers do
 * not fit the NetBSD encoding (12-bit major, 20-bit minor). */
int xhp_id_fmt(char *buf, unsigned long maj, unsigned long min, int fmt);

/* physical-device of the block device PATH, in FMT, into MM
 * (XHP_MAJMIN_MAX bytes). Dies 1 when absent or not a block device. */
void xhp_id_stat_blk(const char *path, int fmt, char *mm);

/* The identity set of a target: its block devices and regular files. */
struct xhp_blkid {
	unsigned long maj, min;
};
struct xhp_fileid {
	dev_t dev;
	ino_t ino;
};
/* Where sectors live: [LO, HI) of a disk at the bottom of a stack
 * (MAJ:MIN) or of a regular file (DEV, INO), in 512-byte sectors. */
#define XHP_EXT_ALL UINT64_MAX
struct xhp_ext {
	int file;
	unsigned long maj, min;
	dev_t dev;
	ino_t ino;
	uint64_t lo, hi;
};
/* A device a stack passes through, and how it was reached from the one
 * above: its partition's disk, a loop device's backing device, a
 * holder's (device-mapper, md) slave. DEPTH 1 is directly below. */
enum { XHP_VIA_DISK = 1, XHP_VIA_BACKING, XHP_VIA_SLAVE };
struct xhp_via {
	unsigned long maj, min;
	int kind, depth;
	uint64_t lo, hi;        /* the range of it we reach */
};
struct xhp_idset {
	struct xhp_blkid *blk;  /* the devices that are the target */
	size_t nblk, ablk;
	struct xhp_fileid *file;
	size_t nfile, afile;
	struct xhp_ext *ext;    /* where its sectors live (stack.c) */
	size_t next, aext;
	struct xhp_via *via;    /* the devices below it */
	size_t nvia, avia;
	int isfile;             /* the target is a regular file (blk: the
	                         * loop devices over it), not blk[0] */
};
/* Add members; -1 (errno ENOMEM) on allocation failure. Duplicates are
 * dropped. */
int xhp_id_add_blk(struct xhp_idset *s, unsigned long maj,
		   unsigned long min);
int xhp_id_add_file(struct xhp_idset *s, dev_t dev, ino_t ino);
int xhp_id_has_blk(const struct xhp_idset *s, unsigned long maj,
		   unsigned long min);
int xhp_id_has_file(const struct xhp_idset *s, dev_t dev, ino_t ino);
/* Add a block device and, if it is a bound loop device, its backing file
 * and every loop device over that file. 0, or -1 (errno). */
int xhp_id_expand_blk(struct xhp_idset *s, unsigned long maj,
		      unsigned long min);
/* Add a regular file and every loop device backing it. 0, or -1. */
int xhp_id_expand_file(struct xhp_idset *s, dev_t dev, ino_t ino);
/* Expand ST (a stat result) into S: block device or regular file. 0, 1
 * when ST is neither, -1 with errno. */
int xhp_id_expand_st(struct xhp_idset *s, const struct stat *st);
void xhp_id_free(struct xhp_idset *s);
/* The identity set of a target its backend opens itself (FreeBSD's
 * blkback, -O of xs-publish): a regular file with the md(4) units (and
 * loop devices) over it; a block or character device by its number (a
 * character device is a disk there; block devices as xhp_id_expand_st);
 * an md unit with its image and everything else over that image. 0, 1
 * when ST is none of these, -1 with errno. */
int xhp_id_expand_opened(struct xhp_idset *s, const struct stat *st);

/* ---- sysfs.c: the block-device graph in sysfs (Linux) ---- */

/* OUT (PATH_MAX bytes) = A "/" B; dies 111 when it does not fit. */
void xhp_sysfs_join(char *out, const char *a, const char *b);
/* The attribute DIR/NAME into BUF (N bytes, the last newline cut): 0, or
 * -1 (errno) when it cannot be read. */
int xhp_sysfs_read(const char *dir, const char *name, char *buf, size_t n);
/* The attribute as a decimal number, or as "MAJ:MIN". 0, or -1. */
int xhp_sysfs_u64(const char *dir, const char *name, uint64_t *v);
int xhp_sysfs_dev(const char *dir, const char *name, unsigned long *maj,
		  unsigned long *min);
/* The device directory of MAJ:MIN, resolved (PATH_MAX bytes): 0, or -1
 * when the kernel has no such block device. Dies 111 on other errors. */
int xhp_sysfs_dir(unsigned long maj, unsigned long min, char *dir);
/* "/dev/NAME" of MAJ:MIN into NODE (PATH_MAX bytes), checked to be that
 * device: 0, or -1. */
int xhp_sysfs_node(unsigned long maj, unsigned long min, char *node);

/* ---- dm.c: device-mapper tables (Linux) ---- */

/* FN(TYPE, START, LEN, PARAMS, CTX) for each target of the table of the dm
 * device MAJ:MIN (sectors [START, START + LEN) of it), until FN returns
 * non-zero. 0, FN's non-zero return, or -1 when there is no table to read
 * (not dm, no /dev/mapper/control, not Linux). */
int xhp_dm_table(unsigned long maj, unsigned long min,
		 int (*fn)(const char *type, uint64_t start, uint64_t len,
			   char *params, void *ctx), void *ctx);
/* Parse "MAJ:MIN OFFSET" at *P (a target's device and its offset) and
 * move *P past it: 0, or -1. */
int xhp_dm_dev_off(char **p, unsigned long *maj, unsigned long *min,
		   uint64_t *off);

/* ---- stack.c: where a block device's sectors live ---- */

/* Add where the sectors of block device MAJ:MIN live to S->ext, and the
 * devices passed on the way to S->via: from the GEOM tree where it knows
 * MAJ:MIN (xhp_geom_walk), else xhp_blkdev_walk. */
void xhp_stack_blk(struct xhp_idset *s, unsigned long maj,
		   unsigned long min);
/* Add sectors [LO, HI) of the file DEV:INO to S->ext. */
void xhp_stack_file(struct xhp_idset *s, dev_t dev, ino_t ino, uint64_t lo,
		    uint64_t hi);
/* Add sectors [LO, HI) of the block device MAJ:MIN to S->ext. */
void xhp_stack_add_ext_blk(struct xhp_idset *s, unsigned long maj,
			   unsigned long min, uint64_t lo, uint64_t hi);
/* Record that the stack passes through MAJ:MIN, reached by KIND (an
 * XHP_VIA_*) at DEPTH, over [LO, HI) of it; the first record stays. */
void xhp_stack_add_via(struct xhp_idset *s, unsigned long maj,
		       unsigned long min, int kind, int depth, uint64_t lo,
		       uint64_t hi);
/* A + B in sectors, XHP_EXT_ALL where it would overflow. */
uint64_t xhp_stack_add_sat(uint64_t a, uint64_t b);
/* The first extent of A that meets one of B, or NULL. */
const struct xhp_ext *xhp_stack_overlap(const struct xhp_idset *a,
					const struct xhp_idset *b);
/* The entry of S->via for MAJ:MIN, or NULL. */
const struct xhp_via *xhp_stack_via(const struct xhp_idset *s,
				    unsigned long maj, unsigned long min);
/* A name for MAJ:MIN in messages: the GEOM provider's "DEVDIR/NAME"
 * where the tree has it, else xhp_blkdev_name. */
void xhp_stack_name(unsigned long maj, unsigned long min, char *buf,
		    size_t n);

/* ---- blkdev.c: the walk down Linux's block-device graph ---- */

/* Add where the sectors of MAJ:MIN live to S (xhp_stack_add_ext_blk,
 * xhp_stack_file) and the devices passed on the way (xhp_stack_add_via):
 * on Linux through sysfs, the loop status and device-mapper tables;
 * elsewhere the device itself, whole. */
void xhp_blkdev_walk(struct xhp_idset *s, unsigned long maj,
		     unsigned long min);
/* A name for MAJ:MIN in messages: "/dev/NAME", with the device-mapper
 * name when there is one; "device MAJ:MIN" when sysfs has none (and
 * elsewhere than Linux). */
void xhp_blkdev_name(unsigned long maj, unsigned long min, char *buf,
		     size_t n);

/* ---- part.c: disk partitions (Linux sysfs) ---- */

/* The *START and *SIZE (sectors) on its disk of the partition whose
 * sysfs directory is DIR; PDIR is the disk's, PMAJ:PMIN its number (for
 * an extended DOS partition's real extent). 0, or -1. Linux only. */
int xhp_part_range(const char *dir, const char *pdir, unsigned long pmaj,
		   unsigned long pmin, uint64_t *start, uint64_t *size);
/* FN(MAJ, MIN, CTX) for each partition that meets S on a disk of its
 * stack: the partitions of S's own devices, and those that meet S's range
 * on every partition's disk in S->via. Not Linux: none. */
void xhp_part_above(const struct xhp_idset *s,
		    void (*fn)(unsigned long, unsigned long, void *),
		    void *ctx);

/* ---- dom0.c: the privileged domain's own use of the target ---- */

struct xhp_share; /* share.c */

/* A small set of block devices, zero-initialised when empty. */
struct xhp_devs {
	struct xhp_blkid *d;
	size_t n, a;
};

/* Is MAJ:MIN in S? Add it (once); dies 111 without memory. */
int xhp_dom0_has(const struct xhp_devs *s, unsigned long maj,
		 unsigned long min);
void xhp_dom0_add(struct xhp_devs *s, unsigned long maj, unsigned long min);

/* The mount table FILE (of process PID's mount namespace; 0: ours)
 * against ALL. 1 busy (C's verdict set): a read-write mount, or any mount
 * for a read-write request; a read-only mount beside a read-only request
 * is recorded in SEEN. A table of a process gone meanwhile is none. Dies
 * 111. */
int xhp_dom0_table(struct xhp_share *c, const char *file,
		   const struct xhp_devs *all, struct xhp_devs *seen, long pid);

/* Is C's target (C->ids, with its stack) used by dom0: mounted in the
 * mount table MOUNTINFO, and on Linux claimed by the kernel (a mount in
 * any namespace, swap, a holder), on any layer that meets it? 0 ok, 1
 * busy (C->verdict "local MM WHERE", C->rel the words when it is not the
 * plain mount of the target itself). Dies 111. */
int xhp_dom0_check(struct xhp_share *c, const char *mountinfo);

/* The verdict "local MM WHERE" in C, and unless MAJ:MIN is the target's
 * own device named in our own mount table (PLAIN: the plain message), the
 * sentence in C->rel: the target's relation to MAJ:MIN, then FMT's words.
 * Returns 1 (busy), for its callers to pass on. */
int xhp_dom0_local(struct xhp_share *c, unsigned long maj, unsigned long min,
		   const char *where, int plain, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* ---- claim.c: the Linux kernel's claims on the target ---- */

/* The kernel's claims on PROBE (an exclusive open fails with EBUSY): the
 * partitions that meet the target (index NOWN on) first, then the
 * target's own devices. A claim is explained from the holders, swap and
 * the other mount namespaces' tables against ALL; read-only mounts beside
 * a read-only request, in SEEN, explain it away. A whole disk is claimed
 * while any of its partitions is, so a partition explained explains its
 * disk. 1 busy (C's verdict set), 0 ok; always 0 but on Linux. */
int xhp_claim_check(struct xhp_share *c, const struct xhp_devs *probe,
		    size_t nown, const struct xhp_devs *all,
		    struct xhp_devs *seen);

/* ---- bsdmnt.c: a BSD dom0's mounts (FreeBSD, NetBSD) ---- */

/* xhp_dom0_check for a BSD dom0 (FreeBSD, NetBSD): is a device of C->ids
 * mounted, read-write or for a read-write request? With C->rawpart, a
 * mounted partition also uses its disk's raw partition. The mounts are
 * getmntinfo(3)'s on FreeBSD and NetBSD, or with FSTAB the `mount -p`
 * lines in that file (elsewhere: none without it). 0 ok, 1 busy
 * (C->verdict). Dies 111. */
int xhp_bsdmnt_check(struct xhp_share *c, const char *fstab);

/* NetBSD's raw partition, the one that spans the whole disk
 * (kern.rawpartition, getrawpartition(3)): 3 (d) elsewhere, as on amd64.
 * Dies 111 when the kernel will not say. */
int xhp_bsdmnt_rawpartition(void);

/* ---- loopmap.c: which loop devices are bound to what (Linux) ---- */

/* 0 with *N set when NAME is a whole loop device's name, "loop" and a
 * decimal number (not a partition, "loop0p1"); -1 otherwise. */
int xhp_loopmap_index(const char *name, unsigned long *n);

/* The kernel reports a loop device's backing dev_t in its own 32-bit
 * encoding (new_encode_dev); this gives the userland dev_t. */
dev_t xhp_loopmap_decode_dev(unsigned long long kdev);

/* What a bound loop device serves: its backing inode (DEV, INO), that
 * inode's device number when it is a block device (RDEV, else 0), and
 * the byte range (OFFSET, SIZELIMIT: 0 for up to the end). */
struct xhp_loopmap_info {
	dev_t dev, rdev;
	ino_t ino;
	unsigned long long offset, sizelimit;
};
/* The same lookup as xhp_loopmap_backing, with all of the status. */
int xhp_loopmap_info(unsigned int maj, unsigned int min,
		     struct xhp_loopmap_info *info);

/* Backing file of loop device MAJ:MIN. Returns 0 with *DEV and *INO set
 * when it is a bound loop device, 1 when it is not a loop device or not
 * bound, -1 on error (errno set). Not Linux: always 1. */
int xhp_loopmap_backing(unsigned int maj, unsigned int min, dev_t *dev,
			ino_t *ino);

/* Call FN(N, NAME, CTX) for every bound loop device loopN in /sys/block
 * (NAME is its sysfs name). A non-zero return from FN stops the scan and
 * is returned (errno kept). 0 when the scan completed, -1 on error (errno
 * set). Not Linux: no loop devices, returns 0. */
int xhp_loopmap_bound_each(int (*fn)(unsigned long n, const char *name,
				     void *ctx), void *ctx);

/* Call FN(maj, min, CTX) for every bound loop device whose backing file is
 * (DEV, INO). A non-zero return from FN stops the scan and is returned.
 * Returns 0 when the scan completed, -1 on error (errno set). Not Linux:
 * there are no loop devices, returns 0. */
int xhp_loopmap_users(dev_t dev, ino_t ino,
		      int (*fn)(unsigned int maj, unsigned int min, void *ctx),
		      void *ctx);

/* ---- loop.c: binding a file to a loop device (Linux) ---- */

/* Size of a loop tag buffer: lo_file_name holds 63 bytes and a NUL. */
#define XHP_LOOP_TAG_MAX 64

/* 1 when TAG can label a loop device: 1 to 63 printable ASCII bytes, not
 * starting with '/' (losetup's paths). */
int xhp_loop_tag_ok(const char *tag);

/* The tag of BACKEND's loop device into TAG (XHP_LOOP_TAG_MAX bytes):
 * PREFIX ":" TYPE/DOMID/DEVID, the backend's path below its backend root.
 * 0, or -1 when it does not fit 63 bytes or is no valid tag. */
int xhp_loop_tag_for(char *tag, const char *prefix, const char *backend);

/* Status of the open loop device FD (LOOP_GET_STATUS64): 0 when bound,
 * with the backing file's *DEV and *INO (either may be NULL) and
 * lo_file_name copied NUL-terminated into TAG (may be NULL, else
 * XHP_LOOP_TAG_MAX bytes); 1 when not bound; -1 on error (errno set).
 * Linux only. */
int xhp_loop_status(int fd, dev_t *dev, ino_t *ino, char *tag);

/* Unbind the loop device open on LFD (just attached by us, so nobody else
 * has it open). 0, or -1 with errno. */
int xhp_loop_clear(int lfd);

/* Open the regular file PATH (read-only if RO), bind it to a free loop
 * device labelled TAG (read-only if RO), retrying when another user takes
 * the device first. Returns the open loop device, its name in NODE (32
 * bytes) and FILE's identity in ST. Dies 1 (no such file, not a regular
 * file, read-only filesystem without RO) or 111. Linux only. */
int xhp_loop_attach(const char *path, int ro, const char *tag, char *node,
		    struct stat *st);

/* ---- md.c: FreeBSD md(4) units over image files (docs/freebsd.md) ---- */

/* Where the units are learnt: LIST, a file of `mdconfig -l -v` lines (a
 * test elsewhere, or debugging), or NULL: on FreeBSD the kernel
 * (MDIOCQUERY on DEVDIR/mdctl for each DEVDIR/mdN), elsewhere none. Their
 * nodes are DEVDIR/mdN (NULL: /dev). Call before the first lookup. */
void xhp_md_source(const char *list, const char *devdir);

/* FN(MAJ, MIN, CTX) for each vnode unit whose backing file is (DEV, INO)
 * now (MAJ:MIN its node's device number). md(4) keeps only the name the
 * file was attached under, so the name is stat'ed: a file renamed since
 * is missed. A non-zero return of FN stops and is returned; 0 when done,
 * -1 with errno. */
int xhp_md_users(dev_t dev, ino_t ino,
		 int (*fn)(unsigned long maj, unsigned long min, void *ctx),
		 void *ctx);

/* 0 with *DEV, *INO when MAJ:MIN is the node of a vnode unit whose file
 * exists; 1 when it is not; -1 with errno. */
int xhp_md_backing(unsigned long maj, unsigned long min, dev_t *dev,
		   ino_t *ino);

/* ---- vnd.c: NetBSD vnd(4) units over image files (docs/netbsd.md) ---- */

/* NetBSD's disks have this many partitions (MAXPARTITIONS on amd64): a
 * disk unit's partition P has minor UNIT * 16 + P. */
#define XHP_NB_MAXPART 16

/* Where the units are: TAB, a vnd table (xhp_table_vndtab lines; the
 * tests elsewhere), or NULL: on NetBSD the kernel (VNDIOCGET, VNDIOCSET,
 * VNDIOCCLR on DEVDIR/rvndN<RAW>), elsewhere none. A unit's block node
 * is DEVDIR/vndN<RAW> (NULL: /dev), RAW the raw partition (0 a, 3 d).
 * Until this is called there are no units off NetBSD. */
void xhp_vnd_source(const char *tab, const char *devdir, int raw);

/* FN(MAJ, MIN, CTX) for each configured unit backed by the file (DEV,
 * INO), MAJ:MIN its node's device number. A non-zero return of FN stops
 * and is returned; 0 when done, -1 with errno. */
int xhp_vnd_users(dev_t dev, ino_t ino,
		  int (*fn)(unsigned long maj, unsigned long min, void *ctx),
		  void *ctx);

/* 0 with *DEV, *INO when MAJ:MIN is a partition of a configured unit
 * (its backing file's identity); 1 when it is not; -1 with errno. */
int xhp_vnd_backing(unsigned long maj, unsigned long min, dev_t *dev,
		    ino_t *ino);

/* Configure the regular file PATH (read-only if RO) on the first free
 * unit, retrying when another user takes a unit first. Returns the unit,
 * its node in NODE (N bytes) and the identity of the file the unit got
 * in *DEV, *INO. Dies 1 (a read-only file system without RO), 111 (no
 * unit free: the message names the units in use; a system error). Call
 * it under the hotplug lock. */
unsigned long xhp_vnd_attach(const char *path, int ro, char *node,
			     size_t n, dev_t *dev, ino_t *ino);

/* Unconfigure UNIT only if it is backed by (DEV, INO) now (ANY: by
 * anything): 0 done; 1 it is not configured (done already); 2 it backs
 * another file (left alone; its identity in *ODEV, *OINO); -1 with
 * errno (EBUSY: it is still open, by xbdback for instance). */
int xhp_vnd_detach(unsigned long unit, int any, dev_t dev, ino_t ino,
		   dev_t *odev, ino_t *oino);

/* 0 with *UNIT when NODE is DEVDIR/vndN<RAW>, a unit's node as attach
 * names it; -1 otherwise. */
int xhp_vnd_unit(const char *node, unsigned long *unit);

/* DEVDIR/vndN<RAW> of UNIT (CHR: DEVDIR/rvndN<RAW>, its raw node) into BUF
 * (N bytes): 0, or -1 when it does not fit. */
int xhp_vnd_node(char *buf, size_t n, unsigned long unit, int chr);

/* ---- vndtab.c: the vnd table, vnd(4)'s stand-in (docs/netbsd.md) ---- */

/* The units of the vnd table TAB (xhp_table_vndtab lines), as vnd.c uses
 * them where there is no vnd(4). VNDIOCGET: what UNIT is backed by, 0
 * (*DEV, *INO), 1 not configured (a missing TAB has no units), -1 with
 * errno. */
int xhp_vndtab_get(const char *tab, unsigned long unit, dev_t *dev,
		   ino_t *ino);

/* VNDIOCSET: open PATH as the kernel does (read-write unless RO) and
 * configure UNIT with it. 0 done (*ST: the file the unit got), 1 UNIT is
 * taken, -1 with errno (the file, or TAB). */
int xhp_vndtab_set(const char *tab, unsigned long unit, const char *path,
		   int ro, struct stat *st);

/* VNDIOCCLR: TAB without UNIT's line. 0, or -1 with errno (EBUSY: UNIT
 * is held open, which a file TAB.open/vndN says). */
int xhp_vndtab_clr(const char *tab, unsigned long unit);

/* ---- vndkern.c: the kernel's vnd(4) units (NetBSD) ---- */

/* Defined where there is a kernel's vnd(4) to ask: on NetBSD, and in the
 * NetBSD build check on Linux (-DXHP_VND_IOCTL, mk/netbsd.mk). Elsewhere
 * the calls below find no unit, and vnd.c looks for none. */
#if defined(__NetBSD__) || defined(XHP_VND_IOCTL)
#define XHP_VNDKERN 1
#endif

/* VNDIOCGET on UNIT's raw node: what it is backed by, 0 (*DEV, *INO), 1
 * not configured or no such unit, -1 with errno. */
int xhp_vndkern_get(unsigned long unit, dev_t *dev, ino_t *ino);

/* VNDIOCSET of PATH (read-only if RO) on UNIT, when VNDIOCGET finds it
 * free: 0 done (*ST zeroed but for the st_dev and st_ino of the file the
 * unit got), 1 it is taken (EBUSY), 2 there is no such unit, -1 with
 * errno (the file). */
int xhp_vndkern_set(unsigned long unit, const char *path, int ro,
		    struct stat *st);

/* The kernel's half of xhp_vnd_detach, its contract: VNDIOCGET, then
 * VNDIOCCLR only if UNIT is backed by (DEV, INO) (ANY: by anything), on
 * one descriptor. */
int xhp_vndkern_detach(unsigned long unit, int any, dev_t dev, ino_t ino,
		       dev_t *odev, ino_t *oino);

/* ---- geom.c: FreeBSD's GEOM tree (docs/freebsd.md) ---- */

/* Where the tree is learnt: CONFTXT, a file of kern.geom.conftxt lines (a
 * test elsewhere, or debugging), or NULL: on FreeBSD the kernel's
 * kern.geom.conftxt, elsewhere no tree. Providers are DEVDIR/NAME (NULL:
 * /dev). Until this is called there is no tree. */
void xhp_geom_source(const char *conftxt, const char *devdir);
/* FN(V, CTX) for each place the provider with node MAJ:MIN has in the
 * tree: first depth 0, the disk at the bottom (V->maj:min) and the
 * sectors [LO, HI) of it that the provider reaches; then each provider
 * below it (depth 1 the nearest; kind XHP_VIA_DISK when it is a PART of
 * it, else XHP_VIA_SLAVE; LO, HI the range of it reached). Returns how
 * many places: 0 when the tree does not know MAJ:MIN, or there is no tree
 * (xhp_geom_source never called, or no kernel tree here). Dies 111 when
 * the tree cannot be read. */
int xhp_geom_walk(unsigned long maj, unsigned long min,
		  void (*fn)(const struct xhp_via *v, void *ctx), void *ctx);
/* "DEVDIR/NAME" of the provider MAJ:MIN into BUF (N bytes): 0, or -1
 * when the tree has no such provider. */
int xhp_geom_name(unsigned long maj, unsigned long min, char *buf,
		  size_t n);

/* ---- lock.c: the hotplug lock (docs/flock-wrap.md) ---- */

/* lstat PATH for use as a lock file: 0 when a regular file (ST filled), 1
 * when absent; dies 111 for a symlink, anything else, or an error. */
int xhp_lock_path(const char *path, struct stat *st);

/* mkdir -p of PATH's parent directory, mode 0755; dies 111. */
void xhp_lock_mkparent(const char *path);

/* Lock FD, already open on PATH, waiting at most MS milliseconds (0: try
 * once). XHP_OK when locked and FD is still the file at PATH; XHP_STALE
 * when it is not (the lock is dropped again). On timeout dies 1 naming the
 * holder ("within SECS s"). Leaves the SIGALRM timer armed: for a process
 * that exits next. */
int xhp_lock_fd(int fd, const char *path, unsigned long ms, const char *secs);

/* Open (O_CREAT|O_NOFOLLOW, plus FLAGS such as O_CLOEXEC) and lock PATH,
 * reopening while the locked file is no longer the one at PATH; waits at
 * most MS milliseconds in all, then dies 1 naming the holder. Returns the
 * locked, blocking descriptor; the timer and SIGALRM are as they were. */
int xhp_lock_open(const char *path, unsigned long ms, const char *secs,
		  int flags);

/* The release half of the protocol, for a holder: unlink PATH while FD
 * still holds the lock, then unlock FD. 0, or -1 with errno (*STEP says
 * "unlink" or "unlock"). */
int xhp_lock_unlink(int fd, const char *path, const char **step);

/* ---- holder.c: who holds a flock ---- */

/* Describe the process holding a flock on the file (DEV, INO), from
 * /proc: writes "pid N (CMDLINE)" into BUF (always NUL-terminated,
 * truncated to LEN). Returns 0 when a holder was found, 1 when none was,
 * -1 on error (errno set). */
int xhp_holder_name(dev_t dev, ino_t ino, char *buf, size_t len);

/* ---- xs.c: the pipelined xenstore connection (docs/performance.md) ---- */

/* xenstore's absolute path limit is 3072 bytes; room for joining. */
#define XHP_XS_PATHMAX 3200

/* A xenstore connection with many requests in flight: the scan of every
 * backend in a few round trips instead of one per node, the publishing
 * transaction in three. */
struct xhp_xs {
	int fd;
	int sock;               /* a socket: many requests per write */
	unsigned int id;        /* next req_id */
	size_t rpos, rlen;      /* the replies read, not taken yet: */
	char rb[4096];          /* rb[rpos] to rb[rlen] */
};

/* Connect as xs_open() does (xenstored's socket, else the xenbus device).
 * Dies 111. */
void xhp_xs_open(struct xhp_xs *q);
void xhp_xs_close(struct xhp_xs *q);

/* One request of a batch: TYPE (an XS_* of <xen/io/xs_wire.h>) in
 * transaction TX (0: none) with payload DATA of LEN bytes; out: the reply
 * VAL (NUL-terminated, malloc'd) of VLEN bytes, or ERR, the errno of an
 * error reply (VAL NULL). */
struct xhp_xs_req {
	unsigned int type, tx;
	const char *data;
	size_t len;
	char *val;
	unsigned int vlen;
	int err;
};

/* Requests in flight. cxenstored's quota on outstanding requests (20 by
 * default) applies to unprivileged domains only; dom0's connections are
 * exempt, and a socket buffer holds 64 replies of any size. */
#define XHP_XS_WINDOW 64

/* Send the N requests, up to XHP_XS_WINDOW in flight, and take their
 * replies: a round trip per window. Dies 111 when the connection
 * fails. */
void xhp_xs_batch(struct xhp_xs *q, struct xhp_xs_req *r, size_t n);

/* Read (LIST 0) or list (LIST 1) each of the N PATHS: VALS[i] the value,
 * NUL-terminated and malloc'd, with LENS[i] its length, or NULL when the
 * node does not exist. Dies 111 on any other error. */
void xhp_xs_many(struct xhp_xs *q, int list, char *const *paths,
		 size_t n, char **vals, unsigned int *lens);

/* Read NODE outside a transaction, NUL-terminated (LEN may be NULL); NULL
 * when absent. Dies 111 on other errors. */
char *xhp_xs_read(struct xhp_xs *q, const char *node, unsigned int *len);

/* ---- xspath.c: the paths and payloads of requests ---- */

/* snprintf FMT (two %s: A, B) into BUF (XHP_XS_PATHMAX); dies CODE when it
 * does not fit. */
void xhp_xspath_fmt(char *buf, int code, const char *fmt, const char *a,
		    const char *b);

/* A xenstore request's payload, malloc'd: the path DIR "/" NODE (DIR alone
 * when NODE is NULL) and its NUL, then with VAL the value (an XS_WRITE)
 * and one more NUL, not sent. *LEN (may be NULL): the bytes to send. Dies
 * CODE when the path does not fit XHP_XS_PATHMAX, 111 without memory. */
char *xhp_xspath_msg(int code, const char *dir, const char *node,
		     const char *val, size_t *len);

/* A backend path as given (relative to our home or absolute) reduced to a
 * comparable form: no "/local/domain/N/", no repeated or trailing '/'. DST
 * has XHP_XS_PATHMAX bytes. */
void xhp_xspath_normalise(char *dst, const char *src);

/* The names in a directory reply VAL of LEN bytes (xhp_xs_many with
 * LIST): a calloc'd, NULL-terminated vector pointing into VAL; *NUM of
 * them. Dies 111. */
char **xhp_xspath_split(char *val, unsigned int len, unsigned int *num);

/* ---- share.c: the sharing check (docs/xs-stat-path.md) ---- */

struct xs_handle;
struct xhp_pub;

/* What the check compares against and what it found. */
struct xhp_share {
	struct xhp_xs *q;       /* the connection, opened by the caller */
	struct xs_handle *h;    /* NULL, or opened for a long listing: the
	                         * caller closes it */
	struct xhp_idset ids;
	int mode;               /* 'r' or 'w' */
	int fmt;
	const char *devdir;     /* NULL; or the backends open their paths
	                         * themselves (FreeBSD's blkback): a character
	                         * device is a disk, and a relative path is
	                         * tried at / and then under DEVDIR */
	int rawpart;            /* NetBSD: the raw partition + 1 (a mounted
	                         * wd0a uses wd0d, which spans the disk);
	                         * 0: no such rule */
	const char *self;       /* our backend, as given */
	char selfn[XHP_XS_PATHMAX];
	int ours_read;          /* ourvm, ourtvm fetched */
	char *ourvm, *ourtvm;
	struct xhp_pub *pub;    /* NULL; or the publication that follows:
	                         * the scan starts its transaction in its
	                         * first batch and sends its first step with
	                         * its second (xhp_pub_ride) */
	char *verdict;          /* after a 1: "guest MM PATH" / "local MM MNT" */
	char *rel;              /* after a 1, or NULL: how the target relates
	                         * to the device in the verdict, in words
	                         * ("is a partition of /dev/loop0 (device
	                         * 7:0)"); NULL: it is that device */
};

/* Set C->verdict to "WHO MAJMIN WHERE" and return 1 (busy). */
int xhp_share_busy(struct xhp_share *c, const char *who, unsigned long maj,
		   unsigned long min, const char *where);

/* How C's target relates to the block device MAJ:MIN in words ("is a
 * partition of /dev/loop0 (device 7:0)"), malloc'd; NULL when MAJ:MIN is
 * one of the target's own devices. */
char *xhp_share_relation(const struct xhp_share *c, unsigned long maj,
			 unsigned long min);

/* Print C->verdict as the one line on stdout and exit 1 (busy). */
void xhp_share_exit(const struct xhp_share *c) __attribute__((noreturn));


/* 1 when two domains' vm values name the same VM (same_vm rules,
 * docs/xs-stat-path.md): equal, or OURS is THEIRS plus "-1". */
int xhp_share_vm_same(const char *ours, const char *theirs);

/* vm of domain DOM (decimal domid text), or with TARGET of the domain
 * named in its "target" node (a stubdomain's guest); NULL when absent or
 * when we may not read it (EACCES, in a driver domain). */
char *xhp_share_dom_vm(struct xhp_xs *q, const char *dom, int target);

/* Fetch our frontend's vm and its target's vm, once (same_vm). */
void xhp_share_ours(struct xhp_share *c);

struct xhp_scan_be;
struct xhp_scan_dom;

/* Does backend B name a device of C's identity set, or one whose sectors
 * meet ours anywhere in the block-device stack (a partition of our disk,
 * the disk of our partition, a holder above or a slave below)? Cached in
 * B->use. */
int xhp_share_uses(const struct xhp_share *c, struct xhp_scan_be *b);

/* Do our mode and B's conflict? A reader conflicts only with writers. */
int xhp_share_conflicts(const struct xhp_share *c,
			const struct xhp_scan_be *b);

/* Upstream's same_vm: is domain D the same VM as our frontend, directly
 * or through a stubdomain's target? A domain without vm (being destroyed)
 * is, as upstream lets it share. */
int xhp_share_same_vm(const struct xhp_share *c,
		      const struct xhp_scan_dom *d);

/* How C's target relates to what B names, in words (malloc'd); NULL when
 * it is the same device or file. */
char *xhp_share_relation_be(const struct xhp_share *c,
			    const struct xhp_scan_be *b);

/* ---- batch.c: requests sent together, and a transaction's steps ---- */

/* Requests queued to go out together, which own their payloads and the
 * replies. CODE: the exit code for a path too long to build (0: 111).
 * Zero-initialised (but CODE) when empty. */
struct xhp_batch {
	struct xhp_xs_req *r;
	size_t n, room;
	int code;
};

/* Queue DIR/NODE (NODE NULL: DIR itself) of TYPE (XS_READ, XS_DIRECTORY,
 * XS_RM; XS_WRITE with VAL) in transaction TX (0: none). Its index. */
size_t xhp_batch_put(struct xhp_batch *b, unsigned int type, unsigned int tx,
		     const char *dir, const char *node, const char *val);

/* Send the queued requests in one round trip: each reply in B->r[i]. */
void xhp_batch_send(struct xhp_xs *q, struct xhp_batch *b);

/* Move FROM's requests from index AT on, with their replies, to the end
 * of TO: requests that went out with another batch come home. */
void xhp_batch_take(struct xhp_batch *to, struct xhp_batch *from, size_t at);

/* Free the requests and their replies (clear: the array stays). */
void xhp_batch_clear(struct xhp_batch *b);
void xhp_batch_free(struct xhp_batch *b);

/* The id in R, the reply to an XS_TRANSACTION_START; 0 with errno (the
 * reply's error, or EPROTO for a reply that is no number). */
unsigned int xhp_batch_txid(const struct xhp_xs_req *r);

/* Start a transaction on B, which is left empty: its id, or 0 with
 * errno. */
unsigned int xhp_batch_start(struct xhp_xs *q, struct xhp_batch *b);

/* End TX, committing (COMMIT 1) or not, B left empty: 0, or the errno of
 * the reply. */
int xhp_batch_end(struct xhp_xs *q, struct xhp_batch *b, unsigned int tx,
		  int commit);

/* ---- scan.c: the sharing check against other guests ---- */

/* One backend BASE/TYPE/DOM/DEV, and what the scan learns about it. */
struct xhp_scan_be {
	char *path;
	size_t dom;             /* its domain directory: dom[dom] */
	int self;               /* our own backend: not compared */
	char *pd, *pdp;         /* physical-device, physical-device-path:
	                         * NULL when absent */
	unsigned int pdl, pdpl;
	int pdp_read;           /* physical-device-path read already */
	int names;              /* what it names now: XHP_NAMES_* */
	unsigned long maj, min; /* that device (for a file, its filesystem's:
	                         * the verdict names it) */
	dev_t dev;              /* XHP_NAMES_FILE: the file */
	ino_t ino;
	int mode;               /* its mode canonicalised, 0 when absent; read
	                         * only when we are a reader and it names a
	                         * device of ours */
	int use;                /* xhp_share_uses: 0 not asked yet, 1 no,
	                         * 2 yes */
};
enum { XHP_NAMES_NONE, XHP_NAMES_BLK, XHP_NAMES_FILE };

/* One domain directory BASE/TYPE/DOM. */
struct xhp_scan_dom {
	char *path;
	const char *id;         /* DOM, in PATH */
	int byparams;           /* TYPE is vbd3 (tapdisk) or qdisk (QEMU):
	                         * the backend opens params itself, and its
	                         * physical-device-path is no disk */
	int vm_read;            /* VM and TVM fetched */
	char *vm, *tvm;         /* its vm and its target's: NULL when absent */
};

/* The scan's table: the domains, their backends, and the batch the
 * phases send. */
struct xhp_scan {
	struct xhp_scan_dom *dom;
	size_t ndom, adom;
	struct xhp_scan_be *be;
	size_t nbe, abe;
	struct xhp_batch b;
};

/* Every backend BASE/TYPE/DOM/DEV (TYPES comma-separated) but C->self
 * against C->ids (C->selfn set by xhp_xspath_normalise), listed and read
 * now: call it under the lock. 0 ok, 1 busy (C->verdict set). Dies 111. */
int xhp_scan_guests(struct xhp_share *c, const char *base,
		    const char *types);

/* ---- fetch.c: what each backend of the scan names ---- */

/* Fill in what each of S's backends names now (physical-device, else
 * physical-device-path or params, stat'ed), and for those that use a
 * device of ours, their mode and their domain's vm. */
void xhp_fetch_names(struct xhp_share *c, struct xhp_scan *s);

/* ---- pub.c: the publishing transaction (docs/xs-majmin.md) ---- */

struct xhp_pub {
	struct xhp_xs *q;
	const char *backend;
	const char *devpath;    /* NULL: toolstack conversion (xs-majmin -t) */
	const char *mm;         /* physical-device to write; NULL: none */
	int fmt;
	char **extra;           /* "NODE=VALUE", written in order */
	int nextra;
	int once;               /* publish only if nothing is published yet */
	int lifecycle;          /* refuse unless online is absent or 1 and
	                         * state is 2: libxl has not started the
	                         * tear-down */
	void (*precommit)(void); /* called (may die) just before the commit */
	unsigned int tx;        /* a transaction started already (the scan's,
	                         * xhp_share.pub) for the first attempt; 0:
	                         * each attempt starts its own */
	size_t rider;           /* where the first step sits in the scan's
	                         * batch (xhp_pub_ride) */
	int rode;               /* its replies are in, for the first attempt */
	int rode_ahead;         /* with the writes */
	int tries;              /* out: attempts made */
	int already;            /* out: with once, something was: no write */
};

/* Option -e ARG: append it to J->extra (room allocated by the caller), or
 * die with USAGE (100) when it is not valid. */
void xhp_pub_extra(struct xhp_pub *j, char *arg, const char *usage);

/* The publication, under the lock: one transaction that lists the backend
 * and reads online and state, writes physical-device-path, the extras and
 * (unless there is one) physical-device, and commits only once every write
 * succeeded; retried on EAGAIN (XHP_PUB_TRIES times in all). 0 done; dies
 * 4 when the backend is gone (or, with LIFECYCLE, being torn down),
 * nothing written; 111 otherwise. */
#define XHP_PUB_TRIES 20
int xhp_pub_commit(struct xhp_pub *j);

/* The scan's (scan.c), in transaction TX that it started: queue J's
 * first step (the backend's listing, online and state, and the writes
 * when J->devpath is known already) on Q, the scan's next batch; once Q
 * is sent, xhp_pub_rode takes the replies back for xhp_pub_commit. One
 * round trip less under the lock. */
void xhp_pub_ride(struct xhp_pub *j, struct xhp_batch *q, unsigned int tx);
void xhp_pub_rode(struct xhp_pub *j, struct xhp_batch *q);

/* 1 when the backend still waits for its add: ONLINE absent or "1", STATE
 * "2" (InitWait). One rule for the early read and the transaction. */
int xhp_pub_waiting(const char *online, const char *state);

/* The failure: hotplug-error MSG and hotplug-status STATUS in BACKEND, in
 * one transaction that refuses a backend directory that is gone. Never
 * dies (it runs on the way out): 0 written, 1 gone, -1 failed (errno). */
int xhp_pub_fail(struct xhp_xs *q, const char *backend, const char *status,
		 const char *msg);

/* ---- run.c: the helper's place in one script run ---- */

/* The script a helper runs for, and the run's deadline. */
struct xhp_run {
	pid_t parent;           /* getppid() at the start */
	pid_t script;           /* -s PID if an ancestor, else the parent */
	unsigned long long start; /* the script's start (clock ticks after
	                         * boot); 0: unknown */
	unsigned long ms;       /* the deadline, after the script's start */
	const char *secs;       /* the same, as given, for messages */
	long long t0, age0;     /* our start (monotonic ms), the script's age
	                         * then */
	int gone;               /* the -s script had died before we started */
};

/* Record the parent and SCRIPT (0: the parent); the deadline is MS
 * milliseconds (SECS as given) after SCRIPT's start, or ours where that
 * cannot be read. A SCRIPT that is not an ancestor because it died before
 * we started makes the run orphaned from the start. */
void xhp_run_init(struct xhp_run *r, pid_t script, unsigned long ms,
		  const char *secs);

/* Milliseconds left before the deadline; 0 once it has passed (for
 * xhp_lock_open: try once). */
unsigned long xhp_run_left(const struct xhp_run *r);

/* 1 when the script is gone: we were re-parented, or the script between
 * us and libxl has exited (a zombie counts) or its pid is another
 * process's now. */
int xhp_run_orphaned(const struct xhp_run *r);

/* Test-only: with XEN_HOTPLUG_TEST_PAUSE=POINT:FILE, write our pid to
 * FILE and stop (SIGSTOP) until continued. */
void xhp_run_pause(const char *point);

#endif
