package decap

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// ReasonNames returns the name of every DecapReason below REASON_MAX,
// indexed by value, read from the program's BTF so the names follow the C:
// REASON_DECAP_IPIP -> "decap_ipip".
func ReasonNames() ([]string, error) {
	spec, err := LoadDecap()
	if err != nil {
		return nil, fmt.Errorf("load decap spec: %w", err)
	}
	var enum *btf.Enum
	if err := spec.Types.TypeByName("reason", &enum); err != nil {
		return nil, fmt.Errorf("find enum reason in BTF: %w", err)
	}
	names := make([]string, DecapReasonREASON_MAX)
	for _, v := range enum.Values {
		if v.Value >= uint64(len(names)) {
			continue // REASON_MAX
		}
		names[v.Value] = strings.ToLower(strings.TrimPrefix(v.Name, "REASON_"))
	}
	for i, n := range names {
		if n == "" {
			return nil, fmt.Errorf("enum reason: no name for value %d", i)
		}
	}
	return names, nil
}
