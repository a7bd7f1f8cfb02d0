/* SPDX-License-Identifier: LGPL-2.1-only */
/* dm.c: a device-mapper device's table, from the kernel
 * (DM_TABLE_STATUS on /dev/mapper/control, the ioctl dmsetup table
 * uses): for each target its type, its sectors in the dm device, and its
 * parameters, in which the kernel names devices as MAJ:MIN. Linux only;
 * the stack walk (blkdev.c) maps linear and striped targets exactly. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/dm-ioctl.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#endif

#include "xhp.h"

int xhp_dm_dev_off(char **p, unsigned long *maj, unsigned long *min,
		   uint64_t *off)
{
	unsigned long long o;
	int n = 0;

	if (sscanf(*p, " %lu:%lu %llu%n", maj, min, &o, &n) != 3)
		return -1;
	*p += n;
	*off = (uint64_t)o;
	return 0;
}

#ifdef __linux__
/* The table of MAJ:MIN in new memory; NULL when it cannot be read. */
static struct dm_ioctl *table(unsigned long maj, unsigned long min)
{
	struct dm_ioctl *io;
	size_t size = 16384;
	int fd;

	fd = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
	if (fd == -1)
		return NULL;
	for (;;) {
		io = calloc(1, size);
		if (io == NULL)
			xhp_die_sys(XHP_SYS, "unable to allocate memory");
		io->version[0] = DM_VERSION_MAJOR;
		io->data_size = (uint32_t)size;
		io->data_start = sizeof(*io);
		io->dev = makedev(maj, min);
		io->flags = DM_STATUS_TABLE_FLAG;
		if (ioctl(fd, DM_TABLE_STATUS, io) == -1)
			break;
		if (!(io->flags & DM_BUFFER_FULL_FLAG)) {
			(void)close(fd);
			return io;
		}
		/* A table that does not fit 4 MiB is not followed. */
		if (size >= 1 << 22)
			break;
		free(io);
		size *= 4;
	}
	free(io);
	(void)close(fd);
	return NULL;
}

int xhp_dm_table(unsigned long maj, unsigned long min,
		 int (*fn)(const char *type, uint64_t start, uint64_t len,
			   char *params, void *ctx), void *ctx)
{
	struct dm_target_spec *t;
	struct dm_ioctl *io = table(maj, min);
	uint32_t k, at;
	int r = 0;

	if (io == NULL)
		return -1;
	at = io->data_start;
	for (k = 0; k < io->target_count && r == 0; k++) {
		if (at + sizeof(*t) >= io->data_size) {
			r = -1;
			break;
		}
		t = (struct dm_target_spec *)((char *)io + at);
		t->target_type[DM_MAX_TYPE_NAME - 1] = '\0';
		/* The parameters follow, NUL-terminated by the kernel. */
		((char *)io)[io->data_size - 1] = '\0';
		r = fn(t->target_type, t->sector_start, t->length,
		       (char *)(t + 1), ctx);
		/* NEXT counts from the start of the data, not of this
		 * target (the kernel's retrieve_status). */
		if (t->next <= at - io->data_start)
			break;
		at = io->data_start + t->next;
	}
	free(io);
	return r;
}
#else
int xhp_dm_table(unsigned long maj, unsigned long min,
		 int (*fn)(const char *type, uint64_t start, uint64_t len,
			   char *params, void *ctx), void *ctx)
{
	(void)maj;
	(void)min;
	(void)fn;
	(void)ctx;
	return -1;
}
#endif
