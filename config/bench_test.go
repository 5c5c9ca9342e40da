package config

import (
	"fmt"
	"strings"
	"testing"
)

// largeConfig writes a keepalived.conf of vs virtual servers with reals real servers
// each, every real with a TCP_CHECK, as a big site's file would look.
func largeConfig(vs, reals int) []byte {
	var b strings.Builder
	for v := range vs {
		fmt.Fprintf(&b, "virtual_server 198.18.%d.%d 80 {\n    delay_loop 6\n    lb_algo wrr\n    lb_kind DR\n    protocol TCP\n", v/250, v%250+1)
		for r := range reals {
			fmt.Fprintf(&b, "    real_server 198.19.%d.%d 80 {\n        weight %d\n        TCP_CHECK {\n            connect_timeout 3\n        }\n    }\n", v/25, (v%25)*10+r+1, r+1)
		}
		b.WriteString("}\n")
	}
	return []byte(b.String())
}

func TestLargeConfig(t *testing.T) {
	cfg, _, err := Parse("large.conf", largeConfig(1000, 10))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.VirtualServers) != 1000 || len(cfg.VirtualServers[999].Reals) != 10 {
		t.Errorf("got %d virtual servers, the last with %d reals; want 1000 with 10", len(cfg.VirtualServers), len(cfg.VirtualServers[999].Reals))
	}
}

// BenchmarkParseLarge parses 1,000 virtual servers of 10 real servers (docs/BENCHMARKS.md).
func BenchmarkParseLarge(b *testing.B) {
	src := largeConfig(1000, 10)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Parse("large.conf", src); err != nil {
			b.Fatal(err)
		}
	}
}
