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
	XHP_DEFER = 3,     /* xs-publish -A: not the plain case, the script checks */
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

/* Call FN(N, NAME, CTX) for every bound loop device loopN in /sys/block
 * (NAME is its sysfs name). A non-zero return from FN stops the scan and
 * is returned (errno kept). 0 when the scan completed, -1 on error (errno
 * set). Not Linux: no loop devices, returns 0. */
int xhp_loop_bound_each(int (*fn)(unsigned long n, const char *name,
				  void *ctx), void *ctx);

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

/* ---- check-and-publish, shared by flock-wrap, loop-attach, xs-stat-path,
 * xs-majmin and xs-publish (lock_*.c, loop_attach.c, loop_clear.c,
 * loop_tag_ok.c, share_*.c, xsc_*.c, xs_pathf.c, xs_normalise.c,
 * xs_parse_extra.c, xs_pub_extra.c, id_stat_blk.c, id_expand_st.c,
 * xhp_parse_secs.c, xhp_atdie in xhp_die.c). Functions that "die" exit
 * through xhp_die. xsc_*.c are the ones that talk to xenstore. ---- */

#include <sys/stat.h>

/* When set, called once by xhp_die/xhp_die_sys before the message is
 * printed, to undo what the helper did (free a loop device, drop a lock).
 * It returns NULL, or a note appended to the message when undoing failed. */
extern const char *(*xhp_atdie)(void);

/* SECS "N[.D[D[D]]]" as milliseconds (at most 1000000 s). 0, or -1. */
int xhp_parse_secs(const char *s, unsigned long *ms);

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

/* 1 when TAG can label a loop device: 1 to 63 printable ASCII bytes, not
 * starting with '/' (losetup's paths). */
int xhp_loop_tag_ok(const char *tag);

/* Open the regular file PATH (read-only if RO), bind it to a free loop
 * device labelled TAG (read-only if RO), retrying when another user takes
 * the device first. Returns the open loop device, its name in NODE (32
 * bytes) and FILE's identity in ST. Dies 1 (no such file, not a regular
 * file, read-only filesystem without RO) or 111. Linux only. */
int xhp_loop_attach(const char *path, int ro, const char *tag, char *node,
		    struct stat *st);

/* Unbind the loop device open on LFD (just attached by us, so nobody else
 * has it open). 0, or -1 with errno. */
int xhp_loop_clear(int lfd);

/* physical-device of the block device PATH, in FMT, into MM
 * (XHP_MAJMIN_MAX bytes). Dies 1 when absent or not a block device. */
void xhp_stat_blk(const char *path, int fmt, char *mm);

/* Expand ST (a stat result) into S: block device or regular file. 0, 1
 * when ST is neither, -1 with errno. */
int xhp_idset_expand_st(struct xhp_idset *s, const struct stat *st);

/* xenstore's absolute path limit is 3072 bytes; room for joining. */
#define XHP_XS_PATHMAX 3200

/* snprintf FMT (two %s: A, B) into BUF (XHP_XS_PATHMAX); dies CODE when it
 * does not fit. */
void xhp_pathf(char *buf, int code, const char *fmt, const char *a,
	       const char *b);

/* A xenstore request's payload, malloc'd: the path DIR "/" NODE (DIR alone
 * when NODE is NULL) and its NUL, then with VAL the value (an XS_WRITE)
 * and one more NUL, not sent. *LEN (may be NULL): the bytes to send. Dies
 * CODE when the path does not fit XHP_XS_PATHMAX, 111 without memory. */
char *xhp_xs_msg(int code, const char *dir, const char *node,
		 const char *val, size_t *len);

/* A backend path as given (relative to our home or absolute) reduced to a
 * comparable form: no "/local/domain/N/", no repeated or trailing '/'. DST
 * has XHP_XS_PATHMAX bytes. */
void xhp_xs_normalise(char *dst, const char *src);

/* 0 when ARG is a valid "-e NODE=VALUE" of xs-majmin/xs-publish: NODE a
 * relative xenstore path, not physical-device*; -1 otherwise (errno ENOMEM
 * when that is why). */
int xhp_parse_extra(const char *arg);

struct xhp_pub;
/* Option -e ARG: append it to J->extra (room allocated by the caller), or
 * die with USAGE (100) when it is not valid. */
void xhp_pub_extra(struct xhp_pub *j, char *arg, const char *usage);

struct xs_handle;
struct xhp_xsp;

/* The sharing check (docs/xs-stat-path.md), in pieces so that xs-publish
 * can do what does not need the lock before taking it. */
struct xhp_share {
	struct xhp_xsp *q;      /* the connection, opened by the caller */
	struct xs_handle *h;    /* NULL, or opened for a long listing: the
	                         * caller closes it */
	struct xhp_idset ids;
	int mode;               /* 'r' or 'w' */
	int fmt;
	const char *self;       /* our backend, as given */
	char selfn[XHP_XS_PATHMAX];
	int ours_read;          /* ourvm, ourtvm fetched */
	int prepared;           /* xhp_share_prepare listed the tree */
	char *ourvm, *ourtvm;
	char *verdict;          /* after a 1: "guest MM PATH" / "local MM MNT" */
};

