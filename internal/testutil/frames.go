package testutil

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// HexFrame is a frame written in JSON as rows of 16 bytes in 2-byte groups,
// like tcpdump -xx, so golden fixture diffs show where bytes changed.
type HexFrame []byte

// MarshalJSON writes the rows; an empty frame is an empty list.
func (f HexFrame) MarshalJSON() ([]byte, error) {
	rows := []string{}
	for off := 0; off < len(f); off += 16 {
		row := f[off:min(off+16, len(f))]
		var groups []string
		for i := 0; i < len(row); i += 2 {
			groups = append(groups, hex.EncodeToString(row[i:min(i+2, len(row))]))
		}
		rows = append(rows, strings.Join(groups, " "))
	}
	return json.Marshal(rows)
}

// UnmarshalJSON reads rows written by MarshalJSON (spacing is free).
func (f *HexFrame) UnmarshalJSON(b []byte) error {
	var rows []string
	if err := json.Unmarshal(b, &rows); err != nil {
		return err
	}
	raw, err := hex.DecodeString(strings.ReplaceAll(strings.Join(rows, ""), " ", ""))
	if err != nil {
		return fmt.Errorf("frame: %w", err)
	}
	*f = raw
	return nil
}

// verdictNames are the XDP verdicts (enum xdp_action), by value.
var verdictNames = []string{"XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT"}

// VerdictName names an XDP program's return value as fixtures write it.
func VerdictName(v uint32) string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return fmt.Sprintf("verdict(%d)", v)
}

// OnesSum is the 16-bit one's-complement sum of b (RFC 1071): 0xffff over
// a header whose checksum field is right, and the complement of the field
// over a header whose field is zero.
func OnesSum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = (s & 0xffff) + (s >> 16)
	}
	return uint16(s)
}
