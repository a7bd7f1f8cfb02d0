/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Wire framing and argument checks for test-xenstored. Pure functions on
 * buffers: no I/O and no global state, so tests/fuzz/xs_proto_fuzz.c can
 * drive them directly.
 */
#include <errno.h>
#include <string.h>

#include "xsd.h"

/*
 * One message from the front of buf. The header is copied out with memcpy
 * because buf has no alignment guarantee. A length above the protocol
 * maximum is BAD: the real daemon drops such a client, and so do we.
 */
int xsd_proto_parse(const unsigned char *buf, size_t len,
                    struct xsd_sockmsg *hdr, const unsigned char **payload,
                    size_t *used)
{
	if (len < XSD_HDR_LEN)
		return XSD_PROTO_NEED;
	memcpy(hdr, buf, XSD_HDR_LEN);
	if (hdr->len > XENSTORE_PAYLOAD_MAX)
		return XSD_PROTO_BAD;
	if (len - XSD_HDR_LEN < hdr->len)
		return XSD_PROTO_NEED;
	*payload = buf + XSD_HDR_LEN;
	*used = XSD_HDR_LEN + hdr->len;
	return XSD_PROTO_MSG;
}

/* Number of NUL-terminated strings; an unterminated tail does not count. */
size_t xsd_count_strings(const unsigned char *p, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		if (p[i] == '\0')
			n++;
	return n;
}

/* Up to n leading NUL-terminated strings into vec; returns how many. */
size_t xsd_get_strings(const unsigned char *p, size_t len, const char **vec,
                       size_t n)
{
	size_t i = 0, off = 0;
	const unsigned char *nul;

	while (i < n && off < len) {
		nul = memchr(p + off, '\0', len - off);
		if (!nul)
			break;
		vec[i++] = (const char *)p + off;
		off = (size_t)(nul - p) + 1;
	}
	return i;
}

/* Exactly one string, terminated by the payload's only NUL (as cxenstored). */
const char *xsd_onearg(const unsigned char *p, size_t len)
{
	const unsigned char *nul;

	if (len == 0)
		return NULL;
	nul = memchr(p, '\0', len);
	if (!nul || (size_t)(nul - p) != len - 1)
		return NULL;
	return (const char *)p;
}

static int valid_chars(const char *s)
{
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                 "abcdefghijklmnopqrstuvwxyz"
	                 "0123456789-/_@") == strlen(s);
}

/*
 * Canonical absolute path into out, or an errno value. Relative names hang
 * off the caller's home. The rules (character set, no "//", no trailing
 * "/", length counted after /local/domain/N/) are cxenstored's, so the
 * differential test sees the same EINVALs.
 */
int xsd_canon_path(const char *in, int allow_special, char *out,
                   size_t outsz)
{
	size_t n, off = 0;
	const char *p;

	if (in[0] == '/' || in[0] == '@') {
		if (in[0] == '@' && !allow_special)
			return EINVAL;
		n = strlen(in);
		if (n + 1 > outsz)
			return EINVAL;
		memcpy(out, in, n + 1);
	} else {
		n = strlen(XSD_HOME) + 1 + strlen(in);
		if (n + 1 > outsz)
			return EINVAL;
		memcpy(out, XSD_HOME "/", strlen(XSD_HOME) + 1);
		memcpy(out + strlen(XSD_HOME) + 1, in, strlen(in) + 1);
	}
	if (n > 1 && out[n - 1] == '/')
		return EINVAL;
	if (strstr(out, "//"))
		return EINVAL;
	/* Length quota applies to the part below /local/domain/<domid>/. */
	if (strncmp(out, "/local/domain/", 14) == 0) {
		p = out + 14;
		while (*p >= '0' && *p <= '9' && p - (out + 14) < 5)
			p++;
		if (p > out + 14 && *p == '/')
			off = (size_t)(p + 1 - out);
	}
	if (n - off > XENSTORE_REL_PATH_MAX)
		return EINVAL;
	if (!valid_chars(out))
		return EINVAL;
	return 0;
}

const char *xsd_errname(int err)
{
	static const struct { int num; const char *name; } tab[] = {
		{ EINVAL, "EINVAL" }, { EACCES, "EACCES" },
		{ EEXIST, "EEXIST" }, { EISDIR, "EISDIR" },
		{ ENOENT, "ENOENT" }, { ENOMEM, "ENOMEM" },
		{ ENOSPC, "ENOSPC" }, { EIO, "EIO" },
		{ ENOTEMPTY, "ENOTEMPTY" }, { ENOSYS, "ENOSYS" },
		{ EROFS, "EROFS" }, { EBUSY, "EBUSY" },
		{ EAGAIN, "EAGAIN" }, { EISCONN, "EISCONN" },
		{ E2BIG, "E2BIG" }, { EPERM, "EPERM" },
	};
	size_t i;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (tab[i].num == err)
			return tab[i].name;
	return "EINVAL";
}
