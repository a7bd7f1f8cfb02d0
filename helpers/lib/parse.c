/* SPDX-License-Identifier: LGPL-2.1-only */
/* parse.c: the parsers of the helpers' input from the command line and
 * from xenstore (a system table's lines are table.c's). They are pure
 * functions (no I/O, no exit, no global state), so that tests/fuzz can
 * drive each of them against a reference reading of its grammar. Numbers
 * are parsed strictly: no sign, no space, no "0x", no junk, no overflow. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xhp.h"

int xhp_parse_ulong(const char *s, int base, unsigned long max,
		    unsigned long *out)
{
	char *end;
	unsigned long v;

	/* strtoul accepts leading space, a sign and "0x"; we want none. */
	if (s == NULL || !((*s >= '0' && *s <= '9') ||
			   (base == 16 && ((*s >= 'a' && *s <= 'f') ||
					   (*s >= 'A' && *s <= 'F'))))) {
		errno = EINVAL;
		return -1;
	}
	if (base == 16 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		errno = EINVAL;
		return -1;
	}
	errno = 0;
	v = strtoul(s, &end, base);
	if (errno == ERANGE || v > max) {
		errno = ERANGE;
		return -1;
	}
	if (*end != '\0') {
		errno = EINVAL;
		return -1;
	}
	*out = v;
	return 0;
}

int xhp_parse_secs(const char *s, unsigned long *ms)
{
	char whole[16], frac[4] = "000";
	const char *dot = strchr(s, '.');
	size_t wl = dot ? (size_t)(dot - s) : strlen(s);
	unsigned long w, f;

	if (wl == 0 || wl >= sizeof(whole))
		return -1;
	memcpy(whole, s, wl);
	whole[wl] = '\0';
	if (xhp_parse_ulong(whole, 10, 1000000UL, &w) == -1)
		return -1;
	if (dot != NULL) {
		size_t fl = strlen(dot + 1);

		if (fl == 0 || fl > 3)
			return -1;
		memcpy(frac, dot + 1, fl);
		if (xhp_parse_ulong(frac, 10, 999UL, &f) == -1)
			return -1;
	} else {
		f = 0;
	}
	*ms = w * 1000 + f;
	return 0;
}

int xhp_parse_fmt(const char *s)
{
	if (strcmp(s, "linux") == 0)
		return XHP_FMT_LINUX;
	if (strcmp(s, "netbsd") == 0)
		return XHP_FMT_NETBSD;
	return -1;
}

int xhp_parse_physdev(const char *s, size_t len, int fmt,
		      unsigned long *maj, unsigned long *min)
{
	char buf[XHP_MAJMIN_MAX];
	unsigned long d;
	char *colon;

	/* Values come from xenstore: they may hold NUL bytes and have no
	 * terminator, so copy and reject embedded NULs. */
	if (len == 0 || len >= sizeof(buf) || memchr(s, '\0', len) != NULL)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (fmt == XHP_FMT_NETBSD) {
		if (xhp_parse_ulong(buf, 10, 0xffffffffUL, &d) == -1)
			return -1;
		*maj = (d & 0xfff00UL) >> 8;
		*min = ((d & 0xfff00000UL) >> 12) | (d & 0xffUL);
		return 0;
	}
	colon = strchr(buf, ':');
	if (colon == NULL)
		return -1;
	*colon = '\0';
	/* Linux dev_t numbers: 12-bit major, 20-bit minor (MINORBITS). */
	if (xhp_parse_ulong(buf, 16, 0xfffUL, maj) == -1 ||
	    xhp_parse_ulong(colon + 1, 16, 0xfffffUL, min) == -1)
		return -1;
	return 0;
}

int xhp_parse_mode(const char *s, size_t len)
{
	/* Same answers as upstream's canonicalise_mode, so that a mode libxl
	 * or an older script wrote ("rw", "w!", "ro", even "") means the same
	 * to both generations of scripts on one host. */
	if (memchr(s, 'w', len) == NULL)
		return 'r';
	if (memchr(s, '!', len) == NULL)
		return 'w';
	return '!';
}

int xhp_parse_value(const char *v, size_t len)
{
	const unsigned char *p = (const unsigned char *)v;
	const unsigned char *end = p + len;
	unsigned long cp;
	int n;

	while (p < end) {
		if (*p < 0x80) {
			/* C0 controls (NUL and newline included) and DEL. */
			if (*p < 0x20 || *p == 0x7f)
				return 0;
			p++;
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf) {
			n = 1;
			cp = *p & 0x1f;
		} else if (*p >= 0xe0 && *p <= 0xef) {
			n = 2;
			cp = *p & 0x0f;
		} else if (*p >= 0xf0 && *p <= 0xf4) {
			n = 3;
			cp = *p & 0x07;
		} else {
			/* Stray continuation, overlong lead C0/C1, F5-FF. */
			return 0;
		}
		if (end - p <= n)
			return 0;
		for (int i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		/* Overlong forms, UTF-16 surrogates, beyond U+10FFFF, and
		 * the C1 controls U+0080..U+009F. */
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ||
		    (cp >= 0x80 && cp <= 0x9f))
			return 0;
		p += n + 1;
	}
	return 1;
}

int xhp_parse_nodearg(char *arg, const char **def)
{
	char *eq = strchr(arg, '=');
	const char *p;

	/* '=' cannot occur in a xenstore path, so the first one splits. */
	*def = NULL;
	if (eq != NULL) {
		*eq = '\0';
		*def = eq + 1;
	}
	if (*arg == '\0')
		return -1;
	for (p = arg; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '/' ||
		      *p == '_' || *p == '@'))
			return -1;
	}
	return 0;
}

int xhp_parse_extra(const char *arg)
{
	const char *def;
	char *cp;
	int r;

	/* Checked on a copy: the caller splits ARG later. */
	if (strchr(arg, '=') == NULL) {
		errno = EINVAL;
		return -1;
	}
	cp = strdup(arg);
	if (cp == NULL)
		return -1;
	/* NODE must stay under the backend, and the two nodes the publisher
	 * guards are not the caller's to set. */
	r = xhp_parse_nodearg(cp, &def) == -1 || cp[0] == '/' ||
	    strncmp(cp, "physical-device", 15) == 0 ? -1 : 0;
	free(cp);
	errno = EINVAL;
	return r;
}

int xhp_parse_name(const char *s)
{
	/* What block may append to "block-": no '/', no "." or "..". */
	return *s != '\0' && strcmp(s, ".") != 0 && strcmp(s, "..") != 0 &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		      "0123456789_.-") == strlen(s);
}

int xhp_parse_backend(const char *backend, const char *const *node,
		      char *const *v, const unsigned int *len, size_t n,
		      const char *type)
{
	size_t i;

	for (i = 1; i < n; i++)
		if (v[i] != NULL && !xhp_parse_value(v[i], len[i]))
			xhp_die(XHP_REFUSED, "the value of %s/%s has a control "
				"character or is not UTF-8", backend,
				node[i][0] == '/' ? node[i] + 1 : node[i]);
	if (type == NULL || *type == '\0' || strcmp(type, "phy") == 0 ||
	    strcmp(type, "file") == 0)
		return 0;
	if (!xhp_parse_name(type))
		xhp_die(XHP_REFUSED, "invalid backend type '%s'", type);
	return 1;
}
