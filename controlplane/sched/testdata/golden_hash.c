/* golden_hash.c prints the values TestGoldenHashes pins, computed by the
 * data plane's own C (bpf/hash.h) on a little-endian host:
 *   gcc -I../../../bpf -o /tmp/golden_hash golden_hash.c && /tmp/golden_hash
 * AddrHash is the same hash3 call over the 16-byte v4-mapped address. */
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include "hash.h"

#define ADDR_HASH_SEED 0x786c6261 /* sched.AddrSeed, "xlba" */

static void v4mapped(__u8 *b, const char *s)
{
	memset(b, 0, 16);
	b[10] = 0xff;
	b[11] = 0xff;
	inet_pton(AF_INET, s, b + 12);
}

int main(void)
{
	struct flow f;
	__u8 a[16];
	__u32 *w = (__u32 *)a;

	printf("hash3(0,0,0,0) %u\n", hash3(0, 0, 0, 0));
	printf("hash3(1,2,3,FlowSeed) %u\n", hash3(1, 2, 3, FLOW_HASH_SEED));

	v4mapped(a, "198.18.0.1");
	printf("AddrHash 198.18.0.1 %u\n", hash3(w[0] ^ w[1], w[2], w[3], ADDR_HASH_SEED));
	inet_pton(AF_INET6, "2001:db8::1", a);
	printf("AddrHash 2001:db8::1 %u\n", hash3(w[0] ^ w[1], w[2], w[3], ADDR_HASH_SEED));

	memset(&f, 0, sizeof(f));
	v4mapped(f.saddr, "198.18.0.1");
	v4mapped(f.daddr, "198.18.1.1");
	f.sport = htons(40000);
	f.dport = htons(80);
	f.proto = 6;
	printf("FlowHash v4 tcp %u\n", flow_hash(&f, 0));

	memset(&f, 0, sizeof(f));
	inet_pton(AF_INET6, "2001:db8::1", f.saddr);
	inet_pton(AF_INET6, "2001:db8:1::80", f.daddr);
	f.sport = htons(40001);
	f.dport = htons(443);
	f.proto = 17;
	printf("FlowHash v6 udp %u\n", flow_hash(&f, 1));
	return 0;
}
