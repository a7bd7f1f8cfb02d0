/* libFuzzer target: xhp_parse_physdev in both formats, checked against a
 * reference grammar and by a format/parse round trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xhp.h"

/* Reference for the linux format: HEX ':' HEX, 1..n hex digits each (no
 * sign, no 0x), major <= 0xfff, minor <= 0xfffff. */
static int ref_linux(const uint8_t *s, size_t n, unsigned long *ma,
		     unsigned long *mi)
{
	unsigned long v[2] = { 0, 0 }, lim[2] = { 0xfff, 0xfffff };
	size_t i = 0;

	for (int k = 0; k < 2; k++) {
		size_t start = i;
		for (; i < n && s[i] != ':'; i++) {
			int d;
			if (s[i] >= '0' && s[i] <= '9')
				d = s[i] - '0';
			else if (s[i] >= 'a' && s[i] <= 'f')
				d = s[i] - 'a' + 10;
			else if (s[i] >= 'A' && s[i] <= 'F')
				d = s[i] - 'A' + 10;
			else
				return -1;
			v[k] = v[k] * 16 + (unsigned long)d;
			if (v[k] > lim[k])
				return -1;
		}
		if (i == start)
			return -1;
		if (k == 0) {
			if (i == n)
				return -1;
			i++;
		}
	}
	if (i != n)
		return -1;
	*ma = v[0];
	*mi = v[1];
	return 0;
}

/* Reference for the netbsd format: decimal digits, value <= 2^32-1. */
static int ref_netbsd(const uint8_t *s, size_t n, unsigned long *d)
{
	unsigned long v = 0;

	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
		if (v > 0xffffffffUL)
			return -1;
	}
	*d = v;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned long ma, mi, rma, rmi, d;
	char buf[XHP_MAJMIN_MAX];
	int r, rr;

	/* linux */
	r = xhp_parse_physdev((const char *)data, size, XHP_FMT_LINUX, &ma, &mi);
	rr = size < XHP_MAJMIN_MAX ? ref_linux(data, size, &rma, &rmi) : -1;
	if (r != rr)
		abort();
	if (r == 0) {
		if (ma != rma || mi != rmi)
			abort();
		if (xhp_id_fmt(buf, ma, mi, XHP_FMT_LINUX) != 0 ||
		    xhp_parse_physdev(buf, strlen(buf), XHP_FMT_LINUX, &rma,
				      &rmi) != 0 || rma != ma || rmi != mi)
			abort();
	}

	/* netbsd: decoding then encoding gives the same dev_t back for every
	 * value the 32-bit encoding can hold. */
	r = xhp_parse_physdev((const char *)data, size, XHP_FMT_NETBSD, &ma, &mi);
	rr = size < XHP_MAJMIN_MAX ? ref_netbsd(data, size, &d) : -1;
	if (r != rr)
		abort();
	if (r == 0) {
		if (ma > 0xfff || mi > 0xfffff)
			abort();
		if (xhp_id_fmt(buf, ma, mi, XHP_FMT_NETBSD) != 0 ||
		    strtoul(buf, NULL, 10) != d)
			abort();
	}
	return 0;
}
