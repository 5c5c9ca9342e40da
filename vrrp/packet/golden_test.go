package packet

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"xlb/internal/testutil"
)

// goldenDir holds advertisements captured from keepalived; capture_test.go
// writes them with -update.
const goldenDir = "../../testdata/vrrp"

// golden is one captured advertisement: the IP header fields Parse needs,
// the VRRP payload keepalived sent, and the value the configuration that
// produced it says it carries.
type golden struct {
	Comment string `json:"comment"`
	// Config is the keepalived.conf keepalived ran with.
	Config string            `json:"keepalived_conf"`
	Src    netip.Addr        `json:"src"`
	Dst    netip.Addr        `json:"dst"`
	TTL    int               `json:"ttl"`
	Opts   goldenOpts        `json:"options"`
	Data   testutil.HexFrame `json:"payload"`
	Want   goldenAdvert      `json:"want"`
}

// goldenOpts are the keepalived options that change the checksum.
type goldenOpts struct {
	OldUnicastChecksum bool `json:"old_unicast_checksum,omitempty"`
}

// goldenAdvert is Advertisement written for people: the interval as a
// duration, the password as text.
type goldenAdvert struct {
	Version  int          `json:"version"`
	VRID     uint8        `json:"vrid"`
	Priority uint8        `json:"priority"`
	Interval string       `json:"interval"`
	Addrs    []netip.Addr `json:"addrs"`
	AuthType uint8        `json:"auth_type,omitempty"`
	AuthData string       `json:"auth_data_hex,omitempty"`
}

func toGolden(a Advertisement) goldenAdvert {
	g := goldenAdvert{Version: a.Version, VRID: a.VRID, Priority: a.Priority,
		Interval: a.Interval.String(), Addrs: a.Addrs, AuthType: a.AuthType}
	if a.AuthData != [8]byte{} {
		g.AuthData = hex.EncodeToString(a.AuthData[:])
	}
	return g
}

func (g goldenAdvert) advertisement() (Advertisement, error) {
	iv, err := time.ParseDuration(g.Interval)
	if err != nil {
		return Advertisement{}, fmt.Errorf("interval: %w", err)
	}
	a := Advertisement{Version: g.Version, VRID: g.VRID, Priority: g.Priority,
		Interval: iv, Addrs: g.Addrs, AuthType: g.AuthType}
	if g.AuthData != "" {
		b, err := hex.DecodeString(g.AuthData)
		if err != nil || len(b) != 8 {
			return Advertisement{}, fmt.Errorf("auth_data_hex %q: want 8 bytes of hex", g.AuthData)
		}
		a.AuthData = [8]byte(b)
	}
	return a, nil
}

// loadGoldens reads every golden in goldenDir, by file name.
func loadGoldens(tb testing.TB) map[string]golden {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.json"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(files) == 0 {
		tb.Fatalf("no goldens in %s; run go test -run TestCapture -update", goldenDir)
	}
	gs := map[string]golden{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		var g golden
		if err := json.Unmarshal(raw, &g); err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		gs[strings.TrimSuffix(filepath.Base(f), ".json")] = g
	}
	return gs
}

// TestGolden checks Parse against keepalived's own advertisements, and
// that Marshal of the decoded value gives keepalived's bytes back exactly.
func TestGolden(t *testing.T) {
	for name, g := range loadGoldens(t) {
		t.Run(name, func(t *testing.T) {
			want, err := g.Want.advertisement()
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckHopLimit(g.TTL); err != nil {
				t.Errorf("CheckHopLimit(%d): %v", g.TTL, err)
			}
			popt := ParseOptions{AcceptOldUnicastChecksum: g.Opts.OldUnicastChecksum}
			got, err := Parse(g.Data, g.Src, g.Dst, popt)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
			mopt := MarshalOptions{OldUnicastChecksum: g.Opts.OldUnicastChecksum}
			b, err := Marshal(got, g.Src, g.Dst, mopt)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if diff := cmp.Diff([]byte(g.Data), b); diff != "" {
				t.Errorf("Marshal differs from keepalived's bytes (-want +got):\n%s", diff)
			}
			if g.Opts.OldUnicastChecksum {
				// The old form must not pass as the RFC one.
				if _, err := Parse(g.Data, g.Src, g.Dst, ParseOptions{}); !errors.Is(err, ErrChecksum) {
					t.Errorf("Parse without AcceptOldUnicastChecksum: got %v, want ErrChecksum", err)
				}
			}
		})
	}
}