/* A xenstore connection with many requests in flight (xs_pipe.c,
 * docs/performance.md): the scan of every backend in a few round trips
 * instead of one per node, the publishing transaction in three. */
struct xhp_xsp {
	int fd;
	int sock;               /* a socket: many requests per write */
	unsigned int id;        /* next req_id */
};

/* Connect as xs_open() does (xenstored's socket, else the xenbus device).
 * Dies 111. */
void xhp_xsp_open(struct xhp_xsp *q);
void xhp_xsp_close(struct xhp_xsp *q);

/* One request of a batch: TYPE (an XS_* of <xen/io/xs_wire.h>) in
 * transaction TX (0: none) with payload DATA of LEN bytes; out: the reply
 * VAL (NUL-terminated, malloc'd) of VLEN bytes, or ERR, the errno of an
 * error reply (VAL NULL). */
struct xhp_xsreq {
	unsigned int type, tx;
	const char *data;
	size_t len;
	char *val;
	unsigned int vlen;
	int err;
};

/* Send the N requests, up to 64 in flight, and take their replies. Dies
 * 111 when the connection fails. */
void xhp_xsp_batch(struct xhp_xsp *q, struct xhp_xsreq *r, size_t n);

/* Read (LIST 0) or list (LIST 1) each of the N PATHS: VALS[i] the value,
 * NUL-terminated and malloc'd, with LENS[i] its length, or NULL when the
 * node does not exist. Dies 111 on any other error. */
void xhp_xsp_many(struct xhp_xsp *q, int list, char *const *paths,
		  size_t n, char **vals, unsigned int *lens);

/* The names in a directory reply VAL of LEN bytes (xhp_xsp_many with
 * LIST): a calloc'd, NULL-terminated vector pointing into VAL; *NUM of
 * them. Dies 111. */
char **xhp_xsp_split(char *val, unsigned int len, unsigned int *num);

/* Read NODE outside a transaction, NUL-terminated (LEN may be NULL); NULL
 * when absent. Dies 111 on other errors. */
char *xhp_xsp_read(struct xhp_xsp *q, const char *node, unsigned int *len);

/* Set C->verdict to "WHO MAJMIN WHERE" and return 1 (busy). */
int xhp_share_busy(struct xhp_share *c, const char *who, unsigned long maj,
		   unsigned long min, const char *where);

/* Print C->verdict as the one line on stdout and exit 1 (busy). */
void xhp_share_exit(const struct xhp_share *c) __attribute__((noreturn));

/* vm of domain DOM (decimal domid text), or with TARGET of the domain
 * named in its "target" node (a stubdomain's guest); NULL when absent. */
char *xhp_share_dom_vm(struct xhp_xsp *q, const char *dom, int target);

/* Fetch our frontend's vm and its target's vm, once (same_vm). */
void xhp_share_ours(struct xhp_share *c);

/* dom0 mounts of MOUNTINFO against C->ids. 0 ok, 1 busy. Dies 111. */
int xhp_share_mounts(struct xhp_share *c, const char *mountinfo);

/* Before the lock: list the backends BASE/TYPE/DOM/DEV (TYPES
 * comma-separated), so that xhp_share_guests under it re-lists them and
 * reads their physical-device in one round trip. Dies 111. */
void xhp_share_prepare(struct xhp_share *c, const char *base,
		       const char *types);

/* Every backend BASE/TYPE/DOM/DEV (TYPES comma-separated) but C->self
 * against C->ids; from xhp_share_prepare's listing if there is one (the
 * same BASE and TYPES). 0 ok, 1 busy. Dies 111. */
int xhp_share_guests(struct xhp_share *c, const char *base,
		     const char *types);

/* The publishing transaction of xs-majmin (docs/xs-majmin.md). */
struct xhp_pub {
	struct xhp_xsp *q;
	const char *backend;
	const char *devpath;    /* NULL: toolstack conversion (xs-majmin -t) */
	const char *mm;         /* physical-device to write; NULL: none */
	int fmt;
	char **extra;           /* "NODE=VALUE", written in order */
	int nextra;
	int once;               /* publish only if nothing is published yet */
	int tries;              /* out: attempts made */
	int already;            /* out: with once, something was: no write */
	/* xhp_pub_open's transaction, left open for xhp_pub_commit */
	unsigned int tx;        /* 0: none */
	int has_pd;             /* the backend had a physical-device */
	int devpath_early;      /* physical-device-path written already */
	int early;              /* extras written already */
	int pd_early;           /* physical-device written already */
};

/* Before the lock: start the transaction and send in it what is known so
 * far (the backend's listing, physical-device-path if DEVPATH is set, the
 * extras, physical-device if MM is set and there is none), so that under
 * the lock only what is added since and the commit are left. ROOM: the
 * most extras J will have. Leaves J->tx 0 (no transaction open) when the
 * backend is gone or, with ONCE, published already: the commit finds out
 * again. Dies 111. */
void xhp_pub_open(struct xhp_pub *j, int room);

/* Commit the transaction: xhp_pub_open's with what was added since (more
 * extras, DEVPATH, MM), or a new one; retrying on EAGAIN (XHP_PUB_TRIES
 * times in all). 0 done; dies 1 "backend gone" (nothing written) or 111. */
#define XHP_PUB_TRIES 20
int xhp_pub_commit(struct xhp_pub *j);

#endif
